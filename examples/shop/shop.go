// Package shop is the order-and-pay backend of the example mini-program:
// shops and their goods, WeChat login, orders, payment through WeChat Pay v2
// and the reconciliation jobs that settle payments whose notification was
// lost. It holds the business rules and the SQL; package api puts HTTP in
// front of it and package app wires it to WeChat (or to the fake WeChat).
//
// WeChat is reached only through the small [Payments] and [Login]
// interfaces, so the rules here can be read (and tested) without the wire
// format.
package shop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Order states.
const (
	StatusUnpaid = "unpaid" // placed; not paid yet
	StatusPaid   = "paid"   // WeChat confirmed the payment
	StatusClosed = "closed" // expired unpaid; WeChat confirmed the close
)

// Limits on what a client may ask for.
const (
	MaxOrderLines = 50         // distinct goods in one order
	MaxCount      = 999        // units of one goods in one order
	MaxOrderFen   = 10_000_000 // 100,000.00 yuan: larger totals are refused
	MaxPageLimit  = 100        // items per page; larger limits are clamped
	DefaultLimit  = 20
)

// Shop is a seller.
type Shop struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Goods is something a shop sells, at PriceFen fen (1/100 yuan).
type Goods struct {
	ID       int64  `json:"id"`
	ShopID   int64  `json:"shop_id"`
	Name     string `json:"name"`
	PriceFen int64  `json:"price_fen"`
}

// Page is one page of a list, with the total number of items.
type Page[T any] struct {
	Items []T `json:"items"`
	Page  int `json:"page"`
	Limit int `json:"limit"`
	Total int `json:"total"`
}

// PageRequest selects a page: Page counts from 1.
type PageRequest struct {
	Page, Limit int
}

// Item is one line of an order request: which goods, how many.
type Item struct {
	GoodsID int64 `json:"goods_id"`
	Count   int64 `json:"count"`
}

// Line is one line of a placed order, with the price at the time it was
// placed.
type Line struct {
	GoodsID     int64  `json:"goods_id"`
	Name        string `json:"name"`
	PriceFen    int64  `json:"price_fen"`
	Count       int64  `json:"count"`
	SubtotalFen int64  `json:"subtotal_fen"`
}

// Order is an order as its owner sees it.
type Order struct {
	ID        int64     `json:"id"`
	ShopID    int64     `json:"shop_id"`
	Status    string    `json:"status"`
	TotalFen  int64     `json:"total_fen"`
	Lines     []Line    `json:"lines"`
	CreatedAt time.Time `json:"created_at"`
	// PaidAt is when WeChat says the payment completed; absent unless paid.
	PaidAt *time.Time `json:"paid_at,omitempty"`
	// Refunds lists the refunds of a paid order, oldest first.
	Refunds []Refund `json:"refunds,omitempty"`
}

// User is a logged-in mini-program user.
type User struct {
	ID     int64
	OpenID string
}

// Payment is a payment result from WeChat, by notification or by query,
// whose signature has already been verified.
type Payment struct {
	OutTradeNo    string
	TransactionID string
	TotalFen      int64
	// Paid is false for a notification with result_code FAIL.
	Paid bool
	// TimeEnd is when the payer paid; zero when WeChat's answer does not
	// say (an order query answering REFUND), and then Settle records the
	// time it learnt of the payment.
	TimeEnd time.Time
	// Refunds are refunds WeChat already made of this payment, which an
	// order query answering REFUND reports (a payment refunded at WeChat,
	// on the merchant platform say, before its notification arrived):
	// Settle records them with the payment.
	Refunds []RefundResult
}

// PrepayRequest holds the unifiedorder parameters the server stores with
// each out_trade_no, so that a repeated request is the same request.
type PrepayRequest struct {
	OutTradeNo string
	Body       string
	TotalFen   int64
	ClientIP   string
	OpenID     string
	TimeStart  time.Time
	TimeExpire time.Time
}

// QueryState is what an order query says about an out_trade_no.
type QueryState int

// Query states.
const (
	QueryNotPaid  QueryState = iota // not paid (yet); may still be paid
	QueryPaid                       // paid: Payment is set
	QueryClosed                     // closed or revoked: can no longer be paid
	QueryNotFound                   // WeChat has no such order
)

