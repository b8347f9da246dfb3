package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/client"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

var (
	updateScreenshots = flag.Bool("update-screenshots", false, "rewrite testdata/web-demo.png from TestWebDemo's paid step")
	screenshotDir     = flag.String("screenshots", "", "keep every step's screenshot of TestWebDemo in this directory")
)

// readmeScreenshot is the step of TestWebDemo whose screenshot the README
// shows.
const readmeScreenshot = "7-paid"

// chromiumPath finds a Chromium to drive, or skips (fails under CI=true)
// saying why there is none.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium on PATH (and CHROMIUM unset): install it with `bash .ci/chromium.sh` (Debian's chromium and fonts-noto-cjk)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser starts a headless Chromium with a fresh profile and without
// background networking, phone-sized, and records what the page does
// that it must not: a request to another origin, a script exception, a
// console error, a CSP violation.
type browser struct {
	t      *testing.T
	ctx    context.Context
	origin string

	mu       sync.Mutex
	problems []string
	allow    func(string) bool // console errors expected at the moment
}

func newBrowser(t *testing.T, exe, origin string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.WindowSize(375, 740),
		// A browser whose own language is not the page's: the page must
		// still read (and write its dates) in its own.
		chromedp.Flag("lang", "de-DE"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, origin: origin}
	// The first Run starts the browser; its context must carry no timeout.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(375, 740, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			u := ev.Request.URL
			if u != origin && !strings.HasPrefix(u, origin+"/") {
				b.problem("request to another origin: " + u)
			}
		case *runtime.EventExceptionThrown:
			b.problem("script exception: " + (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				b.problem("console." + string(ev.Type) + " called")
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				b.mu.Lock()
				ok := b.allow != nil && b.allow(ev.Entry.Text)
				b.mu.Unlock()
				if !ok {
					b.problem(fmt.Sprintf("console error (%s): %s", ev.Entry.Source, ev.Entry.Text))
				}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *browser) problem(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, s)
}

// expectErrors lets console errors that allow accepts through, until
// called again with nil.
func (b *browser) expectErrors(allow func(string) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allow = allow
}

func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// label is the CSS selector of the element with this aria-label: the tests
// find controls as a screen reader would.
func label(s string) chromedp.CSS {
	if strings.ContainsAny(s, `"\`) {
		panic("label with a quote or backslash: " + s)
	}
	return chromedp.CSS(`[aria-label="` + s + `"]`)
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// text is the visible text of sel, once it is visible.
func (b *browser) text(sel chromedp.CSS) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(sel, chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// waitText waits until the visible element sel reads want.
func (b *browser) waitText(sel chromedp.CSS, want string, d time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d+5*time.Second)
	defer cancel()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.offsetParent !== null && e.textContent.trim() === %q; })()`, sel, want)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(d))); err != nil {
		got := eval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel))
		b.t.Fatalf("waiting for %s to read %q: %v (it reads %q)", sel, want, err, got)
	}
}

