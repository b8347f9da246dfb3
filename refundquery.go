package wxpay

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

var epRefundQuery = endpoint{op: "refundquery", path: "/pay/refundquery"}

// RefundProcessing is refund_status PROCESSING: accepted, not yet paid
// out. Only refundquery reports it; notifications come at the end.
const RefundProcessing RefundStatus = "PROCESSING"

// errTooMany is the cause when a count announces more entries than the
// message has fields.
var errTooMany = wire.NewError("wxpay: ", "count exceeds the fields present")

// errExtraIndex is the cause when a message holds an indexed field past
// its count: a longer list than announced is not silently cut.
var errExtraIndex = wire.NewError("wxpay: ", "indexed field beyond the announced count")

// RefundQueryRequest names what to look up with [Client.RefundQuery]:
// exactly one refund (RefundID or OutRefundNo) or every refund of an order
// (TransactionID or OutTradeNo). At least one is required; when several
// are given WeChat uses the first of refund_id, out_refund_no,
// transaction_id, out_trade_no, and wxpay sends only that one.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_5
type RefundQueryRequest struct {
	RefundID      string // refund_id: WeChat's refund number
	OutRefundNo   string // out_refund_no: your refund number
	TransactionID string // transaction_id: WeChat's order number
	OutTradeNo    string // out_trade_no: your order number
	// Offset pages through an order's refunds: WeChat returns 10 at a
	// time and TotalRefundCount in the answer; pass 10, 20, ... for the
	// next pages. Zero is the first page (and is not sent).
	Offset int
	// Extra adds fields wxpay does not model. It may not name a field set
	// above or one wxpay sets itself; such a request is refused with a
	// [*RequestError].
	Extra Params
}

// RefundQueryResponse is the state of an order's refunds.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_5
type RefundQueryResponse struct {
	TransactionID string  // transaction_id of the order
	OutTradeNo    string  // out_trade_no of the order
	TotalFee      int64   // total_fee of the order, in fen
	FeeType       FeeType // fee_type, the currency of the amounts; empty means CNY
	// SettlementTotalFee is total_fee less non-pre-funded coupons.
	SettlementTotalFee NullFen
	CashFee            NullFen // cash_fee of the order
	// TotalRefundCount is total_refund_count: how many refunds the order
	// has in all, when WeChat pages them (more than 10); 0 when absent.
	TotalRefundCount int
	// Refunds lists refund_*_$n in order, exactly refund_count of them.
	Refunds []RefundInfo
	// Unparsed names informational fields that were present but
	// malformed (an amount, a time, a coupon list).
	Unparsed []string
	// Raw holds every non-empty, signed field of the answer.
	Raw Params
}

// RefundInfo is one refund of an order, from the refund_*_$n fields.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_5
type RefundInfo struct {
	OutRefundNo string       // out_refund_no_$n
	RefundID    string       // refund_id_$n
	RefundFee   int64        // refund_fee_$n, in fen
	Status      RefundStatus // refund_status_$n: SUCCESS, PROCESSING, REFUNDCLOSE or CHANGE
	// Channel is refund_channel_$n: ORIGINAL or BALANCE.
	Channel string
	// SettlementRefundFee is settlement_refund_fee_$n.
	SettlementRefundFee NullFen
	// CouponRefundFee is coupon_refund_fee_$n.
	CouponRefundFee NullFen
	// Coupons lists coupon_*_$n_$m.
	Coupons []CouponRefund
	// Account is refund_account_$n.
	Account string
	// RecvAccount is refund_recv_accout_$n (sic): where the money went.
	RecvAccount string
	// SuccessTime is refund_success_time_$n (UTC+8); zero unless the
	// refund succeeded.
	SuccessTime time.Time
}