// Payments is what the shop needs from WeChat Pay. The implementation in
// package app adapts the wxpay library to it.
type Payments interface {
	// Prepay places the order with WeChat and returns the prepay_id. The
	// same request sent again returns the same prepay_id. It returns
	// ErrWeChatPaid or ErrWeChatClosed when WeChat says so.
	Prepay(ctx context.Context, r PrepayRequest) (prepayID string, err error)
	// PayParams returns the arguments of wx.requestPayment, ready to be
	// marshalled to JSON.
	PayParams(prepayID string) (any, error)
	// Query asks WeChat about an out_trade_no. p is set when the state is
	// QueryPaid.
	Query(ctx context.Context, outTradeNo string) (state QueryState, p *Payment, err error)
	// Close closes an out_trade_no. It returns ErrWeChatPaid if it was paid
	// meanwhile; closing an already closed order succeeds.
	Close(ctx context.Context, outTradeNo string) error
	// NotifyHandler returns the handler for notify_url: it verifies each
	// notification and replies SUCCESS only when fn returned nil.
	NotifyHandler(fn func(ctx context.Context, p Payment) error) http.Handler
}

// Login turns a wx.login code into the user's openid. The session key
// WeChat also returns stays inside the implementation.
type Login interface {
	OpenID(ctx context.Context, code string) (string, error)
}

// Answers from WeChat that change what the shop does.
var (
	ErrWeChatPaid   = errors.New("shop: WeChat says the order is paid")
	ErrWeChatClosed = errors.New("shop: WeChat says the order is closed")
	// ErrBadCode means WeChat refused the login code (invalid, used or
	// expired).
	ErrBadCode = errors.New("shop: login code refused")
)

// Code classifies an Error for the HTTP layer.
type Code string

// Error codes, each with one HTTP status (see package api).
const (
	CodeInvalid      Code = "invalid_request"      // 400
	CodeUnauthorized Code = "unauthorized"         // 401
	CodeNotFound     Code = "not_found"            // 404
	CodeConflict     Code = "conflict"             // 409
	CodeTooLarge     Code = "body_too_large"       // 413
	CodeIdempotency  Code = "idempotency_mismatch" // 422
	CodeUpstream     Code = "upstream_unavailable" // 503, with Retry-After: WeChat not reached or busy
	// CodeUpstreamRefused: WeChat refused the request for good (502, never
	// retry the same request); see [UpstreamAPIError].
	CodeUpstreamRefused Code = "upstream_refused"
	// CodeUpstreamUnknown: WeChat's answer was lost, the request may have
	// taken effect (502, with Retry-After: repeat the same request).
	CodeUpstreamUnknown Code = "upstream_outcome_unknown"
	CodeInternal        Code = "internal"               // 500
	CodeMethod          Code = "method_not_allowed"     // 405
	CodeUnsupportedMed  Code = "unsupported_media_type" // 415
	CodeTooMany         Code = "too_many_requests"      // 429, with Retry-After
)

// Error is a failure the client may see: Message is written for the
// client and never holds internal details.
type Error struct {
	Code    Code
	Message string
	// RetryAfter, when positive, is sent as the Retry-After header: the
	// request may be repeated after it.
	RetryAfter time.Duration
}

// Error returns the code and the message.
func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err's *Error, or CodeInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// FormatYuan writes an amount in fen as yuan, such as "¥18.00".
func FormatYuan(fen int64) string {
	sign := ""
	u := uint64(fen)
	if fen < 0 {
		sign = "-"
		u = -u
	}
	return fmt.Sprintf("%s¥%d.%02d", sign, u/100, u%100)
}

// mulFen returns price*count, or false if it overflows int64 or either
// operand is not positive.
func mulFen(price, count int64) (int64, bool) {
	if price <= 0 || count <= 0 || price > (1<<63-1)/count {
		return 0, false
	}
	return price * count, true
}

// addFen returns a+b for non-negative a and b, or false on overflow.
func addFen(a, b int64) (int64, bool) {
	if a < 0 || b < 0 || a > 1<<63-1-b {
		return 0, false
	}
	return a + b, true
}
