package shop

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// countingPay answers every query "not paid" and counts the queries: a
// query is what a reconciliation job costs at WeChat.
type countingPay struct {
	stubPay
	queries atomic.Int64
}

func (p *countingPay) Query(context.Context, string) (QueryState, *Payment, error) {
	p.queries.Add(1)
	return QueryNotPaid, nil, nil
}

// forgedReconcile is a reconciliation job as another server would insert
// it, with whatever mode it claims.
type forgedReconcile struct {
	OutTradeNo string `json:"out_trade_no"`
	Mode       string `json:"mode"`
}

func (forgedReconcile) Kind() string { return ReconcileArgs{}.Kind() }

// TestJobOfOtherModeNotRun: a real-mode server never runs a fake-mode
// job, in its own queue or the default one (it is cancelled and WeChat is
// not asked), never fetches the fake queue, and does run its own mode's
// job for the same out_trade_no. On SQLite and on PostgreSQL.
func TestJobOfOtherModeNotRun(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := Open(context.Background(), t.TempDir()+"/jobs.db")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		c, err := river.NewClient(riversqlite.New(db.W), &river.Config{})
		if err != nil {
			t.Fatal(err)
		}
		testOtherModeJob(t, db, func(ctx context.Context, args river.JobArgs, queue string) (int64, error) {
			res, err := c.Insert(ctx, args, &river.InsertOpts{Queue: queue})
			if err != nil {
				return 0, err
			}
			return res.Job.ID, nil
		})
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := OpenPostgres(context.Background(), testPostgres(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		c, err := river.NewClient(riverpgxv5.New(db.pg), &river.Config{})
		if err != nil {
			t.Fatal(err)
		}
		testOtherModeJob(t, db, func(ctx context.Context, args river.JobArgs, queue string) (int64, error) {
			res, err := c.Insert(ctx, args, &river.InsertOpts{Queue: queue})
			if err != nil {
				return 0, err
			}
			return res.Job.ID, nil
		})
	})
}

func testOtherModeJob(t *testing.T, db *DB, insert func(ctx context.Context, args river.JobArgs, queue string) (int64, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Goods 101 is the demo catalogue's, which only fake mode seeds.
	if err := SeedDemo(ctx, db); err != nil {
		t.Fatal(err)
	}
	pay := &countingPay{}
	s, err := NewService(Config{Mode: ModeReal, DB: db, Payments: pay, Login: stubLogin{"o-jobs"}})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := NewJobs(s, nil, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// An open out_trade_no, which a job of any mode would query.
	u, err := s.Login(ctx, "code-jobs")
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := s.CreateOrder(ctx, u, []Item{{GoodsID: 101, Count: 1}}, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Pay(ctx, u, o.ID, "127.0.0.1") // its own job waits 3 minutes
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jobs.Stop(context.Background()) })

	state := func(id int64) string {
		var st string
		if err := db.R.QueryRowContext(ctx, `SELECT state FROM river_job WHERE id = $1`, id).Scan(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	waitState := func(id int64, want ...string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			st := state(id)
			for _, w := range want {
				if st == w {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %d is %s, want %v", id, st, want)
			}
		}
	}
	var forged []int64
	for _, queue := range []string{ModeReal, river.QueueDefault} {
		id, err := insert(ctx, forgedReconcile{OutTradeNo: res.OutTradeNo, Mode: ModeFake}, queue)
		if err != nil {
			t.Fatal(err)
		}
		forged = append(forged, id)
	}
	otherQueue, err := insert(ctx, forgedReconcile{OutTradeNo: res.OutTradeNo, Mode: ModeFake}, ModeFake)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range forged {
		waitState(id, "cancelled")
	}
	if n := pay.queries.Load(); n != 0 {
		t.Fatalf("a fake-mode job made %d WeChat queries on a real-mode server", n)
	}
	own, err := insert(ctx, forgedReconcile{OutTradeNo: res.OutTradeNo, Mode: ModeReal}, ModeReal)
	if err != nil {
		t.Fatal(err)
	}
	waitState(own, "scheduled", "completed") // snoozed: not paid yet
	if n := pay.queries.Load(); n != 1 {
		t.Errorf("the real-mode job made %d queries, want 1", n)
	}
	if st := state(otherQueue); st != "available" {
		t.Errorf("the job in the fake queue is %s: a real-mode server fetched it", st)
	}
}
