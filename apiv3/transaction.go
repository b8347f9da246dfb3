package apiv3

import (
	"strconv"
	"time"
)

// Currency is an ISO 4217 currency code as WeChat writes it in
// amount.currency and amount.payer_currency. Empty in a request means
// CNY, WeChat's default.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012525167
type Currency string

// CNY is the renminbi, the currency of nearly every payment.
const CNY Currency = "CNY"

// check refuses a currency that is not three upper-case letters (WeChat
// would answer PARAM_ERROR "Currency code is invalid"). field is the wire
// name reported, such as "amount.currency".
func (c Currency) check(op, field string) error {
	if c == "" {
		return nil
	}
	if len(c) != 3 || !isUpperAlpha(string(c)) {
		return &RequestError{Op: op, Field: field, Reason: "must be an ISO 4217 code of three upper-case letters, such as CNY"}
	}
	return nil
}

func isUpperAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// checkFen refuses an amount in fen that is not positive: WeChat needs at
// least 1 fen, and a zero or negative amount is always a caller's bug.
func checkFen(op, field string, fen int64) error {
	if fen <= 0 {
		return &RequestError{Op: op, Field: field, Reason: "must be a positive amount in fen (1 yuan = 100 fen)"}
	}
	return nil
}

// Amount is the amount of an order in a prepay request: Total in fen
// (分, 1 yuan = 100 fen), and its currency.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012525167
type Amount struct {
	// Total is the order amount in fen; it must be positive.
	Total int64 `json:"total"`
	// Currency is the order's currency; empty means CNY.
	Currency Currency `json:"currency,omitempty"`
}

// check validates a as the amount object named field.
func (a Amount) check(op, field string) error {
	if err := checkFen(op, field+".total", a.Total); err != nil {
		return err
	}
	return a.Currency.check(op, field+".currency")
}

// TradeState is the state of a payment (trade_state).
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/apis/mini-program-payment/query-by-out-trade-no.html
type TradeState string

// The trade states WeChat documents. Only TradeSuccess means the payer
// paid; TradeRefund means paid and then (partly) refunded.
const (
	TradeSuccess    TradeState = "SUCCESS"    // paid
	TradeRefund     TradeState = "REFUND"     // paid, then a refund was made
	TradeNotPay     TradeState = "NOTPAY"     // not paid (yet)
	TradeClosed     TradeState = "CLOSED"     // closed, by the merchant or on expiry
	TradeRevoked    TradeState = "REVOKED"    // revoked (code payment)
	TradeUserPaying TradeState = "USERPAYING" // the payer is entering the password; query again
	TradePayError   TradeState = "PAYERROR"   // the payment failed (bank refused, …)
)

// Paid reports whether the state means the payer's money arrived:
// SUCCESS, or REFUND (paid and since refunded in part or in full).
func (s TradeState) Paid() bool { return s == TradeSuccess || s == TradeRefund }

// TradeType is how the payer paid (trade_type).
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/apis/mini-program-payment/query-by-out-trade-no.html
type TradeType string

// The trade types WeChat documents.
const (
	TradeJSAPI    TradeType = "JSAPI"    // mini-program or official-account page
	TradeNative   TradeType = "NATIVE"   // QR code
	TradeApp      TradeType = "APP"      // in-app
	TradeMicropay TradeType = "MICROPAY" // payment code scanned by the merchant
	TradeMWeb     TradeType = "MWEB"     // H5, a browser outside WeChat
	TradeFacePay  TradeType = "FACEPAY"  // face payment
)

// TransactionAmount is the amount of a transaction as WeChat reports it.
type TransactionAmount struct {
	// Total is the order amount in fen (amount.total). Compare it with
	// the stored order before treating the order as paid.
	Total int64
	// PayerTotal is what the payer paid in cash after coupons and
	// discounts, in fen (amount.payer_total).
	PayerTotal int64
	// Currency is the order's currency (amount.currency), usually CNY.
	Currency Currency
	// PayerCurrency is the currency the payer paid in
	// (amount.payer_currency).
	PayerCurrency Currency
}

// Payer identifies the payer under the order's appid.
type Payer struct {
	// OpenID is the payer's openid under the appid the order was placed
	// with (payer.openid).
	OpenID string `json:"openid"`
}

