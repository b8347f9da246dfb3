package wxpay

import "time"

// FeeType is an ISO 4217 currency code as WeChat writes it in fee_type and
// cash_fee_type. Empty means CNY, WeChat's default.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_1
type FeeType string

// FeeCNY is the renminbi, the currency of nearly every v2 payment.
const FeeCNY FeeType = "CNY"

// NullFen is an amount in fen (分) that a message may leave out, in the
// manner of database/sql's NullInt64: Valid is false when the field was
// absent, or present but malformed (its signed text is still in Raw).
// WeChat omits some amounts in genuine messages (its own sample
// notification has no cash_fee), so they are reported rather than refused.
type NullFen struct {
	// Fen is the amount in fen when Valid; 0 otherwise.
	Fen int64
	// Valid reports that the field was present and well-formed: only
	// then is Fen the message's amount rather than a stand-in 0.
	Valid bool
}

// nullFen reads an optional amount. A malformed value is reported in
// unparsed and left invalid, never guessed.
func nullFen(p Params, name string, unparsed *[]string) NullFen {
	v := p[name]
	if v == "" {
		return NullFen{}
	}
	n, err := parseFen(v)
	if err != nil {
		*unparsed = append(*unparsed, name)
		return NullFen{}
	}
	return NullFen{Fen: n, Valid: true}
}

// Payment is the view of a payment shared by [Notification] and
// [OrderQueryResponse]: the same fields, parsed by one function, with the
// same rules.
//
// The fields a merchant acts on (OutTradeNo, TransactionID, TotalFee) are
// strict: a signed message that lacks one or spells an amount loosely is
// refused with a [*FieldError]. Every other field is informational: when
// it is absent it is zero (or an invalid [NullFen]), and when it is
// present but malformed it is left zero and named in Unparsed, because
// refusing an authentic notification over a field nobody acts on would
// lose the payment it reports.
//
// WeChat Pay docs (payment notification): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7
// WeChat Pay docs (orderquery): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_2
type Payment struct {
	// OutTradeNo is out_trade_no: the merchant's order number.
	OutTradeNo string
	// TransactionID is transaction_id: WeChat's payment number. Always
	// set in a notification and for a paid order.
	TransactionID string
	// TotalFee is the order amount in fen. Compare it with the amount of
	// the stored order before treating the order as paid.
	TotalFee int64
	// FeeType is fee_type, the currency of TotalFee; empty means CNY.
	FeeType FeeType
	// CashFee is cash_fee: what the payer paid in cash, in fen.
	CashFee NullFen
	// CashFeeType is cash_fee_type, the currency of CashFee.
	CashFeeType FeeType
	// SettlementTotalFee is settlement_total_fee: TotalFee less
	// non-pre-funded (NO_CASH) coupons, what settles to the merchant.
	SettlementTotalFee NullFen
	// CouponFee is coupon_fee: the coupons' total, in fen.
	CouponFee NullFen
	// Coupons lists every coupon_*_$n, however many. It is nil when the
	// payment used none, and also when the coupon fields are inconsistent
	// (then "coupon_count" is in Unparsed).
	Coupons []Coupon
	// OpenID is openid: the payer, under the order's appid.
	OpenID string
	// IsSubscribe reports is_subscribe == "Y": the payer follows the
	// merchant's official account.
	IsSubscribe bool
	// TradeType is trade_type: how the payer paid.
	TradeType TradeType
	// BankType is bank_type, such as "CMC" or "OTHERS".
	BankType string
	// DeviceInfo is device_info, as given to UnifiedOrder.
	DeviceInfo string
	// Attach is attach, echoed from the order.
	Attach string
	// TimeEnd is time_end, when the payment completed (UTC+8); zero when
	// absent or malformed.
	TimeEnd time.Time
	// Unparsed names the informational fields that were present and
	// signed but malformed, and so are reported as absent above. It is
	// empty for every message WeChat documents.
	Unparsed []string
}

// parsePayment builds the payment view of a verified message. Only the
// fields named in required are strict: a notification requires
// out_trade_no, transaction_id and total_fee; an orderquery answer
// requires out_trade_no always and the other two only once paid.
func parsePayment(p Params, required ...string) (Payment, error) {
	for _, name := range required {
		if _, err := requiredField(p, name); err != nil {
			return Payment{}, err
		}
	}
	pay := Payment{
		OutTradeNo:    p["out_trade_no"],
		TransactionID: p["transaction_id"],
		FeeType:       FeeType(p["fee_type"]),
		CashFeeType:   FeeType(p["cash_fee_type"]),
		OpenID:        p["openid"],
		IsSubscribe:   p["is_subscribe"] == "Y",
		TradeType:     TradeType(p["trade_type"]),
		BankType:      p["bank_type"],
		DeviceInfo:    p["device_info"],
		Attach:        p["attach"],
	}
	var err error
	// total_fee is strict wherever it is present: it is what a merchant
	// compares with its order, so a loose spelling is never taken.
	if pay.TotalFee, err = optFen(p, "total_fee"); err != nil {
		return Payment{}, err
	}
	pay.CashFee = nullFen(p, "cash_fee", &pay.Unparsed)
	pay.SettlementTotalFee = nullFen(p, "settlement_total_fee", &pay.Unparsed)
	pay.CouponFee = nullFen(p, "coupon_fee", &pay.Unparsed)
	if pay.Coupons, err = parseCoupons(p); err != nil {
		pay.Coupons = nil
		pay.Unparsed = append(pay.Unparsed, "coupon_count")
	}
	if s := p["time_end"]; s != "" {
		if pay.TimeEnd, err = parseTime(s); err != nil {
			pay.TimeEnd = time.Time{}
			pay.Unparsed = append(pay.Unparsed, "time_end")
		}
	}
	return pay, nil
}
