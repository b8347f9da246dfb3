package wxpay

import (
	"context"
	"crypto/aes"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// RefundStatus is refund_status: where a refund ended up, as a refund
// notification and refundquery (refund_status_$n) report it. Only
// [RefundSuccess] means the money went back; [RefundProcessing] is not
// final yet.
//
// WeChat Pay docs (refund notification): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16
// WeChat Pay docs (refundquery): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_5
type RefundStatus string

// Refund states reported by refund notifications.
const (
	RefundSuccess RefundStatus = "SUCCESS"     // the money was returned
	RefundChange  RefundStatus = "CHANGE"      // refund failed abnormally (退款异常); settle it in the merchant platform
	RefundClosed  RefundStatus = "REFUNDCLOSE" // the refund was closed without paying out
)

// refundTimeLayout is the layout of success_time, in UTC+8.
const refundTimeLayout = "2006-01-02 15:04:05"

// RefundNotification is a decrypted refund result notification (退款结果通知).
// Amounts are in fen (分); an absent optional amount is 0.
//
// Refund notifications carry no sign. What vouches for them is that
// req_info decrypted under the key derived from the API key; AES-ECB gives
// confidentiality but no integrity, so for decisions that move money
// confirm the refund with [Client.RefundQuery], which
// [ConfirmWithRefundQuery] does for every notification.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16
type RefundNotification struct {
	AppID         string // appid of the outer message (unauthenticated; see above)
	MchID         string // mch_id of the outer message (unauthenticated; see above)
	TransactionID string // transaction_id of the refunded payment
	OutTradeNo    string // out_trade_no of the refunded order
	RefundID      string // refund_id: WeChat's refund number
	OutRefundNo   string // out_refund_no: the merchant's refund number
	TotalFee      int64  // total_fee: the order amount, in fen
	// SettlementTotalFee is the order amount after non-pre-funded
	// coupons, in fen; 0 when absent.
	SettlementTotalFee int64
	RefundFee          int64 // refund_fee: the amount requested, in fen
	// SettlementRefundFee is the amount refunded excluding non-pre-funded
	// coupons, in fen; 0 when absent.
	SettlementRefundFee int64
	// RefundStatus is refund_status. Values other than the RefundXxx
	// constants are passed through as they are.
	RefundStatus RefundStatus
	// SuccessTime is success_time (UTC+8); zero when absent, as it is
	// unless the refund succeeded.
	SuccessTime time.Time
	// RefundRecvAccount is refund_recv_accout (sic): where the money went,
	// such as "支付用户零钱" or a bank card.
	RefundRecvAccount string
	// RefundAccount is refund_account: REFUND_SOURCE_RECHARGE_FUNDS or
	// REFUND_SOURCE_UNSETTLED_FUNDS.
	RefundAccount string
	// RefundRequestSource is refund_request_source: API or VENDOR_PLATFORM.
	RefundRequestSource string
	// CashRefundFee is cash_refund_fee in fen; 0 when absent, as it is in
	// WeChat's own samples.
	CashRefundFee int64
	// Confirmed is true when [ConfirmWithRefundQuery] checked this
	// notification against refundquery. Every field is then WeChat's
	// signed word, not only the ECB ciphertext's: the ones refundquery
	// returns agree with it (its values fill any the notification left
	// out), CashRefundFee and RefundRequestSource, which it does not
	// return, are cleared, and Raw holds refundquery's signed answer.
	Confirmed bool
	// Raw holds every field of the decrypted req_info.
	Raw Params
	// Outer holds the fields of the outer message (return_code, appid,
	// mch_id, nonce_str, ...), none of which is authenticated: the outer
	// message carries no sign. req_info is left out: it is the ciphertext,
	// which anyone who obtains it can replay, so it should not travel on
	// into logs or queues.
	Outer Params
}

// ParseRefundNotification decodes and decrypts the body of a refund
// result notification. Like [Client.ParseNotification] it takes bytes, so
// it also serves notifications taken from a queue; see
// [Client.RefundNotifyHandler] for HTTP.
//
// The outer message is decoded by [DecodeXML]; return_code must be SUCCESS
// (FAIL yields an [*Error] with Op "refundnotify"); appid and mch_id must
// be the client's ([ErrMerchant] otherwise: a routing check, not
// authentication, since the outer message is unsigned); req_info must be
// present ([*FieldError] wrapping [ErrMissingField]). req_info is then base64-decoded and
// decrypted with AES-256-ECB under the lowercase hex MD5 of the API key,
// as WeChat specifies; every failure of that step is [ErrDecrypt]. The
// plaintext must be a flat <root> document ([*XMLError] otherwise,
// DOCTYPEs included) holding transaction_id, out_trade_no, refund_id,
// out_refund_no, total_fee, refund_fee and refund_status, with amounts
// in canonical decimal ([ErrAmount]).
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16
func (c *Client) ParseRefundNotification(body []byte) (*RefundNotification, error) {
	outer, err := DecodeXML(body)
	if err != nil {
		return nil, &Error{Op: opRefundNotify, Err: err}
	}
	if err := protocolLayer(opRefundNotify, 0, outer); err != nil {
		return nil, err
	}
	n, err := c.openRefund(outer)
	if err != nil {
		return nil, &opError{opRefundNotify, err}
	}
	return n, nil
}

const opRefundNotify = "refundnotify"

// openRefund checks the unsigned outer message's merchant, decrypts
// req_info and builds the typed view.
func (c *Client) openRefund(outer Params) (*RefundNotification, error) {
	if err := c.checkMerchant(outer); err != nil {
		return nil, err
	}
	enc, err := requiredField(outer, "req_info")
	if err != nil {
		return nil, err
	}
	plain, err := decryptReqInfo(c.refundKey.Open()[:], enc)
	if err != nil {
		return nil, err
	}
	p, err := decodeXML(plain, "root")
	if err != nil {
		return nil, err
	}
	delete(outer, "req_info")
	return refundNotificationFrom(outer, p)
}

// refundNotificationFrom builds the typed view of a decrypted req_info.
func refundNotificationFrom(outer, p Params) (*RefundNotification, error) {
	n := &RefundNotification{
		AppID:               outer["appid"],
		MchID:               outer["mch_id"],
		RefundRecvAccount:   p["refund_recv_accout"],
		RefundAccount:       p["refund_account"],
		RefundRequestSource: p["refund_request_source"],
		Raw:                 p,
		Outer:               outer,
	}
	var err error
	for _, f := range [...]struct {
		dst  *string
		name string
	}{
		{&n.TransactionID, "transaction_id"},
		{&n.OutTradeNo, "out_trade_no"},
		{&n.RefundID, "refund_id"},
		{&n.OutRefundNo, "out_refund_no"},
	} {
		if *f.dst, err = requiredField(p, f.name); err != nil {
			return nil, err
		}
	}
	st, err := requiredField(p, "refund_status")
	if err != nil {
		return nil, err
	}
	n.RefundStatus = RefundStatus(st)
	if n.TotalFee, err = requiredFen(p, "total_fee"); err != nil {
		return nil, err
	}
	if n.RefundFee, err = requiredFen(p, "refund_fee"); err != nil {
		return nil, err
	}
	for _, f := range [...]struct {
		dst  *int64
		name string
	}{
		{&n.SettlementTotalFee, "settlement_total_fee"},
		{&n.SettlementRefundFee, "settlement_refund_fee"},
		{&n.CashRefundFee, "cash_refund_fee"},
	} {
		if *f.dst, err = optFen(p, f.name); err != nil {
			return nil, err
		}
	}
	if s := p["success_time"]; s != "" {
		if len(s) != len(refundTimeLayout) {
			return nil, fieldErr("success_time", errRefundTime)
		}
		if n.SuccessTime, err = time.ParseInLocation(refundTimeLayout, s, beijing); err != nil {
			return nil, fieldErr("success_time", errRefundTime)
		}
	}
	return n, nil
}

var errRefundTime = wire.NewError("wxpay: ", "time must be yyyy-MM-dd HH:mm:ss")

// decryptReqInfo decodes base64 req_info and decrypts it with AES-ECB
// under key, removing PKCS#7 padding. Every failure is ErrDecrypt.
func decryptReqInfo(key []byte, s string) ([]byte, error) {
	// base64 decoders skip CR and LF even in strict mode; WeChat never
	// sends them, so they are refused rather than silently dropped.
	if strings.ContainsAny(s, "\r\n") {
		return nil, ErrDecrypt
	}
	ct, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, ErrDecrypt
	}
	return decryptECB(key, ct)
}

