package app_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/examples/client"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// store is where a test server keeps its data: a SQLite file, or on the
// PostgreSQL run of the suite a database of its own.
type store struct{ path, url string }

func newStore(t *testing.T) store {
	t.Helper()
	return store{path: t.TempDir() + "/shop.db", url: testStoreURL(t)}
}

// open returns a writable connection to the store, for a test to put
// rows where a server would read them.
func (st store) open(t *testing.T) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if st.url != "" {
		db, err = sql.Open("pgx", st.url)
	} else {
		db, err = sql.Open("sqlite", "file:"+st.path+"?_pragma=busy_timeout(10000)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// realMerchant is the merchant of the real-mode servers of these tests.
var realMerchant = wxpaytest.Config{
	AppID: "wx8888888888888888", MchID: "1900000109", APIKey: strings.Repeat("k", 32),
	SignType: wxpay.SignHMACSHA256, AppSecret: strings.Repeat("s", 32),
}

// startReal starts a real-mode server (every WeChat variable set, no
// WXPAY_BASE_URL) on st for merchant m, whose calls to WeChat's hosts a
// wxpaytest fake answers in-process: real mode in every respect but the
// network. It returns the server, or Start's error.
func startReal(t *testing.T, st store, m wxpaytest.Config) (*app.Server, *wxpaytest.Fake, error) {
	t.Helper()
	fake, err := wxpaytest.New(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	c, err := app.ParseConfig([]string{"-addr", "127.0.0.1:0"}, env(map[string]string{
		"WXPAY_APPID": m.AppID, "WXPAY_MCHID": m.MchID, "WXPAY_API_KEY": m.APIKey, "WX_APP_SECRET": m.AppSecret,
		"PUBLIC_URL": "https://shop.example.com", "JWT_SECRET": testJWTSecret,
	}))
	if err != nil {
		t.Fatal(err)
	}
	c.DBPath, c.DatabaseURL = st.path, st.url
	c.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if h := r.URL.Hostname(); h != "api.mch.weixin.qq.com" && h != "api.weixin.qq.com" {
			t.Errorf("called %s", r.URL)
			return nil, errors.New("not WeChat")
		}
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, r)
		return rec.Result(), nil
	})}
	s, err := app.Start(context.Background(), c, &syncBuf{})
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { stop(s) })
	return s, fake, nil
}

// startFake starts a fake-mode server on st.
func startFake(t *testing.T, st store) (*app.Server, error) {
	t.Helper()
	s, err := app.Start(context.Background(), app.Config{
		Addr: "127.0.0.1:0", DBPath: st.path, DatabaseURL: st.url, JWTSecret: testJWTSecret, API: testAPI(),
	}, &syncBuf{})
	if err == nil {
		t.Cleanup(func() { stop(s) })
	}
	return s, err
}

var stopped sync.Map // of *app.Server

// stop closes s once: a test may stop a server early, and Close must run
// only once.
func stop(s *app.Server) {
	if _, done := stopped.LoadOrStore(s, true); !done {
		s.Close()
	}
}

// TestModeRecorded: a database records the mode (and, in real mode, the
// merchant) it was first started in, and a server of the other mode or
// for another merchant refuses to start on it, saying why.
func TestModeRecorded(t *testing.T) {
	t.Run("real refuses a fake-mode database", func(t *testing.T) {
		st := newStore(t)
		f, err := startFake(t, st)
		if err != nil {
			t.Fatal(err)
		}
		stop(f)
		_, _, err = startReal(t, st, realMerchant)
		var ie *shop.InstanceError
		if !errors.As(err, &ie) || ie.Recorded.Mode != shop.ModeFake || !strings.Contains(err.Error(), "fake mode") {
			t.Fatalf("real mode on a fake-mode database: %v, want an InstanceError naming fake mode", err)
		}
	})
	t.Run("fake refuses a real database", func(t *testing.T) {
		st := newStore(t)
		r, _, err := startReal(t, st, realMerchant)
		if err != nil {
			t.Fatal(err)
		}
		stop(r)
		_, err = startFake(t, st)
		var ie *shop.InstanceError
		if !errors.As(err, &ie) || ie.Recorded.Mode != shop.ModeReal || !strings.Contains(err.Error(), "1900000109") {
			t.Fatalf("fake mode on a real database: %v, want an InstanceError naming the merchant", err)
		}
		other := realMerchant
		other.MchID = "1900000110"
		if _, _, err := startReal(t, st, other); !errors.As(err, &ie) || ie.Recorded.MchID != "1900000109" {
			t.Fatalf("another merchant on a real database: %v, want an InstanceError", err)
		}
		other = realMerchant
		other.AppID = "wx9999999999999999"
		if _, _, err := startReal(t, st, other); !errors.As(err, &ie) {
			t.Fatalf("another appid on a real database: %v, want an InstanceError", err)
		}
		// The same merchant starts again.
		if _, _, err := startReal(t, st, realMerchant); err != nil {
			t.Fatalf("the same merchant again: %v", err)
		}
	})
}

