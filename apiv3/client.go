package apiv3

import (
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// Base URLs of API v3.
const (
	// BaseURL is the primary endpoint ("就近的接入点").
	BaseURL = "https://api.mch.weixin.qq.com"
	// BackupBaseURL is WeChat's backup domain in another city; see
	// [WithFailover].
	BackupBaseURL = "https://api2.mch.weixin.qq.com"
)

// MaxResponseBytes bounds the body of an answer; real answers are a few
// kilobytes.
const MaxResponseBytes = 1 << 20

// Client calls WeChat Pay API v3 for one merchant. It is safe for
// concurrent use; create one with [NewClient] and share it. The zero
// Client is not usable.
//
// A Client never prints its keys: fmt (every verb), slog and
// encoding/json show the merchant number and base URL only.
type Client struct {
	mchID    string
	appID    string                      // default appid of orders; may be empty
	notify   string                      // default notify_url of orders; may be empty
	serial   string                      // merchant API certificate serial, upper-case hex
	key      *wire.Sealed[crypto.Signer] // merchant API private key; behind two pointers, see wire.Sealed
	apiV3Key apiV3Key                    // opens notifications and certificates; see apiV3Key

	// WeChat's keys: the public key (pubKeyID non-empty) and/or platform
	// certificates (certs non-nil).
	pubKeyID string
	pubKey   *rsa.PublicKey
	certs    *certManager

	hc        *http.Client
	baseURL   string
	backup    string // failover base URL; empty means none
	logger    *slog.Logger
	now       func() time.Time
	rand      io.Reader // nonces; crypto/rand unless WithRand (then serialized)
	userAgent string
	maxBytes  int64
}

// apiV3Key holds the 32-byte APIv3 key. It never prints: its value lives
// two pointers away from any struct field (see [wire.Sealed]), and its
// String, Format and LogValue say "REDACTED". bytes returns the key for
// AES-256-GCM; callers must not keep or modify the slice.
// aead is AES-256-GCM under the key, built once (see newAEAD) and sealed
// the same way, since its key schedule is as secret as the key.
type apiV3Key struct {
	s    *wire.Sealed[[32]byte]
	aead *wire.Sealed[cipher.AEAD]
}

func newAPIv3Key(k string) apiV3Key {
	var b [32]byte
	copy(b[:], k)
	return apiV3Key{s: wire.Seal(b), aead: wire.Seal(newAEAD(b[:]))}
}

// bytes returns the 32 key bytes.
func (k apiV3Key) bytes() []byte { return k.s.Open()[:] }

func (apiV3Key) String() string               { return wire.Redacted }
func (apiV3Key) Format(f fmt.State, _ rune)   { _, _ = io.WriteString(f, wire.Redacted) }
func (apiV3Key) LogValue() slog.Value         { return slog.StringValue(wire.Redacted) }
func (apiV3Key) MarshalJSON() ([]byte, error) { return []byte(`"` + wire.Redacted + `"`), nil }

// Format prints the client's merchant identity and nothing secret, for
// every verb.
func (c Client) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, "apiv3.Client{MchID:"+c.mchID+" MerchantSerialNo:"+c.serial+
		" PublicKeyID:"+c.pubKeyID+" PlatformCertificates:"+strconv.FormatBool(c.certs != nil)+" BaseURL:"+c.baseURL+"}")
}

// LogValue makes slog print the client's merchant identity only.
func (c Client) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("mchid", c.mchID),
		slog.String("merchant_serial_no", c.serial),
		slog.String("base_url", c.baseURL),
	)
}

// MarshalJSON writes the client's merchant identity only.
func (c Client) MarshalJSON() ([]byte, error) {
	return []byte(`{"mchid":` + strconv.Quote(c.mchID) + `,"base_url":` + strconv.Quote(c.baseURL) + `}`), nil
}

// MchID returns the configured merchant number.
func (c *Client) MchID() string { return c.mchID }

// AppID returns the configured appid (Config.AppID), possibly empty.
func (c *Client) AppID() string { return c.appID }

// Option configures a [Client] in [NewClient].
type Option func(*options) error

type options struct {
	wire.Options // shared with the v2 client: hc, base URL, failover, logger, clock, rand
	store        CertificateStore
}

