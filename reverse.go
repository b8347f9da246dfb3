package wxpay

import (
	"context"
	"fmt"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
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
	// and wants it called again (with the same order number), after a
	// pause and a bounded number of times: [Client.ReverseUntilDone] runs
	// that loop.
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
// A nil error with Recall set means call again, which
// [Client.ReverseUntilDone] does within a bound. [ErrCodeSystemError] is
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

var errRecall = wire.NewError("wxpay: ", "recall must be Y or N")

// MaxReverseAttempts bounds [Client.ReverseUntilDone]: the calls it makes
// to reverse one order before it gives up. WeChat asks for a few tries
// with a pause; WeChat's own SDK sample stops recalling after 10. An
// answer that says recall=Y forever (a fault, or an attack on the
// connection) then ends in [ErrReverseIncomplete] instead of a loop that
// never stops.
const MaxReverseAttempts = 10

// DefaultReversePause is the pause of [Client.ReverseUntilDone] between
// calls when none is given.
const DefaultReversePause = time.Second

// ErrReverseIncomplete means WeChat still answered recall=Y (or a
// retryable failure) after [MaxReverseAttempts] calls: the order is
// neither known reversed nor known paid. Query it ([Client.OrderQuery]),
// and reverse it again later (with the same order number) or refund it.
var ErrReverseIncomplete = wire.NewError("wxpay: ", "reverse still incomplete after MaxReverseAttempts calls")

// ReverseUntilDone reverses a micropay order as WeChat asks: it calls
// [Client.Reverse] until the answer no longer says recall=Y, pausing
// between calls (pause; 0 means [DefaultReversePause]), and calling again
// after a retryable failure ([Retryable]: SYSTEMERROR, an outcome lost
// in transit), always with the same order number. It makes at most
// [MaxReverseAttempts] calls and stops as soon as ctx is done.
//
// It returns the final answer (Recall false) on success; a non-retryable
// error as soon as one arrives; ctx's error (wrapped) when ctx ends
// first; and, after the bound, an error matching [ErrReverseIncomplete]
// that wraps the last failure, if any.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=9_11
func (c *Client) ReverseUntilDone(ctx context.Context, req *ReverseRequest, pause time.Duration) (*ReverseResponse, error) {
	if pause <= 0 {
		pause = DefaultReversePause
	}
	var last error
	for attempt := 1; attempt <= MaxReverseAttempts; attempt++ {
		if attempt > 1 {
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, &opError{epReverse.op, ctx.Err()}
			case <-t.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, &opError{epReverse.op, err}
		}
		r, err := c.Reverse(ctx, req)
		switch {
		case err == nil && !r.Recall:
			return r, nil
		case err == nil:
			last = nil
		case ctx.Err() != nil:
			return nil, err
		case !Retryable(err):
			return nil, err
		default:
			last = err
		}
	}
	if last != nil {
		return nil, fmt.Errorf("%w: %w", ErrReverseIncomplete, last)
	}
	return nil, ErrReverseIncomplete
}