// Promotion is one coupon or discount applied to a payment
// (promotion_detail[]).
type Promotion struct {
	CouponID            string   // coupon_id
	Name                string   // name
	Scope               string   // scope: GLOBAL or SINGLE
	Type                string   // type: CASH (pre-funded) or NOCASH
	Amount              int64    // amount, in fen
	StockID             string   // stock_id: the coupon batch
	WechatpayContribute int64    // wechatpay_contribute, in fen
	MerchantContribute  int64    // merchant_contribute, in fen
	OtherContribute     int64    // other_contribute, in fen
	Currency            Currency // currency
	Goods               []PromotionGoods
}

// PromotionGoods is one item a promotion applied to
// (promotion_detail[].goods_detail[]).
type PromotionGoods struct {
	GoodsID        string // goods_id
	Quantity       int64  // quantity
	UnitPrice      int64  // unit_price, in fen
	DiscountAmount int64  // discount_amount, in fen
	GoodsRemark    string // goods_remark
}

// Transaction is the view of a payment (订单) shared by
// [Client.QueryByOutTradeNo], [Client.QueryByTransactionID] and the
// TRANSACTION.SUCCESS notification of [Client.NotifyHandler]: the same
// fields, decoded by one function with the same rules.
//
// The fields a merchant acts on are strict: a transaction without mchid,
// out_trade_no or trade_state, or a paid one (SUCCESS, REFUND) without
// transaction_id or amount.total, is refused ([ErrJSON]), as is any
// negative amount. Amounts are int64 fen; the decoder refuses fractions,
// exponents and overflow.
//
// WeChat Pay docs (query): https://pay.weixin.qq.com/docs/merchant/apis/mini-program-payment/query-by-out-trade-no.html
// WeChat Pay docs (notification): https://pay.weixin.qq.com/doc/v3/merchant/4012791861
type Transaction struct {
	// AppID is the appid the order was placed with (appid). WeChat
	// documents it as optional in query answers; the notification
	// handler requires it to be the client's.
	AppID string
	// MchID is the merchant number (mchid).
	MchID string
	// OutTradeNo is the merchant's order number (out_trade_no).
	OutTradeNo string
	// TransactionID is WeChat's payment number (transaction_id); set once
	// paid.
	TransactionID string
	// TradeType is how the payer paid (trade_type).
	TradeType TradeType
	// TradeState is the payment's state (trade_state).
	TradeState TradeState
	// TradeStateDesc is WeChat's description of the state
	// (trade_state_desc), for people.
	TradeStateDesc string
	// BankType is the payer's bank or "OTHERS" (bank_type).
	BankType string
	// Attach is the attach of the order, echoed (attach).
	Attach string
	// SuccessTime is when the payment completed (success_time); zero
	// while unpaid.
	SuccessTime time.Time
	// Payer is who paid (payer.openid).
	Payer Payer
	// Amount is the order amount and what the payer paid.
	Amount TransactionAmount
	// DeviceID is scene_info.device_id, as given at prepay.
	DeviceID string
	// Promotions lists the coupons and discounts applied
	// (promotion_detail); nil when none.
	Promotions []Promotion
}

// transactionJSON is the wire form of a transaction. Amounts that must be
// present are pointers, so that absent and 0 differ; times are strings
// parsed after decoding (encoding/json's Unmarshaler path for a time
// costs more than the rest of the decode).
type transactionJSON struct {
	AppID          string `json:"appid"`
	MchID          string `json:"mchid"`
	OutTradeNo     string `json:"out_trade_no"`
	TransactionID  string `json:"transaction_id"`
	TradeType      string `json:"trade_type"`
	TradeState     string `json:"trade_state"`
	TradeStateDesc string `json:"trade_state_desc"`
	BankType       string `json:"bank_type"`
	Attach         string `json:"attach"`
	SuccessTime    string `json:"success_time"`
	Payer          *Payer `json:"payer"`
	Amount         *struct {
		Total         *int64 `json:"total"`
		PayerTotal    int64  `json:"payer_total"`
		Currency      string `json:"currency"`
		PayerCurrency string `json:"payer_currency"`
	} `json:"amount"`
	SceneInfo *struct {
		DeviceID string `json:"device_id"`
	} `json:"scene_info"`
	PromotionDetail []struct {
		CouponID            string `json:"coupon_id"`
		Name                string `json:"name"`
		Scope               string `json:"scope"`
		Type                string `json:"type"`
		Amount              int64  `json:"amount"`
		StockID             string `json:"stock_id"`
		WechatpayContribute int64  `json:"wechatpay_contribute"`
		MerchantContribute  int64  `json:"merchant_contribute"`
		OtherContribute     int64  `json:"other_contribute"`
		Currency            string `json:"currency"`
		GoodsDetail         []struct {
			GoodsID        string `json:"goods_id"`
			Quantity       int64  `json:"quantity"`
			UnitPrice      int64  `json:"unit_price"`
			DiscountAmount int64  `json:"discount_amount"`
			GoodsRemark    string `json:"goods_remark"`
		} `json:"goods_detail"`
	} `json:"promotion_detail"`
}