// optPrefix begins the errors of this package's options.
const optPrefix = "apiv3: "

// WithHTTPClient makes the client send requests with hc's transport,
// timeout and TLS settings instead of its own (a shared transport and a
// 10 s timeout). Redirects are never followed, whatever hc says, and hc
// itself is never modified, so it may be shared. TLS verification must
// stay on: a transport with InsecureSkipVerify is refused.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *options) error { return o.SetHTTPClient(optPrefix, hc) }
}

// WithBaseURL sends requests to u instead of [BaseURL]: a fake server in
// tests, or a proxy. Endpoint paths are appended to u, so a path prefix
// is kept (and is part of what is signed).
func WithBaseURL(u string) Option {
	return func(o *options) error { return o.SetBaseURL(optPrefix, u) }
}

// WithFailover retries a request on backup (usually [BackupBaseURL]) when
// it could not reach the primary at all: DNS, dial or TLS handshake
// failures. It never retries once a request may have reached WeChat (a
// read timeout, an HTTP status), so a call cannot take effect twice; the
// rules are those of the v2 client's WithFailover.
func WithFailover(backup string) Option {
	return func(o *options) error { return o.SetFailover(optPrefix, backup) }
}

// WithLogger sets where the client reports diagnostics: certificate
// refreshes that failed at Warn, each call and failover at Debug. The
// default is [slog.Default], looked up at each record so that a later
// slog.SetDefault takes effect. Secrets are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error { return o.SetLogger(optPrefix, l) }
}

// WithClock sets the source of the current time: the timestamp of every
// request, the 5-minute window answers and notifications are checked
// against, certificate validity and refresh. Tests use it for
// deterministic output.
func WithClock(now func() time.Time) Option {
	return func(o *options) error { return o.SetClock(optPrefix, now) }
}

// WithRand sets the randomness source for request nonces (nonce_str) and
// the RSA-OAEP encryption of sensitive fields. The default is
// crypto/rand; only tests should need another. The client serializes its
// reads, so r need not be safe for concurrent use.
func WithRand(r io.Reader) Option {
	return func(o *options) error { return o.SetRand(optPrefix, r) }
}

// WithCertificateStore keeps the platform certificates in s instead of
// in this client's memory alone, so that several instances (processes)
// share one download: an instance that meets an unknown serial looks in
// s before it downloads. It requires Config.PlatformCertificates.
func WithCertificateStore(s CertificateStore) Option {
	return func(o *options) error {
		if s == nil {
			return wire.NewError("apiv3: ", "WithCertificateStore: nil store")
		}
		o.store = s
		return nil
	}
}

// defaultHandler sends records to whatever slog.Default is at the time.
type defaultHandler struct{}

func (defaultHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return slog.Default().Handler().Enabled(ctx, l)
}
func (defaultHandler) Handle(ctx context.Context, r slog.Record) error {
	return slog.Default().Handler().Handle(ctx, r)
}
func (defaultHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return slog.Default().Handler().WithAttrs(as)
}
func (defaultHandler) WithGroup(n string) slog.Handler { return slog.Default().Handler().WithGroup(n) }

