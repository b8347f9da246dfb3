package wxpay

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// MaxNotifyBytes caps the body [Client.NotifyHandler] and
// [Client.RefundNotifyHandler] read. Genuine notifications are one or two
// kilobytes; the cap bounds what a hostile client can make the server
// buffer, since notify_url is public.
const MaxNotifyBytes = 64 << 10

// Notification is a verified payment result notification (支付结果通知).
// Every field comes from a body whose sign matched and whose appid and
// mch_id are the client's. Amounts are in fen (分); an absent optional
// amount is 0.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7
type Notification struct {
	AppID      string // appid, equal to Config.AppID
	MchID      string // mch_id, equal to Config.MchID
	DeviceInfo string // device_info, optional
	OpenID     string // openid of the payer
	// IsSubscribe reports is_subscribe == "Y": the payer follows the
	// merchant's official account.
	IsSubscribe bool
	TradeType   string // trade_type: JSAPI, NATIVE, APP, MWEB, ...
	BankType    string // bank_type, such as CMC or OTHERS
	// TotalFee is the order amount in fen. Compare it with the amount of
	// the stored order before treating the order as paid.
	TotalFee int64
	// SettlementTotalFee is the amount payable after non-pre-funded
	// (NO_CASH) coupons, in fen; 0 when absent.
	SettlementTotalFee int64
	CashFee            int64    // cash_fee: what the payer paid in cash, in fen
	CouponFee          int64    // coupon_fee: the coupons' total, in fen; 0 when absent
	FeeType            string   // fee_type, such as CNY; optional
	CashFeeType        string   // cash_fee_type; optional
	Coupons            []Coupon // from coupon_count and coupon_*_$n, any number
	TransactionID      string   // transaction_id: WeChat's payment number
	OutTradeNo         string   // out_trade_no: the merchant's order number
	Attach             string   // attach, echoed from the order
	// TimeEnd is time_end, when the payment completed (in UTC+8). It is
	// set whenever ResultCode is SUCCESS; a FAIL notification may lack it.
	TimeEnd time.Time
	// ResultCode is the business result, "SUCCESS" or "FAIL"; see
	// [Notification.Paid]. For FAIL, ErrCode and ErrCodeDes say why.
	ResultCode string
	ErrCode    ErrorCode // err_code, set when ResultCode is FAIL
	ErrCodeDes string    // err_code_des, WeChat's description of ErrCode
	// Raw holds every non-empty field of the body, including sign and
	// fields this package does not model (promotion_detail, sub_mch_id,
	// ...). All of them were covered by the verified signature; empty
	// fields, which the signature does not cover, are dropped.
	Raw Params
}

// Paid reports whether the notification says the payment succeeded
// (result_code SUCCESS). A notification that is not Paid must not mark an
// order as paid, however genuine it is.
func (n *Notification) Paid() bool { return n.ResultCode == "SUCCESS" }

// errTradeState is the cause when a signed body carries a trade_state other
// than SUCCESS: notifications are sent for successful payments only and
// carry no trade_state, but an orderquery answer does, and a replayed answer
// for an unpaid order must not pass for a payment.
var errTradeState = errors.New("wxpay: trade_state is not SUCCESS: not a payment notification")

