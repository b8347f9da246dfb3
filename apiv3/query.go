package apiv3

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// More documented codes of the payment endpoints, beside those in
// errors.go.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_4_3.shtml
const (
	ErrCodeOrderPaid          ErrorCode = "ORDERPAID"             // the order is paid already; nothing to close or place again
	ErrCodeAppIDMchIDNotMatch ErrorCode = "APPID_MCHID_NOT_MATCH" // 400: the appid is not bound to the merchant
	ErrCodeFrequencyLimited   ErrorCode = "FREQUENCY_LIMITED"     // 429: too frequent; retry later with the same parameters
	ErrCodeOpenIDMismatch     ErrorCode = "OPENID_MISMATCH"       // the openid is not of the order's appid
)

// The query endpoints. A query changes nothing, so they have no
// idempotency key: a failure is simply retried.
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/apis/mini-program-payment/query-by-out-trade-no.html
var (
	epQueryByID         = endpoint{op: "transactions/query", method: http.MethodGet, path: "/v3/pay/transactions/id/{transaction_id}"}
	epQueryByOutTradeNo = endpoint{op: "transactions/query", method: http.MethodGet, path: "/v3/pay/transactions/out-trade-no/{out_trade_no}"}
)

// QueryByOutTradeNo returns the order placed under outTradeNo, paid or
// not: GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=….
// It is the only query for an unpaid order. An order WeChat does not
// know is an [*Error] with Code [ErrCodeOrderNotExist].
//
// Query when a notification is late, after a prepay or close whose
// outcome is unknown, and before closing an order.
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/apis/mini-program-payment/query-by-out-trade-no.html
func (c *Client) QueryByOutTradeNo(ctx context.Context, outTradeNo string) (*Transaction, error) {
	if err := checkOutTradeNo(epQueryByOutTradeNo.op, outTradeNo); err != nil {
		return nil, err
	}
	return c.query(ctx, epQueryByOutTradeNo, outTradeNo)
}

// QueryByTransactionID returns the paid order WeChat numbered
// transactionID: GET /v3/pay/transactions/id/{transaction_id}?mchid=….
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012556352
func (c *Client) QueryByTransactionID(ctx context.Context, transactionID string) (*Transaction, error) {
	if err := checkTransactionID(epQueryByID.op, transactionID); err != nil {
		return nil, err
	}
	return c.query(ctx, epQueryByID, transactionID)
}

func (c *Client) query(ctx context.Context, ep endpoint, id string) (*Transaction, error) {
	r, err := newRequest(ep, []string{id}, url.Values{"mchid": {c.mchID}}, nil)
	if err != nil {
		return nil, err
	}
	// The verified body is kept as it is and mapped by parseTransaction,
	// the one decoder of a transaction (the notification uses it too).
	var raw json.RawMessage
	if _, err := c.call(ctx, r, &raw); err != nil {
		return nil, err
	}
	t, err := parseTransaction(raw)
	if err != nil {
		return nil, &opError{ep.op, err}
	}
	if t.MchID != c.mchID {
		return nil, &opError{ep.op, transactionError("is of another merchant (mchid)")}
	}
	// A signed answer about another order (replayed or substituted on
	// the way) must not pass for this one's: its signature covers the
	// body, not the question.
	if ep == epQueryByOutTradeNo && t.OutTradeNo != id || ep == epQueryByID && t.TransactionID != id {
		return nil, &opError{ep.op, transactionError("is about another order than the one asked for")}
	}
	return t, nil
}

// checkTransactionID accepts WeChat's payment numbers: digits and
// letters, at most 32.
func checkTransactionID(op, s string) error {
	if s == "" {
		return &RequestError{Op: op, Field: "transaction_id", Reason: "is required"}
	}
	if len(s) > 32 {
		return &RequestError{Op: op, Field: "transaction_id", Reason: "is longer than 32 characters"}
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !('0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z') {
			return &RequestError{Op: op, Field: "transaction_id", Reason: "may hold only digits and letters"}
		}
	}
	return nil
}
