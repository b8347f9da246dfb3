package apiv3

import (
	"context"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// refundAnswer is a refund object shaped like the example of WeChat's
// refund API page, for out_refund_no no.
func refundAnswer(no, status string) string {
	success := ""
	if status == "SUCCESS" {
		success = `"success_time":"2020-12-01T16:18:12+08:00",`
	}
	return `{"refund_id":"50000000382019052709732678859","out_refund_no":"` + no + `",` +
		`"transaction_id":"1217752501201407033233368018","out_trade_no":"1217752501201407033233368018",` +
		`"channel":"ORIGINAL","user_received_account":"招商银行信用卡0403",` + success +
		`"create_time":"2020-12-01T16:18:12+08:00","status":"` + status + `","funds_account":"UNSETTLED",` +
		`"amount":{"total":888,"refund":888,"from":[{"account":"AVAILABLE","amount":444},{"account":"UNAVAILABLE","amount":444}],` +
		`"payer_total":888,"payer_refund":888,"settlement_refund":888,"settlement_total":888,"discount_refund":0,"currency":"CNY"},` +
		`"promotion_detail":[{"promotion_id":"109519","scope":"SINGLE","type":"DISCOUNT","amount":5,"refund_amount":0,` +
		`"goods_detail":[{"merchant_goods_id":"1217752501201407033233368018","wechatpay_goods_id":"1001","goods_name":"iPhone6s 16G","unit_price":888,"refund_amount":888,"refund_quantity":1}]}]}`
}

// sampleRefundRequest is the request of WeChat's example, with goods
// amounts that fit the refund.
func sampleRefundRequest() *RefundRequest {
	return &RefundRequest{
		TransactionID: "1217752501201407033233368018",
		OutRefundNo:   "1217752501201407033233368018",
		Reason:        "商品已售完",
		NotifyURL:     "https://weixin.qq.com",
		FundsAccount:  FundsAvailable,
		Amount: RefundAmount{Refund: 888, Total: 888, Currency: CNY,
			From: []RefundFrom{{FundsAvailable, 444}, {FundsUnavailable, 444}}},
		GoodsDetail: []RefundGoods{{MerchantGoodsID: "1217752501201407033233368018", WechatpayGoodsID: "1001",
			GoodsName: "iPhone6s 16G", UnitPrice: 888, RefundAmount: 888, RefundQuantity: 1}},
	}
}

func TestRefundGoldenRequest(t *testing.T) {
	clock := newFakeClock(fixedNow)
	rf := newRecordingFake(t, clock.Now)
	rf.route("POST /v3/refund/domestic/refunds", func(*http.Request) (int, string) {
		return 200, refundAnswer("1217752501201407033233368018", "PROCESSING")
	})
	c := rfClient(t, rf, clock)
	ref, err := c.Refund(context.Background(), sampleRefundRequest())
	if err != nil {
		t.Fatal(err)
	}
	got := rf.last(t)
	const wantBody = `{"transaction_id":"1217752501201407033233368018","out_refund_no":"1217752501201407033233368018",` +
		`"reason":"商品已售完","notify_url":"https://weixin.qq.com","funds_account":"AVAILABLE",` +
		`"amount":{"refund":888,"total":888,"currency":"CNY","from":[{"account":"AVAILABLE","amount":444},{"account":"UNAVAILABLE","amount":444}]},` +
		`"goods_detail":[{"merchant_goods_id":"1217752501201407033233368018","wechatpay_goods_id":"1001","goods_name":"iPhone6s 16G","unit_price":888,"refund_amount":888,"refund_quantity":1}]}`
	// The fake answered 200 only after verifying the Authorization
	// header over this method, URI and body with the merchant's key.
	if got.method != "POST" || got.uri != "/v3/refund/domestic/refunds" || string(got.body) != wantBody {
		t.Fatalf("request = %s %s\n%s\nwant\n%s", got.method, got.uri, got.body, wantBody)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if ser := got.header.Get(HeaderSerial); ser != fakePubKeyID {
		t.Errorf("Wechatpay-Serial = %q", ser)
	}
	cst := time.FixedZone("", 8*3600)
	want := Refund{
		RefundID: "50000000382019052709732678859", OutRefundNo: "1217752501201407033233368018",
		TransactionID: "1217752501201407033233368018", OutTradeNo: "1217752501201407033233368018",
		Channel: RefundChannelOriginal, UserReceivedAccount: "招商银行信用卡0403",
		CreateTime: time.Date(2020, 12, 1, 16, 18, 12, 0, cst), Status: RefundProcessing, FundsAccount: FundsUnsettled,
		Amount: RefundAmountDetail{Total: 888, Refund: 888, From: []RefundFrom{{FundsAvailable, 444}, {FundsUnavailable, 444}},
			PayerTotal: 888, PayerRefund: 888, SettlementRefund: 888, SettlementTotal: 888, Currency: CNY},
	}
	if !ref.CreateTime.Equal(want.CreateTime) || !ref.SuccessTime.IsZero() {
		t.Fatalf("times = %v, %v", ref.CreateTime, ref.SuccessTime)
	}
	want.CreateTime = ref.CreateTime
	if len(ref.PromotionDetail) != 1 || ref.PromotionDetail[0].PromotionID != "109519" || ref.PromotionDetail[0].GoodsDetail[0].UnitPrice != 888 {
		t.Fatalf("promotion_detail = %+v", ref.PromotionDetail)
	}
	ref.PromotionDetail = nil
	gj, _ := json.Marshal(ref)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Fatalf("refund =\n%s\nwant\n%s", gj, wj)
	}

	// Minimal: an out_trade_no, the currency defaulted to CNY (it is
	// required on the wire), nothing optional sent.
	rf.route("POST /v3/refund/domestic/refunds", func(*http.Request) (int, string) {
		b := strings.Replace(refundAnswer("R1", "SUCCESS"), `"total":888,"refund":888`, `"total":1000,"refund":100`, 1)
		return 200, strings.Replace(b, `"payer_refund":888`, `"payer_refund":100`, 1)
	})
	ref, err = c.Refund(context.Background(), &RefundRequest{OutTradeNo: "1217752501201407033233368018", OutRefundNo: "R1", Amount: RefundAmount{Refund: 100, Total: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rf.last(t); string(got.body) != `{"out_trade_no":"1217752501201407033233368018","out_refund_no":"R1","amount":{"refund":100,"total":1000,"currency":"CNY"}}` {
		t.Fatalf("body = %s", got.body)
	}
	if ref.Status != RefundSuccess || !ref.SuccessTime.Equal(time.Date(2020, 12, 1, 8, 18, 12, 0, time.UTC)) {
		t.Fatalf("status %s at %v", ref.Status, ref.SuccessTime)
	}
}

func TestQueryRefundGoldenRequest(t *testing.T) {
	clock := newFakeClock(fixedNow)
	rf := newRecordingFake(t, clock.Now)
	rf.route("GET /v3/refund/domestic/refunds/R-1|2*3@4_5", func(*http.Request) (int, string) {
		return 200, refundAnswer("R-1|2*3@4_5", "SUCCESS")
	})
	c := rfClient(t, rf, clock)
	ref, err := c.QueryRefund(context.Background(), "R-1|2*3@4_5")
	if err != nil {
		t.Fatal(err)
	}
	got := rf.last(t)
	if got.method != "GET" || got.uri != "/v3/refund/domestic/refunds/R-1%7C2%2A3@4_5" || len(got.body) != 0 {
		t.Fatalf("request = %s %s %q", got.method, got.uri, got.body)
	}
	if ref.Status != RefundSuccess || ref.OutRefundNo != "R-1|2*3@4_5" {
		t.Fatalf("refund = %+v", ref)
	}
	// An answer about another refund is refused.
	rf.route("GET /v3/refund/domestic/refunds/R2", func(*http.Request) (int, string) { return 200, refundAnswer("R3", "SUCCESS") })
	if _, err := c.QueryRefund(context.Background(), "R2"); !errors.Is(err, errRefundEcho) {
		t.Fatalf("err = %v", err)
	}
}

// wechatDecrypt opens a sensitive field as WeChat does, with the private
// half of the WeChat Pay public key (testdata/v3/k-off.pem).
func wechatDecrypt(t *testing.T, ct string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(ct)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := rsa.DecryptOAEP(sha1.New(), nil, parseKeyPEM(t, loadVec(t, "k-off.pem")), b, nil)
	if err != nil {
		t.Fatalf("WeChat cannot decrypt the field: %v", err)
	}
	return string(pt)
}

func TestApplyAbnormalRefundGoldenRequest(t *testing.T) {
	clock := newFakeClock(fixedNow)
	rf := newRecordingFake(t, clock.Now)
	rf.route("POST /v3/refund/domestic/refunds/50000000382019052709732678859/apply-abnormal-refund", func(*http.Request) (int, string) {
		return 200, refundAnswer("1217752501201407033233368018", "PROCESSING")
	})
	c := rfClient(t, rf, clock)
	req := &AbnormalRefundRequest{RefundID: "50000000382019052709732678859", OutRefundNo: "1217752501201407033233368018",
		Type: AbnormalToUserBankCard, BankType: "ICBC_DEBIT", BankAccount: "6222021234567890123", RealName: "张三"}
	if _, err := c.ApplyAbnormalRefund(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	got := rf.last(t)
	if got.method != "POST" || got.uri != "/v3/refund/domestic/refunds/50000000382019052709732678859/apply-abnormal-refund" {
		t.Fatalf("request = %s %s", got.method, got.uri)
	}
	// WeChat needs the serial of the key the fields are encrypted under.
	if ser := got.header.Get(HeaderSerial); ser != fakePubKeyID {
		t.Fatalf("Wechatpay-Serial = %q", ser)
	}
	var body map[string]string
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body) != 5 || body["out_refund_no"] != "1217752501201407033233368018" || body["type"] != "USER_BANK_CARD" || body["bank_type"] != "ICBC_DEBIT" {
		t.Fatalf("body = %s", got.body)
	}
	if strings.Contains(string(got.body), "6222021234567890123") || strings.Contains(string(got.body), "张三") {
		t.Fatal("a sensitive field was sent in clear")
	}
	if a, n := wechatDecrypt(t, body["bank_account"]), wechatDecrypt(t, body["real_name"]); a != "6222021234567890123" || n != "张三" {
		t.Fatalf("decrypted %q, %q", a, n)
	}
	// Literally, with the ciphertexts put back in place.
	lit := `{"out_refund_no":"1217752501201407033233368018","type":"USER_BANK_CARD","bank_type":"ICBC_DEBIT","bank_account":"` +
		body["bank_account"] + `","real_name":"` + body["real_name"] + `"}`
	if string(got.body) != lit {
		t.Fatalf("body = %s", got.body)
	}
	// The personal fields never print.
	for _, s := range []string{req.String(), fmtAll(req), fmtAll(*req)} {
		if strings.Contains(s, "6222021234567890123") || strings.Contains(s, "张三") {
			t.Fatalf("printed: %s", s)
		}
	}

	// To the merchant's bank account: no bank fields, no encryption.
	if _, err := c.ApplyAbnormalRefund(context.Background(), &AbnormalRefundRequest{RefundID: "50000000382019052709732678859",
		OutRefundNo: "1217752501201407033233368018", Type: AbnormalToMerchantBankCard}); err != nil {
		t.Fatal(err)
	}
	if got := rf.last(t); string(got.body) != `{"out_refund_no":"1217752501201407033233368018","type":"MERCHANT_BANK_CARD"}` {
		t.Fatalf("body = %s", got.body)
	}
}

func TestRefundValidation(t *testing.T) {
	clock := newFakeClock(fixedNow)
	rf := newRecordingFake(t, clock.Now)
	c := rfClient(t, rf, clock)
	ctx := context.Background()
	refund := func(mod func(*RefundRequest)) func() error {
		return func() error {
			r := sampleRefundRequest()
			mod(r)
			_, err := c.Refund(ctx, r)
			return err
		}
	}
	abn := func(mod func(*AbnormalRefundRequest)) func() error {
		return func() error {
			r := &AbnormalRefundRequest{RefundID: "50000000382019052709732678859", OutRefundNo: "R1",
				Type: AbnormalToUserBankCard, BankType: "ICBC_DEBIT", BankAccount: "6222021234567890123", RealName: "张三"}
			mod(r)
			_, err := c.ApplyAbnormalRefund(ctx, r)
			return err
		}
	}
	cases := []struct {
		name  string
		call  func() error
		field string
	}{
		{"nil", func() error { _, err := c.Refund(ctx, nil); return err }, "request"},
		{"no order", refund(func(r *RefundRequest) { r.TransactionID = "" }), "transaction_id"},
		{"bad transaction_id", refund(func(r *RefundRequest) { r.TransactionID = "42 00" }), "transaction_id"},
		{"bad out_trade_no", refund(func(r *RefundRequest) { r.OutTradeNo = "T@1" }), "out_trade_no"},
		{"long out_trade_no", refund(func(r *RefundRequest) { r.OutTradeNo = strings.Repeat("1", 33) }), "out_trade_no"},
		{"no out_refund_no", refund(func(r *RefundRequest) { r.OutRefundNo = "" }), "out_refund_no"},
		{"bad out_refund_no", refund(func(r *RefundRequest) { r.OutRefundNo = "R 1" }), "out_refund_no"},
		{"long out_refund_no", refund(func(r *RefundRequest) { r.OutRefundNo = strings.Repeat("R", 65) }), "out_refund_no"},
		{"long reason", refund(func(r *RefundRequest) { r.Reason = strings.Repeat("退", 81) }), "reason"},
		{"bad reason", refund(func(r *RefundRequest) { r.Reason = "\xff" }), "reason"},
		{"emoji reason", refund(func(r *RefundRequest) { r.Reason = "sorry 😀" }), "body"},
		{"notify_url query", refund(func(r *RefundRequest) { r.NotifyURL = "https://m.example/n?x=1" }), "notify_url"},
		{"notify_url relative", refund(func(r *RefundRequest) { r.NotifyURL = "/notify" }), "notify_url"},
		{"funds_account", refund(func(r *RefundRequest) { r.FundsAccount = "BASIC" }), "funds_account"},
		{"zero refund", refund(func(r *RefundRequest) { r.Amount.Refund = 0 }), "amount.refund"},
		{"negative refund", refund(func(r *RefundRequest) { r.Amount.Refund = -1 }), "amount.refund"},
		{"zero total", refund(func(r *RefundRequest) { r.Amount.Total = 0 }), "amount.total"},
		{"refund over total", refund(func(r *RefundRequest) { r.Amount.Refund = 889; r.Amount.From = nil }), "amount.refund"},
		{"currency", refund(func(r *RefundRequest) { r.Amount.Currency = "rmb" }), "amount.currency"},
		{"from account", refund(func(r *RefundRequest) { r.Amount.From[1].Account = "BASIC" }), "amount.from[1].account"},
		{"from twice", refund(func(r *RefundRequest) { r.Amount.From[1].Account = FundsAvailable }), "amount.from[1].account"},
		{"from zero", refund(func(r *RefundRequest) { r.Amount.From[0].Amount = 0 }), "amount.from[0].amount"},
		{"from sum", refund(func(r *RefundRequest) { r.Amount.From[0].Amount = 443 }), "amount.from"},
		{"goods id", refund(func(r *RefundRequest) { r.GoodsDetail[0].MerchantGoodsID = "" }), "goods_detail[0].merchant_goods_id"},
		{"goods price", refund(func(r *RefundRequest) { r.GoodsDetail[0].UnitPrice = -1 }), "goods_detail[0].unit_price"},
		{"goods amount", refund(func(r *RefundRequest) { r.GoodsDetail[0].RefundAmount = 889 }), "goods_detail[0].refund_amount"},
		{"goods quantity", refund(func(r *RefundRequest) { r.GoodsDetail[0].RefundQuantity = 0 }), "goods_detail[0].refund_quantity"},
		{"query empty", func() error { _, err := c.QueryRefund(ctx, ""); return err }, "out_refund_no"},
		{"query slash", func() error { _, err := c.QueryRefund(ctx, "../../pay/transactions/id/1"); return err }, "out_refund_no"},
		{"abnormal nil", func() error { _, err := c.ApplyAbnormalRefund(ctx, nil); return err }, "request"},
		{"abnormal refund_id", abn(func(r *AbnormalRefundRequest) { r.RefundID = "" }), "refund_id"},
		{"abnormal refund_id path", abn(func(r *AbnormalRefundRequest) { r.RefundID = "1/../2" }), "refund_id"},
		{"abnormal out_refund_no", abn(func(r *AbnormalRefundRequest) { r.OutRefundNo = "" }), "out_refund_no"},
		{"abnormal type", abn(func(r *AbnormalRefundRequest) { r.Type = "" }), "type"},
		{"abnormal bank_type", abn(func(r *AbnormalRefundRequest) { r.BankType = "" }), "bank_type"},
		{"abnormal bank_account", abn(func(r *AbnormalRefundRequest) { r.BankAccount = "" }), "bank_account"},
		{"abnormal bank_account letters", abn(func(r *AbnormalRefundRequest) { r.BankAccount = "6222 0212" }), "bank_account"},
		{"abnormal real_name", abn(func(r *AbnormalRefundRequest) { r.RealName = "" }), "real_name"},
		{"abnormal merchant with card", abn(func(r *AbnormalRefundRequest) { r.Type = AbnormalToMerchantBankCard }), "bank_account"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var re *RequestError
			if !errors.As(err, &re) || re.Field != tc.field {
				t.Fatalf("err = %v, want a RequestError on %s", err, tc.field)
			}
			// The refused value is not repeated (it may be personal).
			if strings.Contains(err.Error(), "6222") || strings.Contains(err.Error(), "张三") {
				t.Fatalf("error quotes the value: %v", err)
			}
			if Retryable(err) {
				t.Fatal("a RequestError is not retryable")
			}
		})
	}
	if n := len(rf.recorded()); n != 0 {
		t.Fatalf("%d requests were sent for invalid input", n)
	}
}

func TestRefundErrorCodes(t *testing.T) {
	cases := []struct {
		status int
		body   string
		code   ErrorCode
		// unknown: the outcome is unknown (retry with the same
		// out_refund_no); otherwise WeChat's definite refusal.
		unknown bool
	}{
		{403, `{"code":"NOT_ENOUGH","message":"基本账户余额不足，请充值后重新发起"}`, ErrCodeNotEnoughRefund, false},
		{404, `{"code":"RESOURCE_NOT_EXISTS","message":"订单不存在"}`, ErrCodeResourceNotExists, false},
		{400, `{"code":"PARAM_ERROR","message":"参数错误","detail":{"field":"/amount/refund","value":0,"issue":"must be positive","location":"body"}}`, ErrCodeParamError, false},
		{400, `{"code":"INVALID_REQUEST","message":"请求参数符合参数格式，但不符合业务规则"}`, ErrCodeInvalidRequest, false},
		{403, `{"code":"USER_ACCOUNT_ABNORMAL","message":"退款请求失败"}`, ErrCodeUserAccountAbnormal, false},
		{400, `{"code":"MCH_NOT_EXISTS","message":"商户号不存在"}`, ErrCodeMchNotExists, false},
		{403, `{"code":"NO_AUTH","message":"没有退款权限"}`, ErrCodeNoAuth, false},
		{429, `{"code":"FREQUENCY_LIMITED","message":"频率限制"}`, ErrCodeFrequencyLimited, true},
		{500, `{"code":"SYSTEM_ERROR","message":"系统超时"}`, ErrCodeSystemError, true},
	}
	for _, tc := range cases {
		t.Run(string(tc.code), func(t *testing.T) {
			clock := newFakeClock(fixedNow)
			rf := newRecordingFake(t, clock.Now)
			rf.route("POST /v3/refund/domestic/refunds", func(*http.Request) (int, string) { return tc.status, tc.body })
			rf.route("GET /v3/refund/domestic/refunds/R1", func(*http.Request) (int, string) { return tc.status, tc.body })
			c := rfClient(t, rf, clock)
			r := sampleRefundRequest()
			r.OutRefundNo = "R1"
			_, err := c.Refund(context.Background(), r)
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.code || e.StatusCode != tc.status || !e.Verified {
				t.Fatalf("err = %v, want a verified %d %s", err, tc.status, tc.code)
			}
			var oe *OutcomeUnknownError
			if errors.As(err, &oe) != tc.unknown {
				t.Fatalf("outcome unknown = %v: %v", !tc.unknown, err)
			}
			if tc.unknown {
				if oe.Key != "out_refund_no" || !strings.Contains(err.Error(), "retry with the same out_refund_no") || !Retryable(err) {
					t.Fatalf("err = %v", err)
				}
			} else if Retryable(err) {
				t.Fatalf("a definite refusal is retryable: %v", err)
			}
			// The query has no idempotency key: the same answer is a
			// plain *Error.
			_, err = c.QueryRefund(context.Background(), "R1")
			if !errors.As(err, &e) || e.Code != tc.code || errors.As(err, &oe) {
				t.Fatalf("query: err = %v", err)
			}
		})
	}
	t.Run("SIGN_ERROR", func(t *testing.T) {
		clock := newFakeClock(fixedNow)
		rf := newRecordingFake(t, clock.Now)
		cfg := baseConfig(t)
		cfg.MerchantSerialNo = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"
		c := clientFor(t, rf.fakeWeChat, cfg, clock)
		_, err := c.Refund(context.Background(), sampleRefundRequest())
		var e *Error
		var oe *OutcomeUnknownError
		// WeChat's own unsigned refusal of the signature is definite:
		// nothing was refunded.
		if !errors.As(err, &e) || e.Code != ErrCodeSignError || e.Verified || errors.As(err, &oe) || Retryable(err) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRefundOutcomeUnknown(t *testing.T) {
	cases := []struct {
		name   string
		answer string
		hook   func(http.Header, []byte) (http.Header, []byte)
		cause  error
	}{
		{"forged answer", refundAnswer("1217752501201407033233368018", "PROCESSING"),
			func(h http.Header, b []byte) (http.Header, []byte) {
				return h, []byte(strings.Replace(string(b), "888", "889", 1))
			}, ErrSignature},
		{"another refund", refundAnswer("OTHER", "PROCESSING"), nil, errRefundEcho},
		{"other amount", strings.Replace(refundAnswer("1217752501201407033233368018", "PROCESSING"), `"total":888,"refund":888`, `"total":999,"refund":888`, 1), nil, errRefundEcho},
		{"unknown status", refundAnswer("1217752501201407033233368018", "DONE"), nil, ErrRefundObject},
		{"float amount", strings.Replace(refundAnswer("1217752501201407033233368018", "PROCESSING"), `"refund":888`, `"refund":888.0`, 1), nil, ErrJSON},
		{"duplicate key", strings.Replace(refundAnswer("1217752501201407033233368018", "PROCESSING"), `"status":"PROCESSING"`, `"status":"PROCESSING","Status":"SUCCESS"`, 1), nil, ErrJSON},
		{"gateway page", "<html>502 Bad Gateway</html>", func(h http.Header, b []byte) (http.Header, []byte) { return http.Header{}, b }, ErrMissingSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(fixedNow)
			rf := newRecordingFake(t, clock.Now)
			rf.route("POST /v3/refund/domestic/refunds", func(*http.Request) (int, string) { return 200, tc.answer })
			if tc.hook != nil {
				rf.setHook(tc.hook)
			}
			c := rfClient(t, rf, clock)
			_, err := c.Refund(context.Background(), sampleRefundRequest())
			var oe *OutcomeUnknownError
			if !errors.As(err, &oe) || oe.Key != "out_refund_no" || !errors.Is(err, tc.cause) || !Retryable(err) {
				t.Fatalf("err = %v, want an OutcomeUnknownError caused by %v", err, tc.cause)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		clock := newFakeClock(fixedNow)
		rf := newRecordingFake(t, clock.Now)
		release := make(chan struct{})
		defer close(release)
		rf.route("POST /v3/refund/domestic/refunds", func(r *http.Request) (int, string) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return 200, "{}"
		})
		c := rfClient(t, rf, clock)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := c.Refund(ctx, sampleRefundRequest())
		var oe *OutcomeUnknownError
		if !errors.As(err, &oe) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestParseRefundRefusals(t *testing.T) {
	ok := refundAnswer("R1", "SUCCESS")
	if _, err := parseRefund([]byte(ok)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, body string }{
		{"no refund_id", strings.Replace(ok, `"refund_id":"50000000382019052709732678859",`, ``, 1)},
		{"no out_refund_no", strings.Replace(ok, `"out_refund_no":"R1",`, ``, 1)},
		{"lower-case status", strings.Replace(ok, `"status":"SUCCESS"`, `"status":"success"`, 1)},
		{"no amount", strings.Replace(ok, `"amount":{"total"`, `"amount_":{"total"`, 1)},
		{"negative refund", strings.Replace(ok, `"total":888,"refund":888`, `"total":888,"refund":-888`, 1)},
		{"refund over total", strings.Replace(ok, `"total":888,"refund":888`, `"total":88,"refund":888`, 1)},
		{"payer refund over refund", strings.Replace(ok, `"payer_refund":888`, `"payer_refund":889`, 1)},
		{"success without time", strings.Replace(ok, `"success_time":"2020-12-01T16:18:12+08:00",`, ``, 1)},
		{"time without zone", strings.Replace(ok, `"create_time":"2020-12-01T16:18:12+08:00"`, `"create_time":"2020-12-01 16:18:12"`, 1)},
		{"amount as string", strings.Replace(ok, `"refund":888`, `"refund":"888"`, 1)},
		{"exponent", strings.Replace(ok, `"refund":888`, `"refund":8.88e2`, 1)},
		{"overflow", strings.Replace(ok, `"refund":888`, `"refund":92233720368547758070`, 1)},
		{"not JSON", `<xml><return_code>SUCCESS</return_code></xml>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.body == ok {
				t.Fatal("case does not change the body")
			}
			_, err := parseRefund([]byte(tc.body))
			if !errors.Is(err, ErrRefundObject) && !errors.Is(err, ErrJSON) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// FuzzParseRefund: any bytes give a refund object that satisfies the
// documented checks, or ErrRefundObject / ErrJSON; never a panic.
func FuzzParseRefund(f *testing.F) {
	f.Add([]byte(refundAnswer("R1", "SUCCESS")))
	f.Add([]byte(refundAnswer("R1", "PROCESSING")))
	f.Add([]byte(`{"refund_id":"1","out_refund_no":"2","status":"CLOSED","amount":{"total":1,"refund":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRefund(b)
		if err != nil {
			if !errors.Is(err, ErrRefundObject) && !errors.Is(err, ErrJSON) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if r.RefundID == "" || r.OutRefundNo == "" || !r.Status.known() || r.Amount.Refund <= 0 ||
			r.Amount.Total < r.Amount.Refund || (r.Status == RefundSuccess && r.SuccessTime.IsZero()) {
			t.Fatalf("accepted %+v", r)
		}
	})
}

// fmtAll prints v with every fmt verb the tests care about and through
// slog's JSON handler.
func fmtAll(v any) string {
	var buf strings.Builder
	fmt.Fprintf(&buf, "%v|%+v|%#v|%s|%q|", v, v, v, v, v)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
	return buf.String()
}

// TestRefundRetrySameKey plays the double-refund story: the first
// attempt meets SYSTEM_ERROR, the second a timeout after WeChat took
// the refund, the third the answer. A caller that retries while
// Retryable says so, with the same request, sends one out_refund_no
// three times, and the fake (which, like WeChat, refunds a number once)
// records one refund.
func TestRefundRetrySameKey(t *testing.T) {
	clock := newFakeClock(fixedNow)
	rf := newRecordingFake(t, clock.Now)
	var mu sync.Mutex
	attempts, refunds := 0, map[string]int64{}
	rf.route("POST /v3/refund/domestic/refunds", func(r *http.Request) (int, string) {
		mu.Lock()
		attempts++
		n := attempts
		mu.Unlock()
		if n == 1 {
			return 500, `{"code":"SYSTEM_ERROR","message":"系统超时"}`
		}
		var b struct {
			OutRefundNo string `json:"out_refund_no"`
			Amount      struct{ Refund int64 }
		}
		rec := rf.last(t)
		_ = json.Unmarshal(rec.body, &b)
		mu.Lock()
		if _, done := refunds[b.OutRefundNo]; !done {
			refunds[b.OutRefundNo] = b.Amount.Refund
		}
		mu.Unlock()
		if n == 2 {
			<-r.Context().Done() // the refund is taken; the answer never arrives
		}
		return 200, refundAnswer(b.OutRefundNo, "PROCESSING")
	})
	c := rfClient(t, rf, clock)
	req := sampleRefundRequest()
	var err error
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err = c.Refund(ctx, req)
		cancel()
		if !Retryable(err) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	rs := rf.recorded()
	if len(rs) != 3 || len(refunds) != 1 {
		t.Fatalf("%d attempts, %d refunds", len(rs), len(refunds))
	}
	for _, r := range rs[1:] {
		if string(r.body) != string(rs[0].body) {
			t.Fatalf("a retry changed the request:\n%s\n%s", rs[0].body, r.body)
		}
	}
}

// TestApplyAbnormalRefundPlatformCertificate: a merchant on platform
// certificates encrypts under the newest certificate and names its
// serial in Wechatpay-Serial, as WeChat requires to decrypt.
func TestApplyAbnormalRefundPlatformCertificate(t *testing.T) {
	clock := newFakeClock(fixedNow)
	rf := newRecordingFake(t, clock.Now)
	wgo := parseKeyPEM(t, loadVec(t, "k-wgo.pem"))
	rf.setCerts(makeCert(t, wgo, fakeCertSerial, fixedNow.Add(-24*time.Hour), fixedNow.Add(365*24*time.Hour)))
	rf.setSigner(fakeKey{fakeCertSerial, wgo})
	rf.route("POST /v3/refund/domestic/refunds/50000000382019052709732678859/apply-abnormal-refund", func(*http.Request) (int, string) {
		return 200, refundAnswer("R1", "PROCESSING")
	})
	cfg := baseConfig(t)
	cfg.PublicKeyID, cfg.PublicKey, cfg.PlatformCertificates = "", nil, true
	c := clientFor(t, rf.fakeWeChat, cfg, clock)
	if _, err := c.ApplyAbnormalRefund(context.Background(), &AbnormalRefundRequest{RefundID: "50000000382019052709732678859",
		OutRefundNo: "R1", Type: AbnormalToUserBankCard, BankType: "ICBC_DEBIT", BankAccount: "6222021234567890123", RealName: "张三"}); err != nil {
		t.Fatal(err)
	}
	got := rf.last(t)
	if ser := got.header.Get(HeaderSerial); ser != fakeCertSerial {
		t.Fatalf("Wechatpay-Serial = %q, want the certificate's %s", ser, fakeCertSerial)
	}
	var body map[string]string
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatal(err)
	}
	ct, err := base64.StdEncoding.DecodeString(body["real_name"])
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := rsa.DecryptOAEP(sha1.New(), nil, wgo, ct, nil); err != nil || string(pt) != "张三" {
		t.Fatalf("the certificate's key opens %q, %v", pt, err)
	}
}
