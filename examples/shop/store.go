package shop

// The store: the SQL of the service's users, catalogue, orders, payment
// attempts, payments and anomalies, behind methods that speak the
// domain's types. service.go holds the rules and calls these; it writes no
// SQL. Every statement is portable (SQLite and PostgreSQL) and takes its
// values as parameters (TestQueriesAreParameterised).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The statements of write transactions, prepared once on the writer
// connection.
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

// The statements on the reader pool, prepared once: parsing SQL costs more
// than running these.
const (
	// COUNT(*) OVER () returns the total with the page, in one query.
	shopsQuery = `SELECT id, name, address, COUNT(*) OVER () FROM shops ORDER BY id LIMIT $1 OFFSET $2`
	goodsQuery = `SELECT id, shop_id, name, price_fen, COUNT(*) OVER () FROM goods WHERE shop_id = $1 ORDER BY id LIMIT $2 OFFSET $3`
	userQuery  = `SELECT openid FROM users WHERE id = $1`
)

// store is the service's access to its database, with its prepared
// statements.
type store struct {
	db                             *DB
	shopsStmt, goodsStmt, userStmt *sql.Stmt
	wstmts                         map[string]*sql.Stmt // by query text
}

// newStore prepares the statements on db.
func newStore(db *DB) (*store, error) {
	st := &store{db: db}
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{{&st.shopsStmt, shopsQuery}, {&st.goodsStmt, goodsQuery}, {&st.userStmt, userQuery}} {
		ps, err := db.R.Prepare(p.q)
		if err != nil {
			return nil, fmt.Errorf("shop: prepare: %w", err)
		}
		*p.dst = ps
	}
	// Prepared on the writer before any transaction holds its one
	// connection (preparing on the pool during one would wait forever).
	st.wstmts = make(map[string]*sql.Stmt, len(writeQueries))
	for _, q := range writeQueries {
		ps, err := db.W.Prepare(q)
		if err != nil {
			return nil, fmt.Errorf("shop: prepare: %w", err)
		}
		st.wstmts[q] = ps
	}
	return st, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// tx runs fn in a write transaction (BEGIN IMMEDIATE) and commits it. The
// transaction runs on a context detached from the caller's cancellation,
// with its own deadline: a client hanging up must not roll back a commit
// that is already under way (database/sql rolls back asynchronously on
// cancel, and the commit's outcome would then be unknown).
func (st *store) tx(ctx context.Context, fn func(tx *wtx) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	// On PostgreSQL a transaction may lose a race to a concurrent one (a
	// unique violation, a deadlock): run it again, and it sees the winner.
	for range 4 {
		err := st.tx1(ctx, fn)
		if !st.db.retryable(err) {
			return err
		}
	}
	return st.tx1(ctx, fn)
}

func (st *store) tx1(ctx context.Context, fn func(tx *wtx) error) error {
	sqltx, err := st.db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("shop: begin: %w", err)
	}
	tx := &wtx{Tx: sqltx, ctx: ctx, stmts: st.wstmts}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("shop: commit: %w", err)
	}
	return nil
}

