package v3compat

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"

	"github.com/wxpay-go/wxpay/apiv3"
)

// V1b and V1c of WeChat's documentation, for its test key K-OFF
// (testdata/v3/k-off.pem): the mini-program paySign and the APP sign of
// https://pay.weixin.qq.com/docs/merchant/development/generate-turitup-signature-verification/mini-transfer-payment-signature.html
// and app-transfer-payment-signature.html.
const (
	v1bAppID    = "wx2421b1c4370ec43b"
	v1bTS       = "1554208460"
	v1bNonce    = "593BEC0C930BF1AFEB40B4A08C8FB242"
	v1bPrepayID = "wx201410272009395522657a690389285100"
	v1bPaySign  = "mI35pfNEQV6777ke/1T+LJLQDNTm7yeoUJH+j/adPGhmCCi0PbgkvYQTRcXH0uibcLVtvFLdGLpmoYO9FV6lBBsTAjuhh5YOvQi0e2g3e0yytitiNET9FEuqM0pjnKfRW4K6LIZDdbWJv9KhZUx3DrJa5TL7OJ7VdADVivxVySIlPVKjGwuCXzuXSJes0UcILgWQUMyha5/3nYofuHtS7r+KYyMuxD+oJ9VM1Qdxk4UIG59CP5Y3wtYIFybyF3bdu1caHTRRX+DLyMXyYA/IrTmiW01c4RPjpHBX5Dk1sZyY1zVsWNsvMHr2e1NTWtBxKJ+qk5N61J7caYoepHFaxw=="
	v1cSign     = "gXx9KhTP6IooKV1SuG3OCGlBIgZbKtubCZvnau6khw1iffvNT28IzLbKmztq2xA/RCNbZa1XOsoiuVmAEeTZQicWfhv4P+O4oBRIrx0X9f3cnWFkMBU9alTWs0nyQ1N9fcILOTe0f4kxOhVh+/Xhn5hOiUK7Sz3XA1mcpa3R2NCWf/e+0ow/RDf15iTymOHgDrEkT/gedg/3E0iXfDX3mFicSZhrHESZDOTXcl9RzELREBUFznd/o2NQM99WcL86m23HY0cTy+QGWU4QDmNrbQ9ihmLW71qPb0Cx/d7EQvw/Kyx0A6s64ZQp3hHdcmiRcLnjVXrKCk7LShaCK+lS3Q=="
)

// nonceReader yields the random bytes that make apiv3's nonce generator
// (one of 62 letters and digits per byte below 248) draw exactly nonce,
// every time it is read.
type nonceReader struct {
	mu sync.Mutex
	b  []byte
}

func newNonceReader(nonce string) *nonceReader {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 64)
	for i := range b {
		b[i] = byte(strings.IndexByte(alphabet, nonce[i%len(nonce)]))
	}
	return &nonceReader{b: b}
}

func (r *nonceReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return copy(p, r.b), nil
}