// RefundQuery looks up refunds (查询退款): one by its number, or an
// order's. A refund is final only in state [RefundSuccess],
// [RefundClosed] or [RefundChange]; [RefundProcessing] means look again
// later (minutes for the balance, days for a bank card).
//
// The answer is read strictly where a merchant acts on it: each refund
// 0..refund_count-1 must have out_refund_no, refund_id, refund_fee and
// refund_status, and no refund past the count may appear; otherwise the
// call fails with a [*FieldError] rather than return a shorter list.
// Fields WeChat itself sometimes leaves out (coupon types, channels,
// times) are optional. The answer must echo the order asked about, and a
// query by refund number must return that refund. A refund WeChat does
// not know is an [*Error] with [ErrCodeRefundNotExist].
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_5
func (c *Client) RefundQuery(ctx context.Context, req *RefundQueryRequest) (*RefundQueryResponse, error) {
	q, err := refundQueryRequest(req)
	if err != nil {
		return nil, err
	}
	p, err := c.call(ctx, q)
	if err != nil {
		return nil, err
	}
	r, err := parseRefundQuery(p)
	if err == nil {
		err = checkRefundQueryEcho(r, req)
	}
	if err != nil {
		return nil, &opError{epRefundQuery.op, err}
	}
	return r, nil
}

func refundQueryRequest(r *RefundQueryRequest) (*request, error) {
	q := newRequest(epRefundQuery)
	if r == nil {
		return nil, q.bad("request", "is nil")
	}
	if r.RefundID == "" && r.OutRefundNo == "" && r.TransactionID == "" && r.OutTradeNo == "" {
		return nil, q.bad("out_refund_no", "or refund_id, transaction_id or out_trade_no is required")
	}
	if r.RefundID != "" && !validTransactionID(r.RefundID) {
		return nil, q.bad("refund_id", "must be 1 to 32 letters or digits")
	}
	if r.OutRefundNo != "" {
		if err := checkNo(q, "out_refund_no", r.OutRefundNo, 64); err != nil {
			return nil, err
		}
	}
	if r.TransactionID != "" || r.OutTradeNo != "" {
		if err := checkOrderIDs(q, r.TransactionID, r.OutTradeNo); err != nil {
			return nil, err
		}
	}
	if r.Offset < 0 {
		return nil, q.bad("offset", "must not be negative")
	}
	// Only the number WeChat would use is sent; the others are still
	// modeled, so Extra cannot smuggle them in.
	sent := false
	for _, f := range [...]struct{ name, v string }{
		{"refund_id", r.RefundID},
		{"out_refund_no", r.OutRefundNo},
		{"transaction_id", r.TransactionID},
		{"out_trade_no", r.OutTradeNo},
	} {
		if !sent && f.v != "" {
			q.set(f.name, f.v)
			sent = true
		} else {
			q.set(f.name, "")
		}
	}
	if r.Offset > 0 {
		q.set("offset", strconv.Itoa(r.Offset))
	} else {
		q.set("offset", "")
	}
	if err := q.extra(r.Extra); err != nil {
		return nil, err
	}
	return q, nil
}

// parseRefundQuery reads the verified answer. Its cost is linear in the
// number of fields: every count is bounded by the field count before
// anything is allocated, and each indexed field is one map lookup.
func parseRefundQuery(p Params) (*RefundQueryResponse, error) {
	r := &RefundQueryResponse{
		TransactionID: p["transaction_id"],
		OutTradeNo:    p["out_trade_no"],
		FeeType:       FeeType(p["fee_type"]),
		Raw:           p,
	}
	var err error
	if r.TotalFee, err = optFen(p, "total_fee"); err != nil {
		return nil, err
	}
	r.SettlementTotalFee = nullFen(p, "settlement_total_fee", &r.Unparsed)
	r.CashFee = nullFen(p, "cash_fee", &r.Unparsed)
	if v := p["total_refund_count"]; v != "" {
		n, err := parseFen(v)
		if err != nil || n > 1<<31-1 {
			r.Unparsed = append(r.Unparsed, "total_refund_count")
		} else {
			r.TotalRefundCount = int(n)
		}
	}
	raw, err := requiredField(p, "refund_count")
	if err != nil {
		return nil, err
	}
	n, err := parseFen(raw)
	if err != nil {
		return nil, fieldErr("refund_count", err)
	}
	// Each refund has at least four required fields.
	if n > int64(len(p)/4) {
		return nil, fieldErr("refund_count", errTooMany)
	}
	if _, ok := p["out_refund_no_"+strconv.FormatInt(n, 10)]; ok {
		return nil, fieldErr("out_refund_no_"+strconv.FormatInt(n, 10), errExtraIndex)
	}
	r.Refunds = make([]RefundInfo, n)
	// The coupons of all refunds together are bounded by the fields
	// present (two required fields each).
	budget := len(p) / 2
	for i := range r.Refunds {
		ri, err := parseRefundInfo(p, "_"+strconv.Itoa(i), budget, &r.Unparsed)
		if err != nil {
			return nil, err
		}
		budget -= len(ri.Coupons)
		r.Refunds[i] = ri
	}
	return r, nil
}

