package wxpaytest_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
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

func TestFaultErrCode(t *testing.T) {
	s := wxpaytest.NewServer(testConfig())
	defer s.Close()
	c := newClient(t, s, "", "https://example.com/notify")
	ctx := ctxT(t)

	s.FailNext(wxpaytest.EndpointUnifiedOrder, wxpay.ErrCodeSystemError)
	_, err := c.UnifiedOrder(ctx, jsapiOrder("f-1", 1))
	e := requireCode(t, err, wxpay.ErrCodeSystemError)
	assert.True(t, e.Retryable())
	assert.Equal(t, "系统错误", e.Message)
	assert.Empty(t, s.Orders(), "an unprocessed fault creates nothing")
	// Only the next call.
	_, err = c.UnifiedOrder(ctx, jsapiOrder("f-1", 1))
	require.NoError(t, err)

	// The next two calls, then normal again.
	s.Inject(wxpaytest.EndpointOrderQuery, 2, wxpaytest.Fault{ReturnMsg: "system error"})
	for range 2 {
		_, err = c.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: "f-1"})
		var e *wxpay.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "FAIL", e.ReturnCode)
		assert.Equal(t, "system error", e.ReturnMsg)
	}
	_, err = c.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: "f-1"})
	require.NoError(t, err)

	// Every call until cleared.
	s.Inject(wxpaytest.EndpointCloseOrder, wxpaytest.Always, wxpaytest.Fault{ErrCode: wxpay.ErrCodeBankError, ErrCodeDes: "bank down"})
	for range 3 {
		e := requireCode(t, c.CloseOrder(ctx, "f-1"), wxpay.ErrCodeBankError)
		assert.Equal(t, "bank down", e.Message)
	}
	s.ClearFaults(wxpaytest.EndpointCloseOrder)
	requireCode(t, c.CloseOrder(ctx, "f-1"), wxpay.ErrCodeTradeStateError)
}

func TestFaultTransport(t *testing.T) {
	s := wxpaytest.NewServer(testConfig())
	defer s.Close()
	c := newClient(t, s, "", "https://example.com/notify")
	ctx := ctxT(t)

	t.Run("HTML", func(t *testing.T) {
		s.Inject(wxpaytest.EndpointUnifiedOrder, 1, wxpaytest.Fault{HTML: true})
		_, err := c.UnifiedOrder(ctx, jsapiOrder("t-1", 1))
		var e *wxpay.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, http.StatusBadGateway, e.StatusCode)
		assert.True(t, e.Retryable())
		_, ok := s.Order("t-1")
		assert.False(t, ok)
	})
	t.Run("delay", func(t *testing.T) {
		s.Inject(wxpaytest.EndpointUnifiedOrder, 1, wxpaytest.Fault{Delay: 5 * time.Second})
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := c.UnifiedOrder(short, jsapiOrder("t-2", 1))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("drop after processing", func(t *testing.T) {
		s.Inject(wxpaytest.EndpointUnifiedOrder, 1, wxpaytest.Fault{Drop: true, Processed: true})
		_, err := c.UnifiedOrder(ctx, jsapiOrder("t-3", 1))
		require.Error(t, err)
		var e *wxpay.Error
		assert.False(t, errors.As(err, &e) && e.Code != "", "a transport error, not a WeChat answer: %v", err)
		o, ok := s.Order("t-3")
		require.True(t, ok, "the order was created before the connection dropped")
		// Retrying with the same fields is safe: the same order comes back.
		resp, err := c.UnifiedOrder(ctx, jsapiOrder("t-3", 1))
		require.NoError(t, err)
		assert.Equal(t, o.PrepayID, resp.PrepayID)
	})
	t.Run("wrong key", func(t *testing.T) {
		s.Inject(wxpaytest.EndpointUnifiedOrder, 1, wxpaytest.Fault{WrongKey: true})
		_, err := c.UnifiedOrder(ctx, jsapiOrder("t-4", 1))
		assert.ErrorIs(t, err, wxpay.ErrSignature)
	})
}

func TestFaultMiniProgram(t *testing.T) {
	s := wxpaytest.NewServer(testConfig())
	defer s.Close()
	mp, err := miniprogram.NewClient(testAppID, testSecret, miniprogram.WithBaseURL(s.URL))
	require.NoError(t, err)
	ctx := ctxT(t)

	code := s.LoginCode("")
	s.Inject(wxpaytest.EndpointCode2Session, 1, wxpaytest.Fault{MiniErrCode: -1, MiniErrMsg: "system error"})
	_, err = mp.Code2Session(ctx, code)
	var e *miniprogram.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, miniprogram.CodeSystemBusy, e.Code)
	assert.True(t, e.Retryable())
	// The code was not used up by the failed call.
	_, err = mp.Code2Session(ctx, code)
	require.NoError(t, err)

	s.Inject(wxpaytest.EndpointStableToken, 1, wxpaytest.Fault{HTML: true, HTTPStatus: http.StatusServiceUnavailable})
	_, err = mp.AccessToken(ctx)
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusServiceUnavailable, e.StatusCode)
}

