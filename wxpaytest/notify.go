package wxpaytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/wxpay-go/wxpay"
)

// ErrNoOrder means no order has the prepay_id or out_trade_no given
// ([Fake.Pay], [Fake.WaitAcked]). Like every error of the fake it is
// returned as it is or wrapped: test for it with errors.Is.
var ErrNoOrder = errors.New("wxpaytest: no such order")

// ErrOrderPaid means [Fake.Pay] found the order already paid.
var ErrOrderPaid = errors.New("wxpaytest: order already paid")

// ErrOrderClosed means [Fake.Pay] found the order closed, or past its
// time_expire.
var ErrOrderClosed = errors.New("wxpaytest: order closed")

// ErrPrepayExpired means the prepay_id given to [Fake.Pay] is over 2
// hours old (fake time); a unifiedorder with the same parameters gets a
// fresh one.
var ErrPrepayExpired = errors.New("wxpaytest: prepay_id expired")

// ErrCoupons means the coupons of [PayOptions] are malformed or exceed
// the order's amount.
var ErrCoupons = errors.New("wxpaytest: invalid coupons")

// NotifySchedule returns the intervals WeChat waits between deliveries of
// a payment notification that was not acknowledged, in WeChat's time:
// 15s, 15s, 30s, 3m, 10m, 20m, 30m, 30m, 30m, 60m, 3h, 3h, 3h, 6h, 6h
// (24h4m in all, 16 deliveries). The fake waits each divided by
// Config.Speed.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7
func NotifySchedule() []time.Duration {
	return []time.Duration{
		15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute,
		10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 30 * time.Minute,
		30 * time.Minute, 60 * time.Minute, 3 * time.Hour, 3 * time.Hour,
		3 * time.Hour, 6 * time.Hour, 6 * time.Hour,
	}
}

// PayOptions says which order the user pays, and how the notification
// that follows behaves.
type PayOptions struct {
	// PrepayID or OutTradeNo names the order; give one of them. A
	// PrepayID must be current (under 2 hours old).
	PrepayID   string
	OutTradeNo string
	// Coupons are applied to the payment: cash_fee is the total less
	// their sum, which must not exceed it. Each needs an ID and a
	// positive Fee.
	Coupons []wxpay.Coupon
	// OpenID is the payer of an order that names none (NATIVE, APP,
	// MWEB); "" is a new user. A JSAPI order's payer is its openid.
	OpenID string
	// BankType is the notification's bank_type; "" is "OTHERS".
	BankType string
	// Fields are set in the notification before it is signed, replacing
	// the fake's own; an empty value removes a field. Use it for a
	// notification WeChat could send but the fake does not by itself
	// (result_code FAIL, promotion_detail, a new field). v2 only: a v3
	// notification is the order's Transaction.
	Fields wxpay.Params
	// Copies is how many times each delivery attempt is sent, as WeChat
	// sometimes notifies from several servers at once; 0 means 1. The
	// attempt counts as acknowledged if any copy is.
	Copies int
	// Concurrent sends the copies of an attempt at the same time rather
	// than one after another.
	Concurrent bool
	// Tamper, if set, rewrites the signed body of each delivery attempt
	// (attempt counts from 1) before it is sent: return body unchanged
	// for a genuine delivery.
	Tamper func(attempt int, body []byte) []byte
	// NoNotify pays without ever notifying, as when WeChat's
	// notification is lost; see also [Fake.DropNotifications].
	NoNotify bool
	// V3Fault, if set, bends the delivery attempts of an API v3
	// notification (attempt counts from 1): the Fault's WrongKey,
	// Unsigned, V3Probe, V3UnknownSerial and V3StaleTimestamp act on the
	// signature headers as on an answer's, and V3TamperCiphertext
	// alters the encrypted resource before the body is signed. Return
	// the zero Fault for a genuine attempt: as WeChat resends a probe
	// correctly signed, a test usually bends the first attempt only.
	V3Fault func(attempt int) Fault
}

func (o PayOptions) bankType() string {
	if o.BankType == "" {
		return "OTHERS"
	}
	return o.BankType
}

