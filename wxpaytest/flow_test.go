package wxpaytest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/miniprogram"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// notifyServer serves a wxpay NotifyHandler whose client is created after
// the server's URL is known.
type notifyServer struct {
	*httptest.Server
	mu sync.Mutex
	h  http.Handler
}

func newNotifyServer(t testing.TB) *notifyServer {
	ns := &notifyServer{}
	ns.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ns.mu.Lock()
		h := ns.h
		ns.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ns.Close)
	return ns
}

func (ns *notifyServer) set(h http.Handler) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	ns.h = h
}

func postJSON(t testing.TB, url string, v any) (int, map[string]string) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// The whole mini-program payment through the public APIs only: login,
// order, front-end parameters, the user paying (paySign checked by the
// fake), the notification reaching NotifyHandler, then orderquery.
func TestJSAPIFlow(t *testing.T) {
	for _, st := range []wxpay.SignType{wxpay.SignMD5, wxpay.SignHMACSHA256} {
		t.Run(string(st), func(t *testing.T) {
			cfg := testConfig()
			cfg.SignType = st
			cfg.Speed = 1000
			s := wxpaytest.NewServer(cfg)
			defer s.Close()
			ctx := ctxT(t)

			ns := newNotifyServer(t)
			pay := newClient(t, s, st, ns.URL+"/notify")
			var got []*wxpay.Notification
			var mu sync.Mutex
			ns.set(pay.NotifyHandler(func(_ context.Context, n *wxpay.Notification) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, n)
				return nil
			}))

			mp, err := miniprogram.NewClient(testAppID, testSecret,
				miniprogram.WithBaseURL(s.URL), miniprogram.WithHTTPClient(s.Client()))
			require.NoError(t, err)

			// 1. wx.login, then code2session.
			code := s.LoginCode("")
			sess, err := mp.Code2Session(ctx, code)
			require.NoError(t, err)
			require.NotEmpty(t, sess.OpenID)

			// The user's profile decrypts under that session's key.
			enc, iv, err := s.UserInfo(sess.OpenID, wxpaytest.Profile{NickName: "Band", Gender: 1, City: "Guangzhou"})
			require.NoError(t, err)
			info, err := mp.DecryptUserInfo(sess, enc, iv)
			require.NoError(t, err)
			assert.Equal(t, "Band", info.NickName)
			assert.Equal(t, sess.OpenID, info.OpenID)

			// 2. unifiedorder.
			resp, err := pay.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
				Body: "test", OutTradeNo: "flow-1", TotalFee: 100,
				SpbillCreateIP: "127.0.0.1", TradeType: wxpay.TradeJSAPI, OpenID: sess.OpenID,
			})
			require.NoError(t, err)

			// 3. wx.requestPayment's arguments.
			params, err := pay.JSAPIParams(resp.PrepayID)
			require.NoError(t, err)

			// A forged paySign is refused and pays nothing.
			forged := *params
			forged.PaySign = "0" + params.PaySign[1:]
			if forged.PaySign == params.PaySign {
				forged.PaySign = "1" + params.PaySign[1:]
			}
			status, out := postJSON(t, s.URL+"/wxpaytest/pay", forged)
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Contains(t, out["error"], "paySign")
			o, _ := s.Order("flow-1")
			assert.Equal(t, wxpaytest.StateNotPay, o.State)

			// 4. The user pays; wx.requestPayment passes no appId.
			noAppID := *params
			noAppID.AppID = ""
			status, out = postJSON(t, s.URL+"/wxpaytest/pay", noAppID)
			require.Equal(t, http.StatusOK, status, out)
			assert.Equal(t, "SUCCESS", out["result"])
			assert.Equal(t, "flow-1", out["out_trade_no"])

			// 5. The notification reaches the handler and is acknowledged.
			require.NoError(t, s.WaitAcked(ctx, "flow-1"))
			mu.Lock()
			require.Len(t, got, 1)
			n := got[0]
			mu.Unlock()
			assert.Equal(t, "flow-1", n.OutTradeNo)
			assert.Equal(t, int64(100), n.TotalFee)
			assert.Equal(t, sess.OpenID, n.OpenID)
			assert.Equal(t, out["transaction_id"], n.TransactionID)

			// 6. orderquery says SUCCESS.
			q, err := pay.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: "flow-1"})
			require.NoError(t, err)
			assert.Equal(t, wxpay.TradeStateSuccess, q.TradeState)
			assert.Equal(t, n.TransactionID, q.TransactionID)
			assert.Equal(t, int64(100), q.TotalFee)

			// Paying again is refused.
			status, _ = postJSON(t, s.URL+"/wxpaytest/pay", params)
			assert.Equal(t, http.StatusConflict, status)
		})
	}
}

