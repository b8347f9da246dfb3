//go:build linux

package v3compat

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"

	"github.com/wxpay-go/wxpay/apiv3"
)

// processCPU reads the process's CPU time: a round trip's work is spread
// over the client's, the transport's and the test server's goroutines,
// and the server's share is the same for every side.
func processCPU() time.Duration {
	var ts syscall.Timespec
	const clockProcessCPUTime = 2 // CLOCK_PROCESS_CPUTIME_ID
	_, _, _ = syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// interleavedProcess is interleaved under the process CPU clock, in
// chunks of 8: a round trip is long.
func interleavedProcess(b *testing.B, names []string, sides ...func()) []time.Duration {
	return interleavedOn(b, processCPU, 8, names, sides...)
}

var sinkAny any

// BenchmarkPrepay is one JSAPI prepay round trip on loopback against the
// same server (which verifies every request with wechatpay-go's
// verifier), whole-process CPU, interleaved: apiv3's PrepayJSAPI,
// wechatpay-go's JsapiApiService.Prepay, and the standard-library floor
// (rsa.SignPKCS1v15 over the prebuilt string to sign, the prebuilt body
// POSTed with net/http, rsa.VerifyPKCS1v15 of the answer and
// json.Unmarshal). Reported: apiv3/floor (held to 1.2) and
// apiv3/wechatpay-go (held below 1).
//
// A fourth side, rsa, is the two RSA operations alone (signing the
// request, verifying the answer), which every side pays in full;
// rsa-share-of-<side> is their fraction of each side's CPU.
func BenchmarkPrepay(b *testing.B) {
	k := loadKeys(b)
	srv := prepayServer(b, k, "wx201410272009395522657a690389285100")
	ctx := context.Background()
	c, err := apiv3.NewClient(apiv3.Config{
		MchID: mchID, AppID: "wxd678efh567hg6787", NotifyURL: "https://www.weixin.qq.com/wxpay/pay.php",
		MerchantSerialNo: merchantSerial, PrivateKey: k.merchantPEM, APIv3Key: apiV3Key,
		PublicKeyID: pubKeyID, PublicKey: k.wechatPubPEM,
	}, apiv3.WithBaseURL(srv.URL), apiv3.WithHTTPClient(srv.Client()))
	if err != nil {
		b.Fatal(err)
	}
	ours := apiv3.PrepayRequest{
		Description: "Image形象店-深圳腾大-QQ公仔", OutTradeNo: "1217752501201407033233368018",
		Amount: apiv3.Amount{Total: 100}, Payer: &apiv3.Payer{OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
	}
	svc := jsapi.JsapiApiService{Client: wgoPayClient(b, k, srv)}
	theirs := jsapi.PrepayRequest{
		Appid: core.String("wxd678efh567hg6787"), Mchid: core.String(mchID), Description: core.String("Image形象店-深圳腾大-QQ公仔"),
		OutTradeNo: core.String("1217752501201407033233368018"), NotifyUrl: core.String("https://www.weixin.qq.com/wxpay/pay.php"),
		Amount: &jsapi.Amount{Total: core.Int64(100)}, Payer: &jsapi.Payer{Openid: core.String("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")},
	}

	// The floor's prebuilt parts: apiv3's body (the same bytes it sends),
	// the string to sign, and the answer's signed message.
	body := []byte(`{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	const nonce = "593BEC0C930BF1AFEB40B4A08C8FB242"
	msg := []byte("POST\n/v3/pay/transactions/jsapi\n" + ts + "\n" + nonce + "\n" + string(body) + "\n")
	answer := []byte(`{"prepay_id":"wx201410272009395522657a690389285100"}`)
	ah := wgoSign(b, k.wechat, pubKeyID, time.Now(), answer)
	answerMsg := []byte(ah.Get("Wechatpay-Timestamp") + "\n" + ah.Get("Wechatpay-Nonce") + "\n" + string(answer) + "\n")
	answerSig, _ := base64.StdEncoding.DecodeString(ah.Get("Wechatpay-Signature"))
	url := srv.URL + "/v3/pay/transactions/jsapi"
	hc := srv.Client()

	names := []string{"apiv3", "floor", "wechatpay-go", "rsa"}
	t := interleavedProcess(b, names, func() {
		resp, err := c.PrepayJSAPI(ctx, ours)
		if err != nil {
			b.Fatal(err)
		}
		sinkAny = resp
	}, func() {
		d := sha256.Sum256(msg)
		sig, err := rsa.SignPKCS1v15(nil, k.merchant, crypto.SHA256, d[:])
		if err != nil {
			b.Fatal(err)
		}
		r, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		r.Header["Authorization"] = []string{`WECHATPAY2-SHA256-RSA2048 mchid="` + mchID + `",nonce_str="` + nonce + `",signature="` +
			base64.StdEncoding.EncodeToString(sig) + `",timestamp="` + ts + `",serial_no="` + merchantSerial + `"`}
		r.Header["Accept"] = []string{"application/json"}
		r.Header["Content-Type"] = []string{"application/json"}
		r.Header["Wechatpay-Serial"] = []string{pubKeyID}
		resp, err := hc.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(resp.StatusCode, err)
		}
		ad := sha256.Sum256(answerMsg)
		if err := rsa.VerifyPKCS1v15(&k.wechat.PublicKey, crypto.SHA256, ad[:], answerSig); err != nil {
			b.Fatal(err)
		}
		var pr struct {
			PrepayID string `json:"prepay_id"`
		}
		if err := json.Unmarshal(out, &pr); err != nil {
			b.Fatal(err)
		}
		sinkAny = pr
	}, func() {
		resp, _, err := svc.Prepay(ctx, theirs)
		if err != nil {
			b.Fatal(err)
		}
		sinkAny = resp
	}, func() {
		d := sha256.Sum256(msg)
		sig, err := rsa.SignPKCS1v15(nil, k.merchant, crypto.SHA256, d[:])
		if err != nil {
			b.Fatal(err)
		}
		ad := sha256.Sum256(answerMsg)
		if err := rsa.VerifyPKCS1v15(&k.wechat.PublicKey, crypto.SHA256, ad[:], answerSig); err != nil {
			b.Fatal(err)
		}
		sinkAny = sig
	})
	for i := 0; i < 3; i++ {
		b.ReportMetric(float64(t[3])/float64(t[i]), "rsa-share-of-"+names[i])
	}
}

