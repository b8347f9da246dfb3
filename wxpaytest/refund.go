package wxpaytest

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/wire"
)

// refundRoutes are the refund endpoints.
var refundRoutes = []route{
	{path: EndpointRefund, proto: protoV2, sandbox: true, cert: true, v2: (*Fake).refund},
	{path: EndpointRefundQuery, proto: protoV2, sandbox: true, v2: (*Fake).refundQuery},
}

// DefaultRefundDelay is how long a refund stays PROCESSING, in the fake's
// time, when Config.RefundDelay is 0. WeChat pays a refund to the payer's
// balance within about 20 minutes, to a bank card within days.
const DefaultRefundDelay = time.Minute

// MaxRefunds is how many refunds WeChat accepts for one order: "每个支付订单
// 的部分退款次数不能超过50次".
const MaxRefunds = 50

// Refund states, as refundquery's refund_status_$n and the refund
// notification's refund_status report them.
const (
	RefundProcessing wxpay.RefundStatus = "PROCESSING"        // accepted, not paid out yet
	RefundSuccess                       = wxpay.RefundSuccess // paid out
	RefundClosed                        = wxpay.RefundClosed  // closed without paying out
	RefundChange                        = wxpay.RefundChange  // failed abnormally (退款异常)
)

// Error codes of the refund, micropay and reverse endpoints that the
// library's committed constants may not name yet; they are WeChat's
// strings.
const (
	codeError             wxpay.ErrorCode = "ERROR"
	codeRefundFeeMismatch wxpay.ErrorCode = "REFUND_FEE_MISMATCH"
	codeTradeOverdue      wxpay.ErrorCode = "TRADE_OVERDUE"
	codeRefundNotExist    wxpay.ErrorCode = "REFUNDNOTEXIST"
	codeParamError        wxpay.ErrorCode = "PARAM_ERROR"
	codeBizErrNeedRetry   wxpay.ErrorCode = "BIZERR_NEED_RETRY"
	codeUserPaying        wxpay.ErrorCode = "USERPAYING"
	codeAuthCodeInvalid   wxpay.ErrorCode = "AUTH_CODE_INVALID"
	codeTradeError        wxpay.ErrorCode = "TRADE_ERROR"
	codeOrderReversed     wxpay.ErrorCode = "ORDERREVERSED"
	codeReverseExpire     wxpay.ErrorCode = "REVERSE_EXPIRE"
)

// Refund is a snapshot of a refund the fake holds. Times are on the fake's
// clock.
type Refund struct {
	// OutRefundNo is the merchant's refund number, the refund's key.
	OutRefundNo string
	// RefundID is WeChat's refund number (refund_id), 29 digits like
	// WeChat's.
	RefundID string
	// OutTradeNo and TransactionID name the refunded order.
	OutTradeNo    string
	TransactionID string
	// TotalFee is the order's amount, in fen.
	TotalFee int64
	// RefundFee is the amount refunded, in fen.
	RefundFee int64
	// SettlementRefundFee is RefundFee less the share of NO_CASH
	// coupons.
	SettlementRefundFee int64
	// CashRefundFee is RefundFee less every coupon's share.
	CashRefundFee int64
	// Coupons are the coupons' shares of this refund (Fee is the share).
	Coupons []wxpay.Coupon
	// Status is RefundProcessing, RefundSuccess, RefundClosed or
	// RefundChange.
	Status wxpay.RefundStatus
	// Account is the request's refund_account (the fund the refund is
	// paid from).
	Account string
	// RecvAccount is where the money went (refund_recv_accout),
	// "支付用户零钱" in the fake.
	RecvAccount string
	// NotifyURL is where the refund notification goes: the request's
	// notify_url, or Config.RefundNotifyURL; "" sends none.
	NotifyURL string
	// CreatedAt is when the refund request was accepted.
	CreatedAt time.Time
	// SuccessTime is when the refund succeeded; zero unless Status is
	// RefundSuccess.
	SuccessTime time.Time
	// Request is the verified refund request, sign included; nil for a
	// refund requested through API v3.
	Request wxpay.Params
	// APIv3 reports that the refund was requested through API v3: its
	// notification is then v3's.
	APIv3 bool
	// V3Request is the JSON body of the v3 refund request as received;
	// nil for a v2 refund.
	V3Request []byte
}

