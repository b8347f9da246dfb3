package shop

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPostgres creates a database for the test on the server named by
// WXPAY_TEST_POSTGRES (see .ci/postgres.sh) and returns its URL; without
// it the test skips, or fails under CI=true.
func testPostgres(t *testing.T) string {
	t.Helper()
	server := os.Getenv("WXPAY_TEST_POSTGRES")
	if server == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("WXPAY_TEST_POSTGRES is not set: CI must run the PostgreSQL tests (source .ci/postgres.sh and call postgres_start)")
		}
		t.Skip("WXPAY_TEST_POSTGRES is not set: no PostgreSQL server to test against (source .ci/postgres.sh && postgres_start starts one)")
	}
	admin, err := sql.Open("pgx", server)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "wxpay_shop_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec(`DROP DATABASE ` + name + ` WITH (FORCE)`); err != nil {
			t.Error(err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// TestOpenPostgresTogether: instances starting at the same time on an
// empty database migrate it once, and seed the demo once.
func TestOpenPostgresTogether(t *testing.T) {
	dbURL := testPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbs := make([]*DB, 4)
	errs := make([]error, len(dbs))
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = OpenPostgres(ctx, dbURL) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
			continue
		}
		defer dbs[i].Close()
	}
	if t.Failed() {
		return
	}
	var twice int
	if err := dbs[0].R.QueryRow(`SELECT COUNT(*) FROM (SELECT version_id FROM goose_db_version GROUP BY version_id HAVING COUNT(*) > 1) AS t`).Scan(&twice); err != nil || twice != 0 {
		t.Errorf("%d migrations ran more than once (%v)", twice, err)
	}
	var shops int
	if err := dbs[0].R.QueryRow(`SELECT COUNT(*) FROM shops`).Scan(&shops); err != nil || shops != 0 {
		t.Errorf("%d shops (%v) after the migrations; the demo is fake mode's", shops, err)
	}
	// Fake-mode instances starting together seed the demo once.
	for i := range dbs {
		wg.Go(func() { errs[i] = SeedDemo(ctx, dbs[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d seeding: %v", i, err)
		}
	}
	if err := dbs[0].R.QueryRow(`SELECT COUNT(*) FROM shops`).Scan(&shops); err != nil || shops != 3 {
		t.Errorf("%d shops (%v), want the 3 of the demo", shops, err)
	}
}

// TestRetryable: a unique violation on PostgreSQL is a race to run again;
// other errors, and every error on SQLite, are not.
func TestRetryable(t *testing.T) {
	db, err := OpenPostgres(context.Background(), testPostgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.W.Exec(`INSERT INTO shops (id, name, address) VALUES (1, 'x', 'y') ON CONFLICT (id) DO NOTHING`); err != nil {
		t.Fatal(err)
	}
	_, dup := db.W.Exec(`INSERT INTO shops (id, name, address) VALUES (1, 'x', 'y')`)
	if dup == nil || !db.retryable(dup) {
		t.Errorf("duplicate key %v: not retryable", dup)
	}
	_, bad := db.W.Exec(`INSERT INTO shops (id, name) VALUES (99, 'x')`) // address is NOT NULL
	if bad == nil || db.retryable(bad) {
		t.Errorf("not-null violation %v: retryable", bad)
	}
	lite, err := Open(context.Background(), t.TempDir()+"/s.db")
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	if lite.retryable(dup) {
		t.Error("SQLite retries")
	}
}

func TestOpenPostgresRefusesBadURL(t *testing.T) {
	_, err := OpenPostgres(context.Background(), "postgres://u:hunter2@127.0.0.1:notaport/x")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v", err)
	}
	for s, want := range map[string]bool{"postgres://h/db": true, "postgresql://h/db": true, "mysql://h/db": false, "shop.db": false, "": false} {
		if IsPostgresURL(s) != want {
			t.Errorf("IsPostgresURL(%q) = %v", s, !want)
		}
	}
}
