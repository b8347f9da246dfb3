package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/examples/client"
	"github.com/wxpay-go/wxpay/examples/shop"
)

// TestPayerIPBehindProxy: spbill_create_ip is the connection's address
// unless TRUSTED_PROXIES names the peer; then it is the rightmost
// untrusted X-Forwarded-For entry. A client that is not a trusted proxy
// cannot choose the IP WeChat sees.
func TestPayerIPBehindProxy(t *testing.T) {
	v2Only(t, "it reads v2's spbill_create_ip from the unifiedorder request")
	for _, tt := range []struct {
		name, trusted, xff, want string
	}{
		{"spoofed from an untrusted peer", "", "203.0.113.9", "127.0.0.1"},
		{"spoofed from a peer not in the list", "10.0.0.0/8", "203.0.113.9", "127.0.0.1"},
		{"through a trusted proxy", "127.0.0.1", "203.0.113.9", "203.0.113.9"},
		{"a forged entry left of the proxy's", "127.0.0.1", "6.6.6.6, 203.0.113.9", "203.0.113.9"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", API: testAPI(), DBPath: t.TempDir() + "/x.db", TrustedProxies: tt.trusted}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			c := &client.Client{Base: s.URL, HTTP: &http.Client{Timeout: 10 * time.Second}}
			code, err := c.FakeLogin(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Login(ctx, code); err != nil {
				t.Fatal(err)
			}
			o, err := c.CreateOrder(ctx, []shop.Item{{GoodsID: 101, Count: 1}}, "")
			if err != nil {
				t.Fatal(err)
			}
			var pr client.PayResult
			h := http.Header{"X-Forwarded-For": {tt.xff}}
			if err := c.Do(ctx, "POST", "/orders/"+strconv.FormatInt(o.ID, 10)+"/pay", h, nil, &pr); err != nil {
				t.Fatal(err)
			}
			wo, ok := s.Fake.Order(pr.OutTradeNo)
			if !ok || wo.Request["spbill_create_ip"] != tt.want {
				b, _ := json.Marshal(wo.Request)
				t.Errorf("WeChat saw spbill_create_ip %q; want %s (%s)", wo.Request["spbill_create_ip"], tt.want, b)
			}
		})
	}
	if _, err := app.Start(context.Background(), app.Config{Addr: "127.0.0.1:0", API: testAPI(), DBPath: t.TempDir() + "/x.db", TrustedProxies: "proxy.internal"}, io.Discard); err == nil {
		t.Error("a TRUSTED_PROXIES that is not addresses was accepted")
	}
}
