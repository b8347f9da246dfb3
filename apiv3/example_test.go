package apiv3_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// mustRead reads a public test key of testdata/v3 (the merchant's is
// wechatpay-java's; WeChat's documentation key plays the WeChat Pay
// public key), for the examples of a client on its own.
func mustRead(name string) []byte {
	b, err := os.ReadFile("../testdata/v3/" + name)
	if err != nil {
		panic(err)
	}
	return b
}

// exampleNow is the fixed clock of the examples whose output shows a
// time: 2026-01-02 15:04:05 in Beijing (Config.Now of wxpaytest).
var exampleNow = time.Date(2026, 1, 2, 15, 4, 5, 0, time.FixedZone("CST", 8*3600))

const exampleAPIv3Key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"

// A merchant on the WeChat Pay public key (every merchant since 2024):
// the configuration is checked up front, and the client never prints its
// keys.
func ExampleNewClient() {
	cfg := apiv3.Config{
		MchID:            "1230000109",
		MerchantSerialNo: "5F1C72E2A8931B72A2E13AF8DEE92471EB397115", // openssl x509 -noout -serial -in apiclient_cert.pem
		PrivateKey:       mustRead("k-wj.pem"),                       // apiclient_key.pem
		APIv3Key:         exampleAPIv3Key,
		PublicKeyID:      "PUB_KEY_ID_0114232134912410000000000000",
		PublicKey:        mustRead("k-off.pub.pem"), // pub_key.pem
	}
	c, err := apiv3.NewClient(cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.MchID())
	fmt.Printf("%+v\n", c)

	cfg.APIv3Key = "0123456789abcdef" // a v2 API key, or a truncated one
	_, err = apiv3.NewClient(cfg)
	fmt.Println(err)
	// Output:
	// 1230000109
	// apiv3.Client{MchID:1230000109 MerchantSerialNo:5F1C72E2A8931B72A2E13AF8DEE92471EB397115 PublicKeyID:PUB_KEY_ID_0114232134912410000000000000 PlatformCertificates:false BaseURL:https://api.mch.weixin.qq.com}
	// apiv3: Config: APIv3Key must be exactly 32 bytes, got 16 (the APIv3 key set in 商户平台 → 账户中心 → API安全, not the v2 API key)
}

// A merchant on platform certificates downloads them (here from
// wxpaytest, signing with its platform certificate) before serving
// traffic, to fail fast at start-up. The store shares the download with
// other instances given the same store: the second one below verifies
// WeChat's answers while /v3/certificates is down.
func ExampleClient_RefreshCertificates() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wxd678efh567hg6787", MchID: "1230000109", APIKey: "192006250b4c09247ec02edce69f6a2d",
		APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", V3Signer: wxpaytest.V3SignCertificate,
	})
	defer wx.Close()
	store := &apiv3.MemoryCertificateStore{} // in production: Redis, a database row
	newClient := func() *apiv3.Client {
		c, err := apiv3.NewClient(wx.APIv3Config(), append(wx.APIv3Options(), apiv3.WithCertificateStore(store))...)
		if err != nil {
			log.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	first := newClient()
	if err := first.RefreshCertificates(ctx); err != nil {
		log.Fatal(err)
	}
	for _, pc := range first.Certificates() {
		fmt.Println(pc.Certificate.Subject.CommonName != "", pc.Certificate.NotAfter.UTC().Format(time.DateOnly))
	}
	saved, _ := store.LoadCertificates(ctx, first.MchID())
	fmt.Println("saved:", len(saved))

	wx.Inject(wxpaytest.EndpointV3Certificates, wxpaytest.Always, wxpaytest.Fault{ErrCode: "SYSTEM_ERROR"})
	_, err := newClient().QueryByOutTradeNo(ctx, "T20260102001")
	var e *apiv3.Error
	if !errors.As(err, &e) {
		log.Fatal(err)
	}
	fmt.Println(e.Verified, e.Code) // WeChat's signed answer, verified with the stored certificate
	// Output:
	// true 2099-01-01
	// saved: 1
	// true ORDER_NOT_EXIST
}

// Retryable tells a caller which failures to retry with the same
// parameters (and the same out_trade_no / out_refund_no).
func ExampleRetryable() {
	busy := &apiv3.Error{Op: "refunds", StatusCode: 500, Code: apiv3.ErrCodeSystemError, Message: "系统繁忙", Verified: true}
	lost := &apiv3.OutcomeUnknownError{Op: "refunds", Key: "out_refund_no", Err: context.DeadlineExceeded}
	final := &apiv3.Error{Op: "refunds", StatusCode: 403, Code: apiv3.ErrCodeNotEnough, Message: "余额不足", Verified: true}
	for _, err := range []error{busy, lost, final} {
		fmt.Println(apiv3.Retryable(err), err)
	}
	var e *apiv3.Error
	if errors.As(final, &e) && e.Code == apiv3.ErrCodeNotEnough {
		fmt.Println("top up the balance, then retry")
	}
	// Output:
	// true apiv3: refunds: http 500: SYSTEM_ERROR: 系统繁忙
	// true apiv3: refunds: outcome unknown, the request may have reached WeChat (retry with the same out_refund_no): context deadline exceeded
	// false apiv3: refunds: http 403: NOTENOUGH: 余额不足
	// top up the balance, then retry
}
