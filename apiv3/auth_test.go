package apiv3

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// V1: the official JSAPI signing example, key k-off.pem. Message and
// signature from https://pay.weixin.qq.com/doc/v3/merchant/4012365336
// (quoted on developers.weixin.qq.com/community).
const (
	v1Method = "POST"
	v1URI    = "/v3/pay/transactions/jsapi"
	v1TS     = "1554208460"
	v1Nonce  = "593BEC0C930BF1AFEB40B4A08C8FB242"
	v1Body   = `{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}`
	v1Sig    = "gEuexJ547PHFV77TQ6eiE4tphVYfWfUe1Wc2dBmVnoMYU2rl/M4zhw+b3vBhuMw6AC7pteNkryLA7UWU2h+umo0OdSuuLm1++O3NckQPCSfm6dypsjn4GYm84KMqXWFrhFmyxEwIdEJDr3w1UYfxOcu55OQupfLkrt/ZzuOspnliJFrPzGQFUk7lGqMMtpz3EfbDUNxnVsHblORg3hVmuYNmbGWnS2ovU30Y2Q+iKFDxzkaXBk8LTy6HzvxizRo6Q+J4SVM7O0hKXfgo1QdI68kpzNULb3EVBXlhTyPUzhkHzzLxECL1qHl3HH2hEv8++C+4wBlsagF3j/O6PABojA=="
	v1MchID  = "1230000109"
)

// V10: the Authorization header example of
// https://pay.weixin.qq.com/docs/partner/development/verify-signature-faq/http-header-authorization-error.html
// (its signature is elided there as "…"; its mchid is 123456789).
const v10Header = `WECHATPAY2-SHA256-RSA2048 mchid="123456789",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",signature="…",timestamp="1554208460",serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"`

// v1Header is V10 carrying V1's merchant and signature: the header WeChat
// expects for the V1 request, assembled from the two published examples.
var v1Header = strings.NewReplacer(`mchid="123456789"`, `mchid="`+v1MchID+`"`, `signature="…"`, `signature="`+v1Sig+`"`).Replace(v10Header)

// v1Order encodes to exactly V1's body (encoding/json keeps struct order).
type v1Order struct {
	AppID       string `json:"appid"`
	MchID       string `json:"mchid"`
	Description string `json:"description"`
	OutTradeNo  string `json:"out_trade_no"`
	NotifyURL   string `json:"notify_url"`
	Amount      struct {
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
	Payer struct {
		OpenID string `json:"openid"`
	} `json:"payer"`
}

func v1OrderValue() v1Order {
	o := v1Order{AppID: "wxd678efh567hg6787", MchID: "1230000109", Description: "Image形象店-深圳腾大-QQ公仔",
		OutTradeNo: "1217752501201407033233368018", NotifyURL: "https://www.weixin.qq.com/wxpay/pay.php"}
	o.Amount.Total, o.Amount.Currency = 100, "CNY"
	o.Payer.OpenID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
	return o
}

// nonceSource yields the bytes that make wire.Nonce draw s.
func nonceSource(s string) io.Reader {
	b := make([]byte, 64)
	for i := range b {
		b[i] = byte(strings.IndexByte(wire.NonceAlphabet, s[i%len(s)]))
	}
	return bytes.NewReader(b)
}

func v1Client(t testing.TB, opts ...Option) *Client {
	t.Helper()
	cfg := Config{
		MchID:            v1MchID,
		MerchantSerialNo: "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",
		PrivateKey:       loadVec(t, "k-off.pem"),
		APIv3Key:         fakeAPIv3Key,
		PublicKeyID:      fakePubKeyID,
		PublicKey:        loadVec(t, "k-off.pub.pem"),
	}
	c, err := NewClient(cfg, append([]Option{WithClock(func() time.Time { return time.Unix(1554208460, 0) })}, opts...)...)
	require.NoError(t, err)
	return c
}

func TestStringToSignV1(t *testing.T) {
	want := "POST\n/v3/pay/transactions/jsapi\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n" + v1Body + "\n"
	got := appendMessage(nil, v1Method, v1URI, v1TS, v1Nonce, []byte(v1Body))
	assert.Equal(t, want, string(got))
	// A GET has an empty fifth line: the message ends "\n\n".
	assert.Equal(t, "GET\n/v3/certificates\n1554208460\n"+v1Nonce+"\n\n",
		string(appendMessage(nil, "GET", "/v3/certificates", v1TS, v1Nonce, nil)))
}

func TestAuthorizationV1(t *testing.T) {
	c := v1Client(t)
	got, err := c.authorizationAt(v1Method, v1URI, v1TS, v1Nonce, []byte(v1Body))
	require.NoError(t, err)
	assert.Equal(t, v1Header, got)
}

// TestAuthorizationV1OnTheWire sends V1's order through the one request
// path and checks the exact header and body that reach the server.
func TestAuthorizationV1OnTheWire(t *testing.T) {
	var gotAuth, gotBody, gotURI string
	var gotHeader http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotAuth, gotBody, gotURI, gotHeader = r.Header.Get("Authorization"), string(b), r.URL.RequestURI(), r.Header
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	c := v1Client(t, WithBaseURL(srv.URL), WithRand(nonceSource(v1Nonce)))
	r, err := newRequest(endpoint{op: "jsapi", method: v1Method, path: v1URI}, nil, nil, v1OrderValue())
	require.NoError(t, err)
	_, err = c.call(context.Background(), r, nil)
	var we *Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, http.StatusTeapot, we.StatusCode)
	assert.Equal(t, v1URI, gotURI)
	assert.Equal(t, v1Body, gotBody)
	assert.Equal(t, v1Header, gotAuth)
	assert.Equal(t, "application/json", gotHeader.Get("Accept"))
	assert.Equal(t, "application/json", gotHeader.Get("Content-Type"))
	assert.Contains(t, gotHeader.Get("User-Agent"), "wxpay-go-apiv3")
	// With a public key configured, WeChat is asked to sign with it.
	assert.Equal(t, fakePubKeyID, gotHeader.Get(HeaderSerial))
}