// TestDefaultDBFiles: without -db or DB_PATH each mode has its own SQLite
// file, so that trying fake mode and then going live never share data.
func TestDefaultDBFiles(t *testing.T) {
	if os.Getenv(storeEnv) != "" {
		t.Skip("about the SQLite default files; the PostgreSQL run has nothing to add")
	}
	dir := t.TempDir()
	t.Chdir(dir)
	f, err := startFake(t, store{})
	if err != nil {
		t.Fatal(err)
	}
	stop(f)
	r, _, err := startReal(t, store{}, realMerchant)
	if err != nil {
		t.Fatalf("real mode after fake mode, both on their default files: %v", err)
	}
	stop(r)
	for _, name := range []string{app.DefaultDBPath(shop.ModeFake), app.DefaultDBPath(shop.ModeReal)} {
		if _, err := os.Stat(dir + "/" + name); err != nil {
			t.Errorf("default file: %v", err)
		}
	}
	if app.DefaultDBPath(shop.ModeFake) == app.DefaultDBPath(shop.ModeReal) {
		t.Error("one default file for both modes")
	}
}

// TestTokenBoundToMode: a fake-mode server and a real one sharing a
// JWT_SECRET never accept each other's tokens, even for a user id that
// exists on both: the token's aud (the mode) and iss (the merchant)
// differ.
func TestTokenBoundToMode(t *testing.T) {
	ctx := context.Background()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	fst, rst := newStore(t), newStore(t)
	f, err := startFake(t, fst)
	if err != nil {
		t.Fatal(err)
	}
	r, rfake, err := startReal(t, rst, realMerchant)
	if err != nil {
		t.Fatal(err)
	}
	fc := &client.Client{Base: f.URL, HTTP: hc}
	code, err := fc.FakeLogin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	fID, err := fc.Login(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	rc := &client.Client{Base: r.URL, HTTP: hc}
	rID, err := rc.Login(ctx, rfake.LoginCode("o-real-user"))
	if err != nil {
		t.Fatal(err)
	}
	// Each user exists on both servers, so only the binding can refuse.
	for st, id := range map[store]int64{rst: fID, fst: rID} {
		if _, err := st.open(t).Exec(`INSERT INTO users (id, openid, created_at) VALUES ($1, $2, 0)`, id, "o-copy"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		server *app.Server
		token  string
		status int
	}{
		{"fake token on the fake server", f, fc.Token, 200},
		{"real token on the real server", r, rc.Token, 200},
		{"fake token on the real server", r, fc.Token, 401},
		{"real token on the fake server", f, rc.Token, 401},
	} {
		c := &client.Client{Base: tc.server.URL, HTTP: hc, Token: tc.token}
		_, err := c.Orders(ctx, 1, 10)
		var ae *client.Error
		switch {
		case tc.status == 200 && err != nil:
			t.Errorf("%s: %v, want 200", tc.name, err)
		case tc.status != 200 && (!errors.As(err, &ae) || ae.Status != tc.status):
			t.Errorf("%s: %v, want %d", tc.name, err, tc.status)
		}
	}
}
