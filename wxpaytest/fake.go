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
	wg     sync.WaitGroup

	mu         sync.Mutex
	closed     bool
	seq        uint64
	orders     map[string]*order // by out_trade_no
	byPrepay   map[string]*order
	byTxn      map[string]*order
	dropNotify map[string]bool
	faults     map[Endpoint][]*faultEntry
	users      map[string]*user      // by openid
	codes      map[string]*loginCode // by js_code
	phoneCodes map[string]*phoneCode
	tokens     map[string]time.Time // access token -> expiry (fake time)
	lastToken  string               // newest /cgi-bin/token token
	stable     string               // current stable_token
	timers     map[*time.Timer]struct{}

	refunds    map[string]*refund // by out_refund_no
	byRefundID map[string]*refund
	payCodes   map[string]*payCode // by auth_code
	sandboxKey string              // "" unless Config.Sandbox

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
		cfg:        cfg,
		key:        cfg.APIKey,
		signType:   st,
		speed:      speed,
		clock:      clock,
		start:      clock(),
		hc:         hc,
		log:        lg,
		ctx:        ctx,
		cancel:     cancel,
		orders:     make(map[string]*order),
		byPrepay:   make(map[string]*order),
		byTxn:      make(map[string]*order),
		dropNotify: make(map[string]bool),
		faults:     make(map[Endpoint][]*faultEntry),
		users:      make(map[string]*user),
		codes:      make(map[string]*loginCode),
		phoneCodes: make(map[string]*phoneCode),
		tokens:     make(map[string]time.Time),
		timers:     make(map[*time.Timer]struct{}),
		refunds:    make(map[string]*refund),
		byRefundID: make(map[string]*refund),
		payCodes:   make(map[string]*payCode),
	}
	if cfg.Sandbox {
		f.sandboxKey = randAlnum(32)
	}
	f.cfg.APIKey = "" // kept in f.key only, so a printed Config never shows it
	f.cfg.AppSecret = ""
	f.secret = cfg.AppSecret
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

// afterFunc runs fn after d of fake time, unless the fake is closed first.
func (f *Fake) afterFunc(d time.Duration, fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scheduleLocked(d, fn)
}

// Close stops every pending notification retry, aborts notifications in
// flight and waits for them to end. The fake still answers HTTP requests
// afterwards, but sends nothing more. Close is idempotent.
func (f *Fake) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		f.wg.Wait()
		return
	}
	f.closed = true
	for t := range f.timers {
		if t.Stop() {
			f.wg.Done() // its function will never run
		}
		delete(f.timers, t)
	}
	f.mu.Unlock()
	f.cancel()
	f.wg.Wait()
	if f.cfg.HTTPClient == nil {
		f.hc.CloseIdleConnections() // the fake's own transport: leave no goroutines behind
	}
}

// ServeHTTP answers the WeChat endpoints the fake implements, at these
// paths relative to wherever it is mounted (use [http.StripPrefix] to mount
// it under a prefix):
//
//	POST /pay/unifiedorder, /pay/orderquery, /pay/closeorder   WeChat Pay v2 (XML)
//	POST /secapi/pay/refund, /pay/refundquery                  refunds (refund needs the certificate)
//	POST /pay/downloadbill, /pay/downloadfundflow              bills (fund flow needs the certificate)
//	POST /pay/micropay, /secapi/pay/reverse                    payment codes (reverse needs the certificate)
//	POST /sandboxnew/pay/getsignkey, /sandboxnew/...           sandbox, with Config.Sandbox
//	GET  /sns/jscode2session                                    code2Session
//	GET  /cgi-bin/token, POST /cgi-bin/stable_token             access tokens
//	POST /wxa/business/getuserphonenumber                       phone numbers
//	POST /wxpaytest/login                                       mint a login code (JSON)
//	POST /wxpaytest/phonecode                                   mint a phone code (JSON)
//	POST /wxpaytest/pay                                         confirm wx.requestPayment (JSON)
//
// /wxpaytest/login takes {"openid": "..."} (optional: omit it for a new
// user) and answers {"code": "...", "openid": "..."}, as wx.login hands a
// code to a mini-program. /wxpaytest/phonecode takes {"openid": "...",
// "phone": "..."} (openid optional as above; phone as [Fake.PhoneCode]
// takes it) and answers {"code": "...", "openid": "..."}, as a
// getPhoneNumber button hands a code to a mini-program; a missing or
// malformed phone is a 400. /wxpaytest/pay takes the wx.requestPayment
// arguments exactly as [wxpay.JSAPIParams] marshals them (appId may be
// omitted, as wx.requestPayment has none) and plays the user confirming
// the payment: it checks paySign as WeChat's server does, then pays as
// [Fake.Pay] does. It answers {"result":"SUCCESS","out_trade_no":...,
// "transaction_id":...,"err_msg":"requestPayment:ok"}, or a 4xx status
// with {"error":...,"err_msg":"requestPayment:fail ..."}.
//
// The certificate endpoints (/secapi/..., /pay/downloadfundflow) check
// the client certificate of a request that came over TLS, as
// [NewTLSServer] serves them; see [NewTLSServer] for how they refuse one.
// Over plain HTTP there is no certificate to check, and they answer as if
// the merchant's had been presented.
//
// WeChat docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_1 (unifiedorder),
// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_2 (orderquery),
// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_3 (closeorder),
// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_4 (refund),
// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_5 (refundquery),
// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_6 (downloadbill),
// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_18 (downloadfundflow),
// https://pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=9_10 (micropay),
// https://pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=9_11 (reverse),
// https://pay.weixin.qq.com/wiki/doc/api/tools/sp_coupon.php?chapter=23_1 (sandbox),
// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=7_7&index=6 (paySign),
// https://developers.weixin.qq.com/miniprogram/dev/server/API/user-login/api_code2session,
// https://developers.weixin.qq.com/miniprogram/dev/server/API/user-info/phone-number/api_getphonenumber
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ep := Endpoint(r.URL.Path)
	if v2Endpoint(ep) {
		f.servePay(w, r, ep, f.prodSigning())
		return
	}
	switch ep {
	case EndpointCode2Session, EndpointToken, EndpointStableToken, EndpointPhoneNumber:
		if f.secret == "" {
			http.NotFound(w, r)
			return
		}
		f.serveMini(w, r, ep)
	case "/wxpaytest/login":
		f.serveLogin(w, r)
	case "/wxpaytest/phonecode":
		f.serveLoginPhone(w, r)
	case "/wxpaytest/pay":
		f.serveUserPay(w, r)
	default:
		if f.sandboxKey != "" && f.serveSandbox(w, r) {
			return
		}
		http.NotFound(w, r)
	}
}

// v2Endpoint reports whether ep is one of the XML endpoints.
func v2Endpoint(ep Endpoint) bool {
	switch ep {
	case EndpointUnifiedOrder, EndpointOrderQuery, EndpointCloseOrder, EndpointRefund, EndpointRefundQuery,
		EndpointDownloadBill, EndpointDownloadFundFlow, EndpointMicroPay, EndpointReverse:
		return true
	}
	return false
}

// certEndpoint reports whether WeChat requires the merchant's client
// certificate on ep.
func certEndpoint(ep Endpoint) bool {
	return ep == EndpointRefund || ep == EndpointReverse || ep == EndpointDownloadFundFlow
}
