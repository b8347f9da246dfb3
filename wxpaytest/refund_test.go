package wxpaytest_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
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

// tlsFake starts a TLS fake for cfg and returns it with a wxpay client
// that presents the merchant's certificate.
func tlsFake(t *testing.T, cfg wxpaytest.Config) (*wxpaytest.Server, *wxpay.Client) {
	t.Helper()
	s := wxpaytest.NewTLSServer(cfg)
	t.Cleanup(s.Close)
	c, err := wxpay.NewClient(wxpay.Config{AppID: cfg.AppID, MchID: cfg.MchID, APIKey: cfg.APIKey, SignType: cfg.SignType, NotifyURL: "https://example.com/notify"},
		s.ClientOption())
	require.NoError(t, err)
	return s, c
}

// ClientOption alone connects a client to either server: an order, its
// payment and a refund (a certificate endpoint) go through.
func TestServerClientOption(t *testing.T) {
	t.Parallel()
	for name, start := range map[string]func(wxpaytest.Config) *wxpaytest.Server{
		"TLS": wxpaytest.NewTLSServer, "plain": wxpaytest.NewServer,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.RefundImmediately = true
			s := start(cfg)
			t.Cleanup(s.Close)
			c, err := wxpay.NewClient(wxpay.Config{AppID: cfg.AppID, MchID: cfg.MchID, APIKey: cfg.APIKey, NotifyURL: "https://example.com/notify"},
				s.ClientOption())
			require.NoError(t, err)
			ctx := context.Background()
			_, err = c.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{Body: "tea", OutTradeNo: "opt-1", TotalFee: 100,
				SpbillCreateIP: "127.0.0.1", TradeType: wxpay.TradeJSAPI, OpenID: "oUser1"})
			require.NoError(t, err)
			_, err = s.Pay(wxpaytest.PayOptions{OutTradeNo: "opt-1", NoNotify: true})
			require.NoError(t, err)
			r, err := c.Refund(ctx, &wxpay.RefundRequest{OutTradeNo: "opt-1", OutRefundNo: "opt-r1", TotalFee: 100, RefundFee: 100})
			require.NoError(t, err)
			assert.EqualValues(t, 100, r.RefundFee)
		})
	}
}