// notifyCase places and pays an order whose notifications go to h, and
// waits until the fake is closed, so that every delivery has happened.
func notifyCase(t *testing.T, speed float64, h func(c *wxpay.Client) http.Handler, opts wxpaytest.PayOptions, wait func(*testing.T, *wxpaytest.Server)) *wxpaytest.Server {
	t.Helper()
	cfg := testConfig()
	cfg.Speed = speed
	s := wxpaytest.NewServer(cfg)
	t.Cleanup(s.Close)
	ns := newNotifyServer(t)
	c := newClient(t, s, "", ns.URL)
	ns.set(h(c))
	_, err := c.UnifiedOrder(ctxT(t), jsapiOrder("n-1", 100))
	require.NoError(t, err)
	opts.OutTradeNo = "n-1"
	_, err = s.Pay(opts)
	require.NoError(t, err)
	wait(t, s)
	s.Close()
	return s
}

func countingHandler(calls *atomic.Int32) func(c *wxpay.Client) http.Handler {
	return func(c *wxpay.Client) http.Handler {
		return c.NotifyHandler(func(context.Context, *wxpay.Notification) error {
			calls.Add(1)
			return nil
		})
	}
}

func TestNotificationFaults(t *testing.T) {
	waitAcked := func(t *testing.T, s *wxpaytest.Server) { require.NoError(t, s.WaitAcked(ctxT(t), "n-1")) }

	t.Run("twice, concurrently", func(t *testing.T) {
		var calls atomic.Int32
		s := notifyCase(t, 1000, countingHandler(&calls), wxpaytest.PayOptions{Copies: 2, Concurrent: true}, waitAcked)
		ds := s.Deliveries("n-1")
		require.Len(t, ds, 2)
		assert.EqualValues(t, 2, calls.Load(), "the handler sees both copies; idempotency is its job")
		assert.ElementsMatch(t, []int{1, 2}, []int{ds[0].Copy, ds[1].Copy})
		assert.Equal(t, ds[0].Body, ds[1].Body)
	})
	t.Run("twice, in sequence", func(t *testing.T) {
		var calls atomic.Int32
		s := notifyCase(t, 1000, countingHandler(&calls), wxpaytest.PayOptions{Copies: 2}, waitAcked)
		ds := s.Deliveries("n-1")
		require.Len(t, ds, 2)
		assert.True(t, ds[0].Acked && ds[1].Acked, "the second copy follows an acknowledged first")
		assert.EqualValues(t, 2, calls.Load())
	})
	t.Run("tampered first attempt", func(t *testing.T) {
		var calls atomic.Int32
		tamper := func(attempt int, body []byte) []byte {
			if attempt == 1 {
				return bytes.Replace(body, []byte("<total_fee>100<"), []byte("<total_fee>1<"), 1)
			}
			return body
		}
		s := notifyCase(t, 1000, countingHandler(&calls), wxpaytest.PayOptions{Tamper: tamper}, waitAcked)
		ds := s.Deliveries("n-1")
		require.Len(t, ds, 2)
		assert.Equal(t, http.StatusBadRequest, ds[0].StatusCode, "NotifyHandler refuses the forgery")
		assert.Contains(t, string(ds[0].Body), "<total_fee>1<")
		assert.False(t, ds[0].Acked)
		assert.True(t, ds[1].Acked)
		assert.EqualValues(t, 1, calls.Load(), "only the genuine delivery reaches fn")
	})
	t.Run("extra fields", func(t *testing.T) {
		var got atomic.Pointer[wxpay.Notification]
		h := func(c *wxpay.Client) http.Handler {
			return c.NotifyHandler(func(_ context.Context, n *wxpay.Notification) error {
				got.Store(n)
				return nil
			})
		}
		notifyCase(t, 1000, h, wxpaytest.PayOptions{
			BankType: "CMC",
			Coupons:  []wxpay.Coupon{{ID: "c1", Type: wxpay.CouponCash, Fee: 30}},
			Fields:   wxpay.Params{"attach": "a&b", "is_subscribe": ""},
		}, waitAcked)
		n := got.Load()
		require.NotNil(t, n)
		assert.Equal(t, "CMC", n.BankType)
		assert.Equal(t, int64(70), n.CashFee)
		assert.Equal(t, []wxpay.Coupon{{ID: "c1", Type: wxpay.CouponCash, Fee: 30}}, n.Coupons)
		assert.Equal(t, "a&b", n.Attach)
		assert.NotContains(t, n.Raw, "is_subscribe")
	})
	t.Run("not at all", func(t *testing.T) {
		var calls atomic.Int32
		s := notifyCase(t, 1e5, countingHandler(&calls), wxpaytest.PayOptions{NoNotify: true}, func(*testing.T, *wxpaytest.Server) {})
		assert.Empty(t, s.Deliveries("n-1"))
		assert.Zero(t, calls.Load())
		o, _ := s.Order("n-1")
		assert.Equal(t, wxpaytest.StateSuccess, o.State, "paid all the same")
	})
}