// decryptECB decrypts ct with AES in ECB mode (each block on its own, as
// WeChat does) and strips PKCS#7 padding. The padding is checked in
// constant time and every failure is the same ErrDecrypt.
func decryptECB(key, ct []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, ErrDecrypt
	}
	const bs = aes.BlockSize
	if len(ct) == 0 || len(ct)%bs != 0 {
		return nil, ErrDecrypt
	}
	pt := make([]byte, len(ct))
	for i := 0; i < len(ct); i += bs {
		block.Decrypt(pt[i:i+bs], ct[i:i+bs])
	}
	n, ok := wire.UnpadPKCS7(pt, bs)
	if !ok {
		return nil, ErrDecrypt
	}
	return pt[:n], nil
}

// RefundNotifyFunc handles one decrypted refund notification for
// [Client.RefundNotifyHandler]. ctx is the request's context.
//
// The duties are those of [NotifyFunc]: WeChat redelivers until it gets
// the SUCCESS reply, so fn must be idempotent (key on OutRefundNo or
// RefundID), must act on RefundStatus (only [RefundSuccess] means the
// money went back), should check RefundFee against the refund it
// requested, and must return nil only once the outcome is durably
// recorded; an error makes WeChat deliver again later.
//
// Unlike a payment notification, a refund notification is not signed:
// only the AES-ECB encryption of req_info vouches for it, and ECB lets
// whoever holds a genuine req_info (from a log, say) replay it or
// reorder its blocks. The outer appid and mch_id are not authenticated
// at all. So treat it as a prompt, not proof: before an irreversible
// action (releasing goods, notifying a customer that money is back),
// confirm the refund's state with [Client.RefundQuery]; the handler
// [Client.RefundNotifyHandler] does it before fn runs unless mounted with
// [SkipRefundQuery].
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16
type RefundNotifyFunc func(ctx context.Context, n *RefundNotification) error

