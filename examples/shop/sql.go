package shop

import (
	"context"
	"database/sql"
)

// The statements of write transactions, prepared once on the writer
// connection. The SQL is portable (SQLite and PostgreSQL).
const (
	sqlGoodsByID     = `SELECT id, shop_id, name, price_fen FROM goods WHERE id = $1`
	sqlUpsertUser    = `INSERT INTO users (id, openid, created_at) VALUES ($1, $2, $3) ON CONFLICT (openid) DO NOTHING`
	sqlUserByOpenID  = `SELECT id FROM users WHERE openid = $1`
	sqlIdemKey       = `SELECT request_hash, order_id FROM idempotency_keys WHERE user_id = $1 AND key = $2`
	sqlInsertOrder   = `INSERT INTO orders (id, user_id, shop_id, total_fen, status, created_at) VALUES ($1, $2, $3, $4, $5, $6)`
	sqlInsertLine    = `INSERT INTO order_lines (order_id, goods_id, name, price_fen, count) VALUES ($1, $2, $3, $4, $5)`
	sqlInsertIdemKey = `INSERT INTO idempotency_keys (user_id, key, request_hash, order_id, created_at) VALUES ($1, $2, $3, $4, $5)`
	sqlOrderStatus   = `SELECT status FROM orders WHERE id = $1`
	sqlInsertAttempt = `INSERT INTO pay_attempts (out_trade_no, order_id, total_fen, body, client_ip, openid, time_start, time_expire, state, created_at)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, 'open', $9
			WHERE NOT EXISTS (SELECT 1 FROM pay_attempts WHERE order_id = $2 AND state = 'open')`
	sqlCloseAttempt  = `UPDATE pay_attempts SET state = 'closed' WHERE out_trade_no = $1 AND state = 'open'`
	sqlCloseOrder    = `UPDATE orders SET status = $1, closed_at = $2 WHERE id = $3 AND status = $4`
	sqlSettleAttempt = `SELECT a.order_id, a.total_fen, o.status FROM pay_attempts a JOIN orders o ON o.id = a.order_id
			WHERE a.out_trade_no = $1`
	sqlPaymentByTxn  = `SELECT out_trade_no FROM payments WHERE transaction_id = $1`
	sqlPayOrder      = `UPDATE orders SET status = $1, paid_at = $2, transaction_id = $3 WHERE id = $4 AND status = $5`
	sqlInsertPayment = `INSERT INTO payments (transaction_id, order_id, out_trade_no, total_fen, source, time_end, received_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`
	sqlAttemptPaid   = `UPDATE pay_attempts SET state = 'paid' WHERE out_trade_no = $1`
	sqlInsertAnomaly = `INSERT INTO anomalies (id, kind, out_trade_no, transaction_id, total_fen, source, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kind, out_trade_no, transaction_id) DO NOTHING`
)

var writeQueries = []string{sqlGoodsByID, sqlUpsertUser, sqlUserByOpenID, sqlIdemKey, sqlInsertOrder, sqlInsertLine, sqlInsertIdemKey, sqlOrderStatus, sqlInsertAttempt, sqlCloseAttempt, sqlCloseOrder, sqlSettleAttempt, sqlPaymentByTxn, sqlPayOrder, sqlInsertPayment, sqlAttemptPaid, sqlInsertAnomaly}

// wtx is a write transaction that runs the prepared form of the
// statements in writeQueries and plain SQL for any other.
type wtx struct {
	*sql.Tx
	ctx   context.Context
	stmts map[string]*sql.Stmt
}

// Exec runs q in the transaction.
func (t *wtx) Exec(q string, args ...any) (sql.Result, error) {
	if st, ok := t.stmts[q]; ok {
		return t.Tx.StmtContext(t.ctx, st).ExecContext(t.ctx, args...)
	}
	return t.Tx.ExecContext(t.ctx, q, args...)
}

// Query runs q in the transaction.
func (t *wtx) Query(q string, args ...any) (*sql.Rows, error) {
	if st, ok := t.stmts[q]; ok {
		return t.Tx.StmtContext(t.ctx, st).QueryContext(t.ctx, args...)
	}
	return t.Tx.QueryContext(t.ctx, q, args...)
}

// QueryRow runs q in the transaction.
func (t *wtx) QueryRow(q string, args ...any) *sql.Row {
	if st, ok := t.stmts[q]; ok {
		return t.Tx.StmtContext(t.ctx, st).QueryRowContext(t.ctx, args...)
	}
	return t.Tx.QueryRowContext(t.ctx, q, args...)
}
