package v3compat

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/apiv3"
)

const refundObject = `{"refund_id":"50000000382019052709732678859","out_refund_no":"1217752501201407033233368018",` +
	`"transaction_id":"1217752501201407033233368018","out_trade_no":"1217752501201407033233368018","channel":"ORIGINAL",` +
	`"user_received_account":"招商银行信用卡0403","success_time":"2020-12-01T16:18:12+08:00","create_time":"2020-12-01T16:18:12+08:00",` +
	`"status":"SUCCESS","funds_account":"AVAILABLE","amount":{"total":888,"refund":888,"from":[{"account":"AVAILABLE","amount":444},` +
	`{"account":"UNAVAILABLE","amount":444}],"payer_total":888,"payer_refund":888,"settlement_refund":888,"settlement_total":888,` +
	`"discount_refund":0,"currency":"CNY"}}`

// refundServer verifies each request's Authorization with wechatpay-go's
// verifier, keeps its body, and answers the refund object signed by
// wechatpay-go's signer.
type refundServer struct {
	t      testing.TB
	k      keys
	mu     sync.Mutex
	bodies [][]byte
	bad    []string
}

func (s *refundServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a := parseAuthorization(s.t, r.Header.Get("Authorization"))
	msg := r.Method + "\n" + r.URL.RequestURI() + "\n" + a["timestamp"] + "\n" + a["nonce_str"] + "\n" + string(body) + "\n"
	err := verifiers.NewSHA256WithRSAPubkeyVerifier(merchantSerial, s.k.merchant.PublicKey).Verify(context.Background(), a["serial_no"], msg, a["signature"])
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	if err != nil {
		s.bad = append(s.bad, err.Error())
	}
	s.mu.Unlock()
	for name, vals := range wgoSign(s.t, s.k.wechat, pubKeyID, time.Now(), []byte(refundObject)) {
		w.Header()[name] = vals
	}
	_, _ = io.WriteString(w, refundObject)
}