// A handler that fails twice and then succeeds is called three times,
// WeChat's schedule apart; one that succeeds is called once.
func TestNotificationRetries(t *testing.T) {
	cfg := testConfig()
	cfg.Speed = 1000 // 15 s last 15 ms
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	ctx := ctxT(t)

	ns := newNotifyServer(t)
	pay := newClient(t, s, "", ns.URL)
	var calls sync.Map // out_trade_no -> *atomic.Int32
	ns.set(pay.NotifyHandler(func(_ context.Context, n *wxpay.Notification) error {
		v, _ := calls.LoadOrStore(n.OutTradeNo, new(atomic.Int32))
		if c := v.(*atomic.Int32).Add(1); n.OutTradeNo == "flaky" && c <= 2 {
			return fmt.Errorf("not yet")
		}
		return nil
	}))
	for _, no := range []string{"flaky", "steady"} {
		_, err := pay.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
			Body: "test", OutTradeNo: no, TotalFee: 1, SpbillCreateIP: "::1",
			TradeType: wxpay.TradeJSAPI, OpenID: "o1",
		})
		require.NoError(t, err)
		_, err = s.Pay(wxpaytest.PayOptions{OutTradeNo: no})
		require.NoError(t, err)
	}
	require.NoError(t, s.WaitAcked(ctx, "flaky"))
	require.NoError(t, s.WaitAcked(ctx, "steady"))

	count := func(no string) int32 {
		v, ok := calls.Load(no)
		require.True(t, ok)
		return v.(*atomic.Int32).Load()
	}
	assert.EqualValues(t, 3, count("flaky"))
	assert.EqualValues(t, 1, count("steady"))

	ds := s.Deliveries("flaky")
	require.Len(t, ds, 3)
	sched := wxpaytest.NotifySchedule()
	for i, d := range ds {
		assert.Equal(t, i+1, d.Attempt)
		assert.Equal(t, i == 2, d.Acked, "attempt %d", d.Attempt)
		wantStatus := http.StatusInternalServerError
		if d.Acked {
			wantStatus = http.StatusOK
		}
		assert.Equal(t, wantStatus, d.StatusCode)
		if i > 0 {
			assert.GreaterOrEqual(t, d.At.Sub(ds[i-1].At), sched[i-1]-time.Second)
		}
	}
	assert.Equal(t, ds[0].Body, ds[2].Body, "every retry carries the same notification")
	assert.Len(t, s.Deliveries("steady"), 1)
}

