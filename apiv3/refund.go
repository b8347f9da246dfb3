package apiv3

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/wxpay-go/wxpay/internal/wire"
)

var (
	epRefund      = endpoint{op: "refunds", method: http.MethodPost, path: "/v3/refund/domestic/refunds", key: "out_refund_no"}
	epRefundQuery = endpoint{op: "refunds/query", method: http.MethodGet, path: "/v3/refund/domestic/refunds/{out_refund_no}"}
	// An abnormal refund is handled once per refund: a retry after an
	// ambiguous failure names the same refund (and out_refund_no).
	epAbnormalRefund = endpoint{op: "refunds/apply-abnormal-refund", method: http.MethodPost,
		path: "/v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund", key: "out_refund_no"}
)

// Documented error codes of the refund endpoints, besides the common
// ones (PARAM_ERROR, INVALID_REQUEST, SIGN_ERROR, SYSTEM_ERROR, NO_AUTH,
// and FREQUENCY_LIMITED, 429: retry later with the same out_refund_no).
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_9.shtml
const (
	// ErrCodeNotEnoughRefund (403 NOT_ENOUGH): the account a refund is
	// paid from has too little balance; top it up, then retry with the
	// same out_refund_no.
	ErrCodeNotEnoughRefund ErrorCode = "NOT_ENOUGH"
	// ErrCodeResourceNotExists (404): no such order or refund; check the
	// numbers (and the merchant).
	ErrCodeResourceNotExists ErrorCode = "RESOURCE_NOT_EXISTS"
	// ErrCodeUserAccountAbnormal (403): the payer's account is abnormal;
	// refund another way (see [Client.ApplyAbnormalRefund]).
	ErrCodeUserAccountAbnormal ErrorCode = "USER_ACCOUNT_ABNORMAL"
	// ErrCodeMchNotExists (400): the merchant number is unknown.
	ErrCodeMchNotExists ErrorCode = "MCH_NOT_EXISTS"
)

// RefundStatus is the state of a refund (status, refund_status).
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_10.shtml
type RefundStatus string

// Refund states.
const (
	// RefundSuccess: the money is back with the payer (success_time says
	// when).
	RefundSuccess RefundStatus = "SUCCESS"
	// RefundClosed: the refund was closed and will not happen.
	RefundClosed RefundStatus = "CLOSED"
	// RefundProcessing: accepted, not yet done; wait for the
	// notification or query again.
	RefundProcessing RefundStatus = "PROCESSING"
	// RefundAbnormal: the payer's card or account refused the money;
	// handle it with [Client.ApplyAbnormalRefund] or in the merchant
	// platform.
	RefundAbnormal RefundStatus = "ABNORMAL"
)

func (s RefundStatus) known() bool {
	switch s {
	case RefundSuccess, RefundClosed, RefundProcessing, RefundAbnormal:
		return true
	}
	return false
}

// RefundChannel is where the money went (channel).
type RefundChannel string

// Refund channels.
const (
	RefundChannelOriginal      RefundChannel = "ORIGINAL"       // back the way it was paid
	RefundChannelBalance       RefundChannel = "BALANCE"        // to the payer's balance (零钱)
	RefundChannelOtherBalance  RefundChannel = "OTHER_BALANCE"  // the original account failed: to another balance
	RefundChannelOtherBankcard RefundChannel = "OTHER_BANKCARD" // the original card failed: to another card
)

// FundsAccount names a merchant account money comes from (funds_account,
// amount.from[].account).
type FundsAccount string

// Merchant accounts.
const (
	FundsAvailable   FundsAccount = "AVAILABLE"   // the available balance
	FundsUnavailable FundsAccount = "UNAVAILABLE" // the unavailable balance (from[] only)
	FundsUnsettled   FundsAccount = "UNSETTLED"   // unsettled funds (answers only)
	FundsOperation   FundsAccount = "OPERATION"   // the operation account (answers only)
	FundsBasic       FundsAccount = "BASIC"       // the basic account (answers only)
)

