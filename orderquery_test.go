package wxpay

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// paidAnswer is an orderquery answer for a paid order with three coupons
// (SILENCE-style SDKs read only indices 0-2; wxpay reads any count).
func paidAnswer() Params {
	return okAnswer(Params{
		"trade_state":          "SUCCESS",
		"trade_state_desc":     "支付成功",
		"openid":               "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
		"is_subscribe":         "N",
		"trade_type":           "JSAPI",
		"bank_type":            "CMC",
		"device_info":          "WEB",
		"fee_type":             "CNY",
		"total_fee":            "100",
		"settlement_total_fee": "90",
		"cash_fee":             "70",
		"cash_fee_type":        "CNY",
		"coupon_fee":           "30",
		"coupon_count":         "3",
		"coupon_type_0":        "CASH",
		"coupon_id_0":          "10000",
		"coupon_fee_0":         "10",
		"coupon_type_1":        "NO_CASH",
		"coupon_id_1":          "10001",
		"coupon_fee_1":         "10",
		"coupon_id_2":          "10002",
		"coupon_fee_2":         "10",
		"transaction_id":       "1004400740201409030005092168",
		"out_trade_no":         "1409811653",
		"attach":               "支付测试",
		"time_end":             "20141030133525",
	})
}

func TestOrderQueryGolden(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithRand(&seqReader{}))
	bodies := make(chan []byte, 1)
	mux.Handle("/pay/orderquery", captureBody(t, bodies, fakeWeChat(t, func(Params) Params { return paidAnswer() }, nil)))
	_, err := c.OrderQuery(context.Background(), &OrderQueryRequest{OutTradeNo: "1409811653"})
	require.NoError(t, err)
	body := <-bodies
	checkGolden(t, "orderquery_request", body)
	checkSentRequest(t, body, Params{"out_trade_no": "1409811653"})
}

func TestOrderQueryPaid(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/pay/orderquery", fakeWeChat(t, func(Params) Params { return paidAnswer() }, nil))
	r, err := c.OrderQuery(context.Background(), &OrderQueryRequest{OutTradeNo: "1409811653"})
	require.NoError(t, err)
	assert.Equal(t, TradeStateSuccess, r.TradeState)
	assert.Equal(t, "支付成功", r.TradeStateDesc)
	assert.Equal(t, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", r.OpenID)
	assert.False(t, r.IsSubscribe, "is_subscribe N")
	assert.Equal(t, TradeJSAPI, r.TradeType)
	assert.Equal(t, "CMC", r.BankType)
	assert.Equal(t, "WEB", r.DeviceInfo)
	assert.Equal(t, FeeCNY, r.FeeType)
	assert.Equal(t, FeeCNY, r.CashFeeType)
	assert.Equal(t, int64(100), r.TotalFee)
	assert.Equal(t, NullFen{90, true}, r.SettlementTotalFee)
	assert.Equal(t, NullFen{70, true}, r.CashFee)
	assert.Equal(t, NullFen{30, true}, r.CouponFee)
	assert.Empty(t, r.Unparsed)
	assert.Equal(t, []Coupon{
		{ID: "10000", Type: CouponCash, Fee: 10},
		{ID: "10001", Type: CouponNoCash, Fee: 10},
		{ID: "10002", Fee: 10},
	}, r.Coupons)
	assert.Equal(t, "1004400740201409030005092168", r.TransactionID)
	assert.Equal(t, "1409811653", r.OutTradeNo)
	assert.Equal(t, "支付测试", r.Attach)
	assert.True(t, r.TimeEnd.Equal(time.Date(2014, 10, 30, 5, 35, 25, 0, time.UTC)), "TimeEnd = %v", r.TimeEnd)
	assert.Equal(t, "3", r.Raw["coupon_count"])
}

func TestOrderQueryNotPaid(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/pay/orderquery", fakeWeChat(t, func(Params) Params {
		return okAnswer(Params{"trade_state": "NOTPAY", "trade_state_desc": "订单未支付", "out_trade_no": "1409811653"})
	}, nil))
	r, err := c.OrderQuery(context.Background(), &OrderQueryRequest{OutTradeNo: "1409811653"})
	require.NoError(t, err)
	assert.Equal(t, TradeStateNotPay, r.TradeState)
	assert.Zero(t, r.TotalFee)
	assert.Nil(t, r.Coupons)
	assert.True(t, r.TimeEnd.IsZero())
}

