package apiv3

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fields of the published JSAPI example
// (https://pay.weixin.qq.com/doc/v3/merchant/4012365336), whose body,
// nonce and signature are v1Body, v1Nonce and v1Sig (auth_test.go).
const (
	v1Timestamp = 1554208460
	v1AppID     = "wxd678efh567hg6787"
	v1NotifyURL = "https://www.weixin.qq.com/wxpay/pay.php"
	v1OpenID    = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
	v1TradeNo   = "1217752501201407033233368018"
	v1PrepayID  = "wx201410272009395522657a690389285100"
)

// sentRequest is what a recordingTransport saw of one request, exactly as
// it went on the wire.
type sentRequest struct {
	method, uri, query string
	header             http.Header
	body               []byte
}

// recordingTransport records each request and passes it on.
type recordingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []sentRequest
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, sentRequest{r.Method, r.URL.RequestURI(), r.URL.RawQuery, r.Header.Clone(), body})
	rt.mu.Unlock()
	return rt.next.RoundTrip(r)
}

func (rt *recordingTransport) last(t *testing.T) sentRequest {
	t.Helper()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.reqs) == 0 {
		t.Fatal("no request was sent")
	}
	return rt.reqs[len(rt.reqs)-1]
}

func (rt *recordingTransport) count() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return len(rt.reqs)
}

// payEnv is a fake WeChat and a client of the merchant fakeMchID with
// AppID and NotifyURL of the published example, whose requests are
// sentRequest.
type payEnv struct {
	f     *fakeWeChat
	c     *Client
	rec   *recordingTransport
	clock *fakeClock
	mch   *rsa.PublicKey
}

func newPayEnv(t *testing.T, opts ...Option) *payEnv {
	t.Helper()
	clock := newFakeClock(time.Unix(v1Timestamp, 0))
	f := newFakeWeChat(t, clock.Now)
	rec := &recordingTransport{next: f.srv.Client().Transport}
	cfg := baseConfig(t)
	cfg.AppID = v1AppID
	cfg.NotifyURL = v1NotifyURL
	c := clientFor(t, f, cfg, clock, append([]Option{WithHTTPClient(&http.Client{Transport: rec})}, opts...)...)
	return &payEnv{f: f, c: c, rec: rec, clock: clock, mch: f.mch}
}

// checkSigned verifies r's Authorization header independently of the
// client: its items, and an RSA signature over the five lines rebuilt
// from what was sent.
func checkSigned(t *testing.T, mch *rsa.PublicKey, r sentRequest) {
	t.Helper()
	items, ok := parseAuthForTest(r.header.Get("Authorization"))
	if !ok || items["mchid"] != fakeMchID || items["serial_no"] != fakeMchSerial {
		t.Fatalf("Authorization %q", r.header.Get("Authorization"))
	}
	msg := r.method + "\n" + r.uri + "\n" + items["timestamp"] + "\n" + items["nonce_str"] + "\n" + string(r.body) + "\n"
	sig, err := base64.StdEncoding.DecodeString(items["signature"])
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte(msg))
	if err := rsa.VerifyPKCS1v15(mch, crypto.SHA256, d[:], sig); err != nil {
		t.Fatalf("signature does not verify over %q", msg)
	}
	if r.header.Get("Accept") != "application/json" || !strings.HasPrefix(r.header.Get("User-Agent"), "wxpay-go") {
		t.Fatalf("headers %v", r.header)
	}
	if len(r.body) > 0 && r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("Content-Type %q", r.header.Get("Content-Type"))
	}
}

func v1Request() PrepayRequest {
	return PrepayRequest{
		Description: "Image形象店-深圳腾大-QQ公仔",
		OutTradeNo:  v1TradeNo,
		Amount:      Amount{Total: 100, Currency: CNY},
		Payer:       &Payer{OpenID: v1OpenID},
	}
}