// RefundRequest asks WeChat to refund (part of) a paid order with
// [Client.Refund].
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_9.shtml
type RefundRequest struct {
	// TransactionID (WeChat's order number) or OutTradeNo names the paid
	// order; one is required. With both, both are sent and WeChat uses
	// transaction_id.
	TransactionID string
	// OutTradeNo is the merchant's order number of the payment.
	OutTradeNo string
	// OutRefundNo is your refund number, 1 to 64 characters of
	// [0-9A-Za-z_-|*@], unique within the merchant. It is the
	// idempotency key: WeChat refunds one number once and answers a
	// repeat with the same refund, so after an ambiguous failure
	// ([*OutcomeUnknownError]) retry with the SAME number, never a new
	// one. Each partial refund of an order needs its own number (at most
	// 50 per order). Required.
	OutRefundNo string
	// Reason is shown to the payer in the refund message; at most 80
	// characters.
	Reason string
	// NotifyURL is where WeChat sends the refund notification (mount
	// [Client.RefundNotifyHandler] there). Empty means the refund URL set
	// in the merchant platform, if any. Config.NotifyURL is not used:
	// it receives payment notifications, whose handler refuses refund
	// events, which WeChat would then retry in vain for a day.
	NotifyURL string
	// FundsAccount is [FundsAvailable] to pay the refund from the
	// available balance; empty means WeChat's default (unsettled funds
	// first).
	FundsAccount FundsAccount
	// Amount is how much to refund, of what order total. Required.
	Amount RefundAmount
	// GoodsDetail lists the goods refunded, for single-item coupons.
	GoodsDetail []RefundGoods
}

// RefundAmount is the amount of a refund request, in fen.
type RefundAmount struct {
	// Refund is the amount to refund, more than 0 and at most Total
	// (WeChat also refuses more than what is left unrefunded).
	Refund int64 `json:"refund"`
	// Total is the amount of the original order; it must be what was
	// paid.
	Total int64 `json:"total"`
	// Currency is the currency; empty means CNY.
	Currency Currency `json:"currency"`
	// From splits the refund between accounts (AVAILABLE, UNAVAILABLE);
	// when given, the amounts must add up to Refund and no account may
	// appear twice.
	From []RefundFrom `json:"from,omitempty"`
}

// RefundFrom is one account's share of a refund, in fen.
type RefundFrom struct {
	Account FundsAccount `json:"account"`
	Amount  int64        `json:"amount"`
}

// RefundGoods is one refunded item (goods_detail[]); amounts in fen.
type RefundGoods struct {
	MerchantGoodsID  string `json:"merchant_goods_id"`            // required
	WechatpayGoodsID string `json:"wechatpay_goods_id,omitempty"` // optional
	GoodsName        string `json:"goods_name,omitempty"`         // optional
	UnitPrice        int64  `json:"unit_price"`                   // unit price, fen
	RefundAmount     int64  `json:"refund_amount"`                // refunded for this item, fen
	RefundQuantity   int64  `json:"refund_quantity"`              // how many, at least 1
}

// refundJSON is the wire body of a refund request.
type refundJSON struct {
	TransactionID string        `json:"transaction_id,omitempty"`
	OutTradeNo    string        `json:"out_trade_no,omitempty"`
	OutRefundNo   string        `json:"out_refund_no"`
	Reason        string        `json:"reason,omitempty"`
	NotifyURL     string        `json:"notify_url,omitempty"`
	FundsAccount  FundsAccount  `json:"funds_account,omitempty"`
	Amount        RefundAmount  `json:"amount"`
	GoodsDetail   []RefundGoods `json:"goods_detail,omitempty"`
}

// Refund is WeChat's refund object: the answer of [Client.Refund],
// [Client.QueryRefund] and [Client.ApplyAbnormalRefund]. An accepted
// refund is usually PROCESSING; the money is back only at SUCCESS, which
// arrives as a notification ([Client.RefundNotifyHandler]) or is seen by
// querying.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_10.shtml
type Refund struct {
	RefundID      string // refund_id, WeChat's refund number
	OutRefundNo   string // out_refund_no
	TransactionID string // transaction_id of the order
	OutTradeNo    string // out_trade_no of the order
	// Channel is where the money goes.
	Channel RefundChannel
	// UserReceivedAccount describes the receiving account, such as
	// "招商银行信用卡0403" or "支付用户零钱".
	UserReceivedAccount string
	// SuccessTime is when the refund succeeded; zero unless Status is
	// SUCCESS.
	SuccessTime time.Time
	// CreateTime is when WeChat accepted the refund.
	CreateTime time.Time
	// Status is the refund's state.
	Status RefundStatus
	// FundsAccount is the account the refund was paid from.
	FundsAccount FundsAccount
	// Amount is the breakdown, in fen.
	Amount RefundAmountDetail
	// PromotionDetail lists the coupons refunded.
	PromotionDetail []RefundPromotion
}

