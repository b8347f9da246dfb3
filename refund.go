package wxpay

import (
	"context"
	"strconv"
	"unicode/utf8"

	"github.com/wxpay-go/wxpay/internal/wire"
)

var epRefund = endpoint{op: "refund", path: "/secapi/pay/refund", cert: true, key: "out_refund_no"}

// Where a refund is paid from (refund_account).
const (
	// RefundFromUnsettled pays the refund from unsettled funds, WeChat's
	// default.
	RefundFromUnsettled = "REFUND_SOURCE_UNSETTLED_FUNDS"
	// RefundFromRecharge pays it from the available balance (merchants
	// on the old fund flow).
	RefundFromRecharge = "REFUND_SOURCE_RECHARGE_FUNDS"
)

// RefundRequest asks WeChat to refund (part of) a paid order with
// [Client.Refund].
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_4
type RefundRequest struct {
	// TransactionID (WeChat's order number) or OutTradeNo names the paid
	// order; one is required. With both, WeChat prefers transaction_id;
	// both are sent and the answer must echo both.
	TransactionID string
	// OutTradeNo is the out_trade_no given to [Client.UnifiedOrder] or
	// [Client.MicroPay]; see TransactionID.
	OutTradeNo string
	// OutRefundNo is your refund number, 1 to 64 characters of
	// [0-9A-Za-z_-|*@], unique within the merchant. It is the
	// idempotency key: WeChat refunds a given OutRefundNo at most once,
	// and answers a repeat with the first outcome. Several partial
	// refunds of one order need several numbers (at most 50 per order).
	// Required.
	OutRefundNo string
	// TotalFee is the amount of the original order, in fen; it must be
	// what was paid. Required.
	TotalFee int64
	// RefundFee is the amount to refund, in fen: more than 0 and at most
	// TotalFee (and WeChat refuses more than what is left unrefunded).
	// Required.
	RefundFee int64
	// RefundFeeType is refund_fee_type; empty means CNY.
	RefundFeeType FeeType
	// RefundDesc is shown to the payer in the refund message, at most 80
	// characters.
	RefundDesc string
	// RefundAccount is [RefundFromUnsettled] (the default when empty) or
	// [RefundFromRecharge].
	RefundAccount string
	// NotifyURL is where WeChat sends the refund result notification
	// (see [Client.RefundNotifyHandler]); empty uses the URL set in the
	// merchant platform, if any. Config.NotifyURL is for payments and is
	// not used here.
	NotifyURL string
	// Extra adds fields wxpay does not model. It may not name a field set
	// above or one wxpay sets itself; such a request is refused with a
	// [*RequestError].
	Extra Params
}

// RefundResponse is WeChat's acceptance of a refund. It means the refund
// was accepted, not that the money is back: that arrives as a refund
// notification, or is seen with [Client.RefundQuery].
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_4
type RefundResponse struct {
	TransactionID string  // transaction_id of the order
	OutTradeNo    string  // out_trade_no of the order
	OutRefundNo   string  // out_refund_no, as requested
	RefundID      string  // refund_id: WeChat's refund number
	RefundFee     int64   // refund_fee in fen, as requested
	TotalFee      int64   // total_fee of the order, in fen
	FeeType       FeeType // fee_type, the currency of the amounts; empty means CNY
	// SettlementRefundFee is refund_fee less non-pre-funded coupons.
	SettlementRefundFee NullFen
	// SettlementTotalFee is total_fee less non-pre-funded coupons.
	SettlementTotalFee NullFen
	CashFee            NullFen // cash_fee of the order
	CashRefundFee      NullFen // cash_refund_fee: the cash part of this refund
	CouponRefundFee    NullFen // coupon_refund_fee: the coupon part
	// Coupons lists coupon_refund_id_$n, coupon_type_$n and
	// coupon_refund_fee_$n.
	Coupons []CouponRefund
	// Unparsed names informational fields that were present but
	// malformed; see [Payment.Unparsed].
	Unparsed []string
	// Raw holds every non-empty, signed field of the answer.
	Raw Params
}

// CouponRefund is one coupon's share of a refund.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_4
type CouponRefund struct {
	ID   string     // coupon_refund_id
	Type CouponType // coupon_type; may be empty, WeChat omits it at times
	Fee  int64      // coupon_refund_fee, in fen
}

