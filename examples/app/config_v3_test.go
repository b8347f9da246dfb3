package app_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// TestV3Settings: real mode on v3 takes the private key file, its
// serial, the APIv3 key and the WeChat Pay public key (or platform
// certificates), all or nothing; each refusal names what is missing and
// never a value; with all of them it starts, and the v2 API key is
// optional.
func TestV3Settings(t *testing.T) {
	fake := wxpaytest.NewServer(wxpaytest.Config{AppID: "wx8888888888888888", MchID: "1900000109", APIKey: strings.Repeat("k", 32),
		AppSecret: strings.Repeat("s", 32), APIv3Key: strings.Repeat("3", 32)})
	t.Cleanup(fake.Close)
	dir := t.TempDir()
	serial, key := fake.V3MerchantKey()
	keyFile, pubFile := filepath.Join(dir, "apiclient_key.pem"), filepath.Join(dir, "pub_key.pem")
	if os.WriteFile(keyFile, key, 0o600) != nil || os.WriteFile(pubFile, fake.V3PublicKeyPEM(), 0o600) != nil {
		t.Fatal("cannot write the key files")
	}
	full := map[string]string{
		"WXPAY_API": "v3", "WXPAY_APPID": "wx8888888888888888", "WXPAY_MCHID": "1900000109", "WX_APP_SECRET": strings.Repeat("s", 32),
		"PUBLIC_URL": "https://shop.example.com", "JWT_SECRET": testJWTSecret,
		"WXPAY_KEY_FILE": keyFile, "WXPAY_V3_SERIAL": serial, "WXPAY_APIV3_KEY": strings.Repeat("3", 32),
		"WXPAY_V3_PUBKEY_ID": fake.V3PublicKeyID(), "WXPAY_V3_PUBKEY_FILE": pubFile,
	}
	without := func(names ...string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for _, n := range names {
			delete(m, n)
		}
		return m
	}
	start := func(m map[string]string) (*app.Server, string, error) {
		c, err := app.ParseConfig([]string{"-addr", "127.0.0.1:0", "-db", t.TempDir() + "/x.db"}, env(m))
		if err != nil {
			t.Fatal(err)
		}
		c.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			t.Errorf("called WeChat: %s", r.URL.Path)
			return nil, errors.New("no network in tests")
		})}
		var logs syncBuf
		s, err := app.Start(context.Background(), c, &logs)
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
		return s, logs.String(), err
	}
	for name, tt := range map[string]struct {
		env  map[string]string
		says []string
	}{
		"no private key":           {without("WXPAY_KEY_FILE"), []string{"WXPAY_KEY_FILE"}},
		"no serial, no key":        {without("WXPAY_V3_SERIAL", "WXPAY_APIV3_KEY"), []string{"WXPAY_V3_SERIAL", "WXPAY_APIV3_KEY"}},
		"public key without id":    {without("WXPAY_V3_PUBKEY_ID"), []string{"WXPAY_V3_PUBKEY_ID"}},
		"no way to verify":         {without("WXPAY_V3_PUBKEY_ID", "WXPAY_V3_PUBKEY_FILE"), []string{"WXPAY_V3_PUBKEY_FILE", "WXPAY_V3_PLATFORM_CERT_FILE"}},
		"short APIv3 key":          {func() map[string]string { m := without(); m["WXPAY_APIV3_KEY"] = "short-but-secret"; return m }(), []string{"WXPAY_APIV3_KEY", "32"}},
		"unknown generation":       {func() map[string]string { m := without(); m["WXPAY_API"] = "v4"; return m }(), []string{"WXPAY_API", "v2 or v3"}},
		"key file missing":         {func() map[string]string { m := without(); m["WXPAY_KEY_FILE"] = dir + "/nope.pem"; return m }(), []string{"WXPAY_KEY_FILE"}},
		"v3 settings in fake mode": {map[string]string{"WXPAY_API": "v3", "WXPAY_APIV3_KEY": strings.Repeat("3", 32)}, []string{"WXPAY_APIV3_KEY"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, logs, err := start(tt.env)
			if err == nil {
				t.Fatal("started")
			}
			for _, w := range tt.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
			for _, secret := range []string{strings.Repeat("3", 32), "short-but-secret", pemBody(key)} {
				if strings.Contains(err.Error()+logs, secret) {
					t.Error("a secret was printed")
				}
			}
		})
	}
	s, logs, err := start(full) // no WXPAY_API_KEY: v3 does not need it
	if err != nil {
		t.Fatalf("all v3 settings: %v", err)
	}
	if !strings.Contains(logs, "api=v3") {
		t.Errorf("the first line does not name the generation:\n%s", logs)
	}
	// With no v2 key, the v2 notify route refuses every message.
	resp, err := http.Post(s.URL+"/orders/pay/notify", "text/xml", strings.NewReader("<xml></xml>"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Errorf("the v2 route without a v2 key answered %d", resp.StatusCode)
	}
}
