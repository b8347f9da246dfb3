package wxpay

import (
	"context"
	"errors"
	"time"
)

// TradeState is trade_state: where an order stands. Only
// TradeStateSuccess means the payer paid.
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
type OrderQueryRequest struct {
	// TransactionID is WeChat's order number (transaction_id), up to 32
	// characters.
	TransactionID string
	// OutTradeNo is the out_trade_no given to [Client.UnifiedOrder].
	OutTradeNo string
}

// OrderQueryResponse is the state of an order. WeChat fills in the payment
// details (payer, amounts, coupons, time) only when TradeState is
// [TradeStateSuccess]; in other states they are zero. All amounts are in
// fen (分).
type OrderQueryResponse struct {
	TradeState     TradeState // always set; only TradeStateSuccess means paid
	TradeStateDesc string     // human-readable state, in Chinese
	TransactionID  string     // WeChat's order number
	OutTradeNo     string     // your order number
	Attach         string     // as given to UnifiedOrder
	OpenID         string     // the payer
	IsSubscribe    bool       // is_subscribe == "Y": the payer follows the official account
	TradeType      TradeType  // how it was paid, including TradeMicropay
	BankType       string     // payment bank, such as "CMC"
	DeviceInfo     string     // as given to UnifiedOrder
	FeeType        string     // currency of TotalFee; empty means CNY
	// TotalFee is the order amount. Compare it with your stored order
	// before marking it paid.
	TotalFee int64
	// SettlementTotalFee is TotalFee less non-prepaid (NO_CASH) coupons:
	// what settles to the merchant.
	SettlementTotalFee int64
	CashFee            int64    // paid in cash by the payer
	CashFeeType        string   // currency of CashFee
	CouponFee          int64    // total of Coupons
	Coupons            []Coupon // every coupon_*_$n, however many
	// TimeEnd is when the payment completed; zero unless paid.
	TimeEnd time.Time
	// Raw holds every non-empty field of the answer, all covered by its
	// verified signature, including ones wxpay does not model.
	Raw Params
}

const opOrderQuery = "orderquery"

// errEcho is the cause when an answer names another order than the one
// asked about.
var errEcho = errors.New("wxpay: does not match the request")

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
	p, err := orderQueryParams(req)
	if err != nil {
		return nil, err
	}
	resp, err := c.call(ctx, opOrderQuery, pathOrderQuery, p)
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
		return nil, &opError{opOrderQuery, err}
	}
	return r, nil
}

func orderQueryParams(r *OrderQueryRequest) (Params, error) {
	const op = opOrderQuery
	if r == nil {
		return nil, &RequestError{Op: op, Field: "request", Reason: "is nil"}
	}
	if r.TransactionID != "" {
		if !validTransactionID(r.TransactionID) {
			return nil, &RequestError{Op: op, Field: "transaction_id", Reason: "must be 1 to 32 letters or digits"}
		}
		if r.OutTradeNo != "" {
			if err := checkOutTradeNo(op, r.OutTradeNo); err != nil {
				return nil, err
			}
		}
		return Params{"transaction_id": r.TransactionID}, nil
	}
	if r.OutTradeNo == "" {
		return nil, &RequestError{Op: op, Field: "out_trade_no", Reason: "or transaction_id is required"}
	}
	if err := checkOutTradeNo(op, r.OutTradeNo); err != nil {
		return nil, err
	}
	return Params{"out_trade_no": r.OutTradeNo}, nil
}

func validTransactionID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// parseOrderQuery maps verified answer fields to the response. req is what
// was asked, so that an answer about another order is refused.
func parseOrderQuery(p, req Params) (*OrderQueryResponse, error) {
	if err := checkEcho(p, req); err != nil {
		return nil, err
	}
	r := &OrderQueryResponse{
		TradeState:     TradeState(p["trade_state"]),
		TradeStateDesc: p["trade_state_desc"],
		TransactionID:  p["transaction_id"],
		OutTradeNo:     p["out_trade_no"],
		Attach:         p["attach"],
		OpenID:         p["openid"],
		IsSubscribe:    p["is_subscribe"] == "Y",
		TradeType:      TradeType(p["trade_type"]),
		BankType:       p["bank_type"],
		DeviceInfo:     p["device_info"],
		FeeType:        p["fee_type"],
		CashFeeType:    p["cash_fee_type"],
		Raw:            p,
	}
	if r.TradeState == "" {
		return nil, fieldErr("trade_state", ErrMissingField)
	}
	if r.TradeState == TradeStateSuccess {
		// A paid order without these cannot be reconciled; refuse it
		// rather than report zero.
		for _, k := range [...]string{"transaction_id", "total_fee", "time_end"} {
			if _, err := requiredField(p, k); err != nil {
				return nil, err
			}
		}
	}
	var err error
	for _, f := range [...]struct {
		name string
		dst  *int64
	}{
		{"total_fee", &r.TotalFee},
		{"settlement_total_fee", &r.SettlementTotalFee},
		{"cash_fee", &r.CashFee},
		{"coupon_fee", &r.CouponFee},
	} {
		if *f.dst, err = optFen(p, f.name); err != nil {
			return nil, err
		}
	}
	if r.Coupons, err = parseCoupons(p); err != nil {
		return nil, err
	}
	if s := p["time_end"]; s != "" {
		if r.TimeEnd, err = parseTime(s); err != nil {
			return nil, fieldErr("time_end", err)
		}
	}
	return r, nil
}

// checkEcho makes sure a verified answer is about the order that was
// asked for. A genuine answer always echoes out_trade_no, and for a paid
// order also transaction_id; when trade_state is not SUCCESS WeChat sends
// back only out_trade_no (protocol §3), so an answer to a query by
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

// echoes checks that p[name] is want: it returns a *FieldError wrapping
// [ErrMissingField] when it is absent, or errEcho when it differs.
func echoes(p Params, name, want string) error {
	switch got := p[name]; got {
	case want:
		return nil
	case "":
		return fieldErr(name, ErrMissingField)
	default:
		return fieldErr(name, errEcho)
	}
}
