package shop

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"modernc.org/sqlite"
)

// spyDriver wraps the SQLite driver and records the text of every
// statement sent to it.
type spyDriver struct {
	mu      sync.Mutex
	queries []string
}

func (d *spyDriver) record(q string) {
	d.mu.Lock()
	d.queries = append(d.queries, q)
	d.mu.Unlock()
}

func (d *spyDriver) Open(name string) (driver.Conn, error) {
	c, err := (&sqlite.Driver{}).Open(name)
	if err != nil {
		return nil, err
	}
	return &spyConn{inner: c, d: d}, nil
}

// spyConn passes everything to the real connection, noting query texts.
type spyConn struct {
	inner driver.Conn
	d     *spyDriver
}

func (c *spyConn) Prepare(q string) (driver.Stmt, error) { c.d.record(q); return c.inner.Prepare(q) }
func (c *spyConn) Close() error                          { return c.inner.Close() }

// Begin is never called: database/sql uses BeginTx.
func (c *spyConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}
func (c *spyConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	c.d.record(q)
	return c.inner.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}
func (c *spyConn) BeginTx(ctx context.Context, o driver.TxOptions) (driver.Tx, error) {
	return c.inner.(driver.ConnBeginTx).BeginTx(ctx, o)
}
func (c *spyConn) ExecContext(ctx context.Context, q string, a []driver.NamedValue) (driver.Result, error) {
	c.d.record(q)
	return c.inner.(driver.ExecerContext).ExecContext(ctx, q, a)
}
func (c *spyConn) QueryContext(ctx context.Context, q string, a []driver.NamedValue) (driver.Rows, error) {
	c.d.record(q)
	return c.inner.(driver.QueryerContext).QueryContext(ctx, q, a)
}
func (c *spyConn) Ping(ctx context.Context) error { return c.inner.(driver.Pinger).Ping(ctx) }
func (c *spyConn) ResetSession(ctx context.Context) error {
	return c.inner.(driver.SessionResetter).ResetSession(ctx)
}
func (c *spyConn) IsValid() bool { return c.inner.(driver.Validator).IsValid() }

// stubPay answers like WeChat would, with the marker in every string.
type stubPay struct{ marker string }

func (p stubPay) Prepay(context.Context, PrepayRequest) (string, error) { return "wx" + p.marker, nil }
func (p stubPay) PayParams(id string) (any, error) {
	return map[string]string{"package": "prepay_id=" + id}, nil
}
func (p stubPay) Query(_ context.Context, otn string) (QueryState, *Payment, error) {
	return QueryNotPaid, nil, nil
}
func (p stubPay) Close(context.Context, string) error { return nil }
func (p stubPay) NotifyHandler(func(context.Context, Payment) error) http.Handler {
	return http.NotFoundHandler()
}

type stubLogin struct{ openID string }

func (l stubLogin) OpenID(context.Context, string) (string, error) { return l.openID, nil }

var registerSpy sync.Once
var spy = &spyDriver{}

// TestQueriesAreParameterised drives every service method with hostile
// strings and checks that none of them ever appears in SQL text: every
// value travels as a parameter.
func TestQueriesAreParameterised(t *testing.T) {
	registerSpy.Do(func() { sql.Register("sqlite-spy", spy) })
	const marker = "MARKER'); DROP TABLE orders;--"
	ctx := context.Background()
	db, err := open(ctx, "sqlite-spy", t.TempDir()+"/spy.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := SeedDemo(ctx, db); err != nil {
		t.Fatal(err)
	}
	s, err := NewService(Config{Mode: ModeReal, DB: db, Payments: stubPay{marker}, Login: stubLogin{"o" + marker}, Timing: Timing{PayWindow: 6 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewJobs(s, nil, time.Second); err != nil {
		t.Fatal(err)
	}
	u, err := s.Login(ctx, "code-0123456789") // the marker travels in the openid; codes are [0-9A-Za-z_-]
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := s.CreateOrder(ctx, u, []Item{{GoodsID: 101, Count: 1}}, "key"+strings.ReplaceAll(marker, " ", "_"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Pay(ctx, u, o.ID, "ip"+marker)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetOrder(ctx, u, o.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(ctx, Payment{OutTradeNo: "otn" + marker, TransactionID: "txn" + marker, TotalFen: 1, Paid: true}, "notify"); err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(ctx, Payment{OutTradeNo: res.OutTradeNo, TransactionID: "txn2" + marker, TotalFen: o.TotalFen, Paid: true}, "notify"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Reconcile(ctx, "otn"+marker); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetOrder(ctx, u, o.ID); err != nil || got.Status != StatusPaid {
		t.Fatalf("order %+v, %v; want paid", got, err)
	}
	spy.mu.Lock()
	defer spy.mu.Unlock()
	if len(spy.queries) < 20 {
		t.Fatalf("only %d statements seen: the spy is not in the path", len(spy.queries))
	}
	for _, q := range spy.queries {
		if strings.Contains(q, "MARKER") {
			t.Errorf("a value reached the SQL text: %s", q)
		}
	}
}
