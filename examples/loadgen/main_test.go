package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRun drives an instance on SQLite in shared-fake mode, with a
// standalone fake WeChat, and checks the counts it reports. (Several
// instances on PostgreSQL are tested in package app.)
func TestRun(t *testing.T) {
	cfg := wxpaytest.Config{AppID: "wx0123456789abcdef", MchID: "1900000109", APIKey: "0123456789abcdefghijklmnopqrstuv",
		SignType: wxpay.SignHMACSHA256, AppSecret: "0123456789abcdef0123456789abcdef"}
	fake, err := wxpaytest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fakeSrv := httptest.NewServer(fake)
	t.Cleanup(fakeSrv.Close)
	t.Cleanup(fake.Close)
	lbAddr := freeAddr(t)
	s, err := app.Start(context.Background(), app.Config{
		Addr: "127.0.0.1:0", DBPath: t.TempDir() + "/shop.db", WeChatURL: fakeSrv.URL, PublicURL: "http://" + lbAddr,
		AppID: cfg.AppID, MchID: cfg.MchID, APIKey: cfg.APIKey, AppSecret: cfg.AppSecret,
		JWTSecret: "load-test-secret-0123456789abcdefghijklmnop", API: "v2",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-targets", s.URL, "-fake", fakeSrv.URL, "-listen", lbAddr,
		"-c", "4", "-n", "12", "-progress", "0"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !regexp.MustCompile(`12 cycles in [0-9.]+s: [0-9.]+ orders/s, [0-9.]+ notifications/s, errors 0`).MatchString(out.String()) {
		t.Errorf("summary missing:\n%s", out.String())
	}
	if !regexp.MustCompile(`(?m)^notify\s+12\s`).MatchString(out.String()) {
		t.Errorf("12 notifications not reported:\n%s", out.String())
	}
}

func TestParseRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"-targets", "http://10.0.0.1:8081"},
		{"-targets", "https://example.com"},
		{"-fake", "http://192.168.1.1:8090"},
		{"-listen", "0.0.0.0:8080"},
		{"-c", "0"},
		{"-c", "5000"},
		{"-n", "0"},
		{"-n", "2000000"},
		{"-duration", "2h"},
		{"-targets", ""},
		{"extra"},
	} {
		if _, err := parse(args); err == nil {
			t.Errorf("parse(%q) accepted", args)
		}
	}
	if _, err := parse(nil); err != nil {
		t.Errorf("defaults refused: %v", err)
	}
}
