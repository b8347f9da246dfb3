package shop

// The Service's methods tested directly, without HTTP: each against a
// real store (SQLite, and PostgreSQL when WXPAY_TEST_POSTGRES names a
// server), with WeChat played by fakePay and fakeLogin, whose answers each
// test chooses and whose calls it inspects.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePay is a Payments whose answers are function fields (nil means a
// plain success), recording every call.
type fakePay struct {
	PrepayFn func(PrepayRequest) (string, error)
	QueryFn  func(outTradeNo string) (QueryState, *Payment, error)
	CloseFn  func(outTradeNo string) error

	mu      sync.Mutex
	prepays []PrepayRequest
	queries []string
	closes  []string
}

var _ Payments = (*fakePay)(nil)

func (p *fakePay) Prepay(_ context.Context, r PrepayRequest) (string, error) {
	p.mu.Lock()
	p.prepays = append(p.prepays, r)
	p.mu.Unlock()
	if p.PrepayFn != nil {
		return p.PrepayFn(r)
	}
	return "wx-prepay-" + r.OutTradeNo, nil
}

func (p *fakePay) PayParams(id string) (any, error) {
	return map[string]string{"package": "prepay_id=" + id}, nil
}

func (p *fakePay) Query(_ context.Context, otn string) (QueryState, *Payment, error) {
	p.mu.Lock()
	p.queries = append(p.queries, otn)
	p.mu.Unlock()
	if p.QueryFn != nil {
		return p.QueryFn(otn)
	}
	return QueryNotPaid, nil, nil
}

func (p *fakePay) Close(_ context.Context, otn string) error {
	p.mu.Lock()
	p.closes = append(p.closes, otn)
	p.mu.Unlock()
	if p.CloseFn != nil {
		return p.CloseFn(otn)
	}
	return nil
}

func (p *fakePay) NotifyHandler(func(context.Context, Payment) error) http.Handler {
	return http.NotFoundHandler()
}

func (p *fakePay) calls() (prepays []PrepayRequest, queries, closes []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]PrepayRequest(nil), p.prepays...), append([]string(nil), p.queries...), append([]string(nil), p.closes...)
}

// fakeLogin is a Login whose answer is OpenIDFn (nil: the openid is
// "o-" and the code).
type fakeLogin struct {
	OpenIDFn func(code string) (string, error)
}

var _ Login = fakeLogin{}

func (l fakeLogin) OpenID(_ context.Context, code string) (string, error) {
	if l.OpenIDFn != nil {
		return l.OpenIDFn(code)
	}
	return "o-" + code, nil
}

