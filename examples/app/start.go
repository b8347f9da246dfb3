package app

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/examples/api"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/miniprogram"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// Start opens everything, starts serving and returns. Close stops it.
//
// It runs one named step after the other, each of which either succeeds
// or leaves what the earlier ones opened to Close: the configuration
// check, the listener (bound here, so that a port in use fails at once),
// WeChat (the in-process fake or the real clients), the instance check,
// the database, the shop service with its jobs, the HTTP API, the jobs'
// start, and serving. The order matters where a step's refusal must come
// before another's: the refund settings are checked before JWT_SECRET's
// presence, and both before the database is claimed for a mode.
func Start(ctx context.Context, c Config, logOut io.Writer) (_ *Server, err error) {
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	set, err := c.check()
	if err != nil {
		return nil, err
	}
	s := &Server{log: log, serveCh: make(chan error, 1)}
	s.announceMode(c, set)
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	ln, err := s.listen(c.Addr)
	if err != nil {
		return nil, err
	}
	defer func() {
		if s.srv == nil { // not yet the HTTP server's to close
			ln.Close()
		}
	}()
	jwtSecret := s.jwtSecret(c, set.fake)
	wc, err := s.openWeChat(&c, set)
	if err != nil {
		return nil, err
	}
	inst, err := c.checkInstance(set.fake, jwtSecret)
	if err != nil {
		return nil, err
	}
	if err := s.openDatabase(ctx, &c, inst); err != nil {
		return nil, err
	}
	if err := s.startService(ctx, c, set, inst, wc); err != nil {
		return nil, err
	}
	if err := s.newAPI(c, set, inst, wc, jwtSecret); err != nil {
		return nil, err
	}
	if err := s.jobs.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	s.serve(ln)
	log.Info("listening", "url", s.URL, "db", dbName(c))
	if set.fake {
		log.Info("browser demo: open it to play the mini-program", "url", s.URL+"/")
	}
	return s, nil
}

// settings are what [Config.check] derives from a Config before anything
// is opened.
type settings struct {
	fake     bool   // fake mode: the in-process fake WeChat
	api      string // "v2" or "v3": the generation payments and refunds use
	signType wxpay.SignType
	proxies  []netip.Prefix
}

// check is Start's first step: the mode (all WeChat credentials, or
// none), the signature type, the trusted proxies and JWT_SECRET's length,
// all refused before anything is opened.
func (c Config) check() (settings, error) {
	var set settings
	var err error
	if set.api, err = c.apiGen(); err != nil {
		return set, err
	}
	if set.fake, err = c.fakeMode(); err != nil {
		return set, err
	}
	if set.signType, err = c.signType(); err != nil {
		return set, err
	}
	if set.proxies, err = api.ParseTrustedProxies(c.TrustedProxies); err != nil {
		return set, err
	}
	if n := len(c.JWTSecret); n > 0 && n < 32 {
		return set, errors.New("JWT_SECRET must be at least 32 bytes")
	}
	return set, nil
}

// announceMode is the first log line: fake mode says it is, loudly, and
// real mode names its merchant. (Shared-fake mode says so once its
// WeChat clients are made, see [Server.openWeChat].)
func (s *Server) announceMode(c Config, set settings) {
	if set.fake {
		s.log.Warn("FAKE MODE: no WeChat credentials set, so WeChat is an in-process fake under /fake/ that marks orders paid for free; never use it in production",
			"addr", c.Addr, "api", set.api)
	} else if c.WeChatURL == "" {
		s.log.Info("real mode: WeChat Pay merchant", "appid", c.AppID, "mch_id", c.MchID, "api", set.api, "sign_type", string(set.signType))
	}
}

// listen binds the listen address and sets s.URL from it: synchronously,
// so that a port in use fails Start, while serving waits for [Server.serve].
func (s *Server) listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + ln.Addr().String()
	return ln, nil
}

// jwtSecret is JWT_SECRET, or in fake mode without it a random one (a
// warning says tokens then end with the process). It is empty only in
// real mode without JWT_SECRET, which [Config.checkInstance] refuses.
func (s *Server) jwtSecret(c Config, fake bool) []byte {
	if c.JWTSecret != "" || !fake {
		return []byte(c.JWTSecret)
	}
	s.log.Warn("JWT_SECRET is not set: using a random one, so tokens end with this process")
	return api.RandomSecret()
}

// wechat is what the server knows WeChat by: the payment clients of
// both generations (either may be nil when its keys are not configured),
// the login client, its clock (the fake's, which may run faster), and in
// fake modes the routes and header the API adds.
type wechat struct {
	api    string // the generation that pays: "v2" or "v3"
	pay    *wxpay.Client
	pay3   *apiv3.Client
	appID  string // the mini-program's, which v3's pay parameters name
	mp     *miniprogram.Client
	now    func() time.Time
	speed  float64
	extra  map[string]http.Handler // the fake under /fake/, the browser demo
	header http.Header             // FakeHeader in fake modes
}

// fakeHeaderValue is [FakeHeader]'s value.
const fakeHeaderValue = "true; WeChat is a fake: payments are not real"

