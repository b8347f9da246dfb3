package shop

import (
	"context"
	"testing"
)

// TestAnomaliesKeyed: every genuine result that cannot be applied leaves
// its own anomaly, keyed by out_trade_no and transaction_id: two unknown
// out_trade_nos under one transaction_id are two anomalies, a redelivery
// adds none, and a paid result without a transaction_id (which once took
// the empty key and hid every later anomaly of its kind) is refused with
// nothing written. On SQLite and on PostgreSQL.
func TestAnomaliesKeyed(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := Open(context.Background(), t.TempDir()+"/anomalies.db")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		testAnomaliesKeyed(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := OpenPostgres(context.Background(), testPostgres(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		testAnomaliesKeyed(t, db)
	})
}

func testAnomaliesKeyed(t *testing.T, db *DB) {
	ctx := context.Background()
	s, err := NewService(Config{Mode: ModeReal, DB: db, Payments: stubPay{}, Login: stubLogin{"o"}})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM anomalies`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, p := range []Payment{
		{OutTradeNo: "unknownA", TransactionID: "4200000001", TotalFen: 100, Paid: true},
		{OutTradeNo: "unknownB", TransactionID: "4200000001", TotalFen: 100, Paid: true},
		{OutTradeNo: "unknownA", TransactionID: "4200000001", TotalFen: 100, Paid: true}, // redelivered
	} {
		if err := s.Settle(ctx, p, "notify"); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(); n != 2 {
		t.Fatalf("%d anomalies, want 2 (one per out_trade_no, none for the redelivery)", n)
	}
	for _, p := range []Payment{
		{OutTradeNo: "unknownC", TotalFen: 100, Paid: true},
		{TransactionID: "4200000002", TotalFen: 100, Paid: true},
	} {
		if err := s.Settle(ctx, p, "query"); err == nil {
			t.Errorf("Settle(%+v) accepted a paid result missing a key", p)
		}
	}
	if err := s.Settle(ctx, Payment{OutTradeNo: "unknownD", TransactionID: "4200000003", TotalFen: 100, Paid: true}, "query"); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3 {
		t.Errorf("%d anomalies, want 3: a later anomaly was lost", n)
	}
}
