package wxpaytest_test

import (
	"errors"
	"fmt"
	"log"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// refundClient is a wxpay client of the fake's merchant with its client
// certificate, for refunds.
func refundClient(t *testing.T, s *wxpaytest.Server) *wxpay.Client {
	t.Helper()
	certPEM, keyPEM, err := s.ClientCertificate()
	require.NoError(t, err)
	c, err := wxpay.NewClient(wxpay.Config{AppID: testAppID, MchID: testMchID, APIKey: testKey, NotifyURL: "https://example.com/notify"},
		wxpay.WithBaseURL(s.URL), wxpay.WithHTTPClient(s.Client()), wxpay.WithClientCertificate(certPEM, keyPEM))
	require.NoError(t, err)
	return c
}

// TestRestore: what a fake knew about an unpaid order, a paid one and its
// refund, handed to a new fake, lets the payer pay with the old prepay_id
// and the merchant refund what is left, and no more.
func TestRestore(t *testing.T) {
	ctx := ctxT(t)
	cfg := testConfig()
	cfg.RefundImmediately = true
	old := wxpaytest.NewServer(cfg)
	c := refundClient(t, old)
	for _, otn := range []string{"unpaid-1", "paid-1"} {
		_, err := c.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{Body: "x", OutTradeNo: otn, TotalFee: 100,
			SpbillCreateIP: "127.0.0.1", TradeType: wxpay.TradeJSAPI, OpenID: "oUser1"})
		require.NoError(t, err)
	}
	_, err := old.Pay(wxpaytest.PayOptions{OutTradeNo: "paid-1", NoNotify: true})
	require.NoError(t, err)
	_, err = c.Refund(ctx, &wxpay.RefundRequest{OutTradeNo: "paid-1", OutRefundNo: "r1", TotalFee: 100, RefundFee: 40})
	require.NoError(t, err)
	unpaid, _ := old.Order("unpaid-1")
	paid, _ := old.Order("paid-1")
	refunds := old.Refunds("paid-1")
	old.Close()

	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	c = refundClient(t, s)
	// A snapshot keeps what the restore needs; Request is optional.
	unpaid.Request = nil
	require.NoError(t, s.RestoreOrder(unpaid))
	require.NoError(t, s.RestoreOrder(paid))
	require.Len(t, refunds, 1)
	require.NoError(t, s.RestoreRefund(refunds[0]))

	got, err := s.Pay(wxpaytest.PayOptions{PrepayID: unpaid.PrepayID, NoNotify: true})
	require.NoError(t, err, "paying with the old prepay_id")
	require.Equal(t, "unpaid-1", got.OutTradeNo)
	q, err := c.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: "paid-1"})
	require.NoError(t, err)
	require.Equal(t, wxpay.TradeStateRefund, q.TradeState)

	// 40 of 100 were refunded before: 70 more is too much, 60 is right.
	_, err = c.Refund(ctx, &wxpay.RefundRequest{OutTradeNo: "paid-1", OutRefundNo: "r2", TotalFee: 100, RefundFee: 70})
	var we *wxpay.Error
	require.True(t, errors.As(err, &we), "%v", err)
	_, err = c.Refund(ctx, &wxpay.RefundRequest{TransactionID: paid.TransactionID, OutRefundNo: "r3", TotalFee: 100, RefundFee: 60})
	require.NoError(t, err)
	// The restored refund is the same refund: asking again answers it.
	r, err := c.Refund(ctx, &wxpay.RefundRequest{OutTradeNo: "paid-1", OutRefundNo: "r1", TotalFee: 100, RefundFee: 40})
	require.NoError(t, err)
	require.Equal(t, refunds[0].RefundID, r.RefundID)
}

// TestRestoreProcessingRefund: a restored refund still PROCESSING
// succeeds by itself and is notified, as a fresh one.
func TestRestoreProcessingRefund(t *testing.T) {
	cfg := testConfig()
	cfg.RefundImmediately = true
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	require.NoError(t, s.RestoreOrder(wxpaytest.Order{OutTradeNo: "o1", TransactionID: "4200000001", State: wxpaytest.StateSuccess, TotalFee: 500}))
	require.NoError(t, s.RestoreRefund(wxpaytest.Refund{OutRefundNo: "r1", OutTradeNo: "o1", RefundFee: 500, Status: wxpaytest.RefundProcessing}))
	r, ok := s.Refund("r1")
	require.True(t, ok)
	require.Equal(t, wxpaytest.RefundSuccess, r.Status)
	require.Equal(t, "4200000001", r.TransactionID)
}

