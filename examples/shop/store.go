package shop

// The store: what the Service keeps (users, the catalogue, orders with
// their payment attempts, payments, anomalies, refunds) behind the Store
// interface, declared here in the domain's types, and its one
// implementation, on SQL. Every SQL statement of the package lives in
// the store files (store*.go) and db*.go, which open the database: the
// Service's files hold the rules and write no SQL. Every statement is
// portable (SQLite and PostgreSQL) and takes its values as parameters
// (TestQueriesAreParameterised); where the two dialects differ, db.go and
// db_postgres.go handle it (the pools, migrations, which errors lose a
// race).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
)

// Store is what the [Service] keeps. Its reads see every committed write;
// its writes run in transactions through Update, so that a rule checked
// and the change it allows commit together or not at all. Methods that
// look something up return ok == false, with a nil error, when there is
// no such thing. The implementation is on the shop's [DB] (SQLite or
// PostgreSQL); tests wrap it to make a step fail on purpose.
type Store interface {
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error

	// UserOpenID returns the openid of user userID.
	UserOpenID(ctx context.Context, userID int64) (openID string, ok bool, err error)

	// ShopsPage returns limit shops from offset, by id, and how many there
	// are in all.
	ShopsPage(ctx context.Context, limit, offset int) (items []Shop, total int, err error)
	// GoodsPage returns limit of a shop's goods from offset, by id, and how
	// many it has; ok is false when there is no such shop.
	GoodsPage(ctx context.Context, shopID int64, limit, offset int) (items []Goods, total int, ok bool, err error)
	// ShopName returns the name of shop shopID, which must exist.
	ShopName(ctx context.Context, shopID int64) (string, error)

	// Order returns order orderID of user userID, with its lines and (paid)
	// its refunds; another user's order is not found.
	Order(ctx context.Context, userID, orderID int64) (o Order, ok bool, err error)
	// LatestOrder is Order read where the writes happen, for a caller that
	// is about to decide on a write from what it reads.
	LatestOrder(ctx context.Context, userID, orderID int64) (o Order, ok bool, err error)
	// UserOrders returns limit of user userID's orders from offset, newest
	// first, with their lines, and how many there are in all.
	UserOrders(ctx context.Context, userID int64, limit, offset int) (items []Order, total int, err error)

	// PrepaidOutTradeNo returns the out_trade_no of order orderID's open
	// payment attempt once WeChat has given it a prepay_id.
	PrepaidOutTradeNo(ctx context.Context, orderID int64) (outTradeNo string, ok bool, err error)
	// OpenAttempt returns order orderID's open payment attempt, or nil.
	OpenAttempt(ctx context.Context, orderID int64) (*Attempt, error)
	// Attempt returns the payment attempt of outTradeNo, or nil.
	Attempt(ctx context.Context, outTradeNo string) (*Attempt, error)
	// SetPrepayID records the prepay_id WeChat gave outTradeNo, unless one
	// is recorded already.
	SetPrepayID(ctx context.Context, outTradeNo, prepayID string) error

	// Records returns up to limit of each kind of record WeChat holds,
	// newest first (see [WeChatRecords]).
	Records(ctx context.Context, limit int) (WeChatRecords, error)

	// RefundByKey returns the refund stored under an admin's
	// Idempotency-Key; ok is false when the key is new.
	RefundByKey(ctx context.Context, idemKey string) (orderID int64, hash, outRefundNo string, ok bool, err error)
	// RefundRow returns refund outRefundNo with its payment, read where
	// the writes happen; sql.ErrNoRows when there is none.
	RefundRow(ctx context.Context, outRefundNo string) (*refundRow, error)
	// MarkRefundProcessing records that WeChat accepted the pending refund
	// outRefundNo as refundID.
	MarkRefundProcessing(ctx context.Context, outRefundNo, refundID string) error

	// Update runs fn in one write transaction and commits it if fn returns
	// nil; on any error nothing fn did is kept, and the error is returned.
	// fn may run more than once (a transaction that lost a race to a
	// concurrent one runs again and sees the winner), so whatever it sets
	// outside tx it sets afresh on each run. The transaction is not
	// cancelled with ctx once it runs: a client hanging up must not leave
	// the outcome of a commit under way unknown.
	Update(ctx context.Context, fn func(tx StoreTx) error) error
}

