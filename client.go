package wxpay

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// Base URLs of the v2 API.
const (
	// BaseURL is the primary endpoint in mainland China.
	BaseURL = "https://api.mch.weixin.qq.com"
	// BackupBaseURL is WeChat's disaster-recovery domain (跨城冗灾). It
	// serves every v2 call; see [WithFailover].
	BackupBaseURL = "https://api2.mch.weixin.qq.com"
)

// Config is the merchant's identity and key. AppID, MchID and APIKey are
// required; the zero value of every other field is a documented default.
type Config struct {
	// AppID is the appid of the mini-program, official account or app the
	// payments belong to, bound to MchID in the merchant platform.
	AppID string
	// MchID is the merchant number (商户号).
	MchID string
	// APIKey is the 32-character v2 API key (API密钥). It signs every
	// request and verifies every answer; wxpay never logs it or puts it in
	// an error.
	APIKey string
	// SignType is the signature algorithm for requests, answers and
	// notifications. Zero means SignMD5, WeChat's default; SignHMACSHA256
	// is stronger and recommended for new merchants.
	SignType SignType
	// NotifyURL is the default notify_url of UnifiedOrder: where WeChat
	// POSTs payment notifications. It must be reachable from the internet
	// and carry no query string.
	NotifyURL string
}

// Client calls the WeChat Pay v2 API for one merchant. It is safe for
// concurrent use; create one with [NewClient] and share it. The zero
// Client is not usable.
type Client struct {
	cfg       Config // APIKey cleared: the key lives only in signer and refundKey
	signer    *Signer
	refundKey *wire.Sealed[[32]byte] // AES key of refund notifications, derived from the API key
	hc        *http.Client
	hmac      *Signer      // HMAC-SHA256 under the same key, for the fund-flow bill
	certHC    *http.Client // presents the client certificate; nil without one
	// ownHC and ownCert say that hc and certHC are the library's own,
	// which carry no Timeout: each attempt gets a deadline instead
	// (attemptTimeout), so that one client serves both the small answers
	// and bills that take minutes to stream.
	ownHC, ownCert bool
	prefix         string                                 // sandbox path prefix; empty in production
	sandboxSigner  func(context.Context) (*Signer, error) // the sandbox key, fetched on first use; nil in production
	baseURL        string
	backup         string       // failover base URL; empty means none
	log            *slog.Logger // nil means slog.Default()
	now            func() time.Time
	rand           *wire.LockedReader // nil means crypto/rand
	maxBytes       int64
}

// Option configures a [Client] in [NewClient].
type Option func(*options) error

type options struct {
	wire.Options // shared with apiv3: hc, base URL, failover, logger, clock, rand
	certHC       *http.Client
	cert         *tls.Certificate
	setup        []func(c *Client, apiKey string) error // run by NewClient once the client is built
}

// optPrefix begins the errors of this package's options.
const optPrefix = "wxpay: "

// WithHTTPClient makes the client send requests with hc's transport,
// timeout, jar and TLS settings instead of its own (the default transport
// and a 10 s timeout). Redirects are never followed, whatever hc says. hc
// itself is never modified, so it may be shared; give it a timeout or
// pass deadlines in each call's context. TLS verification must stay on: a
// transport with InsecureSkipVerify is refused, since the answers'
// signatures protect their content but not the confidentiality of what is
// sent.
//
// With a client certificate ([WithClientCertificate]), the certificate
// endpoints use a clone of hc's *http.Transport that presents it. A
// custom RoundTripper cannot be cloned: give the certificate-bearing
// client with [WithCertificateHTTPClient] instead.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *options) error { return o.SetHTTPClient(optPrefix, hc) }
}

// WithBaseURL sends requests to u instead of [BaseURL]: a fake server in
// tests, [BackupBaseURL], or a proxy. Endpoint paths are appended to u,
// so a path prefix is kept. For WeChat's sandbox use [WithSandbox], which
// also fetches and uses the sandbox key.
func WithBaseURL(u string) Option {
	return func(o *options) error { return o.SetBaseURL(optPrefix, u) }
}

// WithFailover retries a request on backup (usually [BackupBaseURL]) when
// it could not reach the primary at all: DNS, dial or TLS handshake
// failures. It never retries once a request may have reached WeChat (a
// read timeout, an HTTP error, a FAIL answer), so a call cannot take
// effect twice.
func WithFailover(backup string) Option {
	return func(o *options) error { return o.SetFailover(optPrefix, backup) }
}

// WithLogger sets where the client reports diagnostics: refused
// notifications at Warn (rate-limited, see [Client.NotifyHandler]), a
// failing NotifyFunc at Error, and each call and failover at Debug. The
// default is [slog.Default], looked up at each record so that a later
// slog.SetDefault takes effect. Secrets are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error { return o.SetLogger(optPrefix, l) }
}