// openWeChat is Start's WeChat step: in fake mode it starts the
// in-process fake and points c's credentials and PUBLIC_URL at it; in
// every mode it then builds the wxpay and miniprogram clients, refunds
// included when they are configured (see [Server.refundSetup]).
func (s *Server) openWeChat(c *Config, set settings) (wechat, error) {
	wc := wechat{api: set.api, now: time.Now, speed: 1, extra: map[string]http.Handler{}, header: http.Header{}}
	var payOpts []wxpay.Option
	var mpOpts []miniprogram.Option
	var v3Opts []apiv3.Option
	switch {
	case set.fake:
		if err := s.startFake(c, set, &wc); err != nil {
			return wc, err
		}
		payOpts = append(payOpts, wxpay.WithBaseURL(s.URL+"/fake"))
		mpOpts = append(mpOpts, miniprogram.WithBaseURL(s.URL+"/fake"))
		v3Opts = append(v3Opts, apiv3.WithBaseURL(s.URL+"/fake"), apiv3.WithClock(wc.now))
	case c.WeChatURL != "":
		s.log.Warn("SHARED FAKE: WeChat is the standalone fake at WXPAY_BASE_URL, which marks orders paid for free; never use it in production",
			"wechat_url", c.WeChatURL, "sign_type", string(set.signType))
		payOpts = append(payOpts, wxpay.WithBaseURL(c.WeChatURL))
		mpOpts = append(mpOpts, miniprogram.WithBaseURL(c.WeChatURL))
		v3Opts = append(v3Opts, apiv3.WithBaseURL(c.WeChatURL))
		wc.header.Set(FakeHeader, fakeHeaderValue)
	}
	payOpts = append(payOpts, wxpay.WithLogger(s.log))
	v3Opts = append(v3Opts, apiv3.WithLogger(s.log))
	if c.HTTPClient != nil {
		payOpts = append(payOpts, wxpay.WithHTTPClient(c.HTTPClient))
		mpOpts = append(mpOpts, miniprogram.WithHTTPClient(c.HTTPClient))
		v3Opts = append(v3Opts, apiv3.WithHTTPClient(c.HTTPClient))
	}
	refundOpts, err := s.refundSetup(c, set)
	if err != nil {
		return wc, err
	}
	payOpts = append(payOpts, refundOpts...)
	// The v2 client: the payments of a v2 shop, and on v3 the v2 notify
	// routes, which verify with the v2 API key when it is still set.
	if set.api == "v2" || c.APIKey != "" {
		if wc.pay, err = wxpay.NewClient(payConfig(*c, set.signType), payOpts...); err != nil {
			return wc, err
		}
	}
	if set.api == "v3" {
		if wc.pay3, err = s.openV3(c, set.fake, v3Opts); err != nil {
			return wc, err
		}
	}
	if wc.mp, err = miniprogram.NewClient(c.AppID, c.AppSecret, mpOpts...); err != nil {
		return wc, err
	}
	wc.appID = c.AppID
	return wc, nil
}

