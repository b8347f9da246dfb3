package wxpay

import (
	"context"
	"errors"
)

var (
	epReverse = endpoint{op: "reverse", path: "/secapi/pay/reverse", cert: true, key: "out_trade_no"}
)

// ReverseRequest names the micropay order to reverse with
// [Client.Reverse]: by TransactionID or OutTradeNo (one is required; with
// both, WeChat prefers transaction_id and both are sent).
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=9_11
type ReverseRequest struct {
	// TransactionID is transaction_id: WeChat's order number, as the
	// micropay answer or orderquery gave it.
	TransactionID string
	// OutTradeNo is the out_trade_no given to [Client.MicroPay].
	OutTradeNo string
	// Extra adds fields wxpay does not model. It may not name a field set
	// above or one wxpay sets itself; such a request is refused with a
	// [*RequestError].
	Extra Params
}

// ReverseResponse is WeChat's answer to a reversal.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=9_11
type ReverseResponse struct {
	// Recall is recall == "Y": WeChat could not finish the reversal yet
	// and wants it called again (with the same order number). Loop until
	// it is false or the call fails.
	Recall bool
	// Raw holds every non-empty, signed field of the answer.
	Raw Params
}

// Reverse cancels a micropay order (撤销订单): an unpaid one is closed, a
// paid one refunded in full. Use it when [Client.MicroPay] ended without a
// clear result (USERPAYING past its wait, SYSTEMERROR, a lost answer) and
// [Client.OrderQuery] did not show SUCCESS; never sooner than 15 seconds
// after the charge, and only within 7 days. It needs the client
// certificate ([WithClientCertificate]); without one it fails with a
// [*RequestError] before any I/O.
//
// A nil error with Recall set means call again. [ErrCodeSystemError] is
// retryable ([Retryable]) with the same order number.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=9_11
func (c *Client) Reverse(ctx context.Context, req *ReverseRequest) (*ReverseResponse, error) {
	q := newRequest(epReverse)
	if req == nil {
		return nil, q.bad("request", "is nil")
	}
	if err := checkOrderIDs(q, req.TransactionID, req.OutTradeNo); err != nil {
		return nil, err
	}
	q.set("transaction_id", req.TransactionID)
	q.set("out_trade_no", req.OutTradeNo)
	if err := q.extra(req.Extra); err != nil {
		return nil, err
	}
	p, err := c.call(ctx, q)
	if err != nil {
		return nil, err
	}
	switch p["recall"] {
	case "Y", "N":
	case "":
		return nil, q.afterSent(fieldErr("recall", ErrMissingField))
	default:
		return nil, q.afterSent(fieldErr("recall", errRecall))
	}
	return &ReverseResponse{Recall: p["recall"] == "Y", Raw: p}, nil
}

var errRecall = errors.New("wxpay: recall must be Y or N")