// Refund endpoints: POST, XML.
const (
	// EndpointRefund refunds a paid order; it needs the client
	// certificate:
	// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_4
	EndpointRefund Endpoint = "/secapi/pay/refund"
	// EndpointRefundQuery reads refunds:
	// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_5
	EndpointRefundQuery Endpoint = "/pay/refundquery"
)

// refundBook is the refunds domain, by both refund numbers. Its lock is
// taken after the orders' (a refund reads and marks its order; an
// order's list of refunds is the orders') and before the notifier's. The
// fields of every refund are guarded by it.
type refundBook struct {
	mu   sync.Mutex
	byNo map[string]*refund // by out_refund_no
	byID map[string]*refund // by refund_id
}

func newRefundBook() *refundBook {
	return &refundBook{byNo: make(map[string]*refund), byID: make(map[string]*refund)}
}

// refundByNo is the refund with this out_refund_no, or nil.
func (f *Fake) refundByNo(outRefundNo string) *refund {
	f.refunds.mu.Lock()
	defer f.refunds.mu.Unlock()
	return f.refunds.byNo[outRefundNo]
}

type refund struct {
	Refund
	order    *order
	settleAt time.Time // when a PROCESSING refund succeeds by itself
	note     *notice
	// v3 refunds: placed through API v3, answered and notified in its
	// shapes.
	v3      bool
	v3Funds string // funds_account asked for ("" or AVAILABLE)
}

func (rf *refund) snapshot() Refund {
	s := rf.Refund
	s.Coupons = slices.Clone(rf.Coupons)
	s.Request = maps.Clone(rf.Request)
	s.V3Request = slices.Clone(rf.V3Request)
	return s
}

// Refund returns a snapshot of the refund with this out_refund_no and
// whether the fake knows it.
func (f *Fake) Refund(outRefundNo string) (Refund, bool) {
	f.refunds.mu.Lock()
	defer f.refunds.mu.Unlock()
	rf := f.refunds.byNo[outRefundNo]
	if rf == nil {
		return Refund{}, false
	}
	f.settleDueLocked(rf, f.Now())
	return rf.snapshot(), true
}

// Refunds returns snapshots of the order's refunds, oldest first.
func (f *Fake) Refunds(outTradeNo string) []Refund {
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	o := f.orders.byNo[outTradeNo]
	if o == nil {
		return nil
	}
	f.refunds.mu.Lock()
	defer f.refunds.mu.Unlock()
	now := f.Now()
	out := make([]Refund, len(o.refunds))
	for i, rf := range o.refunds {
		f.settleDueLocked(rf, now)
		out[i] = rf.snapshot()
	}
	return out
}

// ErrNoRefund means no refund has the out_refund_no given.
var ErrNoRefund = errors.New("wxpaytest: no such refund")

// ErrRefundSettled means the refund is no longer PROCESSING.
var ErrRefundSettled = errors.New("wxpaytest: refund already settled")

// SettleRefund ends a PROCESSING refund now with status: RefundSuccess
// ("" means it too), RefundClosed or RefundChange, and sends its refund
// notification. Use it for the outcomes WeChat reaches without the
// merchant (a closed or abnormal refund), or not to wait for
// Config.RefundDelay. A closed refund no longer counts against the
// order's refundable amount.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16
func (f *Fake) SettleRefund(outRefundNo string, status wxpay.RefundStatus) error {
	switch status {
	case "":
		status = RefundSuccess
	case RefundSuccess, RefundClosed, RefundChange:
	default:
		return fmt.Errorf("wxpaytest: SettleRefund: status must be SUCCESS, REFUNDCLOSE or CHANGE, not %q", status)
	}
	f.refunds.mu.Lock()
	defer f.refunds.mu.Unlock()
	rf := f.refunds.byNo[outRefundNo]
	if rf == nil {
		return ErrNoRefund
	}
	now := f.Now()
	f.settleDueLocked(rf, now)
	if rf.Status != RefundProcessing {
		return ErrRefundSettled
	}
	f.settleLocked(rf, now, status)
	return nil
}