func TestDropNotifications(t *testing.T) {
	cfg := testConfig()
	cfg.Speed = 1e5
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	var calls atomic.Int32
	ns := newNotifyServer(t)
	c := newClient(t, s, "", ns.URL)
	ns.set(countingHandler(&calls)(c))
	_, err := c.UnifiedOrder(ctxT(t), jsapiOrder("d-1", 100))
	require.NoError(t, err)
	s.DropNotifications("d-1")
	_, err = s.Pay(wxpaytest.PayOptions{OutTradeNo: "d-1"})
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, s.WaitAcked(short, "d-1"), context.DeadlineExceeded)
	s.Close()
	assert.Empty(t, s.Deliveries("d-1"))
	assert.Zero(t, calls.Load())
	assert.ErrorIs(t, s.WaitAcked(ctxT(t), "d-1"), wxpaytest.ErrClosed)
	assert.ErrorIs(t, s.WaitAcked(ctxT(t), "nope"), wxpaytest.ErrNoOrder)
}

// Close stops the retries of a notification nobody acknowledges.
func TestCloseStopsRetries(t *testing.T) {
	cfg := testConfig()
	cfg.Speed = 1000
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	var mu sync.Mutex
	first := make(chan struct{})
	n := 0
	ns := newNotifyServer(t)
	ns.set(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		n++
		if n == 1 {
			close(first)
		}
		mu.Unlock()
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	c := newClient(t, s, "", ns.URL)
	_, err := c.UnifiedOrder(ctxT(t), jsapiOrder("k-1", 100))
	require.NoError(t, err)
	_, err = s.Pay(wxpaytest.PayOptions{OutTradeNo: "k-1"})
	require.NoError(t, err)
	<-first
	s.Close()
	// Close waited for every timer and delivery; a goroutine may still be
	// returning from its final wg.Done, so allow it a moment to exit.
	assert.Eventually(t, func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "wxpaytest.(*Fake)")
	}, time.Second, time.Millisecond, "no goroutine of the fake outlives Close")
	after := len(s.Deliveries("k-1"))
	time.Sleep(100 * time.Millisecond) // 100 fake seconds: several retries were due
	assert.Len(t, s.Deliveries("k-1"), after)
	_, err = s.Pay(wxpaytest.PayOptions{OutTradeNo: "k-1"})
	assert.ErrorIs(t, err, wxpaytest.ErrClosed)
}