// testClock is the business clock of a test, moved by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// forEachStore runs test on a fresh SQLite store and on a fresh
// PostgreSQL one (skipped without WXPAY_TEST_POSTGRES, failed under
// CI=true), each with the demo catalogue.
func forEachStore(t *testing.T, test func(t *testing.T, db *DB)) {
	t.Helper()
	run := func(t *testing.T, db *DB, err error) {
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := SeedDemo(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		test(t, db)
	}
	t.Run("sqlite", func(t *testing.T) {
		db, err := Open(context.Background(), t.TempDir()+"/shop.db")
		run(t, db, err)
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := OpenPostgres(context.Background(), testPostgres(t))
		run(t, db, err)
	})
}

// newTestService returns a real-mode Service on db with its jobs attached
// (not started), on clock.
func newTestService(t *testing.T, db *DB, pay *fakePay, login fakeLogin, clock *testClock) *Service {
	t.Helper()
	s, err := NewService(Config{Mode: ModeReal, DB: db, Payments: pay, Login: login, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewJobs(s, nil, time.Second); err != nil {
		t.Fatal(err)
	}
	return s
}

// fixture is a test's usual start: a real-mode Service on db with a
// fakePay and its own clock, and a buyer logged in.
func fixture(t *testing.T, db *DB) (context.Context, *testClock, *fakePay, *Service, User) {
	t.Helper()
	clock, pay := newClock(), &fakePay{}
	s := newTestService(t, db, pay, fakeLogin{}, clock)
	return context.Background(), clock, pay, s, mustLogin(t, s)
}

// mustLogin logs the test's buyer in.
func mustLogin(t *testing.T, s *Service) User {
	t.Helper()
	u, err := s.Login(context.Background(), "buyer-code")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// mustOrder places an order of count of goodsID for u.
func mustOrder(t *testing.T, s *Service, u User, goodsID, count int64) Order {
	t.Helper()
	o, _, err := s.CreateOrder(context.Background(), u, []Item{{GoodsID: goodsID, Count: count}}, "")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// mustPay starts paying o.
func mustPay(t *testing.T, s *Service, u User, o Order) PayResult {
	t.Helper()
	res, err := s.Pay(context.Background(), u, o.ID, "198.51.100.1")
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func newClock() *testClock {
	return &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

// wantCode fails t unless err carries code ("" means no error).
func wantCode(t *testing.T, err error, code Code) {
	t.Helper()
	switch {
	case code == "" && err != nil:
		t.Fatalf("error %v, want none", err)
	case code != "" && err == nil:
		t.Fatalf("no error, want %s", code)
	case code != "" && ErrorCode(err) != code:
		t.Fatalf("error %v (%s), want %s", err, ErrorCode(err), code)
	}
}

func TestNewServiceRefuses(t *testing.T) {
	db, err := Open(context.Background(), t.TempDir()+"/shop.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"no store", Config{Mode: ModeReal, Payments: &fakePay{}, Login: fakeLogin{}}},
		{"no payments", Config{Mode: ModeReal, DB: db, Login: fakeLogin{}}},
		{"no login", Config{Mode: ModeReal, DB: db, Payments: &fakePay{}}},
		{"no mode", Config{DB: db, Payments: &fakePay{}, Login: fakeLogin{}}},
		{"unknown mode", Config{Mode: "test", DB: db, Payments: &fakePay{}, Login: fakeLogin{}}},
	} {
		if _, err := NewService(tt.cfg); err == nil {
			t.Errorf("%s: NewService accepted it", tt.name)
		}
	}
}

func TestServiceLogin(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		login := fakeLogin{OpenIDFn: func(code string) (string, error) {
			switch code {
			case "refused-code":
				return "", ErrBadCode
			case "broken-code":
				return "", &UpstreamError{Kind: UpstreamUnavailable, Err: errors.New("connection refused")}
			case "again-code":
				return "o-first-code", nil // the same WeChat user as first-code
			}
			return "o-" + code, nil
		}}
		s := newTestService(t, db, &fakePay{}, login, newClock())
		first, err := s.Login(ctx, "first-code")
		if err != nil || first.ID <= 0 || first.OpenID != "o-first-code" {
			t.Fatalf("first login: %+v, %v", first, err)
		}
		for _, tt := range []struct {
			name, code string
			want       Code
			sameUser   bool
		}{
			{"the same openid again", "again-code", "", true},
			{"another openid", "other-code", "", false},
			{"a code too short", "a", CodeInvalid, false},
			{"a code with a quote", "abc'defgh", CodeInvalid, false},
			{"a code WeChat refuses", "refused-code", CodeUnauthorized, false},
			{"WeChat unreachable", "broken-code", CodeUpstream, false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				u, err := s.Login(ctx, tt.code)
				wantCode(t, err, tt.want)
				if err != nil {
					return
				}
				if (u.ID == first.ID) != tt.sameUser {
					t.Errorf("user %d, first %d: same user %v, want %v", u.ID, first.ID, u.ID == first.ID, tt.sameUser)
				}
				got, err := s.UserByID(ctx, u.ID)
				if err != nil || got != u {
					t.Errorf("UserByID(%d) = %+v, %v; want %+v", u.ID, got, err, u)
				}
			})
		}
		if _, err := s.UserByID(ctx, first.ID+1); ErrorCode(err) != CodeUnauthorized {
			t.Errorf("UserByID of nobody: %v, want %s", err, CodeUnauthorized)
		}
	})
}

func TestServiceCatalogue(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s := newTestService(t, db, &fakePay{}, fakeLogin{}, newClock())
		for _, tt := range []struct {
			name                     string
			pr                       PageRequest
			wantIDs                  []int64
			wantPage, wantLim, total int
		}{
			{"defaults", PageRequest{}, []int64{1, 2, 3}, 1, DefaultLimit, 3},
			{"two per page", PageRequest{Page: 1, Limit: 2}, []int64{1, 2}, 1, 2, 3},
			{"second page", PageRequest{Page: 2, Limit: 2}, []int64{3}, 2, 2, 3},
			{"past the end", PageRequest{Page: 9, Limit: 2}, nil, 9, 2, 3},
			{"limit clamped", PageRequest{Page: 1, Limit: 10_000}, []int64{1, 2, 3}, 1, MaxPageLimit, 3},
			{"negative page", PageRequest{Page: -1, Limit: 1}, []int64{1}, 1, 1, 3},
		} {
			p, err := s.ListShops(ctx, tt.pr)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var ids []int64
			for _, sh := range p.Items {
				ids = append(ids, sh.ID)
			}
			if !equalIDs(ids, tt.wantIDs) || p.Page != tt.wantPage || p.Limit != tt.wantLim || p.Total != tt.total {
				t.Errorf("%s: ListShops = ids %v page %d limit %d total %d; want %v %d %d %d",
					tt.name, ids, p.Page, p.Limit, p.Total, tt.wantIDs, tt.wantPage, tt.wantLim, tt.total)
			}
		}
		for _, tt := range []struct {
			name    string
			shopID  int64
			pr      PageRequest
			want    Code
			wantIDs []int64
			total   int
		}{
			{"a shop's goods", 2, PageRequest{}, "", []int64{201, 202, 203, 204}, 4},
			{"one page of them", 1, PageRequest{Page: 2, Limit: 2}, "", []int64{103, 104}, 5},
			{"past the end", 3, PageRequest{Page: 5, Limit: 2}, "", nil, 3},
			{"no such shop", 99, PageRequest{}, CodeNotFound, nil, 0},
		} {
			p, err := s.ListGoods(ctx, tt.shopID, tt.pr)
			if tt.want != "" {
				if ErrorCode(err) != tt.want {
					t.Errorf("%s: error %v, want %s", tt.name, err, tt.want)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var ids []int64
			for _, g := range p.Items {
				ids = append(ids, g.ID)
				if g.ShopID != tt.shopID {
					t.Errorf("%s: goods %d of shop %d", tt.name, g.ID, g.ShopID)
				}
			}
			if !equalIDs(ids, tt.wantIDs) || p.Total != tt.total {
				t.Errorf("%s: ListGoods = %v total %d; want %v total %d", tt.name, ids, p.Total, tt.wantIDs, tt.total)
			}
		}
	})
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestServiceCreateOrder(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		clock := newClock()
		s := newTestService(t, db, &fakePay{}, fakeLogin{}, clock)
		u := mustLogin(t, s)
		many := make([]Item, MaxOrderLines+1)
		for i := range many {
			many[i] = Item{GoodsID: int64(1000 + i), Count: 1}
		}
		for _, tt := range []struct {
			name      string
			items     []Item
			want      Code
			wantTotal int64
		}{
			{"priced from the database", []Item{{GoodsID: 102, Count: 2}, {GoodsID: 101, Count: 1}}, "", 2*2400 + 1800},
			{"no item", nil, CodeInvalid, 0},
			{"too many lines", many, CodeInvalid, 0},
			{"a goods twice", []Item{{GoodsID: 101, Count: 1}, {GoodsID: 101, Count: 1}}, CodeInvalid, 0},
			{"count zero", []Item{{GoodsID: 101, Count: 0}}, CodeInvalid, 0},
			{"count above the maximum", []Item{{GoodsID: 101, Count: MaxCount + 1}}, CodeInvalid, 0},
			{"goods id zero", []Item{{GoodsID: 0, Count: 1}}, CodeInvalid, 0},
			{"unknown goods", []Item{{GoodsID: 999, Count: 1}}, CodeInvalid, 0},
			{"two shops", []Item{{GoodsID: 101, Count: 1}, {GoodsID: 201, Count: 1}}, CodeInvalid, 0},
			{"total above the maximum", []Item{{GoodsID: 101, Count: MaxCount}, {GoodsID: 102, Count: MaxCount}, {GoodsID: 103, Count: MaxCount},
				{GoodsID: 104, Count: MaxCount}, {GoodsID: 105, Count: MaxCount}}, CodeInvalid, 0}, // 11,488,500 fen
		} {
			t.Run(tt.name, func(t *testing.T) {
				before, err := s.ListOrders(ctx, u, PageRequest{})
				if err != nil {
					t.Fatal(err)
				}
				o, created, err := s.CreateOrder(ctx, u, tt.items, "")
				wantCode(t, err, tt.want)
				after, err2 := s.ListOrders(ctx, u, PageRequest{})
				if err2 != nil {
					t.Fatal(err2)
				}
				if err != nil {
					if after.Total != before.Total {
						t.Errorf("a refused order changed the store: %d orders, then %d", before.Total, after.Total)
					}
					return
				}
				if !created || o.Status != StatusUnpaid || o.TotalFen != tt.wantTotal || !o.CreatedAt.Equal(clock.Now()) {
					t.Errorf("order %+v created %v; want unpaid, total %d, at %v", o, created, tt.wantTotal, clock.Now())
				}
				got, err := s.GetOrder(ctx, u, o.ID)
				if err != nil || got.TotalFen != o.TotalFen || len(got.Lines) != len(tt.items) || got.Lines[0].GoodsID > got.Lines[len(got.Lines)-1].GoodsID {
					t.Errorf("stored order %+v, %v; want %+v with lines by goods id", got, err, o)
				}
			})
		}
		if _, err := s.GetOrder(ctx, User{ID: u.ID + 1}, 1); ErrorCode(err) != CodeNotFound {
			t.Errorf("GetOrder of an unknown order: %v, want %s", err, CodeNotFound)
		}
	})
}

func TestServiceCreateOrderIdempotency(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s := newTestService(t, db, &fakePay{}, fakeLogin{}, newClock())
		u := mustLogin(t, s)
		other, err := s.Login(ctx, "other-code")
		if err != nil {
			t.Fatal(err)
		}
		items := []Item{{GoodsID: 101, Count: 1}, {GoodsID: 102, Count: 3}}
		first, created, err := s.CreateOrder(ctx, u, items, "key-1")
		if err != nil || !created {
			t.Fatalf("first: %+v %v %v", first, created, err)
		}
		for _, tt := range []struct {
			name    string
			user    User
			items   []Item
			key     string
			want    Code
			sameAs1 bool
		}{
			{"the same items again", u, items, "key-1", "", true},
			{"the same items in another order", u, []Item{items[1], items[0]}, "key-1", "", true},
			{"other items under the key", u, []Item{{GoodsID: 101, Count: 2}}, "key-1", CodeIdempotency, false},
			{"another user's key is theirs", other, items, "key-1", "", false},
			{"a key with a space", u, items, "key 2", CodeInvalid, false},
			{"a key of 129 characters", u, items, strings.Repeat("k", 129), CodeInvalid, false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				o, created, err := s.CreateOrder(ctx, tt.user, tt.items, tt.key)
				wantCode(t, err, tt.want)
				if err != nil {
					return
				}
				if (o.ID == first.ID) != tt.sameAs1 || created == tt.sameAs1 {
					t.Errorf("order %d created %v; first %d: want the first order %v", o.ID, created, first.ID, tt.sameAs1)
				}
				if tt.sameAs1 && (o.TotalFen != first.TotalFen || len(o.Lines) != len(first.Lines)) {
					t.Errorf("repeated: %+v, want %+v", o, first)
				}
			})
		}
	})
}

