package shop

// The Service against a Store that fails on purpose: the real store
// (SQLite, and PostgreSQL when WXPAY_TEST_POSTGRES names a server) with
// one step of its write transactions made to fail after it ran, so that
// every write before the failure really happened inside the transaction.
// Each test checks that the Service reports the failure (an internal
// error, never a client's code, never a success logged), that the
// database is exactly as it was, and that the same call succeeds once the
// store works again: what a redelivered notification or a repeated click
// then gets.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
)

// errInjected is the failure a faultyStore injects.
var errInjected = errors.New("injected store failure")

// faultyStore is a Store whose write transactions fail at the step named
// fail: a StoreTx method, which runs and then returns errInjected, or
// "commit", which fails after every statement of the transaction ran.
// Reads pass through.
type faultyStore struct {
	Store
	fail string

	mu   sync.Mutex
	hits int // how often the failure was injected
}

var (
	_ Store   = (*faultyStore)(nil)
	_ StoreTx = (*faultyTx)(nil)
)

// at returns errInjected when step is the one to fail.
func (f *faultyStore) at(step string) error {
	if step != f.fail {
		return nil
	}
	f.mu.Lock()
	f.hits++
	f.mu.Unlock()
	return fmt.Errorf("%s: %w", step, errInjected)
}

// injected returns how often the failure was injected.
func (f *faultyStore) injected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

func (f *faultyStore) Update(ctx context.Context, fn func(tx StoreTx) error) error {
	return f.Store.Update(ctx, func(tx StoreTx) error {
		if err := fn(&faultyTx{StoreTx: tx, f: f}); err != nil {
			return err
		}
		return f.at("commit")
	})
}

// The reads a faultyStore fails at step "read": they return what a
// lookup that found nothing returns, with the error.

func (f *faultyStore) UserOpenID(ctx context.Context, userID int64) (string, bool, error) {
	if err := f.at("read"); err != nil {
		return "", false, err
	}
	return f.Store.UserOpenID(ctx, userID)
}

func (f *faultyStore) GoodsPage(ctx context.Context, shopID int64, limit, offset int) ([]Goods, int, bool, error) {
	if err := f.at("read"); err != nil {
		return []Goods{}, 0, false, err
	}
	return f.Store.GoodsPage(ctx, shopID, limit, offset)
}

func (f *faultyStore) Order(ctx context.Context, userID, orderID int64) (Order, bool, error) {
	if err := f.at("read"); err != nil {
		return Order{}, false, err
	}
	return f.Store.Order(ctx, userID, orderID)
}

func (f *faultyStore) LatestOrder(ctx context.Context, userID, orderID int64) (Order, bool, error) {
	if err := f.at("read"); err != nil {
		return Order{}, false, err
	}
	return f.Store.LatestOrder(ctx, userID, orderID)
}

func (f *faultyStore) Attempt(ctx context.Context, outTradeNo string) (*Attempt, error) {
	if err := f.at("read"); err != nil {
		return nil, err
	}
	return f.Store.Attempt(ctx, outTradeNo)
}

// faultyTx is the StoreTx of a faultyStore: each write step runs on the
// real transaction first, then may fail.
type faultyTx struct {
	StoreTx
	f *faultyStore
}

func (t *faultyTx) UpsertUser(newID int64, openID string, now time.Time) (int64, error) {
	id, err := t.StoreTx.UpsertUser(newID, openID, now)
	return id, errors.Join(err, t.f.at("UpsertUser"))
}

func (t *faultyTx) InsertOrder(o Order, userID int64, key, hash string) error {
	return errors.Join(t.StoreTx.InsertOrder(o, userID, key, hash), t.f.at("InsertOrder"))
}

func (t *faultyTx) CloseOrder(orderID int64, now time.Time) error {
	return errors.Join(t.StoreTx.CloseOrder(orderID, now), t.f.at("CloseOrder"))
}

func (t *faultyTx) InsertAttempt(a PrepayRequest, orderID int64, now time.Time) (bool, error) {
	ok, err := t.StoreTx.InsertAttempt(a, orderID, now)
	return ok, errors.Join(err, t.f.at("InsertAttempt"))
}

func (t *faultyTx) CloseAttempt(outTradeNo string) (bool, error) {
	ok, err := t.StoreTx.CloseAttempt(outTradeNo)
	return ok, errors.Join(err, t.f.at("CloseAttempt"))
}

func (t *faultyTx) ScheduleJob(j *Jobs, args river.JobArgs, at time.Time) error {
	return errors.Join(t.StoreTx.ScheduleJob(j, args, at), t.f.at("ScheduleJob"))
}