// TestRefundRequestAsOfficialModel: the refund request apiv3 sends is the
// JSON wechatpay-go's refunddomestic.CreateRequest encodes for the same
// refund, and the refund object both decode is the same.
func TestRefundRequestAsOfficialModel(t *testing.T) {
	k := loadKeys(t)
	srv := &refundServer{t: t, k: k}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := publicKeyClient(t, k, apiv3.WithBaseURL(ts.URL))
	ref, err := c.Refund(context.Background(), &apiv3.RefundRequest{
		TransactionID: "1217752501201407033233368018", OutRefundNo: "1217752501201407033233368018",
		Reason: "商品已售完", NotifyURL: "https://weixin.qq.com", FundsAccount: apiv3.FundsAvailable,
		Amount: apiv3.RefundAmount{Refund: 888, Total: 888, Currency: apiv3.CNY,
			From: []apiv3.RefundFrom{{Account: apiv3.FundsAvailable, Amount: 444}, {Account: apiv3.FundsUnavailable, Amount: 444}}},
		GoodsDetail: []apiv3.RefundGoods{{MerchantGoodsID: "1217752501201407033233368018", WechatpayGoodsID: "1001",
			GoodsName: "iPhone6s 16G", UnitPrice: 888, RefundAmount: 888, RefundQuantity: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.bodies) != 1 || len(srv.bad) != 0 {
		t.Fatalf("wechatpay-go verified: bodies %d, failures %v", len(srv.bodies), srv.bad)
	}
	official, err := json.Marshal(refunddomestic.CreateRequest{
		TransactionId: core.String("1217752501201407033233368018"), OutRefundNo: core.String("1217752501201407033233368018"),
		Reason: core.String("商品已售完"), NotifyUrl: core.String("https://weixin.qq.com"),
		FundsAccount: refunddomestic.REQFUNDSACCOUNT_AVAILABLE.Ptr(),
		Amount: &refunddomestic.AmountReq{Refund: core.Int64(888), Total: core.Int64(888), Currency: core.String("CNY"),
			From: []refunddomestic.FundsFromItem{
				{Account: refunddomestic.ACCOUNT_AVAILABLE.Ptr(), Amount: core.Int64(444)},
				{Account: refunddomestic.ACCOUNT_UNAVAILABLE.Ptr(), Amount: core.Int64(444)}}},
		GoodsDetail: []refunddomestic.GoodsDetail{{MerchantGoodsId: core.String("1217752501201407033233368018"),
			WechatpayGoodsId: core.String("1001"), GoodsName: core.String("iPhone6s 16G"), UnitPrice: core.Int64(888),
			RefundAmount: core.Int64(888), RefundQuantity: core.Int64(1)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var ours, theirs any
	if err := json.Unmarshal(srv.bodies[0], &ours); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(official, &theirs); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ours, theirs) {
		t.Fatalf("apiv3 sent\n%s\nwechatpay-go encodes\n%s", srv.bodies[0], official)
	}

	var w refunddomestic.Refund
	if err := json.Unmarshal([]byte(refundObject), &w); err != nil {
		t.Fatal(err)
	}
	if string(ref.Status) != string(*w.Status) || ref.RefundID != *w.RefundId || ref.Amount.Refund != *w.Amount.Refund ||
		ref.Amount.PayerRefund != *w.Amount.PayerRefund || !ref.SuccessTime.Equal(*w.SuccessTime) || !ref.CreateTime.Equal(*w.CreateTime) ||
		string(ref.Channel) != string(*w.Channel) || string(ref.FundsAccount) != string(*w.FundsAccount) || len(ref.Amount.From) != len(w.Amount.From) {
		t.Fatalf("apiv3 %+v\nwechatpay-go %+v", ref, w)
	}
}

const refundPlaintext = `{"mchid":"1230000109","out_trade_no":"1217752501201407033233368018","transaction_id":"1217752501201407033233368018",` +
	`"out_refund_no":"1217752501201407033233368018","refund_id":"50000000382019052709732678859","refund_status":"SUCCESS",` +
	`"success_time":"2018-06-08T10:34:56+08:00","user_received_account":"招商银行信用卡0403",` +
	`"amount":{"total":999,"refund":999,"payer_total":999,"payer_refund":999}}`

func refundNotificationBody(t testing.TB) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id": "EV-2018022511223320873", "create_time": "2018-06-08T10:34:56+08:00",
		"resource_type": "encrypt-resource", "event_type": "REFUND.SUCCESS", "summary": "退款成功",
		"resource": map[string]string{
			"original_type": "refund", "algorithm": "AEAD_AES_256_GCM", "associated_data": "refund",
			"nonce": "fdasflkja484", "ciphertext": seal(t, apiV3Key, "fdasflkja484", "refund", refundPlaintext),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRefundNotificationBothWays: a refund notification signed by
// wechatpay-go's signer reaches apiv3's RefundNotifyHandler with the
// fields wechatpay-go's parser reads from it.
func TestRefundNotificationBothWays(t *testing.T) {
	k := loadKeys(t)
	now := time.Now() // wechatpay-go checks the window against time.Now
	c := publicKeyClient(t, k, apiv3.WithClock(func() time.Time { return now }))
	body := refundNotificationBody(t)
	h := wgoSign(t, k.wechat, pubKeyID, now, body)

	var got *apiv3.RefundNotification
	rec := httptest.NewRecorder()
	c.RefundNotifyHandler(func(_ context.Context, n *apiv3.RefundNotification) error { got = n; return nil }).ServeHTTP(rec, request(h, body))
	if rec.Code != http.StatusNoContent || got == nil {
		t.Fatalf("apiv3 answered %d %q", rec.Code, rec.Body)
	}
	var content map[string]any
	if _, err := wgoNotifyHandler(t, k).ParseNotifyRequest(context.Background(), request(h, body), &content); err != nil {
		t.Fatalf("wechatpay-go refused it: %v", err)
	}
	amount, _ := content["amount"].(map[string]any)
	if content["out_refund_no"] != got.OutRefundNo || content["refund_status"] != string(got.Status) ||
		amount["refund"] != float64(got.Amount.Refund) || content["mchid"] != got.MchID {
		t.Fatalf("apiv3 %+v\nwechatpay-go %v", got, content)
	}
}

// TestRefundNotificationAcrossGenerations: a genuine v3 refund
// notification posted to the v2 refund handler is refused there, and a
// v2 one at the v3 handler is refused here; neither reaches fn.
func TestRefundNotificationAcrossGenerations(t *testing.T) {
	k := loadKeys(t)
	now := time.Now()
	body := refundNotificationBody(t)
	h := wgoSign(t, k.wechat, pubKeyID, now, body)

	v2, err := wxpay.NewClient(wxpay.Config{AppID: "wx2421b1c4370ec43b", MchID: mchID, APIKey: "192006250b4c09247ec02edce69f6a2d"})
	if err != nil {
		t.Fatal(err)
	}
	called := false
	rec := httptest.NewRecorder()
	v2.RefundNotifyHandler(func(context.Context, *wxpay.RefundNotification) error { called = true; return nil }).ServeHTTP(rec, request(h, body))
	if called || rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "FAIL") {
		t.Fatalf("the v2 handler took a v3 body: %d %q, fn called %v", rec.Code, rec.Body, called)
	}

	v2body := []byte(`<xml><return_code>SUCCESS</return_code><appid><![CDATA[wx2421b1c4370ec43b]]></appid>` +
		`<mch_id><![CDATA[1230000109]]></mch_id><nonce_str><![CDATA[TeqClE3i0mvn3DrK]]></nonce_str>` +
		`<req_info><![CDATA[T87GAHG17TGAHG1TGHAHAHA1Y1CIOA9UGJH1GAHV871HAGAGQYQQPOOJMXNBCXBVNMNMAJAA]]></req_info></xml>`)
	c := publicKeyClient(t, k, apiv3.WithClock(func() time.Time { return now }))
	called = false
	rec = httptest.NewRecorder()
	c.RefundNotifyHandler(func(context.Context, *apiv3.RefundNotification) error { called = true; return nil }).ServeHTTP(rec, request(http.Header{}, v2body))
	if called || rec.Code != http.StatusUnauthorized {
		t.Fatalf("the v3 handler answered %d to a v2 body, fn called %v", rec.Code, called)
	}
}
