package wxpaytest

import (
	"maps"
	"time"

	"github.com/wxpay-go/wxpay"
)

// microRoutes are the payment-code endpoints.
var microRoutes = []route{
	{path: EndpointMicroPay, proto: protoV2, sandbox: true, v2: (*Fake).microPay},
	{path: EndpointReverse, proto: protoV2, sandbox: true, cert: true, v2: (*Fake).reverse, recall: (*Fake).reverseRecall},
}

// PaymentCodeOptions says how the payer behaves when the payment code
// (付款码) that [Fake.PaymentCode] mints is charged with micropay.
type PaymentCodeOptions struct {
	// OpenID is the payer; "" is a new user.
	OpenID string
	// Confirm is how long, in the fake's time, the payer takes to enter
	// the password on the phone. 0 pays at once. Otherwise micropay
	// answers err_code USERPAYING, orderquery reports trade_state
	// USERPAYING until Confirm has passed and SUCCESS afterwards, unless
	// the order is reversed first.
	Confirm time.Duration
	// Decline makes the payer refuse after Confirm: the order ends in
	// PAYERROR instead of SUCCESS.
	Decline bool
}

// Payment-code endpoints: POST, XML.
const (
	// EndpointMicroPay charges a payment code:
	// https://pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=9_10
	EndpointMicroPay Endpoint = "/pay/micropay"
	// EndpointReverse reverses a micropay order; it needs the client
	// certificate:
	// https://pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=9_11
	EndpointReverse Endpoint = "/secapi/pay/reverse"
)

type payCode struct {
	opts PaymentCodeOptions
	used bool
}

// microState is what a micropay order keeps besides its Order.
type microState struct {
	decline bool
}

// ReverseLife is how long after creation WeChat lets a micropay order be
// reversed (7 days).
const ReverseLife = 7 * 24 * time.Hour

// PaymentCode mints the 18-digit payment code a payer's phone shows
// (starting 10 to 15, as WeChat's do) that micropay accepts once and
// charges as opts says. A code the fake did not mint but that has the
// right shape pays at once for a new user, also once.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=9_10
func (f *Fake) PaymentCode(opts PaymentCodeOptions) string {
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	for {
		code := "13" + randDigits(16)
		if f.orders.payCodes[code] == nil {
			f.orders.payCodes[code] = &payCode{opts: opts}
			return code
		}
	}
}

// validAuthCode is the shape of a payment code: 18 digits starting with
// 10 to 15.
func validAuthCode(s string) bool {
	if len(s) != 18 || s[0] != '1' || s[1] < '0' || s[1] > '5' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func checkMicroPay(p wxpay.Params) string {
	if msg := checkPayment(p, "body", "out_trade_no", "total_fee", "spbill_create_ip", "auth_code"); msg != "" {
		return msg
	}
	if len(p["auth_code"]) > 128 {
		return "auth_code参数长度有误"
	}
	if _, ok := parseFee(p["total_fee"]); !ok {
		return "invalid total_fee"
	}
	return ""
}

// microPay answers /pay/micropay: the payment code is charged at once, or
// the payer must confirm first (USERPAYING). A repeat with the same
// out_trade_no and parameters answers the order's current outcome, as
// WeChat's SDK relies on when it resubmits after SYSTEMERROR.
func (f *Fake) microPay(p wxpay.Params) answer {
	if msg := checkMicroPay(p); msg != "" {
		return protocolFail(msg)
	}
	now := f.Now()
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	if o := f.orders.byNo[p["out_trade_no"]]; o != nil {
		if o.micro == nil || !sameOrder(o.Request, p) {
			return f.duplicateOrder()
		}
		return f.microOutcome(o, now)
	}
	code := p["auth_code"]
	pc := f.orders.payCodes[code]
	switch {
	case !validAuthCode(code):
		return f.bizFail(codeAuthCodeInvalid, "")
	case pc == nil:
		pc = &payCode{}
		f.orders.payCodes[code] = pc
	case pc.used:
		return f.bizFail(codeAuthCodeInvalid, "")
	}
	pc.used = true
	fee, _ := parseFee(p["total_fee"])
	openID := pc.opts.OpenID
	if openID == "" {
		openID = newOpenID()
	}
	o := &order{
		Order: Order{
			OutTradeNo: p["out_trade_no"],
			State:      StateSuccess,
			TradeType:  "MICROPAY",
			TotalFee:   fee,
			OpenID:     openID,
			Attach:     p["attach"],
			SignType:   f.signType,
			CreatedAt:  now,
			PaidAt:     now.Add(pc.opts.Confirm),
			Request:    maps.Clone(p),
		},
		prepayAt: now,
		note:     newNotice(p["out_trade_no"], ""),
		micro:    &microState{decline: pc.opts.Decline},
	}
	o.note.off = true // micropay has no payment notification
	if pc.opts.Confirm > 0 {
		o.State = StateUserPaying
	}
	o.TransactionID = f.newTransactionID(now)
	f.orders.byNo[o.OutTradeNo] = o
	f.orders.byTxn[o.TransactionID] = o
	return f.microOutcome(o, now)
}

// microOutcome is micropay's answer for the order's state at now.
func (f *Fake) microOutcome(o *order, now time.Time) answer {
	switch o.state(now) {
	case StateSuccess, StateRefund:
		return f.bizOK(o.paidFields())
	case StateUserPaying:
		return f.bizFail(codeUserPaying, "")
	case StateRevoked:
		return f.bizFail(codeOrderReversed, "")
	case StatePayError:
		return f.bizFail(codeTradeError, "用户取消支付")
	default:
		return f.bizFail(wxpay.ErrCodeOrderClosed, "")
	}
}

// reverse answers /secapi/pay/reverse: the order is closed, or refunded
// in full if paid, and reads REVOKED. Reversing a reversed order succeeds
// again.
func (f *Fake) reverse(p wxpay.Params) answer {
	if msg := checkOrderIDs(p["transaction_id"], p["out_trade_no"]); msg != "" {
		return protocolFail(msg)
	}
	now := f.Now()
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	o := f.orders.findLocked(p["transaction_id"], p["out_trade_no"])
	if o == nil {
		return f.bizFail(wxpay.ErrCodeOrderNotExist, "")
	}
	switch st := o.state(now); {
	case st == StateRevoked:
	case now.Sub(o.CreatedAt) > ReverseLife:
		return f.bizFail(codeReverseExpire, "")
	case st == StateRefund:
		return f.bizFail(codeTradeError, "订单已发生退款，不能撤销")
	default:
		if st != StateSuccess {
			o.PaidAt = time.Time{} // never paid: a late confirmation cannot pay it
		}
		o.State = StateRevoked
	}
	return f.bizOK(wxpay.Params{"recall": "N"})
}

// reverseRecall is reverse's answer under a Recall fault: SUCCESS with
// recall=Y, nothing reversed. A request the fake would refuse anyway is
// refused instead.
func (f *Fake) reverseRecall(p wxpay.Params) answer {
	if msg := checkOrderIDs(p["transaction_id"], p["out_trade_no"]); msg != "" {
		return protocolFail(msg)
	}
	return f.bizOK(wxpay.Params{"recall": "Y"})
}