// TestPrepayJSAPIGoldenV1 sends WeChat's published JSAPI example through
// the client and compares what went on the wire with the page: the body
// byte for byte, and the Authorization header with the printed signature
// (the documentation key signs, with the page's nonce and time).
func TestPrepayJSAPIGoldenV1(t *testing.T) {
	clock := newFakeClock(time.Unix(v1Timestamp, 0))
	f := newFakeWeChat(t, clock.Now)
	f.mch = &parseKeyPEM(t, loadVec(t, "k-off.pem")).PublicKey
	rec := &recordingTransport{next: f.srv.Client().Transport}
	cfg := baseConfig(t)
	cfg.PrivateKey = loadVec(t, "k-off.pem")
	cfg.AppID = v1AppID
	cfg.NotifyURL = v1NotifyURL
	c := clientFor(t, f, cfg, clock, WithHTTPClient(&http.Client{Transport: rec}), WithRand(nonceSource(v1Nonce)))
	f.route("POST /v3/pay/transactions/jsapi", func(*http.Request) (int, string) {
		return 200, `{"prepay_id":"` + v1PrepayID + `"}`
	})

	resp, err := c.PrepayJSAPI(context.Background(), v1Request())
	if err != nil {
		t.Fatal(err)
	}
	if resp.PrepayID != v1PrepayID {
		t.Fatalf("prepay_id %q", resp.PrepayID)
	}
	r := rec.last(t)
	if r.method != "POST" || r.uri != "/v3/pay/transactions/jsapi" || r.query != "" {
		t.Fatalf("request line %s %s", r.method, r.uri)
	}
	if string(r.body) != v1Body {
		t.Fatalf("body\n got %s\nwant %s", r.body, v1Body)
	}
	want := `WECHATPAY2-SHA256-RSA2048 mchid="1230000109",nonce_str="` + v1Nonce + `",signature="` + v1Sig +
		`",timestamp="1554208460",serial_no="` + fakeMchSerial + `"`
	if got := r.header.Get("Authorization"); got != want {
		t.Fatalf("Authorization\n got %s\nwant %s", got, want)
	}
	if r.header.Get("Wechatpay-Serial") != fakePubKeyID {
		t.Fatalf("Wechatpay-Serial %q (asks WeChat to sign with the public key)", r.header.Get("Wechatpay-Serial"))
	}
}

