package apiv3

import (
	"context"
	"net/http"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// The event and resource types of a payment notification.
const (
	// EventTransactionSuccess is the event_type of a payment
	// notification: ordinary payments notify only on success.
	EventTransactionSuccess = "TRANSACTION.SUCCESS"
	// ResourceTypeEncrypted is the resource_type of every encrypted
	// notification.
	ResourceTypeEncrypted = "encrypt-resource"
	// originalTypeTransaction is resource.original_type of a payment.
	originalTypeTransaction = "transaction"
)

// ErrNotPayment means a genuine notification (verified and decrypted) is
// not a payment of this client: another event type or resource type, a
// transaction of another merchant or appid, a state other than SUCCESS,
// or amounts that contradict each other. [Client.NotifyHandler] refuses
// it before the application's function sees it. Errors of this kind match
// it under errors.Is and say which check failed.
var ErrNotPayment = wire.NewError("apiv3: ", "not a payment notification for this merchant")

// notPaymentError is an [ErrNotPayment] saying why.
type notPaymentError struct{ why string }

func (e *notPaymentError) Error() string { return "apiv3: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *notPaymentError) Text() string { return wire.Text(ErrNotPayment) + ": " + e.why }
func (e *notPaymentError) Is(target error) bool {
	return target == ErrNotPayment
}

// PaymentNotification is a verified TRANSACTION.SUCCESS notification:
// the event, and the paid transaction it carries, decoded by the same
// function as a query answer. Its MchID and AppID are the client's, its
// TradeState is SUCCESS, and it has a transaction_id, a positive
// amount.total and a success_time.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012791861
type PaymentNotification struct {
	// ID is the notification's id, the same across redeliveries.
	ID string
	// CreateTime is when WeChat created the notification.
	CreateTime time.Time
	// Summary is WeChat's short description ("支付成功"); do not act on it.
	Summary string
	// Transaction is the payment. Compare Transaction.Amount.Total with
	// the stored order before marking it paid.
	Transaction *Transaction
}

// PaymentFunc handles one verified payment notification for
// [Client.NotifyHandler]; ctx is the request's context. It must be
// idempotent (WeChat redelivers, sometimes from several servers at
// once), check that Transaction.Amount.Total equals the stored order's
// amount, and return nil only once the outcome is durably recorded: an
// error makes the handler answer 500, so WeChat delivers again later.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012791861
type PaymentFunc func(ctx context.Context, n *PaymentNotification) error

// NotifyHandler returns the http.Handler to mount at notify_url for
// payment notifications (TRANSACTION.SUCCESS), the v3 counterpart of the
// v2 client's NotifyHandler. Each request goes through
// [Client.ParseNotification]'s checks (POST, bounded body, WeChat's
// signature within five minutes, AES-256-GCM under the APIv3 key), then
// through these, before fn sees it:
//
//   - event_type is TRANSACTION.SUCCESS, resource_type
//     encrypt-resource and resource.original_type transaction (an
//     authentic refund notification sent to the payment URL is refused,
//     not taken for a payment);
//   - the plaintext decodes as a transaction with the hardened decoder;
//   - its mchid is Config.MchID and its appid Config.AppID: a genuine
//     notification of another merchant or app is refused;
//   - trade_state is SUCCESS, with transaction_id, success_time and a
//     positive amount.total, and amount.payer_total not above
//     amount.total when both are in one currency (a payer abroad pays in
//     payer_currency, which may count more units).
//
// The answer follows WeChat's v3 contract: 204 with no body after fn
// returned nil, and only then; otherwise a 4xx or 5xx with
// {"code":"FAIL","message":"…"} (a fixed message), so that WeChat
// delivers again: 500 when fn failed, 401 for a signature refused, 400
// for anything else refused, 405 and 413 as [Client.NotificationHandler]
// answers. Refusals are logged at Warn, rate-limited, never with the body
// or the plaintext.
//
// NotifyHandler panics if fn is nil or Config.AppID is empty (without an
// appid the check above cannot be made), as http.Handle panics for a nil
// handler: both are programming errors found at startup. A merchant whose
// notify_url receives payments of several appids mounts one client per
// appid, or uses [Client.NotificationHandler] and checks the appid
// itself.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012791861,
// https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_3_5.shtml (the answer)
func (c *Client) NotifyHandler(fn PaymentFunc) http.Handler {
	if fn == nil {
		panic("apiv3: NotifyHandler: nil PaymentFunc")
	}
	if c.appID == "" {
		panic("apiv3: NotifyHandler: Config.AppID is empty; the appid of every payment notification is checked against it")
	}
	return newNotifyHandler(c, "notify/transaction", c.acceptPayment, fn)
}

// acceptPayment turns a verified notification into a PaymentNotification
// of this merchant, or refuses it.
func (c *Client) acceptPayment(n *Notification) (*PaymentNotification, error) {
	switch {
	case n.EventType != EventTransactionSuccess:
		return nil, &notPaymentError{"event_type is not " + EventTransactionSuccess}
	case n.ResourceType != ResourceTypeEncrypted:
		return nil, &notPaymentError{"resource_type is not " + ResourceTypeEncrypted}
	case n.OriginalType != originalTypeTransaction:
		return nil, &notPaymentError{"resource.original_type is not " + originalTypeTransaction}
	}
	t, err := parseTransaction(n.Plaintext)
	if err != nil {
		return nil, err
	}
	if err := c.checkPayment(t); err != nil {
		return nil, err
	}
	return &PaymentNotification{ID: n.ID, CreateTime: n.CreateTime, Summary: n.Summary, Transaction: t}, nil
}

// checkPayment checks a decrypted payment against the client and against
// itself. The comparison of the amount with the merchant's own order is
// the application's (it alone knows the order).
func (c *Client) checkPayment(t *Transaction) error {
	switch {
	case t.MchID != c.mchID:
		return &notPaymentError{"mchid is another merchant's"}
	case t.AppID != c.appID:
		return &notPaymentError{"appid is not Config.AppID"}
	case t.TradeState != TradeSuccess:
		return &notPaymentError{"trade_state is not SUCCESS"}
	case t.SuccessTime.IsZero():
		return &notPaymentError{"success_time is missing"}
	case t.Amount.Total <= 0:
		return &notPaymentError{"amount.total is not positive"}
	case t.Amount.PayerTotal > t.Amount.Total && sameCurrency(t.Amount.Currency, t.Amount.PayerCurrency):
		// Coupons only lower what the payer pays; in one currency the
		// payer cannot have paid more than the order.
		return &notPaymentError{"amount.payer_total exceeds amount.total"}
	}
	return nil
}

// sameCurrency reports whether an amount and a payer amount are in one
// currency; empty means CNY, WeChat's default.
func sameCurrency(a, b Currency) bool {
	if a == "" {
		a = CNY
	}
	if b == "" {
		b = CNY
	}
	return a == b
}
