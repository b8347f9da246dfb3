package shop

import (
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// newPostgresJobs runs the jobs of cfg on PostgreSQL. Two river clients
// share the job tables: one on river's pgx driver works the jobs (with
// LISTEN/NOTIFY, and leader election among the instances), and an
// insert-only one on its database/sql driver inserts each job inside the
// shop's own *sql.Tx, so that a job commits with the out_trade_no it
// watches. Every instance works jobs; river hands each job to one of them
// at a time (FOR UPDATE SKIP LOCKED), and a job whose instance died is
// rescued and run again, which the job's conditional transitions allow.
func newPostgresJobs(s *Service, cfg *river.Config) (*Jobs, error) {
	w, err := river.NewClient(riverpgxv5.New(s.db.pg), cfg)
	if err != nil {
		return nil, fmt.Errorf("shop: jobs: %w", err)
	}
	ins, err := river.NewClient(riverdatabasesql.New(s.db.W), &river.Config{Workers: cfg.Workers, Logger: cfg.Logger, MaxAttempts: cfg.MaxAttempts})
	if err != nil {
		return nil, fmt.Errorf("shop: jobs: %w", err)
	}
	j := &Jobs{client: ins, worker: w, mode: s.mode}
	s.jobs = j
	return j, nil
}