// parseRefundInfo reads refund sfx ("_3").
func parseRefundInfo(p Params, sfx string, budget int, unparsed *[]string) (RefundInfo, error) {
	var ri RefundInfo
	var err error
	if ri.OutRefundNo, err = requiredField(p, "out_refund_no"+sfx); err != nil {
		return ri, err
	}
	if ri.RefundID, err = requiredField(p, "refund_id"+sfx); err != nil {
		return ri, err
	}
	if ri.RefundFee, err = requiredFen(p, "refund_fee"+sfx); err != nil {
		return ri, err
	}
	st, err := requiredField(p, "refund_status"+sfx)
	if err != nil {
		return ri, err
	}
	ri.Status = RefundStatus(st)
	ri.Channel = p["refund_channel"+sfx]
	ri.Account = p["refund_account"+sfx]
	ri.RecvAccount = p["refund_recv_accout"+sfx]
	ri.SettlementRefundFee = nullFen(p, "settlement_refund_fee"+sfx, unparsed)
	ri.CouponRefundFee = nullFen(p, "coupon_refund_fee"+sfx, unparsed)
	// A malformed coupon list does not hide the refund: the coupons are
	// informational, the refund's number, amount and state are not.
	if ri.Coupons, err = parseCouponRefunds(p, "coupon_refund_count"+sfx, sfx, budget); err != nil {
		if errors.Is(err, errTooMany) {
			return ri, err
		}
		ri.Coupons = nil
		*unparsed = append(*unparsed, "coupon_refund_count"+sfx)
	}
	if s := p["refund_success_time"+sfx]; s != "" {
		t, err := time.ParseInLocation(refundTimeLayout, s, beijing)
		if err != nil || len(s) != len(refundTimeLayout) {
			*unparsed = append(*unparsed, "refund_success_time"+sfx)
		} else {
			ri.SuccessTime = t
		}
	}
	return ri, nil
}

// checkRefundQueryEcho makes sure the answer is about what was asked: the
// order numbers asked for are echoed, and a query by refund number
// returns that refund.
func checkRefundQueryEcho(r *RefundQueryResponse, req *RefundQueryRequest) error {
	if req.OutTradeNo != "" {
		if err := echoes(r.Raw, "out_trade_no", req.OutTradeNo); err != nil {
			return err
		}
	}
	if req.TransactionID != "" {
		if err := echoes(r.Raw, "transaction_id", req.TransactionID); err != nil {
			return err
		}
	}
	if req.OutRefundNo == "" && req.RefundID == "" {
		return nil
	}
	for _, ri := range r.Refunds {
		if (req.OutRefundNo == "" || ri.OutRefundNo == req.OutRefundNo) &&
			(req.RefundID == "" || ri.RefundID == req.RefundID) {
			return nil
		}
	}
	if req.RefundID != "" {
		return fieldErr("refund_id_$n", errEcho)
	}
	return fieldErr("out_refund_no_$n", errEcho)
}
