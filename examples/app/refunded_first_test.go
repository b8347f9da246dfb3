package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// TestRefundedBeforeNotification: the notification is lost and the
// payment is partly refunded at WeChat (on the merchant platform, say)
// before reconciliation asks, so orderquery answers REFUND. The order
// still ends paid, with WeChat's refund recorded against it and no
// anomaly.
func TestRefundedBeforeNotification(t *testing.T) {
	v2Only(t, "v3 has no refundquery by out_trade_no, so a refund made at WeChat before the notification is not listed (see the README)")
	h := newHarness(t)
	ctx := context.Background()
	u := h.user()
	o, p := h.placeAndPrepay(u)
	h.s.Fake.DropNotifications(p.OutTradeNo)
	paid, err := h.s.Fake.Pay(wxpaytest.PayOptions{OutTradeNo: p.OutTradeNo})
	if err != nil {
		t.Fatal(err)
	}
	// The merchant refunds ¥10.00 of it at WeChat, not through this server.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	fc := h.s.FakeConfig
	merchant, err := wxpay.NewClient(wxpay.Config{AppID: fc.AppID, MchID: fc.MchID, APIKey: fc.APIKey, SignType: fc.SignType},
		wxpay.WithBaseURL(h.s.URL+"/fake"), wxpay.WithCertificateHTTPClient(&http.Client{Transport: tr, Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	const outRefundNo = "platformrefund0001"
	if _, err := merchant.Refund(ctx, &wxpay.RefundRequest{OutTradeNo: p.OutTradeNo, OutRefundNo: outRefundNo, TotalFee: o.TotalFen, RefundFee: 1000}); err != nil {
		t.Fatal(err)
	}
	if fo, _ := h.s.Fake.Order(p.OutTradeNo); fo.State != wxpaytest.StateRefund {
		t.Fatalf("WeChat's order is %s, want REFUND", fo.State)
	}
	// Watch the database only: GET /orders/{id} would settle it by itself.
	h.waitFor(30*time.Second, "order paid through reconciliation", func() bool { return h.orderStatus(o.ID) == shop.StatusPaid })
	if n := h.count(`SELECT COUNT(*) FROM payments WHERE order_id = $1 AND transaction_id = $2 AND total_fen = $3`, o.ID, paid.TransactionID, o.TotalFen); n != 1 {
		t.Errorf("%d payments under WeChat's transaction_id and amount, want 1", n)
	}
	if n := h.count(`SELECT COUNT(*) FROM refunds WHERE order_id = $1 AND out_refund_no = $2 AND amount_fen = 1000`, o.ID, outRefundNo); n != 1 {
		t.Errorf("%d refunds recorded for WeChat's refund, want 1", n)
	}
	if n := h.count(`SELECT refunded_fen FROM orders WHERE id = $1`, o.ID); n != 1000 {
		t.Errorf("refunded_fen %d, want 1000", n)
	}
	if n := h.count(`SELECT COUNT(*) FROM anomalies`); n != 0 {
		t.Errorf("%d anomalies, want none", n)
	}
	got, err := u.Order(ctx, o.ID)
	if err != nil || got.Status != shop.StatusPaid || len(got.Refunds) != 1 || got.Refunds[0].OutRefundNo != outRefundNo {
		t.Errorf("the owner sees %+v, %v; want paid with WeChat's refund", got, err)
	}
}