// discard is the cheapest http.ResponseWriter.
type discard struct {
	h      http.Header
	status int
}

func (w *discard) Header() http.Header         { return w.h }
func (w *discard) Write(p []byte) (int, error) { return len(p), nil }
func (w *discard) WriteHeader(s int)           { w.status = s }

// BenchmarkPayNotify handles one payment notification three ways on the
// same request, thread CPU, interleaved: apiv3's NotifyHandler (read,
// verify, decrypt, decode the transaction, check mchid/appid/state, call
// fn, answer 204), the standard-library floor (verify + gcm.Open +
// json.Unmarshal), and wechatpay-go's notify.Handler.ParseNotifyRequest
// into its payments.Transaction (which checks no merchant and writes no
// answer). Reported: apiv3/floor and apiv3/wechatpay-go.
func BenchmarkPayNotify(b *testing.B) {
	k := loadKeys(b)
	now := time.Now() // wechatpay-go checks its window against time.Now
	c, err := apiv3.NewClient(apiv3.Config{
		MchID: mchID, AppID: "wxd678efh567hg6787", MerchantSerialNo: merchantSerial, PrivateKey: k.merchantPEM,
		APIv3Key: apiV3Key, PublicKeyID: pubKeyID, PublicKey: k.wechatPubPEM,
	}, apiv3.WithClock(func() time.Time { return now }))
	if err != nil {
		b.Fatal(err)
	}
	body := notificationBody(b, txPlaintext)
	h := wgoSign(b, k.wechat, pubKeyID, now, body)
	handler := c.NotifyHandler(func(_ context.Context, n *apiv3.PaymentNotification) error { sinkAny = n; return nil })
	w := &discard{h: http.Header{}}
	ctx := context.Background()
	floor := newFloor(b, &k.wechat.PublicKey)
	wgo := wgoNotifyHandler(b, k)
	interleaved(b, []string{"apiv3", "floor", "wechatpay-go"}, func() {
		w.status = 0
		handler.ServeHTTP(w, cheapRequest(h, body).WithContext(ctx))
		if w.status != http.StatusNoContent {
			b.Fatal(w.status)
		}
	}, func() {
		tx, err := floor.run(h, body)
		if err != nil {
			b.Fatal(err)
		}
		sinkTx = tx
	}, func() {
		var tx payments.Transaction
		if _, err := wgo.ParseNotifyRequest(ctx, cheapRequest(h, body), &tx); err != nil {
			b.Fatal(err)
		}
		sinkAny = tx
	})
}
