package shop

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// ReconcileArgs is the job that settles one out_trade_no whose
// notification may have been lost: it queries WeChat, settles a payment
// through the same transaction as a notification, and closes the
// out_trade_no once it expired unpaid.
type ReconcileArgs struct {
	OutTradeNo string `json:"out_trade_no"`
	// Mode is the mode of the server that inserted the job (ModeFake or
	// ModeReal); a server of the other mode refuses to run it. Empty in
	// jobs inserted before modes were recorded.
	Mode string `json:"mode,omitempty"`
}

// Kind names the job in the queue's table.
func (ReconcileArgs) Kind() string { return "reconcile_payment" }

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	s *Service
}

// Work runs at least once per job. Its effects are idempotent (settling
// and closing are conditional transitions), so a second run after a crash
// changes nothing.
func (w *reconcileWorker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	if err := w.s.ownJob(job.Args.Mode); err != nil {
		return err
	}
	done, after, err := w.s.Reconcile(ctx, job.Args.OutTradeNo)
	if err != nil {
		return err // river retries with backoff
	}
	if !done {
		return river.JobSnooze(w.s.real(after))
	}
	return nil
}

// Timeout bounds one run: two WeChat calls and a transaction.
func (w *reconcileWorker) Timeout(*river.Job[ReconcileArgs]) time.Duration { return 30 * time.Second }

// Jobs runs the reconciliation jobs. Its queue lives in the shop's own
// database, so a job is inserted in the same transaction as the
// out_trade_no it watches and can never be lost.
type Jobs struct {
	client *river.Client[*sql.Tx]
	// worker works the jobs on PostgreSQL, where client only inserts them
	// (see newPostgresJobs); nil on SQLite, where client does both.
	worker *river.Client[pgx.Tx]
	mode   string // the queue jobs go to, and the Mode they carry
}

// NewJobs creates the job runner for s and attaches it to s, which then
// schedules a reconciliation for every out_trade_no it creates. Start it
// with [Jobs.Start].
func NewJobs(s *Service, log *slog.Logger, poll time.Duration) (*Jobs, error) {
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &reconcileWorker{s: s}); err != nil {
		return nil, fmt.Errorf("shop: jobs: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &refundWorker{s: s}); err != nil {
		return nil, fmt.Errorf("shop: jobs: %w", err)
	}
	if poll <= 0 {
		poll = time.Second
	}
	cfg := &river.Config{
		// Each mode works its own queue, so a server never even fetches the
		// other mode's jobs; the default queue holds the jobs inserted
		// before modes were recorded, which the database's recorded mode
		// (DB.Claim) makes this server's.
		Queues:            map[string]river.QueueConfig{s.mode: {MaxWorkers: 4}, river.QueueDefault: {MaxWorkers: 1}},
		Workers:           workers,
		Logger:            log,
		FetchPollInterval: poll,
		FetchCooldown:     poll / 4,
		MaxAttempts:       50,
		// A job whose instance died while running it (a crash, SIGKILL) is
		// handed to another instance after this long instead of river's
		// default hour; it is more than the job's own 30-second timeout.
		JobTimeout:           time.Minute,
		RescueStuckJobsAfter: 2 * time.Minute,
	}
	if s.db.pg != nil {
		return newPostgresJobs(s, cfg)
	}
	c, err := river.NewClient(riversqlite.New(s.db.W), cfg)
	if err != nil {
		return nil, fmt.Errorf("shop: jobs: %w", err)
	}
	j := &Jobs{client: c, mode: s.mode}
	s.jobs = j
	return j, nil
}

// Start starts working jobs until Stop.
func (j *Jobs) Start(ctx context.Context) error {
	if j.worker != nil {
		return j.worker.Start(ctx)
	}
	return j.client.Start(ctx)
}

// Stop waits for running jobs to finish (or ctx to end).
func (j *Jobs) Stop(ctx context.Context) error {
	if j.worker != nil {
		return j.worker.Stop(ctx)
	}
	return j.client.Stop(ctx)
}

// schedule inserts a job in tx, the transaction that creates what it
// watches, so that the two commit together: in this mode's queue, at at,
// and once only for the same arguments.
func (j *Jobs) schedule(ctx context.Context, tx *sql.Tx, args river.JobArgs, at time.Time) error {
	_, err := j.client.InsertTx(ctx, tx, args, &river.InsertOpts{
		Queue:       j.mode,
		ScheduledAt: at,
		UniqueOpts:  river.UniqueOpts{ByArgs: true},
	})
	return err
}

// ownJob refuses a job another mode inserted: a fake-mode job must never
// reach real WeChat (or mark a real order paid), and a real one must never
// be settled against a fake. The job is cancelled, not retried: it can
// only become runnable here by an error, and it is logged.
func (s *Service) ownJob(mode string) error {
	if mode == "" || mode == s.mode {
		return nil
	}
	s.log.Error("job of another mode refused", "job_mode", mode, "mode", s.mode)
	return river.JobCancel(fmt.Errorf("shop: a %s-mode job refused by a %s-mode server", mode, s.mode))
}

// refundRetryAfter is how long after a refund is stored its retry job
// first looks at it: by then the request that stored it has its answer.
const refundRetryAfter = 2 * time.Minute

// RefundRetryArgs is the job that finishes a refund whose WeChat answer
// was not known (a timeout, a lost connection, SYSTEMERROR every time): it
// sends the same out_refund_no again until WeChat accepts or refuses it,
// so a refund never stays pending, holding its amount, because nobody
// repeated the request.
type RefundRetryArgs struct {
	OutRefundNo string `json:"out_refund_no"`
	// Mode is the inserting server's mode, as in ReconcileArgs.
	Mode string `json:"mode,omitempty"`
}

// Kind names the job in the queue's table.
func (RefundRetryArgs) Kind() string { return "retry_refund" }

type refundWorker struct {
	river.WorkerDefaults[RefundRetryArgs]
	s *Service
}

// Work sends a refund that is still pending. It is safe to run more than
// once, and beside an admin's repeated request: WeChat refunds one
// out_refund_no once, and each state change is conditional.
func (w *refundWorker) Work(ctx context.Context, job *river.Job[RefundRetryArgs]) error {
	if err := w.s.ownJob(job.Args.Mode); err != nil {
		return err
	}
	rf := w.s.refunds
	if rf == nil {
		return nil // refunds are off; the row cannot exist
	}
	row, err := rf.pendingRow(ctx, job.Args.OutRefundNo)
	if err != nil || row == nil {
		return nil
	}
	err = rf.send(ctx, row)
	if ErrorCode(err) == CodeConflict {
		return nil // refused by WeChat: final, and recorded
	}
	return err // an unknown outcome: river retries with backoff
}

// Timeout bounds one run: up to three WeChat calls and a transaction.
func (w *refundWorker) Timeout(*river.Job[RefundRetryArgs]) time.Duration { return time.Minute }
