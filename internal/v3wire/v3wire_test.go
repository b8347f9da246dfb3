package v3wire

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docKey is the test key of WeChat Pay's documentation (testdata/v3,
// see its PROVENANCE.md).
func docKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile("../../testdata/v3/k-off.pem")
	require.NoError(t, err)
	block, _ := pem.Decode(b)
	require.NotNil(t, block)
	k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	require.NoError(t, err)
	return k
}

// The official JSAPI request example: its message and the signature the
// documentation prints (https://pay.weixin.qq.com/doc/v3/merchant/4012365336).
func TestSignOfficialRequestVector(t *testing.T) {
	body := `{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}`
	const want = "gEuexJ547PHFV77TQ6eiE4tphVYfWfUe1Wc2dBmVnoMYU2rl/M4zhw+b3vBhuMw6AC7pteNkryLA7UWU2h+umo0OdSuuLm1++O3NckQPCSfm6dypsjn4GYm84KMqXWFrhFmyxEwIdEJDr3w1UYfxOcu55OQupfLkrt/ZzuOspnliJFrPzGQFUk7lGqMMtpz3EfbDUNxnVsHblORg3hVmuYNmbGWnS2ovU30Y2Q+iKFDxzkaXBk8LTy6HzvxizRo6Q+J4SVM7O0hKXfgo1QdI68kpzNULb3EVBXlhTyPUzhkHzzLxECL1qHl3HH2hEv8++C+4wBlsagF3j/O6PABojA=="
	msg := RequestMessage("POST", "/v3/pay/transactions/jsapi", "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", []byte(body))
	k := docKey(t)
	got, err := Sign(k, msg)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.NoError(t, Verify(&k.PublicKey, msg, want))
	assert.ErrorIs(t, Verify(&k.PublicKey, append(msg[:len(msg)-1:len(msg)-1], ' ', '\n'), want), ErrSignature)
}