// TestPrepayGolden checks each prepay endpoint's request against a body
// written out here, and its answer.
func TestPrepayGolden(t *testing.T) {
	e := newPayEnv(t)
	full := PrepayRequest{
		Description: "Image形象店-深圳腾大-QQ公仔",
		OutTradeNo:  v1TradeNo,
		TimeExpire:  time.Date(2018, 6, 8, 2, 34, 56, 0, time.UTC), // sent in UTC+8
		Attach:      "自定义数据<&>",
		GoodsTag:    "WXG",
		Amount:      Amount{Total: 100},
		Detail: &OrderDetail{CostPrice: 608800, InvoiceID: "微信123",
			Goods: []GoodsDetail{{MerchantGoodsID: "1246464644", WechatpayGoodsID: "1001", GoodsName: "iPhoneX 256G", Quantity: 1, UnitPrice: 528800}}},
		SceneInfo:  &SceneInfo{PayerClientIP: "14.23.150.211", DeviceID: "013467007045764", StoreInfo: &StoreInfo{ID: "0001", Name: "腾讯大厦分店", AreaCode: "440305", Address: "广东省深圳市南山区科技中一道10000号"}},
		SettleInfo: &SettleInfo{ProfitSharing: true},
	}
	fullBody := `{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","time_expire":"2018-06-08T10:34:56+08:00","attach":"自定义数据<&>","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","goods_tag":"WXG","amount":{"total":100},"detail":{"cost_price":608800,"invoice_id":"微信123","goods_detail":[{"merchant_goods_id":"1246464644","wechatpay_goods_id":"1001","goods_name":"iPhoneX 256G","quantity":1,"unit_price":528800}]},"scene_info":{"payer_client_ip":"14.23.150.211","device_id":"013467007045764","store_info":{"id":"0001","name":"腾讯大厦分店","area_code":"440305","address":"广东省深圳市南山区科技中一道10000号"}},"settle_info":{"profit_sharing":true}}`

	e.f.route("POST /v3/pay/transactions/app", func(*http.Request) (int, string) { return 200, `{"prepay_id":"wx2016121516420242444321ca0631331346"}` })
	e.f.route("POST /v3/pay/transactions/native", func(*http.Request) (int, string) {
		return 200, `{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}`
	})
	e.f.route("POST /v3/pay/transactions/h5", func(*http.Request) (int, string) {
		return 200, `{"h5_url":"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2916263004719461949c84457c735b0000&package=2150917749"}`
	})

	app, err := e.c.PrepayApp(context.Background(), full)
	if err != nil || app.PrepayID != "wx2016121516420242444321ca0631331346" {
		t.Fatalf("app: %+v %v", app, err)
	}
	r := e.rec.last(t)
	if r.method != "POST" || r.uri != "/v3/pay/transactions/app" || string(r.body) != fullBody {
		t.Fatalf("app request %s %s\n got %s\nwant %s", r.method, r.uri, r.body, fullBody)
	}
	checkSigned(t, e.mch, r)

	nat, err := e.c.PrepayNative(context.Background(), full)
	if err != nil || nat.CodeURL != "weixin://wxpay/bizpayurl?pr=p4lpSuKzz" {
		t.Fatalf("native: %+v %v", nat, err)
	}
	r = e.rec.last(t)
	if r.uri != "/v3/pay/transactions/native" || string(r.body) != fullBody {
		t.Fatalf("native request %s\n got %s", r.uri, r.body)
	}
	checkSigned(t, e.mch, r)

	h5req := PrepayRequest{
		AppID: "wx0000000000000001", NotifyURL: "https://merchant.example/v3/notify", Description: "会员", OutTradeNo: "H5order-0001",
		Amount:    Amount{Total: 1, Currency: CNY},
		SceneInfo: &SceneInfo{PayerClientIP: "2001:db8::1", H5Info: &H5Info{Type: H5Wap, AppName: "王者荣耀", AppURL: "https://pay.qq.com"}},
	}
	h5, err := e.c.PrepayH5(context.Background(), h5req)
	if err != nil || !strings.HasPrefix(h5.H5URL, "https://wx.tenpay.com/") {
		t.Fatalf("h5: %+v %v", h5, err)
	}
	r = e.rec.last(t)
	wantH5 := `{"appid":"wx0000000000000001","mchid":"1230000109","description":"会员","out_trade_no":"H5order-0001","notify_url":"https://merchant.example/v3/notify","amount":{"total":1,"currency":"CNY"},"scene_info":{"payer_client_ip":"2001:db8::1","h5_info":{"type":"Wap","app_name":"王者荣耀","app_url":"https://pay.qq.com"}}}`
	if r.uri != "/v3/pay/transactions/h5" || string(r.body) != wantH5 {
		t.Fatalf("h5 request %s\n got %s\nwant %s", r.uri, r.body, wantH5)
	}
	checkSigned(t, e.mch, r)

	// An answer without the field the caller needs is refused.
	e.f.route("POST /v3/pay/transactions/native", func(*http.Request) (int, string) { return 200, `{}` })
	if _, err := e.c.PrepayNative(context.Background(), full); !errors.Is(err, ErrJSON) {
		t.Fatalf("answer without code_url: %v", err)
	}
}

