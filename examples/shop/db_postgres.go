package shop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// IsPostgresURL reports whether s is a PostgreSQL connection URL
// (postgres:// or postgresql://), the form DATABASE_URL takes.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// migrationLock is the key of the PostgreSQL advisory lock held while
// migrating, so that instances starting together migrate one at a time.
const migrationLock = 0x77787061795f6462 // "wxpay_db"

// OpenPostgres opens the shop's database on PostgreSQL through pgx, at a
// postgres:// URL such as DATABASE_URL, and applies the same migrations as
// [Open] (the schema is portable SQL) and the job queue's own. Several
// server instances may share the database and start at the same time.
//
// Unlike SQLite, PostgreSQL has row locks and many writers: W and R are
// the same pool, and write transactions run concurrently at READ
// COMMITTED. Every transition is a conditional UPDATE or an insert under a
// unique constraint, and a transaction that loses a race on one (a unique
// violation, a deadlock) is run again and then sees the winner, so each
// effect still happens once. The pool holds at most 16 connections unless
// the URL sets pool_max_conns.
func OpenPostgres(ctx context.Context, databaseURL string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, errors.New("shop: DATABASE_URL is not a valid PostgreSQL URL")
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = 16
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("shop: open database: %w", err)
	}
	sdb := stdlib.OpenDBFromPool(pool)
	db := &DB{W: sdb, R: sdb, pg: pool}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := migratePostgres(ctx, pool, sdb); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func migratePostgres(ctx context.Context, pool *pgxpool.Pool, sdb *sql.DB) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("shop: migrations: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("shop: migrations: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock)) //nolint:errcheck // ends with the session anyway

	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("shop: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sdb, sub)
	if err != nil {
		return fmt.Errorf("shop: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("shop: migrations: %w", err)
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("shop: job queue migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("shop: job queue migrations: %w", err)
	}
	return nil
}

// retryable reports whether a write transaction that failed with err lost
// a race that running it again resolves: on PostgreSQL, a unique violation
// (a concurrent transaction inserted the same idempotency key, payment or
// open out_trade_no first: the next run sees it and takes the path for
// "already there"), a serialization failure or a deadlock. SQLite's single
// writer never loses such races.
func (db *DB) retryable(err error) bool {
	var pe *pgconn.PgError
	if db.pg == nil || !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "23505", "40001", "40P01": // unique_violation, serialization_failure, deadlock_detected
		return true
	}
	return false
}
