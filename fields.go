package wxpay

import (
	"strconv"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// beijing is WeChat's time zone for every timestamp it sends (UTC+8, no
// daylight saving). A fixed zone needs no tzdata on the host.
var beijing = time.FixedZone("CST", 8*60*60)

const timeLayout = "20060102150405"

// formatTime writes t in WeChat's yyyyMMddHHmmss form, in UTC+8.
func formatTime(t time.Time) string { return t.In(beijing).Format(timeLayout) }

// formatOptTime is formatTime for an optional time: zero is not sent.
func formatOptTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return formatTime(t)
}

// parseTime reads a yyyyMMddHHmmss time in UTC+8.
func parseTime(s string) (time.Time, error) {
	if len(s) != len(timeLayout) {
		return time.Time{}, wire.NewError("wxpay: ", "time must be 14 digits yyyyMMddHHmmss")
	}
	t, err := time.ParseInLocation(timeLayout, s, beijing)
	if err != nil {
		return time.Time{}, wire.NewError("wxpay: ", "time must be 14 digits yyyyMMddHHmmss")
	}
	return t, nil
}

// parseFen reads an amount in fen as WeChat writes it: decimal digits, no
// sign, no leading zeros, no exponent, at most 18 digits (so it fits int64
// with room). Anything looser could let two spellings of one amount differ
// between what was signed and what is compared.
func parseFen(s string) (int64, error) {
	if len(s) > 1 && s[0] == '0' {
		return 0, ErrAmount
	}
	n, ok := wire.ParseDigits(s, 18)
	if !ok {
		return 0, ErrAmount
	}
	return n, nil
}

// optFen reads an optional amount: absent or empty is 0.
func optFen(p Params, name string) (int64, error) {
	v, ok := p[name]
	if !ok || v == "" {
		return 0, nil
	}
	n, err := parseFen(v)
	if err != nil {
		return 0, fieldErr(name, err)
	}
	return n, nil
}

// requiredField returns the non-empty value of a field every genuine
// message of its kind carries.
func requiredField(p Params, name string) (string, error) {
	v := p[name]
	if v == "" {
		return "", fieldErr(name, ErrMissingField)
	}
	return v, nil
}

// requiredFen reads a required amount in fen.
func requiredFen(p Params, name string) (int64, error) {
	v, err := requiredField(p, name)
	if err != nil {
		return 0, err
	}
	n, err := parseFen(v)
	if err != nil {
		return 0, fieldErr(name, err)
	}
	return n, nil
}

// fieldErr names the field a parse error is about; the value is left out
// since it came from the network.
func fieldErr(name string, err error) error {
	return &FieldError{Field: name, Err: err}
}

// FieldError reports a field of a verified message that is missing or
// malformed, such as a total_fee of "0100".
type FieldError struct {
	Field string // wire name of the field, such as "total_fee"
	Err   error  // why: ErrMissingField, ErrAmount or a parse error
}

// Error names the field and the cause; never the field's value, which
// came from the network.
func (e *FieldError) Error() string { return "wxpay: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *FieldError) Text() string { return "field " + e.Field + ": " + wire.Text(e.Err) }

// Unwrap returns the cause, such as [ErrAmount].
func (e *FieldError) Unwrap() error { return e.Err }

// CouponType is coupon_type_$n: whether a coupon is pre-funded. It
// decides where the money of a refund comes from, and whether the coupon
// counts in settlement_total_fee.
//
// WeChat Pay docs (payment notification): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7
type CouponType string

// Coupon types.
const (
	CouponCash   CouponType = "CASH"    // 充值券: pre-funded by the merchant
	CouponNoCash CouponType = "NO_CASH" // 免充值券: not pre-funded
)

// Coupon is one coupon used on a payment, from the indexed coupon_id_$n,
// coupon_type_$n and coupon_fee_$n fields ($n from 0) of a payment
// notification or an orderquery answer.
//
// WeChat Pay docs (payment notification): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7
// WeChat Pay docs (orderquery): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_2
type Coupon struct {
	ID   string     // coupon_id_$n
	Type CouponType // may be empty: WeChat sometimes omits coupon_type_$n
	Fee  int64      // fen
}

// parseCoupons builds the coupon list from coupon_count and the indexed
// fields, however many there are. The count is bounded by the fields
// present, so a hostile coupon_count cannot make it allocate.
//
// WeChat's own sample notification describes a single coupon with the
// older, unindexed coupon_id and coupon_type (and the total coupon_fee);
// that shape is read as a one-coupon list rather than refused, since
// refusing a verified notification loses the payment it reports.
func parseCoupons(p Params) ([]Coupon, error) {
	raw, ok := p["coupon_count"]
	if !ok || raw == "" {
		return nil, nil
	}
	n, err := parseFen(raw)
	if err != nil {
		return nil, fieldErr("coupon_count", err)
	}
	if n > int64(len(p)) {
		return nil, fieldErr("coupon_count", wire.NewError("wxpay: ", "more coupons than fields"))
	}
	if n == 1 && p["coupon_id_0"] == "" && p["coupon_id"] != "" {
		return legacyCoupon(p)
	}
	cs := make([]Coupon, n)
	for i := range cs {
		idx := strconv.Itoa(i)
		id := p["coupon_id_"+idx]
		if id == "" {
			return nil, fieldErr("coupon_id_"+idx, ErrMissingField)
		}
		feeName := "coupon_fee_" + idx
		if p[feeName] == "" {
			return nil, fieldErr(feeName, ErrMissingField)
		}
		fee, err := optFen(p, feeName)
		if err != nil {
			return nil, err
		}
		cs[i] = Coupon{ID: id, Type: CouponType(p["coupon_type_"+idx]), Fee: fee}
	}
	return cs, nil
}

// legacyCoupon reads the unindexed one-coupon shape: coupon_id,
// coupon_type, and the fee from coupon_fee_0 or else the total coupon_fee.
func legacyCoupon(p Params) ([]Coupon, error) {
	feeName := "coupon_fee_0"
	if p[feeName] == "" {
		feeName = "coupon_fee"
	}
	if p[feeName] == "" {
		return nil, fieldErr(feeName, ErrMissingField)
	}
	fee, err := optFen(p, feeName)
	if err != nil {
		return nil, err
	}
	typ := p["coupon_type_0"]
	if typ == "" {
		typ = p["coupon_type"]
	}
	return []Coupon{{ID: p["coupon_id"], Type: CouponType(typ), Fee: fee}}, nil
}

// dropEmpty deletes fields with empty values from a verified message.
// They are not covered by the signature (empty values are skipped when
// signing), so anyone relaying a genuine message could add them; after
// this, every field left in the map is a signed one.
func dropEmpty(p Params) {
	for k, v := range p {
		if v == "" {
			delete(p, k)
		}
	}
}

// digits reports whether s is made of ASCII digits only (or is empty).
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// errEcho is the cause when an answer names another order than the one
// asked about.
var errEcho = wire.NewError("wxpay: ", "does not match the request")

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