// NewClient returns a Client for cfg. It checks every field up front, so
// a client that could not sign or verify is never built, and it does no
// I/O: platform certificates are downloaded when first needed.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012365336
func NewClient(cfg Config, opts ...Option) (*Client, error) {
	if err := checkMchID(cfg.MchID); err != nil {
		return nil, err
	}
	serial := cfg.MerchantSerialNo
	if (serial != "" || len(cfg.MerchantCertificate) == 0) && (serial == "" || len(serial) > 64 || !wire.IsHex(serial)) {
		return nil, configError("MerchantSerialNo must be the hex serial number of apiclient_cert.pem (openssl x509 -noout -serial -in apiclient_cert.pem)")
	}
	var signer crypto.Signer
	switch {
	case len(cfg.PrivateKey) > 0 && cfg.Signer != nil:
		return nil, configError("set PrivateKey or Signer, not both")
	case len(cfg.PrivateKey) > 0:
		k, err := parsePrivateKey(cfg.PrivateKey)
		if err != nil {
			return nil, err
		}
		signer = k
	case cfg.Signer != nil:
		pk, ok := cfg.Signer.Public().(*rsa.PublicKey)
		if !ok || pk.N.BitLen() < 2048 {
			return nil, configError("Signer must hold an RSA key of at least 2048 bits (WECHATPAY2-SHA256-RSA2048)")
		}
		signer = cfg.Signer
	default:
		return nil, configError("PrivateKey is required (apiclient_key.pem), or a Signer for a key in an HSM or KMS")
	}
	if len(cfg.MerchantCertificate) > 0 {
		var err error
		if serial, err = checkMerchantCertificate(cfg.MerchantCertificate, serial, signer); err != nil {
			return nil, err
		}
	}
	if err := checkAppID("Config", "AppID", cfg.AppID); err != nil {
		return nil, configError("AppID must be the appid bound to the merchant (wx…): letters, digits and '_', at most 32")
	}
	if cfg.NotifyURL != "" {
		if why := checkNotifyURL(cfg.NotifyURL); why != "" {
			return nil, configError("NotifyURL " + why)
		}
	}
	if len(cfg.APIv3Key) != 32 {
		return nil, configError("APIv3Key must be exactly 32 bytes, got " + strconv.Itoa(len(cfg.APIv3Key)) +
			" (the APIv3 key set in 商户平台 → 账户中心 → API安全, not the v2 API key)")
	}
	c := &Client{
		mchID:    cfg.MchID,
		appID:    cfg.AppID,
		notify:   cfg.NotifyURL,
		serial:   strings.ToUpper(serial),
		key:      wire.Seal(signer),
		apiV3Key: newAPIv3Key(cfg.APIv3Key),
		baseURL:  BaseURL,
		maxBytes: MaxResponseBytes,
		userAgent: "wxpay-go-apiv3 (" + runtime.GOOS + "/" + runtime.GOARCH + ") Go/" + runtime.Version() +
			" (+https://github.com/wxpay-go/wxpay)",
	}
	switch {
	case cfg.PublicKeyID == "" && len(cfg.PublicKey) == 0:
	case cfg.PublicKeyID == "" || len(cfg.PublicKey) == 0:
		return nil, configError("PublicKeyID and PublicKey go together: the PUB_KEY_ID_… id and pub_key.pem of 商户平台 → API安全 → 微信支付公钥")
	default:
		if !strings.HasPrefix(cfg.PublicKeyID, PublicKeyIDPrefix) || len(cfg.PublicKeyID) > 64 ||
			strings.ContainsAny(cfg.PublicKeyID, "\" ,\r\n") {
			return nil, configError("PublicKeyID must be the id shown beside the WeChat Pay public key, starting with " + PublicKeyIDPrefix)
		}
		pk, err := parsePublicKey(cfg.PublicKey)
		if err != nil {
			return nil, err
		}
		c.pubKeyID, c.pubKey = cfg.PublicKeyID, pk
	}
	if c.pubKey == nil && !cfg.PlatformCertificates {
		return nil, configError("no way to verify WeChat: set PublicKeyID and PublicKey (the WeChat Pay public key, every merchant since 2024), " +
			"PlatformCertificates (older merchants), or both while migrating")
	}
	o := options{}
	for _, opt := range opts {
		if opt == nil {
			return nil, wire.NewError("apiv3: ", "NewClient: nil Option")
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.store != nil && !cfg.PlatformCertificates {
		return nil, configError("WithCertificateStore needs PlatformCertificates")
	}
	if o.BaseURL != "" {
		c.baseURL = o.BaseURL
	}
	c.backup = o.Backup
	c.hc = o.HC
	if c.hc == nil {
		c.hc = wire.NewHTTPClient()
	}
	c.logger = o.Log
	if c.logger == nil {
		c.logger = slog.New(defaultHandler{})
	}
	c.now = o.Now
	if c.now == nil {
		c.now = time.Now
	}
	c.rand = o.Rand
	if c.rand != nil {
		c.rand = wire.NewLockedReader(c.rand)
	} else {
		c.rand = rand.Reader
	}
	if cfg.PlatformCertificates {
		c.certs = newCertManager(c, o.store)
	}
	return c, nil
}
