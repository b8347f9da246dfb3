package app_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/examples/client"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// signTypeFake starts a standalone fake WeChat signing with signType, and
// the server in shared-fake mode against it with WXPAY_SIGN_TYPE set to
// serverSignType ("" leaves it unset).
func signTypeFake(t *testing.T, signType wxpay.SignType, serverSignType string) (*app.Server, *wxpaytest.Server, *syncBuf) {
	t.Helper()
	fake := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wx1234567890abcdef", MchID: "1900000109", APIKey: strings.Repeat("k", 32),
		AppSecret: strings.Repeat("s", 32), SignType: signType,
	})
	t.Cleanup(fake.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e := map[string]string{
		"WXPAY_APPID": "wx1234567890abcdef", "WXPAY_MCHID": "1900000109", "WXPAY_API_KEY": strings.Repeat("k", 32),
		"WX_APP_SECRET": strings.Repeat("s", 32), "PUBLIC_URL": "http://" + addr, "WXPAY_BASE_URL": fake.URL,
		"JWT_SECRET": testJWTSecret,
	}
	if serverSignType != "" {
		e["WXPAY_SIGN_TYPE"] = serverSignType
	}
	c, err := app.ParseConfig([]string{"-addr", addr, "-db", t.TempDir() + "/x.db"}, env(e))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	s, err := app.Start(context.Background(), c, logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, fake, logs
}

// fakeUser logs a new user in through a standalone fake: the client's
// /fake/ calls go to the fake, the others to the server.
func fakeUser(t *testing.T, s *app.Server, fake *wxpaytest.Server) (*client.Client, *client.Client) {
	t.Helper()
	wx := &client.Client{Base: fake.URL, HTTP: &http.Client{Timeout: 10 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r.URL.Path = strings.TrimPrefix(r.URL.Path, "/fake")
		return http.DefaultTransport.RoundTrip(r)
	})}}
	code, err := wx.FakeLogin(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{Base: s.URL}
	if _, err := c.Login(context.Background(), code); err != nil {
		t.Fatal(err)
	}
	return c, wx
}

// TestSignTypeMD5: with WXPAY_SIGN_TYPE=MD5 on both sides (what `wxpay
// fake -sign-type MD5` prints), an order pays: unifiedorder, the paySign
// the fake checks, and the notification all use MD5.
func TestSignTypeMD5(t *testing.T) {
	s, fake, logs := signTypeFake(t, wxpay.SignMD5, "MD5")
	c, wx := fakeUser(t, s, fake)
	ctx := context.Background()
	o, err := c.CreateOrder(ctx, []shop.Item{{GoodsID: 101, Count: 1}}, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Pay(ctx, o.ID)
	if err != nil {
		t.Fatalf("pay: %v\n%s", err, logs)
	}
	if !bytes.Contains(p.Payment, []byte(`"signType":"MD5"`)) {
		t.Errorf("wx.requestPayment arguments %s are not signed with MD5", p.Payment)
	}
	if _, err := wx.FakeConfirm(ctx, p.Payment); err != nil {
		t.Fatalf("the fake refused the paySign: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := c.Order(ctx, o.ID)
		if err == nil && got.Status == shop.StatusPaid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order not paid: %+v %v\n%s", got, err, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "sign_type=MD5") {
		t.Error("the log does not say which algorithm signs")
	}
}

// TestSignTypeDefault: unset, the server signs with HMAC-SHA256, the
// default of `wxpay fake` too; against a fake set for MD5 every payment is
// refused, and the client is told so (not to try again).
func TestSignTypeDefault(t *testing.T) {
	s, fake, _ := signTypeFake(t, wxpay.SignMD5, "")
	c, _ := fakeUser(t, s, fake)
	ctx := context.Background()
	o, err := c.CreateOrder(ctx, []shop.Item{{GoodsID: 101, Count: 1}}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Pay(ctx, o.ID)
	if ce, ok := err.(*client.Error); !ok || ce.Status != 502 || ce.Code != string(shop.CodeUpstreamRefused) {
		t.Fatalf("pay with mismatched sign types: %v; want 502 %s", err, shop.CodeUpstreamRefused)
	}
	if n := len(fake.Orders()); n != 0 {
		t.Errorf("the fake took %d orders signed with the wrong algorithm", n)
	}
}

// TestSignTypeRefused: a WXPAY_SIGN_TYPE that is neither algorithm stops
// the server at start, in both modes.
func TestSignTypeRefused(t *testing.T) {
	for _, e := range []map[string]string{
		{"WXPAY_SIGN_TYPE": "md5 "},
		{"WXPAY_SIGN_TYPE": "SHA256", "WXPAY_APPID": "wx8888888888888888", "WXPAY_MCHID": "1900000109", "WXPAY_API_KEY": strings.Repeat("k", 32),
			"WX_APP_SECRET": strings.Repeat("s", 32), "PUBLIC_URL": "https://shop.example.com", "JWT_SECRET": testJWTSecret},
	} {
		c, err := app.ParseConfig([]string{"-addr", "127.0.0.1:0", "-db", t.TempDir() + "/x.db"}, env(e))
		if err != nil {
			t.Fatal(err)
		}
		s, err := app.Start(context.Background(), c, &bytes.Buffer{})
		if err == nil {
			s.Close()
			t.Fatalf("started with WXPAY_SIGN_TYPE=%q", e["WXPAY_SIGN_TYPE"])
		}
		if !strings.Contains(err.Error(), "WXPAY_SIGN_TYPE") {
			t.Errorf("error %q does not name WXPAY_SIGN_TYPE", err)
		}
	}
	// Fake mode takes it too: its in-process fake signs with it.
	s, err := app.Start(context.Background(), app.Config{Addr: "127.0.0.1:0", API: "v2", DBPath: t.TempDir() + "/x.db", SignType: "MD5"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.FakeConfig.SignType != wxpay.SignMD5 {
		t.Errorf("the fake signs with %q", s.FakeConfig.SignType)
	}
}

// TestJWTSecretRequiredInRealMode: real mode without JWT_SECRET refuses
// to start and says why; fake mode makes one up.
func TestJWTSecretRequiredInRealMode(t *testing.T) {
	e := map[string]string{"WXPAY_APPID": "wx8888888888888888", "WXPAY_MCHID": "1900000109", "WXPAY_API_KEY": strings.Repeat("k", 32),
		"WX_APP_SECRET": strings.Repeat("s", 32), "PUBLIC_URL": "https://shop.example.com"}
	c, err := app.ParseConfig([]string{"-addr", "127.0.0.1:0", "-db", t.TempDir() + "/x.db"}, env(e))
	if err != nil {
		t.Fatal(err)
	}
	s, err := app.Start(context.Background(), c, &bytes.Buffer{})
	if err == nil {
		s.Close()
		t.Fatal("real mode started without JWT_SECRET")
	}
	if !strings.Contains(err.Error(), "JWT_SECRET is required in real mode") {
		t.Errorf("error %q", err)
	}
}