// Delivery is one notification attempt: what was sent and what came back.
type Delivery struct {
	// OutTradeNo names the order the notification is about, for a
	// payment and for a refund notification alike.
	OutTradeNo string
	// OutRefundNo names the refund of a refund notification; it is
	// empty for a payment notification.
	OutRefundNo string
	// Attempt is 1 for the first delivery, 2 for the first retry, and so
	// on along [NotifySchedule].
	Attempt int
	// Copy is the 1-based index of this copy among the attempt's copies
	// (see PayOptions.Copies).
	Copy int
	// At is when the attempt started, on the fake's clock ([Fake.Now]).
	At time.Time
	// Body is the body as sent: for v2 the XML, signed for a payment
	// notification, with req_info encrypted for a refund notification;
	// for v3 the JSON envelope, its resource encrypted (its signature is
	// in Header). PayOptions.Tamper, if set, has rewritten it.
	Body []byte
	// StatusCode is the HTTP status of the answer; 0 when no answer came.
	StatusCode int
	// Reply is up to 64 KiB of the answer's body.
	Reply []byte
	// Header is the request's headers as sent: for an API v3
	// notification the Wechatpay-* signature headers of this attempt
	// (each attempt is signed anew), with Content-Type and Request-ID.
	Header http.Header
	// Err is the transport error, if any (or the error reading Reply).
	Err error
	// Acked reports that the reply acknowledged the notification, which
	// ends the retries: for v2 a reply whose return_code is SUCCESS, for
	// v3 an HTTP 200 or 204 (whatever the body).
	Acked bool
}

// Pay plays the payer confirming wx.requestPayment: the order becomes
// SUCCESS and a signed payment notification goes to its notify_url, then
// again on WeChat's schedule ([NotifySchedule], sped up by Config.Speed)
// until acknowledged (for v2 a reply whose return_code is SUCCESS) or the
// fake is closed. The notification is of the generation that placed the
// order: v2's signed XML, or for an order placed through API v3 a
// TRANSACTION.SUCCESS notification (acknowledged by HTTP 200 or 204). It
// returns the paid order. Pay does not check a paySign; the HTTP endpoint
// /wxpaytest/pay does (see [Fake.ServeHTTP]), RSA for a v3 order.
//
// It fails with ErrNoOrder, ErrOrderPaid, ErrOrderClosed, ErrPrepayExpired,
// ErrCoupons, ErrClosed, or an error for Fields that cannot be written as
// XML, changing nothing.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7
func (f *Fake) Pay(opts PayOptions) (*Order, error) {
	now := f.Now()
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	if f.notify.isClosed() {
		return nil, ErrClosed
	}
	var o *order
	switch {
	case opts.PrepayID != "":
		o = f.orders.byPrepay[opts.PrepayID]
		if o == nil {
			return nil, ErrNoOrder
		}
		if opts.OutTradeNo != "" && opts.OutTradeNo != o.OutTradeNo {
			return nil, fmt.Errorf("%w: prepay_id belongs to another out_trade_no", ErrNoOrder)
		}
	case opts.OutTradeNo != "":
		o = f.orders.byNo[opts.OutTradeNo]
	}
	if o == nil {
		return nil, ErrNoOrder
	}
	if o.micro != nil {
		return nil, fmt.Errorf("%w: a micropay order is paid with its payment code", ErrNoOrder)
	}
	switch o.state(now) {
	case StateSuccess, StateRefund:
		return nil, ErrOrderPaid
	case StateClosed:
		return nil, ErrOrderClosed
	}
	if now.Sub(o.prepayAt) >= PrepayLife {
		return nil, ErrPrepayExpired
	}
	if extra := nonEmpty(opts.Fields); len(extra) > 0 {
		if _, err := wxpay.EncodeXML(extra); err != nil {
			return nil, fmt.Errorf("wxpaytest: PayOptions.Fields: %w", err)
		}
	}
	var sum int64
	for _, c := range opts.Coupons {
		if c.ID == "" || c.Fee <= 0 {
			return nil, ErrCoupons
		}
		sum += c.Fee
		if sum > o.TotalFee {
			return nil, ErrCoupons
		}
	}
	o.State = StateSuccess
	o.PaidAt = now
	o.TransactionID = f.newTransactionID(now)
	f.orders.byTxn[o.TransactionID] = o
	o.Coupons = slices.Clone(opts.Coupons)
	if o.OpenID == "" {
		o.OpenID = opts.OpenID
		if o.OpenID == "" {
			o.OpenID = newOpenID()
		}
	}
	opts.Fields = maps.Clone(opts.Fields)
	o.payOpts = opts
	snap := o.snapshot()
	n := o.note
	f.notify.mu.Lock()
	defer f.notify.mu.Unlock()
	n.url, n.copies, n.concurrent, n.tamper, n.off = o.NotifyURL, opts.Copies, opts.Concurrent, opts.Tamper, opts.NoNotify
	n.v3Fault = opts.V3Fault
	if !opts.NoNotify && !f.notify.drop[o.OutTradeNo] {
		var body []byte
		if o.APIv3 {
			body = f.v3NotificationBody(o)
		} else {
			body = f.notificationBody(o)
		}
		f.scheduleLocked(0, func() { f.deliver(n, body, 1) })
	}
	return &snap, nil
}