// TestQueryCloseGolden checks the query and close requests against their
// documented shapes, and the query answer's mapping.
func TestQueryCloseGolden(t *testing.T) {
	e := newPayEnv(t)
	e.f.route("GET /v3/pay/transactions/out-trade-no/"+v1TradeNo, func(r *http.Request) (int, string) { return 200, queryAnswer })
	e.f.route("GET /v3/pay/transactions/id/4200000000000000000000000001", func(r *http.Request) (int, string) { return 200, v5Plaintext })
	e.f.route("POST /v3/pay/transactions/out-trade-no/"+v1TradeNo+"/close", func(r *http.Request) (int, string) { return 204, `` })

	tr, err := e.c.QueryByOutTradeNo(context.Background(), v1TradeNo)
	if err != nil {
		t.Fatal(err)
	}
	r := e.rec.last(t)
	if r.method != "GET" || r.uri != "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109" || len(r.body) != 0 {
		t.Fatalf("query request %s %s %q", r.method, r.uri, r.body)
	}
	checkSigned(t, e.mch, r)
	if tr.TradeState != TradeSuccess || tr.Amount.Total != 100 || tr.Amount.PayerTotal != 90 || len(tr.Promotions) != 1 {
		t.Fatalf("transaction %+v", tr)
	}

	tr, err = e.c.QueryByTransactionID(context.Background(), "4200000000000000000000000001")
	if err != nil {
		t.Fatal(err)
	}
	r = e.rec.last(t)
	if r.uri != "/v3/pay/transactions/id/4200000000000000000000000001?mchid=1230000109" {
		t.Fatalf("query by id %s", r.uri)
	}
	checkSigned(t, e.mch, r)
	if tr.OutTradeNo != v1TradeNo || !tr.SuccessTime.Equal(time.Date(2026, 1, 2, 7, 4, 5, 0, time.UTC)) {
		t.Fatalf("transaction %+v", tr)
	}

	if err := e.c.CloseOrder(context.Background(), v1TradeNo); err != nil {
		t.Fatal(err)
	}
	r = e.rec.last(t)
	if r.method != "POST" || r.uri != "/v3/pay/transactions/out-trade-no/1217752501201407033233368018/close" || string(r.body) != `{"mchid":"1230000109"}` {
		t.Fatalf("close request %s %s %s", r.method, r.uri, r.body)
	}
	checkSigned(t, e.mch, r)

	// A signed answer about another merchant's order is not ours.
	e.f.route("GET /v3/pay/transactions/out-trade-no/"+v1TradeNo, func(r *http.Request) (int, string) {
		return 200, strings.Replace(queryAnswer, `"mchid":"1230000109"`, `"mchid":"1900000109"`, 1)
	})
	if _, err := e.c.QueryByOutTradeNo(context.Background(), v1TradeNo); !errors.Is(err, ErrJSON) || !strings.Contains(err.Error(), "another merchant") {
		t.Fatalf("other merchant's order: %v", err)
	}
	// A forged answer (signed by a key WeChat does not have) is refused.
	e.f.setSigner(fakeKey{fakePubKeyID, otherKey(t)})
	if _, err := e.c.QueryByOutTradeNo(context.Background(), v1TradeNo); !errors.Is(err, ErrSignature) {
		t.Fatalf("forged answer: %v", err)
	}
	// An unsigned 204 is forged too: close does not report success.
	e.f.setSigner(fakeKey{fakePubKeyID, parseKeyPEM(t, loadVec(t, "k-off.pem"))})
	e.f.setHook(func(h http.Header, b []byte) (http.Header, []byte) { return http.Header{}, b })
	if err := e.c.CloseOrder(context.Background(), v1TradeNo); err == nil {
		t.Fatal("unsigned 204 accepted as a close")
	}
}

