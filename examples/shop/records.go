package shop

import (
	"context"
	"time"
)

// WeChatRecords is what the database says WeChat knows: the out_trade_nos
// still payable with their prepay_id, the payments, and the refunds WeChat
// accepted. A fake WeChat, whose memory ends with its process, learns it
// back at start (see package app), so that a restart in fake mode can
// still pay and refund what the shop holds.
type WeChatRecords struct {
	Unpaid  []PrepayRecord
	Paid    []PaidRecord
	Refunds []RefundRecord
	// Truncated reports that a list reached the limit and the oldest
	// records were left out.
	Truncated bool
}

// PrepayRecord is an open out_trade_no with its prepay_id.
type PrepayRecord struct {
	PrepayRequest
	PrepayID string
}

// PaidRecord is a payment WeChat confirmed.
type PaidRecord struct {
	OutTradeNo    string
	TransactionID string
	TotalFen      int64
	OpenID        string
	TimeEnd       time.Time
}

// RefundRecord is a refund WeChat accepted (not pending or refused).
type RefundRecord struct {
	OutRefundNo string
	OutTradeNo  string
	RefundID    string
	AmountFen   int64
	// Status is WeChat's word for the stored state: PROCESSING,
	// SUCCESS, REFUNDCLOSE or CHANGE.
	Status string
}

// weChatRefundStatus maps the stored refund states WeChat knows of.
var weChatRefundStatus = map[string]string{
	RefundProcessing: "PROCESSING", RefundSucceeded: "SUCCESS", RefundClosed: "REFUNDCLOSE", RefundChange: "CHANGE",
}

// Records returns up to limit of each kind of record, newest first, so
// that memory stays bounded on a database of any size.
func (s *Service) Records(ctx context.Context, limit int) (WeChatRecords, error) {
	return s.store.Records(ctx, limit)
}
