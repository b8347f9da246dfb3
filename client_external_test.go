package wxpay_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/refsign"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// TestFakeAnswerErrors drives the failures WeChat answers with, played by
// wxpaytest, through UnifiedOrder and checks the error's type, the fields
// callers branch on and the house rules for its text. The answers built
// byte by byte (tampered, truncated, oversized) are in client_test.go.
func TestFakeAnswerErrors(t *testing.T) {
	t.Parallel()
	type want struct {
		is         error           // errors.Is target, if any
		status     int             // *Error.StatusCode, if an *Error is expected
		code       wxpay.ErrorCode // *Error.Code
		message    string          // *Error.Message
		returnMsg  string          // *Error.ReturnMsg
		returnCode string          // *Error.ReturnCode
		retryable  bool
	}
	fail := func(code wxpay.ErrorCode, des string, retryable bool) (wxpaytest.Fault, want) {
		return wxpaytest.Fault{ErrCode: code, ErrCodeDes: des},
			want{status: 200, code: code, message: des, returnCode: "SUCCESS", retryable: retryable}
	}
	tests := []struct {
		name  string
		fault wxpaytest.Fault
		want  want
	}{
		{"return_code FAIL", wxpaytest.Fault{ReturnMsg: "签名失败"}, want{status: 200, returnMsg: "签名失败", returnCode: "FAIL"}},
		{"HTML with 502", wxpaytest.Fault{HTML: true, HTTPStatus: 502}, want{status: 502, is: wxpay.ErrXML, retryable: true}},
		{"sign from another key", wxpaytest.Fault{WrongKey: true}, want{is: wxpay.ErrSignature}},
	}
	for _, c := range []struct {
		code      wxpay.ErrorCode
		des       string
		retryable bool
	}{
		{wxpay.ErrCodeSystemError, "系统超时", true},
		{wxpay.ErrCodeBankError, "银行系统异常", true},
		{wxpay.ErrCodeOrderPaid, "该订单已支付", false},
		{wxpay.ErrCodeOrderClosed, "该订单已关", false},
		{wxpay.ErrCodeOutTradeNoUsed, "商户订单号重复", false},
		{wxpay.ErrCodeInvalidRequest, "参数错误", false},
		{wxpay.ErrCodeNotEnough, "余额不足", false},
	} {
		f, w := fail(c.code, c.des, c.retryable)
		tests = append(tests, struct {
			name  string
			fault wxpaytest.Fault
			want  want
		}{string(c.code), f, w})
	}
	wx := xFake(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One server for all cases: each case's fault is the next
			// call's, so the cases run one after another.
			c := xClient(t, wxpay.SignMD5, wxpay.WithBaseURL(wx.URL))
			wx.Inject(wxpaytest.EndpointUnifiedOrder, 1, tt.fault)
			resp, err := c.UnifiedOrder(context.Background(), xOrder("T"+string(rune('a'+i))))
			assert.Nil(t, resp)
			xAssertClean(t, err)
			assert.Equal(t, 1, strings.Count(err.Error(), "unifiedorder"), "endpoint named once: %q", err)
			if tt.want.is != nil {
				assert.ErrorIs(t, err, tt.want.is)
			}
			var we *wxpay.Error
			if tt.want.status == 0 {
				assert.False(t, errors.As(err, &we), "want no *Error, got %v", err)
				return
			}
			require.ErrorAs(t, err, &we)
			assert.Equal(t, "unifiedorder", we.Op)
			assert.Equal(t, tt.want.status, we.StatusCode)
			assert.Equal(t, tt.want.code, we.Code)
			assert.Equal(t, tt.want.returnCode, we.ReturnCode)
			assert.Equal(t, tt.want.retryable, we.Retryable())
			assert.Equal(t, tt.want.message, we.Message)
			if tt.want.returnMsg != "" {
				assert.Equal(t, tt.want.returnMsg, we.ReturnMsg)
			}
		})
	}
}

// TestFakeSystemErrorRetry: a SYSTEMERROR is retryable, and retrying with
// the same fields makes one order, not two.
func TestFakeSystemErrorRetry(t *testing.T) {
	t.Parallel()
	wx := xFake(t)
	c := xClient(t, wxpay.SignMD5, wxpay.WithBaseURL(wx.URL))
	ctx := context.Background()
	// WeChat did the work, but the answer said SYSTEMERROR.
	wx.Inject(wxpaytest.EndpointUnifiedOrder, 1, wxpaytest.Fault{ErrCode: wxpay.ErrCodeSystemError, Processed: true})
	_, err := c.UnifiedOrder(ctx, xOrder("R1"))
	var we *wxpay.Error
	require.ErrorAs(t, err, &we)
	require.True(t, we.Retryable())
	resp, err := c.UnifiedOrder(ctx, xOrder("R1"))
	require.NoError(t, err)
	again, err := c.UnifiedOrder(ctx, xOrder("R1"))
	require.NoError(t, err)
	assert.Equal(t, resp.PrepayID, again.PrepayID, "a retry with the same fields returns the same prepay_id")
	assert.Len(t, wx.Orders(), 1)
}

