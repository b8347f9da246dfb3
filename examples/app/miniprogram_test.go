package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxpay-go/wxpay/examples/client"
	"github.com/wxpay-go/wxpay/examples/shop"
)

// TestMiniProgram runs the mini-program's own pages (examples/miniprogram)
// in Node, with a stand-in for the WeChat runtime (testdata/wxrun.js),
// against the server in fake mode: log in, a cart from two shops refused in
// the API's words, two goods ordered, paid, the order turning paid and
// listed. Then the database must agree.
func TestMiniProgram(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		node, err = exec.LookPath("nodejs")
	}
	if err != nil {
		msg := "no node on PATH: the mini-program's pages run in Node 18 or later (apt-get install nodejs)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var shopA int64
	if err := h.db.QueryRow(`SELECT id FROM shops ORDER BY id LIMIT 1`).Scan(&shopA); err != nil {
		t.Fatal(err)
	}
	goods := make([]shop.Goods, 2)
	rows, err := h.db.Query(`SELECT id, name, price_fen FROM goods WHERE shop_id = $1 ORDER BY id LIMIT 2`, shopA)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; rows.Next(); i++ {
		if err := rows.Scan(&goods[i].ID, &goods[i].Name, &goods[i].PriceFen); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()
	sum := goods[0].PriceFen + goods[1].PriceFen

	// The API's words for a cart of two shops, asked directly.
	var second int64
	if err := h.db.QueryRow(`SELECT MIN(id) FROM goods WHERE shop_id = (SELECT MIN(id) FROM shops WHERE id > $1)`, shopA).Scan(&second); err != nil {
		t.Fatal(err)
	}
	_, err = h.user().CreateOrder(ctx, []shop.Item{{GoodsID: goods[0].ID, Count: 1}, {GoodsID: second, Count: 1}}, "")
	var mixed *client.Error
	if !errors.As(err, &mixed) {
		t.Fatalf("order from two shops: %v", err)
	}

	cmd := exec.CommandContext(ctx, node, "testdata/wxrun.js", "../miniprogram", h.s.URL)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("the mini-program's pages: %v\n%s", err, stderr.String())
	}
	var got struct {
		UserID       int64    `json:"user_id"`
		Shops        []string `json:"shops"`
		Goods        []string `json:"goods"`
		MixedError   string   `json:"mixed_error"`
		CartTotal    string   `json:"cart_total"`
		StatusBefore string   `json:"status_before"`
		Order        struct {
			ID, Status, Total string
		} `json:"order"`
		Payment map[string]string `json:"payment"`
		Verdict string            `json:"verdict"`
		Orders  []struct {
			ID, Status, Total, Summary string
		} `json:"orders"`
		Navigations []string `json:"navigations"`
	}
	if err := json.Unmarshal(stdout, &got); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}

	if got.UserID <= 0 || len(got.Shops) < 2 || len(got.Goods) < 2 {
		t.Errorf("after logging in: user %d, shops %v, goods %v", got.UserID, got.Shops, got.Goods)
	}
	for i, g := range goods {
		if want := g.Name + " " + shop.FormatYuan(g.PriceFen); got.Goods[i] != want {
			t.Errorf("goods %d shows %q, want %q", i, got.Goods[i], want)
		}
	}
	wantErr := regexp.MustCompile(`^` + regexp.QuoteMeta(string(mixed.Code)+": "+mixed.Message) + ` \(request [0-9a-f]{16}\)$`)
	if !wantErr.MatchString(got.MixedError) {
		t.Errorf("cart of two shops shows %q, want the API's %s: %s", got.MixedError, mixed.Code, mixed.Message)
	}
	if got.CartTotal != shop.FormatYuan(sum) || got.StatusBefore != "unpaid" || got.Order.Status != "paid" || got.Order.Total != shop.FormatYuan(sum) {
		t.Errorf("cart %s, order %s then %s for %s; want %s, unpaid then paid", got.CartTotal, got.StatusBefore, got.Order.Status, got.Order.Total, shop.FormatYuan(sum))
	}
	if got.Payment["appId"] != h.s.FakeConfig.AppID || !strings.HasPrefix(got.Payment["package"], "prepay_id=") || got.Payment["paySign"] == "" {
		t.Errorf("wx.requestPayment arguments: %v", got.Payment)
	}
	if got.Verdict != "requestPayment:ok" {
		t.Errorf("payment verdict %q", got.Verdict)
	}
	if len(got.Orders) != 1 || got.Orders[0].ID != got.Order.ID || got.Orders[0].Status != "paid" ||
		got.Orders[0].Summary != goods[0].Name+" × 1，"+goods[1].Name+" × 1" {
		t.Errorf("order list: %+v", got.Orders)
	}
	if len(got.Navigations) != 1 || got.Navigations[0] != "/pages/order/order?id="+got.Order.ID {
		t.Errorf("navigations: %v", got.Navigations)
	}

	id, err := strconv.ParseInt(got.Order.ID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	var status string
	var total, paid int64
	if err := h.db.QueryRow(`SELECT o.status, o.total_fen, p.total_fen FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.id = $1`, id).Scan(&status, &total, &paid); err != nil {
		t.Fatal(err)
	}
	if status != "paid" || total != sum || paid != sum {
		t.Errorf("database: order %s, total %d, paid %d; want paid, %d", status, total, paid, sum)
	}
	if n := h.count(`SELECT COUNT(*) FROM orders`); n != 1 {
		t.Errorf("%d orders, want the one placed", n)
	}
}