func (t *faultyTx) PaymentDue(outTradeNo string) (int64, int64, string, bool, error) {
	orderID, total, status, ok, err := t.StoreTx.PaymentDue(outTradeNo)
	return orderID, total, status, ok, errors.Join(err, t.f.at("PaymentDue"))
}

func (t *faultyTx) PaymentByTransaction(transactionID string) (string, bool, error) {
	otn, ok, err := t.StoreTx.PaymentByTransaction(transactionID)
	return otn, ok, errors.Join(err, t.f.at("PaymentByTransaction"))
}

func (t *faultyTx) PayOrder(orderID int64, p Payment, source string, now time.Time) (bool, error) {
	ok, err := t.StoreTx.PayOrder(orderID, p, source, now)
	return ok, errors.Join(err, t.f.at("PayOrder"))
}

func (t *faultyTx) RecordAnomaly(id int64, kind string, p Payment, source string, now time.Time) error {
	return errors.Join(t.StoreTx.RecordAnomaly(id, kind, p, source, now), t.f.at("RecordAnomaly"))
}

// snapshot returns every row of the tables the Service writes, the job
// queue's included, as text, in a stable order.
func snapshot(t *testing.T, db *DB) []string {
	t.Helper()
	var out []string
	for _, table := range []string{"users", "orders", "order_lines", "idempotency_keys", "pay_attempts", "payments",
		"anomalies", "refunds", "river_job"} {
		rows, err := db.R.QueryContext(context.Background(), `SELECT * FROM `+table)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			b.WriteString(table)
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, " %s=%v", cols[i], v)
			}
			out = append(out, b.String())
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	slices.Sort(out)
	return out
}

// faultFixture is a test's start: a real-mode Service whose log the test
// reads, a buyer, and a function that puts a failing store under the
// Service (and takes it away with step "").
func faultFixture(t *testing.T, db *DB) (s *Service, u User, pay *fakePay, clock *testClock, log *bytes.Buffer, failAt func(step string) *faultyStore) {
	t.Helper()
	clock, pay = newClock(), &fakePay{}
	s = newTestService(t, db, pay, fakeLogin{}, clock)
	log = new(bytes.Buffer)
	s.log = slog.New(slog.NewTextHandler(log, nil))
	u = mustLogin(t, s)
	real := s.store
	failAt = func(step string) *faultyStore {
		if step == "" {
			s.store = real
			return nil
		}
		f := &faultyStore{Store: real, fail: step}
		s.store = f
		return f
	}
	return s, u, pay, clock, log, failAt
}

// wantFailed fails t unless err is the injected failure, reported as an
// internal error (the client sees a 500 and repeats the request, never
// a refusal of its own), and f injected it exactly once.
func wantFailed(t *testing.T, err error, f *faultyStore, prefix string) {
	t.Helper()
	if !errors.Is(err, errInjected) {
		t.Fatalf("error %v, want the store's failure", err)
	}
	if ErrorCode(err) != CodeInternal {
		t.Errorf("error code %s, want %s", ErrorCode(err), CodeInternal)
	}
	if prefix != "" && !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("error %q does not start with %q", err, prefix)
	}
	if n := f.injected(); n != 1 {
		t.Errorf("the failure was injected %d times, want once", n)
	}
}

// wantUnchanged fails t unless the database still holds exactly before.
func wantUnchanged(t *testing.T, db *DB, before []string) {
	t.Helper()
	after := snapshot(t, db)
	if !slices.Equal(before, after) {
		t.Errorf("a failed transaction changed the store:\nbefore %q\nafter  %q", before, after)
	}
}