// TestFakeOrderPaid: once paid, an order can neither be placed again nor
// closed; both answers are ORDERPAID, not retryable, in WeChat's words.
func TestFakeOrderPaid(t *testing.T) {
	t.Parallel()
	wx := xFake(t)
	c := xClient(t, wxpay.SignMD5, wxpay.WithBaseURL(wx.URL))
	ctx := context.Background()
	resp, err := c.UnifiedOrder(ctx, xOrder("P1"))
	require.NoError(t, err)
	_, err = wx.Pay(wxpaytest.PayOptions{PrepayID: resp.PrepayID, NoNotify: true})
	require.NoError(t, err)

	_, err = c.UnifiedOrder(ctx, xOrder("P1"))
	xAssertClean(t, err)
	assert.Equal(t, "wxpay: unifiedorder: ORDERPAID: 该订单已支付", err.Error())
	var we *wxpay.Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, wxpay.ErrCodeOrderPaid, we.Code)
	assert.Equal(t, "该订单已支付", we.Message)
	assert.False(t, we.Retryable())

	err = c.CloseOrder(ctx, &wxpay.CloseOrderRequest{OutTradeNo: "P1"})
	xAssertClean(t, err)
	require.ErrorAs(t, err, &we)
	assert.Equal(t, "closeorder", we.Op)
	assert.Equal(t, wxpay.ErrCodeOrderPaid, we.Code)
	assert.False(t, we.Retryable())

	q, err := c.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: "P1"})
	require.NoError(t, err)
	assert.Equal(t, wxpay.TradeStateSuccess, q.TradeState)
	assert.Equal(t, int64(888), q.TotalFee)
}

// TestFakeOrderClosed: a closed order answers ORDERCLOSED to a new
// unifiedorder and to another closeorder, and reads CLOSED.
func TestFakeOrderClosed(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	wx := xFake(t, func(cfg *wxpaytest.Config) { cfg.Now = clock })
	c := xClient(t, wxpay.SignMD5, wxpay.WithBaseURL(wx.URL))
	ctx := context.Background()
	_, err := c.UnifiedOrder(ctx, xOrder("C1"))
	require.NoError(t, err)
	mu.Lock()
	now = now.Add(wxpaytest.CloseDelay + time.Minute) // WeChat refuses to close a younger order
	mu.Unlock()
	require.NoError(t, c.CloseOrder(ctx, &wxpay.CloseOrderRequest{OutTradeNo: "C1"}))

	for name, call := range map[string]func() error{
		"unifiedorder": func() error { _, err := c.UnifiedOrder(ctx, xOrder("C1")); return err },
		"closeorder":   func() error { return c.CloseOrder(ctx, &wxpay.CloseOrderRequest{OutTradeNo: "C1"}) },
	} {
		err := call()
		xAssertClean(t, err)
		var we *wxpay.Error
		require.ErrorAs(t, err, &we, name)
		assert.Equal(t, name, we.Op)
		assert.Equal(t, wxpay.ErrCodeOrderClosed, we.Code, name)
		assert.False(t, we.Retryable(), name)
	}
	q, err := c.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: "C1"})
	require.NoError(t, err)
	assert.Equal(t, wxpay.TradeStateClosed, q.TradeState)
}

// TestFakeDuplicateOrder: an out_trade_no reused with other fields is
// refused in either of the shapes WeChat answers it with.
func TestFakeDuplicateOrder(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		configured wxpay.ErrorCode
		want       wxpay.ErrorCode
		message    string
	}{
		{"", wxpay.ErrCodeInvalidRequest, "201 商户订单号重复"},
		{wxpay.ErrCodeOutTradeNoUsed, wxpay.ErrCodeOutTradeNoUsed, "商户订单号重复"},
	} {
		t.Run(string(tt.want), func(t *testing.T) {
			t.Parallel()
			wx := xFake(t, func(cfg *wxpaytest.Config) { cfg.DuplicateOrderCode = tt.configured })
			c := xClient(t, wxpay.SignMD5, wxpay.WithBaseURL(wx.URL))
			_, err := c.UnifiedOrder(context.Background(), xOrder("D1"))
			require.NoError(t, err)
			other := xOrder("D1")
			other.TotalFee = 1
			resp, err := c.UnifiedOrder(context.Background(), other)
			assert.Nil(t, resp)
			xAssertClean(t, err)
			var we *wxpay.Error
			require.ErrorAs(t, err, &we)
			assert.Equal(t, tt.want, we.Code)
			assert.Equal(t, tt.message, we.Message)
			assert.False(t, we.Retryable())
			o, _ := wx.Order("D1")
			assert.Equal(t, int64(888), o.TotalFee, "the first order stands")
		})
	}
}

// TestFakeOrderNotExist: querying an order WeChat does not know is a
// business error, not retryable.
func TestFakeOrderNotExist(t *testing.T) {
	t.Parallel()
	wx := xFake(t)
	c := xClient(t, wxpay.SignMD5, wxpay.WithBaseURL(wx.URL))
	_, err := c.OrderQuery(context.Background(), &wxpay.OrderQueryRequest{OutTradeNo: "1409811653"})
	xAssertClean(t, err)
	var we *wxpay.Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, wxpay.ErrCodeOrderNotExist, we.Code)
	assert.Equal(t, "orderquery", we.Op)
	assert.False(t, we.Retryable())
}

// TestFakeUnifiedOrderHMAC: a merchant on HMAC-SHA256 names it in
// sign_type and signs with it; the fake refuses anything else.
func TestFakeUnifiedOrderHMAC(t *testing.T) {
	t.Parallel()
	wx := xFake(t, func(cfg *wxpaytest.Config) { cfg.SignType = wxpay.SignHMACSHA256 })
	c := xClient(t, wxpay.SignHMACSHA256, wxpay.WithBaseURL(wx.URL))
	resp, err := c.UnifiedOrder(context.Background(), xOrder("H1"))
	require.NoError(t, err)
	o, ok := wx.Order("H1")
	require.True(t, ok)
	assert.Equal(t, o.PrepayID, resp.PrepayID)
	assert.Equal(t, "HMAC-SHA256", o.Request["sign_type"])
	assert.Len(t, o.Request["sign"], 64)
	assert.Equal(t, refsign.Sign(o.Request, xAPIKey, "HMAC-SHA256"), o.Request["sign"])
}