func TestOrderQueryByTransactionID(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	got := make(chan Params, 1)
	mux.HandleFunc("/pay/orderquery", fakeWeChat(t, func(Params) Params { return paidAnswer() }, got))
	_, err := c.OrderQuery(context.Background(), &OrderQueryRequest{
		TransactionID: "1004400740201409030005092168", OutTradeNo: "1409811653", // checked in the answer, not sent
	})
	require.NoError(t, err)
	req := <-got
	assert.Equal(t, "1004400740201409030005092168", req["transaction_id"])
	_, sentOut := req["out_trade_no"]
	assert.False(t, sentOut, "out_trade_no sent although transaction_id wins")
}

// TestOrderQueryStrict checks that verified but malformed or inconsistent
// answers are refused, never read as zero.
func TestOrderQueryStrict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(Params)
		field string
		is    error
	}{
		{"total_fee with leading zero", func(p Params) { p["total_fee"] = "0100" }, "total_fee", ErrAmount},
		{"total_fee decimal", func(p Params) { p["total_fee"] = "1.00" }, "total_fee", ErrAmount},
		{"trade_state missing", func(p Params) { delete(p, "trade_state") }, "trade_state", ErrMissingField},
		{"paid without total_fee", func(p Params) { delete(p, "total_fee") }, "total_fee", ErrMissingField},
		{"paid without transaction_id", func(p Params) { delete(p, "transaction_id") }, "transaction_id", ErrMissingField},
		{"another order", func(p Params) { p["out_trade_no"] = "1409811654" }, "out_trade_no", errEcho},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			mux.HandleFunc("/pay/orderquery", fakeWeChat(t, func(Params) Params {
				p := paidAnswer()
				tt.edit(p)
				return p
			}, nil))
			r, err := c.OrderQuery(context.Background(), &OrderQueryRequest{OutTradeNo: "1409811653"})
			assert.Nil(t, r)
			assertClean(t, err)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Field)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.True(t, strings.HasPrefix(err.Error(), "wxpay: orderquery: "), err.Error())
		})
	}
}

// TestAnswersDropUnsignedEmptyFields: empty values are not signed, so a
// relay can add empty fields to a genuine answer; Raw, like a
// notification's, holds only what the signature covered.
func TestAnswersDropUnsignedEmptyFields(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	// withEmpty answers p, signed, with unsigned empty fields added.
	withEmpty := func(p Params) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, err := signXML(testKey, SignMD5, p)
			if err != nil {
				t.Errorf("encode answer: %v", err)
				http.Error(w, "cannot encode answer", http.StatusInternalServerError)
				return
			}
			_, _ = w.Write(bytes.Replace(b, []byte("</xml>"), []byte("<sub_mch_id></sub_mch_id><promotion_detail><![CDATA[]]></promotion_detail></xml>"), 1))
		}
	}
	mux.HandleFunc("/pay/orderquery", withEmpty(paidAnswer()))
	mux.HandleFunc("/pay/unifiedorder", withEmpty(prepayAnswer(nil)))
	q, err := c.OrderQuery(context.Background(), &OrderQueryRequest{OutTradeNo: "1409811653"})
	require.NoError(t, err)
	assert.NotContains(t, q.Raw, "sub_mch_id")
	assert.NotContains(t, q.Raw, "promotion_detail")
	u, err := c.UnifiedOrder(context.Background(), validOrder())
	require.NoError(t, err)
	assert.NotContains(t, u.Raw, "sub_mch_id")
	assert.NotContains(t, u.Raw, "promotion_detail")
	for k, v := range u.Raw {
		assert.NotEmpty(t, v, k)
	}
}