// RefundNotifyHandler returns the http.Handler to mount at the refund
// notify_url. It follows the contract of [Client.NotifyHandler] (POST
// only, body capped at [MaxNotifyBytes], fn called only for a body that
// passes [Client.ParseRefundNotification], the same replies and status
// codes), and panics if fn is nil.
//
// By default it confirms each decrypted notification with
// [Client.RefundQuery] before fn runs (see [ConfirmWithRefundQuery] for
// what is compared): a refund notification is not signed, and its
// AES-ECB encryption lets a relay replay or splice blocks of a genuine
// req_info. [SkipRefundQuery] opts out, for a caller that confirms by
// other means.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16
func (c *Client) RefundNotifyHandler(fn RefundNotifyFunc, opts ...RefundNotifyOption) http.Handler {
	if fn == nil {
		panic("wxpay: RefundNotifyHandler: nil RefundNotifyFunc")
	}
	o := refundNotifyOptions{confirm: true}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.confirm {
		inner := fn
		fn = func(ctx context.Context, n *RefundNotification) error {
			if err := c.confirmRefund(ctx, n); err != nil {
				return err
			}
			return inner(ctx, n)
		}
	}
	return newNotifyHandler(c, opRefundNotify, c.ParseRefundNotification, fn)
}

// RefundNotifyOption configures [Client.RefundNotifyHandler].
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16
type RefundNotifyOption func(*refundNotifyOptions)

type refundNotifyOptions struct {
	confirm bool
}

// ConfirmWithRefundQuery describes what the refund notify handler does by
// default, and forces it back on after [SkipRefundQuery]: it confirms each
// decrypted notification with [Client.RefundQuery] (by its out_refund_no)
// before calling the function, which then sees only notifications whose
// every field refundquery also returns (transaction_id, out_trade_no,
// refund_id, refund_fee, refund_status, total_fee and the settlement
// amounts, success time and accounts) agrees with WeChat's signed answer,
// with Confirmed set (see [RefundNotification.Confirmed]). This is why it
// is the default: AES-ECB lets whoever holds one genuine req_info replay it or splice its
// blocks into another (a spliced block can change out_trade_no cleanly),
// and the outer message has no signature at all.
//
// A notification that disagrees is answered FAIL with an error matching
// [ErrRefundUnconfirmed], and a refundquery that fails (a timeout,
// SYSTEMERROR) FAIL too; WeChat delivers again later. Each notification
// that decrypts costs one refundquery call: only holders of a genuine
// ciphertext can cause one.
//
// WeChat Pay docs (refund notification): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16
// WeChat Pay docs (refundquery): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_5
func ConfirmWithRefundQuery() RefundNotifyOption {
	return func(o *refundNotifyOptions) { o.confirm = true }
}

