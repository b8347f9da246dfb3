package shop

// The store's refunds: the SQL of refund.go and settle_refunds.go, which
// keep the rules.

import (
	"context"
	"database/sql"
)

// The refunds' statements.
const (
	sqlRefundByKey = `SELECT r.order_id, r.request_hash, r.out_refund_no FROM refunds r WHERE r.idem_key = $1`
	sqlRefundOrder = `SELECT o.status, o.total_fen, o.refunded_fen, p.transaction_id, p.out_trade_no, p.total_fen
		FROM orders o LEFT JOIN payments p ON p.order_id = o.id WHERE o.id = $1`
	sqlReserveRefund = `UPDATE orders SET refunded_fen = refunded_fen + $1
		WHERE id = $2 AND status = 'paid' AND refunded_fen + $1 <= total_fen`
	sqlReleaseRefund = `UPDATE orders SET refunded_fen = refunded_fen - $1 WHERE id = $2`
	sqlInsertRefund  = `INSERT INTO refunds (out_refund_no, order_id, idem_key, request_hash, amount_fen, reason, status, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)`
	sqlRefundRow = `SELECT r.out_refund_no, r.order_id, r.amount_fen, r.reason, r.status, COALESCE(r.failure, ''), r.created_at, r.settled_at,
		p.transaction_id, p.out_trade_no, p.total_fen
		FROM refunds r JOIN payments p ON p.order_id = r.order_id WHERE r.out_refund_no = $1`
	sqlRefundCount      = `SELECT COUNT(*) FROM refunds WHERE order_id = $1`
	sqlRefundProcessing = `UPDATE refunds SET status = 'processing', refund_id = $1 WHERE out_refund_no = $2 AND status = 'pending'`
	sqlRefundRefused    = `UPDATE refunds SET status = 'refused', failure = $1, settled_at = $2 WHERE out_refund_no = $3 AND status = 'pending'`
	sqlRefundForResult  = `SELECT r.order_id, r.amount_fen, p.out_trade_no FROM refunds r JOIN payments p ON p.order_id = r.order_id
		WHERE r.out_refund_no = $1`
	sqlSettleRefund = `UPDATE refunds SET status = $1, settled_at = $2, refund_id = COALESCE(refund_id, $3)
		WHERE out_refund_no = $4 AND status IN ('pending', 'processing')`
	sqlOrderRefunds = `SELECT out_refund_no, amount_fen, reason, status, created_at, settled_at FROM refunds
		WHERE order_id = $1 ORDER BY created_at, out_refund_no`
	sqlInsertWeChatRefund = `INSERT INTO refunds (out_refund_no, order_id, idem_key, request_hash, amount_fen, reason, status, refund_id, created_at, settled_at)
		VALUES ($1, $2, $3, '', $4, '', $5, $6, $7, $8) ON CONFLICT DO NOTHING`
	sqlAddRefunded = `UPDATE orders SET refunded_fen = refunded_fen + $1 WHERE id = $2`
)

// scanRefund reads one sqlRefundRow.
func scanRefund(row *sql.Row) (*refundRow, error) {
	var r refundRow
	var created int64
	var settled sql.NullInt64
	err := row.Scan(&r.OutRefundNo, &r.orderID, &r.AmountFen, &r.Reason, &r.Status, &r.failure, &created, &settled,
		&r.transactionID, &r.outTradeNo, &r.paidFen)
	if err != nil {
		return nil, err
	}
	r.CreatedAt = fromMS(created)
	if settled.Valid {
		t := fromMS(settled.Int64)
		r.SettledAt = &t
	}
	return &r, nil
}

// pendingRow returns the refund outRefundNo if it is still pending, or
// nil.
func (rf *Refunds) pendingRow(ctx context.Context, outRefundNo string) (*refundRow, error) {
	row, err := scanRefund(rf.s.db.W.QueryRowContext(ctx, sqlRefundRow, outRefundNo))
	if ok, err := found(err); !ok || row.Status != RefundPending {
		return nil, err
	}
	return row, nil
}

// loadRefunds fills o.Refunds, oldest first.
func loadRefunds(ctx context.Context, q querier, o *Order) error {
	rows, err := q.QueryContext(ctx, sqlOrderRefunds, o.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r Refund
		var created int64
		var settled sql.NullInt64
		if err := rows.Scan(&r.OutRefundNo, &r.AmountFen, &r.Reason, &r.Status, &created, &settled); err != nil {
			return err
		}
		r.CreatedAt = fromMS(created)
		if settled.Valid {
			t := fromMS(settled.Int64)
			r.SettledAt = &t
		}
		o.Refunds = append(o.Refunds, r)
	}
	return rows.Err()
}