// TestServiceSettleStoreFails: a store failure at any step of settling a
// payment (each a point where earlier writes of the transaction already
// happened) is reported by Settle, so the notification handler does not
// answer SUCCESS; nothing is written and nothing logged as settled; and
// the same result delivered again once the store works settles it once.
func TestServiceSettleStoreFails(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s, u, _, clock, log, failAt := faultFixture(t, db)
		for i, tt := range []struct {
			step string
			// pay returns the result to settle for o and its out_trade_no.
			pay        func(o Order, otn string) Payment
			wantStatus string // once the store works
			wantLog    string // once the store works
		}{
			{"PaymentDue", paidResult, StatusPaid, "order paid"},
			{"PaymentByTransaction", paidResult, StatusPaid, "order paid"},
			{"PayOrder", paidResult, StatusPaid, "order paid"},
			{"commit", paidResult, StatusPaid, "order paid"},
			{"commit", func(o Order, otn string) Payment { // with a refund WeChat made
				p := paidResult(o, otn)
				p.Refunds = []RefundResult{{OutTradeNo: otn, OutRefundNo: "wx-refund-" + otn, RefundID: "5030" + otn, RefundFen: 100,
					Status: "SUCCESS", SuccessTime: clock.Now()}}
				return p
			}, StatusPaid, "refund made at WeChat recorded"},
			{"RecordAnomaly", func(o Order, otn string) Payment { // the wrong amount
				p := paidResult(o, otn)
				p.TotalFen--
				return p
			}, StatusUnpaid, "payment anomaly recorded"},
		} {
			t.Run(fmt.Sprintf("%d-%s", i, tt.step), func(t *testing.T) {
				o := mustOrder(t, s, u, 102, 1)
				otn := mustPay(t, s, u, o).OutTradeNo
				p := tt.pay(o, otn)
				before := snapshot(t, db)
				log.Reset()

				f := failAt(tt.step)
				defer failAt("")
				wantFailed(t, s.Settle(ctx, p, "notify"), f, "shop: settle: ")
				wantUnchanged(t, db, before)
				if strings.Contains(log.String(), tt.wantLog) {
					t.Errorf("a failed settlement logged %q:\n%s", tt.wantLog, log)
				}

				failAt("")
				if err := s.Settle(ctx, p, "notify"); err != nil {
					t.Fatalf("the result delivered again: %v", err)
				}
				got, err := s.GetOrder(ctx, u, o.ID)
				if err != nil || got.Status != tt.wantStatus {
					t.Errorf("order %+v, %v; want %s", got, err, tt.wantStatus)
				}
				if len(p.Refunds) > 0 && (len(got.Refunds) != 1 || got.Refunds[0].OutRefundNo != p.Refunds[0].OutRefundNo) {
					t.Errorf("refunds %+v, want WeChat's one", got.Refunds)
				}
				if n := strings.Count(log.String(), tt.wantLog); n != 1 {
					t.Errorf("the failed settlement and its retry logged %q %d times, want once:\n%s", tt.wantLog, n, log)
				}
			})
		}
	})
}

// paidResult is WeChat's word that otn, the out_trade_no of o, was paid
// in full.
func paidResult(o Order, otn string) Payment {
	return Payment{OutTradeNo: otn, TransactionID: fmt.Sprintf("4200%d", o.ID), TotalFen: o.TotalFen, Paid: true,
		TimeEnd: o.CreatedAt.Add(time.Minute).Truncate(time.Second)}
}

// TestServicePayStoreFails: when storing a new out_trade_no (its
// parameters, or the reconciliation job that commits with it) fails, Pay
// reports it, WeChat is never asked to prepay an out_trade_no the shop
// does not hold, and nothing is left behind; the next click pays.
func TestServicePayStoreFails(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s, u, pay, _, _, failAt := faultFixture(t, db)
		for _, step := range []string{"InsertAttempt", "ScheduleJob", "commit"} {
			t.Run(step, func(t *testing.T) {
				o := mustOrder(t, s, u, 201, 1)
				before := snapshot(t, db)
				prepays0, _, _ := pay.calls()

				f := failAt(step)
				defer failAt("")
				_, err := s.Pay(ctx, u, o.ID, "198.51.100.1")
				wantFailed(t, err, f, "")
				wantUnchanged(t, db, before)
				if prepays, _, _ := pay.calls(); len(prepays) != len(prepays0) {
					t.Errorf("WeChat was asked to prepay %+v, which the shop did not store", prepays[len(prepays0):])
				}

				failAt("")
				res := mustPay(t, s, u, o)
				prepays, _, _ := pay.calls()
				if len(prepays) != len(prepays0)+1 || prepays[len(prepays)-1].OutTradeNo != res.OutTradeNo {
					t.Errorf("prepays %+v after the click that worked, want one more, of %s", prepays[len(prepays0):], res.OutTradeNo)
				}
			})
		}
	})
}

// TestServiceCreateOrderStoreFails: an order whose transaction fails
// after its rows (and its Idempotency-Key) were written is not placed,
// and the same request repeated with the same key places it then, as a
// new order.
func TestServiceCreateOrderStoreFails(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s, u, _, _, _, failAt := faultFixture(t, db)
		items := []Item{{GoodsID: 101, Count: 2}, {GoodsID: 104, Count: 1}}
		for _, step := range []string{"InsertOrder", "commit"} {
			t.Run(step, func(t *testing.T) {
				key := "order-" + step
				before := snapshot(t, db)
				f := failAt(step)
				defer failAt("")
				_, _, err := s.CreateOrder(ctx, u, items, key)
				wantFailed(t, err, f, "")
				wantUnchanged(t, db, before)

				failAt("")
				o, created, err := s.CreateOrder(ctx, u, items, key)
				if err != nil || !created || o.TotalFen != 2*1800+1500 {
					t.Fatalf("repeated: %+v, created %v, %v; want a new order of ¥51.00", o, created, err)
				}
				if again, created, err := s.CreateOrder(ctx, u, items, key); err != nil || created || again.ID != o.ID {
					t.Errorf("the key once more: %+v, created %v, %v; want order %d", again, created, err, o.ID)
				}
			})
		}
	})
}

