package apiv3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// refundPlaintext is a REFUND.SUCCESS resource in the shape of WeChat's
// refund notification page.
const refundPlaintext = `{"mchid":"1230000109","out_trade_no":"1217752501201407033233368018","transaction_id":"1217752501201407033233368018",` +
	`"out_refund_no":"1217752501201407033233368018","refund_id":"50000000382019052709732678859","refund_status":"SUCCESS",` +
	`"success_time":"2018-06-08T10:34:56+08:00","user_received_account":"招商银行信用卡0403",` +
	`"amount":{"total":999,"refund":999,"payer_total":999,"payer_refund":999}}`

// refundEvent is a notification as WeChat posts it: event, resource
// sealed under the APIv3 key, signed by key at ts.
type refundEvent struct {
	event, originalType, plaintext string
	key                            fakeKey
	ts                             time.Time
	apiV3Key                       string
}

func (e refundEvent) request(t *testing.T) *http.Request {
	t.Helper()
	const nonce = "fdasflkja484"
	body, err := json.Marshal(map[string]any{
		"id": "EV-2018022511223320873", "create_time": "2018-06-08T10:34:56+08:00",
		"resource_type": "encrypt-resource", "event_type": e.event, "summary": "退款成功",
		"resource": map[string]string{
			"original_type": e.originalType, "algorithm": "AEAD_AES_256_GCM", "associated_data": "refund", "nonce": nonce,
			"ciphertext": gcmSealForTest(t, e.apiV3Key, nonce, "refund", []byte(e.plaintext)),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "https://merchant.example/wxpay/refund", bytes.NewReader(body))
	for k, v := range signedHeaders(t, e.key, e.ts, body) {
		r.Header[k] = v
	}
	return r
}

func genuineRefundEvent(t *testing.T) refundEvent {
	return refundEvent{event: EventRefundSuccess, originalType: "refund", plaintext: refundPlaintext,
		key: fakeKey{fakePubKeyID, parseKeyPEM(t, loadVec(t, "k-off.pem"))}, ts: fixedNow, apiV3Key: fakeAPIv3Key}
}

// refundNotifyClient is the merchant's client (no network needed) and
// its handler, counting the calls of fn.
func refundNotifyClient(t *testing.T, logs *bytes.Buffer) (http.Handler, *atomic.Int64, *RefundNotification) {
	t.Helper()
	opts := []Option{WithClock(func() time.Time { return fixedNow })}
	if logs != nil {
		opts = append(opts, WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	}
	c, err := NewClient(baseConfig(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	var mu sync.Mutex
	got := &RefundNotification{}
	h := c.RefundNotifyHandler(func(_ context.Context, n *RefundNotification) error {
		calls.Add(1)
		mu.Lock()
		*got = *n
		mu.Unlock()
		return nil
	})
	return h, &calls, got
}

func TestRefundNotifyHandlerGenuine(t *testing.T) {
	for _, tc := range []struct{ event, status string }{
		{EventRefundSuccess, "SUCCESS"}, {EventRefundAbnormal, "ABNORMAL"}, {EventRefundClosed, "CLOSED"},
	} {
		t.Run(tc.event, func(t *testing.T) {
			h, calls, got := refundNotifyClient(t, nil)
			e := genuineRefundEvent(t)
			e.event = tc.event
			e.plaintext = strings.Replace(refundPlaintext, `"refund_status":"SUCCESS"`, `"refund_status":"`+tc.status+`"`, 1)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, e.request(t))
			// v3's contract: 2xx without a body, only after fn returned nil.
			if w.Code != http.StatusNoContent || w.Body.Len() != 0 || calls.Load() != 1 {
				t.Fatalf("status %d, body %q, calls %d", w.Code, w.Body, calls.Load())
			}
			want := RefundNotification{ID: "EV-2018022511223320873", EventType: tc.event, Summary: "退款成功",
				MchID: "1230000109", OutTradeNo: "1217752501201407033233368018", TransactionID: "1217752501201407033233368018",
				OutRefundNo: "1217752501201407033233368018", RefundID: "50000000382019052709732678859", Status: RefundStatus(tc.status),
				UserReceivedAccount: "招商银行信用卡0403", Amount: RefundNotificationAmount{999, 999, 999, 999}}
			if !got.SuccessTime.Equal(time.Date(2018, 6, 8, 2, 34, 56, 0, time.UTC)) || !got.CreateTime.Equal(got.SuccessTime) {
				t.Fatalf("times %v %v", got.SuccessTime, got.CreateTime)
			}
			want.SuccessTime, want.CreateTime = got.SuccessTime, got.CreateTime
			if *got != want {
				t.Fatalf("notification =\n%+v\nwant\n%+v", *got, want)
			}
		})
	}
}

func TestRefundNotifyHandlerFnError(t *testing.T) {
	c, err := NewClient(baseConfig(t), WithClock(func() time.Time { return fixedNow }), WithLogger(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))))
	if err != nil {
		t.Fatal(err)
	}
	h := c.RefundNotifyHandler(func(context.Context, *RefundNotification) error { return errors.New("database down") })
	w := httptest.NewRecorder()
	h.ServeHTTP(w, genuineRefundEvent(t).request(t))
	if w.Code != http.StatusInternalServerError || w.Body.String() != `{"code":"FAIL","message":"processing failed"}` {
		t.Fatalf("status %d, body %q", w.Code, w.Body)
	}
}

// TestRefundNotifyHandlerHostile: each forged, replayed, cross-merchant,
// cross-type and cross-generation notification is refused with a 4xx
// and a FAIL body, and fn is never called.
func TestRefundNotifyHandlerHostile(t *testing.T) {
	mod := func(f func(*refundEvent)) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			e := genuineRefundEvent(t)
			f(&e)
			return e.request(t)
		}
	}
	plain := func(old, new string) func(*refundEvent) {
		return func(e *refundEvent) {
			if !strings.Contains(e.plaintext, old) {
				panic("no " + old)
			}
			e.plaintext = strings.Replace(e.plaintext, old, new, 1)
		}
	}
	cases := []struct {
		name   string
		req    func(t *testing.T) *http.Request
		status int
	}{
		{"forged signature", mod(func(e *refundEvent) { e.key = fakeKey{fakePubKeyID, otherKey(t)} }), 401},
		{"unknown serial", mod(func(e *refundEvent) { e.key.serial = "PUB_KEY_ID_0000000000000000000000000000" }), 401},
		{"replayed 6 minutes later", mod(func(e *refundEvent) { e.ts = fixedNow.Add(-6 * time.Minute) }), 401},
		{"from the future", mod(func(e *refundEvent) { e.ts = fixedNow.Add(6 * time.Minute) }), 401},
		{"another APIv3 key", mod(func(e *refundEvent) { e.apiV3Key = "b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb" }), 400},
		{"cross-merchant", mod(plain(`"mchid":"1230000109"`, `"mchid":"1900000109"`)), 400},
		{"no mchid", mod(plain(`"mchid":"1230000109",`, ``)), 400},
		{"payment event", mod(func(e *refundEvent) { e.event = EventTransactionSuccess }), 400},
		{"payment resource", mod(func(e *refundEvent) { e.originalType = "transaction" }), 400},
		{"status contradicts event", mod(plain(`"refund_status":"SUCCESS"`, `"refund_status":"CLOSED"`)), 400},
		{"closed event, success status", mod(func(e *refundEvent) { e.event = EventRefundClosed }), 400},
		{"no out_refund_no", mod(plain(`"out_refund_no":"1217752501201407033233368018",`, ``)), 400},
		{"refund over total", mod(plain(`"total":999,"refund":999`, `"total":99,"refund":999`)), 400},
		{"zero refund", mod(plain(`"total":999,"refund":999`, `"total":999,"refund":0`)), 400},
		{"payer refund over refund", mod(plain(`"payer_refund":999`, `"payer_refund":1999`)), 400},
		{"success without time", mod(plain(`"success_time":"2018-06-08T10:34:56+08:00",`, ``)), 400},
		{"float amount", mod(plain(`"refund":999`, `"refund":9.99`)), 400},
		{"duplicate mchid", mod(plain(`"mchid":"1230000109"`, `"mchid":"1230000109","MCHID":"1900000109"`)), 400},
		{"v2 refund XML", func(t *testing.T) *http.Request {
			// A v2 refund notification: XML, req_info under the v2 key,
			// no Wechatpay-* headers.
			return httptest.NewRequest(http.MethodPost, "https://merchant.example/wxpay/refund", strings.NewReader(
				`<xml><return_code>SUCCESS</return_code><appid><![CDATA[wx2421b1c4370ec43b]]></appid><mch_id><![CDATA[1230000109]]></mch_id>`+
					`<nonce_str><![CDATA[TeqClE3i0mvn3DrK]]></nonce_str><req_info><![CDATA[T87GAHG17TGAHG1TGHAHAHA1Y1CIOA9UGJH1GAHV871HAGAGQYQQPOOJMXNBCXBVNMNMAJAA]]></req_info></xml>`))
		}, 401},
		{"v2 refund XML with copied v3 headers", func(t *testing.T) *http.Request {
			genuine := genuineRefundEvent(t).request(t)
			r := httptest.NewRequest(http.MethodPost, "https://merchant.example/wxpay/refund", strings.NewReader(`<xml><return_code>SUCCESS</return_code></xml>`))
			r.Header = genuine.Header
			return r
		}, 401},
		{"GET", func(t *testing.T) *http.Request {
			return httptest.NewRequest(http.MethodGet, "https://merchant.example/wxpay/refund", nil)
		}, 405},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h, calls, _ := refundNotifyClient(t, &logs)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tc.req(t))
			if w.Code != tc.status || calls.Load() != 0 {
				t.Fatalf("status %d (want %d), fn called %d times", w.Code, tc.status, calls.Load())
			}
			var reply struct{ Code, Message string }
			if err := json.Unmarshal(w.Body.Bytes(), &reply); err != nil || reply.Code != "FAIL" || reply.Message == "" {
				t.Fatalf("reply %q", w.Body)
			}
			// The refusal is logged without the plaintext's personal data.
			if !strings.Contains(logs.String(), "notification refused") || strings.Contains(logs.String(), "招商银行") {
				t.Fatalf("log: %s", logs.String())
			}
		})
	}
}