// TestPaymentValidation: every rule is checked before any I/O, and the
// error names the field.
func TestPaymentValidation(t *testing.T) {
	e := newPayEnv(t)
	ctx := context.Background()
	long := func(n int) string { return strings.Repeat("a", n) }
	with := func(f func(*PrepayRequest)) PrepayRequest { r := v1Request(); f(&r); return r }
	h5 := func(f func(*PrepayRequest)) PrepayRequest {
		r := v1Request()
		r.Payer = nil
		r.SceneInfo = &SceneInfo{PayerClientIP: "1.2.3.4", H5Info: &H5Info{Type: H5IOS}}
		f(&r)
		return r
	}
	type call func() error
	jsapi := func(r PrepayRequest) call { return func() error { _, err := e.c.PrepayJSAPI(ctx, r); return err } }
	app := func(r PrepayRequest) call { return func() error { _, err := e.c.PrepayApp(ctx, r); return err } }
	h5call := func(r PrepayRequest) call { return func() error { _, err := e.c.PrepayH5(ctx, r); return err } }
	cases := []struct {
		name  string
		call  call
		field string
	}{
		{"no description", jsapi(with(func(r *PrepayRequest) { r.Description = "" })), "description"},
		{"long description", jsapi(with(func(r *PrepayRequest) { r.Description = strings.Repeat("商", 128) })), "description"},
		{"bad UTF-8 description", jsapi(with(func(r *PrepayRequest) { r.Description = "a\xffb" })), "description"},
		{"emoji description", jsapi(with(func(r *PrepayRequest) { r.Description = "咖啡☕️🍰" })), "body"},
		{"long attach", jsapi(with(func(r *PrepayRequest) { r.Attach = long(129) })), "attach"},
		{"long goods_tag", jsapi(with(func(r *PrepayRequest) { r.GoodsTag = long(33) })), "goods_tag"},
		{"no out_trade_no", jsapi(with(func(r *PrepayRequest) { r.OutTradeNo = "" })), "out_trade_no"},
		{"short out_trade_no", jsapi(with(func(r *PrepayRequest) { r.OutTradeNo = "12345" })), "out_trade_no"},
		{"long out_trade_no", jsapi(with(func(r *PrepayRequest) { r.OutTradeNo = long(33) })), "out_trade_no"},
		{"out_trade_no with slash", jsapi(with(func(r *PrepayRequest) { r.OutTradeNo = "order/../1" })), "out_trade_no"},
		{"out_trade_no with space", jsapi(with(func(r *PrepayRequest) { r.OutTradeNo = "order 0001" })), "out_trade_no"},
		{"zero amount", jsapi(with(func(r *PrepayRequest) { r.Amount.Total = 0 })), "amount.total"},
		{"negative amount", jsapi(with(func(r *PrepayRequest) { r.Amount.Total = -100 })), "amount.total"},
		{"bad currency", jsapi(with(func(r *PrepayRequest) { r.Amount.Currency = "rmb" })), "amount.currency"},
		{"bad appid", jsapi(with(func(r *PrepayRequest) { r.AppID = `wx"1` })), "appid"},
		{"notify_url with query", jsapi(with(func(r *PrepayRequest) { r.NotifyURL = "https://m.example/notify?a=1" })), "notify_url"},
		{"notify_url relative", jsapi(with(func(r *PrepayRequest) { r.NotifyURL = "/notify" })), "notify_url"},
		{"notify_url ftp", jsapi(with(func(r *PrepayRequest) { r.NotifyURL = "ftp://m.example/notify" })), "notify_url"},
		{"notify_url long", jsapi(with(func(r *PrepayRequest) { r.NotifyURL = "https://m.example/" + long(250) })), "notify_url"},
		{"time_expire year 1", jsapi(with(func(r *PrepayRequest) { r.TimeExpire = time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC) })), "time_expire"},
		{"jsapi without payer", jsapi(with(func(r *PrepayRequest) { r.Payer = nil })), "payer.openid"},
		{"jsapi empty openid", jsapi(with(func(r *PrepayRequest) { r.Payer = &Payer{} })), "payer.openid"},
		{"jsapi long openid", jsapi(with(func(r *PrepayRequest) { r.Payer = &Payer{OpenID: long(129)} })), "payer.openid"},
		{"app with payer", app(v1Request()), "payer"},
		{"goods without id", jsapi(with(func(r *PrepayRequest) { r.Detail = &OrderDetail{Goods: []GoodsDetail{{Quantity: 1}}} })), "detail.goods_detail.merchant_goods_id"},
		{"goods zero quantity", jsapi(with(func(r *PrepayRequest) { r.Detail = &OrderDetail{Goods: []GoodsDetail{{MerchantGoodsID: "1"}}} })), "detail.goods_detail.quantity"},
		{"goods negative price", jsapi(with(func(r *PrepayRequest) {
			r.Detail = &OrderDetail{Goods: []GoodsDetail{{MerchantGoodsID: "1", Quantity: 1, UnitPrice: -1}}}
		})), "detail.goods_detail.unit_price"},
		{"negative cost_price", jsapi(with(func(r *PrepayRequest) { r.Detail = &OrderDetail{CostPrice: -1} })), "detail.cost_price"},
		{"scene without ip", jsapi(with(func(r *PrepayRequest) { r.SceneInfo = &SceneInfo{} })), "scene_info.payer_client_ip"},
		{"scene bad ip", jsapi(with(func(r *PrepayRequest) { r.SceneInfo = &SceneInfo{PayerClientIP: "1.2.3.4.5"} })), "scene_info.payer_client_ip"},
		{"store without id", jsapi(with(func(r *PrepayRequest) { r.SceneInfo = &SceneInfo{PayerClientIP: "1.2.3.4", StoreInfo: &StoreInfo{}} })), "scene_info.store_info.id"},
		{"h5_info outside h5", jsapi(with(func(r *PrepayRequest) {
			r.SceneInfo = &SceneInfo{PayerClientIP: "1.2.3.4", H5Info: &H5Info{Type: H5Wap}}
		})), "scene_info.h5_info"},
		{"h5 without scene", h5call(h5(func(r *PrepayRequest) { r.SceneInfo = nil })), "scene_info.h5_info"},
		{"h5 without h5_info", h5call(h5(func(r *PrepayRequest) { r.SceneInfo.H5Info = nil })), "scene_info.h5_info"},
		{"h5 bad type", h5call(h5(func(r *PrepayRequest) { r.SceneInfo.H5Info.Type = "ios" })), "scene_info.h5_info.type"},
		{"h5 without ip", h5call(h5(func(r *PrepayRequest) { r.SceneInfo.PayerClientIP = "" })), "scene_info.payer_client_ip"},
		{"query empty", func() error { _, err := e.c.QueryByOutTradeNo(ctx, ""); return err }, "out_trade_no"},
		{"query path traversal", func() error { _, err := e.c.QueryByOutTradeNo(ctx, "../../v3/refund"); return err }, "out_trade_no"},
		{"query by id empty", func() error { _, err := e.c.QueryByTransactionID(ctx, ""); return err }, "transaction_id"},
		{"query by id long", func() error { _, err := e.c.QueryByTransactionID(ctx, long(33)); return err }, "transaction_id"},
		{"query by id with query", func() error { _, err := e.c.QueryByTransactionID(ctx, "42?mchid=1"); return err }, "transaction_id"},
		{"close empty", func() error { return e.c.CloseOrder(ctx, "") }, "out_trade_no"},
		{"close bad", func() error { return e.c.CloseOrder(ctx, "a/b/c/d/e") }, "out_trade_no"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var re *RequestError
			if !errors.As(err, &re) || re.Field != tc.field {
				t.Fatalf("error %v, want a RequestError naming %s", err, tc.field)
			}
			if Retryable(err) {
				t.Fatal("a RequestError is not retryable")
			}
		})
	}
	if n := e.rec.count(); n != 0 {
		t.Fatalf("%d requests sent for invalid input", n)
	}

	// Without Config.AppID or Config.NotifyURL, the request must carry them.
	cfg := baseConfig(t)
	c := clientFor(t, e.f, cfg, e.clock, WithHTTPClient(&http.Client{Transport: e.rec}))
	var re *RequestError
	if _, err := c.PrepayJSAPI(ctx, v1Request()); !errors.As(err, &re) || re.Field != "appid" {
		t.Fatalf("no appid: %v", err)
	}
	r := v1Request()
	r.AppID = v1AppID
	if _, err := c.PrepayJSAPI(ctx, r); !errors.As(err, &re) || re.Field != "notify_url" {
		t.Fatalf("no notify_url: %v", err)
	}
	if n := e.rec.count(); n != 0 {
		t.Fatalf("%d requests sent for invalid input", n)
	}
}

