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
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
)

// The examples use the public test keys of testdata/v3: the merchant key
// of wechatpay-java, and WeChat's documentation key playing the WeChat Pay
// public key. A real merchant loads apiclient_key.pem and pub_key.pem.
func exampleClient(now time.Time) *apiv3.Client {
	read := func(name string) []byte {
		b, err := os.ReadFile("../testdata/v3/" + name)
		if err != nil {
			log.Fatal(err)
		}
		return b
	}
	c, err := apiv3.NewClient(apiv3.Config{
		MchID:            "1230000109",
		MerchantSerialNo: "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
		PrivateKey:       read("k-wj.pem"),
		APIv3Key:         "0123456789abcdefghijABCDEFGHIJ01",
		PublicKeyID:      "PUB_KEY_ID_0114232134912410000000000000",
		PublicKey:        read("k-off.pub.pem"),
	}, apiv3.WithClock(func() time.Time { return now }))
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// fakeWeChatNotification builds the request WeChat would POST: the
// resource sealed under the APIv3 key, the body signed with WeChat's key.
func fakeWeChatNotification(now time.Time, plaintext string) *http.Request {
	block, _ := aes.NewCipher([]byte("0123456789abcdefghijABCDEFGHIJ01"))
	gcm, _ := cipher.NewGCM(block)
	body, _ := json.Marshal(map[string]any{
		"id": "EV-2026010215040500001", "create_time": "2026-01-02T15:04:06+08:00",
		"resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
		"resource": map[string]string{
			"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "associated_data": "transaction", "nonce": "fdasflkja484",
			"ciphertext": base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte("fdasflkja484"), []byte(plaintext), []byte("transaction"))),
		},
	})
	pemBytes, _ := os.ReadFile("../testdata/v3/k-off.pem")
	blk, _ := pem.Decode(pemBytes)
	key, _ := x509.ParsePKCS1PrivateKey(blk.Bytes)
	ts, nonce := strconv.FormatInt(now.Unix(), 10), "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
	digest := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + string(body) + "\n"))
	sig, _ := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	r := httptest.NewRequest(http.MethodPost, "https://merchant.example/wxpay/notify", bytes.NewReader(body))
	r.Header.Set("Wechatpay-Timestamp", ts)
	r.Header.Set("Wechatpay-Nonce", nonce)
	r.Header.Set("Wechatpay-Serial", "PUB_KEY_ID_0114232134912410000000000000")
	r.Header.Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(sig))
	return r
}

// Mount the handler at notify_url; fn sees only verified, decrypted
// notifications, and WeChat gets 204 only once fn returned nil.
func ExampleClient_NotificationHandler() {
	now := time.Unix(1767337446, 0)
	c := exampleClient(now)
	handler := c.NotificationHandler(func(ctx context.Context, n *apiv3.Notification) error {
		if n.EventType != "TRANSACTION.SUCCESS" {
			return nil // acknowledge events this application does not act on
		}
		var tx struct {
			MchID      string `json:"mchid"`
			OutTradeNo string `json:"out_trade_no"`
			Amount     struct {
				Total int64 `json:"total"`
			} `json:"amount"`
		}
		if err := n.Decode(&tx); err != nil {
			return err
		}
		// Check mchid and the amount against the stored order, then mark
		// it paid once (idempotently) before returning nil.
		fmt.Println("paid:", tx.OutTradeNo, tx.Amount.Total, "fen")
		return nil
	})
	// http.Handle("/wxpay/notify", handler) in a real server.
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, fakeWeChatNotification(now, `{"mchid":"1230000109","out_trade_no":"1217752501201407033233368018","amount":{"total":100}}`))
	fmt.Println("answer:", w.Code)

	// A replay ten minutes later is refused, and fn is not called.
	w = httptest.NewRecorder()
	handler.ServeHTTP(w, fakeWeChatNotification(now.Add(-10*time.Minute), `{}`))
	fmt.Println("replay:", w.Code, w.Body.String())
	// Output:
	// paid: 1217752501201407033233368018 100 fen
	// answer: 204
	// replay: 401 {"code":"FAIL","message":"signature verification failed"}
}

