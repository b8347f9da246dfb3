// Package app assembles the example server: configuration from flags and
// the environment, the database, WeChat (real, or the in-process fake),
// the reconciliation jobs and the HTTP server, and their orderly shutdown.
// package main in ../server only calls [Main]; tests call [Start].
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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
	// API (WXPAY_API) is the generation of WeChat Pay the shop pays,
	// queries, closes and refunds with: "v3" (JSON, RSA signatures; the
	// default, since it is what WeChat gives a new merchant) or "v2"
	// (XML, the API key). The notify routes of both generations are
	// served whichever it is, so that orders placed before a switch still
	// settle. See [Config.apiGen].
	API string
	// APIv3Key (WXPAY_APIV3_KEY; secret) is the 32-byte APIv3 key: it
	// opens v3 notifications. V3Serial (WXPAY_V3_SERIAL) is the serial of
	// the merchant API certificate, whose private key (KeyFile) signs v3
	// requests. WeChat is verified by its WeChat Pay public key
	// (V3PubKeyID with V3PubKeyFile, WXPAY_V3_PUBKEY_ID and
	// WXPAY_V3_PUBKEY_FILE) or by platform certificates
	// (V3PlatformCertFile, WXPAY_V3_PLATFORM_CERT_FILE), or both while
	// WeChat moves a merchant from the certificates to the key. These are
	// the setting names of the wxpay command.
	APIv3Key, V3Serial, V3PubKeyID, V3PubKeyFile, V3PlatformCertFile string
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
		slog.String("api", c.API), slog.String("appid", c.AppID), slog.String("mch_id", c.MchID), slog.String("public_url", c.PublicURL))
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
	c.API, c.APIv3Key, c.V3Serial = getenv("WXPAY_API"), getenv("WXPAY_APIV3_KEY"), getenv("WXPAY_V3_SERIAL")
	c.V3PubKeyID, c.V3PubKeyFile, c.V3PlatformCertFile = getenv("WXPAY_V3_PUBKEY_ID"), getenv("WXPAY_V3_PUBKEY_FILE"), getenv("WXPAY_V3_PLATFORM_CERT_FILE")
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
	v3 := c.API != "v2" // checked by apiGen
	for _, cr := range credentials {
		switch {
		case *cr.get(&c) != "":
			set = append(set, cr.env)
		case v3 && cr.env == "WXPAY_API_KEY":
			// v3 signs with the private key instead. The v2 key stays
			// optional: with it, notifications of orders placed on v2
			// before the switch still verify.
		default:
			missing = append(missing, cr.env)
		}
	}
	if v3 && len(set) > 0 && len(missing) == 0 {
		if err := c.checkV3Settings(); err != nil {
			return false, err
		}
	}
	switch {
	case len(set) == 0:
		if v := c.v3SettingsSet(); len(v) > 0 {
			return true, fmt.Errorf("%s set without the WeChat credentials (%s); set them all for real mode, or unset them for fake mode", strings.Join(v, ", "), strings.Join(missing, ", "))
		}
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

// apiGen checks WXPAY_API: "v2", "v3", or unset for v3, which WeChat
// gives every new merchant (it issues them the WeChat Pay public key of
// API v3, and new products are documented for v3 only). Anything else is
// refused at start.
func (c Config) apiGen() (string, error) {
	switch c.API {
	case "", "v3":
		return "v3", nil
	case "v2":
		return "v2", nil
	}
	return "", errors.New("WXPAY_API must be v2 or v3 (the generation of WeChat Pay the merchant uses), or unset for v3")
}

// v3SettingsSet names the v3 settings that are set.
func (c Config) v3SettingsSet() []string {
	var set []string
	for _, v := range []struct{ name, val string }{
		{"WXPAY_APIV3_KEY", c.APIv3Key}, {"WXPAY_V3_SERIAL", c.V3Serial}, {"WXPAY_V3_PUBKEY_ID", c.V3PubKeyID},
		{"WXPAY_V3_PUBKEY_FILE", c.V3PubKeyFile}, {"WXPAY_V3_PLATFORM_CERT_FILE", c.V3PlatformCertFile},
	} {
		if v.val != "" {
			set = append(set, v.name)
		}
	}
	return set
}

// checkV3Settings is real mode's check of the v3 settings, all or
// nothing: the private key file, its serial, the APIv3 key, and a way to
// verify WeChat. Errors name the settings, never a value.
func (c Config) checkV3Settings() error {
	var missing []string
	for _, v := range []struct{ name, val string }{
		{"WXPAY_KEY_FILE", c.KeyFile}, {"WXPAY_V3_SERIAL", c.V3Serial}, {"WXPAY_APIV3_KEY", c.APIv3Key},
	} {
		if v.val == "" {
			missing = append(missing, v.name)
		}
	}
	switch {
	case (c.V3PubKeyID == "") != (c.V3PubKeyFile == ""):
		if c.V3PubKeyID == "" {
			missing = append(missing, "WXPAY_V3_PUBKEY_ID")
		} else {
			missing = append(missing, "WXPAY_V3_PUBKEY_FILE")
		}
	case c.V3PubKeyID == "" && c.V3PlatformCertFile == "":
		missing = append(missing, "WXPAY_V3_PUBKEY_ID and WXPAY_V3_PUBKEY_FILE (or WXPAY_V3_PLATFORM_CERT_FILE)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("WXPAY_API=v3 (the default) needs %s; or set WXPAY_API=v2 for a merchant on API v2", strings.Join(missing, ", "))
	}
	if len(c.APIv3Key) != 32 {
		return errors.New("WXPAY_APIV3_KEY must be the 32-byte APIv3 key set on the merchant platform (商户平台 → 账户中心 → API安全)")
	}
	return nil
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
