package wxpaytest_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

func requireCode(t *testing.T, err error, code wxpay.ErrorCode) *wxpay.Error {
	t.Helper()
	var e *wxpay.Error
	require.True(t, errors.As(err, &e), "got %v", err)
	require.Equal(t, code, e.Code, "got %v", err)
	return e
}

func jsapiOrder(no string, fee int64) *wxpay.UnifiedOrderRequest {
	return &wxpay.UnifiedOrderRequest{
		Body: "test", OutTradeNo: no, TotalFee: fee, SpbillCreateIP: "127.0.0.1",
		TradeType: wxpay.TradeJSAPI, OpenID: "oUser",
	}
}

func TestReentry(t *testing.T) {
	for _, tt := range []struct {
		name     string
		code     wxpay.ErrorCode
		wantCode wxpay.ErrorCode
		wantDes  string
	}{
		{"default", "", wxpay.ErrCodeInvalidRequest, "201 商户订单号重复"},
		{"documented", wxpay.ErrCodeOutTradeNoUsed, wxpay.ErrCodeOutTradeNoUsed, "商户订单号重复"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.DuplicateOrderCode = tt.code
			s := wxpaytest.NewServer(cfg)
			defer s.Close()
			c := newClient(t, s, "", "https://example.com/notify")
			ctx := ctxT(t)

			first, err := c.UnifiedOrder(ctx, jsapiOrder("r-1", 100))
			require.NoError(t, err)
			// Same fields (a fresh nonce_str): the same prepay_id.
			again, err := c.UnifiedOrder(ctx, jsapiOrder("r-1", 100))
			require.NoError(t, err)
			assert.Equal(t, first.PrepayID, again.PrepayID)
			// time_expire may change on re-entry.
			req := jsapiOrder("r-1", 100)
			req.TimeExpire = time.Now().Add(time.Hour)
			again, err = c.UnifiedOrder(ctx, req)
			require.NoError(t, err)
			assert.Equal(t, first.PrepayID, again.PrepayID)
			// Another amount: a duplicate.
			_, err = c.UnifiedOrder(ctx, jsapiOrder("r-1", 101))
			e := requireCode(t, err, tt.wantCode)
			assert.Equal(t, tt.wantDes, e.Message)
			o, ok := s.Order("r-1")
			require.True(t, ok)
			assert.Equal(t, int64(100), o.TotalFee, "the duplicate changed nothing")
		})
	}
}

func TestCloseOrder(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.Now = clk.Now
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	c := newClient(t, s, "", "https://example.com/notify")
	ctx := ctxT(t)

	_, err := c.UnifiedOrder(ctx, jsapiOrder("c-1", 100))
	require.NoError(t, err)
	clk.Add(wxpaytest.CloseDelay - time.Second)
	err = c.CloseOrder(ctx, "c-1")
	requireCode(t, err, wxpay.ErrCodeTradeStateError)
	o, _ := s.Order("c-1")
	assert.Equal(t, wxpaytest.StateNotPay, o.State)

	clk.Add(time.Second)
	require.NoError(t, c.CloseOrder(ctx, "c-1"))
	o, _ = s.Order("c-1")
	assert.Equal(t, wxpaytest.StateClosed, o.State)

	requireCode(t, c.CloseOrder(ctx, "c-1"), wxpay.ErrCodeOrderClosed)
	_, err = c.UnifiedOrder(ctx, jsapiOrder("c-1", 100))
	requireCode(t, err, wxpay.ErrCodeOrderClosed)
	_, err = s.Pay(wxpaytest.PayOptions{OutTradeNo: "c-1"})
	assert.ErrorIs(t, err, wxpaytest.ErrOrderClosed)
	q, err := c.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: "c-1"})
	require.NoError(t, err)
	assert.Equal(t, wxpay.TradeStateClosed, q.TradeState)

	requireCode(t, c.CloseOrder(ctx, "nope"), wxpay.ErrCodeOrderNotExist)
	_, err = c.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: "nope"})
	requireCode(t, err, wxpay.ErrCodeOrderNotExist)
}