// RefundDeliveries returns every refund notification attempt made for
// the refund so far, oldest first.
func (f *Fake) RefundDeliveries(outRefundNo string) []Delivery {
	rf := f.refundByNo(outRefundNo)
	if rf == nil {
		return nil
	}
	return f.deliveries(rf.note)
}

// WaitRefundAcked is [Fake.WaitAcked] for the refund notification of the
// refund with this out_refund_no (ErrNoRefund when there is none).
func (f *Fake) WaitRefundAcked(ctx context.Context, outRefundNo string) error {
	rf := f.refundByNo(outRefundNo)
	if rf == nil {
		return ErrNoRefund
	}
	return f.waitNotice(ctx, rf.note)
}

// validOutRefundNo is WeChat's rule: 1 to 64 characters of
// [0-9A-Za-z_-|*@].
func validOutRefundNo(s string) bool { return validNo(s, 64) }

// checkRefund returns the return_msg for a malformed refund request, or
// "".
func checkRefund(p wxpay.Params) string {
	if msg := checkOrderIDs(p["transaction_id"], p["out_trade_no"]); msg != "" {
		return msg
	}
	for _, k := range []string{"out_refund_no", "total_fee", "refund_fee"} {
		if p[k] == "" {
			return "缺少参数" + k
		}
	}
	total, okT := parseFee(p["total_fee"])
	fee, okR := parseFee(p["refund_fee"])
	switch {
	case !validOutRefundNo(p["out_refund_no"]):
		return "out_refund_no参数格式错误"
	case !okT:
		return "invalid total_fee"
	case !okR || fee > total:
		// What merchants report for a refund_fee above total_fee.
		return "invalid refund_fee"
	case p["refund_fee_type"] != "" && p["refund_fee_type"] != "CNY":
		return "refund_fee_type参数格式错误"
	case utf8.RuneCountInString(p["refund_desc"]) > 80 || !utf8.ValidString(p["refund_desc"]):
		return "refund_desc参数长度有误"
	case p["notify_url"] != "" && !validNotifyURL(p["notify_url"]):
		return "invalid notify_url"
	}
	switch p["refund_account"] {
	case "", "REFUND_SOURCE_UNSETTLED_FUNDS", "REFUND_SOURCE_RECHARGE_FUNDS":
	default:
		return "refund_account参数格式错误"
	}
	return ""
}

// refund answers /secapi/pay/refund with WeChat's rules: only a paid
// order, total_fee its amount, refunds bounded by what is left, at most
// MaxRefunds, and out_refund_no the idempotency key.
func (f *Fake) refund(p wxpay.Params) answer {
	if msg := checkRefund(p); msg != "" {
		return protocolFail(msg)
	}
	total, _ := parseFee(p["total_fee"])
	fee, _ := parseFee(p["refund_fee"])
	now := f.Now()
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	f.refunds.mu.Lock()
	defer f.refunds.mu.Unlock()
	o := f.orders.findLocked(p["transaction_id"], p["out_trade_no"])
	if o == nil {
		return f.bizFail(wxpay.ErrCodeOrderNotExist, "")
	}
	if prev := f.refunds.byNo[p["out_refund_no"]]; prev != nil {
		// The same out_refund_no is the same refund: answered again,
		// never made twice.
		switch {
		case prev.order != o:
			return f.bizFail(wxpay.ErrCodeInvalidRequest, "out_refund_no已被其他订单使用")
		case prev.TotalFee != total || prev.RefundFee != fee:
			return f.bizFail(codeRefundFeeMismatch, "")
		}
		f.settleDueLocked(prev, now)
		return f.bizOK(f.refundFields(prev))
	}
	switch o.state(now) {
	case StateSuccess, StateRefund:
	default:
		return f.bizFail(wxpay.ErrCodeOrderNotExist, "订单不存在或订单状态不允许退款")
	}
	if total != o.TotalFee {
		return f.bizFail(codeRefundFeeMismatch, "")
	}
	if now.Sub(o.PaidAt) > 365*24*time.Hour {
		return f.bizFail(codeTradeOverdue, "")
	}
	left := o.TotalFee - o.refundedLocked()
	switch {
	case left == 0:
		return f.bizFail(codeError, "订单已全额退款")
	case fee > left:
		return f.bizFail(wxpay.ErrCodeInvalidRequest, "refund_fee大于可退金额")
	case len(o.refunds) >= MaxRefunds:
		return f.bizFail(codeError, "退款次数超过限制")
	}
	rf := &refund{
		Refund: Refund{
			OutRefundNo:   p["out_refund_no"],
			RefundID:      f.newRefundID(now),
			OutTradeNo:    o.OutTradeNo,
			TransactionID: o.TransactionID,
			TotalFee:      o.TotalFee,
			RefundFee:     fee,
			Status:        RefundProcessing,
			Account:       p["refund_account"],
			RecvAccount:   "支付用户零钱",
			NotifyURL:     p["notify_url"],
			CreatedAt:     now,
			Request:       maps.Clone(p),
		},
		order: o,
		note:  newNotice(o.OutTradeNo, p["out_refund_no"]),
	}
	if rf.Account == "" {
		rf.Account = "REFUND_SOURCE_UNSETTLED_FUNDS"
	}
	if rf.NotifyURL == "" {
		rf.NotifyURL = f.cfg.RefundNotifyURL
	}
	rf.note.url = rf.NotifyURL
	rf.Coupons = o.couponShares(fee, fee == left)
	rf.CashRefundFee, rf.SettlementRefundFee = fee, fee
	for _, c := range rf.Coupons {
		rf.CashRefundFee -= c.Fee
		if c.Type == wxpay.CouponNoCash {
			rf.SettlementRefundFee -= c.Fee
		}
	}
	f.addRefundLocked(o, rf)
	f.startRefundLocked(rf, now)
	return f.bizOK(f.refundFields(rf))
}