// TestRefundNotifyReplayWithinWindow documents what the window cannot
// do: a genuine notification replayed within five minutes is accepted
// again (WeChat itself redelivers), so fn must be idempotent on
// OutRefundNo and Status, as its documentation says.
func TestRefundNotifyReplayWithinWindow(t *testing.T) {
	h, calls, _ := refundNotifyClient(t, nil)
	e := genuineRefundEvent(t)
	for i := 0; i < 2; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, e.request(t))
		if w.Code != http.StatusNoContent {
			t.Fatalf("delivery %d: %d", i, w.Code)
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("calls = %d", calls.Load())
	}
}

func TestRefundNotifyHandlerNilFn(t *testing.T) {
	c, err := NewClient(baseConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a nil fn")
		}
	}()
	c.RefundNotifyHandler(nil)
}

// FuzzRefundNotification decrypts-and-accepts arbitrary plaintexts as
// the handler's accept step would: never a panic; an accepted refund
// satisfies every documented check.
func FuzzRefundNotification(f *testing.F) {
	f.Add(EventRefundSuccess, []byte(refundPlaintext))
	f.Add(EventRefundClosed, []byte(strings.Replace(refundPlaintext, "SUCCESS", "CLOSED", 1)))
	f.Add(EventRefundAbnormal, []byte(`{"mchid":"1230000109","refund_status":"ABNORMAL","amount":{"refund":1,"total":1}}`))
	c, err := NewClient(baseConfig(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, event string, pt []byte) {
		n := &Notification{ID: "EV-1", EventType: event, ResourceType: ResourceTypeEncrypted, OriginalType: "refund", Plaintext: pt}
		r, err := c.acceptRefund(n)
		if err != nil {
			if !errors.Is(err, ErrNotRefund) && !errors.Is(err, ErrJSON) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if r.MchID != "1230000109" || r.OutRefundNo == "" || r.RefundID == "" || r.Amount.Refund <= 0 ||
			r.Amount.Total < r.Amount.Refund || "REFUND."+string(r.Status) != r.EventType {
			t.Fatalf("accepted %+v", r)
		}
	})
}

// TestRefundNotifyHandlerConcurrent shares one handler among 64
// goroutines posting genuine and cross-merchant notifications: fn runs
// once per genuine one, never for the others (run with -race).
func TestRefundNotifyHandlerConcurrent(t *testing.T) {
	h, calls, _ := refundNotifyClient(t, &bytes.Buffer{})
	genuine := genuineRefundEvent(t)
	foreign := genuine
	foreign.plaintext = strings.Replace(refundPlaintext, `"mchid":"1230000109"`, `"mchid":"1900000109"`, 1)
	reqs := make([]*http.Request, 64)
	for i := range reqs {
		if i%2 == 0 {
			reqs[i] = genuine.request(t)
		} else {
			reqs[i] = foreign.request(t)
		}
	}
	var wg sync.WaitGroup
	codes := make([]int, len(reqs))
	for i := range reqs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, reqs[i])
			codes[i] = w.Code
		}(i)
	}
	wg.Wait()
	for i, code := range codes {
		if want := map[bool]int{true: 204, false: 400}[i%2 == 0]; code != want {
			t.Fatalf("request %d: %d, want %d", i, code, want)
		}
	}
	if calls.Load() != 32 {
		t.Fatalf("fn called %d times, want 32", calls.Load())
	}
}
