package wxpaytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/wire"
)

// Config is the one merchant, and the one mini-program, that a [Fake] plays
// WeChat for. AppID, MchID and APIKey are required; the zero value of every
// other field is a documented default.
type Config struct {
	// AppID is the appid of the mini-program the merchant takes payments
	// for; every request must name it.
	AppID string
	// MchID is the merchant number (商户号); every request must name it.
	MchID string
	// APIKey is the merchant's 32-character v2 API key. The fake verifies
	// requests and signs answers and notifications with it; it never
	// prints it.
	APIKey string
	// SignType is the merchant's signature algorithm: requests must be
	// signed with it (and name it in sign_type, or omit sign_type when it
	// is MD5), and answers and notifications are signed with it.
	// "" means wxpay.SignMD5.
	SignType wxpay.SignType
	// AppSecret is the mini-program's 32-character AppSecret. The login
	// endpoints (jscode2session, token, stable_token,
	// getuserphonenumber) answer only when it is set.
	AppSecret string
	// Speed scales every duration of the fake: the notification retry
	// schedule, the 5-minute closeorder rule, the 2-hour prepay_id life,
	// the 5-minute life of login and phone codes, access-token lives.
	// Speed 60 makes a minute last a second. 0 means 1 (real time).
	// The fake's clock then runs ahead of the real one: compute the times
	// it checks (time_expire) from [Fake.Now], not time.Now.
	Speed float64
	// Now, if set, is the fake's clock before scaling: the fake's time is
	// Now() at creation plus Speed times the Now() time elapsed since.
	// Retry timers always run on the real clock, scaled. nil = time.Now.
	Now func() time.Time
	// HTTPClient sends payment notifications. nil means a client with a
	// 5-second timeout that never follows redirects (WeChat's do not).
	HTTPClient *http.Client
	// Logger receives a line per notification attempt and per refused
	// request, never with a key or a signature. nil discards.
	Logger *slog.Logger
	// DuplicateOrderCode selects the answer to a unifiedorder that reuses
	// an out_trade_no with other parameters. "" answers what WeChat is
	// seen to send, INVALID_REQUEST "201 商户订单号重复";
	// wxpay.ErrCodeOutTradeNoUsed answers the documented
	// OUT_TRADE_NO_USED "商户订单号重复".
	DuplicateOrderCode wxpay.ErrorCode
	// RefundNotifyURL receives refund notifications for refunds whose
	// request names no notify_url, as the URL set in the merchant
	// platform does. "" sends none for such refunds.
	RefundNotifyURL string
	// RefundDelay is how long, in the fake's time, a refund stays
	// PROCESSING before it succeeds (and its notification is sent).
	// 0 means [DefaultRefundDelay].
	RefundDelay time.Duration
	// RefundImmediately makes refunds succeed as they are accepted,
	// without the RefundDelay of PROCESSING; their notifications go out
	// at once.
	RefundImmediately bool
	// Sandbox also serves WeChat's sandbox: getsignkey at
	// /sandboxnew/pay/getsignkey and /xdc/apiv2getsignkey/sign/getsignkey,
	// and every v2 endpoint under /sandboxnew and /xdc/apiv2sandbox,
	// where requests are signed with MD5 under the sandbox key that
	// getsignkey returns ([Fake.SandboxKey]) and answers are signed
	// likewise. The paths without a prefix keep answering as production.
	Sandbox bool

	// APIv3Key is the merchant's 32-byte APIv3 key (APIv3密钥). Setting it
	// turns API v3 on: the /v3/ endpoints answer (they are 404 without
	// it), on the same URL and for the same merchant as v2, over one
	// order book. The fake encrypts notifications and platform
	// certificates with it; it never prints it.
	//
	// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/partner/4025464285
	APIv3Key string
	// MerchantSerialNo and MerchantPublicKey are the merchant API
	// certificate's serial (hex) and its public key, as PEM CERTIFICATE
	// (apiclient_cert.pem; MerchantSerialNo may then be empty) or PUBLIC
	// KEY: what v3 requests' Authorization headers must name and be
	// signed by. Both empty: the fake mints the merchant's key pair and
	// serial, which [Fake.V3MerchantKey] hands out.
	MerchantSerialNo  string
	MerchantPublicKey []byte
	// WeChatPayKey is the PEM (PKCS#8 or PKCS#1) of the RSA private key
	// the fake plays WeChat Pay's with: it signs v3 answers and
	// notifications as the WeChat Pay public key, and is the key of the
	// first platform certificate. Empty mints a 2048-bit one. Give the
	// same key to a fake that restarts, so that its clients keep
	// trusting it (the public key id and the first certificate derive
	// from it). Never printed.
	WeChatPayKey []byte
	// V3Signer is what signs v3 answers and notifications: the public
	// key (the zero value), the platform certificate, or both during a
	// migration; see [V3Signer].
	V3Signer V3Signer
}