// TestPaymentConfig: Config.AppID and NotifyURL are checked at
// construction, with errors that say what to do.
func TestPaymentConfig(t *testing.T) {
	for _, tc := range []struct {
		appID, notify, want string
	}{
		{`wx"1`, "", "AppID"},
		{strings.Repeat("w", 33), "", "AppID"},
		{"", "http//bad", "NotifyURL"},
		{"", "https://m.example/notify?x=1", "NotifyURL"},
		{"", "https://m.example/notify#x", "NotifyURL"},
		{"", "https://user:pw@m.example/notify", "NotifyURL"},
		{"", "https://m.example/" + strings.Repeat("a", 250), "NotifyURL"},
		{"", "https://m.example/a b", "NotifyURL"},
	} {
		cfg := baseConfig(t)
		cfg.AppID, cfg.NotifyURL = tc.appID, tc.notify
		if _, err := NewClient(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AppID %q NotifyURL %q: %v, want an error naming %s", tc.appID, tc.notify, err, tc.want)
		}
	}
	cfg := baseConfig(t)
	cfg.AppID, cfg.NotifyURL = "wxd678efh567hg6787", "https://m.example/wxpay/v3/notify"
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.AppID() != "wxd678efh567hg6787" {
		t.Fatalf("AppID() %q", c.AppID())
	}
	for _, s := range []string{cfg.String(), string(must(cfg.MarshalJSON()))} {
		if !strings.Contains(s, "wxd678efh567hg6787") || !strings.Contains(s, "https://m.example/wxpay/v3/notify") || strings.Contains(s, fakeAPIv3Key) {
			t.Errorf("Config printed as %s", s)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestPaymentErrorCodes: each documented error answer becomes an *Error
// with its code; on prepay and close (which have an idempotency key) the
// retryable ones become an *OutcomeUnknownError naming out_trade_no.
func TestPaymentErrorCodes(t *testing.T) {
	cases := []struct {
		status    int
		code      ErrorCode
		body      string
		unsigned  bool
		retryable bool
	}{
		{400, ErrCodeParamError, `{"code":"PARAM_ERROR","message":"参数错误","detail":{"field":"/amount/currency","value":"XYZ","issue":"Currency code is invalid","location":"body"}}`, false, false},
		{400, ErrCodeInvalidRequest, `{"code":"INVALID_REQUEST","message":"请求重入时，参数与首次请求时不一致"}`, false, false},
		{400, ErrCodeOrderClosed, `{"code":"ORDER_CLOSED","message":"订单已关闭"}`, false, false},
		{400, ErrCodeAppIDMchIDNotMatch, `{"code":"APPID_MCHID_NOT_MATCH","message":"appid和mch_id不匹配"}`, false, false},
		{401, ErrCodeSignError, `{"code":"SIGN_ERROR","message":"错误的签名,验签失败"}`, true, false},
		{403, ErrCodeOrderPaid, `{"code":"ORDERPAID","message":"该订单已支付"}`, false, false},
		{403, ErrCodeOutTradeNoUsed, `{"code":"OUT_TRADE_NO_USED","message":"商户订单号重复"}`, false, false},
		{403, ErrCodeNoAuth, `{"code":"NO_AUTH","message":"商户无权限"}`, false, false},
		{403, ErrCodeTradeError, `{"code":"TRADE_ERROR","message":"交易错误"}`, false, false},
		{403, ErrCodeRuleLimit, `{"code":"RULELIMIT","message":"业务规则限制"}`, false, false},
		{404, ErrCodeOrderNotExist, `{"code":"ORDER_NOT_EXIST","message":"订单不存在"}`, false, false},
		{429, ErrCodeFrequencyLimited, `{"code":"FREQUENCY_LIMITED","message":"频率超限"}`, false, true},
		{429, ErrCodeRateLimitExceeded, `{"code":"RATELIMIT_EXCEEDED","message":"请求频率超过限制"}`, false, true},
		{500, ErrCodeSystemError, `{"code":"SYSTEM_ERROR","message":"系统错误"}`, false, true},
	}
	e := newPayEnv(t)
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(string(tc.code), func(t *testing.T) {
			reply := func(*http.Request) (int, string) { return tc.status, tc.body }
			e.f.route("POST /v3/pay/transactions/jsapi", reply)
			e.f.route("GET /v3/pay/transactions/out-trade-no/"+v1TradeNo, reply)
			e.f.route("POST /v3/pay/transactions/out-trade-no/"+v1TradeNo+"/close", reply)
			if tc.unsigned {
				e.f.setHook(func(h http.Header, b []byte) (http.Header, []byte) { return http.Header{}, b })
			} else {
				e.f.setHook(nil)
			}
			check := func(what string, err error, keyed bool) {
				t.Helper()
				var we *Error
				if !errors.As(err, &we) || we.Code != tc.code || we.StatusCode != tc.status || we.Verified == tc.unsigned {
					t.Fatalf("%s: %v, want a %sverified *Error %d %s", what, err, map[bool]string{true: "un"}[tc.unsigned], tc.status, tc.code)
				}
				if Retryable(err) != tc.retryable {
					t.Fatalf("%s: Retryable %v", what, Retryable(err))
				}
				var oe *OutcomeUnknownError
				if unknown := errors.As(err, &oe); unknown != (keyed && tc.retryable) {
					t.Fatalf("%s: outcome unknown %v for %v", what, unknown, err)
				}
				if oe != nil && (oe.Key != "out_trade_no" || !strings.Contains(err.Error(), "same out_trade_no")) {
					t.Fatalf("%s: %v does not name the key to retry with", what, err)
				}
			}
			_, err := e.c.PrepayJSAPI(ctx, v1Request())
			check("prepay", err, true)
			_, err = e.c.QueryByOutTradeNo(ctx, v1TradeNo)
			check("query", err, false)
			check("close", e.c.CloseOrder(ctx, v1TradeNo), true)
			if tc.code == ErrCodeParamError {
				var we *Error
				errors.As(err, &we)
				if we.Detail == nil || we.Detail.Field != "/amount/currency" || we.Detail.Location != "body" {
					t.Fatalf("detail %+v", we.Detail)
				}
			}
		})
	}

	// A timeout once the request may have reached WeChat leaves a prepay's
	// outcome unknown.
	e.f.setHook(nil)
	e.f.route("POST /v3/pay/transactions/jsapi", func(*http.Request) (int, string) {
		time.Sleep(300 * time.Millisecond)
		return 200, `{"prepay_id":"wx1"}`
	})
	ctx2, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := e.c.PrepayJSAPI(ctx2, v1Request())
	var oe *OutcomeUnknownError
	if !errors.As(err, &oe) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %v", err)
	}
}

// TestPrepayRetrySameOutTradeNo: a prepay that failed with SYSTEM_ERROR
// and then timed out is retried, as Retryable says, with the same
// out_trade_no and byte-identical parameters; WeChat answers the same
// prepay_id, and every attempt sent the same body.
func TestPrepayRetrySameOutTradeNo(t *testing.T) {
	e := newPayEnv(t)
	var n int
	var mu sync.Mutex
	e.f.route("POST /v3/pay/transactions/jsapi", func(*http.Request) (int, string) {
		mu.Lock()
		n++
		attempt := n
		mu.Unlock()
		switch attempt {
		case 1:
			return 500, `{"code":"SYSTEM_ERROR","message":"系统错误"}`
		case 2:
			time.Sleep(200 * time.Millisecond)
		}
		return 200, `{"prepay_id":"` + v1PrepayID + `"}`
	})
	req := v1Request()
	var resp *PrepayResponse
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		resp, err = e.c.PrepayJSAPI(ctx, req)
		cancel()
		if err == nil || !Retryable(err) {
			break
		}
		var oe *OutcomeUnknownError
		if !errors.As(err, &oe) || oe.Key != "out_trade_no" {
			t.Fatalf("attempt %d: %v is not an outcome-unknown error naming out_trade_no", attempt, err)
		}
	}
	if err != nil || resp.PrepayID != v1PrepayID {
		t.Fatalf("after retries: %+v %v", resp, err)
	}
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	if len(e.rec.reqs) != 3 {
		t.Fatalf("%d attempts", len(e.rec.reqs))
	}
	for _, r := range e.rec.reqs {
		if !bytes.Equal(r.body, e.rec.reqs[0].body) {
			t.Fatalf("a retry changed the body:\n%s\n%s", r.body, e.rec.reqs[0].body)
		}
	}
}