// The mini-program paySign of the official test data.
func TestPayMessageOfficialVector(t *testing.T) {
	const want = "mI35pfNEQV6777ke/1T+LJLQDNTm7yeoUJH+j/adPGhmCCi0PbgkvYQTRcXH0uibcLVtvFLdGLpmoYO9FV6lBBsTAjuhh5YOvQi0e2g3e0yytitiNET9FEuqM0pjnKfRW4K6LIZDdbWJv9KhZUx3DrJa5TL7OJ7VdADVivxVySIlPVKjGwuCXzuXSJes0UcILgWQUMyha5/3nYofuHtS7r+KYyMuxD+oJ9VM1Qdxk4UIG59CP5Y3wtYIFybyF3bdu1caHTRRX+DLyMXyYA/IrTmiW01c4RPjpHBX5Dk1sZyY1zVsWNsvMHr2e1NTWtBxKJ+qk5N61J7caYoepHFaxw=="
	got, err := Sign(docKey(t), PayMessage("wx2421b1c4370ec43b", "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", "prepay_id=wx201410272009395522657a690389285100"))
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

// The synthetic public-key-mode notification of the protocol notes:
// signed over timestamp, nonce and body by the documentation key.
func TestAnswerMessageNotificationVector(t *testing.T) {
	b, err := os.ReadFile("../../testdata/v3/notify-v5.json")
	require.NoError(t, err)
	var v struct {
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	require.NoError(t, jsonUnmarshal(b, &v))
	k := docKey(t)
	msg := AnswerMessage(v.Headers["Wechatpay-Timestamp"], v.Headers["Wechatpay-Nonce"], []byte(v.Body))
	sig, err := Sign(k, msg)
	require.NoError(t, err)
	assert.Equal(t, v.Headers["Wechatpay-Signature"], sig)
	assert.ErrorIs(t, Verify(&k.PublicKey, msg, ProbePrefix+sig), ErrProbe)
}

// wechatpay-java's AEAD vector under a real 32-byte key, and its
// negatives; a 16-byte key is refused.
func TestSealOpenVector(t *testing.T) {
	key := []byte("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb")
	ct, err := Seal(key, "uluk4a9R25RW", "associatedData", []byte("message"))
	require.NoError(t, err)
	assert.Equal(t, "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=", ct)
	pt, err := Open(key, "uluk4a9R25RW", "associatedData", ct)
	require.NoError(t, err)
	assert.Equal(t, "message", string(pt))
	for _, tc := range []struct{ nonce, aad, ct string }{
		{"uluk4a9R25RW", "bad-associatedData", ct},
		{"bad-4a9R25RW", "associatedData", ct},
		{"uluk4a9R25RW", "associatedData", strings.Repeat("A", 172)},
		{"uluk4a9R25RW", "associatedData", "%%%"},
		{"short", "associatedData", ct},
		{"uluk4a9R25RW", "associatedData", ""},
	} {
		_, err := Open(key, tc.nonce, tc.aad, tc.ct)
		assert.ErrorIs(t, err, ErrDecrypt, "%+v", tc)
	}
	_, err = Open([]byte("testAPIv3Key0000"), "wCq51qZv4Yfg", "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8", "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC")
	assert.ErrorIs(t, err, ErrKey)
	_, err = Seal(key, "short", "", nil)
	assert.Error(t, err)
}

func TestParseAuthorization(t *testing.T) {
	const sig = `signature="c2ln"`
	good := Scheme + ` mchid="1900009191",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",timestamp="1554208460",serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",` + sig
	a, err := ParseAuthorization(good)
	require.NoError(t, err)
	assert.Equal(t, Authorization{MchID: "1900009191", NonceStr: "593BEC0C930BF1AFEB40B4A08C8FB242", Timestamp: "1554208460",
		SerialNo: "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C", Signature: "c2ln"}, a)
	back, err := ParseAuthorization(a.Header())
	require.NoError(t, err)
	assert.Equal(t, a, back)

	// The documentation's example orders its items otherwise: valid.
	_, err = ParseAuthorization(Scheme + ` mchid="123456789",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",signature="x",timestamp="1554208460",serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"`)
	assert.NoError(t, err)

	for name, h := range map[string]string{
		"empty":             "",
		"no scheme":         strings.TrimPrefix(good, Scheme+" "),
		"other scheme":      "WECHATPAY2-SM2-WITH-SM3 " + strings.TrimPrefix(good, Scheme+" "),
		"two spaces":        strings.Replace(good, Scheme+" ", Scheme+"  ", 1),
		"space after comma": strings.Replace(good, `",nonce_str`, `", nonce_str`, 1),
		"unquoted":          strings.Replace(good, `mchid="1900009191"`, `mchid=1900009191`, 1),
		"missing item":      strings.Replace(good, ","+sig, "", 1),
		"duplicate item":    good + `,mchid="1"`,
		"unknown item":      good + `,extra="1"`,
		"trailing comma":    good + ",",
		"empty value":       strings.Replace(good, `mchid="1900009191"`, `mchid=""`, 1),
		"quote inside":      strings.Replace(good, `mchid="1900009191"`, `mchid="19"00"`, 1),
		"newline inside":    strings.Replace(good, `mchid="1900009191"`, "mchid=\"19\n00\"", 1),
		"double comma":      strings.Replace(good, `",nonce_str`, `",,nonce_str`, 1),
		"oversized":         good + strings.Repeat("x", 3000),
		"lower-case scheme": strings.ToLower(Scheme) + strings.TrimPrefix(good, Scheme),
	} {
		_, err := ParseAuthorization(h)
		assert.ErrorIs(t, err, ErrAuthorization, name)
	}
}

// Verify refuses what is not a signature of the message, without
// panicking, whatever the input.
func TestVerifyBadInput(t *testing.T) {
	k := docKey(t)
	for _, s := range []string{"", "%%%", "c2ln", strings.Repeat("A", 344), ProbePrefix, ProbePrefix + "AAAA"} {
		err := Verify(&k.PublicKey, []byte("m"), s)
		assert.True(t, errors.Is(err, ErrSignature) || errors.Is(err, ErrProbe), "%q: %v", s, err)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add(Scheme + ` mchid="1",nonce_str="n",timestamp="1",serial_no="A",signature="s"`)
	f.Add(Scheme + ` mchid="1",mchid="1"`)
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			return
		}
		// What parses is written back to an equal header, which parses
		// to the same items.
		b, err := ParseAuthorization(a.Header())
		if err != nil || a != b {
			t.Fatalf("%q parsed to %+v, which does not round-trip: %+v, %v", h, a, b, err)
		}
		for _, v := range []string{a.MchID, a.NonceStr, a.Timestamp, a.SerialNo, a.Signature} {
			if v == "" || strings.ContainsAny(v, "\"\r\n") {
				t.Fatalf("%q gave the value %q", h, v)
			}
		}
	})
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
