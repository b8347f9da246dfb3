package wxpay

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkGolden compares got with testdata/client/name.golden, rewriting
// the file first when -update is given.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "client", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to create it", t.Name())
	assert.Equal(t, string(want), string(got), "request body differs from %s", path)
}

// captureBody records each raw request body on bodies, then lets next
// handle the request.
func captureBody(t *testing.T, bodies chan<- []byte, next http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request: %v", err)
			http.Error(w, "cannot read request", http.StatusBadRequest)
			return
		}
		bodies <- b
		r.Body = io.NopCloser(bytes.NewReader(b))
		next.ServeHTTP(w, r)
	}
}

// checkSentRequest decodes a golden request body and checks it against a
// hand-written expectation and an independently computed sign, so that
// the golden file is not merely whatever the code produced.
func checkSentRequest(t *testing.T, body []byte, want Params) {
	t.Helper()
	got, err := DecodeXML(body)
	require.NoError(t, err)
	want["appid"] = testAppID
	want["mch_id"] = testMchID
	want["nonce_str"] = firstSeqNonce
	want["sign_type"] = "MD5"
	want["sign"] = refSign(testKey, SignMD5, want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("sent request (-want +got):\n%s", d)
	}
}

func TestUnifiedOrderGolden(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithClock(testClock), WithRand(&seqReader{}))
	bodies := make(chan []byte, 1)
	mux.Handle("/pay/unifiedorder", captureBody(t, bodies, fakeWeChat(t, prepayAnswer, nil)))
	req := &UnifiedOrderRequest{
		Body:           "腾讯充值中心-QQ会员充值",
		Detail:         `{"cost_price":608800,"goods_detail":[{"goods_id":"1001","goods_name":"iPhone6s 16G","quantity":1,"price":528800}]}`,
		Attach:         "深圳分店 <总部>",
		OutTradeNo:     "20150806125346",
		FeeType:        "CNY",
		TotalFee:       888,
		SpbillCreateIP: "2001:db8::1",
		TimeStart:      testClock(),
		TimeExpire:     testClock().Add(2 * time.Hour).UTC(),
		GoodsTag:       "WXG",
		NotifyURL:      "https://example.com/other/notify",
		TradeType:      TradeJSAPI,
		ProductID:      "12235413214070356458058",
		LimitPay:       "no_credit",
		OpenID:         "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
		DeviceInfo:     "WEB",
		Receipt:        true,
		ProfitSharing:  true,
		SceneInfo:      `{"store_info":{"id":"SZTX001","name":"腾大餐厅"}}`,
		Version:        "1.0",
		Extra:          Params{"sub_mch_id": "1900000109"},
	}
	resp, err := c.UnifiedOrder(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, "wx201410272009395522657a690389285100", resp.PrepayID)
	body := <-bodies
	checkGolden(t, "unifiedorder_request", body)
	checkSentRequest(t, body, Params{
		"body":             "腾讯充值中心-QQ会员充值",
		"detail":           req.Detail,
		"attach":           "深圳分店 <总部>",
		"out_trade_no":     "20150806125346",
		"fee_type":         "CNY",
		"total_fee":        "888",
		"spbill_create_ip": "2001:db8::1",
		"time_start":       "20240501120000", // testClock in Beijing time
		"time_expire":      "20240501140000", // given in UTC, sent in Beijing time
		"goods_tag":        "WXG",
		"notify_url":       "https://example.com/other/notify",
		"trade_type":       "JSAPI",
		"product_id":       "12235413214070356458058",
		"limit_pay":        "no_credit",
		"openid":           "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
		"device_info":      "WEB",
		"receipt":          "Y",
		"profit_sharing":   "Y",
		"scene_info":       req.SceneInfo,
		"version":          "1.0",
		"sub_mch_id":       "1900000109",
	})
}

func TestUnifiedOrderMinimalUsesConfigNotifyURL(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithRand(&seqReader{}))
	bodies := make(chan []byte, 1)
	mux.Handle("/pay/unifiedorder", captureBody(t, bodies, fakeWeChat(t, prepayAnswer, nil)))
	_, err := c.UnifiedOrder(context.Background(), &UnifiedOrderRequest{
		Body: "test", OutTradeNo: "a_b-c|d*e@f", TotalFee: 1, SpbillCreateIP: "127.0.0.1", TradeType: TradeApp,
	})
	require.NoError(t, err)
	checkSentRequest(t, <-bodies, Params{
		"body": "test", "out_trade_no": "a_b-c|d*e@f", "total_fee": "1", "spbill_create_ip": "127.0.0.1",
		"trade_type": "APP", "notify_url": testNotifyURL,
	})
}

func TestUnifiedOrderResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		req    func(*UnifiedOrderRequest)
		answer Params
		want   UnifiedOrderResponse
	}{
		{"JSAPI", nil,
			Params{"prepay_id": "wx1", "trade_type": "JSAPI"},
			UnifiedOrderResponse{PrepayID: "wx1", TradeType: TradeJSAPI}},
		{"NATIVE", func(r *UnifiedOrderRequest) { r.TradeType, r.OpenID, r.ProductID = TradeNative, "", "p1" },
			Params{"prepay_id": "wx2", "trade_type": "NATIVE", "code_url": "weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&groupid=00"},
			UnifiedOrderResponse{PrepayID: "wx2", TradeType: TradeNative, CodeURL: "weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&groupid=00"}},
		{"MWEB", func(r *UnifiedOrderRequest) {
			r.TradeType, r.OpenID, r.SceneInfo = TradeMWeb, "", `{"h5_info":{"type":"Wap","wap_url":"https://m.example.com","wap_name":"shop"}}`
		},
			Params{"prepay_id": "wx3", "trade_type": "MWEB", "mweb_url": "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx3&package=1"},
			UnifiedOrderResponse{PrepayID: "wx3", TradeType: TradeMWeb, MWebURL: "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx3&package=1"}},
		{"unknown field kept and verified", nil,
			Params{"prepay_id": "wx4", "trade_type": "JSAPI", "promotion_detail": `{"promotion_detail":[]}`},
			UnifiedOrderResponse{PrepayID: "wx4", TradeType: TradeJSAPI}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			answer := okAnswer(tt.answer)
			mux.HandleFunc("/pay/unifiedorder", fakeWeChat(t, func(Params) Params { return answer }, nil))
			req := validOrder()
			if tt.req != nil {
				tt.req(req)
			}
			resp, err := c.UnifiedOrder(context.Background(), req)
			require.NoError(t, err)
			// Raw is exactly what was received, sign included.
			assert.Equal(t, len(answer)+1, len(resp.Raw))
			for k, v := range answer {
				assert.Equal(t, v, resp.Raw[k], k)
			}
			assert.NotEmpty(t, resp.Raw["sign"])
			resp.Raw = nil
			assert.Equal(t, tt.want, *resp)
		})
	}
}

