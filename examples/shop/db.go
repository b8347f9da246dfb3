package shop

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the shop's SQLite database, opened as two pools: one connection
// for writes, so that transactions queue in Go instead of failing with
// SQLITE_BUSY, and several read-only connections, which WAL mode lets run
// beside the writer.
type DB struct {
	W *sql.DB // the single writer; also the job queue's pool
	R *sql.DB // readers

	pg *pgxpool.Pool // on PostgreSQL (see OpenPostgres), the pool under W and R; nil on SQLite
}

// Open opens (creating if needed) the database at path, in WAL mode with
// synchronous=FULL so that every commit survives a power cut, and applies
// the schema and seed migrations and the job queue's own migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	return open(ctx, "sqlite", path)
}

func open(ctx context.Context, driverName, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("shop: empty database path")
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		for i := 0; i+1 < len(extra); i += 2 {
			q.Add(extra[i], extra[i+1])
		}
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	// Migrations run on their own short-lived pool: goose may want more
	// than one connection, which the single-connection writer would refuse.
	mig, err := sql.Open(driverName, dsn())
	if err != nil {
		return nil, fmt.Errorf("shop: open database: %w", err)
	}
	defer mig.Close()
	if err := migrate(ctx, mig); err != nil {
		return nil, err
	}
	w, err := sql.Open(driverName, dsn("_txlock", "immediate"))
	if err != nil {
		return nil, fmt.Errorf("shop: open database: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open(driverName, dsn("_pragma", "query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("shop: open database: %w", err)
	}
	n := 2 * runtime.GOMAXPROCS(0)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)
	db := &DB{W: w, R: r}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("shop: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		return fmt.Errorf("shop: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("shop: migrations: %w", err)
	}
	m, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		return fmt.Errorf("shop: job queue migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("shop: job queue migrations: %w", err)
	}
	return nil
}

// Ping checks that both pools reach the database.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.W.PingContext(ctx); err != nil {
		return fmt.Errorf("shop: database: %w", err)
	}
	if err := db.R.PingContext(ctx); err != nil {
		return fmt.Errorf("shop: database: %w", err)
	}
	return nil
}

// Close closes both pools.
func (db *DB) Close() error {
	if db.pg != nil {
		err := db.W.Close()
		db.pg.Close()
		return err
	}
	return errors.Join(db.R.Close(), db.W.Close())
}

// newID returns a random positive id below 2^53, so that JSON clients
// (JavaScript included) read it exactly and ids reveal no order count.
func newID() int64 {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead of returning an error)
	return int64(binary.BigEndian.Uint64(b[:])>>11) | 1
}