// StoreTx is a write transaction of a [Store], inside [Store.Update]. Its
// methods are not safe for concurrent use.
type StoreTx interface {
	// UpsertUser creates the user of openID, under newID, unless it
	// exists, and returns the user's id either way.
	UpsertUser(newID int64, openID string, now time.Time) (userID int64, err error)

	// Goods returns goods goodsID.
	Goods(goodsID int64) (g Goods, ok bool, err error)

	// IdempotencyKey returns the request hash and the order of user
	// userID's Idempotency-Key; ok is false when the key is new.
	IdempotencyKey(userID int64, key string) (hash string, orderID int64, ok bool, err error)
	// InsertOrder stores o, a new order of user userID, with its lines
	// and, when key is not empty, its Idempotency-Key with the request's
	// hash.
	InsertOrder(o Order, userID int64, key, hash string) error
	// OrderStatus returns the status of order orderID, which must exist.
	OrderStatus(orderID int64) (string, error)
	// CloseOrder closes order orderID if it is unpaid.
	CloseOrder(orderID int64, now time.Time) error

	// InsertAttempt stores a as the open payment attempt of order orderID;
	// ok is false, with nothing written, when the order has one already.
	InsertAttempt(a PrepayRequest, orderID int64, now time.Time) (ok bool, err error)
	// CloseAttempt marks an open out_trade_no closed; ok is false when it
	// was not open.
	CloseAttempt(outTradeNo string) (ok bool, err error)
	// ScheduleJob has j run args at at, once only for the same arguments;
	// the job commits with the transaction, so it is never lost nor run
	// for something that was rolled back.
	ScheduleJob(j *Jobs, args river.JobArgs, at time.Time) error

	// PaymentDue returns what settling outTradeNo needs: its order, the
	// amount due and the order's status; ok is false for an out_trade_no
	// the shop never issued.
	PaymentDue(outTradeNo string) (orderID, totalFen int64, status string, ok bool, err error)
	// PaymentByTransaction returns the out_trade_no that transactionID
	// paid; ok is false when the transaction_id is new.
	PaymentByTransaction(transactionID string) (outTradeNo string, ok bool, err error)
	// PayOrder records p as the payment of the unpaid order orderID: the
	// order paid, the payment under its unique transaction_id, the attempt
	// paid. ok is false, with nothing written, when the order is no longer
	// unpaid.
	PayOrder(orderID int64, p Payment, source string, now time.Time) (ok bool, err error)
	// RecordAnomaly records, under id, a genuine payment result that could
	// not be applied, once per kind, out_trade_no and transaction_id.
	RecordAnomaly(id int64, kind string, p Payment, source string, now time.Time) error

	// RefundByKey returns the refund stored under an admin's
	// Idempotency-Key; ok is false when the key is new.
	RefundByKey(idemKey string) (orderID int64, hash, outRefundNo string, ok bool, err error)
	// RefundableOrder returns what deciding on a refund of order orderID
	// needs; ok is false when there is no such order.
	RefundableOrder(orderID int64) (r refundable, ok bool, err error)
	// RefundCount returns how many refunds order orderID has.
	RefundCount(orderID int64) (int, error)
	// ReserveRefund adds amountFen to the paid order's refunded total; ok
	// is false, with nothing written, when that would exceed what was paid.
	ReserveRefund(orderID, amountFen int64) (ok bool, err error)
	// ReleaseRefund gives amountFen back to what order orderID may refund.
	ReleaseRefund(orderID, amountFen int64) error
	// AddRefunded adds a refund WeChat made to order orderID's refunded
	// total, uncapped (WeChat's word).
	AddRefunded(orderID, amountFen int64) error
	// InsertRefund stores a pending refund asked for here.
	InsertRefund(outRefundNo string, orderID int64, idemKey, hash string, amountFen int64, reason string, now time.Time) error
	// InsertWeChatRefund stores, once under its out_refund_no, a refund
	// WeChat reports that this server did not make; ok is false when it is
	// known already.
	InsertWeChatRefund(r RefundResult, orderID int64, status string, now, settled time.Time) (ok bool, err error)
	// RefuseRefund marks a pending refund refused; ok is false when it was
	// no longer pending.
	RefuseRefund(outRefundNo, failure string, now time.Time) (ok bool, err error)
	// RefundForResult returns what checking a refund outcome against the
	// stored refund needs; ok is false for an unknown out_refund_no.
	RefundForResult(outRefundNo string) (orderID, amountFen int64, outTradeNo string, ok bool, err error)
	// SettleRefund moves a pending or processing refund to its final
	// status; ok is false when it was settled already.
	SettleRefund(outRefundNo, status string, settled time.Time, refundID string) (ok bool, err error)
}

