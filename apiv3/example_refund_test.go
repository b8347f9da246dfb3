package apiv3_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
)

// exampleRefund is WeChat's refund object for the examples.
func exampleRefund(outRefundNo, status string) string {
	success := ""
	if status == "SUCCESS" {
		success = `"success_time":"2026-01-02T15:10:00+08:00",`
	}
	return `{"refund_id":"50000000382019052709732678859","out_refund_no":"` + outRefundNo + `",` +
		`"transaction_id":"4200000001202601021234567890","out_trade_no":"T20260102001","channel":"ORIGINAL",` +
		`"user_received_account":"支付用户零钱",` + success + `"create_time":"2026-01-02T15:04:05+08:00","status":"` + status + `",` +
		`"funds_account":"AVAILABLE","amount":{"total":1234,"refund":500,"payer_total":1234,"payer_refund":500,` +
		`"settlement_refund":500,"settlement_total":1234,"discount_refund":0,"currency":"CNY"}}`
}

// Refund part of an order. WeChat accepts it (usually PROCESSING); the
// outcome arrives as a notification. When the answer is lost, the error
// says to retry with the same out_refund_no, which WeChat refunds once.
func ExampleClient_Refund() {
	wc := newExampleWeChat()
	defer wc.Close()
	busy := true
	wc.json["POST /v3/refund/domestic/refunds"] = func(body []byte) (int, string) {
		if busy { // the first attempt meets a WeChat failure
			busy = false
			return 500, `{"code":"SYSTEM_ERROR","message":"系统超时"}`
		}
		return 200, exampleRefund("R20260102001", "PROCESSING")
	}
	c := wc.client()
	req := &apiv3.RefundRequest{
		OutTradeNo:  "T20260102001",
		OutRefundNo: "R20260102001", // stored with the refund before calling: the retry reuses it
		Reason:      "商品已售完",
		Amount:      apiv3.RefundAmount{Refund: 500, Total: 1234},
	}
	ref, err := c.Refund(context.Background(), req)
	var unknown *apiv3.OutcomeUnknownError
	if errors.As(err, &unknown) {
		fmt.Println(err)
		ref, err = c.Refund(context.Background(), req) // same request, same out_refund_no
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ref.RefundID, ref.Status, ref.Amount.Refund, "of", ref.Amount.Total, "fen")
	// Output:
	// apiv3: refunds: outcome unknown, the request may have reached WeChat (retry with the same out_refund_no): refunds: http 500: SYSTEM_ERROR: 系统超时 (retryable: call again with the same out_refund_no)
	// 50000000382019052709732678859 PROCESSING 500 of 1234 fen
}

// Query a refund by out_refund_no: safe to repeat, and how to learn the
// outcome of a refund whose answer was lost.
func ExampleClient_QueryRefund() {
	wc := newExampleWeChat()
	defer wc.Close()
	wc.json["GET /v3/refund/domestic/refunds/R20260102001"] = func([]byte) (int, string) {
		return 200, exampleRefund("R20260102001", "SUCCESS")
	}
	wc.json["GET /v3/refund/domestic/refunds/R-UNKNOWN"] = func([]byte) (int, string) {
		return 404, `{"code":"RESOURCE_NOT_EXISTS","message":"退款单不存在"}`
	}
	c := wc.client()
	ref, err := c.QueryRefund(context.Background(), "R20260102001")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ref.Status, ref.SuccessTime.UTC().Format(time.RFC3339), ref.UserReceivedAccount)

	_, err = c.QueryRefund(context.Background(), "R-UNKNOWN")
	var e *apiv3.Error
	fmt.Println(errors.As(err, &e) && e.Code == apiv3.ErrCodeResourceNotExists)
	// Output:
	// SUCCESS 2026-01-02T07:10:00Z 支付用户零钱
	// true
}

