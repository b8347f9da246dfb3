package wxpay

import "context"

const opCloseOrder = "closeorder"

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
// outTradeNo is validated (1 to 32 characters of [0-9A-Za-z_-|*@]) before
// any network call. It is safe for concurrent use.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_3
func (c *Client) CloseOrder(ctx context.Context, outTradeNo string) error {
	if err := checkOutTradeNo(opCloseOrder, outTradeNo); err != nil {
		return err
	}
	_, err := c.call(ctx, opCloseOrder, pathCloseOrder, Params{"out_trade_no": outTradeNo})
	return err
}
