package shop

// The store's refunds: the SQL of refund.go and settle_refunds.go, which
// keep the rules.

import (
	"context"
	"database/sql"
	"time"
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
	row, err := rf.s.store.RefundRow(ctx, outRefundNo)
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

// --- the refunds' reads and writes ----------------------------------------

// refundable is what deciding on a refund of an order needs.
type refundable struct {
	status             string
	totalFen, refunded int64
	paid               bool // a payment (transaction_id) is recorded
}

// RefundByKey returns the refund stored under an admin's Idempotency-Key.
func (t *wtx) RefundByKey(idemKey string) (orderID int64, hash, outRefundNo string, ok bool, err error) {
	ok, err = found(t.QueryRow(sqlRefundByKey, idemKey).Scan(&orderID, &hash, &outRefundNo))
	return orderID, hash, outRefundNo, ok, err
}

// RefundableOrder returns what refunding order orderID needs to know.
func (t *wtx) RefundableOrder(orderID int64) (r refundable, ok bool, err error) {
	var txID, otn sql.NullString
	var paid sql.NullInt64
	ok, err = found(t.QueryRow(sqlRefundOrder, orderID).Scan(&r.status, &r.totalFen, &r.refunded, &txID, &otn, &paid))
	r.paid = txID.Valid
	return r, ok, err
}

// RefundCount returns how many refunds order orderID has.
func (t *wtx) RefundCount(orderID int64) (n int, err error) {
	err = t.QueryRow(sqlRefundCount, orderID).Scan(&n)
	return n, err
}

// ReserveRefund adds amountFen to the paid order's refunded total; ok is
// false, with nothing written, when that would exceed what was paid.
func (t *wtx) ReserveRefund(orderID, amountFen int64) (ok bool, err error) {
	return affected(t.Exec(sqlReserveRefund, amountFen, orderID))
}

// ReleaseRefund gives amountFen back to what order orderID may refund.
func (t *wtx) ReleaseRefund(orderID, amountFen int64) error {
	_, err := t.Exec(sqlReleaseRefund, amountFen, orderID)
	return err
}

// AddRefunded adds a refund WeChat made to order orderID's refunded total,
// uncapped: WeChat's word, unlike a refund asked for here.
func (t *wtx) AddRefunded(orderID, amountFen int64) error {
	_, err := t.Exec(sqlAddRefunded, amountFen, orderID)
	return err
}

// InsertRefund stores a pending refund asked for here.
func (t *wtx) InsertRefund(outRefundNo string, orderID int64, idemKey, hash string, amountFen int64, reason string, now time.Time) error {
	_, err := t.Exec(sqlInsertRefund, outRefundNo, orderID, idemKey, hash, amountFen, reason, ms(now))
	return err
}

// InsertWeChatRefund stores, once under its out_refund_no, a refund WeChat
// reports and this server did not make, in state status (settled at
// settled, unless zero); ok is false when the refund is known already.
func (t *wtx) InsertWeChatRefund(r RefundResult, orderID int64, status string, now, settled time.Time) (ok bool, err error) {
	var settledAt, refundID any
	if !settled.IsZero() {
		settledAt = ms(settled)
	}
	if r.RefundID != "" {
		refundID = r.RefundID
	}
	return affected(t.Exec(sqlInsertWeChatRefund,
		r.OutRefundNo, orderID, "wechat:"+r.OutRefundNo, r.RefundFen, status, refundID, ms(now), settledAt))
}

// RefuseRefund marks a pending refund refused by WeChat, for failure; ok
// is false when it was no longer pending.
func (t *wtx) RefuseRefund(outRefundNo, failure string, now time.Time) (ok bool, err error) {
	return affected(t.Exec(sqlRefundRefused, failure, ms(now), outRefundNo))
}

// RefundForResult returns what checking a refund outcome against the
// stored refund needs.
func (t *wtx) RefundForResult(outRefundNo string) (orderID, amountFen int64, outTradeNo string, ok bool, err error) {
	ok, err = found(t.QueryRow(sqlRefundForResult, outRefundNo).Scan(&orderID, &amountFen, &outTradeNo))
	return orderID, amountFen, outTradeNo, ok, err
}

// SettleRefund moves a pending or processing refund to its final status;
// ok is false when it was settled already.
func (t *wtx) SettleRefund(outRefundNo, status string, settled time.Time, refundID string) (ok bool, err error) {
	return affected(t.Exec(sqlSettleRefund, status, ms(settled), refundID, outRefundNo))
}

// RefundByKey is [wtx.RefundByKey] outside a transaction, where the
// writes happen.
func (st *sqlStore) RefundByKey(ctx context.Context, idemKey string) (orderID int64, hash, outRefundNo string, ok bool, err error) {
	ok, err = found(st.db.W.QueryRowContext(ctx, sqlRefundByKey, idemKey).Scan(&orderID, &hash, &outRefundNo))
	return orderID, hash, outRefundNo, ok, err
}

// RefundRow returns refund outRefundNo with its payment, read where the
// writes happen; sql.ErrNoRows when there is none.
func (st *sqlStore) RefundRow(ctx context.Context, outRefundNo string) (*refundRow, error) {
	return scanRefund(st.db.W.QueryRowContext(ctx, sqlRefundRow, outRefundNo))
}

// MarkRefundProcessing records that WeChat accepted a pending refund as
// refundID.
func (st *sqlStore) MarkRefundProcessing(ctx context.Context, outRefundNo, refundID string) error {
	_, err := st.db.W.ExecContext(ctx, sqlRefundProcessing, refundID, outRefundNo)
	return err
}

// affected reports whether an UPDATE or INSERT changed a row.
func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