// certHTTPClient is s's client presenting certPEM/keyPEM (none when nil).
func certHTTPClient(t *testing.T, s *wxpaytest.Server, certPEM, keyPEM []byte) *http.Client {
	t.Helper()
	tr := s.Client().Transport.(*http.Transport).Clone()
	if certPEM != nil {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		require.NoError(t, err)
		tr.TLSClientConfig.Certificates = []tls.Certificate{pair}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// wire signs p for the test merchant with the plain reference signature
// (internal/refsign), not the library's signer.
func wire(t testing.TB, p wxpay.Params, key string) []byte {
	t.Helper()
	q := wxpay.Params{"appid": testAppID, "mch_id": testMchID, "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"}
	for k, v := range p {
		q[k] = v
	}
	q["sign"] = refsign.Sign(q, key, q["sign_type"])
	b, err := wxpay.EncodeXML(q)
	require.NoError(t, err)
	return b
}

// call posts body to path with hc and returns the status and decoded
// answer (nil when not XML), checking the sign of SUCCESS answers with
// refsign.
func call(t testing.TB, hc *http.Client, url string, body []byte, key string) (int, wxpay.Params, []byte) {
	t.Helper()
	resp, err := hc.Post(url, "text/xml", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	p, err := wxpay.DecodeXML(b)
	if err != nil {
		return resp.StatusCode, nil, b
	}
	if p["return_code"] == "SUCCESS" && p["sign"] != "" {
		algo := "MD5"
		if len(p["sign"]) == 64 {
			algo = "HMAC-SHA256"
		}
		require.Equal(t, refsign.Sign(p, key, algo), p["sign"], "answer sign")
	}
	return resp.StatusCode, p, b
}

// paidOrder places a JSAPI order of fee fen through c and pays it.
func paidOrder(t *testing.T, s *wxpaytest.Server, c *wxpay.Client, no string, fee int64, coupons ...wxpay.Coupon) *wxpaytest.Order {
	t.Helper()
	_, err := c.UnifiedOrder(ctxT(t), jsapiOrder(no, fee))
	require.NoError(t, err)
	o, err := s.Pay(wxpaytest.PayOptions{OutTradeNo: no, Coupons: coupons, NoNotify: true})
	require.NoError(t, err)
	return o
}

func refundReq(no, refundNo string, total, fee int64) *wxpay.RefundRequest {
	return &wxpay.RefundRequest{OutTradeNo: no, OutRefundNo: refundNo, TotalFee: total, RefundFee: fee}
}

func TestRefundWire(t *testing.T) {
	cfg := testConfig()
	cfg.RefundImmediately = true
	s, c := tlsFake(t, cfg)
	certPEM, keyPEM, err := s.ClientCertificate()
	require.NoError(t, err)
	hc := certHTTPClient(t, s, certPEM, keyPEM)
	paid := paidOrder(t, s, c, "wire-1", 100)
	_, err = c.UnifiedOrder(ctxT(t), jsapiOrder("wire-unpaid", 100))
	require.NoError(t, err)
	url := s.URL + string(wxpaytest.EndpointRefund)
	refund := func(otn, orn, total, fee string) wxpay.Params {
		_, p, raw := call(t, hc, url, wire(t, wxpay.Params{"out_trade_no": otn, "out_refund_no": orn, "total_fee": total, "refund_fee": fee}, testKey), testKey)
		require.NotNil(t, p, "%s", raw)
		return p
	}

	first := refund("wire-1", "r1", "100", "30")
	require.Equal(t, "SUCCESS", first["result_code"], first)
	assert.Equal(t, paid.TransactionID, first["transaction_id"])
	assert.Equal(t, "r1", first["out_refund_no"])
	assert.Equal(t, "30", first["refund_fee"])
	assert.Equal(t, "100", first["total_fee"])
	assert.Equal(t, "30", first["cash_refund_fee"])
	assert.Len(t, first["refund_id"], 29)

	// The same out_refund_no and amounts: the same refund, not another.
	again := refund("wire-1", "r1", "100", "30")
	assert.Equal(t, first["refund_id"], again["refund_id"])
	refunds := s.Refunds("wire-1")
	require.Len(t, refunds, 1)
	assert.Equal(t, wxpaytest.RefundSuccess, refunds[0].Status)

	cases := []struct {
		name, otn, orn, total, fee string
		code, des                  string // err_code, err_code_des
		returnMsg                  string // or return_code FAIL
	}{
		{name: "same out_refund_no, other amount", otn: "wire-1", orn: "r1", total: "100", fee: "31", code: "REFUND_FEE_MISMATCH", des: "订单金额或退款金额与之前请求不一致,请核实后再试"},
		{name: "total_fee not the order's", otn: "wire-1", orn: "r2", total: "99", fee: "10", code: "REFUND_FEE_MISMATCH"},
		{name: "more than is left", otn: "wire-1", orn: "r2", total: "100", fee: "71", code: "INVALID_REQUEST", des: "refund_fee大于可退金额"},
		{name: "unpaid order", otn: "wire-unpaid", orn: "r3", total: "100", fee: "10", code: "ORDERNOTEXIST"},
		{name: "unknown order", otn: "wire-none", orn: "r4", total: "100", fee: "10", code: "ORDERNOTEXIST"},
		{name: "refund above total", otn: "wire-1", orn: "r5", total: "100", fee: "101", returnMsg: "invalid refund_fee"},
		{name: "zero refund", otn: "wire-1", orn: "r5", total: "100", fee: "0", returnMsg: "invalid refund_fee"},
		{name: "bad out_refund_no", otn: "wire-1", orn: "r 5", total: "100", fee: "1", returnMsg: "out_refund_no参数格式错误"},
		{name: "no out_refund_no", otn: "wire-1", orn: "", total: "100", fee: "1", returnMsg: "缺少参数out_refund_no"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := refund(tc.otn, tc.orn, tc.total, tc.fee)
			if tc.returnMsg != "" {
				assert.Equal(t, wxpay.Params{"return_code": "FAIL", "return_msg": tc.returnMsg}, p)
				return
			}
			assert.Equal(t, "FAIL", p["result_code"])
			assert.Equal(t, tc.code, p["err_code"])
			if tc.des != "" {
				assert.Equal(t, tc.des, p["err_code_des"])
			}
		})
	}
	// The rest, then nothing is left.
	require.Equal(t, "SUCCESS", refund("wire-1", "r6", "100", "70")["result_code"])
	full := refund("wire-1", "r7", "100", "1")
	assert.Equal(t, "ERROR", full["err_code"])
	assert.Equal(t, "订单已全额退款", full["err_code_des"])
	require.Len(t, s.Refunds("wire-1"), 2, "refused refunds leave no trace")

	// orderquery now reports REFUND.
	_, q, _ := call(t, hc, s.URL+"/pay/orderquery", wire(t, wxpay.Params{"out_trade_no": "wire-1"}, testKey), testKey)
	assert.Equal(t, "REFUND", q["trade_state"])
	o, err := c.OrderQuery(ctxT(t), &wxpay.OrderQueryRequest{OutTradeNo: "wire-1"})
	require.NoError(t, err)
	assert.Equal(t, wxpay.TradeStateRefund, o.TradeState)
}

func TestRefundClientCertificate(t *testing.T) {
	s, c := tlsFake(t, testConfig())
	paidOrder(t, s, c, "cert-1", 100)
	body := wire(t, wxpay.Params{"out_trade_no": "cert-1", "out_refund_no": "c1", "total_fee": "100", "refund_fee": "1"}, testKey)
	url := s.URL + string(wxpaytest.EndpointRefund)

	// No certificate: the gateway's 400 page.
	st, p, raw := call(t, certHTTPClient(t, s, nil, nil), url, body, testKey)
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Nil(t, p)
	assert.Contains(t, string(raw), "No required SSL certificate was sent")

	// A certificate the fake did not issue.
	other := wxpaytest.NewTLSServer(testConfig())
	defer other.Close()
	foreignCert, foreignKey, err := other.ClientCertificate()
	require.NoError(t, err)
	st, _, raw = call(t, certHTTPClient(t, s, foreignCert, foreignKey), url, body, testKey)
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Contains(t, string(raw), "The SSL certificate error")

	// Another merchant's certificate from the right authority.
	mcert, mkey, err := s.OtherMerchantCertificate("10000999")
	require.NoError(t, err)
	_, p, _ = call(t, certHTTPClient(t, s, mcert, mkey), url, body, testKey)
	assert.Equal(t, wxpay.Params{"return_code": "FAIL", "return_msg": "certificate not match"}, p)
	_, _, err = s.OtherMerchantCertificate(testMchID)
	assert.Error(t, err)

	assert.Empty(t, s.Refunds("cert-1"), "no refused request refunds")

	// Through the library: no certificate configured fails before any
	// I/O; a mismatched one fails with WeChat's answer.
	plain := newClient(t, s, "", "")
	_, err = plain.Refund(ctxT(t), refundReq("cert-1", "c1", 100, 1))
	var reqErr *wxpay.RequestError
	require.ErrorAs(t, err, &reqErr)

	wrong, err := wxpay.NewClient(wxpay.Config{AppID: testAppID, MchID: testMchID, APIKey: testKey},
		wxpay.WithBaseURL(s.URL), wxpay.WithHTTPClient(s.Client()), wxpay.WithClientCertificate(mcert, mkey))
	require.NoError(t, err)
	_, err = wrong.Refund(ctxT(t), refundReq("cert-1", "c1", 100, 1))
	var we *wxpay.Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, "FAIL", we.ReturnCode)
	assert.Equal(t, "certificate not match", we.ReturnMsg)

	foreign, err := wxpay.NewClient(wxpay.Config{AppID: testAppID, MchID: testMchID, APIKey: testKey},
		wxpay.WithBaseURL(s.URL), wxpay.WithHTTPClient(s.Client()), wxpay.WithClientCertificate(foreignCert, foreignKey))
	require.NoError(t, err)
	_, err = foreign.Refund(ctxT(t), refundReq("cert-1", "c1", 100, 1))
	require.ErrorAs(t, err, &we)
	assert.Equal(t, http.StatusBadRequest, we.StatusCode)

	// The merchant's own certificate refunds.
	r, err := c.Refund(ctxT(t), refundReq("cert-1", "c1", 100, 1))
	require.NoError(t, err)
	assert.Equal(t, int64(1), r.RefundFee)

	// Endpoints without the certificate requirement ignore its absence.
	_, err = plain.OrderQuery(ctxT(t), &wxpay.OrderQueryRequest{OutTradeNo: "cert-1"})
	require.NoError(t, err)
}

func TestRefundRetryAfterSystemError(t *testing.T) {
	for _, code := range []wxpay.ErrorCode{wxpay.ErrCodeSystemError, wxpay.ErrCodeBizErrNeedRetry} {
		t.Run(string(code), func(t *testing.T) {
			s, c := tlsFake(t, testConfig())
			paidOrder(t, s, c, "retry-1", 100)
			// WeChat refunded but the answer said SYSTEMERROR.
			s.Inject(wxpaytest.EndpointRefund, 1, wxpaytest.Fault{ErrCode: code, Processed: true})
			req := refundReq("retry-1", "rr-1", 100, 100)
			_, err := c.Refund(ctxT(t), req)
			e := requireCode(t, err, code)
			assert.True(t, e.Retryable())
			assert.True(t, wxpay.Retryable(err))
			assert.Contains(t, err.Error(), "out_refund_no")
			require.Len(t, s.Refunds("retry-1"), 1, "the refund was made")

			r, err := c.Refund(ctxT(t), req)
			require.NoError(t, err)
			refunds := s.Refunds("retry-1")
			require.Len(t, refunds, 1, "refunded once")
			assert.Equal(t, refunds[0].RefundID, r.RefundID)
		})
	}
	t.Run("not processed", func(t *testing.T) {
		s, c := tlsFake(t, testConfig())
		paidOrder(t, s, c, "retry-2", 100)
		s.FailNext(wxpaytest.EndpointRefund, wxpay.ErrCodeSystemError)
		_, err := c.Refund(ctxT(t), refundReq("retry-2", "rr-2", 100, 100))
		requireCode(t, err, wxpay.ErrCodeSystemError)
		assert.Empty(t, s.Refunds("retry-2"))
		_, err = c.Refund(ctxT(t), refundReq("retry-2", "rr-2", 100, 100))
		require.NoError(t, err)
		assert.Len(t, s.Refunds("retry-2"), 1)
	})
}

func TestConcurrentFullRefunds(t *testing.T) {
	s, c := tlsFake(t, testConfig())
	paidOrder(t, s, c, "conc-1", 500)
	paidOrder(t, s, c, "conc-2", 500)
	run := func(refundNo func(i int) string, otn string) []error {
		errs := make([]error, 8)
		ids := make([]string, 8)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := c.Refund(ctxT(t), refundReq(otn, refundNo(i), 500, 500))
				errs[i] = err
				if err == nil {
					ids[i] = r.RefundID
				}
			}()
		}
		wg.Wait()
		return errs
	}
	// Different refund numbers: one refund, the others told it is all
	// refunded.
	errs := run(func(i int) string { return "conc-1-" + strconv.Itoa(i) }, "conc-1")
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		e := requireCode(t, err, "ERROR")
		assert.Equal(t, "订单已全额退款", e.Message)
	}
	assert.Equal(t, 1, ok)
	require.Len(t, s.Refunds("conc-1"), 1)
	// The same refund number: every call succeeds, with one refund.
	for _, err := range run(func(int) string { return "conc-2-r" }, "conc-2") {
		require.NoError(t, err)
	}
	require.Len(t, s.Refunds("conc-2"), 1)
}

