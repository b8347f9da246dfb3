package wxpay

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/internal/refsign"
)

func validMicroPay() *MicroPayRequest {
	return &MicroPayRequest{
		AuthCode: "120061098828009406", Body: "门店收银", OutTradeNo: "20240501164500-0003",
		TotalFee: 2550, SpbillCreateIP: "14.23.150.211",
	}
}

func microPayOK(req Params) Params {
	return okAnswer(Params{
		"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "is_subscribe": "N", "trade_type": "MICROPAY", "bank_type": "CMC",
		"total_fee": req["total_fee"], "cash_fee": req["total_fee"], "fee_type": "CNY",
		"transaction_id": "4200002222202405010000000003", "out_trade_no": req["out_trade_no"],
		"time_end": "20240501164531",
	})
}

func TestMicroPayGolden(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithRand(&seqReader{}))
	got := make(chan Params, 1)
	mux.HandleFunc("/pay/micropay", fakeWeChat(t, microPayOK, got))
	req := validMicroPay()
	req.DeviceInfo = "POS-07"
	req.Attach = "till 7"
	r, err := c.MicroPay(context.Background(), req)
	require.NoError(t, err)
	want := map[string]string{
		"appid": testAppID, "mch_id": testMchID, "nonce_str": firstSeqNonce, "sign_type": "MD5",
		"auth_code": "120061098828009406", "body": "门店收银", "out_trade_no": "20240501164500-0003",
		"total_fee": "2550", "spbill_create_ip": "14.23.150.211", "device_info": "POS-07", "attach": "till 7",
	}
	want["sign"] = refsign.Sign(want, testKey, "MD5")
	assert.Equal(t, Params(want), <-got)
	assert.Equal(t, "4200002222202405010000000003", r.TransactionID)
	assert.EqualValues(t, 2550, r.TotalFee)
	assert.Equal(t, TradeMicropay, r.TradeType)
	assert.False(t, r.TimeEnd.IsZero())
}

func TestMicroPayValidation(t *testing.T) {
	t.Parallel()
	c, _, ts := setup(t)
	for _, tc := range []struct {
		field string
		mod   func(*MicroPayRequest)
	}{
		{"auth_code", func(r *MicroPayRequest) { r.AuthCode = "" }},
		{"auth_code", func(r *MicroPayRequest) { r.AuthCode = "12006109882800940x" }},
		{"auth_code", func(r *MicroPayRequest) { r.AuthCode = strings.Repeat("1", 129) }},
		{"body", func(r *MicroPayRequest) { r.Body = "" }},
		{"total_fee", func(r *MicroPayRequest) { r.TotalFee = 0 }},
		{"spbill_create_ip", func(r *MicroPayRequest) { r.SpbillCreateIP = "till" }},
		{"out_trade_no", func(r *MicroPayRequest) { r.OutTradeNo = "" }},
		{"attach", func(r *MicroPayRequest) { r.Attach = "a=1&b=2" }},
		{"detail", func(r *MicroPayRequest) { r.Detail = "{" }},
		{"auth_code", func(r *MicroPayRequest) { r.Extra = Params{"auth_code": "1"} }},
		{"body", func(r *MicroPayRequest) { r.Body = "咖啡,`大杯" }},
		{"attach", func(r *MicroPayRequest) { r.Attach = "till\r\n7" }},
		{"device_info", func(r *MicroPayRequest) { r.DeviceInfo = "POS,`1" }},
	} {
		r := validMicroPay()
		tc.mod(r)
		_, err := c.MicroPay(context.Background(), r)
		var re *RequestError
		require.ErrorAs(t, err, &re, tc.field)
		assert.Equal(t, tc.field, re.Field)
		assert.NotContains(t, err.Error(), "120061098828009406", "the payment code is never echoed")
	}
	assert.EqualValues(t, 0, ts.Hits.Load())
}

