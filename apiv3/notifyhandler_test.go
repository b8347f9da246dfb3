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
)

func serveNotify(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func checkFailReply(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d (body %s)", w.Code, status, w.Body)
	}
	var reply struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &reply); err != nil || reply.Code != "FAIL" || reply.Message == "" {
		t.Fatalf("reply %q (%v), want {\"code\":\"FAIL\",\"message\":…}", w.Body, err)
	}
	if len(reply.Code) > 32 || len([]rune(reply.Message)) > 64 {
		t.Fatalf("reply over WeChat's lengths: %q", w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
}

func TestNotificationHandler(t *testing.T) {
	wx := newWechat(t)
	var logs bytes.Buffer
	c := newNotifyClient(t, &testClock{t: testNow}, WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	body := notificationJSON(t, sealedResource(t, testPlaintext))
	h := wx.headers(t, testNow, body)

	var calls atomic.Int32
	var fail atomic.Bool
	handler := c.NotificationHandler(func(ctx context.Context, n *Notification) error {
		calls.Add(1)
		if string(n.Plaintext) != testPlaintext || n.EventType != "TRANSACTION.SUCCESS" {
			t.Errorf("fn got %+v", n)
		}
		if fail.Load() {
			return errors.New("database unavailable")
		}
		return nil
	})

	// Success: 204, no body, after fn returned nil.
	w := serveNotify(handler, postRequest(h, body))
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 || calls.Load() != 1 {
		t.Fatalf("genuine: %d %q, %d calls", w.Code, w.Body, calls.Load())
	}
	// fn fails: 500 FAIL, so WeChat redelivers; the reason is logged only.
	fail.Store(true)
	w = serveNotify(handler, postRequest(h, body))
	checkFailReply(t, w, http.StatusInternalServerError)
	if strings.Contains(w.Body.String(), "database") || !strings.Contains(logs.String(), "database unavailable") {
		t.Fatalf("fn's error: reply %q, log %s", w.Body, logs.String())
	}
	fail.Store(false)
	calls.Store(0)

	// Refusals: fn is never called.
	forged := bytes.Replace(body, []byte("EV-"), []byte("FV-"), 1)
	probe := h.Clone()
	probe.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+h.Get("Wechatpay-Signature"))
	get := postRequest(h, body)
	get.Method = http.MethodGet
	wrongAlg := func() *http.Request {
		r := sealedResource(t, testPlaintext)
		r.Algorithm = "AEAD_SM4_GCM"
		b := notificationJSON(t, r)
		return postRequest(wx.headers(t, testNow, b), b)
	}
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"forged body", postRequest(h, forged), http.StatusUnauthorized},
		{"probe", postRequest(probe, body), http.StatusUnauthorized},
		{"stale", postRequest(wx.headers(t, testNow.Add(-10*time.Minute), body), body), http.StatusUnauthorized},
		{"unsigned", postRequest(http.Header{}, body), http.StatusUnauthorized},
		{"GET", get, http.StatusMethodNotAllowed},
		{"too large", postRequest(h, bytes.Repeat([]byte("x"), MaxNotificationBytes+1)), http.StatusRequestEntityTooLarge},
		{"unknown algorithm", wrongAlg(), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serveNotify(handler, tc.req)
			checkFailReply(t, w, tc.status)
			if tc.status == http.StatusMethodNotAllowed && w.Header().Get("Allow") != http.MethodPost {
				t.Fatalf("Allow %q", w.Header().Get("Allow"))
			}
		})
	}
	if calls.Load() != 0 {
		t.Fatalf("fn called %d times for refused requests", calls.Load())
	}
	// Nothing secret or personal reached the log: not the key, the
	// plaintext, the ciphertext or a signature.
	out := logs.String()
	for _, s := range []string{v5APIv3Key, "oUpF8uMuAJO", "4200000000000000000000000001", sealedResource(t, testPlaintext).Ciphertext[:20], h.Get("Wechatpay-Signature")[:20]} {
		if strings.Contains(out, s) {
			t.Fatalf("log holds %q:\n%s", s, out)
		}
	}
	if !strings.Contains(out, `"unverified_id"`) || !strings.Contains(out, "notification refused") {
		t.Fatalf("refusals not logged with the claimed id:\n%s", out)
	}
}

// TestNotificationHandlerRateLimit: a flood of forged notifications logs
// a burst of 10 lines, then says how many it suppressed.
func TestNotificationHandlerRateLimit(t *testing.T) {
	var logs bytes.Buffer
	clock := &testClock{t: testNow}
	c := newNotifyClient(t, clock, WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	handler := c.NotificationHandler(func(context.Context, *Notification) error {
		t.Error("fn called for a forged notification")
		return nil
	})
	for i := 0; i < 25; i++ {
		serveNotify(handler, postRequest(http.Header{}, []byte(`{"id":"x"}`)))
	}
	if n := strings.Count(logs.String(), "notification refused"); n != 10 {
		t.Fatalf("%d refusal lines for 25 refusals, want a burst of 10", n)
	}
	logs.Reset()
	clock.set(testNow.Add(7 * time.Second))
	serveNotify(handler, postRequest(http.Header{}, []byte(`{"id":"x"}`)))
	if !strings.Contains(logs.String(), `"suppressed":15`) {
		t.Fatalf("next line after the burst: %s", logs.String())
	}
}

func TestNotificationHandlerNilFunc(t *testing.T) {
	c := newNotifyClient(t, &testClock{t: testNow})
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a nil NotificationFunc")
		}
	}()
	c.NotificationHandler(nil)
}

