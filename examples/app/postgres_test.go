package app_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// pgEnv names the PostgreSQL server the tests may use: a postgres:// URL of
// a role allowed to create databases (.ci/postgres.sh starts a throwaway
// one and sets it). Each test creates its own database there.
const pgEnv = "WXPAY_TEST_POSTGRES"

// storeEnv, set by TestE2EPostgres in the test process it starts, makes
// every harness run on PostgreSQL instead of SQLite.
const storeEnv = "WXPAY_TEST_STORE_POSTGRES"

// postgresServer returns the URL of pgEnv, or skips the test when it is
// unset, failing instead under CI=true.
func postgresServer(t testing.TB) string {
	t.Helper()
	u := os.Getenv(pgEnv)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests (source .ci/postgres.sh and call postgres_start)", pgEnv)
		}
		t.Skipf("%s is not set: no PostgreSQL server to test against (source .ci/postgres.sh && postgres_start starts one)", pgEnv)
	}
	return u
}

// newPostgresDB creates an empty database on the server of pgEnv for
// this test, drops it when the test ends, and returns its URL.
func newPostgresDB(t testing.TB) string {
	t.Helper()
	server := postgresServer(t)
	admin, err := sql.Open("pgx", server)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "wxpay_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		admin.Close()
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP DATABASE `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database: %v", err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// testStoreURL is the store of a harness: a new PostgreSQL database in the
// process TestE2EPostgres starts, "" (SQLite) otherwise.
func testStoreURL(t testing.TB) string {
	t.Helper()
	if os.Getenv(storeEnv) == "" {
		return ""
	}
	return newPostgresDB(t)
}

// TestE2EPostgres runs this package's tests again, in a child test
// process, with every harness on its own PostgreSQL database instead of a
// SQLite file: the end-to-end suite holds on both stores.
func TestE2EPostgres(t *testing.T) {
	if os.Getenv(storeEnv) != "" {
		// The child run excludes this test with -test.skip; reaching it
		// there would mean the exclusion broke and the runs would nest.
		t.Fatal(storeEnv + " is set: this test sets it for its own child run only")
	}
	postgresServer(t)
	args := []string{"-test.run", "^Test", "-test.skip", "^(TestE2EPostgres|TestInstances.*|TestSharedFake.*|TestRealMode|TestSecretScanner)$", "-test.count", "1"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), storeEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the end-to-end suite on PostgreSQL failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "PASS") {
		t.Fatalf("the PostgreSQL run did not pass:\n%s", out)
	}
	t.Logf("end-to-end suite on PostgreSQL:\n%s", tail(string(out), 40))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