// found turns sql.ErrNoRows into ok == false.
func found(err error) (ok bool, _ error) {
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// --- users -------------------------------------------------------------

// upsertUser creates the user of openID unless it exists (id is the new
// user's), and returns the user's id either way.
func (t *wtx) upsertUser(id int64, openID string, now time.Time) (int64, error) {
	if _, err := t.Exec(sqlUpsertUser, id, openID, ms(now)); err != nil {
		return 0, err
	}
	var got int64
	return got, t.QueryRow(sqlUserByOpenID, openID).Scan(&got)
}

// userOpenID returns the openid of user id; ok is false when there is none.
func (st *store) userOpenID(ctx context.Context, id int64) (openID string, ok bool, err error) {
	ok, err = found(st.userStmt.QueryRowContext(ctx, id).Scan(&openID))
	return openID, ok, err
}

// --- catalogue ---------------------------------------------------------

// shopsPage returns a page of shops, by id, and how many there are.
func (st *store) shopsPage(ctx context.Context, limit, offset int) (items []Shop, total int, err error) {
	items = []Shop{}
	rows, err := st.shopsStmt.QueryContext(ctx, limit, offset)
	if err != nil {
		return items, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var sh Shop
		if err := rows.Scan(&sh.ID, &sh.Name, &sh.Address, &total); err != nil {
			return items, total, err
		}
		items = append(items, sh)
	}
	if err := rows.Err(); err != nil || len(items) > 0 {
		return items, total, err
	}
	// A page past the end: count separately.
	return items, total, st.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM shops`).Scan(&total)
}

// goodsPage returns a page of a shop's goods, by id, and how many it has;
// ok is false when there is no such shop.
func (st *store) goodsPage(ctx context.Context, shopID int64, limit, offset int) (items []Goods, total int, ok bool, err error) {
	items = []Goods{}
	rows, err := st.goodsStmt.QueryContext(ctx, shopID, limit, offset)
	if err != nil {
		return items, 0, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var g Goods
		if err := rows.Scan(&g.ID, &g.ShopID, &g.Name, &g.PriceFen, &total); err != nil {
			return items, total, false, err
		}
		items = append(items, g)
	}
	if err := rows.Err(); err != nil || len(items) > 0 {
		return items, total, err == nil, err
	}
	// An empty page: past the end, or no such shop.
	var exists int
	if ok, err := found(st.db.R.QueryRowContext(ctx, `SELECT 1 FROM shops WHERE id = $1`, shopID).Scan(&exists)); !ok {
		return items, 0, false, err
	}
	return items, total, true, st.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM goods WHERE shop_id = $1`, shopID).Scan(&total)
}

// goodsByID returns goods id; ok is false when there is none.
func (t *wtx) goodsByID(id int64) (g Goods, ok bool, err error) {
	ok, err = found(t.QueryRow(sqlGoodsByID, id).Scan(&g.ID, &g.ShopID, &g.Name, &g.PriceFen))
	return g, ok, err
}

// shopName returns the name of shop id.
func (st *store) shopName(ctx context.Context, id int64) (string, error) {
	var name string
	return name, st.db.W.QueryRowContext(ctx, `SELECT name FROM shops WHERE id = $1`, id).Scan(&name)
}

// --- orders ------------------------------------------------------------

// idemKey returns the request hash and order of a user's Idempotency-Key;
// ok is false when the key is new.
func (t *wtx) idemKey(userID int64, key string) (hash string, orderID int64, ok bool, err error) {
	ok, err = found(t.QueryRow(sqlIdemKey, userID, key).Scan(&hash, &orderID))
	return hash, orderID, ok, err
}

// insertOrder stores a new order of userID with its lines and, when key is
// not empty, its Idempotency-Key with the request's hash.
func (t *wtx) insertOrder(o Order, userID int64, key, hash string) error {
	now := ms(o.CreatedAt)
	if _, err := t.Exec(sqlInsertOrder, o.ID, userID, o.ShopID, o.TotalFen, o.Status, now); err != nil {
		return err
	}
	for _, l := range o.Lines {
		if _, err := t.Exec(sqlInsertLine, o.ID, l.GoodsID, l.Name, l.PriceFen, l.Count); err != nil {
			return err
		}
	}
	if key == "" {
		return nil
	}
	_, err := t.Exec(sqlInsertIdemKey, userID, key, hash, o.ID, now)
	return err
}

