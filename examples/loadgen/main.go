// Command loadgen drives one or several running instances of the example
// server through whole purchase cycles at a given concurrency, and prints
// throughput, latency percentiles and errors.
//
// One cycle is what a mini-program user does, and what WeChat then does:
// wx.login and POST /users/wxLogin, POST /orders (with an
// Idempotency-Key), POST /orders/{id}/pay, the user confirming
// wx.requestPayment on the fake WeChat, and the payment notification the
// fake then sends (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7),
// which must be answered SUCCESS; a last GET /orders/{id} must say paid.
//
// It loads instances on either generation of WeChat Pay. To match a v3
// notification (https://pay.weixin.qq.com/doc/v3/merchant/4012791861) to
// the cycle waiting for it, it opens the notification's sealed resource
// with the APIv3 key: from the file -env names (the wxpay.env that
// `wxpay fake -v3 -v3-dir DIR` writes) or else from WXPAY_APIV3_KEY in
// its environment. The key is the fake's, on loopback; loadgen never
// prints it.
//
// loadgen is the instances' load balancer as well: it listens on -listen,
// the PUBLIC_URL the instances were started with, and forwards every
// request (its own, and WeChat's notifications) to the next instance in
// turn, so that one user's steps land on different instances. The
// instances must run in shared-fake mode (WXPAY_BASE_URL) against the
// standalone fake given by -fake (wxpay fake); see ../README.md. Everything
// stays on loopback, and the run is bounded by -n cycles and -duration.
//
//	go -C examples run ./loadgen -targets http://127.0.0.1:8081,http://127.0.0.1:8082 -c 16 -n 2000
//	go -C examples run ./loadgen -env /tmp/wxfake/wxpay.env -targets http://127.0.0.1:8081 -c 8 -n 300
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxpay-go/wxpay/examples/balancer"
	"github.com/wxpay-go/wxpay/examples/client"
	"github.com/wxpay-go/wxpay/examples/internal/loopback"
	"github.com/wxpay-go/wxpay/examples/shop"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	targets     []string
	fake        string
	listen      string
	concurrency int
	cycles      int
	duration    time.Duration
	progress    time.Duration
	// apiv3Key opens v3 notifications; empty when none was given (v2
	// only). A secret: never printed.
	apiv3Key []byte
}

// maxEnvFile bounds the -env file read.
const maxEnvFile = 64 << 10

func parse(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	targets := fs.String("targets", "http://127.0.0.1:8081", "comma-separated `origins` of the server instances")
	fs.StringVar(&c.fake, "fake", "http://127.0.0.1:8090", "origin of the standalone fake WeChat the instances use (WXPAY_BASE_URL)")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8080", "`host:port` of the balancer: the instances' PUBLIC_URL")
	fs.IntVar(&c.concurrency, "c", 16, "concurrent users")
	fs.IntVar(&c.cycles, "n", 1000, "cycles to run (at most 1,000,000)")
	fs.DurationVar(&c.duration, "duration", time.Minute, "stop starting cycles after this long (at most 1h)")
	fs.DurationVar(&c.progress, "progress", time.Second, "how often to print the progress line (0: never)")
	envFile := fs.String("env", "", "`file` of KEY=VALUE settings (wxpay fake -v3's wxpay.env) to take WXPAY_APIV3_KEY from, for v3 instances; default: the environment")
	if err := fs.Parse(args); err != nil {
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		return c, fmt.Errorf("%w\nusage of loadgen:\n%s", err, b.String())
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, t := range strings.Split(*targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			c.targets = append(c.targets, t)
		}
	}
	switch {
	case len(c.targets) == 0:
		return c, errors.New("-targets: no instance given")
	case c.concurrency < 1 || c.concurrency > 1024:
		return c, errors.New("-c must be from 1 to 1024")
	case c.cycles < 1 || c.cycles > 1_000_000:
		return c, errors.New("-n must be from 1 to 1,000,000")
	case c.duration <= 0 || c.duration > time.Hour:
		return c, errors.New("-duration must be positive and at most 1h")
	}
	for _, u := range append([]string{c.fake}, c.targets...) {
		if !loopbackURL(u) {
			return c, fmt.Errorf("%q is not an http origin on loopback: loadgen only loads servers on this machine", u)
		}
	}
	if !loopback.Addr(c.listen) {
		return c, fmt.Errorf("-listen %q is not a loopback address", c.listen)
	}
	key := os.Getenv("WXPAY_APIV3_KEY")
	if *envFile != "" {
		var err error
		if key, err = envKey(*envFile); err != nil {
			return c, err
		}
	}
	if key != "" && len(key) != 32 {
		return c, errors.New("WXPAY_APIV3_KEY is not 32 bytes (its value is not shown)")
	}
	c.apiv3Key = []byte(key)
	return c, nil
}

