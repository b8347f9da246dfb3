package wxpaytest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/miniprogram"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// refundSink is a merchant's refund notify_url served by apiv3's
// RefundNotifyHandler.
type refundSink struct {
	srv *httptest.Server
	ch  chan *apiv3.RefundNotification
}

func newRefundSink(t testing.TB, c *apiv3.Client) *refundSink {
	r := &refundSink{ch: make(chan *apiv3.RefundNotification, 16)}
	r.srv = httptest.NewServer(c.RefundNotifyHandler(func(_ context.Context, n *apiv3.RefundNotification) error {
		r.ch <- n
		return nil
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// The whole mini-program flow on v3, through the public API only:
// code2session → JSAPI prepay → pay parameters → pay with the paySign
// the fake checks → the notification reaches apiv3's NotifyHandler →
// query SUCCESS → refund → refund notification → refund query.
func TestV3WholeMiniProgramFlow(t *testing.T) {
	for _, signer := range []wxpaytest.V3Signer{wxpaytest.V3SignPublicKey, wxpaytest.V3SignCertificate, wxpaytest.V3SignBoth} {
		t.Run(signer.String(), func(t *testing.T) {
			cfg := v3Config(signer)
			cfg.Speed = 600 // a refund's minute of PROCESSING lasts 0.1 s
			s, c := newV3(t, cfg)
			ctx := ctxT(t)
			pay := newPaymentSink(t, c)
			refunds := newRefundSink(t, c)

			mp, err := miniprogram.NewClient(testAppID, testSecret, miniprogram.WithBaseURL(s.URL), miniprogram.WithHTTPClient(s.Client()))
			require.NoError(t, err)
			sess, err := mp.Code2Session(ctx, s.LoginCode(""))
			require.NoError(t, err)

			req := v3JSAPIOrder("flow000001", pay.srv.URL)
			req.Payer.OpenID = sess.OpenID
			req.Attach = "cart=7"
			pr, err := c.PrepayJSAPI(ctx, req)
			require.NoError(t, err)
			pp, err := c.JSAPIPayParams("", pr.PrepayID)
			require.NoError(t, err)
			assert.Equal(t, "RSA", pp.SignType)
			st, out := payOverHTTP(t, s, pp)
			require.Equal(t, http.StatusOK, st, out)
			assert.Equal(t, "requestPayment:ok", out["err_msg"])

			n := <-pay.ch
			assert.Equal(t, sess.OpenID, n.Transaction.Payer.OpenID)
			assert.Equal(t, "cart=7", n.Transaction.Attach)
			assert.Equal(t, apiv3.TradeSuccess, n.Transaction.TradeState)

			tx, err := c.QueryByOutTradeNo(ctx, "flow000001")
			require.NoError(t, err)
			assert.Equal(t, apiv3.TradeSuccess, tx.TradeState)
			assert.Equal(t, n.Transaction.TransactionID, tx.TransactionID)
			assert.Equal(t, int64(100), tx.Amount.PayerTotal)

			rf, err := c.Refund(ctx, &apiv3.RefundRequest{
				TransactionID: tx.TransactionID, OutRefundNo: "flowrefund1", NotifyURL: refunds.srv.URL,
				Amount: apiv3.RefundAmount{Refund: 40, Total: 100, Currency: apiv3.CNY},
			})
			require.NoError(t, err)
			assert.Equal(t, apiv3.RefundProcessing, rf.Status)
			again, err := c.Refund(ctx, &apiv3.RefundRequest{
				TransactionID: tx.TransactionID, OutRefundNo: "flowrefund1", NotifyURL: refunds.srv.URL,
				Amount: apiv3.RefundAmount{Refund: 40, Total: 100, Currency: apiv3.CNY},
			})
			require.NoError(t, err)
			assert.Equal(t, rf.RefundID, again.RefundID, "the same out_refund_no is the same refund")

			rn := <-refunds.ch
			assert.Equal(t, apiv3.EventRefundSuccess, rn.EventType)
			assert.Equal(t, "flowrefund1", rn.OutRefundNo)
			assert.Equal(t, int64(40), rn.Amount.Refund)
			require.NoError(t, s.WaitRefundAcked(ctx, "flowrefund1"))

			q, err := c.QueryRefund(ctx, "flowrefund1")
			require.NoError(t, err)
			assert.Equal(t, apiv3.RefundSuccess, q.Status)
			assert.False(t, q.SuccessTime.IsZero())
			tx, err = c.QueryByOutTradeNo(ctx, "flow000001")
			require.NoError(t, err)
			assert.Equal(t, apiv3.TradeState("REFUND"), tx.TradeState)
		})
	}
}

// An order placed on v2 and refunded on v3 (and the reverse) settles
// once: the two generations share the order's refundable amount.
func TestV3CrossGenerationRefunds(t *testing.T) {
	cfg := v3Config(wxpaytest.V3SignPublicKey)
	cfg.RefundImmediately = true
	s := wxpaytest.NewTLSServer(cfg)
	defer s.Close()
	c, err := apiv3.NewClient(s.APIv3Config(), s.APIv3Options()...)
	require.NoError(t, err)
	v2, err := wxpay.NewClient(wxpay.Config{AppID: testAppID, MchID: testMchID, APIKey: testKey, NotifyURL: "https://example.com/n"}, s.ClientOption())
	require.NoError(t, err)
	ctx := ctxT(t)

	// Placed and paid on v2, refunded on v3.
	_, err = v2.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{Body: "v2", OutTradeNo: "crossV2pay", TotalFee: 100,
		SpbillCreateIP: "127.0.0.1", TradeType: wxpay.TradeJSAPI, OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"})
	require.NoError(t, err)
	_, err = s.Pay(wxpaytest.PayOptions{OutTradeNo: "crossV2pay", NoNotify: true})
	require.NoError(t, err)
	_, err = c.Refund(ctx, &apiv3.RefundRequest{OutTradeNo: "crossV2pay", OutRefundNo: "crossR1",
		Amount: apiv3.RefundAmount{Refund: 70, Total: 100, Currency: apiv3.CNY}})
	require.NoError(t, err)
	// v2 may refund what is left, not more.
	_, err = v2.Refund(ctx, &wxpay.RefundRequest{OutTradeNo: "crossV2pay", OutRefundNo: "crossR2", TotalFee: 100, RefundFee: 31})
	var e2 *wxpay.Error
	require.ErrorAs(t, err, &e2)
	assert.Equal(t, wxpay.ErrCodeInvalidRequest, e2.Code)
	_, err = v2.Refund(ctx, &wxpay.RefundRequest{OutTradeNo: "crossV2pay", OutRefundNo: "crossR2", TotalFee: 100, RefundFee: 30})
	require.NoError(t, err)
	_, err = c.Refund(ctx, &apiv3.RefundRequest{OutTradeNo: "crossV2pay", OutRefundNo: "crossR3",
		Amount: apiv3.RefundAmount{Refund: 1, Total: 100, Currency: apiv3.CNY}})
	var e3 *apiv3.Error
	require.ErrorAs(t, err, &e3)
	assert.Equal(t, apiv3.ErrCodeNotEnoughRefund, e3.Code)
	var sum int64
	for _, r := range s.Refunds("crossV2pay") {
		sum += r.RefundFee
	}
	assert.Equal(t, int64(100), sum)

	// Placed and paid on v3, refunded on v2 first.
	_, err = c.PrepayJSAPI(ctx, v3JSAPIOrder("crossV3pay", "https://example.com/n"))
	require.NoError(t, err)
	_, err = s.Pay(wxpaytest.PayOptions{OutTradeNo: "crossV3pay", NoNotify: true})
	require.NoError(t, err)
	_, err = v2.Refund(ctx, &wxpay.RefundRequest{OutTradeNo: "crossV3pay", OutRefundNo: "crossR4", TotalFee: 100, RefundFee: 100})
	require.NoError(t, err)
	_, err = c.Refund(ctx, &apiv3.RefundRequest{OutTradeNo: "crossV3pay", OutRefundNo: "crossR5",
		Amount: apiv3.RefundAmount{Refund: 1, Total: 100, Currency: apiv3.CNY}})
	require.ErrorAs(t, err, &e3)
	assert.Equal(t, apiv3.ErrCodeNotEnoughRefund, e3.Code)
	// Each generation reads the other's refund.
	q, err := c.QueryRefund(ctx, "crossR4")
	require.NoError(t, err)
	assert.Equal(t, apiv3.RefundSuccess, q.Status)
	assert.Equal(t, int64(100), q.Amount.Refund)
	rq, err := v2.RefundQuery(ctx, &wxpay.RefundQueryRequest{OutRefundNo: "crossR1"})
	require.NoError(t, err)
	require.NotEmpty(t, rq.Refunds)
	assert.Equal(t, int64(70), rq.Refunds[0].RefundFee)
}

// An abnormal refund (SettleRefund CHANGE) notifies REFUND.ABNORMAL; the
// merchant applies for it to go to the payer's bank card (the card's
// fields RSA-OAEP encrypted by apiv3 under the WeChat key, which the
// fake opens), and it succeeds as a new refund would.
func TestV3AbnormalRefund(t *testing.T) {
	for _, signer := range []wxpaytest.V3Signer{wxpaytest.V3SignPublicKey, wxpaytest.V3SignCertificate} {
		t.Run(signer.String(), func(t *testing.T) {
			cfg := v3Config(signer)
			cfg.Speed = 600
			s, c := newV3(t, cfg)
			refunds := newRefundSink(t, c)
			ctx := ctxT(t)
			pr, err := c.PrepayJSAPI(ctx, v3JSAPIOrder("abnormal01", "https://example.com/n"))
			require.NoError(t, err)
			_, err = s.Pay(wxpaytest.PayOptions{PrepayID: pr.PrepayID, NoNotify: true})
			require.NoError(t, err)
			rf, err := c.Refund(ctx, &apiv3.RefundRequest{OutTradeNo: "abnormal01", OutRefundNo: "abnormal-r1", NotifyURL: refunds.srv.URL,
				Amount: apiv3.RefundAmount{Refund: 100, Total: 100, Currency: apiv3.CNY}})
			require.NoError(t, err)

			_, err = c.ApplyAbnormalRefund(ctx, &apiv3.AbnormalRefundRequest{RefundID: rf.RefundID, OutRefundNo: "abnormal-r1", Type: apiv3.AbnormalToMerchantBankCard})
			var we *apiv3.Error
			require.ErrorAs(t, err, &we, "a refund that is not abnormal")
			assert.Equal(t, apiv3.ErrCodeInvalidRequest, we.Code)

			require.NoError(t, s.SettleRefund("abnormal-r1", wxpaytest.RefundChange))
			n := <-refunds.ch
			assert.Equal(t, apiv3.EventRefundAbnormal, n.EventType)
			assert.Equal(t, apiv3.RefundAbnormal, n.Status)
			q, err := c.QueryRefund(ctx, "abnormal-r1")
			require.NoError(t, err)
			assert.Equal(t, apiv3.RefundAbnormal, q.Status)

			again, err := c.ApplyAbnormalRefund(ctx, &apiv3.AbnormalRefundRequest{RefundID: rf.RefundID, OutRefundNo: "abnormal-r1",
				Type: apiv3.AbnormalToUserBankCard, BankType: "ICBC_DEBIT", BankAccount: "6222000011112222", RealName: "张三"})
			require.NoError(t, err)
			assert.Equal(t, apiv3.RefundProcessing, again.Status)
			n = <-refunds.ch
			assert.Equal(t, apiv3.EventRefundSuccess, n.EventType)
			assert.Equal(t, "用户银行卡", n.UserReceivedAccount)
		})
	}
}
