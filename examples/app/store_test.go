package app_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/wxpay-go/wxpay/examples/app"
)

// TestSharedFakeRefusals: shared-fake mode (WXPAY_BASE_URL) keeps the
// fake, the server and PUBLIC_URL on loopback, and DATABASE_URL must be a
// PostgreSQL URL; the errors never print the database password.
func TestSharedFakeRefusals(t *testing.T) {
	base := map[string]string{
		"WXPAY_APPID": "wx8888888888888888", "WXPAY_MCHID": "1900000109", "WXPAY_API_KEY": strings.Repeat("k", 32),
		"WX_APP_SECRET": strings.Repeat("s", 32), "PUBLIC_URL": "http://127.0.0.1:8080", "WXPAY_BASE_URL": "http://127.0.0.1:8090",
		"JWT_SECRET": strings.Repeat("j", 32), // checked before the database
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"fake on another host", nil, with("WXPAY_BASE_URL", "http://10.1.2.3:8090"), "WXPAY_BASE_URL"},
		{"fake URL not http", nil, with("WXPAY_BASE_URL", "ftp://127.0.0.1:8090"), "WXPAY_BASE_URL"},
		{"fake URL with credentials", nil, with("WXPAY_BASE_URL", "http://u:p@127.0.0.1:8090"), "WXPAY_BASE_URL"},
		{"public URL elsewhere", nil, with("PUBLIC_URL", "http://shop.example.com"), "PUBLIC_URL"},
		{"listening on all interfaces", []string{"-addr", "0.0.0.0:0"}, base, "loopback"},
		{"-fake with a shared fake", []string{"-fake"}, base, "-fake"},
		{"partial credentials", nil, with("WXPAY_API_KEY", ""), "WXPAY_API_KEY"},
		{"DATABASE_URL not PostgreSQL", nil, with("DATABASE_URL", "mysql://root:hunter2@127.0.0.1/shop"), "postgres://"},
		{"DATABASE_URL malformed", nil, with("DATABASE_URL", "postgres://root:hunter2@127.0.0.1:notaport/shop"), "DATABASE_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := app.ParseConfig(append([]string{"-addr", "127.0.0.1:0", "-db", t.TempDir() + "/x.db"}, tt.args...), env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			s, err := app.Start(context.Background(), c, &logs)
			if err == nil {
				s.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			for _, secret := range []string{"hunter2", base["WXPAY_API_KEY"], base["WX_APP_SECRET"]} {
				if strings.Contains(err.Error()+logs.String()+c.String(), secret) {
					t.Errorf("a secret was printed: %s %s", err, logs.String())
				}
			}
		})
	}
}

// TestSharedFakeMode: with WXPAY_BASE_URL the server says it runs on a
// fake and marks its responses as it does in fake mode.
func TestSharedFakeMode(t *testing.T) {
	c := newCluster(t, 1)
	resp, err := http.Get(c.inst[0].URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(app.FakeHeader) == "" {
		t.Errorf("healthz: %d, %s %q", resp.StatusCode, app.FakeHeader, resp.Header.Get(app.FakeHeader))
	}
	if first, _, _ := strings.Cut(c.logs[0].String(), "\n"); !strings.Contains(first, "SHARED FAKE") {
		t.Errorf("first log line %q does not announce the shared fake", first)
	}
}