// Refund asks WeChat to refund a paid order (申请退款). It needs the
// merchant's client certificate ([WithClientCertificate]); without one it
// fails with a [*RequestError] before any I/O, as it does for a request
// that breaks a rule (such as a RefundFee of 0 or above TotalFee).
//
// Refunds are made safe to retry by OutRefundNo: WeChat refunds one
// number once. When the outcome is unclear, call again with the same
// OutRefundNo and the same amounts, never a new number:
//   - an [*Error] with [ErrCodeSystemError] or [ErrCodeBizErrNeedRetry]
//     ([Error.Retryable] is true, and the error text says to reuse
//     out_refund_no);
//   - an [*OutcomeUnknownError]: the request may have reached WeChat
//     but the answer was lost (a timeout, a reset connection).
//
// [Retryable] tells both apart from final refusals ([ErrCodeNotEnough],
// [ErrCodeTradeOverdue], [ErrCodeUserAccountAbnormal], ...). A success
// means accepted: the money moves later (within minutes to the balance,
// days to a bank card); confirm with [Client.RefundQuery] or a refund
// notification. WeChat also wants at least a minute between two refunds
// of one order.
//
// The answer must echo the order and out_refund_no asked for and the
// amount requested; otherwise the call fails with a [*FieldError].
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_4
func (c *Client) Refund(ctx context.Context, req *RefundRequest) (*RefundResponse, error) {
	q, err := refundRequest(req)
	if err != nil {
		return nil, err
	}
	p, err := c.call(ctx, q)
	if err != nil {
		return nil, err
	}
	r, err := parseRefund(p, req)
	if err != nil {
		return nil, q.afterSent(err)
	}
	return r, nil
}

// refundRequest validates r and lists its wire fields.
func refundRequest(r *RefundRequest) (*request, error) {
	q := newRequest(epRefund)
	if r == nil {
		return nil, q.bad("request", "is nil")
	}
	if err := checkOrderIDs(q, r.TransactionID, r.OutTradeNo); err != nil {
		return nil, err
	}
	if err := checkNo(q, "out_refund_no", r.OutRefundNo, 64); err != nil {
		return nil, err
	}
	switch {
	case r.TotalFee <= 0:
		return nil, q.bad("total_fee", "must be the order's amount, a positive number of fen")
	case r.RefundFee <= 0:
		return nil, q.bad("refund_fee", "must be a positive number of fen")
	case r.RefundFee > r.TotalFee:
		return nil, q.bad("refund_fee", "is more than total_fee")
	case utf8.RuneCountInString(r.RefundDesc) > 80:
		return nil, q.bad("refund_desc", "is longer than 80 characters")
	case len(r.RefundFeeType) > 8:
		return nil, q.bad("refund_fee_type", "is longer than 8 characters")
	case r.NotifyURL != "" && checkNotifyURL(r.NotifyURL) != nil:
		return nil, q.bad("notify_url", "must be an absolute http(s) URL of at most 256 bytes without query")
	}
	switch r.RefundAccount {
	case "", RefundFromUnsettled, RefundFromRecharge:
	default:
		return nil, q.bad("refund_account", "must be REFUND_SOURCE_UNSETTLED_FUNDS or REFUND_SOURCE_RECHARGE_FUNDS")
	}
	q.set("transaction_id", r.TransactionID)
	q.set("out_trade_no", r.OutTradeNo)
	q.set("out_refund_no", r.OutRefundNo)
	q.set("total_fee", strconv.FormatInt(r.TotalFee, 10))
	q.set("refund_fee", strconv.FormatInt(r.RefundFee, 10))
	q.set("refund_fee_type", string(r.RefundFeeType))
	q.set("refund_desc", r.RefundDesc)
	q.set("refund_account", r.RefundAccount)
	q.set("notify_url", r.NotifyURL)
	if err := q.extra(r.Extra); err != nil {
		return nil, err
	}
	return q, nil
}

// checkOrderIDs requires one of transaction_id and out_trade_no and
// checks the shape of each given.
func checkOrderIDs(q *request, transactionID, outTradeNo string) error {
	if transactionID == "" && outTradeNo == "" {
		return q.bad("out_trade_no", "or transaction_id is required")
	}
	if transactionID != "" && !validTransactionID(transactionID) {
		return q.bad("transaction_id", "must be 1 to 32 letters or digits")
	}
	if outTradeNo != "" {
		return checkOutTradeNo(q, outTradeNo)
	}
	return nil
}

