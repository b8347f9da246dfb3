package wxpay

import "context"

var epCloseOrder = endpoint{op: "closeorder", path: "/pay/closeorder"}

// CloseOrderRequest names the order to close with [Client.CloseOrder].
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_3
type CloseOrderRequest struct {
	// OutTradeNo is the out_trade_no given to [Client.UnifiedOrder]:
	// 1 to 32 characters of [0-9A-Za-z_-|*@]. Required.
	OutTradeNo string
	// Extra adds fields wxpay does not model. It may not name a field set
	// above or one wxpay sets itself; such a request is refused with a
	// [*RequestError].
	Extra Params
}

// CloseOrder closes an unpaid order (关闭订单) so that it can no longer
// be paid, for example when it timed out in your system. Place a new order
// under a new out_trade_no afterwards; a closed number cannot be reused.
//
// WeChat refuses to close an order within 5 minutes of its creation, so
// wait at least that long. The answers that need care arrive as an
// [*Error]:
//   - [ErrCodeOrderPaid]: the payer paid meanwhile; treat the order as
//     paid (query it with [Client.OrderQuery]) instead of closing it;
//   - [ErrCodeOrderClosed]: it was already closed; nothing more to do;
//   - [ErrCodeSystemError]: retryable ([Error.Retryable]); call again.
//
// The request is validated before any network call. It is safe for
// concurrent use.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_3
func (c *Client) CloseOrder(ctx context.Context, req *CloseOrderRequest) error {
	q := newRequest(epCloseOrder)
	if req == nil {
		return q.bad("request", "is nil")
	}
	if err := checkOutTradeNo(q, req.OutTradeNo); err != nil {
		return err
	}
	q.set("out_trade_no", req.OutTradeNo)
	if err := q.extra(req.Extra); err != nil {
		return err
	}
	_, err := c.call(ctx, q)
	return err
}