// RefundAmountDetail is the amount breakdown of a refund, in fen.
type RefundAmountDetail struct {
	Total            int64        // total of the order
	Refund           int64        // refunded
	From             []RefundFrom // accounts the refund came from
	PayerTotal       int64        // what the payer paid
	PayerRefund      int64        // what goes back to the payer
	SettlementRefund int64        // refund less non-pre-funded coupons
	SettlementTotal  int64        // order total less non-pre-funded coupons
	DiscountRefund   int64        // coupons refunded
	Currency         Currency     // currency of the amounts
	RefundFee        int64        // service fee refunded, when WeChat reports it
}

// RefundPromotion is a coupon's part in a refund.
type RefundPromotion struct {
	PromotionID  string        // coupon id
	Scope        string        // GLOBAL or SINGLE
	Type         string        // COUPON or DISCOUNT
	Amount       int64         // the coupon's value, fen
	RefundAmount int64         // refunded of it, fen
	GoodsDetail  []RefundGoods // goods it applied to
}

// refundObjectJSON is the wire form of a refund object.
type refundObjectJSON struct {
	RefundID            string        `json:"refund_id"`
	OutRefundNo         string        `json:"out_refund_no"`
	TransactionID       string        `json:"transaction_id"`
	OutTradeNo          string        `json:"out_trade_no"`
	Channel             RefundChannel `json:"channel"`
	UserReceivedAccount string        `json:"user_received_account"`
	SuccessTime         jsonTime      `json:"success_time"`
	CreateTime          jsonTime      `json:"create_time"`
	Status              RefundStatus  `json:"status"`
	FundsAccount        FundsAccount  `json:"funds_account"`
	Amount              *struct {
		Total            int64        `json:"total"`
		Refund           int64        `json:"refund"`
		From             []RefundFrom `json:"from"`
		PayerTotal       int64        `json:"payer_total"`
		PayerRefund      int64        `json:"payer_refund"`
		SettlementRefund int64        `json:"settlement_refund"`
		SettlementTotal  int64        `json:"settlement_total"`
		DiscountRefund   int64        `json:"discount_refund"`
		Currency         Currency     `json:"currency"`
		RefundFee        int64        `json:"refund_fee"`
	} `json:"amount"`
	PromotionDetail []struct {
		PromotionID  string        `json:"promotion_id"`
		Scope        string        `json:"scope"`
		Type         string        `json:"type"`
		Amount       int64         `json:"amount"`
		RefundAmount int64         `json:"refund_amount"`
		GoodsDetail  []RefundGoods `json:"goods_detail"`
	} `json:"promotion_detail"`
}

// ErrRefundObject means a verified answer is not a usable refund object:
// a field the caller acts on (refund_id, out_refund_no, status, the
// amounts) is missing, unknown or contradicts the rest. Errors of this
// kind match it under errors.Is and name the field.
var ErrRefundObject = wire.NewError("apiv3: ", "not a valid refund object")

type refundObjectError struct{ field, why string }

func (e *refundObjectError) Error() string { return "apiv3: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *refundObjectError) Text() string {
	return wire.Text(ErrRefundObject) + ": " + e.field + " " + e.why
}

func (e *refundObjectError) Is(target error) bool { return target == ErrRefundObject }

