package wxpaytest

import (
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/wxpay-go/wxpay"
)

// Order states, as orderquery's trade_state reports them.
const (
	StateNotPay  = wxpay.TradeStateNotPay
	StateSuccess = wxpay.TradeStateSuccess
	StateClosed  = wxpay.TradeStateClosed
	// StateRefund is a paid order with at least one refund.
	StateRefund = wxpay.TradeStateRefund
	// StateUserPaying is a micropay order whose payer has not confirmed
	// yet; StatePayError one the payer declined; StateRevoked one
	// reversed.
	StateUserPaying = wxpay.TradeStateUserPaying
	StatePayError   = wxpay.TradeStatePayError
	StateRevoked    = wxpay.TradeStateRevoked
)

// PrepayLife is how long WeChat keeps a prepay_id valid, in the fake's
// time: after it a payment needs a new unifiedorder call (with the same
// parameters, which returns a fresh prepay_id for the same order).
const PrepayLife = 2 * time.Hour

// CloseDelay is how long after creation an order can first be closed:
// WeChat refuses closeorder within 5 minutes of unifiedorder.
const CloseDelay = 5 * time.Minute

// Order is a snapshot of an order the fake holds. Times are on the fake's
// clock ([Fake.Now]).
type Order struct {
	// OutTradeNo is the merchant's order number, the order's key.
	OutTradeNo string
	// TransactionID is WeChat's order number (transaction_id), set once
	// paid.
	TransactionID string
	// PrepayID is the current prepay_id (a new one is issued after
	// [PrepayLife]).
	PrepayID string
	// State is the trade_state orderquery reports: StateNotPay,
	// StateSuccess, StateClosed (an unpaid order past its time_expire is
	// StateClosed too), StateRefund once refunded, and for micropay
	// StateUserPaying, StatePayError or StateRevoked.
	State wxpay.TradeState
	// TradeType is the request's trade_type (JSAPI, NATIVE, APP, MWEB),
	// or MICROPAY for an order paid with a payment code.
	TradeType wxpay.TradeType
	// TotalFee is the order's amount in fen (分).
	TotalFee int64
	// NotifyURL is where the payment notification goes: the request's
	// notify_url.
	NotifyURL string
	// OpenID is the payer: the order's openid, or a fake user's for
	// other trade types.
	OpenID string
	// Attach is the request's attach, echoed in orderquery and the
	// notification.
	Attach string
	// SignType is the algorithm of the unifiedorder request, which signs
	// the notification.
	SignType wxpay.SignType
	// Coupons are the coupons the payment used, set once paid with
	// coupons.
	Coupons []wxpay.Coupon
	// CreatedAt is when unifiedorder (or micropay) created the order.
	CreatedAt time.Time
	// PaidAt is when the payer paid; zero unless paid.
	PaidAt time.Time
	// TimeExpire is the order's time_expire; zero when it had none.
	TimeExpire time.Time
	// Request is the verified unifiedorder request as received, sign
	// included.
	Request wxpay.Params
}

type order struct {
	Order
	prepayAt time.Time // when PrepayID was issued
	note     *notice   // the payment notification
	payOpts  PayOptions
	refunds  []*refund // oldest first
	micro    *microState
}

func (o *order) snapshot() Order {
	s := o.Order
	s.Coupons = slices.Clone(o.Coupons)
	s.Request = maps.Clone(o.Request)
	return s
}

// snapshotAt is the order as it reads at now: its state then, and no
// PaidAt while a micropay payer has not (or never) confirmed.
func (o *order) snapshotAt(now time.Time) Order {
	s := o.snapshot()
	s.State = o.state(now)
	switch s.State {
	case StateUserPaying, StatePayError:
		s.PaidAt = time.Time{}
	}
	return s
}

// state is the order's trade_state at now: an unpaid order past its
// time_expire can no longer be paid, and reads as closed.
func (o *order) state(now time.Time) wxpay.TradeState {
	if o.State == StateUserPaying && o.micro != nil && !now.Before(o.PaidAt) {
		// The payer confirmed (or declined) on the phone meanwhile.
		if o.micro.decline {
			return StatePayError
		}
		return StateSuccess
	}
	if o.State == StateNotPay && !o.TimeExpire.IsZero() && !now.Before(o.TimeExpire) {
		return StateClosed
	}
	return o.State
}

// Order returns a snapshot of the order with this out_trade_no, and
// whether the fake knows it.
func (f *Fake) Order(outTradeNo string) (Order, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[outTradeNo]
	if !ok {
		return Order{}, false
	}
	return o.snapshotAt(f.Now()), true
}

// Orders returns snapshots of every order, in no particular order.
func (f *Fake) Orders() []Order {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.Now()
	out := make([]Order, 0, len(f.orders))
	for _, o := range f.orders {
		out = append(out, o.snapshotAt(now))
	}
	return out
}

// beijing is UTC+8, the zone of every WeChat Pay timestamp.
var beijing = time.FixedZone("CST", 8*3600)

const wxTime = "20060102150405"

// randDigits returns n random decimal digits.
func randDigits(n int) string { return randFrom("0123456789", n) }

// randAlnum returns n random characters of [0-9A-Za-z].
func randAlnum(n int) string {
	return randFrom("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", n)
}

// randFrom draws n characters uniformly from alphabet (at most 256) with
// crypto/rand, rejecting the bytes that would bias the draw.
func randFrom(alphabet string, n int) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2+8)
	for len(out) < n {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails; it crashes the program instead
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// newPrepayID mints a prepay_id shaped like WeChat's: "wx", the time, and
// 20 more characters (36 in all).
func (f *Fake) newPrepayID(now time.Time) string {
	f.seq++
	return fmt.Sprintf("wx%s%s%06d", now.In(beijing).Format(wxTime), randDigits(14), f.seq%1000000)
}

// newTransactionID mints a 28-digit transaction_id like WeChat's.
func (f *Fake) newTransactionID(now time.Time) string {
	f.seq++
	return fmt.Sprintf("4200000%s%s%06d", now.In(beijing).Format("20060102"), randDigits(7), f.seq%1000000)
}
