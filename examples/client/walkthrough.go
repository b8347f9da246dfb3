package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/wxpay-go/wxpay/examples/shop"
)

// Walkthrough drives a server in fake mode through the whole flow a
// mini-program user goes through, printing each step to w: login, shops,
// goods, an order, paying, WeChat's confirmation and notification, and the
// order showing paid.
// c needs only Base (and HTTP, if the default will not do); it is logged in
// as a new user on the way.
func Walkthrough(ctx context.Context, c *Client, w io.Writer) error {
	base := c.Base
	step := 0
	say := func(format string, args ...any) {
		step++
		fmt.Fprintf(w, "%d. "+format+"\n", append([]any{step}, args...)...)
	}
	if err := c.Do(ctx, "GET", "/healthz", nil, nil, nil); err != nil {
		return fmt.Errorf("is the server running at %s? (go -C examples run ./server): %w", base, err)
	}
	say("server at %s is healthy", base)

	code, err := c.FakeLogin(ctx, "")
	var apiErr *Error
	if errors.As(err, &apiErr) && apiErr.Status == 404 {
		return errors.New("the server is not in fake mode: the walkthrough plays the WeChat user through the fake, so unset the WeChat credentials")
	}
	if err != nil {
		return err
	}
	say("wx.login (played by the fake WeChat) gave a one-time login code")
	uid, err := c.Login(ctx, code)
	if err != nil {
		return err
	}
	say("POST /users/wxLogin: logged in as user %d; the server sent a JWT and kept WeChat's session key to itself", uid)

	shops, err := c.Shops(ctx, 1, 10)
	if err != nil {
		return err
	}
	if len(shops.Items) == 0 {
		return errors.New("no shops")
	}
	say("GET /shops: %d shops", shops.Total)
	for _, s := range shops.Items {
		fmt.Fprintf(w, "     %d  %s  (%s)\n", s.ID, s.Name, s.Address)
	}
	sh := shops.Items[0]
	goods, err := c.Goods(ctx, sh.ID, 1, 10)
	if err != nil {
		return err
	}
	if len(goods.Items) < 2 {
		return errors.New("the first shop has fewer than two goods")
	}
	say("GET /shops/%d/goods: %s sells %d goods", sh.ID, sh.Name, goods.Total)
	for _, g := range goods.Items {
		fmt.Fprintf(w, "     %d  %-8s %8s\n", g.ID, g.Name, shop.FormatYuan(g.PriceFen))
	}

	items := []shop.Item{{GoodsID: goods.Items[0].ID, Count: 2}, {GoodsID: goods.Items[1].ID, Count: 1}}
	var key [8]byte
	rand.Read(key[:])
	o, err := c.CreateOrder(ctx, items, hex.EncodeToString(key[:]))
	if err != nil {
		return err
	}
	say("POST /orders: order %d placed (%s); the server priced it from its database:", o.ID, o.Status)
	for _, l := range o.Lines {
		fmt.Fprintf(w, "     %-8s %s × %d = %s\n", l.Name, shop.FormatYuan(l.PriceFen), l.Count, shop.FormatYuan(l.SubtotalFen))
	}
	fmt.Fprintf(w, "     total %s\n", shop.FormatYuan(o.TotalFen))

	pay, err := c.Pay(ctx, o.ID)
	if err != nil {
		return err
	}
	// The arguments say which generation the server pays on: v3's are
	// signed with the merchant's RSA key (signType RSA), v2's with the
	// API key (MD5 or HMAC-SHA256).
	prepay, notify := "unifiedorder", "/orders/pay/notify"
	var args struct {
		SignType string `json:"signType"`
	}
	if json.Unmarshal(pay.Payment, &args) == nil && args.SignType == "RSA" {
		prepay, notify = "JSAPI prepay (/v3/pay/transactions/jsapi)", "/orders/pay/v3/notify"
	}
	say("POST /orders/%d/pay: WeChat's %s gave a prepay_id for out_trade_no %s; these are wx.requestPayment's arguments:\n     %s",
		o.ID, prepay, pay.OutTradeNo, pay.Payment)

	txn, err := c.FakeConfirm(ctx, pay.Payment)
	if err != nil {
		return err
	}
	say("the user confirmed wx.requestPayment; WeChat (the fake) charged %s as transaction %s and now notifies POST %s",
		shop.FormatYuan(o.TotalFen), txn, notify)

	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := c.Order(ctx, o.ID)
		if err != nil {
			return err
		}
		if got.Status == shop.StatusPaid {
			say("GET /orders/%d: %s, %s received at %s", o.ID, got.Status, shop.FormatYuan(got.TotalFen), got.PaidAt.Local().Format(time.DateTime))
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("order %d still %s after 20 seconds", o.ID, got.Status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	fmt.Fprintln(w, "done: the whole flow worked.")
	return nil
}