// parseRefund decodes a refund object with the hardened decoder and
// checks the fields a caller acts on. Other fields are informational
// and never make a genuine answer fail.
func parseRefund(b []byte) (*Refund, error) {
	var j refundObjectJSON
	if err := decodeJSON(b, &j); err != nil {
		return nil, err
	}
	switch {
	case j.RefundID == "":
		return nil, &refundObjectError{"refund_id", "is missing"}
	case j.OutRefundNo == "":
		return nil, &refundObjectError{"out_refund_no", "is missing"}
	case !j.Status.known():
		return nil, &refundObjectError{"status", "is not SUCCESS, CLOSED, PROCESSING or ABNORMAL"}
	case j.Amount == nil:
		return nil, &refundObjectError{"amount", "is missing"}
	case j.Amount.Refund <= 0:
		return nil, &refundObjectError{"amount.refund", "is not positive"}
	case j.Amount.Total < j.Amount.Refund:
		return nil, &refundObjectError{"amount.total", "is less than amount.refund"}
	case j.Amount.PayerRefund < 0 || j.Amount.PayerRefund > j.Amount.Refund:
		return nil, &refundObjectError{"amount.payer_refund", "is negative or more than amount.refund"}
	case j.Status == RefundSuccess && j.SuccessTime.Time().IsZero():
		return nil, &refundObjectError{"success_time", "is missing for a SUCCESS refund"}
	}
	a := j.Amount
	r := &Refund{
		RefundID: j.RefundID, OutRefundNo: j.OutRefundNo, TransactionID: j.TransactionID, OutTradeNo: j.OutTradeNo,
		Channel: j.Channel, UserReceivedAccount: j.UserReceivedAccount,
		SuccessTime: j.SuccessTime.Time(), CreateTime: j.CreateTime.Time(),
		Status: j.Status, FundsAccount: j.FundsAccount,
		Amount: RefundAmountDetail{
			Total: a.Total, Refund: a.Refund, From: a.From, PayerTotal: a.PayerTotal, PayerRefund: a.PayerRefund,
			SettlementRefund: a.SettlementRefund, SettlementTotal: a.SettlementTotal, DiscountRefund: a.DiscountRefund,
			Currency: a.Currency, RefundFee: a.RefundFee,
		},
	}
	for _, p := range j.PromotionDetail {
		r.PromotionDetail = append(r.PromotionDetail, RefundPromotion{
			PromotionID: p.PromotionID, Scope: p.Scope, Type: p.Type, Amount: p.Amount,
			RefundAmount: p.RefundAmount, GoodsDetail: p.GoodsDetail,
		})
	}
	return r, nil
}

// isNo reports 1 to max characters of [0-9A-Za-z] and of extra.
func isNo(s string, max int, extra string) bool {
	return s != "" && len(s) <= max && wire.OfAlnum(s, extra)
}

// checkRefundNo validates out_refund_no.
func checkRefundNo(op, s string) error {
	switch {
	case s == "":
		return &RequestError{Op: op, Field: "out_refund_no", Reason: "is required"}
	case !isNo(s, 64, "_-|*@"):
		return &RequestError{Op: op, Field: "out_refund_no", Reason: "must be 1 to 64 characters of 0-9, A-Z, a-z and _-|*@"}
	}
	return nil
}

// Refund asks WeChat to refund (part of) a paid order (申请退款). A nil
// error means WeChat accepted the refund; Status says where it stands
// (usually PROCESSING), and the outcome arrives as a refund
// notification.
//
// The request is checked before any I/O ([*RequestError] naming the
// field). After a request that may have reached WeChat without a
// definite answer (a timeout, a 5xx or 429, an answer that fails
// verification), the error is an [*OutcomeUnknownError]: WeChat may have
// accepted the refund, and calling again with the same OutRefundNo (and
// the same amounts) is what makes a retry safe; [Client.QueryRefund]
// tells first. A definite refusal is an [*Error]: NOT_ENOUGH
// ([ErrCodeNotEnoughRefund]), RESOURCE_NOT_EXISTS, PARAM_ERROR,
// INVALID_REQUEST, USER_ACCOUNT_ABNORMAL, SIGN_ERROR, NO_AUTH …
//
// The answer must echo the request's out_refund_no and amounts; one that
// does not is an [*OutcomeUnknownError] too (query before acting).
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_9.shtml
func (c *Client) Refund(ctx context.Context, req *RefundRequest) (*Refund, error) {
	body, err := refundBody(req)
	if err != nil {
		return nil, err
	}
	r, err := newRequest(epRefund, nil, nil, body)
	if err != nil {
		return nil, err
	}
	ref, err := c.callRefund(ctx, r)
	if err != nil {
		return nil, err
	}
	if ref.OutRefundNo != req.OutRefundNo || ref.Amount.Refund != body.Amount.Refund || ref.Amount.Total != body.Amount.Total ||
		(req.TransactionID != "" && ref.TransactionID != "" && ref.TransactionID != req.TransactionID) ||
		(req.OutTradeNo != "" && ref.OutTradeNo != "" && ref.OutTradeNo != req.OutTradeNo) {
		return nil, &OutcomeUnknownError{Op: epRefund.op, Key: epRefund.key, Err: errRefundEcho}
	}
	return ref, nil
}

