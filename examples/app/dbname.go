package app

import (
	"net/url"
	"strings"
)

// dbName names the store for the log: the SQLite file, or the PostgreSQL
// server and database of DATABASE_URL, never its user or password (nor
// its query, which may hold a password too).
func dbName(c Config) string {
	if c.DatabaseURL == "" {
		return "sqlite:" + c.DBPath
	}
	u, err := url.Parse(c.DatabaseURL)
	if err != nil || u.Host == "" {
		return "postgres (DATABASE_URL)"
	}
	return "postgres://" + u.Host + "/" + strings.TrimPrefix(u.Path, "/")
}