// TestUnifiedOrderValidation checks that each rule is enforced with a
// *RequestError naming the field, before any request is sent.
func TestUnifiedOrderValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(r *UnifiedOrderRequest)
		field string
	}{
		{"body empty", func(r *UnifiedOrderRequest) { r.Body = "" }, "body"},
		{"body too long", func(r *UnifiedOrderRequest) { r.Body = strings.Repeat("商", 43) }, "body"},
		{"attach too long", func(r *UnifiedOrderRequest) { r.Attach = strings.Repeat("a", 128) }, "attach"},
		{"total_fee zero", func(r *UnifiedOrderRequest) { r.TotalFee = 0 }, "total_fee"},
		{"total_fee negative", func(r *UnifiedOrderRequest) { r.TotalFee = -100 }, "total_fee"},
		{"out_trade_no empty", func(r *UnifiedOrderRequest) { r.OutTradeNo = "" }, "out_trade_no"},
		{"out_trade_no too long", func(r *UnifiedOrderRequest) { r.OutTradeNo = strings.Repeat("1", 33) }, "out_trade_no"},
		{"out_trade_no with #", func(r *UnifiedOrderRequest) { r.OutTradeNo = "order#1" }, "out_trade_no"},
		{"out_trade_no with space", func(r *UnifiedOrderRequest) { r.OutTradeNo = "order 1" }, "out_trade_no"},
		{"out_trade_no non-ASCII", func(r *UnifiedOrderRequest) { r.OutTradeNo = "订单1" }, "out_trade_no"},
		{"ip empty", func(r *UnifiedOrderRequest) { r.SpbillCreateIP = "" }, "spbill_create_ip"},
		{"ip hostname", func(r *UnifiedOrderRequest) { r.SpbillCreateIP = "localhost" }, "spbill_create_ip"},
		{"ip with port", func(r *UnifiedOrderRequest) { r.SpbillCreateIP = "1.2.3.4:80" }, "spbill_create_ip"},
		{"ip with zone", func(r *UnifiedOrderRequest) { r.SpbillCreateIP = "fe80::1%eth0" }, "spbill_create_ip"},
		{"trade_type empty", func(r *UnifiedOrderRequest) { r.TradeType = "" }, "trade_type"},
		{"trade_type MICROPAY", func(r *UnifiedOrderRequest) { r.TradeType = TradeMicropay }, "trade_type"},
		{"JSAPI without openid", func(r *UnifiedOrderRequest) { r.OpenID = "" }, "openid"},
		{"NATIVE without product_id", func(r *UnifiedOrderRequest) { r.TradeType = TradeNative }, "product_id"},
		{"MWEB without scene_info", func(r *UnifiedOrderRequest) { r.TradeType = TradeMWeb }, "scene_info"},
		{"product_id too long", func(r *UnifiedOrderRequest) { r.ProductID = strings.Repeat("p", 33) }, "product_id"},
		{"notify_url with query", func(r *UnifiedOrderRequest) { r.NotifyURL = "https://example.com/n?a=1" }, "notify_url"},
		{"notify_url relative", func(r *UnifiedOrderRequest) { r.NotifyURL = "/notify" }, "notify_url"},
		{"detail not JSON", func(r *UnifiedOrderRequest) { r.Detail = "{goods" }, "detail"},
		{"scene_info not JSON", func(r *UnifiedOrderRequest) { r.SceneInfo = "h5" }, "scene_info"},
		{"time_expire before time_start", func(r *UnifiedOrderRequest) {
			r.TimeStart, r.TimeExpire = testClock(), testClock().Add(-time.Minute)
		}, "time_expire"},
		{"time_expire equal at wire resolution", func(r *UnifiedOrderRequest) {
			r.TimeStart, r.TimeExpire = testClock(), testClock().Add(500*time.Millisecond)
		}, "time_expire"},
		{"time_start year 1", func(r *UnifiedOrderRequest) { r.TimeStart = time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC) }, "time_start"},
		{"Extra appid", func(r *UnifiedOrderRequest) { r.Extra = Params{"appid": "wx0"} }, "appid"},
		{"Extra sign", func(r *UnifiedOrderRequest) { r.Extra = Params{"sign": "X"} }, "sign"},
		{"Extra sign_type", func(r *UnifiedOrderRequest) { r.Extra = Params{"sign_type": "MD5"} }, "sign_type"},
		{"Extra nonce_str", func(r *UnifiedOrderRequest) { r.Extra = Params{"nonce_str": "n"} }, "nonce_str"},
		{"Extra mch_id", func(r *UnifiedOrderRequest) { r.Extra = Params{"mch_id": "1"} }, "mch_id"},
		{"Extra modelled field", func(r *UnifiedOrderRequest) { r.Extra = Params{"total_fee": "1"} }, "total_fee"},
		// The values the trade bill prints as they are may not hold its
		// separators: one such goods name broke the day's bill.
		{"body with the bill's field separator", func(r *UnifiedOrderRequest) { r.Body = "T恤,`XL" }, "body"},
		{"body with a line break", func(r *UnifiedOrderRequest) { r.Body = "T恤\nXL" }, "body"},
		{"body with a carriage return", func(r *UnifiedOrderRequest) { r.Body = "T恤\rXL" }, "body"},
		{"attach with the bill's field separator", func(r *UnifiedOrderRequest) { r.Attach = "shop,`7" }, "attach"},
		{"attach with a line break", func(r *UnifiedOrderRequest) { r.Attach = "shop\n7" }, "attach"},
		{"device_info with the bill's field separator", func(r *UnifiedOrderRequest) { r.DeviceInfo = "WEB,`" }, "device_info"},
	}
	c, _, ts := setup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validOrder()
			tt.edit(r)
			resp, err := c.UnifiedOrder(context.Background(), r)
			assert.Nil(t, resp)
			assertClean(t, err)
			var re *RequestError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, "unifiedorder", re.Op)
			assert.Equal(t, tt.field, re.Field)
		})
	}
	t.Run("nil request", func(t *testing.T) {
		_, err := c.UnifiedOrder(context.Background(), nil)
		assert.ErrorAs(t, err, new(*RequestError))
	})
	t.Run("no notify_url anywhere", func(t *testing.T) {
		cfg := testConfig()
		cfg.NotifyURL = ""
		c2, err := NewClient(cfg, WithBaseURL(ts.URL))
		require.NoError(t, err)
		_, err = c2.UnifiedOrder(context.Background(), validOrder())
		var re *RequestError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "notify_url", re.Field)
	})
	assert.Zero(t, ts.Hits.Load(), "validation errors must not reach the network")
}
