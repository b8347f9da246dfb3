package wxpaytest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

func microReq(code, no string, fee int64) *wxpay.MicroPayRequest {
	return &wxpay.MicroPayRequest{AuthCode: code, Body: "till", OutTradeNo: no, TotalFee: fee, SpbillCreateIP: "127.0.0.1"}
}

func TestMicroPay(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.Now = clk.Now
	s, c := tlsFake(t, cfg)

	t.Run("paid at once", func(t *testing.T) {
		code := s.PaymentCode(wxpaytest.PaymentCodeOptions{OpenID: "oPayer"})
		require.Len(t, code, 18)
		r, err := c.MicroPay(ctxT(t), microReq(code, "mp-1", 88))
		require.NoError(t, err)
		assert.Equal(t, int64(88), r.TotalFee)
		assert.Equal(t, "oPayer", r.OpenID)
		assert.Equal(t, wxpay.TradeType("MICROPAY"), r.TradeType)
		q, err := c.OrderQuery(ctxT(t), &wxpay.OrderQueryRequest{OutTradeNo: "mp-1"})
		require.NoError(t, err)
		assert.Equal(t, wxpay.TradeStateSuccess, q.TradeState)
		assert.Equal(t, r.TransactionID, q.Payment.TransactionID)
		assert.Empty(t, s.Deliveries("mp-1"), "micropay has no notification")
		// The code was used; another order cannot charge it.
		_, err = c.MicroPay(ctxT(t), microReq(code, "mp-1b", 88))
		requireCode(t, err, "AUTH_CODE_INVALID")
		// A repeat of the same order answers its outcome again.
		again, err := c.MicroPay(ctxT(t), microReq(code, "mp-1", 88))
		require.NoError(t, err)
		assert.Equal(t, r.TransactionID, again.TransactionID)
		// Another amount under the same out_trade_no is a duplicate.
		_, err = c.MicroPay(ctxT(t), microReq(code, "mp-1", 89))
		requireCode(t, err, wxpay.ErrCodeInvalidRequest)
	})

	t.Run("USERPAYING then SUCCESS", func(t *testing.T) {
		code := s.PaymentCode(wxpaytest.PaymentCodeOptions{Confirm: 20 * time.Second})
		_, err := c.MicroPay(ctxT(t), microReq(code, "mp-2", 100))
		e := requireCode(t, err, "USERPAYING")
		assert.Equal(t, "需要用户输入支付密码", e.Message)
		q, err := c.OrderQuery(ctxT(t), &wxpay.OrderQueryRequest{OutTradeNo: "mp-2"})
		require.NoError(t, err)
		assert.Equal(t, wxpay.TradeState("USERPAYING"), q.TradeState)
		clk.Add(20 * time.Second)
		q, err = c.OrderQuery(ctxT(t), &wxpay.OrderQueryRequest{OutTradeNo: "mp-2"})
		require.NoError(t, err)
		assert.Equal(t, wxpay.TradeStateSuccess, q.TradeState)
		assert.Equal(t, int64(100), q.Payment.TotalFee)
	})

	t.Run("declined", func(t *testing.T) {
		code := s.PaymentCode(wxpaytest.PaymentCodeOptions{Confirm: time.Second, Decline: true})
		_, err := c.MicroPay(ctxT(t), microReq(code, "mp-3", 100))
		requireCode(t, err, "USERPAYING")
		clk.Add(time.Second)
		q, err := c.OrderQuery(ctxT(t), &wxpay.OrderQueryRequest{OutTradeNo: "mp-3"})
		require.NoError(t, err)
		assert.Equal(t, wxpay.TradeState("PAYERROR"), q.TradeState)
	})

	t.Run("SYSTEMERROR then resubmit", func(t *testing.T) {
		code := s.PaymentCode(wxpaytest.PaymentCodeOptions{})
		s.Inject(wxpaytest.EndpointMicroPay, 1, wxpaytest.Fault{ErrCode: wxpay.ErrCodeSystemError, Processed: true})
		_, err := c.MicroPay(ctxT(t), microReq(code, "mp-4", 100))
		requireCode(t, err, wxpay.ErrCodeSystemError)
		assert.True(t, wxpay.Retryable(err))
		r, err := c.MicroPay(ctxT(t), microReq(code, "mp-4", 100))
		require.NoError(t, err)
		o, _ := s.Order("mp-4")
		assert.Equal(t, o.TransactionID, r.TransactionID, "charged once")
	})

	t.Run("AUTH_CODE_INVALID", func(t *testing.T) {
		for _, code := range []string{"123", "160000000000000000", "1300000000000000001"} {
			_, err := c.MicroPay(ctxT(t), microReq(code, "mp-5", 100))
			e := requireCode(t, err, "AUTH_CODE_INVALID")
			assert.Contains(t, e.Message, "18位数字")
		}
		_, ok := s.Order("mp-5")
		assert.False(t, ok)
		// A well-formed code the fake did not mint pays, once.
		_, err := c.MicroPay(ctxT(t), microReq("134567890123456789", "mp-6", 100))
		require.NoError(t, err)
	})

	t.Run("micropay orders are not paid by Pay", func(t *testing.T) {
		_, err := s.Pay(wxpaytest.PayOptions{OutTradeNo: "mp-2"})
		assert.ErrorIs(t, err, wxpaytest.ErrNoOrder)
	})
}