func TestServicePay(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx, clock, pay, s, u := fixture(t, db)
		o := mustOrder(t, s, u, 201, 2)

		// WeChat unreachable: the parameters are stored, nothing is paid.
		pay.PrepayFn = func(PrepayRequest) (string, error) {
			return "", &UpstreamError{Kind: UpstreamUnavailable, Err: errors.New("timeout")}
		}
		_, err := s.Pay(ctx, u, o.ID, "203.0.113.5")
		wantCode(t, err, CodeUpstream)
		pay.PrepayFn = nil

		// Then paid: the same out_trade_no with the same parameters.
		res := mustPay(t, s, u, o)
		again, err := s.Pay(ctx, u, o.ID, "198.51.100.2")
		if err != nil || again.OutTradeNo != res.OutTradeNo {
			t.Fatalf("second Pay: %+v, %v; want out_trade_no %s", again, err, res.OutTradeNo)
		}
		prepays, _, _ := pay.calls()
		if len(prepays) != 2 {
			t.Fatalf("%d prepay calls, want 2 (the failed one and the one that gave the prepay_id)", len(prepays))
		}
		if prepays[0] != prepays[1] {
			t.Errorf("the retried prepay differs:\n%+v\n%+v", prepays[0], prepays[1])
		}
		p := prepays[0]
		if p.OutTradeNo != res.OutTradeNo || p.TotalFen != 2*2800 || p.ClientIP != "203.0.113.5" || p.OpenID != u.OpenID ||
			p.Body != "老王面馆-牛肉面" || !p.TimeStart.Equal(clock.Now()) || !p.TimeExpire.Equal(clock.Now().Add(15*time.Minute)) {
			t.Errorf("prepay request %+v", p)
		}
		if len(p.OutTradeNo) != 32 {
			t.Errorf("out_trade_no %q, want 32 characters", p.OutTradeNo)
		}
		if res.OrderID != o.ID || res.Payment.(map[string]string)["package"] != "prepay_id=wx-prepay-"+res.OutTradeNo {
			t.Errorf("pay result %+v", res)
		}

		// Paid: Pay refuses, and so it does for another user's order.
		if err := s.Settle(ctx, Payment{OutTradeNo: res.OutTradeNo, TransactionID: "4200000000000001", TotalFen: 5600, Paid: true}, "notify"); err != nil {
			t.Fatal(err)
		}
		_, err = s.Pay(ctx, u, o.ID, "198.51.100.1")
		wantCode(t, err, CodeConflict)
		_, err = s.Pay(ctx, User{ID: u.ID + 1}, o.ID, "198.51.100.1")
		wantCode(t, err, CodeNotFound)
	})
}

