// Package app assembles the example server: configuration from flags and
// the environment, the database, WeChat (real, or the in-process fake),
// the reconciliation jobs and the HTTP server, and their orderly shutdown.
// package main in ../server only calls [Main]; tests call [Start].
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/api"
	"github.com/wxpay-go/wxpay/examples/internal/loopback"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/miniprogram"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// FakeHeader is set on every response of a server in fake mode, whose
// WeChat is the in-process fake that marks orders paid for free.
const FakeHeader = "X-Wxpay-Fake"

// Config is the server's configuration. Secrets are never printed: see
// [Config.LogValue].
type Config struct {
	Addr string // listen address; default 127.0.0.1:8080
	// DBPath is the SQLite file; empty means ./wxpay-example-fake.db in
	// fake mode and ./wxpay-example-real.db in real mode (see
	// [DefaultDBPath]), so that the two modes never share a file.
	DBPath string
	// DatabaseURL (DATABASE_URL), a postgres:// URL, puts the shop on
	// PostgreSQL instead of SQLite, where several instances can share it.
	// Secret (it may hold a password).
	DatabaseURL string
	// WeChatURL (WXPAY_BASE_URL) sends WeChat's calls to a standalone fake
	// WeChat on loopback (wxpay fake) that several instances share; see
	// [Config.checkSharedFake].
	WeChatURL string
	// Fake allows fake mode on a non-loopback address.
	Fake bool
	// Speed runs the fake WeChat, and the server's payment timings with
	// it, this many times faster than real time (fake mode only).
	Speed float64
	// Unmetered (-unmetered) lifts the rate limits of logins, orders, pay
	// calls and order queries, for load tests; it is refused in real
	// mode, where each of those calls costs WeChat quota.
	Unmetered bool

	AppID     string // WXPAY_APPID
	MchID     string // WXPAY_MCHID
	APIKey    string // WXPAY_API_KEY; secret
	AppSecret string // WX_APP_SECRET; secret
	PublicURL string // PUBLIC_URL: the https origin WeChat reaches this server at
	JWTSecret string // JWT_SECRET; secret; required in real mode, random in fake mode when empty
	// SignType (WXPAY_SIGN_TYPE) is the merchant's v2 signature
	// algorithm, "MD5" or "HMAC-SHA256"; "" means HMAC-SHA256, as
	// `wxpay fake` defaults to. In fake mode the in-process fake uses it
	// too.
	SignType string

	// AdminToken (ADMIN_TOKEN; secret, at least 32 bytes) authorizes the
	// admin routes (refunds). Fake mode makes up a random one when it is
	// empty; real mode enables refunds only with it, CertFile and KeyFile.
	AdminToken string
	// CertFile and KeyFile (WXPAY_CERT_FILE, WXPAY_KEY_FILE) are the
	// merchant's API certificate, apiclient_cert.pem and
	// apiclient_key.pem, which refunds need (real mode).
	CertFile, KeyFile string
	// TrustedProxies (TRUSTED_PROXIES) lists the reverse proxies in front
	// of the server, comma-separated IPs or CIDR prefixes, whose
	// X-Forwarded-For gives the payer's IP; "" trusts none.
	TrustedProxies string

	// HTTPClient sends the requests to WeChat (or to the fake); nil means
	// the libraries' defaults.
	HTTPClient *http.Client

	TokenTTL time.Duration // JWT lifetime; default 30 minutes
	Timing   shop.Timing   // payment life cycle; zero means WeChat's
}

// LogValue prints the configuration without its secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("addr", c.Addr), slog.String("db", c.DBPath), slog.Bool("postgres", c.DatabaseURL != ""),
		slog.String("appid", c.AppID), slog.String("mch_id", c.MchID), slog.String("public_url", c.PublicURL))
}

// String prints the configuration without its secrets.
func (c Config) String() string { return c.LogValue().String() }

// GoString prints the configuration without its secrets.
func (c Config) GoString() string { return "app.Config" + c.String() }

// Format prints the configuration without its secrets, for every verb.
func (c Config) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// credentials lists the real-mode variables: all of them, or none (fake mode).
var credentials = []struct {
	env string
	get func(*Config) *string
}{
	{"WXPAY_APPID", func(c *Config) *string { return &c.AppID }},
	{"WXPAY_MCHID", func(c *Config) *string { return &c.MchID }},
	{"WXPAY_API_KEY", func(c *Config) *string { return &c.APIKey }},
	{"WX_APP_SECRET", func(c *Config) *string { return &c.AppSecret }},
	{"PUBLIC_URL", func(c *Config) *string { return &c.PublicURL }},
}

