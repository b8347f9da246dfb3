//go:build linux

package v3compat

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/credentials"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"

	"github.com/wxpay-go/wxpay/apiv3"
)

// threadCPU reads this thread's CPU time. The paired benchmarks measure
// CPU time rather than wall time, so that other processes on a shared
// machine do not count against whichever side was running, as the root
// module's paired benchmarks do.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID
	_, _, _ = syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// interleaved runs each side in turn, in short chunks on one locked
// thread, and reports each side's CPU time per call and the ratios of
// the first side (ours) to each other side. It returns each side's total
// CPU time, for further ratios.
func interleaved(b *testing.B, names []string, sides ...func()) []time.Duration {
	return interleavedOn(b, threadCPU, 16, names, sides...)
}

// interleavedOn is interleaved measured by clock, chunk calls at a time.
func interleavedOn(b *testing.B, clock func() time.Duration, chunk int, names []string, sides ...func()) []time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	total := make([]time.Duration, len(sides))
	b.ResetTimer()
	// Each round starts with the next side, so that no side always
	// follows the same one (a side after one that left the connection
	// idle pays for waking it, for instance).
	for done, round := 0, 0; done < b.N; done, round = done+chunk, round+1 {
		for j := range sides {
			s := (round + j) % len(sides)
			t0 := clock()
			for i := 0; i < chunk; i++ {
				sides[s]()
			}
			total[s] += clock() - t0
		}
	}
	b.StopTimer()
	n := float64((b.N + chunk - 1) / chunk * chunk)
	for s := range sides {
		b.ReportMetric(float64(total[s].Nanoseconds())/n, names[s]+"-cpu-ns/op")
		if s > 0 {
			b.ReportMetric(float64(total[0])/float64(total[s]), names[0]+"/"+names[s])
		}
	}
	return total
}

func cheapRequest(h http.Header, body []byte) *http.Request {
	return &http.Request{Method: http.MethodPost, Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
}

var sinkTx transaction

// BenchmarkNotify verifies and decrypts one payment notification and
// decodes its transaction, three ways on the same request, interleaved:
// apiv3 (ParseNotification from the *http.Request, then Decode), the
// standard-library floor (rsa.VerifyPKCS1v15 + gcm.Open with a prebuilt
// AEAD + json.Unmarshal into structs), and wechatpay-go's
// notify.Handler.ParseNotifyRequest. Reported: apiv3/floor (held to
// 1.15) and apiv3/wechatpay-go (held below 1).
//
// A fourth side, rsa, is the signature check alone (SHA-256 over the
// prebuilt message, rsa.VerifyPKCS1v15 with the signature decoded), the
// fixed cost every side pays; rsa-share-of-<side> is its fraction of each
// side's time, so that what is left (parsing, decryption, decoding) can be
// compared too: rest-apiv3/wechatpay-go.
func BenchmarkNotify(b *testing.B) {
	k := loadKeys(b)
	now := time.Now() // wechatpay-go checks its window against time.Now
	c := publicKeyClient(b, k, apiv3.WithClock(func() time.Time { return now }))
	body := notificationBody(b, txPlaintext)
	h := wgoSign(b, k.wechat, pubKeyID, now, body)
	floor := newFloor(b, &k.wechat.PublicKey)
	wgo := wgoNotifyHandler(b, k)
	ctx := context.Background()
	ours := func() {
		n, err := c.ParseNotification(cheapRequest(h, body))
		if err != nil {
			b.Fatal(err)
		}
		var tx transaction
		if err := n.Decode(&tx); err != nil {
			b.Fatal(err)
		}
		sinkTx = tx
	}
	floorFn := func() {
		tx, err := floor.run(h, body)
		if err != nil {
			b.Fatal(err)
		}
		sinkTx = tx
	}
	theirs := func() {
		var tx transaction
		if _, err := wgo.ParseNotifyRequest(ctx, cheapRequest(h, body), &tx); err != nil {
			b.Fatal(err)
		}
		sinkTx = tx
	}
	msg := []byte(h.Get("Wechatpay-Timestamp") + "\n" + h.Get("Wechatpay-Nonce") + "\n" + string(body) + "\n")
	sig, err := base64.StdEncoding.DecodeString(h.Get("Wechatpay-Signature"))
	if err != nil {
		b.Fatal(err)
	}
	pub := &k.wechat.PublicKey
	rsaOnly := func() {
		d := sha256.Sum256(msg)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
			b.Fatal(err)
		}
	}
	names := []string{"apiv3", "floor", "wechatpay-go", "rsa"}
	t := interleaved(b, names, ours, floorFn, theirs, rsaOnly)
	for i := 0; i < 3; i++ {
		b.ReportMetric(float64(t[3])/float64(t[i]), "rsa-share-of-"+names[i])
	}
	b.ReportMetric(float64(t[0]-t[3])/float64(t[2]-t[3]), "rest-apiv3/wechatpay-go")
}