// envKey reads WXPAY_APIV3_KEY from a KEY=VALUE file such as the
// wxpay.env of `wxpay fake -v3` (an "export " prefix and quotes are
// allowed). No error quotes a line of it: the file holds secrets.
func envKey(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("-env: cannot open %s", filepath.Base(name))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxEnvFile+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("-env: cannot read %s", filepath.Base(name))
	case len(b) > maxEnvFile:
		return "", fmt.Errorf("-env: %s is larger than %d bytes", filepath.Base(name), maxEnvFile)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "export "), "=")
		if !ok || strings.TrimSpace(k) != "WXPAY_APIV3_KEY" {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		return v, nil
	}
	return "", fmt.Errorf("-env: %s sets no WXPAY_APIV3_KEY", filepath.Base(name))
}

func loopbackURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.User != nil || u.RawQuery != "" || (u.Path != "" && u.Path != "/") {
		return false
	}
	return loopback.URL(u)
}

// steps of a cycle, in order, each with its own latencies.
var steps = []string{"login", "order", "pay", "confirm", "notify", "check", "cycle"}

type stats struct {
	mu       sync.Mutex
	lat      map[string][]time.Duration
	errs     map[string]int
	firstErr map[string]string
	done     atomic.Int64 // cycles completed without error
	failed   atomic.Int64
	notified atomic.Int64 // notifications answered SUCCESS
}

func (s *stats) add(step string, d time.Duration) {
	s.mu.Lock()
	s.lat[step] = append(s.lat[step], d)
	s.mu.Unlock()
}

