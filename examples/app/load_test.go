package app_test

// Load benchmarks: the server over real HTTP on loopback, on SQLite, with
// 32 concurrent connections (-cpu 2 runs 2×16 goroutines), each reporting
// requests/s, p50 and p99 latency and errors. Beside them are their floors:
// the same HTTP client against a net/http handler that writes a fixed body
// (what the HTTP stack alone costs), and the disk's rate of durable
// commits, which bounds every write.
//
//	go test -run '^$' -bench . -benchtime 5s ./app

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/examples/client"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

const loadConns = 32

func loadClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = loadConns
	tr.MaxIdleConnsPerHost = loadConns
	tr.MaxConnsPerHost = loadConns
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// load runs b.N calls of do over loadConns goroutines and reports the
// figures. do returns whether the call succeeded.
func load(b *testing.B, do func(i int) bool) {
	b.Helper()
	lat := make([]time.Duration, b.N)
	var next, errs atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range loadConns {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if !do(i) {
					errs.Add(1)
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(errs.Load()), "errors")
	b.ReportMetric(0, "ns/op")
}

func get(hc *http.Client, url string) bool {
	resp, err := hc.Get(url)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == 200
}

func startLoadServer(b *testing.B) (*app.Server, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "shop.db")
	// Unmetered: the benchmarks measure throughput, not the rate limits.
	s, err := app.Start(context.Background(), app.Config{Addr: "127.0.0.1:0", API: testAPI(), DBPath: path, JWTSecret: testJWTSecret, Unmetered: true}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, path
}

// BenchmarkFloorHTTP is the floor of the GET benchmarks: the same client
// and connections against a handler that only writes GET /shops's body.
func BenchmarkFloorHTTP(b *testing.B) {
	s, _ := startLoadServer(b)
	body := fetch(b, s.URL+"/shops")
	floor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(body)
	}))
	defer floor.Close()
	hc := loadClient()
	load(b, func(int) bool { return get(hc, floor.URL+"/shops") })
}

func fetch(b *testing.B, url string) []byte {
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return body
}

func BenchmarkShops(b *testing.B) {
	s, _ := startLoadServer(b)
	hc := loadClient()
	load(b, func(int) bool { return get(hc, s.URL+"/shops") })
}

func BenchmarkGoods(b *testing.B) {
	s, _ := startLoadServer(b)
	hc := loadClient()
	load(b, func(i int) bool { return get(hc, fmt.Sprintf("%s/shops/%d/goods?limit=10", s.URL, 1+i%3)) })
}

// loadUsers logs in n users.
func loadUsers(b *testing.B, s *app.Server, hc *http.Client, n int) []*client.Client {
	users := make([]*client.Client, n)
	for i := range users {
		users[i] = &client.Client{Base: s.URL, HTTP: hc}
		code, err := users[i].FakeLogin(context.Background(), "")
		if err == nil {
			_, err = users[i].Login(context.Background(), code)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	return users
}

// BenchmarkCreateOrder: POST /orders, each a transaction with two lines
// committed durably (WAL, synchronous=FULL).
func BenchmarkCreateOrder(b *testing.B) {
	s, _ := startLoadServer(b)
	hc := loadClient()
	users := loadUsers(b, s, hc, loadConns)
	body := []byte(`{"items":[{"goods_id":101,"count":2},{"goods_id":104,"count":1}]}`)
	load(b, func(i int) bool {
		req, _ := http.NewRequest("POST", s.URL+"/orders", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+users[i%len(users)].Token)
		resp, err := hc.Do(req)
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 201
	})
}

// BenchmarkNotify: POST /orders/pay/notify, each a genuine notification
// for a different order, verified and settled in one durable transaction.
// The orders and their out_trade_nos are written beforehand.
func BenchmarkNotify(b *testing.B) {
	s, path := startLoadServer(b)
	hc := loadClient()
	u := loadUsers(b, s, hc, 1)[0]
	o, err := u.CreateOrder(context.Background(), []shop.Item{{GoodsID: 101, Count: 1}}, "")
	if err != nil {
		b.Fatal(err)
	}
	bodies, db := prepareNotifications(b, s, path, o.ID, b.N)
	load(b, func(i int) bool {
		resp, err := hc.Post(s.URL+"/orders/pay/notify", "text/xml", bytes.NewReader(bodies[i]))
		if err != nil {
			return false
		}
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200 && bytes.Contains(reply, []byte("SUCCESS"))
	})
	b.StopTimer()
	var paid int
	db.QueryRow(`SELECT COUNT(*) FROM orders WHERE status = 'paid'`).Scan(&paid)
	if paid != b.N {
		b.Fatalf("%d orders paid, want %d", paid, b.N)
	}
}

// prepareNotifications writes n unpaid orders like order tmpl, each with
// an out_trade_no, straight into the database, and returns a genuine
// notification paying each, and a handle on the database.
func prepareNotifications(tb testing.TB, s *app.Server, path string, tmpl int64, n int) ([][]byte, *sql.DB) {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	bodies := make([][]byte, n)
	tx, err := db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	for i := range bodies {
		id := int64(1<<40 + i)
		otn := fmt.Sprintf("LOAD%028d", i)
		if _, err := tx.Exec(`INSERT INTO orders (id, user_id, shop_id, total_fen, status, created_at)
			SELECT $1, user_id, shop_id, total_fen, 'unpaid', created_at FROM orders WHERE id = $2`, id, tmpl); err != nil {
			tb.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO pay_attempts (out_trade_no, order_id, total_fen, body, client_ip, openid, time_start, time_expire, prepay_id, state, created_at)
			SELECT $1, $2, total_fen, 'x', '127.0.0.1', 'o', 0, 0, 'p', 'open', 0 FROM orders WHERE id = $2`, otn, id); err != nil {
			tb.Fatal(err)
		}
		var fee int64
		if err := tx.QueryRow(`SELECT total_fen FROM orders WHERE id = $1`, id).Scan(&fee); err != nil {
			tb.Fatal(err)
		}
		bodies[i], err = wxpaytest.NotificationBody(s.FakeConfig, wxpay.Params{
			"out_trade_no": otn, "transaction_id": fmt.Sprintf("42%026d", i), "total_fee": fmt.Sprint(fee), "cash_fee": fmt.Sprint(fee),
			"openid": "oUser", "trade_type": "JSAPI", "bank_type": "OTHERS", "time_end": "20261130120000",
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return bodies, db
}

// BenchmarkFloorDurableCommit is the floor of the write benchmarks: one
// SQLite transaction inserting one row, committed with WAL and
// synchronous=FULL on the same disk, from one connection (SQLite has one
// writer). Its commits/s bound the orders/s above.
func BenchmarkFloorDurableCommit(b *testing.B) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "c.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO t (v) VALUES ($1)`, fmt.Sprint(i)); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commits/s")
}

// BenchmarkFloorFsync is the disk itself: write a byte and fsync.
func BenchmarkFloorFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "f"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, err := f.WriteAt([]byte{'x'}, int64(i%4096)); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "fsyncs/s")
}