// TestServicePayExpired: once an out_trade_no's window has passed, Pay
// closes it with WeChat (not before WeChat's 5 minutes) and issues a new
// one; WeChat saying it was paid meanwhile settles the order instead.
func TestServicePayExpired(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx, clock, pay, s, u := fixture(t, db)
		o := mustOrder(t, s, u, 101, 1)
		first := mustPay(t, s, u, o)
		clock.Add(16 * time.Minute)
		second, err := s.Pay(ctx, u, o.ID, "198.51.100.1")
		if err != nil || second.OutTradeNo == first.OutTradeNo {
			t.Fatalf("after expiry: %+v, %v; want a new out_trade_no", second, err)
		}
		if _, _, closes := pay.calls(); len(closes) != 1 || closes[0] != first.OutTradeNo {
			t.Errorf("closes %v, want the expired %s", closes, first.OutTradeNo)
		}
		clock.Add(16 * time.Minute)
		pay.CloseFn = func(string) error { return ErrWeChatPaid }
		pay.QueryFn = func(otn string) (QueryState, *Payment, error) {
			return QueryPaid, &Payment{OutTradeNo: otn, TransactionID: "4200000000000002", TotalFen: 1800, Paid: true, TimeEnd: clock.Now()}, nil
		}
		_, err = s.Pay(ctx, u, o.ID, "198.51.100.1")
		wantCode(t, err, CodeConflict) // paid meanwhile
		got, err := s.GetOrder(ctx, u, o.ID)
		if err != nil || got.Status != StatusPaid || got.PaidAt == nil {
			t.Errorf("order %+v, %v; want paid", got, err)
		}
	})
}

