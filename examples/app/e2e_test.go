package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/golang-jwt/jwt/v5"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/api"
	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/examples/client"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// TestWalkthrough runs the walkthrough newcomers run, over real HTTP
// against the server in fake mode.
func TestWalkthrough(t *testing.T) {
	h := newHarness(t)
	var out bytes.Buffer
	if err := client.Walkthrough(context.Background(), &client.Client{Base: h.s.URL, HTTP: h.http}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"¥18.00 × 2 = ¥36.00", "total ¥60.00", ": paid, ¥60.00 received"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("walkthrough output lacks %q:\n%s", want, out.String())
		}
	}
	// The notification and the walkthrough's GET (which asks orderquery)
	// race to settle the order: whichever wins, there is one payment, and
	// the notification is acknowledged either way.
	if n := h.count(`SELECT COUNT(*) FROM payments`); n != 1 {
		t.Fatalf("%d payments, want 1", n)
	}
	var otn string
	h.db.QueryRow(`SELECT out_trade_no FROM payments`).Scan(&otn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.s.Fake.WaitAcked(ctx, otn); err != nil {
		t.Errorf("notification not acknowledged: %v", err)
	}
}

// TestFlow checks the money and the repeated-click rules along the way.
func TestFlow(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	c := h.user()

	o, err := c.CreateOrder(ctx, []shop.Item{{GoodsID: 102, Count: 3}, {GoodsID: 105, Count: 1}}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(3*2400 + 3200); o.TotalFen != want || o.Status != shop.StatusUnpaid || len(o.Lines) != 2 {
		t.Fatalf("order = %+v, want total %d unpaid with 2 lines", o, want)
	}
	again, err := c.CreateOrder(ctx, []shop.Item{{GoodsID: 105, Count: 1}, {GoodsID: 102, Count: 3}}, "k1")
	if err != nil || again.ID != o.ID {
		t.Fatalf("same Idempotency-Key and items: order %d, %v; want %d", again.ID, err, o.ID)
	}

	p1, err := c.Pay(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := c.Pay(ctx, o.ID) // a double click
	if err != nil {
		t.Fatal(err)
	}
	var j1, j2 wxpay.JSAPIParams
	json.Unmarshal(p1.Payment, &j1)
	json.Unmarshal(p2.Payment, &j2)
	if p1.OutTradeNo != p2.OutTradeNo || j1.Package != j2.Package {
		t.Fatalf("repeated pay: %s %s then %s %s; want the same out_trade_no and prepay_id", p1.OutTradeNo, j1.Package, p2.OutTradeNo, j2.Package)
	}
	fo, ok := h.s.Fake.Order(p1.OutTradeNo)
	if !ok || fo.TotalFee != o.TotalFen {
		t.Fatalf("WeChat's order %+v, want total_fee %d", fo, o.TotalFen)
	}
	if _, err := c.FakeConfirm(ctx, p1.Payment); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Fake.WaitAcked(ctx, p1.OutTradeNo); err != nil {
		t.Fatal(err)
	}
	got, err := c.Order(ctx, o.ID)
	if err != nil || got.Status != shop.StatusPaid || got.PaidAt == nil {
		t.Fatalf("after payment: %+v, %v; want paid", got, err)
	}
	list, err := c.Orders(ctx, 1, 10)
	if err != nil || list.Total != 1 || list.Items[0].ID != o.ID {
		t.Fatalf("orders = %+v, %v", list, err)
	}
	// Paying a paid order is a conflict, and asks WeChat nothing.
	before := h.state()
	var ae *client.Error
	if _, err := c.Pay(ctx, o.ID); !errors.As(err, &ae) || ae.Status != 409 {
		t.Fatalf("paying a paid order: %v, want 409", err)
	}
	if after := h.state(); after != before {
		t.Errorf("state changed:\n%s\n%s", before, after)
	}
}

// TestConcurrentNotifications delivers one payment's notification 100
// times at once: the order is paid once, with one payment row.
func TestConcurrentNotifications(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	o, p := h.placeAndPrepay(h.user())
	if _, err := h.s.Fake.Pay(wxpaytest.PayOptions{OutTradeNo: p.OutTradeNo, Copies: 100, Concurrent: true}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := h.s.Fake.WaitAcked(wctx, p.OutTradeNo); err != nil {
		t.Fatal(err)
	}
	h.waitFor(10*time.Second, "100 deliveries answered", func() bool {
		n := 0
		for _, d := range h.s.Fake.Deliveries(p.OutTradeNo) {
			if d.StatusCode != 0 || d.Err != nil {
				n++
			}
		}
		return n >= 100
	})
	acked := 0
	for _, d := range h.s.Fake.Deliveries(p.OutTradeNo) {
		if d.Acked {
			acked++
		}
	}
	if acked != 100 {
		t.Errorf("%d of 100 copies acknowledged; every copy should get SUCCESS once the payment is recorded", acked)
	}
	if s := h.orderStatus(o.ID); s != shop.StatusPaid {
		t.Errorf("order %s, want paid", s)
	}
	if n := h.count(`SELECT COUNT(*) FROM payments WHERE order_id = $1`, o.ID); n != 1 {
		t.Errorf("%d payment rows, want 1", n)
	}
	if n := h.count(`SELECT COUNT(*) FROM anomalies`); n != 0 {
		t.Errorf("%d anomalies, want 0", n)
	}
	if n := strings.Count(h.logs.String(), `msg="order paid"`); n != 1 {
		t.Errorf(`"order paid" logged %d times, want once`, n)
	}
}

// TestDroppedNotification: WeChat never notifies, and reconciliation
// still finds the payment.
func TestDroppedNotification(t *testing.T) {
	h := newHarness(t)
	o, p := h.placeAndPrepay(h.user())
	h.s.Fake.DropNotifications(p.OutTradeNo)
	if _, err := h.s.Fake.Pay(wxpaytest.PayOptions{OutTradeNo: p.OutTradeNo}); err != nil {
		t.Fatal(err)
	}
	// Watch the database only: GET /orders/{id} would settle it by itself.
	h.waitFor(30*time.Second, "order paid through reconciliation", func() bool { return h.orderStatus(o.ID) == shop.StatusPaid })
	if n := h.count(`SELECT COUNT(*) FROM payments WHERE order_id = $1 AND source = 'query'`, o.ID); n != 1 {
		t.Errorf("%d payments recorded by query, want 1", n)
	}
	if d := h.s.Fake.Deliveries(p.OutTradeNo); len(d) != 0 {
		t.Errorf("%d deliveries, want none", len(d))
	}
}

// TestGetOrderSettles: a pending order with a prepay is checked with
// WeChat when its owner looks at it.
func TestGetOrderSettles(t *testing.T) {
	h := newHarness(t)
	c := h.user()
	o, p := h.placeAndPrepay(c)
	h.s.Fake.DropNotifications(p.OutTradeNo)
	if _, err := h.s.Fake.Pay(wxpaytest.PayOptions{OutTradeNo: p.OutTradeNo}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Order(context.Background(), o.ID)
	if err != nil || got.Status != shop.StatusPaid {
		t.Fatalf("GET after payment: %+v, %v; want paid", got, err)
	}
}

// TestExpiry: an unpaid out_trade_no past its time_expire is closed with
// WeChat, and its order with it; paying it then is a conflict.
func TestExpiry(t *testing.T) {
	h := newHarness(t)
	c := h.user()
	o, p := h.placeAndPrepay(c)
	h.waitFor(30*time.Second, "order closed by reconciliation", func() bool { return h.orderStatus(o.ID) == shop.StatusClosed })
	fo, _ := h.s.Fake.Order(p.OutTradeNo)
	if fo.State != wxpaytest.StateClosed {
		t.Errorf("WeChat's order is %s, want CLOSED", fo.State)
	}
	before := h.state()
	var ae *client.Error
	if _, err := c.Pay(context.Background(), o.ID); !errors.As(err, &ae) || ae.Status != 409 {
		t.Fatalf("paying a closed order: %v, want 409", err)
	}
	if after := h.state(); after != before {
		t.Errorf("state changed:\n%s\n%s", before, after)
	}
}

// TestRepayAfterExpiry: a click after the prepay expired (before
// reconciliation closed the order) closes the old out_trade_no with
// WeChat and only then issues a new one.
func TestRepayAfterExpiry(t *testing.T) {
	// Reconciliation first looks after an hour (a minute of real time),
	// so that the click below comes first.
	h := newHarnessTiming(t, shop.Timing{PayWindow: 6 * time.Minute, QueryAfter: time.Hour})
	c := h.user()
	ctx := context.Background()
	o, p := h.placeAndPrepay(c)
	// Wait past time_expire on the fake's clock.
	var fo wxpaytest.Order
	h.waitFor(30*time.Second, "prepay expired", func() bool {
		fo, _ = h.s.Fake.Order(p.OutTradeNo)
		return !h.s.Fake.Now().Before(fo.TimeExpire)
	})
	p2, err := c.Pay(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p2.OutTradeNo == p.OutTradeNo {
		t.Fatal("same out_trade_no after expiry")
	}
	if fo, _ := h.s.Fake.Order(p.OutTradeNo); fo.State != wxpaytest.StateClosed {
		t.Errorf("old out_trade_no is %s at WeChat, want CLOSED before a new one is issued", fo.State)
	}
	if n := h.count(`SELECT COUNT(*) FROM pay_attempts WHERE order_id = $1 AND state = 'open'`, o.ID); n != 1 {
		t.Errorf("%d open out_trade_nos, want 1", n)
	}
}

// TestBadInput sends every kind of bad request and checks its status and
// that nothing changed: no row, no WeChat Pay call.
func TestBadInput(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	alice, bob := h.user(), h.user()
	aliceOrder, _ := h.placeAndPrepay(alice)
	bobOrder, bobPay := h.placeAndPrepay(bob)
	paid, paidPay := h.placeAndPrepay(alice)
	if _, err := alice.FakeConfirm(ctx, paidPay.Payment); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Fake.WaitAcked(ctx, paidPay.OutTradeNo); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.CreateOrder(ctx, []shop.Item{{GoodsID: 104, Count: 1}}, "used-key"); err != nil {
		t.Fatal(err)
	}

	tok := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now()
	valid := jwt.MapClaims{"iss": "wxpay-example", "aud": "fake", "sub": "1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range valid {
			c[k] = v
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	// A valid token for Alice, to prove the server accepts the shape.
	var aliceID int64
	h.db.QueryRow(`SELECT user_id FROM orders WHERE id = $1`, aliceOrder.ID).Scan(&aliceID)
	good := jwt.MapClaims{"iss": "wxpay-example", "aud": "fake", "sub": fmt.Sprint(aliceID), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	withGood := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range good {
			c[k] = v
		}
		c[k] = v
		return c
	}
	secret := []byte(testJWTSecret)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, tk := range []string{tok(jwt.SigningMethodHS256, secret, good), none} {
		h.sec.add("a JWT made by the test", tk)
	}

	items := func(s string) string { return `{"items":[` + s + `]}` }
	big := items(strings.Repeat(`{"goods_id":101,"count":1},`, 3000) + `{"goods_id":102,"count":1}`)
	type tc struct {
		name, method, path, body string
		c                        *client.Client // nil: no token
		header                   map[string]string
		status                   int
	}
	aliceAuth := func(t string) *client.Client { return &client.Client{Base: h.s.URL, HTTP: h.http, Token: t} }
	tests := []tc{
		{"malformed JSON", "POST", "/orders", `{"items":[`, alice, nil, 400},
		{"not an object", "POST", "/orders", `[1]`, alice, nil, 400},
		{"empty body", "POST", "/orders", ``, alice, nil, 400},
		{"trailing data", "POST", "/orders", items(`{"goods_id":101,"count":1}`) + `{}`, alice, nil, 400},
		{"unknown field", "POST", "/orders", `{"items":[{"goods_id":101,"count":1}],"total_fee":1}`, alice, nil, 400},
		{"client price", "POST", "/orders", items(`{"goods_id":101,"count":1,"price":1}`), alice, nil, 400},
		{"mass assignment", "POST", "/orders", `{"items":[{"goods_id":101,"count":1}],"status":"paid","user_id":2,"out_trade_no":"x"}`, alice, nil, 400},
		{"zero count", "POST", "/orders", items(`{"goods_id":101,"count":0}`), alice, nil, 400},
		{"negative count", "POST", "/orders", items(`{"goods_id":101,"count":-1}`), alice, nil, 400},
		{"fractional count", "POST", "/orders", items(`{"goods_id":101,"count":1.5}`), alice, nil, 400},
		{"exponent count", "POST", "/orders", items(`{"goods_id":101,"count":1e3}`), alice, nil, 400},
		{"string count", "POST", "/orders", items(`{"goods_id":101,"count":"1"}`), alice, nil, 400},
		{"count over limit", "POST", "/orders", items(`{"goods_id":101,"count":1000}`), alice, nil, 400},
		{"count 2^31", "POST", "/orders", items(`{"goods_id":101,"count":2147483648}`), alice, nil, 400},
		{"count 2^63", "POST", "/orders", items(`{"goods_id":101,"count":9223372036854775808}`), alice, nil, 400},
		{"huge count", "POST", "/orders", items(`{"goods_id":101,"count":1e300}`), alice, nil, 400},
		{"missing count", "POST", "/orders", items(`{"goods_id":101}`), alice, nil, 400},
		{"empty order", "POST", "/orders", items(``), alice, nil, 400},
		{"no items", "POST", "/orders", `{}`, alice, nil, 400},
		{"null", "POST", "/orders", `null`, alice, nil, 400},
		{"unknown goods", "POST", "/orders", items(`{"goods_id":999999,"count":1}`), alice, nil, 400},
		{"goods id zero", "POST", "/orders", items(`{"goods_id":0,"count":1}`), alice, nil, 400},
		{"duplicate goods", "POST", "/orders", items(`{"goods_id":101,"count":1},{"goods_id":101,"count":2}`), alice, nil, 400},
		{"two shops", "POST", "/orders", items(`{"goods_id":101,"count":1},{"goods_id":201,"count":1}`), alice, nil, 400},
		{"too many lines", "POST", "/orders", items(strings.TrimSuffix(strings.Repeat(`{"goods_id":101,"count":1},`, 51), ",")), alice, nil, 400},
		{"body over the cap", "POST", "/orders", big, alice, nil, 413},
		{"wrong content type", "POST", "/orders", items(`{"goods_id":101,"count":1}`), alice, map[string]string{"Content-Type": "text/plain"}, 415},
		{"idempotency key reused with another body", "POST", "/orders", items(`{"goods_id":105,"count":1}`), alice, map[string]string{"Idempotency-Key": "used-key"}, 422},
		{"idempotency key with spaces", "POST", "/orders", items(`{"goods_id":105,"count":1}`), alice, map[string]string{"Idempotency-Key": "a b"}, 400},

		{"no token", "GET", "/orders", ``, nil, nil, 401},
		{"empty bearer", "GET", "/orders", ``, nil, map[string]string{"Authorization": "Bearer "}, 401},
		{"basic auth", "GET", "/orders", ``, nil, map[string]string{"Authorization": "Basic YTpi"}, 401},
		{"alg none", "GET", "/orders", ``, aliceAuth(none), nil, 401},
		{"HS384", "GET", "/orders", ``, aliceAuth(tok(jwt.SigningMethodHS384, secret, good)), nil, 401},
		{"wrong secret", "GET", "/orders", ``, aliceAuth(tok(jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdefghijklmnop"), good)), nil, 401},
		{"expired", "GET", "/orders", ``, aliceAuth(tok(jwt.SigningMethodHS256, secret, with("exp", now.Add(-time.Minute).Unix()))), nil, 401},
		{"no exp", "GET", "/orders", ``, aliceAuth(tok(jwt.SigningMethodHS256, secret, with("exp", nil))), nil, 401},
		{"exp a string", "GET", "/orders", ``, aliceAuth(tok(jwt.SigningMethodHS256, secret, withGood("exp", fmt.Sprint(now.Add(time.Hour).Unix())))), nil, 401},
		{"future nbf", "GET", "/orders", ``, aliceAuth(tok(jwt.SigningMethodHS256, secret, with("nbf", now.Add(time.Hour).Unix()))), nil, 401},
		{"future iat", "GET", "/orders", ``, aliceAuth(tok(jwt.SigningMethodHS256, secret, with("iat", now.Add(time.Hour).Unix()))), nil, 401},
		{"other issuer", "GET", "/orders", ``, aliceAuth(tok(jwt.SigningMethodHS256, secret, with("iss", "someone"))), nil, 401},
		{"unknown user", "GET", "/orders", ``, aliceAuth(tok(jwt.SigningMethodHS256, secret, valid)), nil, 401},
		{"expired and forged", "GET", "/orders", ``, aliceAuth(tok(jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdefghijklmnop"), with("exp", now.Add(-time.Minute).Unix()))), nil, 401},
		{"oversized token", "GET", "/orders", ``, aliceAuth(strings.Repeat(".", 8000)), nil, 401},
		{"no token on pay", "POST", fmt.Sprintf("/orders/%d/pay", aliceOrder.ID), ``, nil, nil, 401},

		{"another user's order", "GET", fmt.Sprintf("/orders/%d", bobOrder.ID), ``, alice, nil, 404},
		{"paying another user's order", "POST", fmt.Sprintf("/orders/%d/pay", bobOrder.ID), ``, alice, nil, 404},
		{"unknown order", "GET", "/orders/123", ``, alice, nil, 404},
		{"SQL in the id", "GET", "/orders/1%27%20OR%20%271%27=%271", ``, alice, nil, 400},
		{"paying a paid order", "POST", fmt.Sprintf("/orders/%d/pay", paid.ID), ``, alice, nil, 409},

		{"page not a number", "GET", "/shops?page=abc", ``, nil, nil, 400},
		{"page zero", "GET", "/shops?page=0", ``, nil, nil, 400},
		{"negative page", "GET", "/orders?page=-5", ``, alice, nil, 400},
		{"limit not a number", "GET", "/shops/1/goods?limit=1.5", ``, nil, nil, 400},
		{"unknown shop", "GET", "/shops/999/goods", ``, nil, nil, 404},
		{"shop id not a number", "GET", "/shops/abc/goods", ``, nil, nil, 400},

		{"login without code", "POST", "/users/wxLogin", `{}`, nil, nil, 400},
		{"login code with spaces", "POST", "/users/wxLogin", `{"code":"a b"}`, nil, nil, 400},
		{"login unknown field", "POST", "/users/wxLogin", `{"code":"x","session_key":"y"}`, nil, nil, 400},
		{"login code WeChat refuses", "POST", "/users/wxLogin", `{"code":"not-a-code"}`, nil, nil, 401},
		{"unknown route", "GET", "/admin", ``, nil, nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.state()
			req, _ := http.NewRequestWithContext(ctx, tt.method, h.s.URL+tt.path, strings.NewReader(tt.body))
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if tt.c != nil {
				req.Header.Set("Authorization", "Bearer "+tt.c.Token)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := h.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body api.ErrorBody
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d (%s: %s), want %d", resp.StatusCode, body.Error.Code, body.Error.Message, tt.status)
			}
			if body.Error.Message == "" || body.Error.RequestID != resp.Header.Get("X-Request-Id") {
				t.Errorf("error body %+v lacks a message or the request id", body)
			}
			if after := h.state(); after != before {
				t.Errorf("state changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	if s := h.orderStatus(bobOrder.ID); s != shop.StatusUnpaid {
		t.Errorf("bob's order %s", s)
	}
	_ = bobPay
}

// TestBadNotifications posts notifications that must change nothing.
func TestBadNotifications(t *testing.T) {
	h := newHarness(t)
	o, p := h.placeAndPrepay(h.user())
	cfg := h.s.FakeConfig
	forgedCfg := cfg
	forgedCfg.APIKey = strings.Repeat("k", 32)
	h.sec.add("the forger's key", forgedCfg.APIKey)
	fields := func(otn string, fee int64) wxpay.Params {
		return wxpay.Params{
			"out_trade_no": otn, "transaction_id": "4200000000202611300000000001",
			"total_fee": fmt.Sprint(fee), "cash_fee": fmt.Sprint(fee), "openid": "oUser", "trade_type": "JSAPI",
			"bank_type": "OTHERS", "time_end": "20261130120000", "fee_type": "CNY", "is_subscribe": "N",
		}
	}
	body := func(c wxpaytest.Config, f wxpay.Params) string {
		b, err := wxpaytest.NotificationBody(c, f)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	failed := fields(p.OutTradeNo, o.TotalFen)
	failed["result_code"] = "FAIL"
	failed["err_code"] = "SYSTEMERROR"
	failed["err_code_des"] = "x"
	tests := []struct {
		name, body string
		status     int
		anomaly    string // recorded, or ""
	}{
		{"forged", body(forgedCfg, fields(p.OutTradeNo, o.TotalFen)), 400, ""},
		{"malformed", `<xml><out_trade_no>` + p.OutTradeNo, 400, ""},
		{"doctype", `<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://evil/x.dtd"><xml></xml>`, 400, ""},
		{"over the cap", "<xml>" + strings.Repeat("<a>1</a>", 20000) + "</xml>", 413, ""},
		{"unknown order", body(cfg, fields("NoSuchOrder0000000000000000000001", o.TotalFen)), 200, "unknown_order"},
		{"wrong amount", body(cfg, fields(p.OutTradeNo, 1)), 200, "amount_mismatch"},
		{"result FAIL", body(cfg, failed), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			anomalies := h.count(`SELECT COUNT(*) FROM anomalies`)
			before := h.stateOf(false)
			resp, err := h.http.Post(h.s.URL+"/orders/pay/notify", "text/xml", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.anomaly != "" {
				if n := h.count(`SELECT COUNT(*) FROM anomalies WHERE kind = $1`, tt.anomaly); n != 1 {
					t.Errorf("%d %s anomalies recorded, want 1", n, tt.anomaly)
				}
				if n := h.count(`SELECT COUNT(*) FROM anomalies`); n != anomalies+1 {
					t.Errorf("%d anomalies, want %d", n, anomalies+1)
				}
			} else if n := h.count(`SELECT COUNT(*) FROM anomalies`); n != anomalies {
				t.Errorf("%d anomalies, want %d", n, anomalies)
			}
			if after := h.stateOf(false); after != before {
				t.Errorf("state changed:\nbefore %s\nafter  %s", before, after)
			}
			if s := h.orderStatus(o.ID); s != shop.StatusUnpaid {
				t.Errorf("order %s, want unpaid", s)
			}
		})
	}
}

// TestIdempotencyKeyConcurrent sends one order twice at once with one key.
func TestIdempotencyKeyConcurrent(t *testing.T) {
	h := newHarness(t)
	c := h.user()
	var wg sync.WaitGroup
	ids := make([]int64, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Go(func() {
			o, err := c.CreateOrder(context.Background(), []shop.Item{{GoodsID: 201, Count: 1}}, "same")
			ids[i], errs[i] = o.ID, err
		})
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("responses: %v %v; want one order", ids, errs)
		}
	}
	if n := h.count(`SELECT COUNT(*) FROM orders`); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
}

// TestConcurrentOrders places many orders at once (the tutorial's backend
// failed every order once 8 were placed together).
func TestConcurrentOrders(t *testing.T) {
	h := newHarness(t)
	users := []*client.Client{h.user(), h.user(), h.user(), h.user()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	for i := range 64 {
		wg.Go(func() {
			_, err := users[i%len(users)].CreateOrder(context.Background(), []shop.Item{{GoodsID: 301, Count: 1}, {GoodsID: 303, Count: 2}}, "")
			if err != nil {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of 64 failed, first: %v", len(failures), failures[0])
	}
	if n := h.count(`SELECT COUNT(*) FROM order_lines`); n != 128 {
		t.Errorf("%d order lines, want 128", n)
	}
}

// TestOpenAPIDocument checks the document is valid OpenAPI 3.1 and that
// every route of the router is in it.
func TestOpenAPIDocument(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range h.s.API.Routes() {
		item := doc.Paths.Find(r.Path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("route %s %s is not in the OpenAPI document", r.Method, r.Path)
			continue
		}
		op := item.GetOperation(r.Method)
		secured := op.Security != nil && len(*op.Security) > 0
		if secured != r.Auth {
			t.Errorf("route %s %s: auth %v, document says %v", r.Method, r.Path, r.Auth, secured)
		}
	}
	paths := map[string]bool{}
	for _, r := range h.s.API.Routes() {
		paths[r.Path] = true
	}
	if got, want := len(doc.Paths.Map()), len(paths); got != want {
		t.Errorf("document has %d paths, the router %d", got, want)
	}
	// The check every response goes through does reject a wrong one.
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://127.0.0.1:8080/shops", nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	for body, valid := range map[string]bool{
		`{"items":[{"id":1,"name":"a","address":"b"}],"page":1,"limit":20,"total":1}`:               true,
		`{"items":[{"id":1,"name":"a","address":"b","price_fen":1}],"page":1,"limit":20,"total":1}`: false,
		`{"items":[{"id":"1","name":"a","address":"b"}],"page":1,"limit":20,"total":1}`:             false,
		`{"items":[],"page":1,"limit":20}`:                                                          false,
	} {
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 200,
			Header:                 http.Header{"Content-Type": {"application/json"}},
		}
		in.SetBodyBytes([]byte(body))
		if err := openapi3filter.ValidateResponse(ctx, in); (err == nil) != valid {
			t.Errorf("validating %s: %v, want valid %v", body, err, valid)
		}
	}
	// The server serves the same document.
	var served map[string]any
	if err := (&client.Client{Base: h.s.URL, HTTP: h.http}).Do(ctx, "GET", "/openapi.json", nil, nil, &served); err != nil {
		t.Fatal(err)
	}
	if served["openapi"] != "3.1.0" {
		t.Errorf("served document: openapi %v", served["openapi"])
	}
	var health map[string]string
	if err := (&client.Client{Base: h.s.URL, HTTP: h.http}).Do(ctx, "GET", "/healthz", nil, nil, &health); err != nil || health["status"] != "ok" {
		t.Errorf("healthz %v %v", health, err)
	}
}

// TestPagination: pages, totals, clamped limits and pages past the end.
func TestPagination(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	c := &client.Client{Base: h.s.URL, HTTP: h.http}
	tests := []struct {
		page, limit        int
		wantItems, wantLim int
	}{
		{1, 2, 2, 2}, {2, 2, 1, 2}, {5, 2, 0, 2}, {1, 1000, 3, 100},
	}
	for _, tt := range tests {
		p, err := c.Shops(ctx, tt.page, tt.limit)
		if err != nil || len(p.Items) != tt.wantItems || p.Total != 3 || p.Limit != tt.wantLim || p.Page != tt.page {
			t.Errorf("shops page %d limit %d: %+v, %v", tt.page, tt.limit, p, err)
		}
	}
	g, err := c.Goods(ctx, 2, 2, 3)
	if err != nil || len(g.Items) != 1 || g.Total != 4 || g.Items[0].ID != 204 {
		t.Errorf("goods of shop 2, page 2 of 3: %+v, %v", g, err)
	}
	g, err = c.Goods(ctx, 2, 9, 3)
	if err != nil || len(g.Items) != 0 || g.Total != 4 {
		t.Errorf("goods past the end: %+v, %v", g, err)
	}
}

// TestRealMode: with every credential set, the server starts without the
// fake (no /fake/ routes, no fake-mode header) and without calling WeChat.
func TestRealMode(t *testing.T) {
	s, logs := startRealMode(t)
	if s.Fake != nil {
		t.Fatal("fake in real mode")
	}
	for path, want := range map[string]int{"/shops": 200, "/fake/wxpaytest/login": 404} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || resp.Header.Get(app.FakeHeader) != "" {
			t.Errorf("GET %s: %d, fake header %q; want %d and none", path, resp.StatusCode, resp.Header.Get(app.FakeHeader), want)
		}
	}
	if strings.Contains(logs.String(), "FAKE MODE") || strings.Contains(logs.String(), strings.Repeat("k", 32)) {
		t.Errorf("real-mode log:\n%s", logs.String())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestShutdownDuringNotifications closes the server while notifications
// are in flight (their bodies half sent): shutdown stops accepting
// connections but lets each finish, and each acknowledged notification
// has its order paid.
func TestShutdownDuringNotifications(t *testing.T) {
	path := t.TempDir() + "/shop.db"
	s, err := app.Start(context.Background(), app.Config{Addr: "127.0.0.1:0", API: testAPI(), DBPath: path, JWTSecret: testJWTSecret}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{Base: s.URL}
	code, err := c.FakeLogin(context.Background(), "")
	if err == nil {
		_, err = c.Login(context.Background(), code)
	}
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.CreateOrder(context.Background(), []shop.Item{{GoodsID: 202, Count: 1}}, "")
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	bodies, db := prepareNotifications(t, s, path, o.ID, n)
	writers := make([]*io.PipeWriter, n)
	replies := make(chan string, n)
	// With Expect: 100-continue the client sends the body only once the
	// handler reads it, so each first half written below is a request the
	// server has accepted and is serving, not one still in the kernel's
	// accept queue (which closing the listener drops, as it should).
	hc := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	for i := range n {
		pr, pw := io.Pipe()
		writers[i] = pw
		req, _ := http.NewRequest("POST", s.URL+"/orders/pay/notify", pr)
		req.ContentLength = int64(len(bodies[i]))
		req.Header.Set("Content-Type", "text/xml")
		req.Header.Set("Expect", "100-continue")
		go func() {
			resp, err := hc.Do(req)
			if err != nil {
				replies <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			replies <- fmt.Sprint(resp.StatusCode, " ", string(b))
		}()
		if _, err := pw.Write(bodies[i][:len(bodies[i])/2]); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	// Shutdown has begun once the listener refuses new connections.
	h := &harness{t: t}
	h.waitFor(10*time.Second, "listener closed", func() bool {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	})
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with requests in flight", err)
	default:
	}
	for i, pw := range writers {
		if _, err := pw.Write(bodies[i][len(bodies[i])/2:]); err != nil {
			t.Fatal(err)
		}
		pw.Close()
	}
	for range n {
		if r := <-replies; !strings.HasPrefix(r, "200 ") || !strings.Contains(r, "SUCCESS") {
			t.Errorf("in-flight notification answered %q, want SUCCESS", r)
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		var status string
		if err := db.QueryRow(`SELECT o.status FROM orders o JOIN pay_attempts a ON a.order_id = o.id WHERE a.out_trade_no = $1`,
			fmt.Sprintf("LOAD%028d", i)).Scan(&status); err != nil {
			t.Fatal(err)
		}
		if status != shop.StatusPaid {
			t.Errorf("notification %d acknowledged but its order is %s", i, status)
		}
	}
}

// TestDoublePayment: a second genuine payment for a paid order (another
// transaction_id) leaves the first in place and is recorded for a refund.
func TestDoublePayment(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	c := h.user()
	o, p := h.placeAndPrepay(c)
	if _, err := c.FakeConfirm(ctx, p.Payment); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Fake.WaitAcked(ctx, p.OutTradeNo); err != nil {
		t.Fatal(err)
	}
	var txn string
	h.db.QueryRow(`SELECT transaction_id FROM orders WHERE id = $1`, o.ID).Scan(&txn)
	o2, p2 := h.placeAndPrepay(c) // same amount, still unpaid
	for _, tt := range []struct{ otn, txn, kind string }{
		{p.OutTradeNo, "4200000000202611309999999999", "paid_when_paid"},
		{p2.OutTradeNo, txn, "transaction_id_reused"},
	} {
		body, err := wxpaytest.NotificationBody(h.s.FakeConfig, wxpay.Params{
			"out_trade_no": tt.otn, "transaction_id": tt.txn, "total_fee": fmt.Sprint(o.TotalFen), "cash_fee": fmt.Sprint(o.TotalFen),
			"openid": "oUser", "trade_type": "JSAPI", "bank_type": "OTHERS", "time_end": "20261130120000",
		})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := h.http.Post(h.s.URL+"/orders/pay/notify", "text/xml", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d, want 200 (recorded, acknowledged)", tt.kind, resp.StatusCode)
		}
	}
	for _, kind := range []string{"paid_when_paid", "transaction_id_reused"} {
		if n := h.count(`SELECT COUNT(*) FROM anomalies WHERE kind = $1`, kind); n != 1 {
			t.Errorf("%d %s anomalies, want 1", n, kind)
		}
	}
	if s := h.orderStatus(o2.ID); s != shop.StatusUnpaid {
		t.Errorf("the second order is %s after a reused transaction_id, want unpaid", s)
	}
	var got string
	h.db.QueryRow(`SELECT transaction_id FROM orders WHERE id = $1`, o.ID).Scan(&got)
	if got != txn || h.count(`SELECT COUNT(*) FROM payments`) != 1 {
		t.Errorf("order's transaction %s (want %s), %d payments (want 1)", got, txn, h.count(`SELECT COUNT(*) FROM payments`))
	}
}
