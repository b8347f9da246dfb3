package apiv3

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// v5Plaintext is the decrypted resource of the payment notification of
// testdata/v3/notify-v5.json, written out here as the protocol notes print it.
const v5Plaintext = `{"mchid":"1230000109","appid":"wxd678efh567hg6787","out_trade_no":"1217752501201407033233368018","transaction_id":"4200000000000000000000000001","trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"OTHERS","attach":"","success_time":"2026-01-02T15:04:05+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}`

// queryAnswer is the shape of the answer example of WeChat's query page,
// with a coupon, field for field.
const queryAnswer = `{"amount":{"currency":"CNY","payer_currency":"CNY","payer_total":90,"total":100},"appid":"wxd678efh567hg6787","attach":"自定义数据","bank_type":"CMC","mchid":"1230000109","out_trade_no":"1217752501201407033233368018","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"promotion_detail":[{"amount":10,"coupon_id":"109519","currency":"CNY","goods_detail":[{"discount_amount":1,"goods_id":"M1006","goods_remark":"商品备注信息","quantity":1,"unit_price":100}],"merchant_contribute":0,"name":"单品惠-6","other_contribute":0,"scope":"GLOBAL","stock_id":"931386","type":"CASH","wechatpay_contribute":10}],"scene_info":{"device_id":"013467007045764"},"success_time":"2018-06-08T10:34:56+08:00","trade_state":"SUCCESS","trade_state_desc":"支付成功","trade_type":"JSAPI","transaction_id":"1217752501201407033233368018"}`