var sinkString string

// BenchmarkSignRequest builds the Authorization of one POST (the JSAPI
// prepay body of WeChat's signing example) the way wechatpay-go does
// (credentials.WechatPayCredentials.GenerateAuthorizationHeader: nonce,
// timestamp, message, SHA256withRSA, header) beside the floor
// (rsa.SignPKCS1v15 over the prebuilt message). apiv3's own signing has
// no exported entry point; its paired benchmark against the same floor
// lives in package apiv3, so apiv3/wechatpay-go is the quotient of the
// two ratios, each measured against this floor.
func BenchmarkSignRequest(b *testing.B) {
	k := loadKeys(b)
	body := `{"appid":"wxd678efh567hg6787","mchid":"1230000100","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}`
	cred := &credentials.WechatPayCredentials{
		Signer: &signers.SHA256WithRSASigner{MchID: mchID, PrivateKey: k.merchant, CertificateSerialNo: merchantSerial},
	}
	msg := []byte("POST\n/v3/pay/transactions/jsapi\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n" + body + "\n")
	ctx := context.Background()
	theirs := func() {
		s, err := cred.GenerateAuthorizationHeader(ctx, http.MethodPost, "/v3/pay/transactions/jsapi", body)
		if err != nil {
			b.Fatal(err)
		}
		sinkString = s
	}
	floor := func() {
		d := sha256.Sum256(msg)
		sig, err := rsa.SignPKCS1v15(rand.Reader, k.merchant, crypto.SHA256, d[:])
		if err != nil {
			b.Fatal(err)
		}
		sinkString = base64.StdEncoding.EncodeToString(sig)
	}
	interleaved(b, []string{"wechatpay-go", "floor"}, theirs, floor)
}

var sinkParams any

// BenchmarkPayParams signs the mini-program pay parameters of one
// prepay_id (appId\ntimeStamp\nnonceStr\npackage\n, RSA-SHA256), three
// ways interleaved on the same key: apiv3's JSAPIPayParams; wechatpay-go's
// own steps for the same parameters (JsapiApiService.
// PrepayWithRequestPayment after its prepay: utils.GenerateNonce, the
// message by fmt.Sprintf, SHA256WithRSASigner.Sign); and the floor,
// rsa.SignPKCS1v15 over the prebuilt message. It is the signing pair
// that both libraries expose, so apiv3/wechatpay-go is measured directly.
func BenchmarkPayParams(b *testing.B) {
	k := loadKeys(b)
	c := publicKeyClient(b, k)
	const appID, prepayID = "wxd678efh567hg6787", "wx201410272009395522657a690389285100"
	signer := &signers.SHA256WithRSASigner{MchID: mchID, PrivateKey: k.merchant, CertificateSerialNo: merchantSerial}
	ctx := context.Background()
	msg := []byte(appID + "\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\nprepay_id=" + prepayID + "\n")
	interleaved(b, []string{"apiv3", "floor", "wechatpay-go"}, func() {
		p, err := c.JSAPIPayParams(appID, prepayID)
		if err != nil {
			b.Fatal(err)
		}
		sinkParams = p
	}, func() {
		d := sha256.Sum256(msg)
		sig, err := rsa.SignPKCS1v15(nil, k.merchant, crypto.SHA256, d[:])
		if err != nil {
			b.Fatal(err)
		}
		sinkString = base64.StdEncoding.EncodeToString(sig)
	}, func() {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		nonce, err := utils.GenerateNonce()
		if err != nil {
			b.Fatal(err)
		}
		pkg := "prepay_id=" + prepayID
		r, err := signer.Sign(ctx, fmt.Sprintf("%s\n%s\n%s\n%s\n", appID, ts, nonce, pkg))
		if err != nil {
			b.Fatal(err)
		}
		sinkParams = r
	})
}