func TestRefundLimit(t *testing.T) {
	s, c := tlsFake(t, testConfig())
	paidOrder(t, s, c, "limit-1", 1000)
	for i := range wxpaytest.MaxRefunds {
		_, err := c.Refund(ctxT(t), refundReq("limit-1", "lim-"+strconv.Itoa(i), 1000, 1))
		require.NoError(t, err)
	}
	_, err := c.Refund(ctxT(t), refundReq("limit-1", "lim-x", 1000, 1))
	requireCode(t, err, "ERROR")
	assert.Len(t, s.Refunds("limit-1"), wxpaytest.MaxRefunds)
}

func TestRefundQuery(t *testing.T) {
	cfg := testConfig()
	s, c := tlsFake(t, cfg)
	coupons := []wxpay.Coupon{{ID: "10000", Type: wxpay.CouponCash, Fee: 100}, {ID: "10001", Type: wxpay.CouponNoCash, Fee: 200}}
	paid := paidOrder(t, s, c, "rq-1", 1000, coupons...)
	for i := range 12 {
		_, err := c.Refund(ctxT(t), refundReq("rq-1", fmt.Sprintf("rq-1-%02d", i), 1000, 50))
		require.NoError(t, err)
	}
	// Processing until Config.RefundDelay passes (a real minute here).
	page, err := c.RefundQuery(ctxT(t), &wxpay.RefundQueryRequest{OutTradeNo: "rq-1"})
	require.NoError(t, err)
	assert.Equal(t, 12, page.TotalRefundCount)
	require.Len(t, page.Refunds, 10)
	assert.Equal(t, int64(1000), page.TotalFee)
	assert.Equal(t, paid.TransactionID, page.TransactionID)
	for i, r := range page.Refunds {
		assert.Equal(t, fmt.Sprintf("rq-1-%02d", i), r.OutRefundNo)
		assert.Equal(t, wxpay.RefundProcessing, r.Status)
		assert.Equal(t, int64(50), r.RefundFee)
		// 50 of 1000 refunds 5 of the 100 coupon and 10 of the 200 one.
		require.Len(t, r.Coupons, 2)
		assert.Equal(t, wxpay.CouponRefund{ID: "10000", Type: wxpay.CouponCash, Fee: 5}, r.Coupons[0])
		assert.Equal(t, wxpay.CouponRefund{ID: "10001", Type: wxpay.CouponNoCash, Fee: 10}, r.Coupons[1])
		assert.Equal(t, int64(40), r.SettlementRefundFee.Fen)
	}
	next, err := c.RefundQuery(ctxT(t), &wxpay.RefundQueryRequest{OutTradeNo: "rq-1", Offset: 10})
	require.NoError(t, err)
	require.Len(t, next.Refunds, 2)
	assert.Equal(t, "rq-1-10", next.Refunds[0].OutRefundNo)
	assert.Equal(t, 12, next.TotalRefundCount)

	_, err = c.RefundQuery(ctxT(t), &wxpay.RefundQueryRequest{OutTradeNo: "rq-1", Offset: 12})
	requireCode(t, err, "PARAM_ERROR")

	one, err := c.RefundQuery(ctxT(t), &wxpay.RefundQueryRequest{OutRefundNo: "rq-1-03"})
	require.NoError(t, err)
	require.Len(t, one.Refunds, 1)
	byID, err := c.RefundQuery(ctxT(t), &wxpay.RefundQueryRequest{RefundID: one.Refunds[0].RefundID})
	require.NoError(t, err)
	assert.Equal(t, "rq-1-03", byID.Refunds[0].OutRefundNo)
	byTxn, err := c.RefundQuery(ctxT(t), &wxpay.RefundQueryRequest{TransactionID: paid.TransactionID})
	require.NoError(t, err)
	assert.Len(t, byTxn.Refunds, 10)

	for _, req := range []*wxpay.RefundQueryRequest{{OutRefundNo: "nope"}, {RefundID: "50000000000000000000000000000"}, {OutTradeNo: "no-such-order"}} {
		_, err = c.RefundQuery(ctxT(t), req)
		requireCode(t, err, "REFUNDNOTEXIST")
	}
	// An order without refunds has none to list.
	paidOrder(t, s, c, "rq-2", 100)
	_, err = c.RefundQuery(ctxT(t), &wxpay.RefundQueryRequest{OutTradeNo: "rq-2"})
	requireCode(t, err, "REFUNDNOTEXIST")

	// Wire level: the two-level indexed fields and their sign.
	hc := certHTTPClient(t, s, nil, nil)
	_, p, _ := call(t, hc, s.URL+"/pay/refundquery", wire(t, wxpay.Params{"out_refund_no": "rq-1-11"}, testKey), testKey)
	assert.Equal(t, "1", p["refund_count"])
	assert.Equal(t, "rq-1-11", p["out_refund_no_0"])
	assert.Equal(t, "PROCESSING", p["refund_status_0"])
	assert.Equal(t, "2", p["coupon_refund_count_0"])
	assert.Equal(t, "10001", p["coupon_refund_id_0_1"])
	assert.Equal(t, "NO_CASH", p["coupon_type_0_1"])
	assert.Equal(t, "15", p["coupon_refund_fee_0"])
	assert.Empty(t, p["total_refund_count"], "no offset, one refund")
	_, p, _ = call(t, hc, s.URL+"/pay/refundquery", wire(t, wxpay.Params{"out_trade_no": "rq-1", "offset": "x"}, testKey), testKey)
	assert.Equal(t, "PARAM_ERROR", p["err_code"])

	// Settling by hand: success time, and a closed refund frees its
	// amount.
	require.NoError(t, s.SettleRefund("rq-1-00", ""))
	require.NoError(t, s.SettleRefund("rq-1-01", wxpaytest.RefundClosed))
	require.ErrorIs(t, s.SettleRefund("rq-1-01", ""), wxpaytest.ErrRefundSettled)
	require.ErrorIs(t, s.SettleRefund("nope", ""), wxpaytest.ErrNoRefund)
	require.Error(t, s.SettleRefund("rq-1-02", "DONE"))
	page, err = c.RefundQuery(ctxT(t), &wxpay.RefundQueryRequest{OutTradeNo: "rq-1"})
	require.NoError(t, err)
	assert.Equal(t, wxpay.RefundSuccess, page.Refunds[0].Status)
	assert.False(t, page.Refunds[0].SuccessTime.IsZero())
	assert.Equal(t, wxpay.RefundClosed, page.Refunds[1].Status)
	_, err = c.Refund(ctxT(t), refundReq("rq-1", "rq-1-rest", 1000, 1000-11*50))
	require.NoError(t, err, "the closed refund's 50 can be refunded again")
}