// V2: wechatpay-go core/auth/signers/sha256withrsa_signer_test.go, key
// k-wgo.pem (PKCS#8), message "source".
func TestSignV2(t *testing.T) {
	const want = "BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg=="
	cfg := baseConfig(t)
	cfg.MchID, cfg.MerchantSerialNo, cfg.PrivateKey = "1234567890", "F5765756002FDD77", loadVec(t, "k-wgo.pem")
	c, err := NewClient(cfg)
	require.NoError(t, err)
	got, err := c.signMessage([]byte("source"))
	require.NoError(t, err)
	assert.Equal(t, want, got)
	other, err := c.signMessage([]byte("wrong source"))
	require.NoError(t, err)
	assert.NotEqual(t, want, other)
}

// hsmSigner is a crypto.Signer that is not an *rsa.PrivateKey, as an HSM
// or KMS client is.
type hsmSigner struct {
	k     *rsa.PrivateKey
	calls int
	fail  error
}

func (s *hsmSigner) Public() crypto.PublicKey { return &s.k.PublicKey }
func (s *hsmSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	s.calls++
	if s.fail != nil {
		return nil, s.fail
	}
	if o.HashFunc() != crypto.SHA256 || len(d) != 32 {
		return nil, errors.New("hsm: want a SHA-256 digest")
	}
	return rsa.SignPKCS1v15(r, s.k, crypto.SHA256, d)
}

func TestAuthorizationV1WithSigner(t *testing.T) {
	s := &hsmSigner{k: parseKeyPEM(t, loadVec(t, "k-off.pem"))}
	cfg := Config{MchID: v1MchID, MerchantSerialNo: "1dde55ad98ed71d6edd4a4a16996de7b47773a8c", Signer: s,
		APIv3Key: fakeAPIv3Key, PublicKeyID: fakePubKeyID, PublicKey: loadVec(t, "k-off.pub.pem")}
	c, err := NewClient(cfg)
	require.NoError(t, err)
	got, err := c.authorizationAt(v1Method, v1URI, v1TS, v1Nonce, []byte(v1Body))
	require.NoError(t, err)
	assert.Equal(t, v1Header, got, "the serial is sent upper-case whatever the configuration's case")
	assert.Equal(t, 1, s.calls)

	s.fail = errors.New("kms: quota exceeded")
	_, err = c.authorizationAt(v1Method, v1URI, v1TS, v1Nonce, []byte(v1Body))
	assert.ErrorIs(t, err, s.fail, "the signer's failure stays matchable")
}

// TestAuthorizationNonces checks that every request draws a fresh nonce
// of 32 [A-Za-z0-9] and signs the clock's second.
func TestAuthorizationNonces(t *testing.T) {
	c := v1Client(t)
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		a, err := c.authorization("GET", "/v3/certificates", nil)
		require.NoError(t, err)
		items, ok := parseAuthForTest(a)
		require.True(t, ok, a)
		n := items["nonce_str"]
		require.Len(t, n, 32)
		require.Equal(t, "", strings.Trim(n, wire.NonceAlphabet))
		require.False(t, seen[n], "nonce repeated")
		seen[n] = true
		require.Equal(t, v1TS, items["timestamp"])
	}
}