// TestNotifyHandlerAccept exercises the skeleton the typed handlers sit
// on: accept refuses (400, fn not called, logged) a verified notification
// of the wrong kind, and decodes the plaintext of the right one.
func TestNotifyHandlerAccept(t *testing.T) {
	wx := newWechat(t)
	var logs bytes.Buffer
	c := newNotifyClient(t, &testClock{t: testNow}, WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	type payment struct {
		OutTradeNo string `json:"out_trade_no"`
		Amount     struct {
			Total int64 `json:"total"`
		} `json:"amount"`
	}
	errWrongEvent := errors.New("apiv3: not a TRANSACTION.SUCCESS notification")
	var got []payment
	h := newNotifyHandler(c, "test", func(n *Notification) (payment, error) {
		var p payment
		if n.EventType != "TRANSACTION.SUCCESS" {
			return p, errWrongEvent
		}
		return p, n.Decode(&p)
	}, func(_ context.Context, p payment) error {
		got = append(got, p)
		return nil
	})
	body := notificationJSON(t, sealedResource(t, testPlaintext))
	if w := serveNotify(h, postRequest(wx.headers(t, testNow, body), body)); w.Code != http.StatusNoContent {
		t.Fatalf("payment: %d %s", w.Code, w.Body)
	}
	if len(got) != 1 || got[0].OutTradeNo != "1217752501201407033233368018" || got[0].Amount.Total != 100 {
		t.Fatalf("fn got %+v", got)
	}
	refund := bytes.Replace(body, []byte("TRANSACTION.SUCCESS"), []byte("REFUND.SUCCESS"), 1)
	w := serveNotify(h, postRequest(wx.headers(t, testNow, refund), refund))
	checkFailReply(t, w, http.StatusBadRequest)
	// A plaintext the hardened decoder refuses (a duplicate amount) is
	// refused too, though it was authenticated.
	dup := notificationJSON(t, sealedResource(t, `{"out_trade_no":"1","amount":{"total":1},"amount":{"total":100}}`))
	w = serveNotify(h, postRequest(wx.headers(t, testNow, dup), dup))
	checkFailReply(t, w, http.StatusBadRequest)
	if len(got) != 1 {
		t.Fatalf("fn called for refused notifications: %+v", got)
	}
	if !strings.Contains(logs.String(), "not a TRANSACTION.SUCCESS") || !strings.Contains(logs.String(), "duplicate") {
		t.Fatalf("accept refusals not logged:\n%s", logs.String())
	}
}

// TestNotificationLogValue: logging a Notification shows the event, not
// the personal data of its plaintext.
func TestNotificationLogValue(t *testing.T) {
	var v notifyVector
	readJSONVector(t, "notify-v5.json", &v)
	c := newNotifyClient(t, &testClock{t: time.Unix(v.Now, 0)})
	n, err := c.ParseNotification(postRequest(v.header(), []byte(v.Body)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("got", "n", n)
	out := buf.String()
	if !strings.Contains(out, "EV-2026010215040500001") || !strings.Contains(out, `"plaintext_bytes":`) {
		t.Fatalf("log %s", out)
	}
	for _, s := range []string{"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "4200000000000000000000000001", "1217752501201407033233368018"} {
		if strings.Contains(out, s) {
			t.Fatalf("log holds %q: %s", s, out)
		}
	}
}

// TestNotificationHandlerConcurrent: one handler serves 64 goroutines of
// genuine and forged notifications; fn runs once per genuine one and the
// rate-limited refusal log is shared safely.
func TestNotificationHandlerConcurrent(t *testing.T) {
	wx := newWechat(t)
	c := newNotifyClient(t, &testClock{t: testNow}, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	body := notificationJSON(t, sealedResource(t, testPlaintext))
	h := wx.headers(t, testNow, body)
	forged := bytes.Replace(body, []byte("EV-"), []byte("FV-"), 1)
	var calls atomic.Int32
	handler := c.NotificationHandler(func(context.Context, *Notification) error { calls.Add(1); return nil })
	var wg sync.WaitGroup
	var bad atomic.Int32
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			b, want := body, http.StatusNoContent
			if i%2 == 1 {
				b, want = forged, http.StatusUnauthorized
			}
			if w := serveNotify(handler, postRequest(h, b)); w.Code != want {
				bad.Add(1)
			}
		}(i)
	}
	wg.Wait()
	if bad.Load() != 0 || calls.Load() != 32 {
		t.Fatalf("%d wrong answers, fn called %d times (want 32)", bad.Load(), calls.Load())
	}
}