func TestRefundSettlesOnTheClock(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.Now = clk.Now
	cfg.RefundDelay = 10 * time.Minute
	s, c := tlsFake(t, cfg)
	paidOrder(t, s, c, "clock-1", 100)
	_, err := c.Refund(ctxT(t), refundReq("clock-1", "clk-1", 100, 100))
	require.NoError(t, err)
	r, ok := s.Refund("clk-1")
	require.True(t, ok)
	assert.Equal(t, wxpaytest.RefundProcessing, r.Status)
	clk.Add(10 * time.Minute)
	r, _ = s.Refund("clk-1")
	assert.Equal(t, wxpaytest.RefundSuccess, r.Status)
	assert.Equal(t, clk.Now(), r.SuccessTime)
	q, err := c.RefundQuery(ctxT(t), &wxpay.RefundQueryRequest{OutRefundNo: "clk-1"})
	require.NoError(t, err)
	assert.Equal(t, wxpay.RefundSuccess, q.Refunds[0].Status)
}

func TestRefundNotification(t *testing.T) {
	ns := newNotifyServer(t)
	cfg := testConfig()
	cfg.Speed = 1000 // the 15 s retries take 15 ms
	cfg.RefundDelay = time.Second
	cfg.RefundNotifyURL = ns.URL + "/default"
	s, c := tlsFake(t, cfg)
	paidOrder(t, s, c, "rn-1", 300, wxpay.Coupon{ID: "c1", Type: wxpay.CouponNoCash, Fee: 30})

	var mu sync.Mutex
	var got []*wxpay.RefundNotification
	var calls int
	ns.set(c.RefundNotifyHandler(func(_ context.Context, n *wxpay.RefundNotification) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		got = append(got, n)
		return nil
	}, wxpay.SkipRefundQuery())) // the notification as the fake sent it; TestRefundNotificationConfirmedByDefault confirms it
	_, err := c.Refund(ctxT(t), &wxpay.RefundRequest{OutTradeNo: "rn-1", OutRefundNo: "rn-r1", TotalFee: 300, RefundFee: 100,
		RefundAccount: wxpay.RefundFromRecharge})
	require.NoError(t, err)
	require.NoError(t, s.WaitRefundAcked(ctxT(t), "rn-r1"))

	r, _ := s.Refund("rn-r1")
	mu.Lock()
	require.Len(t, got, 1)
	n := got[0]
	mu.Unlock()
	assert.Equal(t, r.TransactionID, n.TransactionID)
	assert.Equal(t, "rn-1", n.OutTradeNo)
	assert.Equal(t, r.RefundID, n.RefundID)
	assert.Equal(t, "rn-r1", n.OutRefundNo)
	assert.Equal(t, int64(300), n.TotalFee)
	assert.Equal(t, int64(270), n.SettlementTotalFee)
	assert.Equal(t, int64(100), n.RefundFee)
	assert.Equal(t, int64(90), n.SettlementRefundFee)
	assert.Equal(t, wxpay.RefundSuccess, n.RefundStatus)
	assert.True(t, n.SuccessTime.Equal(r.SuccessTime.Truncate(time.Second)))
	assert.Equal(t, "支付用户零钱", n.RefundRecvAccount)
	assert.Equal(t, wxpay.RefundFromRecharge, n.RefundAccount)
	assert.Equal(t, "API", n.RefundRequestSource)
	assert.Equal(t, testAppID, n.AppID)

	ds := s.RefundDeliveries("rn-r1")
	require.Len(t, ds, 3, "two refused, the third acknowledged")
	for i, d := range ds {
		assert.Equal(t, i+1, d.Attempt)
		assert.Equal(t, "rn-r1", d.OutRefundNo)
		assert.Equal(t, i == 2, d.Acked)
		assert.Equal(t, ns.URL+"/default", cfg.RefundNotifyURL)
		// The outer message: unsigned, five fields.
		p, err := wxpay.DecodeXML(d.Body)
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"return_code", "appid", "mch_id", "nonce_str", "req_info"}, keys(p))
	}
	// The delivered body, parsed directly, is the same notification.
	direct, err := c.ParseRefundNotification(ds[2].Body)
	require.NoError(t, err)
	assert.Equal(t, n.Raw, direct.Raw)
	assert.Equal(t, n.RefundID, direct.RefundID)
	// WeChat's order: the second attempt 15 s (fake time) after the first.
	assert.GreaterOrEqual(t, ds[1].At.Sub(ds[0].At), 15*time.Second)
	assert.Empty(t, s.Deliveries("rn-1"), "the payment notification was not asked for")

	// A refund of an order whose notifications are dropped sends none.
	paidOrder(t, s, c, "rn-2", 100)
	s.DropNotifications("rn-2")
	_, err = c.Refund(ctxT(t), refundReq("rn-2", "rn-r2", 100, 100))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r, _ := s.Refund("rn-r2")
		return r.Status == wxpaytest.RefundSuccess
	}, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond) // a notification would have been sent by now
	assert.Empty(t, s.RefundDeliveries("rn-r2"))
	assert.ErrorIs(t, s.WaitRefundAcked(ctxT(t), "none"), wxpaytest.ErrNoRefund)
}