// WithClock sets the source of the current time (the timeStamp of
// [Client.JSAPIParams] and [Client.AppPayParams], the time_stamp of
// [Client.NativeBizPayURL]). Tests use it for deterministic output.
func WithClock(now func() time.Time) Option {
	return func(o *options) error { return o.SetClock(optPrefix, now) }
}

// WithRand sets the randomness source for nonce_str. The default is
// crypto/rand; only tests should need another. The client serializes its
// reads, so r need not be safe for concurrent use.
func WithRand(r io.Reader) Option {
	return func(o *options) error { return o.SetRand(optPrefix, r) }
}

// NewClient returns a Client for cfg. It checks cfg up front, so a client
// that could not sign or verify is never built.
func NewClient(cfg Config, opts ...Option) (*Client, error) {
	if cfg.AppID == "" || cfg.MchID == "" {
		return nil, wire.NewError("wxpay: ", "Config needs AppID and MchID")
	}
	if len(cfg.AppID) > 32 || len(cfg.MchID) > 32 {
		return nil, wire.NewError("wxpay: ", "AppID and MchID are at most 32 characters")
	}
	if cfg.SignType == "" {
		cfg.SignType = SignMD5
	}
	signer, err := NewSigner(cfg.APIKey, cfg.SignType)
	if err != nil {
		return nil, err
	}
	if cfg.NotifyURL != "" {
		if err := checkNotifyURL(cfg.NotifyURL); err != nil {
			return nil, err
		}
	}
	o := options{Options: wire.Options{BaseURL: BaseURL}}
	for _, opt := range opts {
		if opt == nil {
			return nil, wire.NewError("wxpay: ", "NewClient: nil Option")
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	c := &Client{
		cfg:       cfg,
		signer:    signer,
		refundKey: seal(*refundKey(cfg.APIKey)),
		hc:        o.HC,
		baseURL:   o.BaseURL,
		backup:    o.Backup,
		log:       o.Log,
		now:       o.Now,
		maxBytes:  1 << 20,
	}
	if c.hmac = signer; signer.Type() != SignHMACSHA256 {
		// The fund-flow bill accepts HMAC-SHA256 only; its signer is
		// built here, once, from the same key.
		if c.hmac, err = NewSigner(cfg.APIKey, SignHMACSHA256); err != nil {
			return nil, err
		}
	}
	// Modes that need the key (WithSandbox) finish the client here,
	// before the key is dropped from cfg.
	for _, setup := range o.setup {
		if err := setup(c, cfg.APIKey); err != nil {
			return nil, err
		}
	}
	c.cfg.APIKey = ""
	if o.Rand != nil {
		c.rand = wire.NewLockedReader(o.Rand)
	}
	c.ownHC = c.hc == nil
	if c.ownHC {
		c.hc = &http.Client{Transport: wire.NewHTTPClient().Transport, CheckRedirect: wire.NoRedirect}
	}
	switch {
	case o.cert != nil && o.certHC != nil:
		return nil, wire.NewError("wxpay: ", "WithClientCertificate and WithCertificateHTTPClient cannot be combined")
	case o.cert != nil:
		if c.certHC, err = certClient(c.hc, *o.cert); err != nil {
			return nil, err
		}
	case o.certHC != nil:
		c.certHC = o.certHC
	}
	c.ownCert = c.ownHC && c.certHC != nil && o.certHC == nil
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// checkNotifyURL applies WeChat's rules for notify_url: absolute http(s),
// no query string, at most 256 bytes.
func checkNotifyURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || strings.Contains(raw, "?") || len(raw) > 256 {
		return wire.NewError("wxpay: ", "notify URL must be an absolute http(s) URL of at most 256 bytes without query")
	}
	return nil
}

// Signer returns the client's signer, for messages this package does not
// model (custom endpoints, queued notifications).
func (c *Client) Signer() *Signer { return c.signer }

// AppID returns the configured appid.
func (c *Client) AppID() string { return c.cfg.AppID }

// MchID returns the configured merchant number.
func (c *Client) MchID() string { return c.cfg.MchID }

// nonce draws a nonce_str from the configured randomness source.
func (c *Client) nonce() (string, error) {
	if c.rand == nil {
		return NewNonce()
	}
	return newNonce(c.rand)
}

// checkMerchant makes sure a verified message is addressed to this
// merchant: a genuine message for another appid or mch_id signed with a
// shared key must not be taken as ours.
func (c *Client) checkMerchant(p Params) error {
	if p["appid"] != c.cfg.AppID || p["mch_id"] != c.cfg.MchID {
		return ErrMerchant
	}
	return nil
}

// logger returns the configured logger, or slog.Default() at the time
// of the call.
func (c *Client) logger() *slog.Logger {
	if c.log != nil {
		return c.log
	}
	return slog.Default()
}