// errRefundEcho is the cause when a refund answer names another refund
// or other amounts than those requested.
var errRefundEcho = wire.NewError("apiv3: ", "the answer describes another refund than the one requested (out_refund_no, order or amounts differ)")

// callRefund sends r and decodes its refund object. A signed 2xx answer
// whose refund object is unusable leaves the outcome of a keyed call
// unknown, like any unusable answer.
func (c *Client) callRefund(ctx context.Context, r *request) (*Refund, error) {
	var raw rawJSON
	if _, err := c.call(ctx, r, &raw); err != nil {
		return nil, err
	}
	ref, err := parseRefund(raw)
	if err != nil {
		err = &opError{r.ep.op, err}
		if r.ep.key != "" {
			return nil, &OutcomeUnknownError{Op: r.ep.op, Key: r.ep.key, Err: err}
		}
		return nil, err
	}
	return ref, nil
}

// rawJSON keeps a verified body (already checked by the hardened
// decoder's rules in call) for a parser of its own.
type rawJSON []byte

func (r *rawJSON) UnmarshalJSON(b []byte) error { *r = append((*r)[:0], b...); return nil }

// refundBody validates req and builds its wire body.
func refundBody(req *RefundRequest) (*refundJSON, error) {
	op := epRefund.op
	bad := func(field, reason string) error { return &RequestError{Op: op, Field: field, Reason: reason} }
	if req == nil {
		return nil, bad("request", "is nil")
	}
	if req.TransactionID == "" && req.OutTradeNo == "" {
		return nil, bad("transaction_id", "or out_trade_no is required")
	}
	if req.TransactionID != "" && !isNo(req.TransactionID, 32, "") {
		return nil, bad("transaction_id", "must be 1 to 32 letters and digits, as WeChat gave it")
	}
	if req.OutTradeNo != "" && !isNo(req.OutTradeNo, 32, "_-|*") {
		return nil, bad("out_trade_no", "must be 1 to 32 characters of 0-9, A-Z, a-z and _-|*")
	}
	if err := checkRefundNo(op, req.OutRefundNo); err != nil {
		return nil, err
	}
	if !utf8.ValidString(req.Reason) || utf8.RuneCountInString(req.Reason) > 80 {
		return nil, bad("reason", "must be valid UTF-8 of at most 80 characters")
	}
	if req.NotifyURL != "" {
		if why := checkNotifyURL(req.NotifyURL); why != "" {
			return nil, bad("notify_url", why)
		}
	}
	switch req.FundsAccount {
	case "", FundsAvailable:
	default:
		return nil, bad("funds_account", "must be empty or AVAILABLE")
	}
	a := req.Amount
	switch {
	case a.Refund <= 0:
		return nil, bad("amount.refund", "must be a positive amount in fen (1 yuan = 100 fen)")
	case a.Total <= 0:
		return nil, bad("amount.total", "must be the order's positive amount in fen")
	case a.Refund > a.Total:
		return nil, bad("amount.refund", "is more than amount.total")
	}
	if err := a.Currency.check(op, "amount.currency"); err != nil {
		return nil, err
	}
	if a.Currency == "" {
		a.Currency = CNY // required on the wire
	}
	if len(a.From) > 0 {
		var sum int64
		seen := map[FundsAccount]bool{}
		for i, f := range a.From {
			field := fmt.Sprintf("amount.from[%d]", i)
			switch {
			case f.Account != FundsAvailable && f.Account != FundsUnavailable:
				return nil, bad(field+".account", "must be AVAILABLE or UNAVAILABLE")
			case seen[f.Account]:
				return nil, bad(field+".account", "appears twice")
			case f.Amount <= 0:
				return nil, bad(field+".amount", "must be a positive amount in fen")
			}
			seen[f.Account] = true
			sum += f.Amount
		}
		if sum != a.Refund {
			return nil, bad("amount.from", "amounts must add up to amount.refund")
		}
		a.From = append([]RefundFrom(nil), a.From...)
	}
	for i, g := range req.GoodsDetail {
		field := fmt.Sprintf("goods_detail[%d]", i)
		switch {
		case g.MerchantGoodsID == "" || len(g.MerchantGoodsID) > 32:
			return nil, bad(field+".merchant_goods_id", "is required, at most 32 bytes")
		case g.UnitPrice < 0:
			return nil, bad(field+".unit_price", "is negative")
		case g.RefundAmount < 0 || g.RefundAmount > a.Refund:
			return nil, bad(field+".refund_amount", "must be between 0 and amount.refund")
		case g.RefundQuantity <= 0:
			return nil, bad(field+".refund_quantity", "must be at least 1")
		}
	}
	return &refundJSON{
		TransactionID: req.TransactionID, OutTradeNo: req.OutTradeNo, OutRefundNo: req.OutRefundNo,
		Reason: req.Reason, NotifyURL: req.NotifyURL, FundsAccount: req.FundsAccount,
		Amount: a, GoodsDetail: req.GoodsDetail,
	}, nil
}

