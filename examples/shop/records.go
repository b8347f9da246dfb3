package shop

import (
	"context"
	"database/sql"
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
	var out WeChatRecords
	scan := func(q string, row func(*sql.Rows) error) error {
		rows, err := s.db.R.QueryContext(ctx, q, limit+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			if n++; n > limit {
				out.Truncated = true
				break
			}
			if err := row(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	err := scan(`SELECT out_trade_no, total_fen, body, client_ip, openid, time_start, time_expire, prepay_id FROM pay_attempts
		WHERE state = 'open' AND prepay_id IS NOT NULL ORDER BY created_at DESC LIMIT $1`, func(r *sql.Rows) error {
		var p PrepayRecord
		var start, expire int64
		if err := r.Scan(&p.OutTradeNo, &p.TotalFen, &p.Body, &p.ClientIP, &p.OpenID, &start, &expire, &p.PrepayID); err != nil {
			return err
		}
		p.TimeStart, p.TimeExpire = fromMS(start), fromMS(expire)
		out.Unpaid = append(out.Unpaid, p)
		return nil
	})
	if err != nil {
		return out, err
	}
	err = scan(`SELECT p.out_trade_no, p.transaction_id, p.total_fen, a.openid, p.time_end FROM payments p
		JOIN pay_attempts a ON a.out_trade_no = p.out_trade_no ORDER BY p.received_at DESC LIMIT $1`, func(r *sql.Rows) error {
		var p PaidRecord
		var end int64
		if err := r.Scan(&p.OutTradeNo, &p.TransactionID, &p.TotalFen, &p.OpenID, &end); err != nil {
			return err
		}
		p.TimeEnd = fromMS(end)
		out.Paid = append(out.Paid, p)
		return nil
	})
	if err != nil {
		return out, err
	}
	err = scan(`SELECT r.out_refund_no, p.out_trade_no, COALESCE(r.refund_id, ''), r.amount_fen, r.status FROM refunds r
		JOIN payments p ON p.order_id = r.order_id WHERE r.status IN ('processing', 'success', 'closed', 'change')
		ORDER BY r.created_at DESC LIMIT $1`, func(r *sql.Rows) error {
		var rr RefundRecord
		var status string
		if err := r.Scan(&rr.OutRefundNo, &rr.OutTradeNo, &rr.RefundID, &rr.AmountFen, &status); err != nil {
			return err
		}
		rr.Status = weChatRefundStatus[status]
		out.Refunds = append(out.Refunds, rr)
		return nil
	})
	return out, err
}