// SkipRefundQuery makes the refund notify handler call the function
// without confirming the notification with [Client.RefundQuery] first:
// fn then sees notifications with Confirmed false, vouched for only by
// the AES-ECB encryption of req_info, which a relay can replay or splice.
// Use it only when fn confirms the refund itself before acting on it (or
// merely records the prompt), or when refundquery calls are not wanted.
//
// WeChat Pay docs (refund notification): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16
func SkipRefundQuery() RefundNotifyOption {
	return func(o *refundNotifyOptions) { o.confirm = false }
}

// confirmRefund checks n against refundquery.
func (c *Client) confirmRefund(ctx context.Context, n *RefundNotification) error {
	r, err := c.RefundQuery(ctx, &RefundQueryRequest{OutRefundNo: n.OutRefundNo})
	if err != nil {
		return &opError{opRefundNotify, &unconfirmed{"refundquery failed: " + wire.Text(err), err}}
	}
	mismatch := func(field string) error {
		return &opError{opRefundNotify, &unconfirmed{field + " differs from refundquery", ErrRefundUnconfirmed}}
	}
	if r.TransactionID != n.TransactionID {
		return mismatch("transaction_id")
	}
	if r.OutTradeNo != n.OutTradeNo {
		return mismatch("out_trade_no")
	}
	for _, ri := range r.Refunds {
		if ri.OutRefundNo != n.OutRefundNo {
			continue
		}
		switch {
		case ri.RefundID != n.RefundID:
			return mismatch("refund_id")
		case ri.RefundFee != n.RefundFee:
			return mismatch("refund_fee")
		case ri.Status != n.RefundStatus:
			return mismatch("refund_status")
		case r.TotalFee != n.TotalFee:
			return mismatch("total_fee")
		case r.SettlementTotalFee.Valid && n.SettlementTotalFee != 0 && r.SettlementTotalFee.Fen != n.SettlementTotalFee:
			return mismatch("settlement_total_fee")
		case ri.SettlementRefundFee.Valid && n.SettlementRefundFee != 0 && ri.SettlementRefundFee.Fen != n.SettlementRefundFee:
			return mismatch("settlement_refund_fee")
		case !ri.SuccessTime.IsZero() && !n.SuccessTime.IsZero() && !ri.SuccessTime.Equal(n.SuccessTime):
			return mismatch("success_time")
		case ri.RecvAccount != "" && n.RefundRecvAccount != "" && ri.RecvAccount != n.RefundRecvAccount:
			return mismatch("refund_recv_accout")
		case ri.Account != "" && n.RefundAccount != "" && ri.Account != n.RefundAccount:
			return mismatch("refund_account")
		}
		// Every field left is now WeChat's signed word: those refundquery
		// returns agree (or are taken from it where the notification left
		// them out), and those it does not return cannot be vouched for,
		// so they are cleared rather than passed on as confirmed.
		n.SettlementTotalFee = r.SettlementTotalFee.Fen
		n.SettlementRefundFee = ri.SettlementRefundFee.Fen
		n.SuccessTime = ri.SuccessTime
		n.RefundRecvAccount = ri.RecvAccount
		n.RefundAccount = ri.Account
		n.CashRefundFee = 0
		n.RefundRequestSource = ""
		n.Raw = r.Raw
		n.Confirmed = true
		return nil
	}
	return mismatch("out_refund_no")
}

// unconfirmed is a confirmation failure: why, and the cause (the
// refundquery error, or ErrRefundUnconfirmed).
type unconfirmed struct {
	why string
	err error
}

func (e *unconfirmed) Error() string { return "not confirmed: " + e.why }
func (e *unconfirmed) Unwrap() error { return e.err }