func TestMicroPayErrorCodes(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var mu sync.Mutex
	code := ""
	mux.HandleFunc("/pay/micropay", fakeWeChat(t, func(Params) Params {
		mu.Lock()
		defer mu.Unlock()
		return okAnswer(Params{"result_code": "FAIL", "err_code": code, "err_code_des": "需要用户输入支付密码"})
	}, nil))
	for _, tc := range []struct {
		code      ErrorCode
		retryable bool
	}{
		{ErrCodeUserPaying, true}, {ErrCodeSystemError, true}, {ErrCodeBankError, true},
		{ErrCodeAuthCodeInvalid, false}, {ErrCodeTradeError, false}, {ErrCodeNotEnough, false},
		{ErrCodeOrderPaid, false}, {ErrCodeOrderClosed, false}, {ErrCodeParamError, false},
	} {
		mu.Lock()
		code = string(tc.code)
		mu.Unlock()
		_, err := c.MicroPay(context.Background(), validMicroPay())
		var we *Error
		require.ErrorAs(t, err, &we)
		assert.Equal(t, tc.code, we.Code)
		assert.Equal(t, tc.retryable, Retryable(err), tc.code)
		assert.Equal(t, tc.retryable, strings.Contains(err.Error(), "same out_trade_no"), err.Error())
	}
}

func TestMicroPayAnswerMustMatch(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var mu sync.Mutex
	var tweak func(Params)
	mux.HandleFunc("/pay/micropay", fakeWeChat(t, func(req Params) Params {
		a := microPayOK(req)
		mu.Lock()
		tweak(a)
		mu.Unlock()
		return a
	}, nil))
	for _, tc := range []struct {
		field string
		tweak func(Params)
	}{
		{"out_trade_no", func(a Params) { a["out_trade_no"] = "other" }},
		{"total_fee", func(a Params) { a["total_fee"] = "1" }},
		{"transaction_id", func(a Params) { delete(a, "transaction_id") }},
	} {
		mu.Lock()
		tweak = tc.tweak
		mu.Unlock()
		_, err := c.MicroPay(context.Background(), validMicroPay())
		var fe *FieldError
		require.ErrorAs(t, err, &fe, tc.field)
		assert.Equal(t, tc.field, fe.Field)
	}
}

func TestReverse(t *testing.T) {
	t.Parallel()
	s := newMTLSServer(t, true)
	var mu sync.Mutex
	answer := Params{}
	got := make(chan Params, 8)
	s.Mux.HandleFunc("/secapi/pay/reverse", fakeWeChat(t, func(Params) Params {
		mu.Lock()
		defer mu.Unlock()
		return okAnswer(answer)
	}, got))
	c := s.certClient(t, WithRand(&seqReader{}))
	set := func(p Params) {
		mu.Lock()
		answer = p
		mu.Unlock()
	}
	set(Params{"recall": "Y"})
	r, err := c.Reverse(context.Background(), &ReverseRequest{OutTradeNo: "20240501164500-0003"})
	require.NoError(t, err)
	assert.True(t, r.Recall)
	want := map[string]string{"appid": testAppID, "mch_id": testMchID, "nonce_str": firstSeqNonce, "sign_type": "MD5",
		"out_trade_no": "20240501164500-0003"}
	want["sign"] = refsign.Sign(want, testKey, "MD5")
	assert.Equal(t, Params(want), <-got)

	set(Params{"recall": "N"})
	r, err = c.Reverse(context.Background(), &ReverseRequest{TransactionID: "4200002222202405010000000003"})
	require.NoError(t, err)
	assert.False(t, r.Recall)
	<-got

	for _, p := range []Params{{}, {"recall": "y"}} {
		set(p)
		_, err = c.Reverse(context.Background(), &ReverseRequest{OutTradeNo: "o1"})
		var fe *FieldError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "recall", fe.Field)
		<-got
	}
	set(Params{"result_code": "FAIL", "err_code": "SYSTEMERROR"})
	_, err = c.Reverse(context.Background(), &ReverseRequest{OutTradeNo: "o1"})
	assert.True(t, Retryable(err))
	<-got

	var re *RequestError
	_, err = c.Reverse(context.Background(), &ReverseRequest{})
	require.ErrorAs(t, err, &re)
	_, err = c.Reverse(context.Background(), nil)
	require.ErrorAs(t, err, &re)
}
