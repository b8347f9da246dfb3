package app

import (
	"context"
	"errors"
	"net/url"

	"github.com/wxpay-go/wxpay/examples/internal/loopback"
	"github.com/wxpay-go/wxpay/examples/shop"
)

// openDB opens the shop's store: PostgreSQL when DATABASE_URL is set,
// else the SQLite file.
func openDB(ctx context.Context, c Config) (*shop.DB, error) {
	if c.DatabaseURL == "" {
		return shop.Open(ctx, c.DBPath)
	}
	if !shop.IsPostgresURL(c.DatabaseURL) {
		return nil, errors.New("DATABASE_URL must be a postgres:// URL (leave it unset for SQLite)")
	}
	return shop.OpenPostgres(ctx, c.DatabaseURL)
}

// checkSharedFake checks the shared-fake mode: every WeChat variable set
// to the standalone fake's settings (wxpay fake prints them, or takes them
// from the same environment), and WXPAY_BASE_URL pointing at it. Since the
// fake pays orders for free, everything stays on loopback: the fake, the
// server's address and PUBLIC_URL (where the fake sends notifications,
// usually a load balancer in front of several instances), which may then
// be plain http.
func (c Config) checkSharedFake() error {
	if !loopbackURL(c.WeChatURL) {
		return errors.New("WXPAY_BASE_URL must be the http URL of a standalone fake WeChat on loopback, such as http://127.0.0.1:8090")
	}
	if !loopbackURL(c.PublicURL) {
		return errors.New("with WXPAY_BASE_URL, PUBLIC_URL must be a loopback URL (where the fake sends notifications), such as http://127.0.0.1:8080")
	}
	if !loopback.Addr(c.Addr) {
		return errors.New("with WXPAY_BASE_URL (a fake WeChat), the server listens on loopback only")
	}
	return nil
}

func loopbackURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return false
	}
	return loopback.URL(u)
}
