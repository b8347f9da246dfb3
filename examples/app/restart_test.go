package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/examples/client"
	"github.com/wxpay-go/wxpay/examples/shop"
)

// TestFakeRestart: a server in fake mode restarts on its database (same
// JWT_SECRET and ADMIN_TOKEN); the new in-process fake learns back what
// the old one knew, so an order prepaid before the restart is paid with
// its old prepay_id, and an order paid before it is refunded. On both
// stores (the PostgreSQL rerun too).
func TestFakeRestart(t *testing.T) {
	ctx := context.Background()
	admin := "admin-" + strings.Repeat("r", 32)
	cfg := app.Config{
		Addr: "127.0.0.1:0", DBPath: t.TempDir() + "/shop.db", DatabaseURL: testStoreURL(t),
		JWTSecret: testJWTSecret, AdminToken: admin, Speed: 60, Timing: testTiming, API: testAPI(),
	}
	logs := &syncBuf{}
	start := func() *app.Server {
		t.Helper()
		s, err := app.Start(ctx, cfg, logs)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	s := start()
	c := &client.Client{Base: s.URL, HTTP: hc}
	code, err := c.FakeLogin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, code); err != nil {
		t.Fatal(err)
	}
	prepaid, err := c.CreateOrder(ctx, []shop.Item{{GoodsID: 101, Count: 1}}, "")
	if err != nil {
		t.Fatal(err)
	}
	before, err := c.Pay(ctx, prepaid.ID)
	if err != nil {
		t.Fatal(err)
	}
	paid, err := c.CreateOrder(ctx, []shop.Item{{GoodsID: 102, Count: 2}}, "")
	if err != nil {
		t.Fatal(err)
	}
	pr, err := c.Pay(ctx, paid.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FakeConfirm(ctx, pr.Payment); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, paid.ID, shop.StatusPaid)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = start()
	defer s.Close()
	c.Base = s.URL
	// The old token still works (same JWT_SECRET); the prepay_id stored
	// before the restart is the one the new fake knows.
	after, err := c.Pay(ctx, prepaid.ID)
	if err != nil {
		t.Fatalf("pay after the restart: %v\n%s", err, logs)
	}
	var pb, pa struct{ Package string }
	json.Unmarshal(before.Payment, &pb)
	json.Unmarshal(after.Payment, &pa)
	if after.OutTradeNo != before.OutTradeNo || pa.Package != pb.Package {
		t.Fatalf("after the restart: %s %s; before %s %s", after.OutTradeNo, pa.Package, before.OutTradeNo, pb.Package)
	}
	if _, err := c.FakeConfirm(ctx, after.Payment); err != nil {
		t.Fatalf("the fake refused the prepay_id of before the restart: %v", err)
	}
	waitStatus(t, c, prepaid.ID, shop.StatusPaid)

	// The order paid before the restart is refunded through the new fake.
	admin2 := &client.Client{Base: s.URL, HTTP: hc, Token: admin}
	var r shop.Refund
	h := http.Header{"Idempotency-Key": {"restart-refund"}}
	if err := admin2.Do(ctx, "POST", "/orders/"+itoa(paid.ID)+"/refund", h, map[string]any{"amount_fen": 1000}, &r); err != nil {
		t.Fatalf("refund after the restart: %v\n%s", err, logs)
	}
	if r.Status != shop.RefundProcessing && r.Status != shop.RefundSucceeded {
		t.Fatalf("refund %+v", r)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		o, err := c.Order(ctx, paid.ID)
		if err == nil && len(o.Refunds) == 1 && o.Refunds[0].Status == shop.RefundSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refund not settled: %+v %v\n%s", o, err, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "fake WeChat restored from the database") {
		t.Error("the restart does not say what it restored")
	}
	// The startup line names the store in use, never a password.
	want := "db=sqlite:" + cfg.DBPath
	if cfg.DatabaseURL != "" {
		want = "db=postgres://"
	}
	if !strings.Contains(logs.String(), want) || (cfg.DatabaseURL != "" && strings.Contains(logs.String(), "shop.db")) {
		t.Errorf("the log does not name the database as %q:\n%s", want, logs)
	}
}

func waitStatus(t *testing.T, c *client.Client, id int64, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		o, err := c.Order(context.Background(), id)
		if err == nil && o.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %d: %+v %v; want %s", id, o, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