// TestPayParamsV1WithWechatpayGo: apiv3 reproduces the published paySign
// and APP sign, and wechatpay-go's verifier accepts them over the lines
// wechatpay-go itself builds; wechatpay-go's signer gives the same bytes.
func TestPayParamsV1WithWechatpayGo(t *testing.T) {
	offPEM := vector(t, "k-off.pem")
	blk, _ := pem.Decode(offPEM)
	off, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := strconv.ParseInt(v1bTS, 10, 64)
	c, err := apiv3.NewClient(apiv3.Config{
		MchID: mchID, MerchantSerialNo: merchantSerial, PrivateKey: offPEM, APIv3Key: apiV3Key,
		PublicKeyID: pubKeyID, PublicKey: vector(t, "k-off.pub.pem"),
	}, apiv3.WithClock(func() time.Time { return time.Unix(ts, 0) }), apiv3.WithRand(newNonceReader(v1bNonce)))
	if err != nil {
		t.Fatal(err)
	}
	ver := verifiers.NewSHA256WithRSAPubkeyVerifier("k-off", off.PublicKey)
	sig := &signers.SHA256WithRSASigner{MchID: mchID, CertificateSerialNo: merchantSerial, PrivateKey: off}
	ctx := context.Background()

	j, err := c.JSAPIPayParams(v1bAppID, v1bPrepayID)
	if err != nil {
		t.Fatal(err)
	}
	if j.PaySign != v1bPaySign || j.TimeStamp != v1bTS || j.NonceStr != v1bNonce || j.SignType != "RSA" {
		t.Fatalf("JSAPI params %+v", j)
	}
	// The message as wechatpay-go's PrepayWithRequestPayment builds it.
	jmsg := j.AppID + "\n" + j.TimeStamp + "\n" + j.NonceStr + "\n" + j.Package + "\n"
	if err := ver.Verify(ctx, "k-off", jmsg, j.PaySign); err != nil {
		t.Fatalf("wechatpay-go refuses the paySign: %v", err)
	}
	if res, err := sig.Sign(ctx, jmsg); err != nil || res.Signature != j.PaySign {
		t.Fatalf("wechatpay-go signs %q differently: %v", jmsg, err)
	}

	a, err := c.AppPayParams(v1bAppID, v1bPrepayID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Sign != v1cSign || a.PartnerID != mchID || a.Package != "Sign=WXPay" {
		t.Fatalf("APP params %+v", a)
	}
	amsg := a.AppID + "\n" + a.TimeStamp + "\n" + a.NonceStr + "\n" + a.PrepayID + "\n"
	if err := ver.Verify(ctx, "k-off", amsg, a.Sign); err != nil {
		t.Fatalf("wechatpay-go refuses the APP sign: %v", err)
	}
	// A paySign over the other scene's fourth line must not verify: the
	// mix-up the documentation warns about.
	if err := ver.Verify(ctx, "k-off", amsg, j.PaySign); err == nil {
		t.Fatal("JSAPI paySign verified as an APP sign")
	}
}

// wgoPayClient is wechatpay-go's client for the merchant, on the WeChat
// Pay public key, sending to srv: wechatpay-go has no base-URL option,
// so the transport points its fixed host at the loopback server.
func wgoPayClient(t testing.TB, k keys, srv *httptest.Server) *core.Client {
	t.Helper()
	target := strings.TrimPrefix(srv.URL, "http://")
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = "http", target, target
		return srv.Client().Transport.RoundTrip(r)
	})
	c, err := core.NewClient(context.Background(),
		option.WithWechatPayPublicKeyAuthCipher(mchID, merchantSerial, k.merchant, pubKeyID, &k.wechat.PublicKey),
		option.WithHTTPClient(&http.Client{Transport: rt}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// prepayServer plays WeChat for a JSAPI prepay: it checks the request's
// signature with wechatpay-go's verifier and answers a prepay_id signed
// with wechatpay-go's signer under the public key id.
func prepayServer(t testing.TB, k keys, prepayID string) *httptest.Server {
	answer := []byte(`{"prepay_id":"` + prepayID + `"}`)
	h := wgoSign(t, k.wechat, pubKeyID, time.Now(), answer)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a := parseAuthorization(t, r.Header.Get("Authorization"))
		msg := r.Method + "\n" + r.URL.RequestURI() + "\n" + a["timestamp"] + "\n" + a["nonce_str"] + "\n" + string(body) + "\n"
		if err := verifiers.NewSHA256WithRSAPubkeyVerifier(merchantSerial, k.merchant.PublicKey).Verify(r.Context(), merchantSerial, msg, a["signature"]); err != nil ||
			r.URL.Path != "/v3/pay/transactions/jsapi" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"code":"SIGN_ERROR","message":"签名错误"}`)
			return
		}
		for name, v := range h {
			w.Header()[name] = v
		}
		_, _ = w.Write(answer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestPrepayWithRequestPaymentAgrees: the same order placed by apiv3 and
// by wechatpay-go's PrepayWithRequestPayment against one server (which
// verifies both with wechatpay-go); given wechatpay-go's timestamp and
// nonce, apiv3's JSAPIPayParams reproduces its paySign exactly.
func TestPrepayWithRequestPaymentAgrees(t *testing.T) {
	k := loadKeys(t)
	srv := prepayServer(t, k, v1bPrepayID)
	ctx := context.Background()
	svc := jsapi.JsapiApiService{Client: wgoPayClient(t, k, srv)}
	theirs, _, err := svc.PrepayWithRequestPayment(ctx, jsapi.PrepayRequest{
		Appid: core.String("wxd678efh567hg6787"), Mchid: core.String(mchID), Description: core.String("Image形象店-深圳腾大-QQ公仔"),
		OutTradeNo: core.String("1217752501201407033233368018"), NotifyUrl: core.String("https://www.weixin.qq.com/wxpay/pay.php"),
		Amount: &jsapi.Amount{Total: core.Int64(100)}, Payer: &jsapi.Payer{Openid: core.String("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")},
	})
	if err != nil {
		t.Fatalf("wechatpay-go: %v", err)
	}
	ts, _ := strconv.ParseInt(*theirs.TimeStamp, 10, 64)
	c, err := apiv3.NewClient(apiv3.Config{
		MchID: mchID, AppID: "wxd678efh567hg6787", NotifyURL: "https://www.weixin.qq.com/wxpay/pay.php",
		MerchantSerialNo: merchantSerial, PrivateKey: k.merchantPEM, APIv3Key: apiV3Key,
		PublicKeyID: pubKeyID, PublicKey: k.wechatPubPEM,
	}, apiv3.WithBaseURL(srv.URL), apiv3.WithClock(func() time.Time { return time.Unix(ts, 0) }),
		apiv3.WithRand(newNonceReader(*theirs.NonceStr)))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := c.PrepayJSAPI(ctx, apiv3.PrepayRequest{
		Description: "Image形象店-深圳腾大-QQ公仔", OutTradeNo: "1217752501201407033233368018",
		Amount: apiv3.Amount{Total: 100}, Payer: &apiv3.Payer{OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
	})
	if err != nil || ours.PrepayID != *theirs.PrepayId {
		t.Fatalf("apiv3: %+v %v", ours, err)
	}
	p, err := c.JSAPIPayParams("", ours.PrepayID)
	if err != nil {
		t.Fatal(err)
	}
	if p.PaySign != *theirs.PaySign || p.Package != *theirs.Package || p.SignType != *theirs.SignType || p.AppID != *theirs.Appid {
		t.Fatalf("apiv3 %+v\nwechatpay-go %v", p, theirs)
	}
}