// addRefundLocked files rf under its order and its numbers, holding
// both the orders' and the refunds' locks.
func (f *Fake) addRefundLocked(o *order, rf *refund) {
	o.refunds = append(o.refunds, rf)
	o.State = StateRefund
	f.refunds.byNo[rf.OutRefundNo] = rf
	f.refunds.byID[rf.RefundID] = rf
}

// startRefundLocked sets a PROCESSING refund on its way: it succeeds now
// with Config.RefundImmediately, else after Config.RefundDelay. The
// caller holds the refunds' lock.
func (f *Fake) startRefundLocked(rf *refund, now time.Time) {
	if f.cfg.RefundImmediately {
		f.settleLocked(rf, now, RefundSuccess)
		return
	}
	d := f.cfg.RefundDelay
	if d == 0 {
		d = DefaultRefundDelay
	}
	at := now.Add(d)
	rf.settleAt = at
	f.afterFunc(d, func() {
		f.refunds.mu.Lock()
		defer f.refunds.mu.Unlock()
		if rf.settleAt.Equal(at) { // not restarted since (an abnormal refund applied again)
			f.settleDueLocked(rf, at)
		}
	})
}

// refundedLocked is the amount of the order's refunds that are not
// closed.
func (o *order) refundedLocked() int64 {
	var sum int64
	for _, rf := range o.refunds {
		if rf.Status != RefundClosed {
			sum += rf.RefundFee
		}
	}
	return sum
}

// couponShares splits a refund of fee between the order's coupons in
// proportion to their amounts; the last refund (final) takes whatever of
// each coupon is left, so that the shares add up to the coupons.
func (o *order) couponShares(fee int64, final bool) []wxpay.Coupon {
	var out []wxpay.Coupon
	for _, c := range o.Coupons {
		var used int64
		for _, rf := range o.refunds {
			if rf.Status == RefundClosed {
				continue
			}
			for _, s := range rf.Coupons {
				if s.ID == c.ID {
					used += s.Fee
				}
			}
		}
		share := fee * c.Fee / o.TotalFee
		if final || share > c.Fee-used {
			share = c.Fee - used
		}
		if share > 0 {
			out = append(out, wxpay.Coupon{ID: c.ID, Type: c.Type, Fee: share})
		}
	}
	return out
}

// newRefundID mints a 29-digit refund_id like WeChat's ("50" ...).
func (f *Fake) newRefundID(now time.Time) string {
	return fmt.Sprintf("50000%s%s%06d", now.In(beijing).Format("20060102"), randDigits(10), f.seq.Add(1)%1000000)
}