// The library's default refund handler confirms each notification with
// refundquery: the fake's refundquery vouches for every field of the
// fake's own notification, coupons and settlement amounts included.
func TestRefundNotificationConfirmedByDefault(t *testing.T) {
	ns := newNotifyServer(t)
	cfg := testConfig()
	cfg.RefundImmediately = true
	cfg.RefundNotifyURL = ns.URL + "/default"
	s, c := tlsFake(t, cfg)
	paidOrder(t, s, c, "rc-1", 300, wxpay.Coupon{ID: "c1", Type: wxpay.CouponNoCash, Fee: 30})

	got := make(chan *wxpay.RefundNotification, 1)
	ns.set(c.RefundNotifyHandler(func(_ context.Context, n *wxpay.RefundNotification) error {
		got <- n
		return nil
	}))
	_, err := c.Refund(ctxT(t), refundReq("rc-1", "rc-r1", 300, 100))
	require.NoError(t, err)
	require.NoError(t, s.WaitRefundAcked(ctxT(t), "rc-r1"))
	n := <-got
	r, _ := s.Refund("rc-r1")
	assert.True(t, n.Confirmed)
	assert.Equal(t, r.RefundID, n.RefundID)
	assert.Equal(t, int64(100), n.RefundFee)
	assert.Equal(t, int64(90), n.SettlementRefundFee)
	assert.Equal(t, int64(270), n.SettlementTotalFee)
	assert.Equal(t, wxpay.RefundSuccess, n.RefundStatus)
	assert.True(t, n.SuccessTime.Equal(r.SuccessTime.Truncate(time.Second)))
	ds := s.RefundDeliveries("rc-r1")
	require.Len(t, ds, 1)
	assert.True(t, ds[0].Acked)
}