// notificationBody builds the signed notification of a paid order.
func (f *Fake) notificationBody(o *order) []byte {
	p := o.paidFields()
	p["return_code"] = "SUCCESS"
	p["return_msg"] = "OK"
	p["appid"] = f.cfg.AppID
	p["mch_id"] = f.cfg.MchID
	p["nonce_str"] = randAlnum(32)
	p["result_code"] = "SUCCESS"
	for k, v := range o.payOpts.Fields {
		if v == "" {
			delete(p, k)
		} else {
			p[k] = v
		}
	}
	delete(p, "sign")
	// WeChat omits sign_type and signs with the order's algorithm.
	p["sign"] = signParams(p, f.key, o.SignType)
	b, err := wxpay.EncodeXML(p)
	if err != nil {
		// Pay checked the caller's Fields, and the fake's own fields are
		// plain text; nothing else could fail to encode.
		panic("wxpaytest: cannot encode a notification: " + err.Error())
	}
	return b
}

func nonEmpty(p wxpay.Params) wxpay.Params {
	out := wxpay.Params{}
	for k, v := range p {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// notifier is the notifications domain: the timers of pending
// deliveries, the orders whose notifications are dropped, and (in each
// [notice]) what every delivery sent and got. Its lock is the innermost:
// taken after the orders' and the refunds'.
type notifier struct {
	mu     sync.Mutex
	closed bool
	timers map[*time.Timer]struct{}
	drop   map[string]bool // out_trade_no whose notifications never go out
	// refundFaults bend v3 refund notifications, by out_refund_no
	// ([Fake.V3RefundNotifyFault]).
	refundFaults map[string]func(attempt int) Fault
	wg           sync.WaitGroup // the timers' functions, running or pending
}

func newNotifier() *notifier {
	return &notifier{timers: make(map[*time.Timer]struct{}), drop: make(map[string]bool),
		refundFaults: make(map[string]func(int) Fault)}
}

func (n *notifier) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// close stops every pending timer; those already running are waited for
// by Fake.Close.
func (n *notifier) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.closed = true
	for t := range n.timers {
		if t.Stop() {
			n.wg.Done() // its function will never run
		}
		delete(n.timers, t)
	}
}

// afterFunc runs fn after d of fake time, unless the fake is closed first.
func (f *Fake) afterFunc(d time.Duration, fn func()) {
	f.notify.mu.Lock()
	defer f.notify.mu.Unlock()
	f.scheduleLocked(d, fn)
}

// scheduleLocked is afterFunc for callers holding f.notify.mu.
func (f *Fake) scheduleLocked(d time.Duration, fn func()) {
	n := f.notify
	if n.closed {
		return
	}
	n.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(f.real(d), func() {
		defer n.wg.Done()
		n.mu.Lock()
		delete(n.timers, t)
		closed := n.closed
		n.mu.Unlock()
		if !closed {
			fn()
		}
	})
	n.timers[t] = struct{}{}
}

// notice is the delivery state of one notification: a payment's or a
// refund's.
type notice struct {
	orderNo    string // out_trade_no; DropNotifications names it
	refundNo   string // out_refund_no of a refund notification, else ""
	url        string
	copies     int
	concurrent bool
	tamper     func(attempt int, body []byte) []byte
	off        bool                    // never deliver (again)
	v3         bool                    // an API v3 notification: signed per attempt, acked by 200/204
	v3Fault    func(attempt int) Fault // PayOptions.V3Fault
	acked      chan struct{}           // closed when an attempt was acknowledged
	ackOnce    bool
	deliveries []Delivery
}

func newNotice(orderNo, refundNo string) *notice {
	return &notice{orderNo: orderNo, refundNo: refundNo, acked: make(chan struct{})}
}

// deliver sends attempt number attempt of n's notification and, unless
// acknowledged, schedules the next.
func (f *Fake) deliver(n *notice, body []byte, attempt int) {
	f.notify.mu.Lock()
	url, tamper, concurrent := n.url, n.tamper, n.concurrent
	copies := max(n.copies, 1)
	drop := n.off || f.notify.drop[n.orderNo]
	v3, v3Fault := n.v3, n.v3Fault
	f.notify.mu.Unlock()
	if drop {
		return
	}
	var hdr http.Header
	signed := body
	if v3 {
		var fl Fault
		if v3Fault != nil {
			fl = v3Fault(attempt)
		}
		if fl.V3TamperCiphertext {
			signed = tamperCiphertext(body)
		}
		h, err := f.v3NotifyHeaders(signed, fl)
		if err != nil {
			f.log.Info("wxpaytest: cannot sign a notification", "out_trade_no", n.orderNo, "err", err)
			return
		}
		hdr = h
	}
	sent := signed
	if tamper != nil {
		sent = tamper(attempt, bytes.Clone(signed))
	}
	acked := make([]bool, copies)
	send := func(c int) {
		d := f.post(url, sent, hdr)
		d.OutTradeNo, d.OutRefundNo, d.Attempt, d.Copy = n.orderNo, n.refundNo, attempt, c+1
		acked[c] = d.Acked
		f.record(n, d)
	}
	if concurrent && copies > 1 {
		var wg sync.WaitGroup
		for c := range copies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				send(c)
			}()
		}
		wg.Wait()
	} else {
		for c := range copies {
			send(c)
		}
	}
	if slices.Contains(acked, true) {
		f.notify.mu.Lock()
		if !n.ackOnce {
			n.ackOnce = true
			close(n.acked)
		}
		f.notify.mu.Unlock()
		return
	}
	sched := NotifySchedule()
	if attempt > len(sched) {
		f.log.Info("wxpaytest: notification abandoned", "out_trade_no", n.orderNo, "out_refund_no", n.refundNo, "attempts", attempt)
		return
	}
	f.afterFunc(sched[attempt-1], func() { f.deliver(n, body, attempt+1) })
}