// checkNo checks a merchant number field (out_refund_no, out_trade_no): 1 to max
// characters of [0-9A-Za-z_-|*@].
func checkNo(q *request, name, s string, max int) error {
	if s == "" {
		return q.bad(name, "is required")
	}
	if len(s) > max {
		return q.bad(name, "is longer than "+strconv.Itoa(max)+" characters")
	}
	if !wire.OfAlnum(s, "_-|*@") {
		return q.bad(name, "may only hold 0-9 A-Z a-z _ - | * @")
	}
	return nil
}

// parseRefund maps a verified refund answer, refusing one about another
// order, another refund number or another amount.
func parseRefund(p Params, req *RefundRequest) (*RefundResponse, error) {
	asked := Params{"out_refund_no": req.OutRefundNo}
	if req.OutTradeNo != "" {
		asked["out_trade_no"] = req.OutTradeNo
	}
	if req.TransactionID != "" {
		asked["transaction_id"] = req.TransactionID
	}
	for _, name := range [...]string{"out_refund_no", "out_trade_no", "transaction_id"} {
		if want := asked[name]; want != "" {
			if err := echoes(p, name, want); err != nil {
				return nil, err
			}
		}
	}
	r := &RefundResponse{
		TransactionID: p["transaction_id"],
		OutTradeNo:    p["out_trade_no"],
		OutRefundNo:   p["out_refund_no"],
		FeeType:       FeeType(p["fee_type"]),
		Raw:           p,
	}
	var err error
	if r.RefundID, err = requiredField(p, "refund_id"); err != nil {
		return nil, err
	}
	if r.RefundFee, err = requiredFen(p, "refund_fee"); err != nil {
		return nil, err
	}
	if r.RefundFee != req.RefundFee {
		return nil, fieldErr("refund_fee", errEcho)
	}
	if r.TotalFee, err = optFen(p, "total_fee"); err != nil {
		return nil, err
	}
	if p["total_fee"] != "" && r.TotalFee != req.TotalFee {
		return nil, fieldErr("total_fee", errEcho)
	}
	r.SettlementRefundFee = nullFen(p, "settlement_refund_fee", &r.Unparsed)
	r.SettlementTotalFee = nullFen(p, "settlement_total_fee", &r.Unparsed)
	r.CashFee = nullFen(p, "cash_fee", &r.Unparsed)
	r.CashRefundFee = nullFen(p, "cash_refund_fee", &r.Unparsed)
	r.CouponRefundFee = nullFen(p, "coupon_refund_fee", &r.Unparsed)
	if r.Coupons, err = parseCouponRefunds(p, "coupon_refund_count", "", len(p)/2); err != nil {
		r.Coupons = nil
		r.Unparsed = append(r.Unparsed, "coupon_refund_count")
	}
	return r, nil
}

// parseCouponRefunds reads count (such as coupon_refund_count_0) and the
// coupons it announces, coupon_refund_id{suffix}_$m etc. for suffix ""
// (refund) or "_$n" (refundquery). The count is bounded by budget (each
// coupon has two required fields, so half the fields left unclaimed), so
// a hostile count can neither allocate beyond the message's size nor,
// over many refunds, add up to more. IDs and fees are
// required; coupon_type is lenient, WeChat omits it at times.
func parseCouponRefunds(p Params, count, suffix string, budget int) ([]CouponRefund, error) {
	raw := p[count]
	if raw == "" {
		return nil, nil
	}
	m, err := parseFen(raw)
	if err != nil {
		return nil, fieldErr(count, err)
	}
	if m > int64(budget) {
		return nil, fieldErr(count, errTooMany)
	}
	if m == 0 {
		return nil, nil
	}
	cs := make([]CouponRefund, m)
	var buf []byte
	for j := range cs {
		buf = strconv.AppendInt(append(append(buf[:0], suffix...), '_'), int64(j), 10)
		idx := string(buf)
		id, err := requiredField(p, "coupon_refund_id"+idx)
		if err != nil {
			return nil, err
		}
		fee, err := requiredFen(p, "coupon_refund_fee"+idx)
		if err != nil {
			return nil, err
		}
		cs[j] = CouponRefund{ID: id, Type: CouponType(p["coupon_type"+idx]), Fee: fee}
	}
	return cs, nil
}