// startFake starts the in-process fake WeChat with fresh credentials of
// its own, mounts it under /fake/ beside the browser demo, and makes c a
// merchant of it whose PUBLIC_URL is this server.
func (s *Server) startFake(c *Config, set settings, wc *wechat) error {
	signType := set.signType
	if c.Speed > 0 {
		wc.speed = c.Speed
	}
	apiKey, err := wxpay.NewNonce() // 32 characters, as a v2 API key is
	if err != nil {
		return err
	}
	appSecret, err := wxpay.NewNonce()
	if err != nil {
		return err
	}
	s.FakeConfig = wxpaytest.Config{
		// An AppID is "wx" and 16 lower-case characters.
		AppID:     "wx" + strings.ToLower(rand.Text()[:16]),
		MchID:     "1900000109",
		APIKey:    apiKey,
		SignType:  signType,
		AppSecret: appSecret,
		Speed:     wc.speed,
		Logger:    s.log.With("component", "fake-wechat"),
	}
	if set.api == "v3" {
		// API v3 on, with keys minted at each start: the merchant's
		// (the fake mints it, V3MerchantKey hands it out) and WeChat
		// Pay's (minted here, so that tests can sign notifications as
		// WeChat does).
		if s.FakeConfig.APIv3Key, err = wxpay.NewNonce(); err != nil { // 32 characters
			return err
		}
		if s.FakeConfig.WeChatPayKey, err = mintKeyPEM(); err != nil {
			return err
		}
	}
	// The fake's own client for notifications, so that Close can drop
	// its idle connections: Shutdown would otherwise wait for them.
	s.fakeTr = http.DefaultTransport.(*http.Transport).Clone()
	s.FakeConfig.HTTPClient = &http.Client{
		Transport:     s.fakeTr,
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if s.Fake, err = wxpaytest.New(s.FakeConfig); err != nil {
		return err
	}
	wc.now = s.Fake.Now
	wc.extra["/fake/"] = fakeErrors(http.StripPrefix("/fake", s.Fake))
	addWeb(wc.extra) // the browser demo at "/"
	wc.header.Set(FakeHeader, fakeHeaderValue)
	c.AppID, c.MchID, c.APIKey, c.AppSecret, c.PublicURL = s.FakeConfig.AppID, s.FakeConfig.MchID, s.FakeConfig.APIKey, s.FakeConfig.AppSecret, s.URL
	return nil
}

// checkInstance is the check that needs the mode the database will be
// claimed for: -unmetered is refused in real mode, and so is a missing
// JWT_SECRET.
func (c Config) checkInstance(fake bool, jwtSecret []byte) (shop.Instance, error) {
	inst := c.instance(fake)
	if c.Unmetered && inst.Mode == shop.ModeReal {
		return inst, errors.New("-unmetered is for load tests against a fake WeChat; real mode keeps its rate limits")
	}
	if len(jwtSecret) == 0 {
		// Real mode: a random secret would log everyone out at each
		// restart, and several instances could not check each other's
		// tokens.
		return inst, errors.New("JWT_SECRET is required in real mode: set it to at least 32 random bytes (the same on every instance), e.g. JWT_SECRET=$(head -c 32 /dev/urandom | base64)")
	}
	return inst, nil
}

// openDatabase opens the store (the mode's default SQLite file when none
// is named), claims it for inst, and in the fake modes seeds the demo
// catalogue: real mode sells what `server catalogue import` put in.
func (s *Server) openDatabase(ctx context.Context, c *Config, inst shop.Instance) error {
	if c.DBPath == "" {
		c.DBPath = DefaultDBPath(inst.Mode)
	}
	var err error
	if s.db, err = openDB(ctx, *c); err != nil {
		return err
	}
	if err := s.db.Claim(ctx, inst); err != nil {
		return err
	}
	if inst.Mode == shop.ModeFake {
		return shop.SeedDemo(ctx, s.db)
	}
	return nil
}

// startService builds the shop service and its reconciliation jobs (not
// yet started), and in fake mode hands the fake back what it knew before
// a restart.
func (s *Server) startService(ctx context.Context, c Config, set settings, inst shop.Instance, wc wechat) error {
	var err error
	s.Shop, err = shop.NewService(shop.Config{
		Mode: inst.Mode, DB: s.db, Payments: wc.payments(), Login: wechatLogin{wc.mp}, Logger: s.log,
		Now: wc.now, Timing: c.Timing, Speed: wc.speed, Unmetered: c.Unmetered,
	})
	if err != nil {
		return err
	}
	if s.jobs, err = shop.NewJobs(s.Shop, s.log.With("component", "jobs"), time.Second); err != nil {
		return err
	}
	if set.fake {
		if set.api == "v3" {
			return s.restoreFake(ctx, true, notifyURLV3(c), refundNotifyURLV3(c))
		}
		return s.restoreFake(ctx, false, payConfig(c, set.signType).NotifyURL, refundNotifyURL(c))
	}
	return nil
}

// newAPI builds the HTTP API: the JWT auth bound to the instance, the
// refunds when an admin token is set, and the rate limits.
func (s *Server) newAPI(c Config, set settings, inst shop.Instance, wc wechat, jwtSecret []byte) error {
	ttl := c.TokenTTL
	if ttl <= 0 {
		ttl = 30 * time.Minute
	}
	auth, err := api.NewBoundAuth(tokenBinding(inst), jwtSecret, ttl, nil, func(r *http.Request, id int64) (shop.User, error) {
		return s.Shop.UserByID(r.Context(), id)
	})
	if err != nil {
		return err
	}
	cfg := api.Config{Shop: s.Shop, Auth: auth, Logger: s.log, Extra: wc.extra, Header: wc.header,
		AdminToken: []byte(s.AdminToken), TrustedProxies: set.proxies, Limits: c.limits()}
	// Both generations' notify routes, whichever pays: a route whose
	// generation has no client refuses every message.
	if wc.pay != nil {
		cfg.Pay, cfg.RefundNotify = wechatPay{wc.pay}, wechatRefunds{wc.pay, refundNotifyURL(c)}
	}
	if wc.pay3 != nil {
		cfg.PayV3, cfg.RefundNotifyV3 = wechatPayV3{wc.pay3, c.AppID}, wechatRefundsV3{wc.pay3, refundNotifyURLV3(c)}
	}
	if s.AdminToken != "" {
		r := cfg.RefundNotify
		if wc.api == "v3" {
			r = cfg.RefundNotifyV3
		}
		if cfg.Refunds, err = shop.NewRefunds(s.Shop, r); err != nil {
			return err
		}
	}
	s.API = api.New(cfg)
	return nil
}

// payments is the Payments of the generation that pays.
func (wc wechat) payments() shop.Payments {
	if wc.api == "v3" {
		return wechatPayV3{wc.pay3, wc.appID}
	}
	return wechatPay{wc.pay}
}

// serve is Start's last step: the HTTP server, with timeouts against slow
// clients, takes ln over and serves it in the background; its end is
// reported on [Server.Done].
func (s *Server) serve(ln net.Listener) {
	s.srv = &http.Server{
		Handler:           s.API,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	go func() { s.serveCh <- s.srv.Serve(ln) }()
}