// Fake is a fake WeChat Pay and mini-program server for one merchant: an
// [http.Handler] that checks requests as WeChat does, keeps orders, users
// and codes in memory, and sends payment notifications. Create it with
// [New], or get one already listening with [NewServer]. It is safe for
// concurrent use. Call [Fake.Close] when done, to stop notification
// retries.
type Fake struct {
	cfg      Config
	key      string // the API key; never printed
	secret   string // the AppSecret; never printed
	signType wxpay.SignType
	speed    float64
	clock    func() time.Time
	start    time.Time // clock reading at creation
	hc       *http.Client
	log      *slog.Logger

	ctx    context.Context // canceled by Close; bounds every notification
	cancel context.CancelFunc

	// The state, one domain each, each with its own lock. Lock order:
	// orders, then refunds, then notify; users and faults stand alone.
	orders  *orderBook
	refunds *refundBook
	users   *userBook
	notify  *notifier
	faults  *faultBook
	seq     atomic.Uint64 // numbers the ids the fake mints

	sandboxKey string // "" unless Config.Sandbox

	// index routes requests to the rows of the endpoint table this
	// fake serves; disabled holds the rows its configuration leaves
	// out, to say why they are refused.
	index, disabled *routeIndex

	// v3 is the API v3 key material; nil when Config.APIv3Key is empty.
	v3      *v3Keys
	v3bills *v3BillBook // the v3 bill files, by download token

	caOnce sync.Once
	caVal  *certAuthority
	caErr  error
}

// New returns a Fake for cfg. It fails if a required field is missing or
// malformed, so that a misconfigured test fails at its start.
func New(cfg Config) (*Fake, error) {
	switch {
	case cfg.AppID == "":
		return nil, errors.New("wxpaytest: Config.AppID is required")
	case cfg.MchID == "":
		return nil, errors.New("wxpaytest: Config.MchID is required")
	case len(cfg.APIKey) != 32:
		return nil, errors.New("wxpaytest: Config.APIKey must be 32 characters")
	case cfg.AppSecret != "" && len(cfg.AppSecret) != 32:
		return nil, errors.New("wxpaytest: Config.AppSecret must be empty or 32 characters")
	case cfg.Speed < 0 || math.IsNaN(cfg.Speed) || math.IsInf(cfg.Speed, 0):
		return nil, errors.New("wxpaytest: Config.Speed must be a finite number >= 0")
	case cfg.RefundDelay < 0:
		return nil, errors.New("wxpaytest: Config.RefundDelay must not be negative")
	case cfg.RefundNotifyURL != "" && !validNotifyURL(cfg.RefundNotifyURL):
		return nil, errors.New("wxpaytest: Config.RefundNotifyURL must be an absolute http(s) URL without query")
	}
	st, err := signTypeOf(cfg)
	if err != nil {
		return nil, err
	}
	switch cfg.DuplicateOrderCode {
	case "", wxpay.ErrCodeInvalidRequest, wxpay.ErrCodeOutTradeNoUsed:
	default:
		return nil, fmt.Errorf("wxpaytest: Config.DuplicateOrderCode must be INVALID_REQUEST or OUT_TRADE_NO_USED, not %q", string(cfg.DuplicateOrderCode))
	}
	v3, err := newV3Keys(cfg)
	if err != nil {
		return nil, err
	}
	speed := cfg.Speed
	if speed == 0 {
		speed = 1
	}
	clock := cfg.Now
	if clock == nil {
		clock = time.Now
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{
			Timeout:       5 * time.Second,
			CheckRedirect: wire.NoRedirect,
			Transport: &http.Transport{
				Proxy:               nil,
				MaxIdleConnsPerHost: 64,
				IdleConnTimeout:     30 * time.Second,
			},
		}
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fake{
		cfg:      cfg,
		key:      cfg.APIKey,
		signType: st,
		speed:    speed,
		clock:    clock,
		start:    clock(),
		hc:       hc,
		log:      lg,
		ctx:      ctx,
		cancel:   cancel,
		orders:   newOrderBook(),
		refunds:  newRefundBook(),
		users:    newUserBook(),
		notify:   newNotifier(),
		faults:   newFaultBook(),
		v3:       v3,
		v3bills:  &v3BillBook{files: make(map[string]*v3BillFile)},
	}
	if cfg.Sandbox {
		f.sandboxKey = randAlnum(32)
	}
	f.cfg.APIKey = "" // kept in f.key only, so a printed Config never shows it
	f.cfg.AppSecret = ""
	f.cfg.APIv3Key = "" // kept in f.v3 only
	f.cfg.WeChatPayKey = nil
	f.secret = cfg.AppSecret
	f.index, f.disabled = newRouteIndex(f, routes())
	return f, nil
}

// Now returns the fake's current time: the configured clock, sped up by
// Config.Speed since the fake was created. Every rule with a duration
// (closeorder's 5 minutes, the 2-hour prepay_id, code lives) is judged on
// this clock.
func (f *Fake) Now() time.Time {
	now := f.clock()
	if f.speed == 1 {
		return now
	}
	return f.start.Add(time.Duration(float64(now.Sub(f.start)) * f.speed))
}

// real converts a duration of the fake's clock into wall-clock time.
func (f *Fake) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / f.speed)
}

// ErrClosed means the fake was closed ([Fake.Close]): [Fake.Pay] and
// the waits for acknowledgements return it.
var ErrClosed = errors.New("wxpaytest: fake closed")

// Close stops every pending notification retry, aborts notifications in
// flight and waits for them to end. The fake still answers HTTP requests
// afterwards, but sends nothing more. Close is idempotent.
func (f *Fake) Close() {
	f.notify.close()
	f.cancel()
	f.notify.wg.Wait()
	if f.cfg.HTTPClient == nil {
		f.hc.CloseIdleConnections() // the fake's own transport: leave no goroutines behind
	}
}