func TestReverse(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.Now = clk.Now
	cfg.RefundImmediately = true
	s, c := tlsFake(t, cfg)
	state := func(no string) wxpay.TradeState {
		q, err := c.OrderQuery(ctxT(t), &wxpay.OrderQueryRequest{OutTradeNo: no})
		require.NoError(t, err)
		return q.TradeState
	}

	code := s.PaymentCode(wxpaytest.PaymentCodeOptions{Confirm: time.Minute})
	_, err := c.MicroPay(ctxT(t), microReq(code, "rv-1", 100))
	requireCode(t, err, "USERPAYING")
	// WeChat asks to reverse again.
	s.Inject(wxpaytest.EndpointReverse, 1, wxpaytest.Fault{Recall: true})
	r, err := c.Reverse(ctxT(t), &wxpay.ReverseRequest{OutTradeNo: "rv-1"})
	require.NoError(t, err)
	assert.True(t, r.Recall)
	assert.Equal(t, wxpay.TradeState("USERPAYING"), state("rv-1"), "a recall reverses nothing")
	r, err = c.Reverse(ctxT(t), &wxpay.ReverseRequest{OutTradeNo: "rv-1"})
	require.NoError(t, err)
	assert.False(t, r.Recall)
	clk.Add(time.Minute)
	assert.Equal(t, wxpay.TradeState("REVOKED"), state("rv-1"), "the payer's late confirmation no longer pays")
	// A recall after the work was done: reversed, and asked again.
	_, err = c.MicroPay(ctxT(t), microReq(s.PaymentCode(wxpaytest.PaymentCodeOptions{}), "rv-5", 100))
	require.NoError(t, err)
	s.Inject(wxpaytest.EndpointReverse, 1, wxpaytest.Fault{Recall: true, Processed: true})
	r, err = c.Reverse(ctxT(t), &wxpay.ReverseRequest{OutTradeNo: "rv-5"})
	require.NoError(t, err)
	assert.True(t, r.Recall)
	assert.Equal(t, wxpay.TradeState("REVOKED"), state("rv-5"))
	_, err = c.Reverse(ctxT(t), &wxpay.ReverseRequest{OutTradeNo: "rv-1"})
	require.NoError(t, err, "reversing twice is harmless")
	_, err = c.MicroPay(ctxT(t), microReq(code, "rv-1", 100))
	requireCode(t, err, "ORDERREVERSED")

	// A paid order is reversed too (refunded in full).
	paid, err := c.MicroPay(ctxT(t), microReq(s.PaymentCode(wxpaytest.PaymentCodeOptions{}), "rv-2", 100))
	require.NoError(t, err)
	_, err = c.Reverse(ctxT(t), &wxpay.ReverseRequest{TransactionID: paid.TransactionID})
	require.NoError(t, err)
	assert.Equal(t, wxpay.TradeState("REVOKED"), state("rv-2"))

	// Refunded orders and old ones cannot be.
	_, err = c.MicroPay(ctxT(t), microReq(s.PaymentCode(wxpaytest.PaymentCodeOptions{}), "rv-3", 100))
	require.NoError(t, err)
	_, err = c.Refund(ctxT(t), refundReq("rv-3", "rv-3-r", 100, 10))
	require.NoError(t, err)
	_, err = c.Reverse(ctxT(t), &wxpay.ReverseRequest{OutTradeNo: "rv-3"})
	requireCode(t, err, "TRADE_ERROR")
	_, err = c.MicroPay(ctxT(t), microReq(s.PaymentCode(wxpaytest.PaymentCodeOptions{}), "rv-4", 100))
	require.NoError(t, err)
	clk.Add(wxpaytest.ReverseLife + time.Second)
	_, err = c.Reverse(ctxT(t), &wxpay.ReverseRequest{OutTradeNo: "rv-4"})
	requireCode(t, err, "REVERSE_EXPIRE")
	_, err = c.Reverse(ctxT(t), &wxpay.ReverseRequest{OutTradeNo: "rv-none"})
	requireCode(t, err, wxpay.ErrCodeOrderNotExist)

	// The certificate is required.
	st, _, raw := call(t, certHTTPClient(t, s, nil, nil), s.URL+string(wxpaytest.EndpointReverse),
		wire(t, wxpay.Params{"out_trade_no": "rv-4"}, testKey), testKey)
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Contains(t, string(raw), "400 No required SSL certificate was sent")
	_, err = newClient(t, s, "", "").Reverse(ctxT(t), &wxpay.ReverseRequest{OutTradeNo: "rv-4"})
	var reqErr *wxpay.RequestError
	require.ErrorAs(t, err, &reqErr)
}

