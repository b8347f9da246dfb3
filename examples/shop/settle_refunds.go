package shop

import "time"

// recordWeChatRefunds records, with the payment they belong to, refunds
// WeChat reports that this server did not make (refunded on the merchant
// platform, say, before the payment's notification arrived): each under
// its out_refund_no, once (a refund already known, this server's own
// included, is left as it is), adding what it holds back to the order's
// refunded total. It runs inside Settle's transaction and returns what it
// recorded, which Settle logs only once the transaction has committed: a
// rolled-back settlement recorded nothing, and its retry records it anew.
func (s *Service) recordWeChatRefunds(tx StoreTx, orderID int64, refunds []RefundResult) ([]recordedRefund, error) {
	now := s.now()
	var recorded []recordedRefund
	for _, r := range refunds {
		status, holds, final := wechatRefundState(r.Status)
		if r.OutRefundNo == "" || r.RefundFen <= 0 {
			recorded = append(recorded, recordedRefund{RefundResult: r, status: ""})
			continue
		}
		var settled time.Time
		if final {
			settled = r.SuccessTime
			if settled.IsZero() {
				settled = now
			}
		}
		fresh, err := tx.InsertWeChatRefund(r, orderID, status, now, settled)
		if err != nil {
			return nil, err
		}
		if !fresh {
			continue // known already
		}
		if holds {
			// WeChat's word: no cap here, unlike a refund asked for here.
			if err := tx.AddRefunded(orderID, r.RefundFen); err != nil {
				return nil, err
			}
		}
		recorded = append(recorded, recordedRefund{RefundResult: r, status: status})
	}
	return recorded, nil
}

// recordedRefund is a refund recordWeChatRefunds recorded under status,
// or, with status "", one it could not record (no out_refund_no or
// amount).
type recordedRefund struct {
	RefundResult
	status string
}

// logWeChatRefunds says, after the commit, what recordWeChatRefunds did.
func (s *Service) logWeChatRefunds(orderID int64, recorded []recordedRefund) {
	for _, r := range recorded {
		if r.status == "" {
			s.log.Error("refund reported without out_refund_no or amount; not recorded, needs a person", "order_id", orderID, "refund_id", r.RefundID)
			continue
		}
		s.log.Warn("refund made at WeChat recorded with its payment", "order_id", orderID, "out_refund_no", r.OutRefundNo,
			"refund_fen", r.RefundFen, "status", r.status)
	}
}

// wechatRefundState maps WeChat's refund_status to a refund's state:
// whether its amount counts as refunded (all but a closed refund, as for
// refunds made here) and whether the state is final.
func wechatRefundState(st string) (status string, holds, final bool) {
	switch st {
	case "SUCCESS":
		return RefundSucceeded, true, true
	case "REFUNDCLOSE":
		return RefundClosed, false, true
	case "CHANGE":
		return RefundChange, true, true
	}
	// PROCESSING, or a state WeChat adds later: the money may be on its
	// way, so it is held; the refund notification or a person settles it.
	return RefundProcessing, true, false
}