// ParseNotification is the parse layer alone, for an application that
// writes its own answer.
func ExampleClient_ParseNotification() {
	now := time.Unix(1767337446, 0)
	c := exampleClient(now)
	n, err := c.ParseNotification(fakeWeChatNotification(now, `{"out_trade_no":"1217752501201407033233368018","trade_state":"SUCCESS"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	var tx struct {
		OutTradeNo string `json:"out_trade_no"`
		TradeState string `json:"trade_state"`
	}
	if err := n.Decode(&tx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n.ID, n.EventType, n.CreateTime.UTC().Format(time.RFC3339))
	fmt.Println(tx.OutTradeNo, tx.TradeState)

	// A body that is not the one WeChat signed is refused before it is
	// parsed.
	r := fakeWeChatNotification(now, `{}`)
	r.Header.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+r.Header.Get("Wechatpay-Signature"))
	_, err = c.ParseNotification(r)
	fmt.Println("probe refused:", errors.Is(err, apiv3.ErrSignatureProbe), errors.Is(err, apiv3.ErrSignature))
	// Output:
	// EV-2026010215040500001 TRANSACTION.SUCCESS 2026-01-02T07:04:06Z
	// 1217752501201407033233368018 SUCCESS
	// probe refused: true true
}

// Encrypt the sensitive fields of one request under one WeChat key and
// send its serial in the Wechatpay-Serial header of that request.
func ExampleClient_EncryptSensitive() {
	c := exampleClient(time.Unix(1767337446, 0))
	serial, fields, err := c.EncryptSensitive(context.Background(), "张三", "13800138000")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Wechatpay-Serial:", serial)
	fmt.Println(len(fields), "fields of", len(fields[0]), "base64 characters")
	// Output:
	// Wechatpay-Serial: PUB_KEY_ID_0114232134912410000000000000
	// 2 fields of 344 base64 characters
}

// Decrypt a field WeChat encrypted to the merchant (the published
// wechatpay-java vector, under its merchant key).
func ExampleClient_DecryptSensitive() {
	c := exampleClient(time.Unix(1767337446, 0))
	s, err := c.DecryptSensitive("Qqsluo7R1IZyAqdkm/jBzwXDP5VndCwwFbRA+yILFTYciZzrRChQIQ7SKuI2k3YSR5auB3ZspdjR1WPB3PTCKe6BCFx3NnaPWhSwonYTmW8ZseXjkbcYSbKL5O/6dr6Zftg3t2A2FUd97acjM1fr2EIvIvRieQ3Hl8qVkDBY9520wm1rzvePUnxQWN70RZiBcqr7O7Gb0gU3l7FkvoUFSbY44HgDJetmVow3yGIV3Tcd45o2MNQ+5F1qvjIjb3/6dkGKce4/kNTYraUMO6o6kfFXlfg+bFRIiz8hiUpbToWdu7g0R5Hq0/YIE5vw/5Ms4gbk2HIQIfOLkY8sEPjYHA==")
	fmt.Println(s, err)
	_, err = c.DecryptSensitive("MTIzNA==")
	fmt.Println(err)
	// Output:
	// plaintext <nil>
	// apiv3: cannot decrypt sensitive field
}

// ParseNotificationBody takes a notification already read, for example
// from a queue that stored the headers and the exact body on receipt.
func ExampleClient_ParseNotificationBody() {
	now := time.Unix(1767337446, 0)
	c := exampleClient(now)
	r := fakeWeChatNotification(now, `{"out_refund_no":"1217752501201407033233368018","refund_status":"SUCCESS"}`)
	body, _ := io.ReadAll(r.Body)
	stored := r.Header.Clone() // what the queue kept

	n, err := c.ParseNotificationBody(context.Background(), stored, body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n.ID, string(n.Plaintext))

	// The same body with one byte changed no longer verifies.
	body[10] ^= 1
	_, err = c.ParseNotificationBody(context.Background(), stored, body)
	fmt.Println(errors.Is(err, apiv3.ErrSignature))
	// Output:
	// EV-2026010215040500001 {"out_refund_no":"1217752501201407033233368018","refund_status":"SUCCESS"}
	// true
}
