package apiv3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxpay-go/wxpay"
)

const payAppID = "wxd678efh567hg6787" // the appid of the V5 plaintext

// newPayNotifyClient is newNotifyClient's merchant with Config.AppID set.
func newPayNotifyClient(t testing.TB, clock *testClock, opts ...Option) *Client {
	t.Helper()
	c, err := NewClient(Config{
		MchID:            "1230000109",
		AppID:            payAppID,
		MerchantSerialNo: wjSerial,
		PrivateKey:       readVector(t, "k-wj.pem"),
		APIv3Key:         v5APIv3Key,
		PublicKeyID:      v5PubKeyID,
		PublicKey:        readVector(t, "k-off.pub.pem"),
	}, append([]Option{WithClock(clock.now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// payNotificationBody builds a notification of the given event around
// plaintext sealed as original_type origType.
func payNotificationBody(t testing.TB, event, resourceType, origType, plaintext string) []byte {
	t.Helper()
	res := sealedResource(t, plaintext)
	res.OriginalType = origType
	b, err := json.Marshal(map[string]any{
		"id": "EV-2026010215040500001", "create_time": "2026-01-02T15:04:06+08:00",
		"resource_type": resourceType, "event_type": event, "summary": "支付成功", "resource": res,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNotifyHandlerV5 handles the published public-key-mode payment
// notification: fn sees the transaction, decoded as a query answer is,
// and the answer is 204 without a body.
func TestNotifyHandlerV5(t *testing.T) {
	var v notifyVector
	readJSONVector(t, "notify-v5.json", &v)
	c := newPayNotifyClient(t, &testClock{t: time.Unix(v.Now, 0)})
	var got *PaymentNotification
	h := c.NotifyHandler(func(_ context.Context, n *PaymentNotification) error { got = n; return nil })
	w := serveNotify(h, postRequest(v.header(), []byte(v.Body)))
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 || got == nil {
		t.Fatalf("V5: %d %q, fn called: %v", w.Code, w.Body, got != nil)
	}
	want, err := parseTransaction([]byte(v5Plaintext))
	if err != nil {
		t.Fatal(err)
	}
	tr := got.Transaction
	if tr.OutTradeNo != want.OutTradeNo || tr.TransactionID != "4200000000000000000000000001" || tr.Amount != want.Amount ||
		tr.Payer.OpenID != "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" || !tr.SuccessTime.Equal(want.SuccessTime) || tr.TradeState != TradeSuccess {
		t.Fatalf("transaction %+v", tr)
	}
	if got.ID != "EV-2026010215040500001" || got.Summary != "支付成功" || !got.CreateTime.Equal(time.Date(2026, 1, 2, 7, 4, 6, 0, time.UTC)) {
		t.Fatalf("event %+v", got)
	}
}

// TestNotifyHandlerHostile: forged, replayed, stale, probed, tampered,
// cross-merchant, cross-app, cross-event and cross-generation
// notifications are all refused with a FAIL answer, and fn never runs.
func TestNotifyHandlerHostile(t *testing.T) {
	wx := newWechat(t)
	forger := &wechat{key: otherKey(t)}
	clock := &testClock{t: testNow}
	var logs bytes.Buffer
	c := newPayNotifyClient(t, clock, WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	var calls atomic.Int32
	fn := func(context.Context, *PaymentNotification) error { calls.Add(1); return nil }

	good := payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction", v5Plaintext)
	pt := func(old, new string) string {
		if !strings.Contains(v5Plaintext, old) {
			t.Fatalf("%q not in the plaintext", old)
		}
		return strings.Replace(v5Plaintext, old, new, 1)
	}
	signed := func(body []byte) *http.Request { return postRequest(wx.headers(t, testNow, body), body) }
	v2XML := []byte(`<xml><appid><![CDATA[wxd678efh567hg6787]]></appid><mch_id><![CDATA[1230000109]]></mch_id><out_trade_no><![CDATA[1217752501201407033233368018]]></out_trade_no><result_code><![CDATA[SUCCESS]]></result_code><return_code><![CDATA[SUCCESS]]></return_code><total_fee>100</total_fee><transaction_id><![CDATA[4200000000000000000000000001]]></transaction_id><sign><![CDATA[0D7B2B2A0F5D1E6D4A6B6C5E6D4A6B6C]]></sign></xml>`)

	cases := []struct {
		name   string
		req    func() *http.Request
		status int
		reason string // in the refusal log line
	}{
		{"forged signature", func() *http.Request { return postRequest(forger.headers(t, testNow, good), good) }, 401, "signature"},
		{"replayed after 6 minutes", func() *http.Request { return postRequest(wx.headers(t, testNow.Add(-6*time.Minute), good), good) }, 401, "Timestamp"},
		{"from the future", func() *http.Request { return postRequest(wx.headers(t, testNow.Add(6*time.Minute), good), good) }, 401, "Timestamp"},
		{"probe", func() *http.Request {
			h := wx.headers(t, testNow, good)
			h.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+h.Get("Wechatpay-Signature"))
			return postRequest(h, good)
		}, 401, "SIGNTEST"},
		{"tampered body", func() *http.Request {
			h := wx.headers(t, testNow, good)
			return postRequest(h, bytes.Replace(good, []byte("EV-2026"), []byte("EV-2027"), 1))
		}, 401, "signature"},
		{"unsigned", func() *http.Request { return postRequest(http.Header{}, good) }, 401, "not signed"},
		{"other merchant", func() *http.Request {
			return signed(payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction", pt(`"mchid":"1230000109"`, `"mchid":"1900000109"`)))
		}, 400, "mchid"},
		{"other app", func() *http.Request {
			return signed(payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction", pt(`"appid":"wxd678efh567hg6787"`, `"appid":"wx0000000000000001"`)))
		}, 400, "appid"},
		{"no appid", func() *http.Request {
			return signed(payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction", pt(`"appid":"wxd678efh567hg6787",`, ``)))
		}, 400, "appid"},
		{"refund event at the payment handler", func() *http.Request {
			return signed(payNotificationBody(t, "REFUND.SUCCESS", "encrypt-resource", "refund", `{"mchid":"1230000109","out_trade_no":"1217752501201407033233368018","refund_status":"SUCCESS","amount":{"total":100,"refund":100}}`))
		}, 400, "event_type"},
		{"refund resource under a payment event", func() *http.Request {
			return signed(payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "refund", v5Plaintext))
		}, 400, "original_type"},
		{"plain resource type", func() *http.Request {
			return signed(payNotificationBody(t, "TRANSACTION.SUCCESS", "plain", "transaction", v5Plaintext))
		}, 400, "resource_type"},
		{"not paid", func() *http.Request {
			return signed(payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction", pt(`"trade_state":"SUCCESS"`, `"trade_state":"NOTPAY"`)))
		}, 400, "trade_state"},
		{"payer_total above total", func() *http.Request {
			return signed(payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction", pt(`"payer_total":100`, `"payer_total":10000`)))
		}, 400, "payer_total"},
		{"payer_total above total, currencies unstated", func() *http.Request {
			return signed(payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction",
				pt(`"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}`, `"amount":{"total":100,"payer_total":101}`)))
		}, 400, "payer_total"},
		{"zero total", func() *http.Request {
			return signed(payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction", pt(`"total":100,"payer_total":100`, `"total":0,"payer_total":0`)))
		}, 400, "amount.total"},
		{"no total", func() *http.Request {
			return signed(payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction", pt(`"total":100,`, ``)))
		}, 400, "amount.total"},
		{"fractional total", func() *http.Request {
			return signed(payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction", pt(`"total":100`, `"total":100.5`)))
		}, 400, "integer"},
		{"duplicate total", func() *http.Request {
			return signed(payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction", pt(`"total":100`, `"total":1,"total":100`)))
		}, 400, "duplicate"},
		{"no success_time", func() *http.Request {
			return signed(payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction", pt(`"success_time":"2026-01-02T15:04:05+08:00",`, ``)))
		}, 400, "success_time"},
		{"no transaction_id", func() *http.Request {
			return signed(payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction", pt(`"transaction_id":"4200000000000000000000000001",`, ``)))
		}, 400, "transaction_id"},
		{"v2 XML notification", func() *http.Request {
			r := postRequest(http.Header{}, v2XML)
			r.Header.Set("Content-Type", "text/xml")
			return r
		}, 401, "not signed"},
		{"v2 XML body signed as v3", func() *http.Request { return signed(v2XML) }, 400, "JSON"},
		{"GET", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/notify", nil) }, 405, "POST"},
		{"oversized", func() *http.Request {
			return signed(bytes.Repeat([]byte(" "), MaxNotificationBytes+1))
		}, 413, "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			clock.set(testNow)
			// A handler per case: refusal logs are rate-limited per handler.
			w := serveNotify(c.NotifyHandler(fn), tc.req())
			checkFailReply(t, w, tc.status)
			if calls.Load() != 0 {
				t.Fatal("fn was called")
			}
			if !strings.Contains(logs.String(), tc.reason) {
				t.Fatalf("log %q does not give the reason %q", logs.String(), tc.reason)
			}
			if strings.Contains(logs.String(), "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o") || strings.Contains(logs.String(), v5APIv3Key) {
				t.Fatalf("log leaks the plaintext or the key: %s", logs.String())
			}
		})
	}

	// A payer abroad pays in another currency, which may count more units.
	abroad := signed(payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction",
		pt(`"payer_total":100,"currency":"CNY","payer_currency":"CNY"`, `"payer_total":2070,"currency":"CNY","payer_currency":"JPY"`)))
	if w := serveNotify(c.NotifyHandler(fn), abroad); w.Code != http.StatusNoContent || calls.Load() != 1 {
		t.Fatalf("payment in another currency: %d %s", w.Code, w.Body)
	}
	calls.Store(0)

	// The genuine notification passes; fn's error gives a retryable 500.
	w := serveNotify(c.NotifyHandler(fn), signed(good))
	if w.Code != http.StatusNoContent || calls.Load() != 1 {
		t.Fatalf("genuine: %d, %d calls", w.Code, calls.Load())
	}
	failing := c.NotifyHandler(func(context.Context, *PaymentNotification) error { return errors.New("db down") })
	logs.Reset()
	w = serveNotify(failing, signed(good))
	checkFailReply(t, w, http.StatusInternalServerError)
	if strings.Contains(w.Body.String(), "db down") || !strings.Contains(logs.String(), "db down") {
		t.Fatalf("fn error: reply %q log %q", w.Body, logs.String())
	}
}

func TestNotifyHandlerPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"nil fn": func() { newPayNotifyClient(t, &testClock{t: testNow}).NotifyHandler(nil) },
		"no AppID": func() {
			newNotifyClient(t, &testClock{t: testNow}).NotifyHandler(func(context.Context, *PaymentNotification) error { return nil })
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// FuzzAcceptPayment: whatever a genuine, decrypted plaintext holds, the
// payment check either refuses it or hands over a transaction of this
// merchant and app that is paid, with a positive amount.
func FuzzAcceptPayment(f *testing.F) {
	f.Add([]byte(v5Plaintext))
	f.Add([]byte(queryAnswer))
	f.Add([]byte(testPlaintext))
	c := newPayNotifyClient(f, &testClock{t: testNow})
	f.Fuzz(func(t *testing.T, pt []byte) {
		n := &Notification{ID: "x", EventType: EventTransactionSuccess, ResourceType: ResourceTypeEncrypted, OriginalType: "transaction", Plaintext: pt}
		p, err := c.acceptPayment(n)
		if err != nil {
			if !errors.Is(err, ErrJSON) && !errors.Is(err, ErrNotPayment) {
				t.Fatalf("untyped refusal %v", err)
			}
			return
		}
		tr := p.Transaction
		if tr.MchID != "1230000109" || tr.AppID != payAppID || tr.TradeState != TradeSuccess || tr.Amount.Total <= 0 ||
			(tr.Amount.PayerTotal > tr.Amount.Total && sameCurrency(tr.Amount.Currency, tr.Amount.PayerCurrency)) ||
			tr.TransactionID == "" || tr.SuccessTime.IsZero() {
			t.Fatalf("accepted %+v", tr)
		}
	})
}

// TestV3NotificationAtV2Handler: the reverse of the cross-generation
// case above. A genuine v3 payment notification posted to the v2
// client's notify_url handler is not taken for a payment: the v2 handler
// answers FAIL and its function never runs.
func TestV3NotificationAtV2Handler(t *testing.T) {
	var v notifyVector
	readJSONVector(t, "notify-v5.json", &v)
	v2, err := wxpay.NewClient(wxpay.Config{AppID: payAppID, MchID: "1230000109", APIKey: "192006250b4c09247ec02edce69f6a2d"},
		wxpay.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	h := v2.NotifyHandler(func(context.Context, *wxpay.Notification) error { calls.Add(1); return nil })
	w := serveNotify(h, postRequest(v.header(), []byte(v.Body)))
	if w.Code == http.StatusOK || !strings.Contains(w.Body.String(), "FAIL") || calls.Load() != 0 {
		t.Fatalf("v2 handler answered %d %q to a v3 notification, fn called %d times", w.Code, w.Body, calls.Load())
	}
}

// TestNotifyHandlerConcurrent: one handler shared by 32 goroutines, each
// posting genuine and forged notifications, under -race: every genuine
// one reaches fn once, no forged one does.
func TestNotifyHandlerConcurrent(t *testing.T) {
	wx := newWechat(t)
	forger := &wechat{key: otherKey(t)}
	c := newPayNotifyClient(t, &testClock{t: testNow}, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	var good, bad atomic.Int32
	h := c.NotifyHandler(func(_ context.Context, n *PaymentNotification) error {
		if n.Transaction.Amount.Total != 100 {
			bad.Add(1)
		}
		good.Add(1)
		return nil
	})
	body := payNotificationBody(t, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction", v5Plaintext)
	genuine, forged := wx.headers(t, testNow, body), forger.headers(t, testNow, body)
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 4; i++ {
				if w := serveNotify(h, postRequest(genuine, body)); w.Code != http.StatusNoContent {
					t.Errorf("genuine: %d", w.Code)
				}
				if w := serveNotify(h, postRequest(forged, body)); w.Code != http.StatusUnauthorized {
					t.Errorf("forged: %d", w.Code)
				}
			}
		}()
	}
	wg.Wait()
	if good.Load() != 32*4 || bad.Load() != 0 {
		t.Fatalf("fn ran %d times (%d wrong), want %d", good.Load(), bad.Load(), 32*4)
	}
}