// Malformed requests to the new endpoints get return_code FAIL with the
// field named, and change nothing.
func TestMoneyBadRequests(t *testing.T) {
	cfg := testConfig()
	cfg.RefundImmediately = true
	s, c := tlsFake(t, cfg)
	paidOrder(t, s, c, "bad-1", 100)
	certPEM, keyPEM, err := s.ClientCertificate()
	require.NoError(t, err)
	hc := certHTTPClient(t, s, certPEM, keyPEM)
	micro := wxpay.Params{"auth_code": "134567890123456789", "body": "b", "out_trade_no": "bad-m", "total_fee": "1", "spbill_create_ip": "127.0.0.1"}
	with := func(base wxpay.Params, k, v string) wxpay.Params {
		p := wxpay.Params{}
		for kk, vv := range base {
			p[kk] = vv
		}
		p[k] = v
		return p
	}
	refund := wxpay.Params{"out_trade_no": "bad-1", "out_refund_no": "r", "total_fee": "100", "refund_fee": "1"}
	for _, tc := range []struct {
		path string
		p    wxpay.Params
		msg  string
	}{
		{"/pay/refundquery", wxpay.Params{}, "缺少参数out_refund_no"},
		{"/pay/refundquery", wxpay.Params{"out_refund_no": "a b"}, "out_refund_no参数格式错误"},
		{"/pay/refundquery", wxpay.Params{"out_trade_no": "a b"}, "out_trade_no参数格式错误"},
		{"/pay/refundquery", wxpay.Params{"refund_id": "123456789012345678901234567890123"}, "refund_id参数长度有误"},
		{"/pay/micropay", with(micro, "auth_code", ""), "缺少参数auth_code"},
		{"/pay/micropay", with(micro, "total_fee", "0"), "invalid total_fee"},
		{"/pay/micropay", with(micro, "spbill_create_ip", "x"), "invalid spbill_create_ip"},
		{"/pay/micropay", with(micro, "out_trade_no", "a b"), "out_trade_no参数格式错误"},
		{"/secapi/pay/reverse", wxpay.Params{}, "缺少参数out_trade_no"},
		{"/secapi/pay/refund", with(refund, "refund_account", "ELSEWHERE"), "refund_account参数格式错误"},
		{"/secapi/pay/refund", with(refund, "notify_url", "ftp://x"), "invalid notify_url"},
		{"/secapi/pay/refund", with(refund, "refund_fee_type", "USD"), "refund_fee_type参数格式错误"},
		{"/secapi/pay/refund", with(refund, "total_fee", "01"), "invalid total_fee"},
		{"/secapi/pay/refund", with(refund, "out_refund_no", strings.Repeat("r", 65)), "out_refund_no参数格式错误"},
	} {
		_, p, raw := call(t, hc, s.URL+tc.path, wire(t, tc.p, testKey), testKey)
		assert.Equal(t, wxpay.Params{"return_code": "FAIL", "return_msg": tc.msg}, p, "%s %v: %s", tc.path, tc.p, raw)
	}
	// Wrong key on a certificate endpoint: the certificate passes, the
	// sign does not.
	_, p, _ := call(t, hc, s.URL+"/secapi/pay/refund", wire(t, refund, wrongTestKey), testKey)
	assert.Equal(t, wxpay.Params{"return_code": "FAIL", "return_msg": "签名错误"}, p)
	assert.Empty(t, s.Refunds("bad-1"))
	_, ok := s.Order("bad-m")
	assert.False(t, ok)
}

// ReverseUntilDone against the fake's recall=Y: it follows the recalls up
// to wxpay.MaxReverseAttempts calls and stops there, the order untouched.
func TestReverseUntilDoneAgainstRecall(t *testing.T) {
	cfg := testConfig()
	s, c := tlsFake(t, cfg)
	code := s.PaymentCode(wxpaytest.PaymentCodeOptions{Confirm: time.Hour})
	_, err := c.MicroPay(ctxT(t), microReq(code, "rvu-1", 100))
	requireCode(t, err, "USERPAYING")

	// Recalled on every call the bound allows: it gives up, and the
	// faults are used up exactly.
	s.Inject(wxpaytest.EndpointReverse, wxpay.MaxReverseAttempts, wxpaytest.Fault{Recall: true})
	_, err = c.ReverseUntilDone(ctxT(t), &wxpay.ReverseRequest{OutTradeNo: "rvu-1"}, time.Millisecond)
	require.ErrorIs(t, err, wxpay.ErrReverseIncomplete)
	o, _ := s.Order("rvu-1")
	assert.Equal(t, wxpay.TradeState("USERPAYING"), o.State, "nothing was reversed")

	// One recall fewer: the last call reverses.
	s.Inject(wxpaytest.EndpointReverse, wxpay.MaxReverseAttempts-1, wxpaytest.Fault{Recall: true})
	r, err := c.ReverseUntilDone(ctxT(t), &wxpay.ReverseRequest{OutTradeNo: "rvu-1"}, time.Millisecond)
	require.NoError(t, err)
	assert.False(t, r.Recall)
	o, _ = s.Order("rvu-1")
	assert.Equal(t, wxpay.TradeState("REVOKED"), o.State)
}