// TestOrderQueryLenient checks that a verified answer is not refused
// over fields nobody acts on: they are reported as absent and named in
// Unparsed, like a notification's.
func TestOrderQueryLenient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		edit     func(Params)
		unparsed []string
	}{
		{"cash_fee negative", func(p Params) { p["cash_fee"] = "-1" }, []string{"cash_fee"}},
		{"coupon_fee exponent", func(p Params) { p["coupon_fee"] = "1e3" }, []string{"coupon_fee"}},
		{"settlement_total_fee space", func(p Params) { p["settlement_total_fee"] = " 90" }, []string{"settlement_total_fee"}},
		{"coupon_fee_1 malformed", func(p Params) { p["coupon_fee_1"] = "ten" }, []string{"coupon_count"}},
		{"coupon_id_2 missing", func(p Params) { delete(p, "coupon_id_2") }, []string{"coupon_count"}},
		{"paid without time_end", func(p Params) { delete(p, "time_end") }, nil},
		{"time_end malformed", func(p Params) { p["time_end"] = "2014-10-30" }, []string{"time_end"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			mux.HandleFunc("/pay/orderquery", fakeWeChat(t, func(Params) Params {
				p := paidAnswer()
				tt.edit(p)
				return p
			}, nil))
			r, err := c.OrderQuery(context.Background(), &OrderQueryRequest{OutTradeNo: "1409811653"})
			require.NoError(t, err)
			assert.Equal(t, TradeStateSuccess, r.TradeState)
			assert.Equal(t, int64(100), r.TotalFee)
			assert.Equal(t, tt.unparsed, r.Unparsed)
		})
	}
}

// TestOrderQueryEcho checks that a genuinely signed answer is used only if
// it names the order that was asked about. WeChat always echoes
// out_trade_no, and transaction_id too once the order is paid; an answer
// for an unpaid order carries only out_trade_no (WeChat Pay docs,
// jsapi.php?chapter=9_2).
func TestOrderQueryEcho(t *testing.T) {
	t.Parallel()
	const (
		txID  = "1004400740201409030005092168"
		outNo = "1409811653"
	)
	notPaid := func() Params {
		return okAnswer(Params{"trade_state": "NOTPAY", "trade_state_desc": "订单未支付", "out_trade_no": outNo})
	}
	byOut := &OrderQueryRequest{OutTradeNo: outNo}
	byTx := &OrderQueryRequest{TransactionID: txID}
	byBoth := &OrderQueryRequest{TransactionID: txID, OutTradeNo: outNo}
	tests := []struct {
		name   string
		req    *OrderQueryRequest
		answer func() Params
		edit   func(Params)
		field  string // "" means accepted
		is     error
	}{
		{"by out_trade_no, paid", byOut, paidAnswer, func(Params) {}, "", nil},
		{"by out_trade_no, not paid", byOut, notPaid, func(Params) {}, "", nil},
		{"by out_trade_no, paid, echo missing", byOut, paidAnswer, func(p Params) { delete(p, "out_trade_no") },
			"out_trade_no", ErrMissingField},
		{"by out_trade_no, paid, echo empty", byOut, paidAnswer, func(p Params) { p["out_trade_no"] = "" },
			"out_trade_no", ErrMissingField},
		{"by out_trade_no, not paid, echo missing", byOut, notPaid, func(p Params) { delete(p, "out_trade_no") },
			"out_trade_no", ErrMissingField},
		{"by out_trade_no, paid, other echo", byOut, paidAnswer, func(p Params) { p["out_trade_no"] = "1409811654" },
			"out_trade_no", errEcho},
		{"by out_trade_no, not paid, other echo", byOut, notPaid, func(p Params) { p["out_trade_no"] = "1409811654" },
			"out_trade_no", errEcho},
		{"by out_trade_no, echo extends the number", byOut, paidAnswer, func(p Params) { p["out_trade_no"] = "1409811653A" },
			"out_trade_no", errEcho},

		{"by transaction_id, paid", byTx, paidAnswer, func(Params) {}, "", nil},
		{"by transaction_id, not paid, only out_trade_no", byTx, notPaid, func(Params) {}, "", nil},
		{"by transaction_id, not paid, same transaction_id", byTx, notPaid, func(p Params) { p["transaction_id"] = txID }, "", nil},
		{"by transaction_id, paid, echo missing", byTx, paidAnswer, func(p Params) { delete(p, "transaction_id") },
			"transaction_id", ErrMissingField},
		{"by transaction_id, paid, other echo", byTx, paidAnswer, func(p Params) { p["transaction_id"] = "1004400740201409030005092169" },
			"transaction_id", errEcho},
		{"by transaction_id, paid, out_trade_no missing", byTx, paidAnswer, func(p Params) { delete(p, "out_trade_no") },
			"out_trade_no", ErrMissingField},
		{"by transaction_id, not paid, nothing echoed", byTx, notPaid, func(p Params) { delete(p, "out_trade_no") },
			"out_trade_no", ErrMissingField},
		{"by transaction_id, not paid, other transaction_id", byTx, notPaid, func(p Params) { p["transaction_id"] = "4200000015201711256947025404" },
			"transaction_id", errEcho},
		{"by transaction_id, refunded, other transaction_id", byTx, paidAnswer, func(p Params) {
			p["trade_state"] = "REFUND"
			p["transaction_id"] = "4200000015201711256947025404"
		}, "transaction_id", errEcho},

		// Asked by both numbers, WeChat is sent transaction_id only; the
		// answer must still be for the out_trade_no the caller named.
		{"by both, paid", byBoth, paidAnswer, func(Params) {}, "", nil},
		{"by both, paid, another order's out_trade_no", byBoth, paidAnswer, func(p Params) { p["out_trade_no"] = "CHEAP_ORDER" },
			"out_trade_no", errEcho},
		{"by both, paid, out_trade_no missing", byBoth, paidAnswer, func(p Params) { delete(p, "out_trade_no") },
			"out_trade_no", ErrMissingField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			mux.HandleFunc("/pay/orderquery", fakeWeChat(t, func(Params) Params {
				p := tt.answer()
				tt.edit(p)
				return p
			}, nil))
			r, err := c.OrderQuery(context.Background(), tt.req)
			if tt.field == "" {
				require.NoError(t, err)
				assert.Equal(t, outNo, r.OutTradeNo)
				return
			}
			assert.Nil(t, r)
			assertClean(t, err)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Field)
			assert.ErrorIs(t, err, tt.is)
			assert.False(t, errors.As(err, new(*Error)), "a verified answer about another order is not a WeChat FAIL")
			assert.True(t, strings.HasPrefix(err.Error(), "wxpay: orderquery: "), err.Error())
		})
	}
}