// ParseNotification verifies and decodes the body of a payment result
// notification. It takes bytes rather than an *http.Request so that it
// also serves notifications taken from a queue; [Client.NotifyHandler]
// wraps it for HTTP.
//
// The checks run in this order, and nothing is decoded into a
// [Notification] before all of them pass:
//
//  1. the body is decoded by [DecodeXML], which refuses DOCTYPEs,
//     duplicate fields, nesting and oversized input ([*XMLError]);
//  2. return_code must be SUCCESS; FAIL yields an [*Error] with Op
//     "notify", a missing return_code a [*FieldError];
//  3. the sign must verify over every field received, with the
//     configured algorithm ([ErrMissingSign], [ErrSignature],
//     [ErrSignType] when sign_type names another algorithm);
//  4. appid and mch_id must be the client's ([ErrMerchant]);
//  5. out_trade_no, transaction_id, total_fee, cash_fee and result_code
//     must be present (a [*FieldError] wrapping [ErrMissingField]), and
//     time_end too when result_code is SUCCESS. Any signed message of
//     another kind (JSAPI pay parameters, an API answer) lacks some of
//     them and is refused rather than taken for a payment; so is a body
//     with a trade_state other than SUCCESS, which marks an orderquery
//     answer;
//  6. amounts must be canonical decimal integers: "0100", "+1", "1e2" or
//     " 1" yield a [*FieldError] wrapping [ErrAmount].
//
// A body that passes is genuine and addressed to this merchant, but may be
// a redelivery, and may report a failed payment: see [NotifyFunc] for what
// the caller must still check.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7
func (c *Client) ParseNotification(body []byte) (*Notification, error) {
	p, err := DecodeXML(body)
	if err != nil {
		return nil, err
	}
	if err := checkNotifyReturnCode(p, "notify"); err != nil {
		return nil, err
	}
	if err := c.signer.Verify(p); err != nil {
		return nil, err
	}
	if err := c.checkMerchant(p); err != nil {
		return nil, err
	}
	dropEmpty(p)
	return notificationFrom(p)
}

// checkNotifyReturnCode applies the protocol layer: a message whose return_code
// is FAIL carries no business data (and no sign) and is reported as an
// [*Error].
func checkNotifyReturnCode(p Params, op string) error {
	switch rc := p["return_code"]; rc {
	case "SUCCESS":
		return nil
	case "":
		return fieldErr("return_code", ErrMissingField)
	default:
		return &Error{Op: op, ReturnCode: rc, ReturnMsg: p["return_msg"]}
	}
}

// notificationFrom builds the typed view of a verified notification.
func notificationFrom(p Params) (*Notification, error) {
	n := &Notification{
		AppID:       p["appid"],
		MchID:       p["mch_id"],
		DeviceInfo:  p["device_info"],
		OpenID:      p["openid"],
		IsSubscribe: p["is_subscribe"] == "Y",
		TradeType:   p["trade_type"],
		BankType:    p["bank_type"],
		FeeType:     p["fee_type"],
		CashFeeType: p["cash_fee_type"],
		Attach:      p["attach"],
		ErrCode:     ErrorCode(p["err_code"]),
		ErrCodeDes:  p["err_code_des"],
		Raw:         p,
	}
	var err error
	if n.OutTradeNo, err = requiredField(p, "out_trade_no"); err != nil {
		return nil, err
	}
	if n.TransactionID, err = requiredField(p, "transaction_id"); err != nil {
		return nil, err
	}
	if n.ResultCode, err = requiredField(p, "result_code"); err != nil {
		return nil, err
	}
	if ts, ok := p["trade_state"]; ok && ts != "SUCCESS" {
		return nil, fieldErr("trade_state", errTradeState)
	}
	if n.TotalFee, err = requiredFen(p, "total_fee"); err != nil {
		return nil, err
	}
	if n.CashFee, err = requiredFen(p, "cash_fee"); err != nil {
		return nil, err
	}
	if n.SettlementTotalFee, err = optFen(p, "settlement_total_fee"); err != nil {
		return nil, err
	}
	if n.CouponFee, err = optFen(p, "coupon_fee"); err != nil {
		return nil, err
	}
	if n.Coupons, err = parseCoupons(p); err != nil {
		return nil, err
	}
	if te := p["time_end"]; te != "" || n.Paid() {
		if te == "" {
			return nil, fieldErr("time_end", ErrMissingField)
		}
		if n.TimeEnd, err = parseTime(te); err != nil {
			return nil, fieldErr("time_end", err)
		}
	}
	return n, nil
}

// NotifyFunc handles one verified payment notification for
// [Client.NotifyHandler]. ctx is the request's context.
//
// WeChat redelivers a notification until it receives the SUCCESS reply,
// for about 24 hours and sometimes from several servers at once, so fn
// must:
//
//   - be idempotent: key on TransactionID (or OutTradeNo) and treat a
//     notification for an order already recorded as paid as done;
//   - compare TotalFee with the amount of the stored order before marking
//     it paid, and never mark an order paid on a mismatch;
//   - treat a notification that is not [Notification.Paid]
//     (result_code FAIL) as not paid;
//   - return nil only once the outcome is durably recorded. Returning an
//     error makes the handler answer FAIL, so WeChat delivers again later.
//
// The error's text is logged but never sent to WeChat.
type NotifyFunc func(ctx context.Context, n *Notification) error

