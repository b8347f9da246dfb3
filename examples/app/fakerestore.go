package app

import (
	"context"
	"slices"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// maxRestore bounds how many records of each kind a restart in fake mode
// hands back to the fake: enough for any demo, and bounded memory on a
// database that grew for months.
const maxRestore = 10_000

// restoreFake gives the in-process fake, whose memory started empty, what
// the database says WeChat knew: each payable out_trade_no with its
// prepay_id, each payment, each refund WeChat accepted. Without it a
// restart in fake mode would leave unpaid orders unpayable (the fake does
// not know their prepay_id) and paid ones unrefundable. What the fake
// cannot take is logged and skipped; the summary line says what was
// restored.
//
// Records are restored as orders of v3 when the shop pays with v3, so
// that their notifications are v3's and go to v3's route.
func (s *Server) restoreFake(ctx context.Context, v3 bool, notifyURL, refundNotifyURL string) error {
	rec, err := s.Shop.Records(ctx, maxRestore)
	if err != nil {
		return err
	}
	var unpaid, paid, refunds, skipped int
	skip := func(err error) {
		skipped++
		s.log.Warn("fake WeChat: a record of the database could not be restored", "error", err.Error())
	}
	for _, p := range rec.Unpaid {
		err := s.Fake.RestoreOrder(wxpaytest.Order{
			OutTradeNo: p.OutTradeNo, PrepayID: p.PrepayID, State: wxpaytest.StateNotPay, TradeType: wxpay.TradeJSAPI,
			TotalFee: p.TotalFen, NotifyURL: notifyURL, OpenID: p.OpenID, CreatedAt: p.TimeStart, TimeExpire: p.TimeExpire, APIv3: v3,
		})
		if err != nil {
			skip(err)
			continue
		}
		unpaid++
	}
	for _, p := range rec.Paid {
		err := s.Fake.RestoreOrder(wxpaytest.Order{
			OutTradeNo: p.OutTradeNo, TransactionID: p.TransactionID, State: wxpaytest.StateSuccess, TradeType: wxpay.TradeJSAPI,
			TotalFee: p.TotalFen, NotifyURL: notifyURL, OpenID: p.OpenID, PaidAt: p.TimeEnd, APIv3: v3,
		})
		if err != nil {
			skip(err)
			continue
		}
		paid++
	}
	slices.Reverse(rec.Refunds) // oldest first, as WeChat took them
	for _, r := range rec.Refunds {
		err := s.Fake.RestoreRefund(wxpaytest.Refund{
			OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, RefundID: r.RefundID, RefundFee: r.AmountFen,
			Status: wxpay.RefundStatus(r.Status), NotifyURL: refundNotifyURL, APIv3: v3,
		})
		if err != nil {
			skip(err)
			continue
		}
		refunds++
	}
	if unpaid+paid+refunds+skipped > 0 || rec.Truncated {
		s.log.Info("fake WeChat restored from the database, so its orders can still be paid and refunded",
			"unpaid", unpaid, "paid", paid, "refunds", refunds, "skipped", skipped, "truncated", rec.Truncated)
	}
	return nil
}