// post sends one copy of a delivery: a v2 notification (hdr nil), or a
// v3 one with its signed headers.
func (f *Fake) post(url string, body []byte, hdr http.Header) Delivery {
	d := Delivery{At: f.Now(), Body: body}
	req, err := http.NewRequestWithContext(f.ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		d.Err = err
		return d
	}
	if hdr != nil {
		req.Header = hdr.Clone()
		req.Header.Set("User-Agent", "Mozilla/4.0") // what WeChat's notifier sends
		d.Header = hdr.Clone()
	} else {
		req.Header.Set("Content-Type", "text/xml")
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		d.Err = err
		return d
	}
	defer resp.Body.Close()
	d.StatusCode = resp.StatusCode
	d.Reply, d.Err = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if hdr != nil {
		// v3: the status alone says received; a body is not needed.
		d.Acked = resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent
		return d
	}
	if p, err := wxpay.DecodeXML(d.Reply); err == nil && p["return_code"] == "SUCCESS" {
		d.Acked = true
	}
	return d
}

func (f *Fake) record(n *notice, d Delivery) {
	f.notify.mu.Lock()
	defer f.notify.mu.Unlock()
	n.deliveries = append(n.deliveries, d)
	f.log.Info("wxpaytest: notification", "out_trade_no", d.OutTradeNo, "out_refund_no", d.OutRefundNo,
		"attempt", d.Attempt, "copy", d.Copy, "status", d.StatusCode, "acked", d.Acked, "err", d.Err)
}