func TestParseTransaction(t *testing.T) {
	cst := time.FixedZone("", 8*3600)
	got, err := parseTransaction([]byte(v5Plaintext))
	if err != nil {
		t.Fatal(err)
	}
	want := &Transaction{
		AppID: "wxd678efh567hg6787", MchID: "1230000109", OutTradeNo: "1217752501201407033233368018",
		TransactionID: "4200000000000000000000000001", TradeType: TradeJSAPI, TradeState: TradeSuccess,
		TradeStateDesc: "支付成功", BankType: "OTHERS",
		SuccessTime: time.Date(2026, 1, 2, 15, 4, 5, 0, cst),
		Payer:       Payer{OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
		Amount:      TransactionAmount{Total: 100, PayerTotal: 100, Currency: CNY, PayerCurrency: CNY},
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); d != "" {
		t.Fatalf("V5 plaintext (-want +got):\n%s", d)
	}

	got, err = parseTransaction([]byte(queryAnswer))
	if err != nil {
		t.Fatal(err)
	}
	wantPromo := []Promotion{{
		CouponID: "109519", Name: "单品惠-6", Scope: "GLOBAL", Type: "CASH", Amount: 10, StockID: "931386",
		WechatpayContribute: 10, Currency: CNY,
		Goods: []PromotionGoods{{GoodsID: "M1006", Quantity: 1, UnitPrice: 100, DiscountAmount: 1, GoodsRemark: "商品备注信息"}},
	}}
	if d := cmp.Diff(wantPromo, got.Promotions); d != "" {
		t.Fatalf("promotions (-want +got):\n%s", d)
	}
	if got.Amount.PayerTotal != 90 || got.DeviceID != "013467007045764" || got.Attach != "自定义数据" || got.BankType != "CMC" {
		t.Fatalf("query answer: %+v", got)
	}

	// An unpaid order has neither transaction_id nor success_time, and
	// may omit appid: that is not an error.
	unpaid := `{"mchid":"1230000109","out_trade_no":"A1","trade_state":"NOTPAY","trade_state_desc":"订单未支付","amount":{"total":100,"currency":"CNY"}}`
	got, err = parseTransaction([]byte(unpaid))
	if err != nil || got.TradeState != TradeNotPay || got.TradeState.Paid() || !got.SuccessTime.IsZero() {
		t.Fatalf("unpaid: %+v, %v", got, err)
	}
}

func TestParseTransactionRefused(t *testing.T) {
	base := func(repl ...string) string {
		return strings.NewReplacer(repl...).Replace(v5Plaintext)
	}
	cases := []struct {
		name, body, reason string
	}{
		{"empty", ``, "unexpected end"},
		{"not an object", `[]`, "wrong type"},
		{"no mchid", base(`"mchid":"1230000109",`, ``), "lacks mchid"},
		{"no out_trade_no", base(`"out_trade_no":"1217752501201407033233368018",`, ``), "lacks out_trade_no"},
		{"no trade_state", base(`"trade_state":"SUCCESS",`, ``), "lacks trade_state"},
		{"paid without transaction_id", base(`"transaction_id":"4200000000000000000000000001",`, ``), "lacks transaction_id"},
		{"paid without amount", base(`,"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}`, ``), "lacks amount.total"},
		{"paid without total", base(`"total":100,`, ``), "lacks amount.total"},
		{"refund state without total", base(`"total":100,`, ``, `"SUCCESS"`, `"REFUND"`), "lacks amount.total"},
		{"negative total", base(`"total":100`, `"total":-100`), "negative amount"},
		{"negative payer_total", base(`"payer_total":100`, `"payer_total":-1`), "negative amount"},
		{"fractional total", base(`"total":100`, `"total":100.0`), "not an integer"},
		{"exponent total", base(`"total":100`, `"total":1e2`), "not an integer"},
		{"overflowing total", base(`"total":100`, `"total":9223372036854775808`), "int64 range"},
		{"string total", base(`"total":100`, `"total":"100"`), "wrong type"},
		{"duplicate total", base(`"total":100`, `"total":100,"total":1`), "duplicate key"},
		{"duplicate mchid by case", base(`"mchid":"1230000109"`, `"mchid":"1230000109","MCHID":"1900000000"`), "duplicate key"},
		{"bad success_time", base(`2026-01-02T15:04:05+08:00`, `2026-01-02 15:04:05`), "success_time"},
		{"negative promotion", strings.Replace(queryAnswer, `"amount":10,`, `"amount":-10,`, 1), "promotion_detail[0]"},
		{"negative promotion goods", strings.Replace(queryAnswer, `"unit_price":100`, `"unit_price":-100`, 1), "goods_detail"},
		{"invalid UTF-8", base(`支付成功`, "\xff"), "UTF-8"},
		{"deep nesting", `{"mchid":` + strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `}`, "nesting"},
		{"trailing data", v5Plaintext + `{}`, "after the top-level"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := parseTransaction([]byte(tc.body))
			if err == nil || tr != nil {
				t.Fatalf("accepted: %+v", tr)
			}
			if !errors.Is(err, ErrJSON) {
				t.Fatalf("error %v does not match ErrJSON", err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %q, want it to say %q", err, tc.reason)
			}
		})
	}
}

// FuzzParseTransaction: whatever the bytes, the decoder returns a
// transaction or an ErrJSON, never panics, and what it accepts keeps its
// rules.
func FuzzParseTransaction(f *testing.F) {
	f.Add([]byte(v5Plaintext))
	f.Add([]byte(queryAnswer))
	f.Add([]byte(`{"mchid":"1","out_trade_no":"x","trade_state":"NOTPAY"}`))
	f.Add([]byte(`{"mchid":"1","out_trade_no":"x","trade_state":"SUCCESS","transaction_id":"4","amount":{"total":-1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := parseTransaction(b)
		if err != nil {
			if tr != nil || !errors.Is(err, ErrJSON) {
				t.Fatalf("error %v with %+v", err, tr)
			}
			return
		}
		if tr.MchID == "" || tr.OutTradeNo == "" || tr.TradeState == "" || tr.Amount.Total < 0 || tr.Amount.PayerTotal < 0 {
			t.Fatalf("accepted a transaction breaking the rules: %+v", tr)
		}
		if tr.TradeState.Paid() && tr.TransactionID == "" {
			t.Fatalf("paid without transaction_id: %+v", tr)
		}
	})
}

func TestAmountCheck(t *testing.T) {
	for _, tc := range []struct {
		a     Amount
		field string
	}{
		{Amount{Total: 0}, "amount.total"},
		{Amount{Total: -1}, "amount.total"},
		{Amount{Total: 1, Currency: "cny"}, "amount.currency"},
		{Amount{Total: 1, Currency: "CNYY"}, "amount.currency"},
		{Amount{Total: 1, Currency: "C1Y"}, "amount.currency"},
	} {
		var re *RequestError
		if err := tc.a.check("op", "amount"); !errors.As(err, &re) || re.Field != tc.field {
			t.Errorf("%+v: %v, want a RequestError naming %s", tc.a, err, tc.field)
		}
	}
	for _, a := range []Amount{{Total: 1}, {Total: 100, Currency: CNY}, {Total: 1 << 40, Currency: "USD"}} {
		if err := a.check("op", "amount"); err != nil {
			t.Errorf("%+v refused: %v", a, err)
		}
	}
}