// NotifyHandler returns the http.Handler to mount at notify_url. It does
// the parts of the protocol an application could get wrong, so that fn
// sees only genuine notifications:
//
//   - methods other than POST get 405 with "Allow: POST";
//   - the body is capped at [MaxNotifyBytes] (413 beyond it);
//   - the body must pass [Client.ParseNotification], otherwise the reply
//     is 400;
//   - fn is called only for a body that passed all of the above;
//   - when fn returns nil the reply is 200 with the exact acknowledgement
//     WeChat expects,
//     <xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>;
//   - when fn returns an error the reply is 500 with return_code FAIL, so
//     WeChat retries.
//
// Every reply is text/xml. A FAIL reply carries a fixed generic
// return_msg, never the reason, which is logged to the client's logger
// (see [WithLogger]) without the body or any secret. A verified
// notification with result_code FAIL is still passed to fn.
//
// fn must not be nil: NotifyHandler panics, as http.Handle does for a nil
// handler, since that is a programming error found at startup.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7
func (c *Client) NotifyHandler(fn NotifyFunc) http.Handler {
	if fn == nil {
		panic("wxpay: NotifyHandler: nil NotifyFunc")
	}
	return &notifyHandler[*Notification]{c: c, op: "notify", parse: c.ParseNotification, fn: fn}
}

// The replies of the notify handlers, byte for byte. WeChat compares
// return_code only; return_msg is fixed so that no internal detail leaks
// to whoever posted the body.
const (
	notifyReplySuccess  = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
	notifyReplyInvalid  = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[invalid notification]]></return_msg></xml>"
	notifyReplyFailed   = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[processing failed]]></return_msg></xml>"
	notifyReplyMethod   = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[method not allowed]]></return_msg></xml>"
	notifyReplyTooLarge = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[body too large]]></return_msg></xml>"
)

// notifyHandler is the HTTP plumbing shared by payment and refund
// notifications: method check, bounded read, parse, callback, reply.
type notifyHandler[T any] struct {
	c     *Client
	op    string // for log records: "notify" or "refundnotify"
	parse func([]byte) (T, error)
	fn    func(context.Context, T) error
}

func (h *notifyHandler[T]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.c.log.LogAttrs(ctx, slog.LevelWarn, "wxpay: notification refused",
			slog.String("op", h.op), slog.String("reason", "method not allowed"))
		writeNotifyReply(w, http.StatusMethodNotAllowed, notifyReplyMethod)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxNotifyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		status, msg := http.StatusBadRequest, notifyReplyInvalid
		if errors.As(err, &tooLarge) {
			status, msg = http.StatusRequestEntityTooLarge, notifyReplyTooLarge
		}
		h.c.log.LogAttrs(ctx, slog.LevelWarn, "wxpay: notification refused",
			slog.String("op", h.op), slog.String("reason", "read body"), slog.String("error", err.Error()))
		writeNotifyReply(w, status, msg)
		return
	}
	v, err := h.parse(body)
	if err != nil {
		// The error names a reason and at most a field name or offset;
		// it never holds the key, the sign or the body.
		h.c.log.LogAttrs(ctx, slog.LevelWarn, "wxpay: notification refused",
			slog.String("op", h.op), slog.String("error", err.Error()))
		writeNotifyReply(w, http.StatusBadRequest, notifyReplyInvalid)
		return
	}
	if err := h.fn(ctx, v); err != nil {
		h.c.log.LogAttrs(ctx, slog.LevelError, "wxpay: notification handler failed; WeChat will redeliver",
			slog.String("op", h.op), slog.String("error", err.Error()))
		writeNotifyReply(w, http.StatusInternalServerError, notifyReplyFailed)
		return
	}
	writeNotifyReply(w, http.StatusOK, notifyReplySuccess)
}

func writeNotifyReply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