func keys(p wxpay.Params) []string {
	out := make([]string, 0, len(p))
	for k := range p {
		out = append(out, k)
	}
	return out
}

func TestRefundOverPlainHTTP(t *testing.T) {
	// Plain HTTP has no certificate to check; the library still needs
	// one configured, and the fake answers.
	cfg := testConfig()
	cfg.RefundImmediately = true
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	certPEM, keyPEM, err := s.ClientCertificate()
	require.NoError(t, err)
	c, err := wxpay.NewClient(wxpay.Config{AppID: testAppID, MchID: testMchID, APIKey: testKey, NotifyURL: "https://example.com/notify"},
		wxpay.WithBaseURL(s.URL), wxpay.WithHTTPClient(s.Client()), wxpay.WithClientCertificate(certPEM, keyPEM))
	require.NoError(t, err)
	paidOrder(t, s, c, "plain-1", 100)
	_, err = c.Refund(ctxT(t), refundReq("plain-1", "p1", 100, 40))
	require.NoError(t, err)
	r, _ := s.Refund("p1")
	assert.Equal(t, wxpaytest.RefundSuccess, r.Status)
}

// RefundNotificationBody with the official sample's fields and the S6 key
// carries exactly the published S6 req_info (../testdata/notify), and the
// library opens it.
func TestRefundNotificationBodyVector(t *testing.T) {
	plain, err := os.ReadFile(filepath.Join("..", "testdata", "notify", "s6_plain.xml"))
	require.NoError(t, err)
	want, err := os.ReadFile(filepath.Join("..", "testdata", "notify", "s6_req_info.txt"))
	require.NoError(t, err)
	fields := wxpay.Params{}
	for _, m := range regexp.MustCompile(`<(\w+)><!\[CDATA\[(.*?)\]\]></\w+>`).FindAllStringSubmatch(string(plain), -1) {
		fields[m[1]] = m[2]
	}
	require.Len(t, fields, 13)
	const key = "exposed_your_key_here_have_risks"
	cfg := wxpaytest.Config{AppID: testAppID, MchID: testMchID, APIKey: key}
	body, err := wxpaytest.RefundNotificationBody(cfg, fields)
	require.NoError(t, err)
	outer, err := wxpay.DecodeXML(body)
	require.NoError(t, err)
	assert.Equal(t, string(want), outer["req_info"])
	assert.Empty(t, outer["sign"])
	assert.Equal(t, "SUCCESS", outer["return_code"])

	c, err := wxpay.NewClient(wxpay.Config{AppID: testAppID, MchID: testMchID, APIKey: key})
	require.NoError(t, err)
	n, err := c.ParseRefundNotification(body)
	require.NoError(t, err)
	assert.Equal(t, "131811191610442717309", n.OutRefundNo)
	assert.Equal(t, int64(3960), n.RefundFee)

	_, err = wxpaytest.RefundNotificationBody(wxpaytest.Config{APIKey: "short"}, fields)
	assert.Error(t, err)
}

