package wxpay

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/internal/refsign"
)

func validRefund() *RefundRequest {
	return &RefundRequest{
		TransactionID: "1217752501201407033233368018",
		OutTradeNo:    "1217752501201407033233368018",
		OutRefundNo:   "1217752501201407033233368018-r1",
		TotalFee:      100,
		RefundFee:     100,
	}
}

// refundOK answers a refund as WeChat does when it accepts it.
func refundOK(req Params) Params {
	return okAnswer(Params{
		"transaction_id": req["transaction_id"], "out_trade_no": req["out_trade_no"],
		"out_refund_no": req["out_refund_no"], "refund_id": "2008450740201411110000174436",
		"refund_fee": req["refund_fee"], "total_fee": req["total_fee"], "cash_fee": req["total_fee"],
		"cash_refund_fee": req["refund_fee"], "coupon_refund_count": "1", "coupon_refund_id_0": "10000",
		"coupon_refund_fee_0": "1", "coupon_type_0": "CASH",
	})
}

// TestRefundGoldenRequest checks the wire request against an expectation
// written out by hand and signed with the plain reference signer.
func TestRefundGoldenRequest(t *testing.T) {
	t.Parallel()
	s := newMTLSServer(t, true)
	got := make(chan Params, 1)
	s.Mux.HandleFunc("/secapi/pay/refund", fakeWeChat(t, refundOK, got))
	c := s.certClient(t, WithRand(&seqReader{}))
	req := validRefund()
	req.RefundFee = 60
	req.RefundDesc = "商品已售完"
	req.RefundAccount = RefundFromRecharge
	req.NotifyURL = "https://shop.example.com/wxpay/refund"
	req.Extra = Params{"sub_mch_id": "1900000109"}
	r, err := c.Refund(context.Background(), req)
	require.NoError(t, err)
	want := map[string]string{
		"appid": testAppID, "mch_id": testMchID, "nonce_str": firstSeqNonce, "sign_type": "MD5",
		"transaction_id": "1217752501201407033233368018", "out_trade_no": "1217752501201407033233368018",
		"out_refund_no": "1217752501201407033233368018-r1", "total_fee": "100", "refund_fee": "60",
		"refund_desc": "商品已售完", "refund_account": "REFUND_SOURCE_RECHARGE_FUNDS",
		"notify_url": "https://shop.example.com/wxpay/refund", "sub_mch_id": "1900000109",
	}
	want["sign"] = refsign.Sign(want, testKey, "MD5")
	assert.Equal(t, Params(want), <-got)

	assert.Equal(t, "2008450740201411110000174436", r.RefundID)
	assert.EqualValues(t, 60, r.RefundFee)
	assert.EqualValues(t, 100, r.TotalFee)
	assert.Equal(t, NullFen{60, true}, r.CashRefundFee)
	assert.Equal(t, []CouponRefund{{ID: "10000", Type: CouponCash, Fee: 1}}, r.Coupons)
	assert.Empty(t, r.Unparsed)
}