func (s *stats) fail(step string, err error) {
	s.failed.Add(1)
	s.mu.Lock()
	s.errs[step]++
	if s.firstErr[step] == "" {
		s.firstErr[step] = err.Error()
	}
	s.mu.Unlock()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parse(args)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	lb, err := balancer.New(c.fake, c.targets...)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	lb.APIv3Key = c.apiv3Key
	var waitMu sync.Mutex
	waiting := map[string]chan struct{}{}
	st := &stats{lat: map[string][]time.Duration{}, errs: map[string]int{}, firstErr: map[string]string{}}
	lb.Notified = func(otn string, acked bool) {
		if !acked {
			return
		}
		st.notified.Add(1)
		waitMu.Lock()
		if ch, ok := waiting[otn]; ok {
			close(ch)
			delete(waiting, otn)
		}
		waitMu.Unlock()
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	srv := &http.Server{Handler: lb, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown below
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx) //nolint:errcheck // best effort at exit
		lb.CloseIdleConnections()
	}()
	base := "http://" + ln.Addr().String()
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: c.concurrency + 8, IdleConnTimeout: time.Minute}}
	defer hc.CloseIdleConnections()

	v3 := "v2 only (no APIv3 key)"
	if len(c.apiv3Key) > 0 {
		v3 = "v2 and v3 (APIv3 key given)"
	}
	fmt.Fprintf(stdout, "loadgen: %d cycles, %d concurrent users, at most %v, over %d instance(s) %s; balancer %s; fake %s; notifications matched: %s\n",
		c.cycles, c.concurrency, c.duration, len(c.targets), strings.Join(c.targets, ","), base, c.fake, v3)
	runCtx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	var next atomic.Int64
	start := time.Now()
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if c.progress <= 0 {
			<-runCtx.Done()
			return
		}
		tk := time.NewTicker(c.progress)
		defer tk.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-tk.C:
				el := time.Since(start).Seconds()
				fmt.Fprintf(stderr, "%6.1fs  %d/%d cycles  %.0f orders/s  %.0f notifications/s  %d errors\n",
					el, st.done.Load(), c.cycles, float64(st.done.Load())/el, float64(st.notified.Load())/el, st.failed.Load())
			}
		}
	}()
	var wg sync.WaitGroup
	for range c.concurrency {
		wg.Go(func() {
			for runCtx.Err() == nil && next.Add(1) <= int64(c.cycles) {
				cycle(runCtx, hc, base, st, &waitMu, waiting)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cancel()
	<-progressDone
	report(stdout, st, elapsed)
	if st.failed.Load() > 0 || st.done.Load() == 0 {
		return 1
	}
	return 0
}

// cycle runs one user's purchase; its first failing step counts as an error.
func cycle(ctx context.Context, hc *http.Client, base string, st *stats, waitMu *sync.Mutex, waiting map[string]chan struct{}) {
	u := &client.Client{Base: base, HTTP: hc}
	t0 := time.Now()
	step := func(name string, fn func() error) bool {
		t := time.Now()
		if err := fn(); err != nil {
			st.fail(name, err)
			return false
		}
		st.add(name, time.Since(t))
		return true
	}
	var o shop.Order
	var p client.PayResult
	var ch chan struct{}
	ok := step("login", func() error {
		code, err := u.FakeLogin(ctx, "")
		if err == nil {
			_, err = u.Login(ctx, code)
		}
		return err
	}) && step("order", func() (err error) {
		o, err = u.CreateOrder(ctx, []shop.Item{{GoodsID: 101, Count: 1}, {GoodsID: 102, Count: 2}}, randomKey())
		return err
	}) && step("pay", func() (err error) {
		p, err = u.Pay(ctx, o.ID)
		if err == nil {
			ch = make(chan struct{})
			waitMu.Lock()
			waiting[p.OutTradeNo] = ch
			waitMu.Unlock()
		}
		return err
	}) && step("confirm", func() error {
		_, err := u.FakeConfirm(ctx, p.Payment)
		return err
	}) && step("notify", func() error {
		select {
		case <-ch:
			return nil
		case <-time.After(30 * time.Second):
			return errors.New("no notification answered SUCCESS within 30s (v3 instances: give loadgen the APIv3 key, -env or WXPAY_APIV3_KEY)")
		case <-ctx.Done():
			return errors.New("run ended while waiting for the notification")
		}
	}) && step("check", func() error {
		got, err := u.Order(ctx, o.ID)
		if err == nil && got.Status != shop.StatusPaid {
			err = fmt.Errorf("order %d is %s after its notification was acknowledged", o.ID, got.Status)
		}
		return err
	})
	if ok {
		st.add("cycle", time.Since(t0))
		st.done.Add(1)
	} else if p.OutTradeNo != "" {
		waitMu.Lock()
		delete(waiting, p.OutTradeNo)
		waitMu.Unlock()
	}
}

// randomKey is an order's idempotency key: fresh for each order, so that
// no two cycles collide.
func randomKey() string { return rand.Text() }

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

func report(w io.Writer, st *stats, elapsed time.Duration) {
	sec := elapsed.Seconds()
	fmt.Fprintf(w, "\n%d cycles in %.1fs: %.1f orders/s, %.1f notifications/s, errors %d\n",
		st.done.Load(), sec, float64(st.done.Load())/sec, float64(st.notified.Load())/sec, st.failed.Load())
	fmt.Fprintf(w, "%-8s %8s %10s %10s %10s\n", "step", "count", "p50", "p99", "max")
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, s := range steps {
		ds := slices.Clone(st.lat[s])
		slices.Sort(ds)
		var mx time.Duration
		if len(ds) > 0 {
			mx = ds[len(ds)-1]
		}
		fmt.Fprintf(w, "%-8s %8d %10s %10s %10s\n", s, len(ds), round(pct(ds, 0.50)), round(pct(ds, 0.99)), round(mx))
	}
	for _, s := range steps {
		if n := st.errs[s]; n > 0 {
			fmt.Fprintf(w, "errors in %s: %d, first: %s\n", s, n, st.firstErr[s])
		}
	}
}

func round(d time.Duration) time.Duration {
	if d > 10*time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Microsecond)
}