func TestServiceSettle(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		clock := newClock()
		s := newTestService(t, db, &fakePay{}, fakeLogin{}, clock)
		u := mustLogin(t, s)
		place := func() (Order, string) {
			o := mustOrder(t, s, u, 104, 2)
			res := mustPay(t, s, u, o)
			return o, res.OutTradeNo
		}
		anomalies := func() int {
			var n int
			if err := db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM anomalies`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		paidOrder, paidOTN := place()
		timeEnd := clock.Now().Add(-time.Minute).Truncate(time.Second)
		if err := s.Settle(ctx, Payment{OutTradeNo: paidOTN, TransactionID: "4200000000000010", TotalFen: 3000, Paid: true, TimeEnd: timeEnd}, "notify"); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name        string
			p           func(otn string) Payment
			wantErr     bool
			wantStatus  string
			wantAnomaly bool
		}{
			{"the right amount", func(otn string) Payment {
				return Payment{OutTradeNo: otn, TransactionID: "4200000000000011", TotalFen: 3000, Paid: true}
			}, false, StatusPaid, false},
			{"result_code FAIL", func(otn string) Payment {
				return Payment{OutTradeNo: otn, TransactionID: "4200000000000012", TotalFen: 3000}
			}, false, StatusUnpaid, false},
			{"another amount", func(otn string) Payment {
				return Payment{OutTradeNo: otn, TransactionID: "4200000000000013", TotalFen: 2999, Paid: true}
			}, false, StatusUnpaid, true},
			{"a transaction_id already used", func(otn string) Payment {
				return Payment{OutTradeNo: otn, TransactionID: "4200000000000010", TotalFen: 3000, Paid: true}
			}, false, StatusUnpaid, true},
			{"no transaction_id", func(otn string) Payment {
				return Payment{OutTradeNo: otn, TotalFen: 3000, Paid: true}
			}, true, StatusUnpaid, false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				o, otn := place()
				before := anomalies()
				err := s.Settle(ctx, tt.p(otn), "notify")
				if (err != nil) != tt.wantErr {
					t.Fatalf("Settle: %v, want error %v", err, tt.wantErr)
				}
				got, err := s.GetOrder(ctx, u, o.ID)
				if err != nil || got.Status != tt.wantStatus {
					t.Errorf("order %+v, %v; want %s", got, err, tt.wantStatus)
				}
				if n := anomalies() - before; (n == 1) != tt.wantAnomaly || n > 1 {
					t.Errorf("%d anomalies recorded, want one %v", n, tt.wantAnomaly)
				}
			})
		}
		// A redelivered notification changes nothing and records nothing.
		before := anomalies()
		if err := s.Settle(ctx, Payment{OutTradeNo: paidOTN, TransactionID: "4200000000000010", TotalFen: 3000, Paid: true}, "notify"); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetOrder(ctx, u, paidOrder.ID)
		if err != nil || got.Status != StatusPaid || got.PaidAt == nil || !got.PaidAt.Equal(timeEnd) || anomalies() != before {
			t.Errorf("after a redelivery: %+v, %v, %d anomalies (was %d); want paid at %v", got, err, anomalies(), before, timeEnd)
		}
		// An unknown out_trade_no is an anomaly, not an error.
		if err := s.Settle(ctx, Payment{OutTradeNo: "nobody", TransactionID: "4200000000000019", TotalFen: 1, Paid: true}, "notify"); err != nil || anomalies() != before+1 {
			t.Errorf("unknown out_trade_no: %v, %d anomalies; want nil and one more", err, anomalies())
		}
	})
}

// TestServiceGetOrderQueries: GetOrder asks WeChat about an unpaid order
// with a prepay_id, at most once per out_trade_no within the interval,
// and settles a payment it finds; a failed query returns the stored state.
func TestServiceGetOrderQueries(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx, clock, pay, s, u := fixture(t, db)
		o := mustOrder(t, s, u, 203, 1)
		if _, err := s.GetOrder(ctx, u, o.ID); err != nil {
			t.Fatal(err)
		}
		if _, q, _ := pay.calls(); len(q) != 0 {
			t.Fatalf("queried %v before any prepay", q)
		}
		res := mustPay(t, s, u, o)
		pay.QueryFn = func(string) (QueryState, *Payment, error) {
			return 0, nil, &UpstreamError{Kind: UpstreamUnavailable, Err: errors.New("timeout")}
		}
		got, err := s.GetOrder(ctx, u, o.ID)
		if err != nil || got.Status != StatusUnpaid {
			t.Fatalf("with WeChat down: %+v, %v; want the stored unpaid order", got, err)
		}
		pay.QueryFn = func(otn string) (QueryState, *Payment, error) {
			return QueryPaid, &Payment{OutTradeNo: otn, TransactionID: "4200000000000020", TotalFen: 800, Paid: true, TimeEnd: clock.Now()}, nil
		}
		if got, _ := s.GetOrder(ctx, u, o.ID); got.Status != StatusUnpaid {
			t.Errorf("queried again within the interval: %+v", got)
		}
		s.queried = NewLimiter(Rate{Every: queryInterval, Burst: 1}, maxMeteredKeys) // the interval has passed
		got, err = s.GetOrder(ctx, u, o.ID)
		if err != nil || got.Status != StatusPaid {
			t.Errorf("after WeChat says paid: %+v, %v; want paid", got, err)
		}
		if _, q, _ := pay.calls(); len(q) != 2 || q[0] != res.OutTradeNo || q[1] != res.OutTradeNo {
			t.Errorf("queries %v, want two of %s", q, res.OutTradeNo)
		}
	})
}

// TestServiceReconcile: what one reconciliation run does with an
// out_trade_no in each of WeChat's states, before and after its expiry.
func TestServiceReconcile(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		for _, tt := range []struct {
			name       string
			age        time.Duration
			state      QueryState
			closeErr   error
			wantDone   bool
			wantStatus string
			wantClose  bool
		}{
			{"not paid, still payable", time.Minute, QueryNotPaid, nil, false, StatusUnpaid, false},
			{"paid", time.Minute, QueryPaid, nil, true, StatusPaid, false},
			{"closed at WeChat", time.Minute, QueryClosed, nil, true, StatusClosed, false},
			{"not found, still payable", time.Minute, QueryNotFound, nil, false, StatusUnpaid, false},
			{"not found after expiry", 20 * time.Minute, QueryNotFound, nil, true, StatusClosed, false},
			{"not paid after expiry", 20 * time.Minute, QueryNotPaid, nil, true, StatusClosed, true},
			{"paid while closing", 20 * time.Minute, QueryNotPaid, ErrWeChatPaid, true, StatusPaid, true},
		} {
			t.Run(tt.name, func(t *testing.T) {
				clock := newClock()
				pay := &fakePay{}
				s := newTestService(t, db, pay, fakeLogin{}, clock)
				u := mustLogin(t, s)
				o := mustOrder(t, s, u, 301, 1)
				res := mustPay(t, s, u, o)
				clock.Add(tt.age)
				paid := &Payment{OutTradeNo: res.OutTradeNo, TransactionID: "4200" + strconv.FormatInt(o.ID, 10), TotalFen: 2500, Paid: true, TimeEnd: clock.Now()}
				state := tt.state
				pay.QueryFn = func(string) (QueryState, *Payment, error) {
					if state == QueryPaid {
						return QueryPaid, paid, nil
					}
					return state, nil, nil
				}
				pay.CloseFn = func(string) error {
					if tt.closeErr != nil {
						state = QueryPaid // what WeChat answers next
					}
					return tt.closeErr
				}
				done, after, err := s.Reconcile(ctx, res.OutTradeNo)
				if err != nil || done != tt.wantDone {
					t.Fatalf("Reconcile = %v, %v, %v; want done %v", done, after, err, tt.wantDone)
				}
				if !done && (after <= 0 || after > 2*time.Minute) {
					t.Errorf("ask again after %v, want within QueryEvery", after)
				}
				got, err := s.GetOrder(ctx, u, o.ID)
				if err != nil || got.Status != tt.wantStatus {
					t.Errorf("order %+v, %v; want %s", got, err, tt.wantStatus)
				}
				if _, _, closes := pay.calls(); (len(closes) > 0) != tt.wantClose {
					t.Errorf("closes %v, want a close %v", closes, tt.wantClose)
				}
				// Settled or closed: a later run does nothing.
				if done {
					_, q0, _ := pay.calls()
					if d, _, err := s.Reconcile(ctx, res.OutTradeNo); !d || err != nil {
						t.Errorf("second run: %v, %v", d, err)
					}
					if _, q1, _ := pay.calls(); len(q1) != len(q0) {
						t.Errorf("a finished out_trade_no was queried again")
					}
				}
			})
		}
		// An out_trade_no the shop never issued is nothing to do.
		s := newTestService(t, db, &fakePay{}, fakeLogin{}, newClock())
		if done, _, err := s.Reconcile(ctx, "unknown"); !done || err != nil {
			t.Errorf("unknown out_trade_no: %v, %v", done, err)
		}
	})
}

// TestServiceRecords: what the database says WeChat knows, for a fake
// WeChat to learn back: the open out_trade_nos that have a prepay_id
// (with the parameters sent for them), the payments, the refunds WeChat
// accepted; newest first, and cut at the limit with Truncated set.
func TestServiceRecords(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *DB) {
		ctx, clock, pay, s, u := fixture(t, db)
		var unpaid []string
		for range 2 {
			unpaid = append(unpaid, mustPay(t, s, u, mustOrder(t, s, u, 101, 1)).OutTradeNo)
			clock.Add(time.Second)
		}
		paid := mustOrder(t, s, u, 102, 2)
		paidOTN := mustPay(t, s, u, paid).OutTradeNo
		timeEnd := clock.Now().Truncate(time.Second)
		err := s.Settle(ctx, Payment{OutTradeNo: paidOTN, TransactionID: "4200000000000099", TotalFen: paid.TotalFen, Paid: true, TimeEnd: timeEnd,
			Refunds: []RefundResult{{OutTradeNo: paidOTN, OutRefundNo: "R-at-wechat", RefundID: "50300000000099", RefundFen: 600, Status: "SUCCESS", SuccessTime: timeEnd}}}, "query")
		if err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Second)
		pay.PrepayFn = func(PrepayRequest) (string, error) { // stored, never given a prepay_id
			return "", &UpstreamError{Kind: UpstreamUnavailable, Err: errors.New("timeout")}
		}
		if _, err := s.Pay(ctx, u, mustOrder(t, s, u, 103, 1).ID, "198.51.100.1"); err == nil {
			t.Fatal("Pay without WeChat succeeded")
		}
		sent := map[string]PrepayRequest{}
		prepays, _, _ := pay.calls()
		for _, p := range prepays {
			sent[p.OutTradeNo] = p
		}

		rec, err := s.Records(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Truncated || len(rec.Unpaid) != 2 || len(rec.Paid) != 1 || len(rec.Refunds) != 1 {
			t.Fatalf("records %+v; want 2 unpaid, 1 paid, 1 refund, not truncated", rec)
		}
		for i, otn := range []string{unpaid[1], unpaid[0]} { // newest first
			got, want := rec.Unpaid[i], sent[otn]
			if got.OutTradeNo != otn || got.PrepayID != "wx-prepay-"+otn || got.TotalFen != want.TotalFen || got.Body != want.Body ||
				got.ClientIP != want.ClientIP || got.OpenID != u.OpenID || !got.TimeStart.Equal(want.TimeStart) || !got.TimeExpire.Equal(want.TimeExpire) {
				t.Errorf("unpaid %d: %+v, want %+v with prepay_id wx-prepay-%s", i, got, want, otn)
			}
		}
		if p := rec.Paid[0]; p.OutTradeNo != paidOTN || p.TransactionID != "4200000000000099" || p.TotalFen != paid.TotalFen || paid.TotalFen != 4800 ||
			p.OpenID != u.OpenID || !p.TimeEnd.Equal(timeEnd) {
			t.Errorf("paid %+v", p)
		}
		want := RefundRecord{OutRefundNo: "R-at-wechat", OutTradeNo: paidOTN, RefundID: "50300000000099", AmountFen: 600, Status: "SUCCESS"}
		if rec.Refunds[0] != want {
			t.Errorf("refund %+v, want %+v", rec.Refunds[0], want)
		}

		rec, err = s.Records(ctx, 1)
		if err != nil || !rec.Truncated || len(rec.Unpaid) != 1 || rec.Unpaid[0].OutTradeNo != unpaid[1] {
			t.Errorf("at limit 1: %+v, %v; want the newest unpaid only, truncated", rec, err)
		}
	})
}