func TestRefundValidation(t *testing.T) {
	t.Parallel()
	c, _, ts := setup(t)
	cases := []struct {
		name, field string
		mod         func(r *RefundRequest)
	}{
		{"no order", "out_trade_no", func(r *RefundRequest) { r.TransactionID, r.OutTradeNo = "", "" }},
		{"bad transaction_id", "transaction_id", func(r *RefundRequest) { r.TransactionID = "42-00" }},
		{"long out_trade_no", "out_trade_no", func(r *RefundRequest) { r.OutTradeNo = strings.Repeat("1", 33) }},
		{"no out_refund_no", "out_refund_no", func(r *RefundRequest) { r.OutRefundNo = "" }},
		{"long out_refund_no", "out_refund_no", func(r *RefundRequest) { r.OutRefundNo = strings.Repeat("r", 65) }},
		{"bad out_refund_no", "out_refund_no", func(r *RefundRequest) { r.OutRefundNo = "r 1" }},
		{"zero refund", "refund_fee", func(r *RefundRequest) { r.RefundFee = 0 }},
		{"negative refund", "refund_fee", func(r *RefundRequest) { r.RefundFee = -1 }},
		{"refund above total", "refund_fee", func(r *RefundRequest) { r.RefundFee = 101 }},
		{"zero total", "total_fee", func(r *RefundRequest) { r.TotalFee = 0 }},
		{"long desc", "refund_desc", func(r *RefundRequest) { r.RefundDesc = strings.Repeat("退", 81) }},
		{"bad account", "refund_account", func(r *RefundRequest) { r.RefundAccount = "MINE" }},
		{"notify with query", "notify_url", func(r *RefundRequest) { r.NotifyURL = "https://a.example/n?x=1" }},
		{"extra overrides", "refund_fee", func(r *RefundRequest) { r.Extra = Params{"refund_fee": "1"} }},
		{"extra reserved", "sign", func(r *RefundRequest) { r.Extra = Params{"sign": "x"} }},
	}
	for _, tc := range cases {
		r := validRefund()
		tc.mod(r)
		_, err := c.Refund(context.Background(), r)
		var re *RequestError
		require.ErrorAs(t, err, &re, tc.name)
		assert.Equal(t, tc.field, re.Field, tc.name)
		assert.Equal(t, "refund", re.Op, tc.name)
	}
	r := validRefund()
	r.RefundDesc = strings.Repeat("退", 80) // 80 characters is fine
	_, err := c.Refund(context.Background(), r)
	var re *RequestError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "client certificate", re.Field, "passes validation, stopped only by the missing certificate")
	_, err = c.Refund(context.Background(), nil)
	require.ErrorAs(t, err, &re)
	assert.EqualValues(t, 0, ts.Hits.Load(), "validation makes no request")
}

// TestRefundErrorCodes runs every documented err_code through the client.
func TestRefundErrorCodes(t *testing.T) {
	t.Parallel()
	s := newMTLSServer(t, true)
	var mu sync.Mutex
	code := ""
	s.Mux.HandleFunc("/secapi/pay/refund", fakeWeChat(t, func(Params) Params {
		mu.Lock()
		defer mu.Unlock()
		return okAnswer(Params{"result_code": "FAIL", "err_code": code, "err_code_des": "描述"})
	}, nil))
	c := s.certClient(t)
	for _, tc := range []struct {
		code      ErrorCode
		retryable bool
	}{
		{ErrCodeSystemError, true}, {ErrCodeBizErrNeedRetry, true}, {ErrCodeFrequencyLimited, true},
		{ErrCodeTradeOverdue, false}, {ErrCodeError, false}, {ErrCodeUserAccountAbnormal, false},
		{ErrCodeInvalidReqTooMuch, false}, {ErrCodeNotEnough, false}, {ErrCodeInvalidTransactionID, false},
		{ErrCodeParamError, false}, {ErrCodeAppIDNotExist, false}, {ErrCodeMchIDNotExist, false},
		{ErrCodeOrderNotExist, false}, {ErrCodeRequirePostMethod, false}, {ErrCodeSignError, false},
		{ErrCodeXMLFormatError, false},
	} {
		mu.Lock()
		code = string(tc.code)
		mu.Unlock()
		_, err := c.Refund(context.Background(), validRefund())
		var we *Error
		require.ErrorAs(t, err, &we, tc.code)
		assert.Equal(t, tc.code, we.Code)
		assert.Equal(t, tc.retryable, Retryable(err), tc.code)
		assert.Equal(t, tc.retryable, strings.Contains(err.Error(), "same out_refund_no"), "%s: %v", tc.code, err)
		assertClean(t, err)
	}
}