// QueryRefund asks for a refund by its out_refund_no (查询单笔退款). It is
// safe to repeat, and is how to learn the outcome after an
// [*OutcomeUnknownError] from [Client.Refund]. An unknown number is an
// [*Error] with [ErrCodeResourceNotExists].
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_10.shtml
func (c *Client) QueryRefund(ctx context.Context, outRefundNo string) (*Refund, error) {
	if err := checkRefundNo(epRefundQuery.op, outRefundNo); err != nil {
		return nil, err
	}
	r, err := newRequest(epRefundQuery, []string{outRefundNo}, nil, nil)
	if err != nil {
		return nil, err
	}
	ref, err := c.callRefund(ctx, r)
	if err != nil {
		return nil, err
	}
	if ref.OutRefundNo != outRefundNo {
		return nil, &opError{epRefundQuery.op, errRefundEcho}
	}
	return ref, nil
}

// AbnormalRefundType is how an ABNORMAL refund is handled (type).
type AbnormalRefundType string

// Ways to handle an abnormal refund.
const (
	// AbnormalToUserBankCard refunds to a bank card of the payer, which
	// BankType, BankAccount and RealName name.
	AbnormalToUserBankCard AbnormalRefundType = "USER_BANK_CARD"
	// AbnormalToMerchantBankCard refunds to the merchant's own bank
	// account, for the merchant to pay the payer back by other means.
	AbnormalToMerchantBankCard AbnormalRefundType = "MERCHANT_BANK_CARD"
)

// AbnormalRefundRequest handles a refund whose status is ABNORMAL with
// [Client.ApplyAbnormalRefund]. BankAccount and RealName are personal
// data: they are sent encrypted under WeChat's key, and never printed
// (fmt and slog show them redacted).
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/apis/refund/refunds/create-abnormal-refund.html
type AbnormalRefundRequest struct {
	// RefundID is WeChat's refund number (Refund.RefundID). Required.
	RefundID string
	// OutRefundNo is the refund's out_refund_no. Required.
	OutRefundNo string
	// Type is where the money goes. Required.
	Type AbnormalRefundType
	// BankType is the payer's bank, such as "ICBC_DEBIT" (WeChat's list
	// of debit-card banks). Required for [AbnormalToUserBankCard].
	BankType string
	// BankAccount is the payer's card number, in plain text; it is
	// encrypted before it is sent. Required for [AbnormalToUserBankCard].
	BankAccount string
	// RealName is the card holder's name, in plain text; it is encrypted
	// before it is sent. Required for [AbnormalToUserBankCard].
	RealName string
}

// String shows the request without its personal data.
func (r AbnormalRefundRequest) String() string {
	return "apiv3.AbnormalRefundRequest{RefundID:" + r.RefundID + " OutRefundNo:" + r.OutRefundNo +
		" Type:" + string(r.Type) + " BankType:" + r.BankType + " BankAccount:" + wire.RedactedIf(r.BankAccount != "") +
		" RealName:" + wire.RedactedIf(r.RealName != "") + "}"
}