// transactionError is a transaction that decoded but breaks a rule of
// [Transaction]; it matches [ErrJSON] like every refused document.
func transactionError(reason string) error {
	return &JSONError{Offset: -1, Reason: "transaction " + reason}
}

// parseTransaction decodes a verified answer or a decrypted
// TRANSACTION.SUCCESS resource into a Transaction. It is the one mapping
// from the wire: query and notification both use it.
func parseTransaction(b []byte) (*Transaction, error) {
	var w transactionJSON
	if err := decodeJSON(b, &w); err != nil {
		return nil, err
	}
	switch {
	case w.MchID == "":
		return nil, transactionError("lacks mchid")
	case w.OutTradeNo == "":
		return nil, transactionError("lacks out_trade_no")
	case w.TradeState == "":
		return nil, transactionError("lacks trade_state")
	}
	t := &Transaction{
		AppID:          w.AppID,
		MchID:          w.MchID,
		OutTradeNo:     w.OutTradeNo,
		TransactionID:  w.TransactionID,
		TradeType:      TradeType(w.TradeType),
		TradeState:     TradeState(w.TradeState),
		TradeStateDesc: w.TradeStateDesc,
		BankType:       w.BankType,
		Attach:         w.Attach,
	}
	if w.Payer != nil {
		t.Payer = *w.Payer
	}
	if w.SceneInfo != nil {
		t.DeviceID = w.SceneInfo.DeviceID
	}
	if a := w.Amount; a != nil {
		if a.Total != nil {
			t.Amount.Total = *a.Total
		}
		t.Amount.PayerTotal = a.PayerTotal
		t.Amount.Currency = Currency(a.Currency)
		t.Amount.PayerCurrency = Currency(a.PayerCurrency)
		if t.Amount.Total < 0 || t.Amount.PayerTotal < 0 {
			return nil, transactionError("has a negative amount")
		}
	}
	if t.TradeState.Paid() {
		switch {
		case t.TransactionID == "":
			return nil, transactionError("is paid but lacks transaction_id")
		case w.Amount == nil || w.Amount.Total == nil:
			return nil, transactionError("is paid but lacks amount.total")
		}
	}
	if w.SuccessTime != "" {
		st, err := time.Parse(time.RFC3339Nano, w.SuccessTime)
		if err != nil {
			return nil, transactionError("has a success_time that is not RFC 3339")
		}
		t.SuccessTime = st
	}
	if len(w.PromotionDetail) > 0 {
		t.Promotions = make([]Promotion, len(w.PromotionDetail))
		for i, p := range w.PromotionDetail {
			if p.Amount < 0 || p.WechatpayContribute < 0 || p.MerchantContribute < 0 || p.OtherContribute < 0 {
				return nil, transactionError("has a negative amount in promotion_detail[" + strconv.Itoa(i) + "]")
			}
			q := Promotion{
				CouponID: p.CouponID, Name: p.Name, Scope: p.Scope, Type: p.Type, Amount: p.Amount,
				StockID: p.StockID, WechatpayContribute: p.WechatpayContribute, MerchantContribute: p.MerchantContribute,
				OtherContribute: p.OtherContribute, Currency: Currency(p.Currency),
			}
			if len(p.GoodsDetail) > 0 {
				q.Goods = make([]PromotionGoods, len(p.GoodsDetail))
				for j, g := range p.GoodsDetail {
					if g.Quantity < 0 || g.UnitPrice < 0 || g.DiscountAmount < 0 {
						return nil, transactionError("has a negative amount in promotion_detail[" + strconv.Itoa(i) + "].goods_detail")
					}
					q.Goods[j] = PromotionGoods(g)
				}
			}
			t.Promotions[i] = q
		}
	}
	return t, nil
}