func TestPaidOrder(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.Now = clk.Now
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	c := newClient(t, s, "", "https://example.com/notify")
	ctx := ctxT(t)

	resp, err := c.UnifiedOrder(ctx, jsapiOrder("p-1", 100))
	require.NoError(t, err)
	coupons := []wxpay.Coupon{{ID: "10000", Type: wxpay.CouponCash, Fee: 10}, {ID: "10001", Type: wxpay.CouponNoCash, Fee: 20}}
	o, err := s.Pay(wxpaytest.PayOptions{PrepayID: resp.PrepayID, Coupons: coupons, NoNotify: true})
	require.NoError(t, err)
	assert.Equal(t, wxpaytest.StateSuccess, o.State)

	_, err = c.UnifiedOrder(ctx, jsapiOrder("p-1", 100))
	requireCode(t, err, wxpay.ErrCodeOrderPaid)
	clk.Add(time.Hour)
	requireCode(t, c.CloseOrder(ctx, "p-1"), wxpay.ErrCodeOrderPaid)
	_, err = s.Pay(wxpaytest.PayOptions{OutTradeNo: "p-1"})
	assert.ErrorIs(t, err, wxpaytest.ErrOrderPaid)

	// Queried by either number, with the coupons.
	for _, req := range []*wxpay.OrderQueryRequest{{OutTradeNo: "p-1"}, {TransactionID: o.TransactionID}} {
		q, err := c.OrderQuery(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, wxpay.TradeStateSuccess, q.TradeState)
		assert.Equal(t, "p-1", q.OutTradeNo)
		assert.Equal(t, int64(100), q.TotalFee)
		assert.Equal(t, int64(70), q.CashFee)
		assert.Equal(t, int64(30), q.CouponFee)
		assert.Equal(t, int64(80), q.SettlementTotalFee, "less the NO_CASH coupon")
		assert.Equal(t, coupons, q.Coupons)
		assert.Equal(t, "oUser", q.OpenID)
	}
}

func TestPayErrors(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.Now = clk.Now
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	c := newClient(t, s, "", "https://example.com/notify")
	ctx := ctxT(t)
	resp, err := c.UnifiedOrder(ctx, jsapiOrder("e-1", 100))
	require.NoError(t, err)

	for name, opts := range map[string]wxpaytest.PayOptions{
		"nothing":          {},
		"unknown prepay":   {PrepayID: "wx0"},
		"unknown number":   {OutTradeNo: "zz"},
		"mismatched pair":  {PrepayID: resp.PrepayID, OutTradeNo: "zz"},
		"coupon too large": {OutTradeNo: "e-1", Coupons: []wxpay.Coupon{{ID: "1", Fee: 101}}},
		"coupon sum":       {OutTradeNo: "e-1", Coupons: []wxpay.Coupon{{ID: "1", Fee: 60}, {ID: "2", Fee: 41}}},
		"coupon no id":     {OutTradeNo: "e-1", Coupons: []wxpay.Coupon{{Fee: 1}}},
		"coupon zero":      {OutTradeNo: "e-1", Coupons: []wxpay.Coupon{{ID: "1"}}},
		"unwritable field": {OutTradeNo: "e-1", Fields: wxpay.Params{"not a name": "x"}},
	} {
		_, err := s.Pay(opts)
		assert.Error(t, err, name)
	}
	o, _ := s.Order("e-1")
	assert.Equal(t, wxpaytest.StateNotPay, o.State, "failed payments change nothing")

	// The prepay_id lives 2 hours; re-entering the order renews it.
	clk.Add(wxpaytest.PrepayLife)
	_, err = s.Pay(wxpaytest.PayOptions{PrepayID: resp.PrepayID})
	assert.ErrorIs(t, err, wxpaytest.ErrPrepayExpired)
	renewed, err := c.UnifiedOrder(ctx, jsapiOrder("e-1", 100))
	require.NoError(t, err)
	assert.NotEqual(t, resp.PrepayID, renewed.PrepayID)
	_, err = s.Pay(wxpaytest.PayOptions{PrepayID: resp.PrepayID})
	assert.ErrorIs(t, err, wxpaytest.ErrNoOrder, "the old prepay_id is gone")
	_, err = s.Pay(wxpaytest.PayOptions{PrepayID: renewed.PrepayID, NoNotify: true})
	require.NoError(t, err)
}

