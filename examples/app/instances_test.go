package app_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/cmd/wxpay/cli"
	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/examples/balancer"
	"github.com/wxpay-go/wxpay/examples/client"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// sharedFake is a standalone fake WeChat, run as `wxpay fake` runs it.
type sharedFake struct {
	URL string
	env map[string]string // the merchant settings it and the instances share
	// v3 is the in-process fake of a v3 cluster, nil for v2's `wxpay
	// fake`.
	v3 *wxpaytest.Fake
}

// startSharedFakeV3 runs a standalone fake WeChat with API v3 on, in this
// process (the wxpay command's fake speaks v2), and hands the instances
// the v3 settings of a merchant of it: the key files its keys minted at
// start are written to, the serial, the APIv3 key and the public key id.
func startSharedFakeV3(t *testing.T) *sharedFake {
	t.Helper()
	env := map[string]string{
		"WXPAY_API":       "v3",
		"WXPAY_APPID":     "wx" + randomHex(t, 8),
		"WXPAY_MCHID":     "1900000109",
		"WXPAY_API_KEY":   randomHex(t, 16),
		"WXPAY_SIGN_TYPE": "HMAC-SHA256",
		"WX_APP_SECRET":   randomHex(t, 16),
		"WXPAY_APIV3_KEY": randomHex(t, 16),
	}
	srv := wxpaytest.NewServer(wxpaytest.Config{
		AppID: env["WXPAY_APPID"], MchID: env["WXPAY_MCHID"], APIKey: env["WXPAY_API_KEY"], SignType: wxpay.SignHMACSHA256,
		AppSecret: env["WX_APP_SECRET"], APIv3Key: env["WXPAY_APIV3_KEY"], Logger: slog.New(slog.DiscardHandler),
	})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	serial, key := srv.V3MerchantKey()
	env["WXPAY_V3_SERIAL"], env["WXPAY_V3_PUBKEY_ID"] = serial, srv.V3PublicKeyID()
	env["WXPAY_KEY_FILE"], env["WXPAY_V3_PUBKEY_FILE"] = filepath.Join(dir, "apiclient_key.pem"), filepath.Join(dir, "pub_key.pem")
	if err := os.WriteFile(env["WXPAY_KEY_FILE"], key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(env["WXPAY_V3_PUBKEY_FILE"], srv.V3PublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return &sharedFake{URL: srv.URL, env: env, v3: srv.Fake}
}

// startSharedFake runs the CLI's fake subcommand in-process until the test
// ends, with merchant settings given through its environment.
func startSharedFake(t *testing.T) *sharedFake {
	t.Helper()
	env := map[string]string{
		"WXPAY_API":       "v2", // what the wxpay command's fake speaks
		"WXPAY_APPID":     "wx" + randomHex(t, 8),
		"WXPAY_MCHID":     "1900000109",
		"WXPAY_API_KEY":   randomHex(t, 16),
		"WXPAY_SIGN_TYPE": "HMAC-SHA256",
		"WX_APP_SECRET":   randomHex(t, 16),
	}
	ctx, cancel := context.WithCancel(context.Background())
	stdinR, stdinW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	logs := &syncBuf{}
	go func() {
		done <- cli.Run(ctx, []string{"fake", "-json", "-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, stdinR, outW, logs)
		outW.Close()
	}()
	t.Cleanup(func() {
		cancel()
		stdinW.Close()
		if code := <-done; code != 0 {
			t.Errorf("wxpay fake exited %d:\n%s", code, logs)
		}
	})
	sc := bufio.NewScanner(outR)
	if !sc.Scan() {
		t.Fatalf("wxpay fake printed no banner:\n%s", logs)
	}
	var banner struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(sc.Bytes(), &banner); err != nil || banner.URL == "" {
		t.Fatalf("wxpay fake banner %q: %v", sc.Text(), err)
	}
	go io.Copy(io.Discard, outR) //nolint:errcheck // keeps the fake's stdout flowing
	return &sharedFake{URL: banner.URL, env: env}
}

// cluster is several instances of the server on one PostgreSQL database,
// sharing one standalone fake WeChat, behind one balancer that is both
// their public URL (WeChat's notifications arrive there) and the
// clients' entry point.
type cluster struct {
	t     *testing.T
	dbURL string
	fake  *sharedFake
	lb    *balancer.Balancer
	lbURL string
	db    *sql.DB
	logs  []*syncBuf // one per in-process instance
	inst  []*app.Server
	http  *http.Client
}

const clusterQueryAfter = 300 * time.Millisecond

func newCluster(t *testing.T, instances int) *cluster { return newClusterAPI(t, instances, "v2") }

// newClusterAPI is newCluster on the generation api of WeChat Pay.
func newClusterAPI(t *testing.T, instances int, api string) *cluster {
	t.Helper()
	c := &cluster{t: t, dbURL: newPostgresDB(t)}
	if api == "v3" {
		c.fake = startSharedFakeV3(t)
	} else {
		c.fake = startSharedFake(t)
	}
	var err error
	if c.lb, err = balancer.New(c.fake.URL); err != nil {
		t.Fatal(err)
	}
	lbSrv := httptest.NewServer(c.lb)
	t.Cleanup(lbSrv.Close)
	t.Cleanup(c.lb.CloseIdleConnections)
	c.lbURL = lbSrv.URL
	for range instances {
		c.startInProcess()
	}
	if c.db, err = sql.Open("pgx", c.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.db.Close() })
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	c.http = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	return c
}

// env is the environment of an instance (in-process ones get the same
// settings as a Config).
func (c *cluster) env() map[string]string {
	e := map[string]string{
		"DATABASE_URL":   c.dbURL,
		"WXPAY_BASE_URL": c.fake.URL,
		"PUBLIC_URL":     c.lbURL,
		"JWT_SECRET":     testJWTSecret,
	}
	for k, v := range c.fake.env {
		e[k] = v
	}
	return e
}

func (c *cluster) startInProcess() *app.Server {
	c.t.Helper()
	e := c.env()
	logs := &syncBuf{}
	cfg, err := app.ParseConfig([]string{"-addr", "127.0.0.1:0"}, env(e))
	if err != nil {
		c.t.Fatal(err)
	}
	cfg.Timing = shop.Timing{QueryAfter: clusterQueryAfter, QueryEvery: clusterQueryAfter}
	s, err := app.Start(context.Background(), cfg, logs)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		if err := s.Close(); err != nil {
			c.t.Errorf("Close: %v", err)
		}
		if c.t.Failed() {
			c.t.Logf("instance %s log:\n%s", s.URL, tail(logs.String(), 60))
		}
	})
	if err := c.lb.Add(s.URL); err != nil {
		c.t.Fatal(err)
	}
	c.logs = append(c.logs, logs)
	c.inst = append(c.inst, s)
	return s
}

// user logs a new user in through the balancer.
func (c *cluster) user() *client.Client {
	c.t.Helper()
	cl := &client.Client{Base: c.lbURL, HTTP: c.http}
	code, err := cl.FakeLogin(context.Background(), "")
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := cl.Login(context.Background(), code); err != nil {
		c.t.Fatal(err)
	}
	return cl
}

func (c *cluster) count(q string, args ...any) int {
	c.t.Helper()
	var n int
	if err := c.db.QueryRow(q, args...).Scan(&n); err != nil {
		c.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// logged counts a message over the logs of the in-process instances, and
// says on how many instances it appeared.
func (c *cluster) logged(msg string) (total, instances int) {
	for _, l := range c.logs {
		n := strings.Count(l.String(), `msg="`+msg+`"`)
		total += n
		if n > 0 {
			instances++
		}
	}
	return total, instances
}

// consistent checks that no order is in two states: a paid order has
// exactly one payment, its transaction_id, and its out_trade_no marked
// paid; an unpaid or closed order has no payment; no order has more than
// one open out_trade_no.
func (c *cluster) consistent() {
	c.t.Helper()
	for q, what := range map[string]string{
		`SELECT COUNT(*) FROM orders o WHERE o.status = 'paid' AND (SELECT COUNT(*) FROM payments p WHERE p.order_id = o.id AND p.transaction_id = o.transaction_id) <> 1`: "paid orders without exactly one matching payment",
		`SELECT COUNT(*) FROM orders o WHERE o.status <> 'paid' AND (EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id) OR o.transaction_id IS NOT NULL)`:           "unpaid or closed orders with a payment",
		`SELECT COUNT(*) FROM payments p JOIN pay_attempts a ON a.out_trade_no = p.out_trade_no WHERE a.state <> 'paid'`:                                                   "payments whose out_trade_no is not marked paid",
		`SELECT COUNT(*) FROM (SELECT order_id FROM pay_attempts WHERE state = 'open' GROUP BY order_id HAVING COUNT(*) > 1) AS t`:                                         "orders with two open out_trade_nos",
		`SELECT COUNT(*) FROM orders WHERE status = 'paid' AND closed_at IS NOT NULL`:                                                                                      "orders both paid and closed",
		`SELECT COUNT(*) FROM anomalies`: "anomalies",
	} {
		if n := c.count(q); n != 0 {
			c.t.Errorf("%d %s", n, what)
		}
	}
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInstancesSameNotification: the same genuine notification, delivered
// 50 times to each of three instances at once, pays the order once, with
// one payment row, and every copy is answered SUCCESS.
func TestInstancesSameNotification(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()
	u := c.user()
	o, err := u.CreateOrder(ctx, []shop.Item{{GoodsID: 101, Count: 2}}, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := u.Pay(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Keep the fake's own delivery from the instances, to replay its
	// exact bytes.
	captured := make(chan []byte, 1)
	c.lb.Notify = func(otn string, body []byte) bool {
		if otn == p.OutTradeNo {
			select {
			case captured <- body:
			default:
			}
		}
		return false
	}
	if _, err := u.FakeConfirm(ctx, p.Payment); err != nil {
		t.Fatal(err)
	}
	var body []byte
	select {
	case body = <-captured:
	case <-time.After(20 * time.Second):
		t.Fatal("the fake sent no notification")
	}
	if n := c.count(`SELECT COUNT(*) FROM orders WHERE id = $1 AND status = 'unpaid'`, o.ID); n != 1 {
		t.Fatal("the order changed before any instance saw the notification")
	}
	const copies = 50
	var wg sync.WaitGroup
	var acked, other atomic.Int32
	start := make(chan struct{})
	for _, s := range c.inst {
		for range copies {
			wg.Go(func() {
				<-start
				resp, err := c.http.Post(s.URL+balancer.NotifyPath, "text/xml", bytes.NewReader(body))
				if err != nil {
					other.Add(1)
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && bytes.Contains(b, []byte("SUCCESS")) {
					acked.Add(1)
				} else {
					other.Add(1)
					t.Errorf("%s answered %d %q", s.URL, resp.StatusCode, b)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if got := acked.Load(); got != copies*3 {
		t.Errorf("%d of %d copies acknowledged", got, copies*3)
	}
	if n := c.count(`SELECT COUNT(*) FROM orders WHERE id = $1 AND status = 'paid'`, o.ID); n != 1 {
		t.Error("order not paid")
	}
	if n := c.count(`SELECT COUNT(*) FROM payments WHERE order_id = $1`, o.ID); n != 1 {
		t.Errorf("%d payment rows, want 1", n)
	}
	if n, _ := c.logged("order paid"); n != 1 {
		t.Errorf(`"order paid" logged %d times over the instances, want once`, n)
	}
	c.consistent()
}

// TestInstancesReconcile: every notification is lost, and the
// reconciliation jobs, run by all three instances from the one queue,
// settle each paid order exactly once.
func TestInstancesReconcile(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()
	c.lb.Notify = func(string, []byte) bool { return false }
	const orders = 24
	ids := make([]int64, orders)
	var wg sync.WaitGroup
	for i := range orders {
		wg.Go(func() {
			u := &client.Client{Base: c.lbURL, HTTP: c.http}
			code, err := u.FakeLogin(ctx, "")
			if err == nil {
				_, err = u.Login(ctx, code)
			}
			var o shop.Order
			if err == nil {
				o, err = u.CreateOrder(ctx, []shop.Item{{GoodsID: 201, Count: int64(1 + i%3)}}, "")
			}
			var p client.PayResult
			if err == nil {
				p, err = u.Pay(ctx, o.ID)
			}
			if err == nil {
				_, err = u.FakeConfirm(ctx, p.Payment)
			}
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = o.ID
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	waitUntil(t, 60*time.Second, "every order paid through reconciliation", func() bool {
		return c.count(`SELECT COUNT(*) FROM orders WHERE status = 'paid'`) == orders
	})
	// Let every job that could still run do so, then look again.
	time.Sleep(4 * clusterQueryAfter)
	if n := c.count(`SELECT COUNT(*) FROM payments WHERE source = 'query'`); n != orders {
		t.Errorf("%d payments recorded by reconciliation, want %d", n, orders)
	}
	if n := c.count(`SELECT COUNT(*) FROM payments`); n != orders {
		t.Errorf("%d payment rows, want %d", n, orders)
	}
	total, on := c.logged("order paid")
	if total != orders {
		t.Errorf(`"order paid" logged %d times over the instances, want %d`, total, orders)
	}
	t.Logf("%d orders settled by reconciliation jobs on %d of 3 instances", total, on)
	c.consistent()
}

// TestInstancesKill: one of three instances is a separate process,
// killed with SIGKILL while orders are being placed, paid and notified
// through it. No order WeChat took money for is lost (the fake's
// notification retry or the reconciliation of the other instances
// completes it), and no order ends in two states.
func TestInstancesKill(t *testing.T) {
	for _, api := range []string{"v2", "v3"} {
		t.Run(api, func(t *testing.T) { testInstancesKill(t, api) })
	}
}

func testInstancesKill(t *testing.T, api string) {
	c := newClusterAPI(t, 2, api)
	bin := filepath.Join(t.TempDir(), "server")
	build := exec.Command("go", "build", "-o", bin, "github.com/wxpay-go/wxpay/examples/server")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	e := c.env()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-query-after", clusterQueryAfter.String(), "-query-every", clusterQueryAfter.String())
	for k, v := range e {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
		}
		cmd.Wait() //nolint:errcheck // killed on purpose
	})
	sublog := &syncBuf{}
	urlc := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`msg=listening url=(http://[0-9.:]+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			sublog.Write(append(sc.Bytes(), '\n'))
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	var subURL string
	select {
	case subURL = <-urlc:
	case <-time.After(30 * time.Second):
		t.Fatalf("the server process did not start:\n%s", sublog)
	}
	if err := c.lb.Add(subURL); err != nil {
		t.Fatal(err)
	}
	// The notifications of every fourth order are lost, so that
	// reconciliation, from jobs inserted by whichever instance created the
	// out_trade_no (the killed one included), must complete them.
	var lost sync.Map
	c.lb.Notify = func(otn string, _ []byte) bool {
		_, drop := lost.Load(otn)
		return !drop
	}
	ctx := context.Background()
	const orders = 48
	var confirmed sync.Map // order id -> out_trade_no the fake took money for
	var placed atomic.Int32
	kill := make(chan struct{})
	var killOnce sync.Once
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range orders {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			u := &client.Client{Base: c.lbURL, HTTP: c.http}
			// Each step is retried, as a mini-program retries after a
			// network error: the balancer answers 502 for a request the
			// killed instance was serving.
			retry := func(step func() error) error {
				var err error
				for range 20 {
					if err = step(); err == nil {
						return nil
					}
					var ce *client.Error
					if errors.As(err, &ce) && ce.Status < 500 {
						return err
					}
					time.Sleep(100 * time.Millisecond)
				}
				return err
			}
			var o shop.Order
			var p client.PayResult
			key := fmt.Sprintf("kill-%d", i)
			err := retry(func() error {
				code, err := u.FakeLogin(ctx, "")
				if err == nil {
					_, err = u.Login(ctx, code)
				}
				return err
			})
			if err == nil {
				err = retry(func() (err error) {
					o, err = u.CreateOrder(ctx, []shop.Item{{GoodsID: 301, Count: 1}}, key)
					return err
				})
			}
			if err == nil {
				err = retry(func() (err error) { p, err = u.Pay(ctx, o.ID); return err })
			}
			if err == nil {
				if i%4 == 0 {
					lost.Store(p.OutTradeNo, true)
					if c.fake.v3 != nil {
						// v3's notification is sealed: the balancer
						// cannot read whose it is, so the fake drops it.
						c.fake.v3.DropNotifications(p.OutTradeNo)
					}
				}
				err = retry(func() error { _, err := u.FakeConfirm(ctx, p.Payment); return err })
			}
			if err != nil {
				t.Errorf("order %d: %v", i, err)
				return
			}
			confirmed.Store(o.ID, p.OutTradeNo)
			if placed.Add(1) == orders/3 {
				killOnce.Do(func() { close(kill) })
			}
		})
	}
	<-kill
	// Kill it while the other orders are in flight through it.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	c.lb.Remove(subURL)
	wg.Wait()
	served := strings.Count(sublog.String(), "route=")
	t.Logf("the killed instance served %d requests before SIGKILL (%d notifications)", served, strings.Count(sublog.String(), "/notify\""))
	if served == 0 {
		t.Error("the killed instance served no request: the test did not exercise it")
	}
	n := 0
	confirmed.Range(func(any, any) bool { n++; return true })
	if n != orders {
		t.Fatalf("%d of %d orders paid at the fake", n, orders)
	}
	waitUntil(t, 90*time.Second, "every order WeChat took money for is paid", func() bool {
		return c.count(`SELECT COUNT(*) FROM orders WHERE status = 'paid'`) == orders
	})
	time.Sleep(4 * clusterQueryAfter)
	t.Logf("payments recorded: %d by notification, %d by reconciliation's query",
		c.count(`SELECT COUNT(*) FROM payments WHERE source = 'notify'`), c.count(`SELECT COUNT(*) FROM payments WHERE source = 'query'`))
	if got := c.count(`SELECT COUNT(*) FROM payments WHERE source = 'query'`); got < orders/4 {
		t.Errorf("%d payments recorded by reconciliation, want at least the %d whose notifications were lost", got, orders/4)
	}
	if got := c.count(`SELECT COUNT(*) FROM payments`); got != orders {
		t.Errorf("%d payment rows, want %d", got, orders)
	}
	c.consistent()
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