// settleDueLocked lets a PROCESSING refund succeed if its time has come,
// whether or not its timer has fired yet (the fake's clock may be
// Config.Now's).
func (f *Fake) settleDueLocked(rf *refund, now time.Time) {
	if rf.Status == RefundProcessing && !rf.settleAt.IsZero() && !now.Before(rf.settleAt) {
		f.settleLocked(rf, rf.settleAt, RefundSuccess)
	}
}

// settleLocked ends a refund at time at and sends its notification.
func (f *Fake) settleLocked(rf *refund, at time.Time, status wxpay.RefundStatus) {
	if rf.Status != RefundProcessing {
		return
	}
	rf.Status = status
	if status == RefundSuccess {
		rf.SuccessTime = at
	}
	f.notify.mu.Lock()
	defer f.notify.mu.Unlock()
	if rf.NotifyURL == "" || f.notify.drop[rf.OutTradeNo] {
		return
	}
	var body []byte
	if rf.v3 {
		body = f.v3RefundNotificationBody(rf)
	} else {
		body = f.refundNotificationBody(rf)
	}
	n := rf.note
	f.scheduleLocked(0, func() { f.deliver(n, body, 1) })
}

// refundFields are the refund endpoint's answer fields for rf.
func (f *Fake) refundFields(rf *refund) wxpay.Params {
	o := rf.order
	p := wxpay.Params{
		"transaction_id":      rf.TransactionID,
		"out_trade_no":        rf.OutTradeNo,
		"out_refund_no":       rf.OutRefundNo,
		"refund_id":           rf.RefundID,
		"refund_fee":          strconv.FormatInt(rf.RefundFee, 10),
		"total_fee":           strconv.FormatInt(rf.TotalFee, 10),
		"cash_fee":            strconv.FormatInt(o.cashFee(), 10),
		"cash_refund_fee":     strconv.FormatInt(rf.CashRefundFee, 10),
		"coupon_refund_fee":   strconv.FormatInt(rf.RefundFee-rf.CashRefundFee, 10),
		"coupon_refund_count": strconv.Itoa(len(rf.Coupons)),
	}
	if len(o.Coupons) > 0 {
		p["settlement_refund_fee"] = strconv.FormatInt(rf.SettlementRefundFee, 10)
		p["settlement_total_fee"] = strconv.FormatInt(o.settlementTotal(), 10)
	}
	for m, c := range rf.Coupons {
		sfx := "_" + strconv.Itoa(m)
		p["coupon_refund_id"+sfx] = c.ID
		p["coupon_type"+sfx] = string(c.Type)
		p["coupon_refund_fee"+sfx] = strconv.FormatInt(c.Fee, 10)
	}
	return p
}

func (o *order) cashFee() int64 {
	cash := o.TotalFee
	for _, c := range o.Coupons {
		cash -= c.Fee
	}
	return cash
}

func (o *order) settlementTotal() int64 {
	s := o.TotalFee
	for _, c := range o.Coupons {
		if c.Type == wxpay.CouponNoCash {
			s -= c.Fee
		}
	}
	return s
}

const refundTime = "2006-01-02 15:04:05"

// refundNotificationFields are the fields of rf's req_info.
// Called holding the refunds' lock only (a refund settling on its
// timer): it reads of rf's order only what is fixed once the order is
// paid, before any refund of it exists (its amounts and coupons).
func refundNotificationFields(rf *refund) wxpay.Params {
	p := wxpay.Params{
		"out_refund_no":         rf.OutRefundNo,
		"out_trade_no":          rf.OutTradeNo,
		"refund_account":        rf.Account,
		"refund_fee":            strconv.FormatInt(rf.RefundFee, 10),
		"refund_id":             rf.RefundID,
		"refund_recv_accout":    rf.RecvAccount,
		"refund_request_source": "API",
		"refund_status":         string(rf.Status),
		"settlement_refund_fee": strconv.FormatInt(rf.SettlementRefundFee, 10),
		"settlement_total_fee":  strconv.FormatInt(rf.order.settlementTotal(), 10),
		"total_fee":             strconv.FormatInt(rf.TotalFee, 10),
		"transaction_id":        rf.TransactionID,
	}
	if !rf.SuccessTime.IsZero() {
		p["success_time"] = rf.SuccessTime.In(beijing).Format(refundTime)
	}
	return p
}

