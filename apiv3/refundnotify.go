package apiv3

import (
	"context"
	"net/http"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// The event types of refund notifications.
const (
	EventRefundSuccess  = "REFUND.SUCCESS"  // the money is back with the payer
	EventRefundAbnormal = "REFUND.ABNORMAL" // the payer's card or account refused it
	EventRefundClosed   = "REFUND.CLOSED"   // the refund was closed
	// originalTypeRefund is resource.original_type of a refund.
	originalTypeRefund = "refund"
)

// ErrNotRefund means a genuine notification (verified and decrypted) is
// not a refund of this client: another event type, a refund of another
// merchant, a refund_status that contradicts the event, or amounts that
// contradict each other. [Client.RefundNotifyHandler] refuses it before
// the application's function sees it. Errors of this kind match it under
// errors.Is and say which check failed.
var ErrNotRefund = wire.NewError("apiv3: ", "not a refund notification for this merchant")

type notRefundError struct{ why string }

func (e *notRefundError) Error() string        { return "apiv3: " + e.Text() }
func (e *notRefundError) Text() string         { return wire.Text(ErrNotRefund) + ": " + e.why }
func (e *notRefundError) Is(target error) bool { return target == ErrNotRefund }

// RefundNotification is a verified REFUND.SUCCESS, REFUND.ABNORMAL or
// REFUND.CLOSED notification of this client's merchant: the event, and
// the refund it carries. Its Status agrees with its EventType.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_11.shtml
type RefundNotification struct {
	// ID is the notification's id, the same across redeliveries.
	ID string
	// CreateTime is when WeChat created the notification.
	CreateTime time.Time
	// EventType is REFUND.SUCCESS, REFUND.ABNORMAL or REFUND.CLOSED.
	EventType string
	// Summary is WeChat's short description ("退款成功"); do not act on it.
	Summary string

	MchID         string       // mchid: always the client's
	OutTradeNo    string       // out_trade_no of the order
	TransactionID string       // transaction_id of the order
	OutRefundNo   string       // out_refund_no of the refund
	RefundID      string       // refund_id, WeChat's refund number
	Status        RefundStatus // refund_status: SUCCESS, ABNORMAL or CLOSED, as EventType says
	// SuccessTime is when the refund succeeded; set for SUCCESS only.
	SuccessTime time.Time
	// UserReceivedAccount describes the receiving account.
	UserReceivedAccount string
	// Amount is the refund's amounts in fen. Compare Refund with the
	// refund you recorded under OutRefundNo before acting.
	Amount RefundNotificationAmount
}

// RefundNotificationAmount is the amounts of a refund notification, in
// fen.
type RefundNotificationAmount struct {
	Total       int64 // total of the order
	Refund      int64 // refunded
	PayerTotal  int64 // what the payer paid
	PayerRefund int64 // what goes back to the payer
}

// refundNotifyJSON is the plaintext of a refund notification.
type refundNotifyJSON struct {
	MchID               string       `json:"mchid"`
	OutTradeNo          string       `json:"out_trade_no"`
	TransactionID       string       `json:"transaction_id"`
	OutRefundNo         string       `json:"out_refund_no"`
	RefundID            string       `json:"refund_id"`
	RefundStatus        RefundStatus `json:"refund_status"`
	SuccessTime         jsonTime     `json:"success_time"`
	UserReceivedAccount string       `json:"user_received_account"`
	Amount              *struct {
		Total       int64 `json:"total"`
		Refund      int64 `json:"refund"`
		PayerTotal  int64 `json:"payer_total"`
		PayerRefund int64 `json:"payer_refund"`
	} `json:"amount"`
}

// RefundNotifyFunc handles one verified refund notification for
// [Client.RefundNotifyHandler]; ctx is the request's context. It must be
// idempotent (WeChat redelivers, sometimes from several servers at
// once; key on OutRefundNo and Status), check that Amount.Refund is the
// refund recorded under OutRefundNo, and return nil only once the
// outcome is durably recorded: an error makes the handler answer 500,
// so WeChat delivers again later.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_11.shtml
type RefundNotifyFunc func(ctx context.Context, n *RefundNotification) error

// RefundNotifyHandler returns the http.Handler to mount at the refund
// notify_url (RefundRequest.NotifyURL, or the URL set in the merchant
// platform), the v3 counterpart of the v2 client's RefundNotifyHandler.
// Each request goes through [Client.ParseNotification]'s checks (POST,
// bounded body, WeChat's signature within five minutes, AES-256-GCM
// under the APIv3 key): a forged, replayed or v2 (XML, unsigned)
// notification fails there. Then, before fn sees it:
//
//   - event_type is REFUND.SUCCESS, REFUND.ABNORMAL or REFUND.CLOSED,
//     resource_type encrypt-resource and resource.original_type refund
//     (an authentic payment notification sent to this URL is refused);
//   - the plaintext decodes with the hardened decoder, and its mchid is
//     Config.MchID: a genuine refund of another merchant is refused;
//   - refund_status is the one the event names (SUCCESS for
//     REFUND.SUCCESS …), with out_refund_no, refund_id, a positive
//     amount.refund not above amount.total, amount.payer_refund not
//     above amount.refund, and success_time for a success.
//
// The answer follows WeChat's v3 contract: 204 with no body after fn
// returned nil, and only then; otherwise a 4xx or 5xx with
// {"code":"FAIL","message":"…"} (a fixed message), so that WeChat
// delivers again: 500 when fn failed, 401 for a signature refused, 400
// for anything else refused, 405 and 413 as [Client.NotificationHandler]
// answers. Refusals are logged at Warn, rate-limited, never with the
// body or the plaintext.
//
// fn must not be nil: RefundNotifyHandler panics, as http.Handle does
// for a nil handler, since that is a programming error found at startup.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_11.shtml,
// https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_3_5.shtml (the answer)
func (c *Client) RefundNotifyHandler(fn RefundNotifyFunc) http.Handler {
	if fn == nil {
		panic("apiv3: RefundNotifyHandler: nil RefundNotifyFunc")
	}
	return newNotifyHandler(c, "notify/refund", c.acceptRefund, fn)
}

// acceptRefund turns a verified notification into a RefundNotification
// of this merchant, or refuses it.
func (c *Client) acceptRefund(n *Notification) (*RefundNotification, error) {
	var want RefundStatus
	switch n.EventType {
	case EventRefundSuccess:
		want = RefundSuccess
	case EventRefundAbnormal:
		want = RefundAbnormal
	case EventRefundClosed:
		want = RefundClosed
	default:
		return nil, &notRefundError{"event_type is not REFUND.SUCCESS, REFUND.ABNORMAL or REFUND.CLOSED"}
	}
	switch {
	case n.ResourceType != ResourceTypeEncrypted:
		return nil, &notRefundError{"resource_type is not " + ResourceTypeEncrypted}
	case n.OriginalType != originalTypeRefund:
		return nil, &notRefundError{"resource.original_type is not " + originalTypeRefund}
	}
	return c.refundFromPlaintext(n, want)
}

// refundFromPlaintext decodes and checks the refund in n's plaintext.
func (c *Client) refundFromPlaintext(n *Notification, want RefundStatus) (*RefundNotification, error) {
	var j refundNotifyJSON
	if err := n.Decode(&j); err != nil {
		return nil, err
	}
	a := j.Amount
	switch {
	case j.MchID != c.mchID:
		return nil, &notRefundError{"mchid is not this client's"}
	case j.RefundStatus != want:
		return nil, &notRefundError{"refund_status does not match event_type"}
	case j.OutRefundNo == "":
		return nil, &notRefundError{"out_refund_no is missing"}
	case j.RefundID == "":
		return nil, &notRefundError{"refund_id is missing"}
	case a == nil:
		return nil, &notRefundError{"amount is missing"}
	case a.Refund <= 0:
		return nil, &notRefundError{"amount.refund is not positive"}
	case a.Total < a.Refund:
		return nil, &notRefundError{"amount.total is less than amount.refund"}
	case a.PayerRefund < 0 || a.PayerRefund > a.Refund:
		return nil, &notRefundError{"amount.payer_refund is negative or more than amount.refund"}
	case a.PayerTotal < 0 || a.PayerTotal > a.Total:
		return nil, &notRefundError{"amount.payer_total is negative or more than amount.total"}
	case want == RefundSuccess && j.SuccessTime.Time().IsZero():
		return nil, &notRefundError{"success_time is missing"}
	}
	return &RefundNotification{
		ID: n.ID, CreateTime: n.CreateTime, EventType: n.EventType, Summary: n.Summary,
		MchID: j.MchID, OutTradeNo: j.OutTradeNo, TransactionID: j.TransactionID,
		OutRefundNo: j.OutRefundNo, RefundID: j.RefundID, Status: j.RefundStatus,
		SuccessTime: j.SuccessTime.Time(), UserReceivedAccount: j.UserReceivedAccount,
		Amount: RefundNotificationAmount{Total: a.Total, Refund: a.Refund, PayerTotal: a.PayerTotal, PayerRefund: a.PayerRefund},
	}, nil
}
