package app

import "testing"

// TestDBName: the startup log names the database actually used, and never
// a password.
func TestDBName(t *testing.T) {
	for _, tt := range []struct {
		c    Config
		want string
	}{
		{Config{DBPath: "wxpay-example.db"}, "sqlite:wxpay-example.db"},
		{Config{DBPath: "wxpay-example.db", DatabaseURL: "postgres://shop:hunter2@db.internal:5432/shop?sslmode=require&password=hunter3"}, "postgres://db.internal:5432/shop"},
		{Config{DatabaseURL: "postgresql://db.internal/shop"}, "postgres://db.internal/shop"},
		{Config{DatabaseURL: "postgres://u:hunter2@[::1"}, "postgres (DATABASE_URL)"},
	} {
		if got := dbName(tt.c); got != tt.want {
			t.Errorf("dbName(%q) = %q; want %q", tt.c.DatabaseURL, got, tt.want)
		}
	}
}
