package wxpay

import (
	"context"
	"time"
)

var (
	epMicroPay = endpoint{op: "micropay", path: "/pay/micropay", key: "out_trade_no"}
	// A micropay resubmitted after SYSTEMERROR or a lost answer must
	// carry the same out_trade_no, or the payer is charged twice.
)

// MicroPayRequest charges a payer's payment code (付款码) with
// [Client.MicroPay]: the barcode or QR code the payer shows at the till.
// Zero values are left out of the request.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=9_10
type MicroPayRequest struct {
	// AuthCode is the scanned payment code (auth_code), digits only, at
	// most 128 (today 18, starting 10 to 15). It is single-use and lives
	// about a minute; never log it. Required.
	AuthCode string
	// Body is the goods description. Required, at most 128 bytes, without
	// ",`" or a line break (the trade bill's separators).
	Body string
	// Detail is the optional goods detail as a JSON string.
	Detail string
	// Attach is echoed back; at most 127 bytes, without '&', '=', ",`" or
	// a line break.
	Attach string
	// OutTradeNo is your order number: 1 to 32 characters of
	// [0-9A-Za-z_-|*@]. It is the idempotency key: a resubmission after
	// SYSTEMERROR or an [*OutcomeUnknownError] must reuse it. Required.
	OutTradeNo string
	// TotalFee is the amount in fen. Required, > 0.
	TotalFee int64
	// FeeType is the currency; empty means CNY.
	FeeType FeeType
	// SpbillCreateIP is the till's IPv4 or IPv6 address. Required.
	SpbillCreateIP string
	// GoodsTag is the coupon tag (goods_tag).
	GoodsTag string
	// LimitPay "no_credit" refuses credit cards.
	LimitPay string
	// TimeStart and TimeExpire bound the trade, sent in UTC+8.
	TimeStart, TimeExpire time.Time
	// DeviceInfo is the till's number; it is echoed back, so it may not
	// hold '&', '=', ",`" or a line break.
	DeviceInfo string
	// SceneInfo is the optional store information as a JSON string.
	SceneInfo string
	// Extra adds fields wxpay does not model. It may not name a field set
	// above or one wxpay sets itself; such a request is refused with a
	// [*RequestError].
	Extra Params
}

// MicroPayResponse is a completed payment-code payment. There is no
// payment notification for micropay: this answer (or [Client.OrderQuery]
// after USERPAYING) is the only word on it.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=9_10
type MicroPayResponse struct {
	// Payment is the completed payment: order, amounts in fen, payer.
	Payment
	// Raw holds every non-empty, signed field of the answer.
	Raw Params
}

// MicroPay charges the payer's payment code (付款码支付). A nil error
// means the money was taken. The outcomes that need care arrive as an
// [*Error]:
//   - [ErrCodeUserPaying]: the payer must confirm (enter a password) on
//     the phone. Poll [Client.OrderQuery] every ~10 s until the trade
//     state is SUCCESS or ~45 s have passed, then reverse the order
//     ([Client.ReverseUntilDone], a bounded loop) so that it cannot
//     complete later;
//   - [ErrCodeSystemError] or [ErrCodeBankError], or an
//     [*OutcomeUnknownError]: the result is unknown; query the order
//     (after ~5 s), and reverse it if it did not succeed;
//   - [ErrCodeAuthCodeInvalid], [ErrCodeTradeError], [ErrCodeNotEnough],
//     [ErrCodeOrderPaid], ...: final; show the message to the payer.
//
// The example of MicroPay shows that loop. The answer must echo
// out_trade_no and the amount charged.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=9_10
func (c *Client) MicroPay(ctx context.Context, req *MicroPayRequest) (*MicroPayResponse, error) {
	q, err := microPayRequest(req)
	if err != nil {
		return nil, err
	}
	p, err := c.call(ctx, q)
	if err != nil {
		return nil, err
	}
	r, err := parseMicroPay(p, req)
	if err != nil {
		return nil, q.afterSent(err)
	}
	return r, nil
}

func microPayRequest(r *MicroPayRequest) (*request, error) {
	q := newRequest(epMicroPay)
	if r == nil {
		return nil, q.bad("request", "is nil")
	}
	switch {
	case r.AuthCode == "":
		return nil, q.bad("auth_code", "is required")
	case len(r.AuthCode) > 128 || !digits(r.AuthCode):
		return nil, q.bad("auth_code", "must be up to 128 digits, as scanned from the payer's payment code")
	}
	order := orderFields{
		body: r.Body, attach: r.Attach, detail: r.Detail, sceneInfo: r.SceneInfo, deviceInfo: r.DeviceInfo,
		outTradeNo: r.OutTradeNo, totalFee: r.TotalFee, feeType: r.FeeType, ip: r.SpbillCreateIP,
		goodsTag: r.GoodsTag, limitPay: r.LimitPay, timeStart: r.TimeStart, timeExpire: r.TimeExpire,
	}
	if err := checkOrder(q, order); err != nil {
		return nil, err
	}
	q.set("auth_code", r.AuthCode)
	order.set(q)
	if err := q.extra(r.Extra); err != nil {
		return nil, err
	}
	return q, nil
}

// parseMicroPay maps a verified success: the payment must name the order
// and the amount asked for.
func parseMicroPay(p Params, req *MicroPayRequest) (*MicroPayResponse, error) {
	if err := echoes(p, "out_trade_no", req.OutTradeNo); err != nil {
		return nil, err
	}
	pay, err := parsePayment(p, "out_trade_no", "transaction_id", "total_fee")
	if err != nil {
		return nil, err
	}
	if pay.TotalFee != req.TotalFee {
		return nil, fieldErr("total_fee", errEcho)
	}
	return &MicroPayResponse{Payment: pay, Raw: p}, nil
}