// The library's recommended ConfirmWithRefundQuery against the fake: a
// genuine notification is confirmed by refundquery; one that decrypts but
// disagrees with WeChat's records (a replayed or spliced req_info) is
// answered FAIL and never reaches the function.
func TestRefundNotificationConfirmed(t *testing.T) {
	ns := newNotifyServer(t)
	cfg := testConfig()
	cfg.RefundImmediately = true
	cfg.RefundNotifyURL = ns.URL
	s, c := tlsFake(t, cfg)
	var mu sync.Mutex
	var confirmed []bool
	ns.set(c.RefundNotifyHandler(func(_ context.Context, n *wxpay.RefundNotification) error {
		mu.Lock()
		defer mu.Unlock()
		confirmed = append(confirmed, n.Confirmed)
		return nil
	}, wxpay.ConfirmWithRefundQuery()))
	paidOrder(t, s, c, "cf-1", 100)
	_, err := c.Refund(ctxT(t), refundReq("cf-1", "cf-r1", 100, 40))
	require.NoError(t, err)
	require.NoError(t, s.WaitRefundAcked(ctxT(t), "cf-r1"))
	mu.Lock()
	assert.Equal(t, []bool{true}, confirmed)
	mu.Unlock()

	// A forged notification under the merchant's key, claiming more.
	r, _ := s.Refund("cf-r1")
	body, err := wxpaytest.RefundNotificationBody(cfg, wxpay.Params{
		"transaction_id": r.TransactionID, "out_trade_no": "cf-1", "refund_id": r.RefundID, "out_refund_no": "cf-r1",
		"total_fee": "100", "refund_fee": "100", "settlement_refund_fee": "100", "refund_status": "SUCCESS",
		"success_time": "2026-03-01 18:00:00", "refund_recv_accout": "支付用户零钱",
		"refund_account": "REFUND_SOURCE_UNSETTLED_FUNDS", "refund_request_source": "API",
	})
	require.NoError(t, err)
	resp, err := http.Post(ns.URL, "text/xml", bytes.NewReader(body))
	require.NoError(t, err)
	reply, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	p, err := wxpay.DecodeXML(reply)
	require.NoError(t, err)
	assert.Equal(t, "FAIL", p["return_code"])
	mu.Lock()
	assert.Len(t, confirmed, 1, "the forged notification never reached the function")
	mu.Unlock()
}