// TestParseOrderQueryEcho holds the echo rule on parseOrderQuery directly,
// including a request that names both numbers (which OrderQuery never
// sends, but the rule must still hold for each).
func TestParseOrderQueryEcho(t *testing.T) {
	t.Parallel()
	p := paidAnswer()
	_, err := parseOrderQuery(p, Params{"out_trade_no": "1409811653", "transaction_id": "1004400740201409030005092168"})
	require.NoError(t, err)
	_, err = parseOrderQuery(p, Params{"out_trade_no": "1409811653", "transaction_id": "1"})
	assert.ErrorIs(t, err, errEcho)
	_, err = parseOrderQuery(p, Params{"out_trade_no": "1", "transaction_id": "1004400740201409030005092168"})
	assert.ErrorIs(t, err, errEcho)
}

func TestOrderQueryValidation(t *testing.T) {
	t.Parallel()
	c, _, ts := setup(t)
	tests := []struct {
		name  string
		req   *OrderQueryRequest
		field string
	}{
		{"nil", nil, "request"},
		{"neither", &OrderQueryRequest{}, "out_trade_no"},
		{"bad out_trade_no", &OrderQueryRequest{OutTradeNo: "a/b"}, "out_trade_no"},
		{"long out_trade_no", &OrderQueryRequest{OutTradeNo: strings.Repeat("9", 33)}, "out_trade_no"},
		{"bad transaction_id", &OrderQueryRequest{TransactionID: "42000-0001"}, "transaction_id"},
		{"long transaction_id", &OrderQueryRequest{TransactionID: strings.Repeat("4", 33)}, "transaction_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.OrderQuery(context.Background(), tt.req)
			assertClean(t, err)
			var re *RequestError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tt.field, re.Field)
		})
	}
	assert.Zero(t, ts.Hits.Load())
}

func TestOrderQueryIsSubscribe(t *testing.T) {
	t.Parallel()
	p := paidAnswer()
	p["is_subscribe"] = "Y"
	r, err := parseOrderQuery(p, Params{"out_trade_no": p["out_trade_no"]})
	require.NoError(t, err)
	assert.True(t, r.IsSubscribe)
}