// deliveries copies the attempts made for n.
func (f *Fake) deliveries(n *notice) []Delivery {
	f.notify.mu.Lock()
	defer f.notify.mu.Unlock()
	out := slices.Clone(n.deliveries)
	for i := range out {
		out[i].Body = bytes.Clone(out[i].Body)
		out[i].Reply = bytes.Clone(out[i].Reply)
		out[i].Header = out[i].Header.Clone()
	}
	return out
}

// Deliveries returns every payment notification attempt made for the
// order so far, oldest first. Refund notifications are in
// [Fake.RefundDeliveries].
func (f *Fake) Deliveries(outTradeNo string) []Delivery {
	o := f.orderByNo(outTradeNo)
	if o == nil {
		return nil
	}
	return f.deliveries(o.note)
}

// WaitAcked blocks until a delivery attempt of the order's notification
// was acknowledged (a reply with return_code SUCCESS; every copy of that
// attempt has then been sent, see PayOptions.Copies), ctx ends (ctx's error) or the fake
// is closed (ErrClosed). An unknown order is ErrNoOrder at once.
func (f *Fake) WaitAcked(ctx context.Context, outTradeNo string) error {
	o := f.orderByNo(outTradeNo)
	if o == nil {
		return ErrNoOrder
	}
	return f.waitNotice(ctx, o.note)
}

func (f *Fake) waitNotice(ctx context.Context, n *notice) error {
	select {
	case <-n.acked:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-f.ctx.Done():
		select {
		case <-n.acked:
			return nil
		default:
			return ErrClosed
		}
	}
}

// DropNotifications makes the fake never deliver a notification for the
// order, its payment's or its refunds', now or later, as when WeChat's
// notifications never reach the merchant. Attempts already scheduled are abandoned.
// The order still reads as paid in orderquery.
func (f *Fake) DropNotifications(outTradeNo string) {
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	o := f.orders.byNo[outTradeNo]
	if o != nil {
		o.payOpts.NoNotify = true
	}
	f.notify.mu.Lock()
	defer f.notify.mu.Unlock()
	f.notify.drop[outTradeNo] = true
	if o != nil {
		o.note.off = true
	}
}

// NotificationBody returns a payment notification body for fields,
// signed for cfg as WeChat signs it, for unit tests of a notification
// handler without a server. appid and mch_id default to cfg's,
// return_code and result_code to SUCCESS and nonce_str to a random one;
// every other field is taken as given (WeChat's set is out_trade_no,
// transaction_id, total_fee, cash_fee, openid, trade_type, bank_type,
// time_end and the optional ones of the docs). sign_type is added only if
// fields has it; any sign in fields is replaced.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7
func NotificationBody(cfg Config, fields wxpay.Params) ([]byte, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("wxpaytest: Config.APIKey is required")
	}
	st, err := signTypeOf(cfg)
	if err != nil {
		return nil, err
	}
	p := maps.Clone(fields)
	if p == nil {
		p = wxpay.Params{}
	}
	setDefault := func(k, v string) {
		if _, ok := p[k]; !ok {
			p[k] = v
		}
	}
	setDefault("appid", cfg.AppID)
	setDefault("mch_id", cfg.MchID)
	setDefault("return_code", "SUCCESS")
	setDefault("result_code", "SUCCESS")
	setDefault("nonce_str", randAlnum(32))
	delete(p, "sign")
	p["sign"] = signParams(p, cfg.APIKey, st)
	return wxpay.EncodeXML(p)
}

// signTypeOf is the merchant's algorithm: Config.SignType, MD5 when empty.
func signTypeOf(cfg Config) (wxpay.SignType, error) {
	switch cfg.SignType {
	case "":
		return wxpay.SignMD5, nil
	case wxpay.SignMD5, wxpay.SignHMACSHA256:
		return cfg.SignType, nil
	}
	return "", fmt.Errorf("wxpaytest: unknown Config.SignType %q", string(cfg.SignType))
}