// time_expire is honoured: past it, the order cannot be paid and reads as
// closed.
func TestTimeExpire(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.Now = clk.Now
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	c := newClient(t, s, "", "https://example.com/notify")
	ctx := ctxT(t)

	req := jsapiOrder("x-1", 100)
	req.TimeExpire = clk.Now().Add(10 * time.Minute)
	_, err := c.UnifiedOrder(ctx, req)
	require.NoError(t, err)
	o, _ := s.Order("x-1")
	assert.True(t, o.TimeExpire.Equal(req.TimeExpire.Truncate(time.Second)), "%v", o.TimeExpire)

	clk.Add(10 * time.Minute)
	_, err = s.Pay(wxpaytest.PayOptions{OutTradeNo: "x-1"})
	assert.ErrorIs(t, err, wxpaytest.ErrOrderClosed)
	q, err := c.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: "x-1"})
	require.NoError(t, err)
	assert.Equal(t, wxpay.TradeStateClosed, q.TradeState)

	// Under a minute left is refused up front.
	req = jsapiOrder("x-2", 100)
	req.TimeExpire = clk.Now().Add(30 * time.Second)
	_, err = c.UnifiedOrder(ctx, req)
	var e *wxpay.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "FAIL", e.ReturnCode)
}

// Config.Speed scales the fake's durations: at 60, the 5-minute closeorder
// rule passes after 5 seconds.
func TestSpeed(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.Now = clk.Now
	cfg.Speed = 60
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	c := newClient(t, s, "", "https://example.com/notify")
	ctx := ctxT(t)

	start := s.Now()
	_, err := c.UnifiedOrder(ctx, jsapiOrder("s-1", 100))
	require.NoError(t, err)
	clk.Add(4 * time.Second)
	assert.Equal(t, 4*time.Minute, s.Now().Sub(start))
	requireCode(t, c.CloseOrder(ctx, "s-1"), wxpay.ErrCodeTradeStateError)
	clk.Add(time.Second)
	require.NoError(t, c.CloseOrder(ctx, "s-1"))
}

func TestConfigValidation(t *testing.T) {
	good := testConfig()
	for name, mutate := range map[string]func(*wxpaytest.Config){
		"no appid":       func(c *wxpaytest.Config) { c.AppID = "" },
		"no mch_id":      func(c *wxpaytest.Config) { c.MchID = "" },
		"short key":      func(c *wxpaytest.Config) { c.APIKey = "short" },
		"short secret":   func(c *wxpaytest.Config) { c.AppSecret = "short" },
		"sign type":      func(c *wxpaytest.Config) { c.SignType = "SHA1" },
		"negative speed": func(c *wxpaytest.Config) { c.Speed = -1 },
		"duplicate code": func(c *wxpaytest.Config) { c.DuplicateOrderCode = wxpay.ErrCodeSystemError },
	} {
		cfg := good
		mutate(&cfg)
		_, err := wxpaytest.New(cfg)
		assert.Error(t, err, name)
		assert.NotContains(t, err.Error(), testKey)
		assert.Panics(t, func() { wxpaytest.NewServer(cfg) }, name)
	}
	f, err := wxpaytest.New(good)
	require.NoError(t, err)
	f.Close()
	f.Close() // idempotent
}

// A fake mounted under a prefix of another server, as a demo mounts it.
func TestMountedUnderPrefix(t *testing.T) {
	f, err := wxpaytest.New(testConfig())
	require.NoError(t, err)
	defer f.Close()
	mux := newMux("/wechat/", f)
	defer mux.Close()
	c, err := wxpay.NewClient(wxpay.Config{AppID: testAppID, MchID: testMchID, APIKey: testKey, NotifyURL: "https://example.com/n"},
		wxpay.WithBaseURL(mux.URL+"/wechat"))
	require.NoError(t, err)
	resp, err := c.UnifiedOrder(ctxT(t), jsapiOrder("m-"+strconv.Itoa(1), 1))
	require.NoError(t, err)
	assert.NotEmpty(t, resp.PrepayID)
}