func TestRefundAnswerMustMatch(t *testing.T) {
	t.Parallel()
	s := newMTLSServer(t, true)
	var mu sync.Mutex
	var tweak func(Params)
	s.Mux.HandleFunc("/secapi/pay/refund", fakeWeChat(t, func(req Params) Params {
		a := refundOK(req)
		mu.Lock()
		tweak(a)
		mu.Unlock()
		return a
	}, nil))
	c := s.certClient(t)
	for _, tc := range []struct {
		name, field string
		tweak       func(Params)
	}{
		{"other refund", "out_refund_no", func(a Params) { a["out_refund_no"] = "other" }},
		{"other order", "out_trade_no", func(a Params) { a["out_trade_no"] = "other" }},
		{"other amount", "refund_fee", func(a Params) { a["refund_fee"] = "99" }},
		{"other order amount", "total_fee", func(a Params) { a["total_fee"] = "1000" }},
		{"loose amount", "refund_fee", func(a Params) { a["refund_fee"] = "0100" }},
		{"no refund_id", "refund_id", func(a Params) { delete(a, "refund_id") }},
	} {
		mu.Lock()
		tweak = tc.tweak
		mu.Unlock()
		_, err := c.Refund(context.Background(), validRefund())
		var fe *FieldError
		require.ErrorAs(t, err, &fe, tc.name)
		assert.Equal(t, tc.field, fe.Field, tc.name)
	}
	// Coupons are informational: a broken list is reported, not fatal.
	mu.Lock()
	tweak = func(a Params) { delete(a, "coupon_refund_fee_0") }
	mu.Unlock()
	r, err := c.Refund(context.Background(), validRefund())
	require.NoError(t, err)
	assert.Nil(t, r.Coupons)
	assert.Equal(t, []string{"coupon_refund_count"}, r.Unparsed)
}

// refundFake plays WeChat's refund rules: out_refund_no is idempotent,
// the refunds of an order never exceed what was paid, and it can answer
// SYSTEMERROR or stall after it has refunded, as a failing WeChat can.
type refundFake struct {
	t        *testing.T
	mu       sync.Mutex
	paid     map[string]int64   // out_trade_no → total_fee
	refunds  map[string]Params  // out_refund_no → the request that refunded
	refunded map[string]int64   // out_trade_no → sum refunded
	after    func(n int) string // what to do after the n-th new refund: "", "SYSTEMERROR" or "stall"
	stall    chan struct{}
	newCount int
}

func newRefundFake(t *testing.T, s *mtlsServer) *refundFake {
	f := &refundFake{t: t, paid: map[string]int64{"1217752501201407033233368018": 100},
		refunds: map[string]Params{}, refunded: map[string]int64{}, stall: make(chan struct{})}
	s.Mux.HandleFunc("/secapi/pay/refund", f.serve)
	t.Cleanup(func() { close(f.stall) })
	return f
}

func (f *refundFake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, err := DecodeXML(body)
	if err != nil || req["sign"] != refsign.Sign(req, testKey, req["sign_type"]) {
		f.t.Errorf("refund request not signed as WeChat expects: %v", err)
		return
	}
	answer, action := f.decide(req)
	if action == "stall" {
		select {
		case <-r.Context().Done():
		case <-f.stall:
		}
		return
	}
	writeSigned(f.t, w, testKey, SignMD5, answer)
}

func (f *refundFake) decide(req Params) (Params, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := func(code, des string) Params {
		return okAnswer(Params{"result_code": "FAIL", "err_code": code, "err_code_des": des})
	}
	no := req["out_refund_no"]
	if prev, ok := f.refunds[no]; ok {
		if prev["refund_fee"] != req["refund_fee"] || prev["out_trade_no"] != req["out_trade_no"] {
			return fail("INVALID_REQUEST", "退款单号已使用，参数不一致"), ""
		}
		return refundOK(req), "" // the first outcome, again
	}
	order := req["out_trade_no"]
	total, ok := f.paid[order]
	if !ok {
		return fail("ORDERNOTEXIST", "订单不存在"), ""
	}
	fee, _ := strconv.ParseInt(req["refund_fee"], 10, 64)
	if f.refunded[order]+fee > total {
		return fail("ERROR", "订单已全额退款"), ""
	}
	f.refunded[order] += fee
	f.refunds[no] = req
	f.newCount++
	switch act := f.after(f.newCount); act {
	case "SYSTEMERROR":
		return fail("SYSTEMERROR", "系统超时"), ""
	case "stall":
		return nil, act
	}
	return refundOK(req), ""
}

