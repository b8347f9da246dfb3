package apiv3

import (
	"context"
	"net/http"
)

// epClose closes an order. Closing twice is harmless, but whether a lost
// answer closed the order is unknown, so an ambiguous failure names the
// out_trade_no to retry (or query) with.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_4_3.shtml
var epClose = endpoint{op: "transactions/close", method: http.MethodPost,
	path: "/v3/pay/transactions/out-trade-no/{out_trade_no}/close", key: "out_trade_no"}

// CloseOrder closes the unpaid order outTradeNo, so that it can no
// longer be paid: POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close
// with {"mchid":"…"}, answered 204 No Content. Close an order the payer
// abandoned before placing a new one for the same purchase (under a new
// out_trade_no); WeChat asks to wait at least five minutes after prepay.
//
// A paid order cannot be closed: WeChat answers an [*Error] with Code
// [ErrCodeOrderPaid] (refund it instead). An ambiguous failure is an
// [*OutcomeUnknownError]; call again, which is safe.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_4_3.shtml
func (c *Client) CloseOrder(ctx context.Context, outTradeNo string) error {
	if err := checkOutTradeNo(epClose.op, outTradeNo); err != nil {
		return err
	}
	r, err := newRequest(epClose, []string{outTradeNo}, nil, struct {
		MchID string `json:"mchid"`
	}{c.mchID})
	if err != nil {
		return err
	}
	_, err = c.call(ctx, r, nil)
	return err
}
