package shop

// The store's records of what WeChat knows (records.go), for a fake
// WeChat to learn back at start.

import (
	"context"
	"database/sql"
)

// Records returns up to limit of each kind of record, newest first: one
// query per kind, each asking for one more than limit to tell whether
// the list was cut.
func (st *sqlStore) Records(ctx context.Context, limit int) (WeChatRecords, error) {
	var out WeChatRecords
	scan := func(q string, row func(*sql.Rows) error) error {
		rows, err := st.db.R.QueryContext(ctx, q, limit+1)
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
