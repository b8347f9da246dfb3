package apiv3_test

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
)

// Sign WeChat Pay's published JSAPI request example by hand, at its time
// and nonce, with its documentation key: the header carries the signature
// printed on https://pay.weixin.qq.com/doc/v3/merchant/4012365336.
func ExampleSignRequest() {
	pemKey, err := os.ReadFile("../testdata/v3/k-off.pem")
	if err != nil {
		log.Fatal(err)
	}
	key, err := apiv3.ParsePrivateKey(pemKey)
	if err != nil {
		log.Fatal(err)
	}
	body := `{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}`
	auth, err := apiv3.SignRequest(key, "1230000109", "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",
		"POST", "/v3/pay/transactions/jsapi", "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", []byte(body))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(auth)
	// Output:
	// WECHATPAY2-SHA256-RSA2048 mchid="1230000109",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",signature="gEuexJ547PHFV77TQ6eiE4tphVYfWfUe1Wc2dBmVnoMYU2rl/M4zhw+b3vBhuMw6AC7pteNkryLA7UWU2h+umo0OdSuuLm1++O3NckQPCSfm6dypsjn4GYm84KMqXWFrhFmyxEwIdEJDr3w1UYfxOcu55OQupfLkrt/ZzuOspnliJFrPzGQFUk7lGqMMtpz3EfbDUNxnVsHblORg3hVmuYNmbGWnS2ovU30Y2Q+iKFDxzkaXBk8LTy6HzvxizRo6Q+J4SVM7O0hKXfgo1QdI68kpzNULb3EVBXlhTyPUzhkHzzLxECL1qHl3HH2hEv8++C+4wBlsagF3j/O6PABojA==",timestamp="1554208460",serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"
}

// Verify a captured notification (testdata/v3/notify-v5.json, signed with
// the documentation key as the WeChat Pay public key) at the time it was
// sent, then open its resource under the APIv3 key.
func ExampleVerifyMessage() {
	var v struct {
		Headers map[string]string `json:"headers"`
		Now     int64             `json:"now"`
		Body    string            `json:"body"`
	}
	b, err := os.ReadFile("../testdata/v3/notify-v5.json")
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		log.Fatal(err)
	}
	pemPub, err := os.ReadFile("../testdata/v3/k-off.pub.pem")
	if err != nil {
		log.Fatal(err)
	}
	pub, err := apiv3.ParsePublicKey(pemPub)
	if err != nil {
		log.Fatal(err)
	}
	h := http.Header{}
	for k, val := range v.Headers {
		h.Set(k, val)
	}
	keys := func(serial string) (*rsa.PublicKey, error) {
		if serial == "PUB_KEY_ID_0114232134912410000000000000" {
			return pub, nil
		}
		return nil, apiv3.UnknownSerial("not this merchant's public key id")
	}
	if err := apiv3.VerifyMessage(h, []byte(v.Body), time.Unix(v.Now, 0), keys); err != nil {
		log.Fatal(err)
	}
	n, err := apiv3.OpenNotification("0123456789abcdefghijABCDEFGHIJ01", []byte(v.Body))
	if err != nil {
		log.Fatal(err)
	}
	var tx struct {
		OutTradeNo string `json:"out_trade_no"`
		TradeState string `json:"trade_state"`
	}
	if err := n.Decode(&tx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n.EventType, tx.OutTradeNo, tx.TradeState)
	// A minute later than five, the same message is refused.
	fmt.Println(apiv3.VerifyMessage(h, []byte(v.Body), time.Unix(v.Now+360, 0), keys))
	// Output:
	// TRANSACTION.SUCCESS 1217752501201407033233368018 SUCCESS
	// apiv3: Wechatpay-Timestamp outside the 5-minute window or malformed: older than 5 minutes (replayed, or the client's clock is fast)
}