// The retry intervals, sped up, follow WeChat's schedule in order, and
// delivery stops after the last one. At speed 200,000 the 24-hour schedule
// takes about half a second. A timer never fires early, so every gap is at
// least its scheduled interval; WeChat's schedule never shrinks, so any
// reordering would put a shorter interval where a longer one belongs and
// fail that lower bound. The upper bound allows 250 ms of wall time per
// gap (about 14 fake hours) for a loaded machine: it catches a fake that
// waits days, not one that is a few minutes late.
func TestNotificationSchedule(t *testing.T) {
	sched := wxpaytest.NotifySchedule()
	var total time.Duration
	for i, d := range sched {
		total += d
		if i > 0 {
			require.GreaterOrEqual(t, d, sched[i-1], "WeChat's intervals never shrink (the lower bounds below rely on it)")
		}
	}
	require.Len(t, sched, 15)
	assert.Equal(t, 24*time.Hour+4*time.Minute, total, "WeChat's schedule lasts 24h4m")

	cfg := testConfig()
	const speed = 200000
	cfg.Speed = speed
	s := wxpaytest.NewServer(cfg)
	defer s.Close()

	var mu sync.Mutex
	done := make(chan struct{})
	n := 0
	ns := newNotifyServer(t)
	ns.set(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		n++
		if n == len(sched)+1 {
			close(done)
		}
		mu.Unlock()
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	body := signed(t, func() wxpay.Params { p := orderFields("sched"); p["notify_url"] = ns.URL; return p }(), testKey, wxpay.SignMD5)
	require.Equal(t, "SUCCESS", post(t, s, "/pay/unifiedorder", body)["result_code"])
	_, err := s.Pay(wxpaytest.PayOptions{OutTradeNo: "sched"})
	require.NoError(t, err)

	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("16 deliveries did not happen")
	}
	// Nothing follows the 16th attempt: wait a further 6 hours of fake time.
	time.Sleep(6 * time.Hour / speed)
	ds := s.Deliveries("sched")
	require.Len(t, ds, len(sched)+1)
	var spent time.Duration
	for i := 1; i < len(ds); i++ {
		gap := ds[i].At.Sub(ds[i-1].At)
		spent += gap
		// The second of slack covers rounding the scaled durations.
		assert.GreaterOrEqual(t, gap, sched[i-1]-time.Second, "gap before attempt %d", i+1)
		assert.Less(t, gap, sched[i-1]+250*time.Millisecond*speed, "gap before attempt %d", i+1)
		assert.False(t, ds[i].Acked)
	}
	assert.GreaterOrEqual(t, spent, total-16*time.Second, "the attempts span WeChat's 24h4m")
}

// 1,000 orders placed, paid and notified concurrently against one fake:
// every notification arrives once, for the right amount, and every order
// reads as paid.
func TestConcurrentCycles(t *testing.T) {
	cfg := testConfig()
	// Fast retries, while the 2-hour prepay_id still outlives a loaded
	// machine's scheduling (12 s of real time).
	cfg.Speed = 600
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	ctx := ctxT(t)

	ns := newNotifyServer(t)
	pay := newClient(t, s, "", ns.URL)
	var seen sync.Map // out_trade_no -> *atomic.Int32
	ns.set(pay.NotifyHandler(func(_ context.Context, n *wxpay.Notification) error {
		v, _ := seen.LoadOrStore(n.OutTradeNo, new(atomic.Int32))
		v.(*atomic.Int32).Add(1)
		if want := fee(n.OutTradeNo); n.TotalFee != want {
			return fmt.Errorf("total_fee %d, want %d", n.TotalFee, want)
		}
		return nil
	}))

	const cycles = 1000
	sem := make(chan struct{}, 64) // bounded in flight, all 1,000 outstanding in the fake
	errs := make(chan error, cycles)
	var wg sync.WaitGroup
	for i := range cycles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			no := fmt.Sprintf("c-%d", i)
			resp, err := pay.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
				Body: "test", OutTradeNo: no, TotalFee: fee(no), SpbillCreateIP: "127.0.0.1",
				TradeType: wxpay.TradeJSAPI, OpenID: "o" + no,
			})
			if err != nil {
				errs <- err
				return
			}
			if _, err := s.Pay(wxpaytest.PayOptions{PrepayID: resp.PrepayID}); err != nil {
				errs <- err
				return
			}
			if err := s.WaitAcked(ctx, no); err != nil {
				errs <- fmt.Errorf("%s: %w", no, err)
				return
			}
			q, err := pay.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: no})
			if err != nil {
				errs <- err
				return
			}
			if q.TradeState != wxpay.TradeStateSuccess || q.TotalFee != fee(no) {
				errs <- fmt.Errorf("%s: state %s fee %d", no, q.TradeState, q.TotalFee)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n := 0
	seen.Range(func(k, v any) bool {
		n++
		assert.EqualValues(t, 1, v.(*atomic.Int32).Load(), k)
		return true
	})
	assert.Equal(t, cycles, n)
	assert.Len(t, s.Orders(), cycles)
}

func fee(no string) int64 {
	var h int64 = 7
	for _, c := range no {
		h = h*31 + int64(c)
	}
	return 1 + h%100000
}