// TestRestoreRefusals: malformed or conflicting restores are refused with
// ErrRestore and change nothing.
func TestRestoreRefusals(t *testing.T) {
	s := wxpaytest.NewServer(testConfig())
	defer s.Close()
	good := wxpaytest.Order{OutTradeNo: "o1", PrepayID: "wx1", State: wxpaytest.StateNotPay, TotalFee: 100}
	require.NoError(t, s.RestoreOrder(good))
	require.NoError(t, s.RestoreOrder(wxpaytest.Order{OutTradeNo: "p1", TransactionID: "4200000001", State: wxpaytest.StateSuccess, TotalFee: 100}))
	with := func(f func(o *wxpaytest.Order)) wxpaytest.Order {
		o := wxpaytest.Order{OutTradeNo: "o2", PrepayID: "wx2", State: wxpaytest.StateNotPay, TotalFee: 100}
		f(&o)
		return o
	}
	for name, o := range map[string]wxpaytest.Order{
		"known out_trade_no": with(func(o *wxpaytest.Order) { o.OutTradeNo = "o1" }),
		"known prepay_id":    with(func(o *wxpaytest.Order) { o.PrepayID = "wx1" }),
		"known transaction_id": with(func(o *wxpaytest.Order) {
			o.State, o.PrepayID, o.TransactionID = wxpaytest.StateSuccess, "", "4200000001"
		}),
		"empty out_trade_no":     with(func(o *wxpaytest.Order) { o.OutTradeNo = "" }),
		"long out_trade_no":      with(func(o *wxpaytest.Order) { o.OutTradeNo = strings.Repeat("a", 33) }),
		"bad characters":         with(func(o *wxpaytest.Order) { o.OutTradeNo = "o<2>" }),
		"zero fee":               with(func(o *wxpaytest.Order) { o.TotalFee = 0 }),
		"negative fee":           with(func(o *wxpaytest.Order) { o.TotalFee = -1 }),
		"unpaid without prepay":  with(func(o *wxpaytest.Order) { o.PrepayID = "" }),
		"unpaid with txn":        with(func(o *wxpaytest.Order) { o.TransactionID = "4200000002" }),
		"paid without txn":       with(func(o *wxpaytest.Order) { o.State = wxpaytest.StateSuccess }),
		"unknown state":          with(func(o *wxpaytest.Order) { o.State = "PAID" }),
		"micropay state":         with(func(o *wxpaytest.Order) { o.State = wxpaytest.StateUserPaying }),
		"bad trade type":         with(func(o *wxpaytest.Order) { o.TradeType = "MICROPAY" }),
		"bad sign type":          with(func(o *wxpaytest.Order) { o.SignType = "SHA1" }),
		"notify URL with query":  with(func(o *wxpaytest.Order) { o.NotifyURL = "https://example.com/n?a=b" }),
		"prepay_id with a space": with(func(o *wxpaytest.Order) { o.PrepayID = "wx 2" }),
	} {
		t.Run(name, func(t *testing.T) {
			before := len(s.Orders())
			err := s.RestoreOrder(o)
			require.ErrorIs(t, err, wxpaytest.ErrRestore)
			require.Len(t, s.Orders(), before)
			_, known := s.Order("o2")
			require.False(t, known)
		})
	}
	for name, r := range map[string]wxpaytest.Refund{
		"unknown order":     {OutRefundNo: "r1", OutTradeNo: "nope", RefundFee: 1, Status: wxpaytest.RefundSuccess},
		"unpaid order":      {OutRefundNo: "r1", OutTradeNo: "o1", RefundFee: 1, Status: wxpaytest.RefundSuccess},
		"more than paid":    {OutRefundNo: "r1", OutTradeNo: "p1", RefundFee: 101, Status: wxpaytest.RefundSuccess},
		"zero fee":          {OutRefundNo: "r1", OutTradeNo: "p1", RefundFee: 0, Status: wxpaytest.RefundSuccess},
		"bad status":        {OutRefundNo: "r1", OutTradeNo: "p1", RefundFee: 1, Status: "DONE"},
		"bad out_refund_no": {OutRefundNo: "r 1", OutTradeNo: "p1", RefundFee: 1, Status: wxpaytest.RefundSuccess},
		"mismatched ids":    {OutRefundNo: "r1", OutTradeNo: "o1", TransactionID: "4200000001", RefundFee: 1, Status: wxpaytest.RefundSuccess},
	} {
		t.Run("refund "+name, func(t *testing.T) {
			require.ErrorIs(t, s.RestoreRefund(r), wxpaytest.ErrRestore)
			require.Empty(t, s.Refunds("p1"))
		})
	}
	require.NoError(t, s.RestoreRefund(wxpaytest.Refund{OutRefundNo: "r1", OutTradeNo: "p1", RefundFee: 60, Status: wxpaytest.RefundSuccess}))
	require.ErrorIs(t, s.RestoreRefund(wxpaytest.Refund{OutRefundNo: "r1", OutTradeNo: "p1", RefundFee: 1, Status: wxpaytest.RefundSuccess}), wxpaytest.ErrRestore, "a known out_refund_no")
	require.ErrorIs(t, s.RestoreRefund(wxpaytest.Refund{OutRefundNo: "r2", OutTradeNo: "p1", RefundFee: 41, Status: wxpaytest.RefundSuccess}), wxpaytest.ErrRestore, "past what is left")
	s.Close()
	require.ErrorIs(t, s.RestoreOrder(with(func(*wxpaytest.Order) {})), wxpaytest.ErrRestore, "a closed fake")
}

// A server in fake mode restarts: its database still knows an unpaid
// order's prepay_id, which the new fake learns back, so the payer can pay.
func ExampleFake_RestoreOrder() {
	cfg := wxpaytest.Config{AppID: "wxd930ea5d5a258f4f", MchID: "10000100", APIKey: "192006250b4c09247ec02edce69f6a2d"}
	wx := wxpaytest.NewServer(cfg)
	defer wx.Close()
	// As read back from the server's own records.
	err := wx.RestoreOrder(wxpaytest.Order{
		OutTradeNo: "order-1", PrepayID: "wx201410272009395522657a690389285100",
		State: wxpaytest.StateNotPay, TotalFee: 8800, OpenID: "oUser1",
		NotifyURL: "https://shop.example/wxpay/notify",
	})
	if err != nil {
		log.Fatal(err)
	}
	o, err := wx.Pay(wxpaytest.PayOptions{PrepayID: "wx201410272009395522657a690389285100", NoNotify: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(o.OutTradeNo, o.State, o.TotalFee)
	// Output: order-1 SUCCESS 8800
}