// shot saves a screenshot of the phone's screen as step name.
func (b *browser) shot(dir, name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if sz := img.Bounds().Size(); sz.X != 750 || sz.Y != 1480 {
		b.t.Errorf("screenshot %s is %v, want the 375×740 viewport at scale 2", name, sz)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if name == readmeScreenshot && *updateScreenshots {
		if err := os.WriteFile(filepath.Join("testdata", "web-demo.png"), buf, 0o644); err != nil {
			b.t.Fatal(err)
		}
		b.t.Logf("wrote testdata/web-demo.png (%d bytes)", len(buf))
	}
}

type demoGoods struct {
	id    int64
	name  string
	price int64
}

// TestWebDemo drives the browser demo at "/" in headless Chromium as a
// user would: log in, add two goods to the cart (and meet an API error on
// the way), order, pay, and watch the order turn paid; then the database
// must agree with what the page showed.
func TestWebDemo(t *testing.T) {
	exe := chromiumPath(t)
	h := newHarness(t)
	dir := *screenshotDir
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// What the page should show, straight from the database.
	var shopA, shopB string
	var shopAID int64
	if err := h.db.QueryRow(`SELECT id, name FROM shops ORDER BY id LIMIT 1`).Scan(&shopAID, &shopA); err != nil {
		t.Fatal(err)
	}
	if err := h.db.QueryRow(`SELECT name FROM shops WHERE id > $1 ORDER BY id LIMIT 1`, shopAID).Scan(&shopB); err != nil {
		t.Fatal(err)
	}
	goodsOf := func(q string, args ...any) []demoGoods {
		rows, err := h.db.Query(q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []demoGoods
		for rows.Next() {
			var g demoGoods
			if err := rows.Scan(&g.id, &g.name, &g.price); err != nil {
				t.Fatal(err)
			}
			out = append(out, g)
		}
		return out
	}
	goodsA := goodsOf(`SELECT id, name, price_fen FROM goods WHERE shop_id = $1 ORDER BY id LIMIT 2`, shopAID)
	goodsB := goodsOf(`SELECT g.id, g.name, g.price_fen FROM goods g JOIN shops s ON s.id = g.shop_id WHERE s.name = $1 ORDER BY g.id LIMIT 1`, shopB)
	if len(goodsA) != 2 || len(goodsB) != 1 {
		t.Fatalf("seed data: %v %v", goodsA, goodsB)
	}
	g1, g2, g3 := goodsA[0], goodsA[1], goodsB[0]

	// The words the API uses for a cart mixing two shops, asked directly.
	_, err := h.user().CreateOrder(ctx, []shop.Item{{GoodsID: g1.id, Count: 1}, {GoodsID: g2.id, Count: 1}, {GoodsID: g3.id, Count: 1}}, "")
	var mixed *client.Error
	if !errors.As(err, &mixed) || mixed.Status != 400 {
		t.Fatalf("order from two shops: %v, want a 400", err)
	}

	b := newBrowser(t, exe, h.s.URL)
	b.run("open the demo", chromedp.Navigate(h.s.URL+"/"), chromedp.WaitVisible(label("Log in with WeChat")))
	b.shot(dir, "1-login")

	b.run("log in", chromedp.Click(label("Log in with WeChat")),
		chromedp.WaitVisible(label("Shop "+shopA)))
	if who := b.text(label("Logged-in user")); !regexp.MustCompile(`^user [1-9][0-9]*$`).MatchString(who) {
		t.Errorf("logged-in user reads %q", who)
	}
	if lang := eval[string](b, `document.documentElement.lang`); lang != "en" {
		t.Errorf(`<html lang=%q>; the page is in English`, lang)
	}
	b.checkLanguage("the shops")
	b.shot(dir, "2-shops")

	b.run("open "+shopA, chromedp.Click(label("Shop "+shopA)),
		chromedp.WaitVisible(label("Add "+g1.name)))
	b.run("add two goods", chromedp.Click(label("Add "+g1.name)), chromedp.Click(label("Add "+g2.name)))
	b.waitText(label("In cart: "+g2.name), "1", 5*time.Second)
	goodsPage := b.text(label("Goods"))
	for _, g := range goodsA {
		if !strings.Contains(goodsPage, g.name) || !strings.Contains(goodsPage, shop.FormatYuan(g.price)) {
			t.Errorf("goods page lacks %s at %s:\n%s", g.name, shop.FormatYuan(g.price), goodsPage)
		}
	}
	b.shot(dir, "3-goods")

	// A third goods from another shop: the API would refuse the order
	// (above), so the page refuses the goods, says why, and leaves the
	// cart as it was.
	before := h.state()
	b.run("open "+shopB, chromedp.Click(label("Back to shops")),
		chromedp.Click(label("Shop "+shopB)),
		chromedp.WaitVisible(label("Add "+g3.name)))
	b.checkLanguage("goods of " + shopB)
	b.run("add goods of another shop", chromedp.Click(label("Add "+g3.name)), chromedp.WaitVisible(label("Error")))
	if shown := b.text(label("Error")); !strings.Contains(shown, "one shop") || !strings.Contains(shown, shopA) {
		t.Errorf("error shown for a cart mixing shops: %q", shown)
	}
	if n := b.text(label("In cart: " + g3.name)); n != "" {
		t.Errorf("goods of another shop went into the cart: %q", n)
	}
	if after := h.state(); after != before {
		t.Errorf("a refused goods changed the database:\nbefore %s\nafter %s", before, after)
	}
	b.shot(dir, "4-error")

	// Fixing the cart (any change that is made) clears the error.
	b.run("open the cart", chromedp.Click(label("Cart tab")), chromedp.WaitVisible(label("Place order")))
	b.waitText(label("Cart total"), shop.FormatYuan(g1.price+g2.price), 5*time.Second)
	b.run("one more "+g1.name, chromedp.Click(label("One more "+g1.name)))
	b.waitText(label("Cart total"), shop.FormatYuan(2*g1.price+g2.price), 5*time.Second)
	if !eval[bool](b, `document.querySelector('`+string(label("Error"))+`').hidden`) {
		t.Error("the error banner is still shown after the cart was fixed")
	}
	b.run("remove one "+g1.name, chromedp.Click(label("Remove one "+g1.name)))
	b.waitText(label("Cart total"), shop.FormatYuan(g1.price+g2.price), 5*time.Second)
	b.shot(dir, "5-cart")

	b.run("place the order", chromedp.Click(label("Place order")), chromedp.WaitVisible(label("Order status")))
	b.waitText(label("Order status"), "unpaid", 5*time.Second)
	if !eval[bool](b, `document.querySelector('`+string(label("Error"))+`').hidden`) {
		t.Error("the refused order's error is still shown after a good one")
	}
	var orderID int64
	if _, err := fmt.Sscan(b.text(label("Order number")), &orderID); err != nil {
		t.Fatal(err)
	}
	if got, want := b.text(label("Order total")), shop.FormatYuan(g1.price+g2.price); got != want {
		t.Errorf("order total %q, want %q", got, want)
	}

	// WeChat refuses the first unifiedorder for good: the page shows the
	// API's words for it (no invitation to retry), and the next click,
	// once the cause is gone, pays and clears the banner.
	if onV3() {
		h.s.Fake.Inject(wxpaytest.EndpointV3PrepayJSAPI, 1, wxpaytest.Fault{ErrCode: "NO_AUTH"})
	} else {
		h.s.Fake.Inject(wxpaytest.EndpointUnifiedOrder, 1, wxpaytest.Fault{ErrCode: wxpay.ErrCodeNoAuth})
	}
	b.expectErrors(func(s string) bool { return strings.Contains(s, "status of 502") })
	b.run("pay, refused", chromedp.Click(label("Pay")), chromedp.WaitVisible(label("Error")))
	b.expectErrors(nil)
	if shown := b.text(label("Error")); !regexp.MustCompile(`^upstream_refused: WeChat refused the payment \((NOAUTH|NO_AUTH)\); .* \(request [0-9a-f]{16}\)$`).MatchString(shown) {
		t.Errorf("error shown for a refused unifiedorder: %q", shown)
	}
	b.run("pay", chromedp.Click(label("Pay")), chromedp.WaitVisible(label("wx.requestPayment parameters")))
	if !eval[bool](b, `document.querySelector('`+string(label("Error"))+`').hidden`) {
		t.Error("the refusal's error is still shown after paying worked")
	}
	var params map[string]string
	if err := json.Unmarshal([]byte(b.text(label("wx.requestPayment parameters"))), &params); err != nil {
		t.Fatalf("wx.requestPayment parameters shown are not its JSON object: %v", err)
	}
	// v2 signs with HMAC-SHA256 (64 hex digits), v3 with the merchant's
	// RSA-2048 key (256 bytes, 344 in base64).
	signType, signLen := "HMAC-SHA256", 64
	if onV3() {
		signType, signLen = "RSA", 344
	}
	if params["appId"] != h.s.FakeConfig.AppID || !strings.HasPrefix(params["package"], "prepay_id=") ||
		params["signType"] != signType || len(params["paySign"]) != signLen || params["timeStamp"] == "" || params["nonceStr"] == "" {
		t.Errorf("wx.requestPayment parameters shown: %v", params)
	}
	b.shot(dir, "6-pay")

	b.run("confirm the payment", chromedp.Click(label("Confirm payment")))
	b.waitText(label("Order status"), "paid", 30*time.Second)
	if v := b.text(label("Payment verdict")); !strings.HasPrefix(v, "requestPayment:ok: WeChat transaction 42") {
		t.Errorf("verdict %q", v)
	}
	b.shot(dir, readmeScreenshot)

	b.run("list the orders", chromedp.Click(label("Orders tab")),
		chromedp.WaitVisible(label(fmt.Sprintf("Order %d", orderID))))
	row := b.text(label(fmt.Sprintf("Order %d", orderID)))
	if !strings.Contains(row, "paid") || !strings.Contains(row, shop.FormatYuan(g1.price+g2.price)) {
		t.Errorf("order list row: %q", row)
	}
	// The date is written in the page's language (English: "Dec 7, 2026,
	// 11:45 PM"), not the browser's (German: "07.12.2026, 23:45").
	if !regexp.MustCompile(`[A-Z][a-z]{2} [0-9]{1,2}, [0-9]{4}, [0-9]{1,2}:[0-9]{2}\s?[AP]M`).MatchString(row) {
		t.Errorf("order date not in the page's language (en): %q", row)
	}
	b.checkLanguage("the orders")
	b.shot(dir, "8-orders")

	// The database agrees with the page.
	var status string
	var total, paid, lines, lineSum int64
	if err := h.db.QueryRow(`SELECT status, total_fen FROM orders WHERE id = $1`, orderID).Scan(&status, &total); err != nil {
		t.Fatal(err)
	}
	if err := h.db.QueryRow(`SELECT total_fen FROM payments WHERE order_id = $1`, orderID).Scan(&paid); err != nil {
		t.Fatal(err)
	}
	if err := h.db.QueryRow(`SELECT COUNT(*), SUM(price_fen * count) FROM order_lines WHERE order_id = $1 AND goods_id IN ($2, $3) AND count = 1`,
		orderID, g1.id, g2.id).Scan(&lines, &lineSum); err != nil {
		t.Fatal(err)
	}
	if want := g1.price + g2.price; status != "paid" || total != want || paid != want || lines != 2 || lineSum != want {
		t.Errorf("database: order %s, total %d, paid %d, %d lines summing to %d; want paid, %d, two lines", status, total, paid, lines, lineSum, want)
	}
	if n := h.count(`SELECT COUNT(*) FROM orders`); n != 1 {
		t.Errorf("%d orders in the database, want the one placed", n)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("browser: %s", p)
	}
}

// checkLanguage fails the test for Chinese text the page marks as its own
// language (English): Chinese it writes itself must say lang="zh-CN",
// and names from the server lang="" (unknown).
func (b *browser) checkLanguage(where string) {
	b.t.Helper()
	bad := eval[[]string](b, `(() => {
		const bad = [];
		const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		for (let n = w.nextNode(); n; n = w.nextNode()) {
			if (!/[\u3400-\u9fff\uff00-\uffef]/.test(n.data)) continue;
			const l = n.parentElement.closest('[lang]');
			const v = l ? l.getAttribute('lang') : null;
			if (v !== '' && !(v || '').startsWith('zh')) bad.push(n.data.trim());
		}
		return bad;
	})()`)
	if len(bad) > 0 {
		b.t.Errorf("%s: Chinese text marked as the page's language (en): %q", where, bad)
	}
}
