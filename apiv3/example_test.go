package apiv3_test

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
)

// The keys of the examples are public test keys (testdata/v3): the
// merchant's is wechatpay-java's, WeChat's is wechatpay-go's.
func mustRead(name string) []byte {
	b, err := os.ReadFile("../testdata/v3/" + name)
	if err != nil {
		panic(err)
	}
	return b
}

func mustKey(name string) *rsa.PrivateKey {
	blk, _ := pem.Decode(mustRead(name))
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		panic(err)
	}
	return k.(*rsa.PrivateKey)
}

// exampleNow is the fixed clock of the examples.
var exampleNow = time.Date(2026, 1, 2, 15, 4, 5, 0, time.FixedZone("CST", 8*3600))

const exampleAPIv3Key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"

// certificateServer is a stand-in for WeChat's GET /v3/certificates: it
// lists one platform certificate sealed under the APIv3 key and signs the
// answer with that certificate's key, as WeChat does. downloads counts
// the requests it served.
func certificateServer(downloads *int) *httptest.Server {
	key := mustKey("k-wgo.pem")
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x5157F09EFDC0),
		Subject:      pkix.Name{CommonName: "Tenpay.com sign"},
		NotBefore:    exampleNow.AddDate(0, -1, 0),
		NotAfter:     exampleNow.AddDate(5, 0, 0),
	}
	der, err := x509.CreateCertificate(nil, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*downloads++
		block, _ := aes.NewCipher([]byte(exampleAPIv3Key))
		gcm, _ := cipher.NewGCM(block)
		const nonce = "61f9c719728a"
		pemText := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		body, _ := json.Marshal(map[string]any{"data": []any{map[string]any{
			"serial_no":      "5157F09EFDC0",
			"effective_time": tpl.NotBefore.Format(time.RFC3339),
			"expire_time":    tpl.NotAfter.Format(time.RFC3339),
			"encrypt_certificate": map[string]string{
				"algorithm": "AEAD_AES_256_GCM", "nonce": nonce, "associated_data": "certificate",
				"ciphertext": base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte(nonce), pemText, []byte("certificate"))),
			},
		}}})
		ts := strconv.FormatInt(exampleNow.Unix(), 10)
		d := sha256.Sum256([]byte(ts + "\nexample-nonce\n" + string(body) + "\n"))
		sig, _ := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
		w.Header().Set("Wechatpay-Serial", "5157F09EFDC0")
		w.Header().Set("Wechatpay-Timestamp", ts)
		w.Header().Set("Wechatpay-Nonce", "example-nonce")
		w.Header().Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(sig))
		_, _ = w.Write(body)
	}))
}

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
		fmt.Println(err)
		return
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

// A merchant on platform certificates downloads them (here from a
// stand-in server) before serving traffic, to fail fast at start-up. The
// store shares the download with other instances given the same store.
func ExampleClient_RefreshCertificates() {
	var downloads int
	srv := certificateServer(&downloads)
	defer srv.Close()

	store := &apiv3.MemoryCertificateStore{} // in production: Redis, a database row
	newClient := func() *apiv3.Client {
		c, err := apiv3.NewClient(apiv3.Config{
			MchID:                "1230000109",
			MerchantSerialNo:     "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
			PrivateKey:           mustRead("k-wj.pem"),
			APIv3Key:             exampleAPIv3Key,
			PlatformCertificates: true,
		}, apiv3.WithBaseURL(srv.URL), apiv3.WithHTTPClient(srv.Client()),
			apiv3.WithClock(func() time.Time { return exampleNow }), apiv3.WithCertificateStore(store))
		if err != nil {
			panic(err)
		}
		return c
	}
	first := newClient()
	if err := first.RefreshCertificates(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	for _, pc := range first.Certificates() {
		fmt.Println(pc.SerialNo, pc.Certificate.NotAfter.UTC().Format(time.DateOnly))
	}
	saved, _ := store.LoadCertificates(context.Background(), "1230000109")
	fmt.Println("saved:", len(saved), "downloads:", downloads)
	// Output:
	// 5157F09EFDC0 2031-01-02
	// saved: 1 downloads: 1
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