func (f *refundFake) totals() (refunds int, sum int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.refunds), f.refunded["1217752501201407033233368018"]
}

// TestRefundRetryAfterSystemError: WeChat refunded but answered
// SYSTEMERROR; the retry with the same out_refund_no gets the refund and
// nothing is refunded twice.
func TestRefundRetryAfterSystemError(t *testing.T) {
	t.Parallel()
	s := newMTLSServer(t, true)
	f := newRefundFake(t, s)
	f.after = func(n int) string { return map[int]string{1: "SYSTEMERROR"}[n] }
	c := s.certClient(t)
	req := validRefund()
	_, err := c.Refund(context.Background(), req)
	var we *Error
	require.ErrorAs(t, err, &we)
	require.Equal(t, ErrCodeSystemError, we.Code)
	require.True(t, Retryable(err))
	assert.Contains(t, err.Error(), "same out_refund_no")

	r, err := c.Refund(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, req.OutRefundNo, r.OutRefundNo)
	n, sum := f.totals()
	assert.Equal(t, 1, n)
	assert.EqualValues(t, 100, sum)
}

// TestRefundRetryAfterLostAnswer: the answer never came back (the
// caller's deadline passed); the error says the outcome is unknown and
// names out_refund_no, and the retry refunds once.
func TestRefundRetryAfterLostAnswer(t *testing.T) {
	t.Parallel()
	s := newMTLSServer(t, true)
	f := newRefundFake(t, s)
	f.after = func(n int) string { return map[int]string{1: "stall"}[n] }
	c := s.certClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.Refund(ctx, validRefund())
	var oe *OutcomeUnknownError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "out_refund_no", oe.Key)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.True(t, Retryable(err))
	assert.Contains(t, err.Error(), "retry with the same out_refund_no")
	assertClean(t, err)

	_, err = c.Refund(context.Background(), validRefund())
	require.NoError(t, err)
	n, sum := f.totals()
	assert.Equal(t, 1, n)
	assert.EqualValues(t, 100, sum)
}

// TestRefundConcurrentFullRefunds: two full refunds of one order under
// different refund numbers race; WeChat (the fake) refunds one, and the
// other fails with a final error.
func TestRefundConcurrentFullRefunds(t *testing.T) {
	t.Parallel()
	s := newMTLSServer(t, true)
	f := newRefundFake(t, s)
	f.after = func(int) string { return "" }
	c := s.certClient(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := validRefund()
			r.OutRefundNo = "full-" + strconv.Itoa(i)
			_, errs[i] = c.Refund(context.Background(), r)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		var we *Error
		require.ErrorAs(t, err, &we)
		assert.Equal(t, ErrCodeError, we.Code)
		assert.False(t, Retryable(err))
	}
	assert.Equal(t, 1, ok)
	n, sum := f.totals()
	assert.Equal(t, 1, n)
	assert.EqualValues(t, 100, sum)
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	assert.False(t, Retryable(nil))
	assert.False(t, Retryable(&RequestError{Op: "refund"}))
	assert.False(t, Retryable(errors.New("x")))
	assert.False(t, Retryable(&opError{"refund", context.Canceled}))
	assert.True(t, Retryable(&Error{Code: ErrCodeBizErrNeedRetry}))
	assert.True(t, Retryable(&Error{StatusCode: 502}))
	assert.True(t, Retryable(&OutcomeUnknownError{Op: "refund", Key: "out_refund_no", Err: io.ErrUnexpectedEOF}))
	assert.False(t, Retryable(&opError{"refund", ErrSignature}))
}