func (f *Fake) refundNotificationBody(rf *refund) []byte {
	b, err := refundBody(f.cfg.AppID, f.cfg.MchID, f.key, refundNotificationFields(rf))
	if err != nil {
		// The fields are the fake's own: digits, checked numbers and
		// fixed words, which always encode.
		panic("wxpaytest: cannot encode a refund notification: " + err.Error())
	}
	return b
}

// refundBody builds the outer refund notification: unsigned, with
// req_info the encrypted <root> document of fields.
func refundBody(appID, mchID, key string, fields wxpay.Params) ([]byte, error) {
	plain, err := rootXML(fields)
	if err != nil {
		return nil, err
	}
	return wxpay.EncodeXML(wxpay.Params{
		"return_code": "SUCCESS",
		"appid":       appID,
		"mch_id":      mchID,
		"nonce_str":   randAlnum(32),
		"req_info":    encryptReqInfo(key, plain),
	})
}

// rootXML writes fields as WeChat's refund notification sample lays out
// its plaintext: <root>, then one CDATA element per line in name order,
// then </root> and a newline.
func rootXML(fields wxpay.Params) ([]byte, error) {
	names := make([]string, 0, len(fields))
	for k, v := range fields {
		if v == "" {
			continue
		}
		if !wire.ValidName(k) {
			return nil, fmt.Errorf("wxpaytest: field name %q is not an XML name", k)
		}
		if strings.Contains(v, "]]>") || !utf8.ValidString(v) {
			return nil, fmt.Errorf("wxpaytest: field %s cannot be written in CDATA", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString("<root>\n")
	for _, k := range names {
		b.WriteString("<" + k + "><![CDATA[" + fields[k] + "]]></" + k + ">\n")
	}
	b.WriteString("</root>\n")
	return b.Bytes(), nil
}

// encryptReqInfo encrypts plain as WeChat encrypts req_info: AES-256-ECB
// under the 32 ASCII characters of the lowercase hex MD5 of the API key,
// PKCS#7 padding, standard base64. Written from the rule, apart from the
// library's decryption, and checked against the published vectors.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16
func encryptReqInfo(apiKey string, plain []byte) string {
	sum := md5.Sum([]byte(apiKey))
	block, err := aes.NewCipher([]byte(hex.EncodeToString(sum[:])))
	if err != nil {
		panic("wxpaytest: AES-256 with a 32-byte key: " + err.Error()) // cannot happen
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append(slices.Clone(plain), bytes.Repeat([]byte{byte(pad)}, pad)...)
	for i := 0; i < len(buf); i += aes.BlockSize {
		block.Encrypt(buf[i:i+aes.BlockSize], buf[i:i+aes.BlockSize])
	}
	return base64.StdEncoding.EncodeToString(buf)
}

// RefundNotificationBody returns a refund notification body for fields,
// as WeChat sends one, for unit tests of a refund notification handler
// without a server: the outer message (return_code SUCCESS, cfg's appid
// and mch_id, a random nonce_str; no sign, WeChat signs none) carries
// req_info, the fields as a <root> document encrypted with cfg.APIKey.
// WeChat's fields are transaction_id, out_trade_no, refund_id,
// out_refund_no, total_fee, settlement_total_fee, refund_fee,
// settlement_refund_fee, refund_status, success_time (yyyy-MM-dd
// HH:mm:ss), refund_recv_accout, refund_account and
// refund_request_source; they are taken as given, empty ones left out.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16
func RefundNotificationBody(cfg Config, fields wxpay.Params) ([]byte, error) {
	if len(cfg.APIKey) != 32 {
		return nil, errors.New("wxpaytest: Config.APIKey must be 32 characters")
	}
	return refundBody(cfg.AppID, cfg.MchID, cfg.APIKey, fields)
}

// refundQuery answers /pay/refundquery: one refund by refund_id or
// out_refund_no, or an order's refunds ten at a time from offset.
func (f *Fake) refundQuery(p wxpay.Params) answer {
	rid, orn, txn, otn := p["refund_id"], p["out_refund_no"], p["transaction_id"], p["out_trade_no"]
	switch {
	case rid == "" && orn == "" && txn == "" && otn == "":
		return protocolFail("缺少参数out_refund_no")
	case len(rid) > 32:
		return protocolFail("refund_id参数长度有误")
	case orn != "" && !validOutRefundNo(orn):
		return protocolFail("out_refund_no参数格式错误")
	case len(txn) > 32:
		return protocolFail("transaction_id参数长度有误")
	case otn != "" && !validOutTradeNo(otn):
		return protocolFail("out_trade_no参数格式错误")
	}
	offset, offsetGiven := 0, p["offset"] != ""
	if offsetGiven {
		n, err := strconv.Atoi(p["offset"])
		if err != nil || n < 0 || len(p["offset"]) > 9 {
			return f.bizFail(codeParamError, "offset参数错误")
		}
		offset = n
	}
	now := f.Now()
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	f.refunds.mu.Lock()
	defer f.refunds.mu.Unlock()
	var o *order
	var list []*refund
	switch {
	case rid != "" || orn != "":
		// WeChat's priority: refund_id, out_refund_no, transaction_id,
		// out_trade_no.
		rf := f.refunds.byID[rid]
		if rid == "" {
			rf = f.refunds.byNo[orn]
		}
		if rf == nil {
			return f.bizFail(codeRefundNotExist, "")
		}
		o, list = rf.order, []*refund{rf}
	default:
		o = f.orders.findLocked(txn, otn)
		if o == nil || len(o.refunds) == 0 {
			return f.bizFail(codeRefundNotExist, "")
		}
		list = o.refunds
	}
	total := len(list)
	if offset > 0 && offset >= total {
		return f.bizFail(codeParamError, "offset超过退款总笔数")
	}
	list = list[offset:min(offset+10, total)]
	extra := wxpay.Params{
		"transaction_id": o.TransactionID,
		"out_trade_no":   o.OutTradeNo,
		"total_fee":      strconv.FormatInt(o.TotalFee, 10),
		"fee_type":       "CNY",
		"cash_fee":       strconv.FormatInt(o.cashFee(), 10),
		"refund_count":   strconv.Itoa(len(list)),
	}
	if len(o.Coupons) > 0 {
		extra["settlement_total_fee"] = strconv.FormatInt(o.settlementTotal(), 10)
	}
	if offsetGiven || total > 10 {
		extra["total_refund_count"] = strconv.Itoa(total)
	}
	for n, rf := range list {
		f.settleDueLocked(rf, now)
		sfx := "_" + strconv.Itoa(n)
		extra["out_refund_no"+sfx] = rf.OutRefundNo
		extra["refund_id"+sfx] = rf.RefundID
		extra["refund_channel"+sfx] = "ORIGINAL"
		extra["refund_fee"+sfx] = strconv.FormatInt(rf.RefundFee, 10)
		extra["settlement_refund_fee"+sfx] = strconv.FormatInt(rf.SettlementRefundFee, 10)
		extra["refund_status"+sfx] = string(rf.Status)
		extra["refund_account"+sfx] = rf.Account
		extra["refund_recv_accout"+sfx] = rf.RecvAccount
		if !rf.SuccessTime.IsZero() {
			extra["refund_success_time"+sfx] = rf.SuccessTime.In(beijing).Format(refundTime)
		}
		if len(rf.Coupons) > 0 {
			extra["coupon_refund_fee"+sfx] = strconv.FormatInt(rf.RefundFee-rf.CashRefundFee, 10)
			extra["coupon_refund_count"+sfx] = strconv.Itoa(len(rf.Coupons))
			for m, c := range rf.Coupons {
				s2 := sfx + "_" + strconv.Itoa(m)
				extra["coupon_refund_id"+s2] = c.ID
				extra["coupon_type"+s2] = string(c.Type)
				extra["coupon_refund_fee"+s2] = strconv.FormatInt(c.Fee, 10)
			}
		}
	}
	return f.bizOK(extra)
}
