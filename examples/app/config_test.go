package app_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/wxpay-go/wxpay/examples/app"
)

// env is a getenv of m. The tests that set WeChat credentials this way
// are v2 merchants unless m says otherwise (WXPAY_API defaults to v3);
// TestV3Settings is v3's.
func env(m map[string]string) func(string) string {
	return func(k string) string {
		if _, ok := m[k]; !ok && k == "WXPAY_API" {
			return "v2"
		}
		return m[k]
	}
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := app.ParseConfig(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DBPath != "" || c.Fake { // "": the mode's own file (DefaultDBPath)
		t.Errorf("defaults: %+v", c)
	}
	c, err = app.ParseConfig([]string{"-addr", "127.0.0.1:9"}, env(map[string]string{"ADDR": "127.0.0.1:7", "DB_PATH": "/tmp/x.db"}))
	if err != nil || c.Addr != "127.0.0.1:9" || c.DBPath != "/tmp/x.db" {
		t.Errorf("flag over env: %v %v", c, err)
	}
	if _, err := app.ParseConfig([]string{"-nope"}, env(nil)); err == nil {
		t.Error("unknown flag accepted")
	}
}

// TestRefusals: configurations that must not start a server, and what
// they say.
func TestRefusals(t *testing.T) {
	full := map[string]string{
		"WXPAY_APPID": "wx8888888888888888", "WXPAY_MCHID": "1900000109", "WXPAY_API_KEY": strings.Repeat("k", 32),
		"WX_APP_SECRET": strings.Repeat("s", 32), "PUBLIC_URL": "https://shop.example.com",
	}
	without := func(keys ...string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for _, k := range keys {
			delete(m, k)
		}
		return m
	}
	with := func(k, v string) map[string]string {
		m := without()
		m[k] = v
		return m
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string // in the error
	}{
		{"partial credentials", nil, without("WXPAY_API_KEY", "PUBLIC_URL"), []string{"WXPAY_API_KEY", "PUBLIC_URL", "partly set"}},
		{"only an app secret", nil, map[string]string{"WX_APP_SECRET": "x"}, []string{"WXPAY_APPID", "WXPAY_MCHID", "WXPAY_API_KEY", "PUBLIC_URL"}},
		{"fake mode on all interfaces", []string{"-addr", "0.0.0.0:0"}, nil, []string{"loopback", "-fake"}},
		{"fake mode on a public name", []string{"-addr", "example.com:0"}, nil, []string{"loopback"}},
		{"-fake with credentials", []string{"-fake"}, full, []string{"-fake"}},
		{"http public URL", nil, with("PUBLIC_URL", "http://shop.example.com"), []string{"https"}},
		{"public URL with query", nil, with("PUBLIC_URL", "https://shop.example.com/?a=b"), []string{"query"}},
		{"short JWT secret", nil, map[string]string{"JWT_SECRET": "short"}, []string{"JWT_SECRET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := app.ParseConfig(append([]string{"-db", t.TempDir() + "/x.db"}, tt.args...), env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.Addr == "127.0.0.1:8080" {
				c.Addr = "127.0.0.1:0"
			}
			var logs bytes.Buffer
			s, err := app.Start(context.Background(), c, &logs)
			if err == nil {
				s.Close()
				t.Fatal("started")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, secret := range []string{full["WXPAY_API_KEY"], full["WX_APP_SECRET"]} {
				if strings.Contains(err.Error()+logs.String(), secret) {
					t.Error("a secret was printed")
				}
			}
		})
	}
}

// TestFakeModeAnnounced: the first log line says fake mode, and -fake
// allows a non-loopback address.
func TestFakeModeAnnounced(t *testing.T) {
	var logs bytes.Buffer
	s, err := app.Start(context.Background(), app.Config{Addr: "0.0.0.0:0", DBPath: t.TempDir() + "/x.db", Fake: true}, &logs)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(logs.String(), "\n")
	if !strings.Contains(first, "FAKE MODE") {
		t.Errorf("first log line %q does not say fake mode", first)
	}
}

// TestConfigRedacted: printing or logging a Config never shows a secret.
func TestConfigRedacted(t *testing.T) {
	c := app.Config{AppID: "wx1", APIKey: "APIKEY-0123456789abcdefghijklmnop", AppSecret: "APPSECRET-0123456789abcdefghijk", JWTSecret: "JWTSECRET-0123456789abcdefghijklmn"}
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", "cfg", c)
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "cfg", c)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&b, verb+"\n", c)
	}
	for _, secret := range []string{c.APIKey, c.AppSecret, c.JWTSecret} {
		if strings.Contains(b.String(), secret) {
			t.Errorf("a secret was printed:\n%s", b.String())
		}
	}
	if !strings.Contains(b.String(), "wx1") {
		t.Error("the appid is not printed")
	}
}