// Close stops pending refund settlements and the retries of a refund
// notification nobody acknowledges.
func TestCloseStopsRefundNotifications(t *testing.T) {
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
	cfg := testConfig()
	cfg.Speed = 1000
	cfg.RefundNotifyURL = ns.URL
	cfg.RefundDelay = 24 * time.Hour // a settlement still pending at Close
	s, c := tlsFake(t, cfg)
	paidOrder(t, s, c, "cl-1", 100)
	_, err := c.Refund(ctxT(t), refundReq("cl-1", "cl-r1", 100, 10))
	require.NoError(t, err)
	_, err = c.Refund(ctxT(t), refundReq("cl-1", "cl-r2", 100, 10))
	require.NoError(t, err)
	require.NoError(t, s.SettleRefund("cl-r1", ""))
	<-first
	s.Close()
	assert.Eventually(t, func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "wxpaytest.(*Fake)")
	}, time.Second, time.Millisecond, "no goroutine of the fake outlives Close")
	after := len(s.RefundDeliveries("cl-r1"))
	time.Sleep(100 * time.Millisecond) // 100 fake seconds: several retries were due
	assert.Len(t, s.RefundDeliveries("cl-r1"), after)
	assert.ErrorIs(t, s.WaitRefundAcked(ctxT(t), "cl-r1"), wxpaytest.ErrClosed)
}