// TestServiceLoginStoreFails: a first login whose user cannot be stored
// is refused, with no user left behind, and the next login creates it.
func TestServiceLoginStoreFails(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s, _, _, _, _, failAt := faultFixture(t, db)
		for _, step := range []string{"UpsertUser", "commit"} {
			t.Run(step, func(t *testing.T) {
				code := "new-buyer-" + step
				before := snapshot(t, db)
				f := failAt(step)
				defer failAt("")
				_, err := s.Login(ctx, code)
				wantFailed(t, err, f, "shop: login: ")
				wantUnchanged(t, db, before)

				failAt("")
				u, err := s.Login(ctx, code)
				if err != nil || u.OpenID != "o-"+code {
					t.Fatalf("next login: %+v, %v", u, err)
				}
				if got, err := s.UserByID(ctx, u.ID); err != nil || got != u {
					t.Errorf("UserByID(%d) = %+v, %v; want %+v", u.ID, got, err, u)
				}
			})
		}
	})
}

// TestServiceReconcileStoreFails: when closing an expired out_trade_no
// and its order fails half-way (the attempt closed, then the order not),
// Reconcile reports it, so the job runs again, and the out_trade_no stays
// open with its order unpaid; the next run closes both.
func TestServiceReconcileStoreFails(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s, u, pay, clock, _, failAt := faultFixture(t, db)
		for _, step := range []string{"CloseAttempt", "CloseOrder", "commit"} {
			t.Run(step, func(t *testing.T) {
				o := mustOrder(t, s, u, 303, 1)
				otn := mustPay(t, s, u, o).OutTradeNo
				clock.Add(20 * time.Minute) // past its expiry
				pay.QueryFn = func(string) (QueryState, *Payment, error) { return QueryNotPaid, nil, nil }
				before := snapshot(t, db)

				f := failAt(step)
				defer failAt("")
				_, _, err := s.Reconcile(ctx, otn)
				wantFailed(t, err, f, "shop: reconcile: ")
				wantUnchanged(t, db, before)
				if a, err := s.store.Attempt(ctx, otn); err != nil || a == nil || a.State != "open" {
					t.Errorf("attempt %+v, %v; want still open", a, err)
				}

				failAt("")
				done, _, err := s.Reconcile(ctx, otn)
				if err != nil || !done {
					t.Fatalf("next run: done %v, %v", done, err)
				}
				if got, err := s.GetOrder(ctx, u, o.ID); err != nil || got.Status != StatusClosed {
					t.Errorf("order %+v, %v; want closed", got, err)
				}
			})
		}
	})
}

// TestServiceReadStoreFails: a read that fails is reported as the
// internal error it is, never as "no such order", "no such shop" or
// "unknown user" (a lookup that found nothing looks the same but for the
// error), and no WeChat call is made on what could not be read.
func TestServiceReadStoreFails(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s, u, pay, _, _, failAt := faultFixture(t, db)
		o := mustOrder(t, s, u, 202, 1)
		otn := mustPay(t, s, u, o).OutTradeNo
		for _, tt := range []struct {
			name string
			call func() error
		}{
			{"UserByID", func() error { _, err := s.UserByID(ctx, u.ID); return err }},
			{"ListGoods", func() error { _, err := s.ListGoods(ctx, 1, PageRequest{}); return err }},
			{"GetOrder", func() error { _, err := s.GetOrder(ctx, u, o.ID); return err }},
			{"Pay", func() error { _, err := s.Pay(ctx, u, o.ID, "198.51.100.1"); return err }},
			{"Reconcile", func() error { _, _, err := s.Reconcile(ctx, otn); return err }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				prepays0, queries0, closes0 := pay.calls()
				f := failAt("read")
				defer failAt("")
				wantFailed(t, tt.call(), f, "")
				prepays, queries, closes := pay.calls()
				if len(prepays) != len(prepays0) || len(queries) != len(queries0) || len(closes) != len(closes0) {
					t.Errorf("WeChat was called on a failed read: %d prepays, %d queries, %d closes more",
						len(prepays)-len(prepays0), len(queries)-len(queries0), len(closes)-len(closes0))
				}
				failAt("")
				if err := tt.call(); err != nil {
					t.Errorf("once the store works: %v", err)
				}
			})
		}
	})
}