// Attempt is a payment attempt: an out_trade_no of an order, with the
// unifiedorder parameters stored for it, so that a repeated request is the
// same request.
type Attempt struct {
	PrepayRequest
	OrderID int64
	// PrepayID is WeChat's prepay_id; empty until WeChat answered.
	PrepayID string
	// State is "open" (payable), "paid" or "closed".
	State string
}

// Compile-time checks that the SQL store is a Store.
var (
	_ Store   = (*sqlStore)(nil)
	_ StoreTx = (*wtx)(nil)
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

// The statements on the reader pool, prepared once: parsing SQL costs more
// than running these.
const (
	// COUNT(*) OVER () returns the total with the page, in one query.
	shopsQuery = `SELECT id, name, address, COUNT(*) OVER () FROM shops ORDER BY id LIMIT $1 OFFSET $2`
	goodsQuery = `SELECT id, shop_id, name, price_fen, COUNT(*) OVER () FROM goods WHERE shop_id = $1 ORDER BY id LIMIT $2 OFFSET $3`
	userQuery  = `SELECT openid FROM users WHERE id = $1`
)

// sqlStore is the Store on the shop's database, with its prepared
// statements.
type sqlStore struct {
	db                             *DB
	shopsStmt, goodsStmt, userStmt *sql.Stmt
	wstmts                         map[string]*sql.Stmt // by query text
}

// newStore prepares the statements on db.
func newStore(db *DB) (*sqlStore, error) {
	st := &sqlStore{db: db}
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

// Ping checks both pools.
func (st *sqlStore) Ping(ctx context.Context) error { return st.db.Ping(ctx) }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// found turns sql.ErrNoRows into ok == false.
func found(err error) (ok bool, _ error) {
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// --- write transactions -------------------------------------------------

// wtx is a write transaction, the StoreTx of the SQL store: it runs the
// prepared form of the statements in writeQueries and plain SQL for any
// other.
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

// Update runs fn in a write transaction (BEGIN IMMEDIATE on SQLite) and
// commits it. The transaction runs on a context detached from the
// caller's cancellation, with its own deadline: a client hanging up must
// not roll back a commit that is already under way (database/sql rolls
// back asynchronously on cancel, and the commit's outcome would then be
// unknown).
func (st *sqlStore) Update(ctx context.Context, fn func(tx StoreTx) error) error {
	return st.tx(ctx, func(tx *wtx) error { return fn(tx) })
}

func (st *sqlStore) tx(ctx context.Context, fn func(tx *wtx) error) error {
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

func (st *sqlStore) tx1(ctx context.Context, fn func(tx *wtx) error) error {
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

// --- users -------------------------------------------------------------

// UpsertUser creates the user of openID unless it exists (newID is the
// new user's), and returns the user's id either way.
func (t *wtx) UpsertUser(newID int64, openID string, now time.Time) (int64, error) {
	if _, err := t.Exec(sqlUpsertUser, newID, openID, ms(now)); err != nil {
		return 0, err
	}
	var got int64
	return got, t.QueryRow(sqlUserByOpenID, openID).Scan(&got)
}

// UserOpenID returns the openid of user userID.
func (st *sqlStore) UserOpenID(ctx context.Context, userID int64) (openID string, ok bool, err error) {
	ok, err = found(st.userStmt.QueryRowContext(ctx, userID).Scan(&openID))
	return openID, ok, err
}

// --- catalogue ---------------------------------------------------------

// ShopsPage returns a page of shops, by id, and how many there are.
func (st *sqlStore) ShopsPage(ctx context.Context, limit, offset int) (items []Shop, total int, err error) {
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

// GoodsPage returns a page of a shop's goods, by id, and how many it has;
// ok is false when there is no such shop.
func (st *sqlStore) GoodsPage(ctx context.Context, shopID int64, limit, offset int) (items []Goods, total int, ok bool, err error) {
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

// Goods returns goods goodsID.
func (t *wtx) Goods(goodsID int64) (g Goods, ok bool, err error) {
	ok, err = found(t.QueryRow(sqlGoodsByID, goodsID).Scan(&g.ID, &g.ShopID, &g.Name, &g.PriceFen))
	return g, ok, err
}

// ShopName returns the name of shop shopID.
func (st *sqlStore) ShopName(ctx context.Context, shopID int64) (string, error) {
	var name string
	return name, st.db.W.QueryRowContext(ctx, `SELECT name FROM shops WHERE id = $1`, shopID).Scan(&name)
}

// --- orders ------------------------------------------------------------

// IdempotencyKey returns the request hash and order of a user's
// Idempotency-Key; ok is false when the key is new.
func (t *wtx) IdempotencyKey(userID int64, key string) (hash string, orderID int64, ok bool, err error) {
	ok, err = found(t.QueryRow(sqlIdemKey, userID, key).Scan(&hash, &orderID))
	return hash, orderID, ok, err
}

// InsertOrder stores a new order of userID with its lines and, when key is
// not empty, its Idempotency-Key with the request's hash.
func (t *wtx) InsertOrder(o Order, userID int64, key, hash string) error {
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

// OrderStatus returns the status of order orderID.
func (t *wtx) OrderStatus(orderID int64) (string, error) {
	var status string
	return status, t.QueryRow(sqlOrderStatus, orderID).Scan(&status)
}

// CloseOrder closes an unpaid order.
func (t *wtx) CloseOrder(orderID int64, now time.Time) error {
	_, err := t.Exec(sqlCloseOrder, StatusClosed, ms(now), orderID, StatusUnpaid)
	return err
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// Order loads one order of userID from the readers.
func (st *sqlStore) Order(ctx context.Context, userID, orderID int64) (Order, bool, error) {
	return st.order(ctx, st.db.R, userID, orderID)
}

// LatestOrder loads one order of userID from the writer, which sees a
// commit just made.
func (st *sqlStore) LatestOrder(ctx context.Context, userID, orderID int64) (Order, bool, error) {
	return st.order(ctx, st.db.W, userID, orderID)
}

// order loads one order of userID, with its lines and refunds, from q;
// ok is false when userID has no such order.
func (st *sqlStore) order(ctx context.Context, q querier, userID, id int64) (o Order, ok bool, err error) {
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

// UserOrders returns a page of userID's orders, newest first, with their
// lines, and how many there are.
func (st *sqlStore) UserOrders(ctx context.Context, userID int64, limit, offset int) (items []Order, total int, err error) {
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

// --- payment attempts --------------------------------------------------

// PrepaidOutTradeNo returns the out_trade_no of an order's open attempt
// that has a prepay_id.
func (st *sqlStore) PrepaidOutTradeNo(ctx context.Context, orderID int64) (otn string, ok bool, err error) {
	ok, err = found(st.db.R.QueryRowContext(ctx, `SELECT out_trade_no FROM pay_attempts WHERE order_id = $1 AND state = 'open' AND prepay_id IS NOT NULL`,
		orderID).Scan(&otn))
	return otn, ok, err
}

// OpenAttempt returns an order's open attempt, or nil.
func (st *sqlStore) OpenAttempt(ctx context.Context, orderID int64) (*Attempt, error) {
	return st.attemptWhere(ctx, `order_id = $1 AND state = 'open'`, orderID)
}

// Attempt returns the attempt of an out_trade_no, or nil.
func (st *sqlStore) Attempt(ctx context.Context, outTradeNo string) (*Attempt, error) {
	return st.attemptWhere(ctx, `out_trade_no = $1`, outTradeNo)
}

func (st *sqlStore) attemptWhere(ctx context.Context, where string, arg any) (*Attempt, error) {
	var a Attempt
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

// SetPrepayID records the prepay_id WeChat gave an out_trade_no, unless
// one is recorded already.
func (st *sqlStore) SetPrepayID(ctx context.Context, outTradeNo, prepayID string) error {
	_, err := st.db.W.ExecContext(ctx, `UPDATE pay_attempts SET prepay_id = $1 WHERE out_trade_no = $2 AND prepay_id IS NULL`,
		prepayID, outTradeNo)
	return err
}

// InsertAttempt stores a's parameters as the open attempt of orderID;
// ok is false when the order has an open attempt already.
func (t *wtx) InsertAttempt(a PrepayRequest, orderID int64, now time.Time) (ok bool, err error) {
	res, err := t.Exec(sqlInsertAttempt,
		a.OutTradeNo, orderID, a.TotalFen, a.Body, a.ClientIP, a.OpenID, ms(a.TimeStart), ms(a.TimeExpire), ms(now))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// CloseAttempt marks an open out_trade_no closed; ok is false when it was
// not open.
func (t *wtx) CloseAttempt(outTradeNo string) (ok bool, err error) {
	res, err := t.Exec(sqlCloseAttempt, outTradeNo)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// ScheduleJob inserts the job in the transaction's own *sql.Tx (river's
// transactional insert), so that the two commit together.
func (t *wtx) ScheduleJob(j *Jobs, args river.JobArgs, at time.Time) error {
	return j.schedule(t.ctx, t.Tx, args, at)
}

// --- payments ----------------------------------------------------------

// PaymentDue returns what settling an out_trade_no needs: its order, the
// amount due and the order's status; ok is false for an out_trade_no the
// shop never issued.
func (t *wtx) PaymentDue(outTradeNo string) (orderID, totalFen int64, status string, ok bool, err error) {
	ok, err = found(t.QueryRow(sqlSettleAttempt, outTradeNo).Scan(&orderID, &totalFen, &status))
	return orderID, totalFen, status, ok, err
}

// PaymentByTransaction returns the out_trade_no a transaction_id paid;
// ok is false when it is new.
func (t *wtx) PaymentByTransaction(transactionID string) (outTradeNo string, ok bool, err error) {
	ok, err = found(t.QueryRow(sqlPaymentByTxn, transactionID).Scan(&outTradeNo))
	return outTradeNo, ok, err
}

// PayOrder records p as the payment of the unpaid orderID: the order
// paid, the payment under its unique transaction_id, the attempt paid. ok
// is false, with nothing written, when the order is no longer unpaid.
func (t *wtx) PayOrder(orderID int64, p Payment, source string, now time.Time) (ok bool, err error) {
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

// RecordAnomaly records a genuine payment result that could not be
// applied, once per kind, out_trade_no and transaction_id.
func (t *wtx) RecordAnomaly(id int64, kind string, p Payment, source string, now time.Time) error {
	_, err := t.Exec(sqlInsertAnomaly, id, kind, p.OutTradeNo, p.TransactionID, p.TotalFen, source, ms(now))
	return err
}