// A refund ABNORMAL (the payer's card was closed) is sent to another card
// of the payer. The card number and name are encrypted under WeChat's key
// before they leave; the request names that key in Wechatpay-Serial.
func ExampleClient_ApplyAbnormalRefund() {
	wc := newExampleWeChat()
	defer wc.Close()
	wc.json["POST /v3/refund/domestic/refunds/50000000382019052709732678859/apply-abnormal-refund"] = func(body []byte) (int, string) {
		var b map[string]string
		_ = json.Unmarshal(body, &b)
		fmt.Println("sent:", b["type"], b["bank_type"], "bank_account encrypted:", len(b["bank_account"]) == 344)
		return 200, exampleRefund("R20260102001", "PROCESSING")
	}
	c := wc.client()
	req := &apiv3.AbnormalRefundRequest{
		RefundID:    "50000000382019052709732678859",
		OutRefundNo: "R20260102001",
		Type:        apiv3.AbnormalToUserBankCard,
		BankType:    "ICBC_DEBIT",
		BankAccount: "6222021234567890123",
		RealName:    "张三",
	}
	ref, err := c.ApplyAbnormalRefund(context.Background(), req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ref.Status)
	fmt.Println(req) // personal data never prints
	// Output:
	// sent: USER_BANK_CARD ICBC_DEBIT bank_account encrypted: true
	// PROCESSING
	// apiv3.AbnormalRefundRequest{RefundID:50000000382019052709732678859 OutRefundNo:R20260102001 Type:USER_BANK_CARD BankType:ICBC_DEBIT BankAccount:REDACTED RealName:REDACTED}
}

// refundNotification is a REFUND.SUCCESS notification as WeChat posts
// it, sealed under the APIv3 key and signed with the WeChat Pay public
// key's private half (the documentation key).
func refundNotification(mchid string) *http.Request {
	plaintext := `{"mchid":"` + mchid + `","out_trade_no":"T20260102001","transaction_id":"4200000001202601021234567890",` +
		`"out_refund_no":"R20260102001","refund_id":"50000000382019052709732678859","refund_status":"SUCCESS",` +
		`"success_time":"2026-01-02T15:10:00+08:00","user_received_account":"支付用户零钱",` +
		`"amount":{"total":1234,"refund":500,"payer_total":1234,"payer_refund":500}}`
	block, _ := aes.NewCipher([]byte(exampleAPIv3Key))
	gcm, _ := cipher.NewGCM(block)
	body, _ := json.Marshal(map[string]any{
		"id": "EV-2026010215100000001", "create_time": "2026-01-02T15:10:01+08:00",
		"resource_type": "encrypt-resource", "event_type": "REFUND.SUCCESS", "summary": "退款成功",
		"resource": map[string]string{
			"original_type": "refund", "algorithm": "AEAD_AES_256_GCM", "associated_data": "refund", "nonce": "c7ab0e4f25d1",
			"ciphertext": base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte("c7ab0e4f25d1"), []byte(plaintext), []byte("refund"))),
		},
	})
	blk, _ := pem.Decode(mustRead("k-off.pem"))
	key, _ := x509.ParsePKCS1PrivateKey(blk.Bytes)
	ts := strconv.FormatInt(exampleNow.Unix(), 10)
	d := sha256.Sum256([]byte(ts + "\nrefund-nonce\n" + string(body) + "\n"))
	sig, _ := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	r := httptest.NewRequest(http.MethodPost, "https://merchant.example/wxpay/refund", bytes.NewReader(body))
	r.Header.Set("Wechatpay-Serial", "PUB_KEY_ID_0114232134912410000000000000")
	r.Header.Set("Wechatpay-Timestamp", ts)
	r.Header.Set("Wechatpay-Nonce", "refund-nonce")
	r.Header.Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(sig))
	r.Header.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
	return r
}

// Mount RefundNotifyHandler at the refund notify_url. fn sees only a
// verified refund of this merchant; the handler answers 204 once fn
// returned nil, and a FAIL answer (so WeChat retries) otherwise. A
// genuine refund of another merchant never reaches fn.
func ExampleClient_RefundNotifyHandler() {
	wc := newExampleWeChat()
	defer wc.Close()
	c := wc.client()
	h := c.RefundNotifyHandler(func(ctx context.Context, n *apiv3.RefundNotification) error {
		// Record idempotently by OutRefundNo and Status, after checking
		// Amount.Refund against the stored refund.
		fmt.Println("refund", n.OutRefundNo, n.Status, n.Amount.Refund, "fen")
		return nil
	})
	for _, mchid := range []string{"1230000109", "1900000109"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, refundNotification(mchid))
		fmt.Println(strings.TrimSpace(strconv.Itoa(w.Code) + " " + w.Body.String()))
	}
	// Output:
	// refund R20260102001 SUCCESS 500 fen
	// 204
	// 400 {"code":"FAIL","message":"invalid notification"}
}