// ParseConfig reads flags from args and the rest from getenv. Flags win
// over ADDR and DB_PATH.
func ParseConfig(args []string, getenv func(string) string) (Config, error) {
	c := Config{Addr: getenv("ADDR"), DBPath: getenv("DB_PATH"), JWTSecret: getenv("JWT_SECRET"),
		DatabaseURL: getenv("DATABASE_URL"), WeChatURL: getenv("WXPAY_BASE_URL"), SignType: getenv("WXPAY_SIGN_TYPE")}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	for _, cr := range credentials {
		*cr.get(&c) = getenv(cr.env)
	}
	c.AdminToken, c.CertFile, c.KeyFile = getenv("ADMIN_TOKEN"), getenv("WXPAY_CERT_FILE"), getenv("WXPAY_KEY_FILE")
	c.TrustedProxies = getenv("TRUSTED_PROXIES")
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (env ADDR)")
	fs.StringVar(&c.DBPath, "db", c.DBPath, "SQLite database file (env DB_PATH; default wxpay-example-fake.db or wxpay-example-real.db, by mode)")
	fs.BoolVar(&c.Fake, "fake", false, "allow fake mode on a non-loopback address")
	fs.BoolVar(&c.Unmetered, "unmetered", false, "no rate limits, for load tests (fake and shared-fake mode only)")
	fs.Float64Var(&c.Speed, "speed", 1, "fake mode: run WeChat's clock (and the payment timings) this many times faster")
	fs.DurationVar(&c.Timing.QueryAfter, "query-after", 0, "reconciliation first asks WeChat about an unnotified payment this long after prepay (default 3m)")
	fs.DurationVar(&c.Timing.QueryEvery, "query-every", 0, "and then this often until it is paid or closed (default 2m)")
	if err := fs.Parse(args); err != nil {
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		return c, fmt.Errorf("%w\nusage of server:\n%s", err, b.String())
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, nil
}

// mode checks the credentials: all set is real mode, none is fake mode,
// and anything in between is refused, naming what is missing, so that a
// typo can never start a production server on the fake.
func (c Config) fakeMode() (bool, error) {
	var set, missing []string
	for _, cr := range credentials {
		if *cr.get(&c) != "" {
			set = append(set, cr.env)
		} else {
			missing = append(missing, cr.env)
		}
	}
	switch {
	case len(set) == 0:
		if c.WeChatURL != "" {
			return true, errors.New("WXPAY_BASE_URL points real mode at a standalone fake WeChat and needs every WeChat setting set; fake mode has its own")
		}
		if !c.Fake && !loopback.Addr(c.Addr) {
			return true, fmt.Errorf("fake mode (no WeChat credentials set) listens on loopback only; %q is not: pass -fake to allow it anyway, or set %s", c.Addr, strings.Join(missing, ", "))
		}
		return true, nil
	case len(missing) > 0:
		return false, fmt.Errorf("WeChat credentials are partly set (%s); also set %s, or unset them all for fake mode",
			strings.Join(set, ", "), strings.Join(missing, ", "))
	case c.Fake:
		return false, errors.New("-fake given while WeChat credentials are set; unset them for fake mode")
	case c.WeChatURL != "":
		return false, c.checkSharedFake()
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return false, errors.New("PUBLIC_URL must be an https URL without query string, such as https://shop.example.com")
	}
	return false, nil
}

// Server is a running example server.
type Server struct {
	// URL is where it listens, such as http://127.0.0.1:8080.
	URL string
	// Fake is the fake WeChat in fake mode, nil in real mode.
	Fake *wxpaytest.Fake
	// FakeConfig is the fake WeChat's merchant (its keys included), in
	// fake mode.
	FakeConfig wxpaytest.Config
	// Shop is the shop service, for tests.
	Shop *shop.Service
	// AdminToken is the admin routes' token (secret), for tests: in fake
	// mode without ADMIN_TOKEN it is a random one.
	AdminToken string
	// API is the HTTP handler, for tests.
	API *api.Handler

	log     *slog.Logger
	fakeTr  *http.Transport // the fake's notification sender
	db      *shop.DB
	jobs    *shop.Jobs
	srv     *http.Server
	serveCh chan error
}

// Start opens everything, starts serving and returns. Close stops it.
func Start(ctx context.Context, c Config, logOut io.Writer) (_ *Server, err error) {
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	fake, err := c.fakeMode()
	if err != nil {
		return nil, err
	}
	signType, err := c.signType()
	if err != nil {
		return nil, err
	}
	proxies, err := api.ParseTrustedProxies(c.TrustedProxies)
	if err != nil {
		return nil, err
	}
	if fake {
		log.Warn("FAKE MODE: no WeChat credentials set, so WeChat is an in-process fake under /fake/ that marks orders paid for free; never use it in production",
			"addr", c.Addr)
	} else if c.WeChatURL == "" {
		log.Info("real mode: WeChat Pay merchant", "appid", c.AppID, "mch_id", c.MchID, "sign_type", string(signType))
	}
	s := &Server{log: log, serveCh: make(chan error, 1)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + ln.Addr().String()
	closeLn := func() { ln.Close() }
	defer func() {
		if err != nil && closeLn != nil {
			closeLn()
		}
	}()

	jwtSecret := []byte(c.JWTSecret)
	if len(jwtSecret) == 0 && fake {
		jwtSecret = api.RandomSecret()
		log.Warn("JWT_SECRET is not set: using a random one, so tokens end with this process")
	} else if len(jwtSecret) > 0 && len(jwtSecret) < 32 {
		return nil, errors.New("JWT_SECRET must be at least 32 bytes")
	}

	var payClient *wxpay.Client
	var mp *miniprogram.Client
	now := time.Now
	speed := 1.0
	extra := map[string]http.Handler{}
	hdr := http.Header{}
	if fake {
		if c.Speed > 0 {
			speed = c.Speed
		}
		apiKey, err := wxpay.NewNonce() // 32 characters, as a v2 API key is
		if err != nil {
			return nil, err
		}
		appSecret, err := wxpay.NewNonce()
		if err != nil {
			return nil, err
		}
		s.FakeConfig = wxpaytest.Config{
			// An AppID is "wx" and 16 lower-case characters.
			AppID:     "wx" + strings.ToLower(rand.Text()[:16]),
			MchID:     "1900000109",
			APIKey:    apiKey,
			SignType:  signType,
			AppSecret: appSecret,
			Speed:     speed,
			Logger:    log.With("component", "fake-wechat"),
		}
		// The fake's own client for notifications, so that Close can drop
		// its idle connections: Shutdown would otherwise wait for them.
		s.fakeTr = http.DefaultTransport.(*http.Transport).Clone()
		s.FakeConfig.HTTPClient = &http.Client{
			Transport:     s.fakeTr,
			Timeout:       5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		s.Fake, err = wxpaytest.New(s.FakeConfig)
		if err != nil {
			return nil, err
		}
		now = s.Fake.Now
		extra["/fake/"] = fakeErrors(http.StripPrefix("/fake", s.Fake))
		addWeb(extra) // the browser demo at "/"
		hdr.Set(FakeHeader, "true; WeChat is a fake: payments are not real")
		c.AppID, c.MchID, c.APIKey, c.AppSecret, c.PublicURL = s.FakeConfig.AppID, s.FakeConfig.MchID, s.FakeConfig.APIKey, s.FakeConfig.AppSecret, s.URL
	}
	payOpts := []wxpay.Option{wxpay.WithLogger(log)}
	var mpOpts []miniprogram.Option
	if fake {
		payOpts = append(payOpts, wxpay.WithBaseURL(s.URL+"/fake"))
		mpOpts = append(mpOpts, miniprogram.WithBaseURL(s.URL+"/fake"))
	} else if c.WeChatURL != "" {
		log.Warn("SHARED FAKE: WeChat is the standalone fake at WXPAY_BASE_URL, which marks orders paid for free; never use it in production",
			"wechat_url", c.WeChatURL, "sign_type", string(signType))
		payOpts = append(payOpts, wxpay.WithBaseURL(c.WeChatURL))
		mpOpts = append(mpOpts, miniprogram.WithBaseURL(c.WeChatURL))
		hdr.Set(FakeHeader, "true; WeChat is a fake: payments are not real")
	}
	if c.HTTPClient != nil {
		payOpts = append(payOpts, wxpay.WithHTTPClient(c.HTTPClient))
		mpOpts = append(mpOpts, miniprogram.WithHTTPClient(c.HTTPClient))
	}
	refundOpts, err := s.refundSetup(&c, fake)
	if err != nil {
		return nil, err
	}
	payOpts = append(payOpts, refundOpts...)
	if payClient, err = wxpay.NewClient(payConfig(c, signType), payOpts...); err != nil {
		return nil, err
	}
	if mp, err = miniprogram.NewClient(c.AppID, c.AppSecret, mpOpts...); err != nil {
		return nil, err
	}

	inst := c.instance(fake)
	if c.Unmetered && inst.Mode == shop.ModeReal {
		return nil, errors.New("-unmetered is for load tests against a fake WeChat; real mode keeps its rate limits")
	}
	if len(jwtSecret) == 0 {
		// Real mode: a random secret would log everyone out at each
		// restart, and several instances could not check each other's
		// tokens.
		return nil, errors.New("JWT_SECRET is required in real mode: set it to at least 32 random bytes (the same on every instance), e.g. JWT_SECRET=$(head -c 32 /dev/urandom | base64)")
	}
	if c.DBPath == "" {
		c.DBPath = DefaultDBPath(inst.Mode)
	}
	if s.db, err = openDB(ctx, c); err != nil {
		return nil, err
	}
	if err := s.db.Claim(ctx, inst); err != nil {
		return nil, err
	}
	if fake || c.WeChatURL != "" {
		// The demo catalogue is for a fake WeChat only: real mode sells
		// what `server catalogue import` put in.
		if err := shop.SeedDemo(ctx, s.db); err != nil {
			return nil, err
		}
	}
	pay := wechatPay{payClient}
	s.Shop, err = shop.NewService(shop.Config{
		Mode: inst.Mode, DB: s.db, Payments: pay, Login: wechatLogin{mp}, Logger: log, Now: now, Timing: c.Timing, Speed: speed, Unmetered: c.Unmetered,
	})
	if err != nil {
		return nil, err
	}
	if s.jobs, err = shop.NewJobs(s.Shop, log.With("component", "jobs"), time.Second); err != nil {
		return nil, err
	}
	if fake {
		if err := s.restoreFake(ctx, payConfig(c, signType).NotifyURL, refundNotifyURL(c)); err != nil {
			return nil, err
		}
	}
	ttl := c.TokenTTL
	if ttl <= 0 {
		ttl = 30 * time.Minute
	}
	auth, err := api.NewBoundAuth(tokenBinding(inst), jwtSecret, ttl, nil, func(r *http.Request, id int64) (shop.User, error) {
		return s.Shop.UserByID(r.Context(), id)
	})
	if err != nil {
		return nil, err
	}
	var refunds *shop.Refunds
	if s.AdminToken != "" {
		if refunds, err = shop.NewRefunds(s.Shop, wechatRefunds{payClient, refundNotifyURL(c)}); err != nil {
			return nil, err
		}
	}
	s.API = api.New(api.Config{Shop: s.Shop, Pay: pay, Auth: auth, Logger: log, Extra: extra, Header: hdr,
		Refunds: refunds, AdminToken: []byte(s.AdminToken), TrustedProxies: proxies, Limits: c.limits()})
	if err := s.jobs.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	s.srv = &http.Server{
		Handler:           s.API,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	closeLn = nil // the server owns it now
	go func() { s.serveCh <- s.srv.Serve(ln) }()
	log.Info("listening", "url", s.URL, "db", dbName(c))
	if fake {
		log.Info("browser demo: open it to play the mini-program", "url", s.URL+"/")
	}
	return s, nil
}

// signType checks WXPAY_SIGN_TYPE: MD5 or HMAC-SHA256, HMAC-SHA256 when
// unset, anything else refused at start (a typo would otherwise fail every
// payment with a signature error).
func (c Config) signType() (wxpay.SignType, error) {
	switch t := wxpay.SignType(c.SignType); t {
	case "":
		return wxpay.SignHMACSHA256, nil
	case wxpay.SignMD5, wxpay.SignHMACSHA256:
		return t, nil
	}
	return "", errors.New("WXPAY_SIGN_TYPE must be MD5 or HMAC-SHA256 (the algorithm chosen on the merchant platform), or unset for HMAC-SHA256")
}

func payConfig(c Config, signType wxpay.SignType) wxpay.Config {
	return wxpay.Config{
		AppID: c.AppID, MchID: c.MchID, APIKey: c.APIKey, SignType: signType,
		NotifyURL: strings.TrimSuffix(c.PublicURL, "/") + "/orders/pay/notify",
	}
}

// Close shuts down in dependency order: the fake stops sending
// notifications, the HTTP server stops accepting and finishes the requests
// and notifications in flight (up to 30 seconds), then the jobs finish,
// then the database closes.
func (s *Server) Close() error {
	var errs []error
	if s.Fake != nil {
		s.Fake.Close()
		s.fakeTr.CloseIdleConnections()
	}
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		errs = append(errs, s.srv.Shutdown(ctx))
		cancel()
		if err := <-s.serveCh; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if s.jobs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		errs = append(errs, s.jobs.Stop(ctx))
		cancel()
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(errs...)
}

// Done reports a serving failure.
func (s *Server) Done() <-chan error { return s.serveCh }

// Main runs the server until SIGINT or SIGTERM and returns the exit code.
func Main(args []string, getenv func(string) string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "catalogue" {
		return catalogueMain(args[1:], getenv, stderr)
	}
	c, err := ParseConfig(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, err)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "server:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := Start(ctx, c, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "server:", err)
		return 1
	}
	code := 0
	select {
	case <-ctx.Done():
		s.log.Info("shutting down")
	case err := <-s.serveCh:
		s.serveCh <- err
		s.log.Error("server failed", "error", err.Error())
		code = 1
	}
	if err := s.Close(); err != nil {
		s.log.Error("shutdown", "error", err.Error())
		code = 1
	}
	return code
}