// orderStatus returns the status of order id.
func (t *wtx) orderStatus(id int64) (string, error) {
	var status string
	return status, t.QueryRow(sqlOrderStatus, id).Scan(&status)
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// order loads one order of userID, with its lines and refunds, from q (the
// readers, or the writer to see a commit just made); ok is false when
// userID has no such order.
func (st *store) order(ctx context.Context, q querier, userID, id int64) (o Order, ok bool, err error) {
	var created int64
	var paid sql.NullInt64
	ok, err = found(q.QueryRowContext(ctx, `SELECT id, shop_id, status, total_fen, created_at, paid_at FROM orders WHERE id = $1 AND user_id = $2`,
		id, userID).Scan(&o.ID, &o.ShopID, &o.Status, &o.TotalFen, &created, &paid))
	if !ok {
		return Order{}, false, err
	}
	o.CreatedAt = fromMS(created)
	if paid.Valid {
		t := fromMS(paid.Int64)
		o.PaidAt = &t
		if err := loadRefunds(ctx, q, &o); err != nil {
			return Order{}, false, err
		}
	}
	return o, true, loadLines(ctx, q, []*Order{&o})
}

// loadLines fills in the lines of os, in one query.
func loadLines(ctx context.Context, q querier, os []*Order) error {
	if len(os) == 0 {
		return nil
	}
	byID := make(map[int64]*Order, len(os))
	args := make([]any, len(os))
	ph := make([]string, len(os))
	for i, o := range os {
		byID[o.ID] = o
		o.Lines = []Line{}
		args[i] = o.ID
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	rows, err := q.QueryContext(ctx, `SELECT order_id, goods_id, name, price_fen, count FROM order_lines WHERE order_id IN (`+
		strings.Join(ph, ",")+`) ORDER BY order_id, goods_id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var l Line
		if err := rows.Scan(&id, &l.GoodsID, &l.Name, &l.PriceFen, &l.Count); err != nil {
			return err
		}
		l.SubtotalFen = l.PriceFen * l.Count // checked when the order was placed
		byID[id].Lines = append(byID[id].Lines, l)
	}
	return rows.Err()
}

// userOrders returns a page of userID's orders, newest first, with their
// lines, and how many there are.
func (st *store) userOrders(ctx context.Context, userID int64, limit, offset int) (items []Order, total int, err error) {
	items = []Order{}
	if err := st.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders WHERE user_id = $1`, userID).Scan(&total); err != nil {
		return items, 0, err
	}
	rows, err := st.db.R.QueryContext(ctx, `SELECT id, shop_id, status, total_fen, created_at, paid_at FROM orders
		WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`, userID, limit, offset)
	if err != nil {
		return items, total, err
	}
	defer rows.Close()
	for rows.Next() {
		var o Order
		var created int64
		var paid sql.NullInt64
		if err := rows.Scan(&o.ID, &o.ShopID, &o.Status, &o.TotalFen, &created, &paid); err != nil {
			return items, total, err
		}
		o.CreatedAt = fromMS(created)
		if paid.Valid {
			t := fromMS(paid.Int64)
			o.PaidAt = &t
		}
		items = append(items, o)
	}
	if err := rows.Err(); err != nil {
		return items, total, err
	}
	ptrs := make([]*Order, len(items))
	for i := range items {
		ptrs[i] = &items[i]
	}
	return items, total, loadLines(ctx, st.db.R, ptrs)
}

// closeOrder closes an unpaid order.
func (t *wtx) closeOrder(orderID int64, now time.Time) error {
	_, err := t.Exec(sqlCloseOrder, StatusClosed, ms(now), orderID, StatusUnpaid)
	return err
}

// --- payment attempts --------------------------------------------------

type attempt struct {
	PrepayRequest
	OrderID  int64
	PrepayID string
	State    string
}

// prepaidOutTradeNo returns the out_trade_no of an order's open attempt
// that has a prepay_id; ok is false when there is none.
func (st *store) prepaidOutTradeNo(ctx context.Context, orderID int64) (otn string, ok bool, err error) {
	ok, err = found(st.db.R.QueryRowContext(ctx, `SELECT out_trade_no FROM pay_attempts WHERE order_id = $1 AND state = 'open' AND prepay_id IS NOT NULL`,
		orderID).Scan(&otn))
	return otn, ok, err
}

// openAttempt returns an order's open attempt, or nil.
func (st *store) openAttempt(ctx context.Context, orderID int64) (*attempt, error) {
	return st.attemptWhere(ctx, `order_id = $1 AND state = 'open'`, orderID)
}

// attemptByOutTradeNo returns the attempt of an out_trade_no, or nil.
func (st *store) attemptByOutTradeNo(ctx context.Context, outTradeNo string) (*attempt, error) {
	return st.attemptWhere(ctx, `out_trade_no = $1`, outTradeNo)
}

func (st *store) attemptWhere(ctx context.Context, where string, arg any) (*attempt, error) {
	var a attempt
	var start, expire int64
	var prepay sql.NullString
	err := st.db.W.QueryRowContext(ctx, `SELECT out_trade_no, order_id, total_fen, body, client_ip, openid, time_start, time_expire, prepay_id, state
		FROM pay_attempts WHERE `+where, arg).Scan(&a.OutTradeNo, &a.OrderID, &a.TotalFen, &a.Body, &a.ClientIP, &a.OpenID,
		&start, &expire, &prepay, &a.State)
	if ok, err := found(err); !ok {
		return nil, err
	}
	a.TimeStart, a.TimeExpire, a.PrepayID = fromMS(start), fromMS(expire), prepay.String
	return &a, nil
}

// setPrepayID records the prepay_id WeChat gave an out_trade_no, unless
// one is recorded already.
func (st *store) setPrepayID(ctx context.Context, outTradeNo, prepayID string) error {
	_, err := st.db.W.ExecContext(ctx, `UPDATE pay_attempts SET prepay_id = $1 WHERE out_trade_no = $2 AND prepay_id IS NULL`,
		prepayID, outTradeNo)
	return err
}

// insertAttempt stores a's parameters as the open attempt of orderID;
// ok is false when the order has an open attempt already.
func (t *wtx) insertAttempt(a PrepayRequest, orderID int64, now time.Time) (ok bool, err error) {
	res, err := t.Exec(sqlInsertAttempt,
		a.OutTradeNo, orderID, a.TotalFen, a.Body, a.ClientIP, a.OpenID, ms(a.TimeStart), ms(a.TimeExpire), ms(now))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// closeAttempt marks an open out_trade_no closed; ok is false when it was
// not open.
func (t *wtx) closeAttempt(outTradeNo string) (ok bool, err error) {
	res, err := t.Exec(sqlCloseAttempt, outTradeNo)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// --- payments ----------------------------------------------------------

// settleAttempt returns what settling an out_trade_no needs: its order,
// the amount due and the order's status; ok is false for an out_trade_no
// the shop never issued.
func (t *wtx) settleAttempt(outTradeNo string) (orderID, totalFen int64, status string, ok bool, err error) {
	ok, err = found(t.QueryRow(sqlSettleAttempt, outTradeNo).Scan(&orderID, &totalFen, &status))
	return orderID, totalFen, status, ok, err
}

// paymentByTransaction returns the out_trade_no a transaction_id paid;
// ok is false when it is new.
func (t *wtx) paymentByTransaction(transactionID string) (outTradeNo string, ok bool, err error) {
	ok, err = found(t.QueryRow(sqlPaymentByTxn, transactionID).Scan(&outTradeNo))
	return outTradeNo, ok, err
}

// payOrder records p as the payment of the unpaid orderID: the order
// paid, the payment under its unique transaction_id, the attempt paid. ok
// is false, with nothing written, when the order is no longer unpaid.
func (t *wtx) payOrder(orderID int64, p Payment, source string, now time.Time) (ok bool, err error) {
	res, err := t.Exec(sqlPayOrder, StatusPaid, ms(p.TimeEnd), p.TransactionID, orderID, StatusUnpaid)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if _, err := t.Exec(sqlInsertPayment, p.TransactionID, orderID, p.OutTradeNo, p.TotalFen, source, ms(p.TimeEnd), ms(now)); err != nil {
		return false, err
	}
	_, err = t.Exec(sqlAttemptPaid, p.OutTradeNo)
	return err == nil, err
}

// insertAnomaly records a genuine payment result that could not be
// applied, once per kind, out_trade_no and transaction_id.
func (t *wtx) insertAnomaly(id int64, kind string, p Payment, source string, now time.Time) error {
	_, err := t.Exec(sqlInsertAnomaly, id, kind, p.OutTradeNo, p.TransactionID, p.TotalFen, source, ms(now))
	return err
}
