package apiv3

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// V1b and V1c: the mini-program/JSAPI paySign and the APP sign that
// WeChat's documentation gives for the documentation key K-OFF
// (https://pay.weixin.qq.com/docs/merchant/development/generate-turitup-signature-verification/mini-transfer-payment-signature.html
// and app-transfer-payment-signature.html beside it).
const (
	v1bAppID    = "wx2421b1c4370ec43b"
	v1bPrepayID = "wx201410272009395522657a690389285100"
	v1bPaySign  = "mI35pfNEQV6777ke/1T+LJLQDNTm7yeoUJH+j/adPGhmCCi0PbgkvYQTRcXH0uibcLVtvFLdGLpmoYO9FV6lBBsTAjuhh5YOvQi0e2g3e0yytitiNET9FEuqM0pjnKfRW4K6LIZDdbWJv9KhZUx3DrJa5TL7OJ7VdADVivxVySIlPVKjGwuCXzuXSJes0UcILgWQUMyha5/3nYofuHtS7r+KYyMuxD+oJ9VM1Qdxk4UIG59CP5Y3wtYIFybyF3bdu1caHTRRX+DLyMXyYA/IrTmiW01c4RPjpHBX5Dk1sZyY1zVsWNsvMHr2e1NTWtBxKJ+qk5N61J7caYoepHFaxw=="
	v1cSign     = "gXx9KhTP6IooKV1SuG3OCGlBIgZbKtubCZvnau6khw1iffvNT28IzLbKmztq2xA/RCNbZa1XOsoiuVmAEeTZQicWfhv4P+O4oBRIrx0X9f3cnWFkMBU9alTWs0nyQ1N9fcILOTe0f4kxOhVh+/Xhn5hOiUK7Sz3XA1mcpa3R2NCWf/e+0ow/RDf15iTymOHgDrEkT/gedg/3E0iXfDX3mFicSZhrHESZDOTXcl9RzELREBUFznd/o2NQM99WcL86m23HY0cTy+QGWU4QDmNrbQ9ihmLW71qPb0Cx/d7EQvw/Kyx0A6s64ZQp3hHdcmiRcLnjVXrKCk7LShaCK+lS3Q=="
)

func TestJSAPIPayParamsV1b(t *testing.T) {
	// The public method, with the vector's nonce and time drawn from the
	// client's randomness and clock.
	c := v1Client(t, WithRand(nonceSource(v1Nonce)))
	p, err := c.JSAPIPayParams(v1bAppID, v1bPrepayID)
	if err != nil {
		t.Fatal(err)
	}
	want := &JSAPIPayParams{AppID: v1bAppID, TimeStamp: "1554208460", NonceStr: v1Nonce,
		Package: "prepay_id=" + v1bPrepayID, SignType: "RSA", PaySign: v1bPaySign}
	if *p != *want {
		t.Fatalf("got  %+v\nwant %+v", p, want)
	}
	// The JSON names are those of wx.requestPayment.
	b, _ := json.Marshal(p)
	wantJSON := `{"appId":"wx2421b1c4370ec43b","timeStamp":"1554208460","nonceStr":"593BEC0C930BF1AFEB40B4A08C8FB242","package":"prepay_id=wx201410272009395522657a690389285100","signType":"RSA","paySign":"` + v1bPaySign + `"}`
	if string(b) != wantJSON {
		t.Fatalf("JSON %s", b)
	}
	// And it verifies with K-OFF's public key over the documented lines.
	verifyPaySign(t, "wx2421b1c4370ec43b\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\nprepay_id=wx201410272009395522657a690389285100\n", p.PaySign)
}

func TestAppPayParamsV1c(t *testing.T) {
	c := v1Client(t, WithRand(nonceSource(v1Nonce)))
	p, err := c.AppPayParams(v1bAppID, v1bPrepayID)
	if err != nil {
		t.Fatal(err)
	}
	want := &AppPayParams{AppID: v1bAppID, PartnerID: v1MchID, PrepayID: v1bPrepayID, Package: "Sign=WXPay",
		NonceStr: v1Nonce, TimeStamp: "1554208460", Sign: v1cSign}
	if *p != *want {
		t.Fatalf("got  %+v\nwant %+v", p, want)
	}
	b, _ := json.Marshal(p)
	wantJSON := `{"appid":"wx2421b1c4370ec43b","partnerid":"1230000109","prepayid":"wx201410272009395522657a690389285100","package":"Sign=WXPay","noncestr":"593BEC0C930BF1AFEB40B4A08C8FB242","timestamp":"1554208460","sign":"` + v1cSign + `"}`
	if string(b) != wantJSON {
		t.Fatalf("JSON %s", b)
	}
	verifyPaySign(t, "wx2421b1c4370ec43b\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\nwx201410272009395522657a690389285100\n", p.Sign)
}

func verifyPaySign(t *testing.T, msg, sig string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte(msg))
	pub := &parseKeyPEM(t, loadVec(t, "k-off.pem")).PublicKey
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], raw); err != nil {
		t.Fatalf("signature does not verify over %q", msg)
	}
}

func TestPayParamsDefaultsAndRefusals(t *testing.T) {
	cfg := baseConfig(t)
	cfg.AppID = v1bAppID
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Empty appID means Config.AppID; nonces are fresh each time.
	a, err := c.JSAPIPayParams("", v1bPrepayID)
	if err != nil || a.AppID != v1bAppID || len(a.NonceStr) != 32 {
		t.Fatalf("%+v %v", a, err)
	}
	b, _ := c.JSAPIPayParams("", v1bPrepayID)
	if a.NonceStr == b.NonceStr {
		t.Fatal("nonce repeated")
	}
	app, err := c.AppPayParams("", v1bPrepayID)
	if err != nil || app.AppID != v1bAppID || app.PartnerID != fakeMchID {
		t.Fatalf("%+v %v", app, err)
	}

	noApp, err := NewClient(baseConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c               *Client
		appID, prepayID string
		field           string
	}{
		{noApp, "", v1bPrepayID, "appid"},
		{c, "wx\n1", v1bPrepayID, "appid"},
		{c, "", "", "prepay_id"},
		{c, "", strings.Repeat("w", 65), "prepay_id"},
		// A line break would let the prepay_id forge the signed lines.
		{c, "", "wx1\n1554208460", "prepay_id"},
		{c, "", "wx1&package=x", "prepay_id"},
		{c, "", "wx1=", "prepay_id"},
	} {
		for name, f := range map[string]func() error{
			"jsapi": func() error { _, err := tc.c.JSAPIPayParams(tc.appID, tc.prepayID); return err },
			"app":   func() error { _, err := tc.c.AppPayParams(tc.appID, tc.prepayID); return err },
		} {
			var re *RequestError
			if err := f(); !errors.As(err, &re) || re.Field != tc.field {
				t.Errorf("%s %q %q: %v, want a RequestError naming %s", name, tc.appID, tc.prepayID, err, tc.field)
			}
		}
	}
}
