package wxpay

import (
	"context"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// TradeState is trade_state: where an order stands. Only
// TradeStateSuccess means the payer paid. Bills report the same states
// ([TradeBillRow]). A value WeChat adds later is passed through as it is,
// so a switch over TradeState needs a default case.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_2
type TradeState string

// Trade states reported by [Client.OrderQuery].
const (
	TradeStateSuccess    TradeState = "SUCCESS"    // paid
	TradeStateRefund     TradeState = "REFUND"     // paid, then (partly) refunded
	TradeStateNotPay     TradeState = "NOTPAY"     // not paid yet
	TradeStateClosed     TradeState = "CLOSED"     // closed; it can no longer be paid
	TradeStateRevoked    TradeState = "REVOKED"    // micropay order reversed
	TradeStateUserPaying TradeState = "USERPAYING" // micropay waiting for the payer's password
	TradeStatePayError   TradeState = "PAYERROR"   // payment failed (for example the bank refused)
	TradeStateAccept     TradeState = "ACCEPT"     // received, waiting for the debit
)

// OrderQueryRequest names the order to look up: by WeChat's
// TransactionID or by your OutTradeNo. At least one is required; when both
// are set only TransactionID is sent, since WeChat would prefer it anyway,
// but both are checked: OutTradeNo must be well-formed, and an answer
// about another order than OutTradeNo fails.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_2
type OrderQueryRequest struct {
	// TransactionID is WeChat's order number (transaction_id), up to 32
	// characters.
	TransactionID string
	// OutTradeNo is the out_trade_no given to [Client.UnifiedOrder].
	OutTradeNo string
	// Extra adds fields wxpay does not model (such as sub_mch_id). It may
	// not name a field set above or one wxpay sets itself; such a request
	// is refused with a [*RequestError].
	Extra Params
}

// OrderQueryResponse is the state of an order. WeChat fills in the payment
// details (payer, amounts, coupons, time) only when TradeState is
// [TradeStateSuccess]; in other states they are zero. The payment is the
// embedded [Payment], the same view a [Notification] carries.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_2
type OrderQueryResponse struct {
	TradeState     TradeState // always set; only TradeStateSuccess means paid
	TradeStateDesc string     // human-readable state, in Chinese
	Payment                   // payer, amounts, coupons and time; zero unless paid
	// Raw holds every non-empty field of the answer, all covered by its
	// verified signature, including ones wxpay does not model.
	Raw Params
}

var epOrderQuery = endpoint{op: "orderquery", path: "/pay/orderquery"}

// OrderQuery looks up an order (查询订单). Call it when no notification
// arrived, after an unclear failure (SYSTEMERROR, a timeout), or before
// closing an order. Amounts in the answer are parsed strictly: a malformed
// amount is a [*FieldError], never a silent zero. So is an answer that
// does not name the order asked about: it must echo the OutTradeNo asked
// for and, when a paid order was asked for by TransactionID, that
// TransactionID. An order WeChat does not know is an [*Error] with Code
// [ErrCodeOrderNotExist].
//
// It is safe for concurrent use.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_2
func (c *Client) OrderQuery(ctx context.Context, req *OrderQueryRequest) (*OrderQueryResponse, error) {
	q, err := orderQueryRequest(req)
	if err != nil {
		return nil, err
	}
	resp, err := c.call(ctx, q)
	if err != nil {
		return nil, err
	}
	// The echo is checked against everything the caller asked about, not
	// only what was sent: with both numbers WeChat is asked by
	// transaction_id, and the answer must still be for req.OutTradeNo.
	asked := Params{}
	if req.TransactionID != "" {
		asked["transaction_id"] = req.TransactionID
	}
	if req.OutTradeNo != "" {
		asked["out_trade_no"] = req.OutTradeNo
	}
	r, err := parseOrderQuery(resp, asked)
	if err != nil {
		return nil, &opError{epOrderQuery.op, err}
	}
	return r, nil
}

// orderQueryRequest validates r and lists its wire fields.
func orderQueryRequest(r *OrderQueryRequest) (*request, error) {
	q := newRequest(epOrderQuery)
	if r == nil {
		return nil, q.bad("request", "is nil")
	}
	switch {
	case r.TransactionID != "":
		if !validTransactionID(r.TransactionID) {
			return nil, q.bad("transaction_id", "must be 1 to 32 letters or digits")
		}
		if r.OutTradeNo != "" {
			if err := checkOutTradeNo(q, r.OutTradeNo); err != nil {
				return nil, err
			}
		}
	case r.OutTradeNo == "":
		return nil, q.bad("out_trade_no", "or transaction_id is required")
	default:
		if err := checkOutTradeNo(q, r.OutTradeNo); err != nil {
			return nil, err
		}
	}
	// With both numbers only transaction_id is sent, since WeChat would
	// prefer it anyway; the answer is still checked against both.
	q.set("transaction_id", r.TransactionID)
	if r.TransactionID == "" {
		q.set("out_trade_no", r.OutTradeNo)
	} else {
		q.modeled = append(q.modeled, "out_trade_no")
	}
	if err := q.extra(r.Extra); err != nil {
		return nil, err
	}
	return q, nil
}

// validTransactionID reports WeChat's transaction_id: 1 to 32 ASCII
// letters and digits.
func validTransactionID(s string) bool { return s != "" && len(s) <= 32 && wire.OfAlnum(s, "") }

// parseOrderQuery maps verified answer fields to the response. req is what
// was asked, so that an answer about another order is refused.
func parseOrderQuery(p, req Params) (*OrderQueryResponse, error) {
	if err := checkEcho(p, req); err != nil {
		return nil, err
	}
	ts := TradeState(p["trade_state"])
	if ts == "" {
		return nil, fieldErr("trade_state", ErrMissingField)
	}
	// A paid order without its number and amount cannot be reconciled;
	// refuse it rather than report zero. Other fields are informational.
	required := []string{"out_trade_no"}
	if ts == TradeStateSuccess {
		required = append(required, "transaction_id", "total_fee")
	}
	pay, err := parsePayment(p, required...)
	if err != nil {
		return nil, err
	}
	return &OrderQueryResponse{TradeState: ts, TradeStateDesc: p["trade_state_desc"], Payment: pay, Raw: p}, nil
}

// checkEcho makes sure a verified answer is about the order that was
// asked for. A genuine answer always echoes out_trade_no, and for a paid
// order also transaction_id; when trade_state is not SUCCESS WeChat sends
// back only out_trade_no (the orderquery page, chapter 9_2), so an answer to a query by
// transaction_id can then be matched only by the number it echoes, if any.
// A missing echo is refused like a different one: a signed answer that
// names no order cannot be attributed to this request.
func checkEcho(p, req Params) error {
	if want := req["out_trade_no"]; want != "" {
		if err := echoes(p, "out_trade_no", want); err != nil {
			return err
		}
	}
	if want := req["transaction_id"]; want != "" {
		if TradeState(p["trade_state"]) == TradeStateSuccess || p["transaction_id"] != "" {
			if err := echoes(p, "transaction_id", want); err != nil {
				return err
			}
		}
		if p["out_trade_no"] == "" {
			return fieldErr("out_trade_no", ErrMissingField)
		}
	}
	return nil
}