// Format prints [AbnormalRefundRequest.String] for every verb.
func (r AbnormalRefundRequest) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, r.String()) }

// LogValue makes slog show the request without its personal data.
func (r AbnormalRefundRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("refund_id", r.RefundID), slog.String("out_refund_no", r.OutRefundNo),
		slog.String("type", string(r.Type)), slog.String("bank_type", r.BankType))
}

// abnormalRefundJSON is the wire body; the two personal fields hold
// RSA-OAEP ciphertexts.
type abnormalRefundJSON struct {
	OutRefundNo string             `json:"out_refund_no"`
	Type        AbnormalRefundType `json:"type"`
	BankType    string             `json:"bank_type,omitempty"`
	BankAccount string             `json:"bank_account,omitempty"`
	RealName    string             `json:"real_name,omitempty"`
}

// ApplyAbnormalRefund handles a refund whose status is ABNORMAL (发起异常
// 退款): to a bank card of the payer, or to the merchant's bank account.
// The card number and the name are encrypted under WeChat's key
// ([Client.EncryptSensitive]: RSA-OAEP) and the request carries that
// key's Wechatpay-Serial, as WeChat requires. Validation happens before
// any I/O (and before any encryption); an ambiguous failure is an
// [*OutcomeUnknownError]: retry with the same refund and out_refund_no.
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/apis/refund/refunds/create-abnormal-refund.html
func (c *Client) ApplyAbnormalRefund(ctx context.Context, req *AbnormalRefundRequest) (*Refund, error) {
	op := epAbnormalRefund.op
	bad := func(field, reason string) error { return &RequestError{Op: op, Field: field, Reason: reason} }
	if req == nil {
		return nil, bad("request", "is nil")
	}
	if !isNo(req.RefundID, 32, "") {
		return nil, bad("refund_id", "is required: 1 to 32 letters and digits, as WeChat gave it")
	}
	if err := checkRefundNo(op, req.OutRefundNo); err != nil {
		return nil, err
	}
	body := abnormalRefundJSON{OutRefundNo: req.OutRefundNo, Type: req.Type}
	switch req.Type {
	case AbnormalToUserBankCard:
		switch {
		case req.BankType == "" || !isNo(req.BankType, 32, "_"):
			return nil, bad("bank_type", "is required for USER_BANK_CARD: WeChat's bank code, such as ICBC_DEBIT")
		case req.BankAccount == "":
			return nil, bad("bank_account", "is required for USER_BANK_CARD")
		case !isNo(req.BankAccount, 32, ""):
			return nil, bad("bank_account", "must be the card number, digits only")
		case req.RealName == "" || !utf8.ValidString(req.RealName) || utf8.RuneCountInString(req.RealName) > 64:
			return nil, bad("real_name", "is required for USER_BANK_CARD: the card holder's name, at most 64 characters")
		}
		serial, cts, err := c.EncryptSensitive(ctx, req.BankAccount, req.RealName)
		if err != nil {
			return nil, &opError{op, err}
		}
		body.BankType, body.BankAccount, body.RealName = req.BankType, cts[0], cts[1]
		r, err := newRequest(epAbnormalRefund, []string{req.RefundID}, nil, body)
		if err != nil {
			return nil, err
		}
		r.serial = serial
		return c.abnormal(ctx, r, req)
	case AbnormalToMerchantBankCard:
		if req.BankType != "" || req.BankAccount != "" || req.RealName != "" {
			return nil, bad("bank_account", "bank_type, bank_account and real_name are for USER_BANK_CARD only")
		}
		r, err := newRequest(epAbnormalRefund, []string{req.RefundID}, nil, body)
		if err != nil {
			return nil, err
		}
		return c.abnormal(ctx, r, req)
	default:
		return nil, bad("type", "must be USER_BANK_CARD or MERCHANT_BANK_CARD")
	}
}

func (c *Client) abnormal(ctx context.Context, r *request, req *AbnormalRefundRequest) (*Refund, error) {
	ref, err := c.callRefund(ctx, r)
	if err != nil {
		return nil, err
	}
	if ref.RefundID != req.RefundID || ref.OutRefundNo != req.OutRefundNo {
		return nil, &OutcomeUnknownError{Op: r.ep.op, Key: r.ep.key, Err: errRefundEcho}
	}
	return ref, nil
}
