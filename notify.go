package wxpay

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// MaxNotifyBytes caps the body [Client.NotifyHandler] and
// [Client.RefundNotifyHandler] read. Genuine notifications are one or two
// kilobytes; the cap bounds what a hostile client can make the server
// buffer, since notify_url is public.
const MaxNotifyBytes = 64 << 10

// Notification is a verified payment result notification (支付结果通知).
// Every field comes from a body whose sign matched and whose appid and
// mch_id are the client's. The payment itself is the embedded [Payment],
// the same view [Client.OrderQuery] returns: amounts in fen (分), the
// fields a merchant acts on strict, the others reported as absent when
// WeChat leaves them out.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7
type Notification struct {
	AppID   string // appid, equal to Config.AppID
	MchID   string // mch_id, equal to Config.MchID
	Payment        // the payment: order, amounts in fen, payer, coupons
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

// errNotNotification is the cause when a signed, SUCCESS message for this
// merchant carries a field that only another kind of message has. An
// orderquery answer for an unpaid order, a unifiedorder answer or a refund
// answer is signed with the same key and names out_trade_no, so it must
// not pass for a payment because some field happens to be there.
var errNotNotification = wire.NewError("wxpay: ", "not a payment notification")

// notNotification names the field that marks p as another kind of signed
// message, or returns "". Payment notifications carry none of these; an
// orderquery answer carries trade_state (allowed when SUCCESS: it then
// reports the same payment), unifiedorder answers prepay_id, refund and
// refundquery answers refund_*, reverse answers recall.
func notNotification(p Params) string {
	if ts, ok := p["trade_state"]; ok && ts != string(TradeStateSuccess) {
		return "trade_state"
	}
	for _, k := range [...]string{"prepay_id", "code_url", "mweb_url", "req_info", "recall", "refund_count"} {
		if _, ok := p[k]; ok {
			return k
		}
	}
	for k := range p {
		if strings.HasPrefix(k, "refund_") || strings.HasPrefix(k, "out_refund_no") {
			return k
		}
	}
	return ""
}

// ParseNotification verifies and decodes the body of a payment result
// notification. It takes bytes rather than an *http.Request so that it
// also serves notifications taken from a queue; [Client.NotifyHandler]
// wraps it for HTTP.
//
// The checks run in this order, and nothing is decoded into a
// [Notification] before all of them pass:
//
//  1. the body is decoded by [DecodeXML], which refuses DOCTYPEs,
//     duplicate fields, nesting and oversized input (an [*Error] wrapping
//     an [*XMLError]);
//  2. return_code must be SUCCESS; FAIL yields an [*Error] with Op
//     "notify";
//  3. the sign must verify over every field received, with the
//     configured algorithm ([ErrMissingSign], [ErrSignature],
//     [ErrAmbiguousValue], [ErrSignType]; see [Signer.Verify]);
//  4. appid and mch_id must be the client's ([ErrMerchant]);
//  5. the fields a merchant acts on must be present and well-formed:
//     out_trade_no, transaction_id, total_fee (a canonical decimal
//     integer: "0100", "+1", "1e2" or " 1" are refused) and result_code,
//     as a [*FieldError]. The other fields (cash_fee, bank_type,
//     time_end, coupons, ...) are reported as absent when WeChat leaves
//     them out; see [Payment].
//  6. a signed message of another kind (an orderquery answer for an
//     unpaid order, a unifiedorder or refund answer) is refused by what
//     it carries (trade_state, prepay_id, refund_id, ...).
//
// A body that passes is genuine and addressed to this merchant, but may be
// a redelivery, and may report a failed payment: see [NotifyFunc] for what
// the caller must still check.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7
func (c *Client) ParseNotification(body []byte) (*Notification, error) {
	p, err := c.openMessage(opNotify, 0, body)
	if err != nil {
		return nil, err
	}
	n, err := notificationFrom(p)
	if err != nil {
		return nil, &opError{opNotify, err}
	}
	return n, nil
}

const opNotify = "notify"

// notificationFrom builds the typed view of a verified notification.
func notificationFrom(p Params) (*Notification, error) {
	if k := notNotification(p); k != "" {
		return nil, fieldErr(k, errNotNotification)
	}
	rc, err := requiredField(p, "result_code")
	if err != nil {
		return nil, err
	}
	pay, err := parsePayment(p, "out_trade_no", "transaction_id", "total_fee")
	if err != nil {
		return nil, err
	}
	return &Notification{
		AppID:      p["appid"],
		MchID:      p["mch_id"],
		Payment:    pay,
		ResultCode: rc,
		ErrCode:    ErrorCode(p["err_code"]),
		ErrCodeDes: p["err_code_des"],
		Raw:        p,
	}, nil
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
//
// In service-provider mode (sub_mch_id sent through Extra), out_trade_no
// is unique per sub-merchant only: key on Raw["sub_mch_id"] together with
// OutTradeNo, and check that the sub-merchant is the one the order
// belongs to.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7
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
// return_msg, never the reason. The reason is logged at Warn to the
// client's logger ([WithLogger], by default [slog.Default]) with the
// appid and out_trade_no the body claims, labelled unverified, and never
// the body or any secret; since notify_url is public, these lines are
// rate-limited (a burst of 10, then 10 a minute) and the next line says
// how many were suppressed. A verified notification with result_code FAIL
// is still passed to fn.
//
// fn must not be nil: NotifyHandler panics, as http.Handle does for a nil
// handler, since that is a programming error found at startup.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7
func (c *Client) NotifyHandler(fn NotifyFunc) http.Handler {
	if fn == nil {
		panic("wxpay: NotifyHandler: nil NotifyFunc")
	}
	return newNotifyHandler(c, opNotify, c.ParseNotification, fn)
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

// newNotifyHandler builds the handler of a v2 notification on the
// module's one notify skeleton ([wire.NotifyHandler]): method check, a read
// capped at [MaxNotifyBytes], parse, callback, one XML reply. Refusals are
// logged with the appid and out_trade_no the body claims.
func newNotifyHandler[T any](c *Client, op string, parse func([]byte) (T, error), fn func(context.Context, T) error) *wire.NotifyHandler[T] {
	return &wire.NotifyHandler[T]{
		Prefix: "wxpay: ",
		Op:     op,
		Logger: c.logger,
		Lim:    refusalLimiter{Now: c.now},
		Read: func(w http.ResponseWriter, r *http.Request) ([]byte, bool, error) {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxNotifyBytes))
			var tooLarge *http.MaxBytesError
			return body, errors.As(err, &tooLarge), err
		},
		Parse: func(_ *http.Request, body []byte) (T, int, error) {
			v, err := parse(body)
			return v, http.StatusBadRequest, err
		},
		Fn:               fn,
		MethodReason:     "method not allowed",
		TooLargeReason:   "body too large",
		UnreadableReason: "cannot read body",
		Claims:           claimsOf,
		Success:          http.StatusOK,
		Replies: map[int]string{
			wire.SuccessReply:                notifyReplySuccess,
			http.StatusMethodNotAllowed:      notifyReplyMethod,
			http.StatusRequestEntityTooLarge: notifyReplyTooLarge,
			http.StatusBadRequest:            notifyReplyInvalid,
			http.StatusInternalServerError:   notifyReplyFailed,
		},
		Write: writeNotifyReply,
	}
}

// claimsOf returns what a refused body claims to be (appid,
// out_trade_no), cut short and made printable, under names that say
// nobody vouched for them. Never the body, the sign or anything derived
// from the key. Decoding again costs nothing that matters next to a log
// line, and only what the decoder accepts is shown.
func claimsOf(body []byte) []slog.Attr {
	p, err := DecodeXML(body)
	if err != nil {
		return nil
	}
	var attrs []slog.Attr
	if v := p["appid"]; v != "" {
		attrs = append(attrs, slog.String("unverified_appid", wire.Truncate(v, 32)))
	}
	if v := p["out_trade_no"]; v != "" {
		attrs = append(attrs, slog.String("unverified_out_trade_no", wire.Truncate(v, 32)))
	}
	return attrs
}

// refusalLimiter is the token bucket of refusal log lines, shared with
// apiv3 (see [wire.Limiter]).
type refusalLimiter = wire.Limiter

const (
	refusalBurst = wire.LimiterBurst
	refusalEvery = wire.LimiterEvery
)

func writeNotifyReply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
