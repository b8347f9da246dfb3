package apiv3

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// Fixtures from testdata/v3 (see its PROVENANCE.md).

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/v3/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readJSONVector(t testing.TB, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(readVector(t, name), v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func rsaKeyFromPEM(t testing.TB, b []byte) *rsa.PrivateKey {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

// notifyVector is the shape of notify-v4.json and notify-v5.json.
type notifyVector struct {
	Headers   map[string]string `json:"headers"`
	Now       int64             `json:"now"`
	Body      string            `json:"body"`
	APIv3Key  string            `json:"apiv3_key"`
	Plaintext string            `json:"plaintext"`
}

func (v notifyVector) header() http.Header {
	h := http.Header{}
	for k, val := range v.Headers {
		h.Set(k, val)
	}
	return h
}

// The V5 vector's identity: WeChat is played by the documentation key
// K-OFF under a public key id; the merchant key is wechatpay-java's.
const (
	v5PubKeyID = "PUB_KEY_ID_0114232134912410000000000000"
	v5APIv3Key = "0123456789abcdefghijABCDEFGHIJ01"
	wjSerial   = "5F1C72E2A8931B72A2E13AF8DEE92471EB397115"
)

// testClock is a settable clock, safe for concurrent use.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// newNotifyClient returns a client that trusts K-OFF's public key under
// v5PubKeyID, with the V5 APIv3 key, at clock.
func newNotifyClient(t testing.TB, clock *testClock, opts ...Option) *Client {
	t.Helper()
	c, err := NewClient(Config{
		MchID:            "1230000109",
		MerchantSerialNo: wjSerial,
		PrivateKey:       readVector(t, "k-wj.pem"),
		APIv3Key:         v5APIv3Key,
		PublicKeyID:      v5PubKeyID,
		PublicKey:        readVector(t, "k-off.pub.pem"),
	}, append([]Option{WithClock(clock.now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wechat plays WeChat in tests: it encrypts resources under the APIv3 key
// and signs notifications with K-OFF, the key the client trusts.
type wechat struct {
	key *rsa.PrivateKey
}

func newWechat(t testing.TB) *wechat {
	return &wechat{key: rsaKeyFromPEM(t, readVector(t, "k-off.pem"))}
}

func (w *wechat) sign(t testing.TB, ts, nonce string, body []byte) string {
	t.Helper()
	msg := ts + "\n" + nonce + "\n" + string(body) + "\n"
	d := sha256.Sum256([]byte(msg))
	sig, err := rsa.SignPKCS1v15(nil, w.key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// headers signs body at ts.
func (w *wechat) headers(t testing.TB, ts time.Time, body []byte) http.Header {
	t.Helper()
	tss := strconv.FormatInt(ts.Unix(), 10)
	const nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Wechatpay-Timestamp", tss)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Serial", v5PubKeyID)
	h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
	h.Set("Wechatpay-Signature", w.sign(t, tss, nonce, body))
	return h
}

// resource is the resource object of a notification body.
type resource struct {
	OriginalType   string `json:"original_type"`
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
}

func sealedResource(t testing.TB, plaintext string) resource {
	return resource{
		OriginalType:   "transaction",
		Algorithm:      AlgorithmAEADAES256GCM,
		Ciphertext:     sealForTest(t, []byte(v5APIv3Key), "fdasflkja484", "transaction", []byte(plaintext)),
		AssociatedData: "transaction",
		Nonce:          "fdasflkja484",
	}
}

func notificationJSON(t testing.TB, res resource) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id":            "EV-2026010215040500001",
		"create_time":   "2026-01-02T15:04:06+08:00",
		"resource_type": "encrypt-resource",
		"event_type":    "TRANSACTION.SUCCESS",
		"summary":       "支付成功",
		"resource":      res,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const testPlaintext = `{"mchid":"1230000109","appid":"wxd678efh567hg6787","out_trade_no":"1217752501201407033233368018","transaction_id":"4200000000000000000000000001","trade_state":"SUCCESS","amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}`

var testNow = time.Unix(1767337446, 0)

func postRequest(h http.Header, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "https://merchant.example/notify", bytes.NewReader(body))
	for k, v := range h {
		r.Header[k] = v
	}
	return r
}

// TestParseNotificationV5 opens the published public-key-mode vector.
func TestParseNotificationV5(t *testing.T) {
	var v notifyVector
	readJSONVector(t, "notify-v5.json", &v)
	c := newNotifyClient(t, &testClock{t: time.Unix(v.Now, 0)})
	n, err := c.ParseNotification(postRequest(v.header(), []byte(v.Body)))
	if err != nil {
		t.Fatalf("ParseNotification(V5) = %v", err)
	}
	if string(n.Plaintext) != v.Plaintext {
		t.Fatalf("plaintext = %s\nwant %s", n.Plaintext, v.Plaintext)
	}
	want := Notification{
		ID: "EV-2026010215040500001", EventType: "TRANSACTION.SUCCESS", ResourceType: "encrypt-resource",
		Summary: "支付成功", OriginalType: "transaction",
	}
	if n.ID != want.ID || n.EventType != want.EventType || n.ResourceType != want.ResourceType ||
		n.Summary != want.Summary || n.OriginalType != want.OriginalType {
		t.Fatalf("event = %+v", n)
	}
	if wantT := time.Date(2026, 1, 2, 7, 4, 6, 0, time.UTC); !n.CreateTime.Equal(wantT) {
		t.Fatalf("CreateTime = %v, want %v", n.CreateTime, wantT)
	}
	var tx struct {
		MchID  string `json:"mchid"`
		Amount struct {
			Total int64 `json:"total"`
		} `json:"amount"`
		Payer struct {
			OpenID string `json:"openid"`
		} `json:"payer"`
	}
	if err := n.Decode(&tx); err != nil {
		t.Fatal(err)
	}
	if tx.MchID != "1230000109" || tx.Amount.Total != 100 || tx.Payer.OpenID != "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" {
		t.Fatalf("decoded %+v", tx)
	}

	// The same body with the probe prefix WeChat uses to catch merchants
	// who never verify is refused, as a probe.
	h := v.header()
	h.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+h.Get("Wechatpay-Signature"))
	if _, err := c.ParseNotification(postRequest(h, []byte(v.Body))); !errors.Is(err, ErrSignatureProbe) || !errors.Is(err, ErrSignature) {
		t.Fatalf("probe variant: %v, want ErrSignatureProbe", err)
	}
	// The real probe sample of wechatpay-java#319, on V5's body and clock.
	var p9 map[string]string
	readJSONVector(t, "probe-v9.json", &p9)
	h = v.header()
	h.Set("Wechatpay-Signature", p9["Wechatpay-Signature"])
	if _, err := c.ParseNotification(postRequest(h, []byte(v.Body))); !errors.Is(err, ErrSignatureProbe) {
		t.Fatalf("V9 probe: %v, want ErrSignatureProbe", err)
	}
}

// TestNotificationV4Key: wechatpay-go's complete notification is encrypted
// under a 16-byte key (AES-128). Its resource really is AES-128-GCM, and
// the strict AEAD_AES_256_GCM open refuses it; NewClient refuses the key.
func TestNotificationV4Key(t *testing.T) {
	var v notifyVector
	readJSONVector(t, "notify-v4.json", &v)
	var nb notificationBody
	if err := decodeJSON([]byte(v.Body), &nb); err != nil {
		t.Fatal(err)
	}
	r := nb.Resource
	if pt, err := openAEAD([]byte(v.APIv3Key), r.Nonce, r.AssociatedData, r.Ciphertext); err != ErrDecrypt { // the very value
		t.Fatalf("openAEAD(V4, 16-byte key) = %q, %v; want ErrDecrypt", pt, err)
	}
	// Padding the key to 32 bytes does not make it open either.
	if _, err := openAEAD([]byte(v.APIv3Key+v.APIv3Key), r.Nonce, r.AssociatedData, r.Ciphertext); err != ErrDecrypt {
		t.Fatalf("openAEAD(V4, doubled key) = %v", err)
	}
	_, err := NewClient(Config{
		MchID: "1234567890", MerchantSerialNo: wjSerial, PrivateKey: readVector(t, "k-wj.pem"),
		APIv3Key: v.APIv3Key, PublicKeyID: v5PubKeyID, PublicKey: readVector(t, "k-off.pub.pem"),
	})
	if err == nil {
		t.Fatal("NewClient accepted a 16-byte APIv3 key")
	}
}

// TestCertificatesV6Key: the platform-certificate download of wechatpay-go
// is sealed under a 16-byte key and must be refused.
func TestCertificatesV6Key(t *testing.T) {
	var v struct {
		Key  string `json:"apiv3_key"`
		Body string `json:"body"`
	}
	readJSONVector(t, "certificates-v6.json", &v)
	var d struct {
		Data []struct {
			EC resource `json:"encrypt_certificate"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(v.Body), &d); err != nil || len(d.Data) != 1 {
		t.Fatalf("%v %d", err, len(d.Data))
	}
	ec := d.Data[0].EC
	if _, err := openAEAD([]byte(v.Key), ec.Nonce, ec.AssociatedData, ec.Ciphertext); err != ErrDecrypt {
		t.Fatalf("openAEAD(V6) = %v, want ErrDecrypt", err)
	}
}

// TestCertificatesV7 opens wechatpay-java's 32-byte-key download.
func TestCertificatesV7(t *testing.T) {
	var v struct {
		Key    string `json:"apiv3_key"`
		Body   string `json:"body"`
		SHA256 string `json:"plaintext_sha256"`
	}
	readJSONVector(t, "certificates-v7.json", &v)
	var d struct {
		Data []struct {
			EC resource `json:"encrypt_certificate"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(v.Body), &d); err != nil || len(d.Data) != 1 {
		t.Fatalf("%v", err)
	}
	ec := d.Data[0].EC
	pt, err := openAEAD([]byte(v.Key), ec.Nonce, ec.AssociatedData, ec.Ciphertext)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(pt); base16(sum[:]) != v.SHA256 {
		t.Fatalf("sha256 = %x, want %s", sum, v.SHA256)
	}
}

func base16(b []byte) string {
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, hexd[c>>4], hexd[c&15])
	}
	return string(out)
}

// TestParseNotificationRefusals tampers with every part of a genuine
// notification, one at a time.
func TestParseNotificationRefusals(t *testing.T) {
	wx := newWechat(t)
	clock := &testClock{t: testNow}
	c := newNotifyClient(t, clock)
	good := notificationJSON(t, sealedResource(t, testPlaintext))
	goodH := wx.headers(t, testNow, good)
	if n, err := c.ParseNotification(postRequest(goodH, good)); err != nil || string(n.Plaintext) != testPlaintext {
		t.Fatalf("genuine notification refused: %v", err)
	}

	// signed builds a notification whose body is signed correctly, so
	// that only what the case changes is wrong.
	signed := func(body []byte) (http.Header, []byte) { return wx.headers(t, testNow, body), body }
	withRes := func(f func(*resource)) (http.Header, []byte) {
		r := sealedResource(t, testPlaintext)
		f(&r)
		return signed(notificationJSON(t, r))
	}
	rawCT, _ := base64.StdEncoding.DecodeString(sealedResource(t, testPlaintext).Ciphertext)
	flip := func(i int) string {
		b := append([]byte(nil), rawCT...)
		b[(i+len(b))%len(b)] ^= 1
		return base64.StdEncoding.EncodeToString(b)
	}
	hdr := func(k, v string) (http.Header, []byte) {
		h := goodH.Clone()
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
		return h, good
	}
	sig, _ := base64.StdEncoding.DecodeString(goodH.Get("Wechatpay-Signature"))
	sig[len(sig)/2] ^= 0x10
	ts := testNow.Unix()
	replace := func(old, new string) []byte { return bytes.Replace(good, []byte(old), []byte(new), 1) }

	cases := []struct {
		name string
		req  func() (http.Header, []byte)
		want error
	}{
		// The body and headers as signed.
		{"body byte changed", func() (http.Header, []byte) { return goodH, replace("EV-2026", "EV-2027") }, ErrSignature},
		{"body with trailing newline", func() (http.Header, []byte) { return goodH, append(append([]byte(nil), good...), '\n') }, ErrSignature},
		{"body re-encoded with spaces", func() (http.Header, []byte) { return goodH, replace(`"id":`, `"id": `) }, ErrSignature},
		{"empty body", func() (http.Header, []byte) { return goodH, nil }, ErrSignature},
		{"nonce header changed", func() (http.Header, []byte) { return hdr("Wechatpay-Nonce", "X"+goodH.Get("Wechatpay-Nonce")[1:]) }, ErrSignature},
		{"nonce header missing", func() (http.Header, []byte) { return hdr("Wechatpay-Nonce", "") }, ErrMissingSignature},
		{"serial unknown", func() (http.Header, []byte) {
			return hdr("Wechatpay-Serial", "PUB_KEY_ID_0000000000000000000000000000")
		}, ErrUnknownSerial},
		{"serial of a certificate not held", func() (http.Header, []byte) { return hdr("Wechatpay-Serial", "D7CE59D1F522D701") }, ErrSignature},
		{"serial missing", func() (http.Header, []byte) { return hdr("Wechatpay-Serial", "") }, ErrMissingSignature},
		{"signature bit flipped", func() (http.Header, []byte) {
			return hdr("Wechatpay-Signature", base64.StdEncoding.EncodeToString(sig))
		}, ErrSignature},
		{"signature not base64", func() (http.Header, []byte) {
			return hdr("Wechatpay-Signature", "%%%"+goodH.Get("Wechatpay-Signature")[3:])
		}, ErrSignature},
		{"signature truncated", func() (http.Header, []byte) {
			return hdr("Wechatpay-Signature", goodH.Get("Wechatpay-Signature")[:100])
		}, ErrSignature},
		{"signature missing", func() (http.Header, []byte) { return hdr("Wechatpay-Signature", "") }, ErrMissingSignature},
		{"probe signature", func() (http.Header, []byte) {
			return hdr("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+goodH.Get("Wechatpay-Signature"))
		}, ErrSignatureProbe},
		{"SM2 signature type", func() (http.Header, []byte) { return hdr("Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3") }, ErrSignature},
		{"signature type twice", func() (http.Header, []byte) {
			h := goodH.Clone()
			h.Add("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
			return h, good
		}, ErrSignature},
		{"probe prefix alone", func() (http.Header, []byte) { return hdr("Wechatpay-Signature", "WECHATPAY/SIGNTEST/") }, ErrSignatureProbe},
		// The timestamp, re-signed each time so that only the window refuses it.
		{"timestamp stale", func() (http.Header, []byte) { return wx.headers(t, testNow.Add(-6*time.Minute), good), good }, ErrTimestamp},
		{"timestamp future", func() (http.Header, []byte) { return wx.headers(t, testNow.Add(6*time.Minute), good), good }, ErrTimestamp},
		{"timestamp changed, signature kept", func() (http.Header, []byte) { return hdr("Wechatpay-Timestamp", strconv.FormatInt(ts-1, 10)) }, ErrSignature},
		{"timestamp non-numeric", func() (http.Header, []byte) { return hdr("Wechatpay-Timestamp", "1767337446.0") }, ErrTimestamp},
		{"timestamp with sign", func() (http.Header, []byte) { return hdr("Wechatpay-Timestamp", "+"+strconv.FormatInt(ts, 10)) }, ErrTimestamp},
		{"timestamp in milliseconds", func() (http.Header, []byte) { return hdr("Wechatpay-Timestamp", strconv.FormatInt(ts*1000, 10)) }, ErrTimestamp},
		{"timestamp missing", func() (http.Header, []byte) { return hdr("Wechatpay-Timestamp", "") }, ErrMissingSignature},
		// The resource, signed by "WeChat" but not openable: one error for all.
		{"GCM tag flipped", func() (http.Header, []byte) { return withRes(func(r *resource) { r.Ciphertext = flip(-1) }) }, ErrDecrypt},
		{"GCM ciphertext flipped", func() (http.Header, []byte) { return withRes(func(r *resource) { r.Ciphertext = flip(0) }) }, ErrDecrypt},
		{"GCM ciphertext truncated", func() (http.Header, []byte) {
			return withRes(func(r *resource) { r.Ciphertext = base64.StdEncoding.EncodeToString(rawCT[:10]) })
		}, ErrDecrypt},
		{"GCM ciphertext not base64", func() (http.Header, []byte) {
			return withRes(func(r *resource) { r.Ciphertext = "*" + r.Ciphertext[1:] })
		}, ErrDecrypt},
		{"nonce changed", func() (http.Header, []byte) { return withRes(func(r *resource) { r.Nonce = "fdasflkja485" }) }, ErrDecrypt},
		{"nonce of 11 bytes", func() (http.Header, []byte) { return withRes(func(r *resource) { r.Nonce = "fdasflkja48" }) }, ErrDecrypt},
		{"nonce of 16 bytes", func() (http.Header, []byte) { return withRes(func(r *resource) { r.Nonce = "fdasflkja4840000" }) }, ErrDecrypt},
		{"associated_data changed", func() (http.Header, []byte) { return withRes(func(r *resource) { r.AssociatedData = "refund" }) }, ErrDecrypt},
		{"associated_data emptied", func() (http.Header, []byte) { return withRes(func(r *resource) { r.AssociatedData = "" }) }, ErrDecrypt},
		{"sealed under another key", func() (http.Header, []byte) {
			return withRes(func(r *resource) {
				r.Ciphertext = sealForTest(t, []byte("ABCDEFGHIJ0123456789abcdefghij01"), r.Nonce, r.AssociatedData, []byte(testPlaintext))
			})
		}, ErrDecrypt},
		{"unknown algorithm", func() (http.Header, []byte) { return withRes(func(r *resource) { r.Algorithm = "AEAD_SM4_GCM" }) }, ErrAlgorithm},
		{"algorithm in lower case", func() (http.Header, []byte) { return withRes(func(r *resource) { r.Algorithm = "aead_aes_256_gcm" }) }, ErrAlgorithm},
		{"ciphertext missing", func() (http.Header, []byte) { return withRes(func(r *resource) { r.Ciphertext = "" }) }, ErrNotification},
		{"nonce missing", func() (http.Header, []byte) { return withRes(func(r *resource) { r.Nonce = "" }) }, ErrNotification},
		// The outer JSON, signed but malformed.
		{"resource missing", func() (http.Header, []byte) {
			return signed([]byte(`{"id":"EV-1","create_time":"2026-01-02T15:04:06+08:00","event_type":"TRANSACTION.SUCCESS"}`))
		}, ErrNotification},
		{"id missing", func() (http.Header, []byte) { return signed(replace(`"id":"EV-2026010215040500001"`, `"id":""`)) }, ErrNotification},
		{"create_time missing", func() (http.Header, []byte) {
			return signed(replace(`"create_time":"2026-01-02T15:04:06+08:00"`, `"create_time":""`))
		}, ErrNotification},
		{"create_time not RFC 3339", func() (http.Header, []byte) {
			return signed(replace(`"create_time":"2026-01-02T15:04:06+08:00"`, `"create_time":"2026-01-02 15:04:06"`))
		}, ErrNotification},
		{"create_time without offset", func() (http.Header, []byte) {
			return signed(replace(`"create_time":"2026-01-02T15:04:06+08:00"`, `"create_time":"2026-01-02T15:04:06"`))
		}, ErrNotification},
		{"create_time a number", func() (http.Header, []byte) {
			return signed(replace(`"create_time":"2026-01-02T15:04:06+08:00"`, `"create_time":1767337446`))
		}, ErrJSON},
		{"event_type missing", func() (http.Header, []byte) {
			return signed(replace(`"event_type":"TRANSACTION.SUCCESS"`, `"event_type":""`))
		}, ErrNotification},
		{"duplicate key", func() (http.Header, []byte) {
			return signed(replace(`"id":"EV-2026010215040500001"`, `"id":"EV-2026010215040500001","id":"EV-other"`))
		}, ErrJSON},
		{"duplicate resource", func() (http.Header, []byte) {
			b := notificationJSON(t, sealedResource(t, testPlaintext))
			other, _ := json.Marshal(sealedResource(t, `{"mchid":"1230000109","amount":{"total":1}}`))
			return signed(append(b[:len(b)-1], append([]byte(`,"resource":`), append(other, '}')...)...))
		}, ErrJSON},
		{"trailing document", func() (http.Header, []byte) {
			return signed(append(append([]byte(nil), good...), []byte(`{"id":"x"}`)...))
		}, ErrJSON},
		{"v2 XML notification, unsigned", func() (http.Header, []byte) {
			return http.Header{"Content-Type": {"text/xml"}}, []byte(`<xml><return_code><![CDATA[SUCCESS]]></return_code><sign>C380BEC2BFD727A4B6845133519F3AD6</sign></xml>`)
		}, ErrMissingSignature},
		{"not JSON", func() (http.Header, []byte) { return signed([]byte(`<xml><return_code>SUCCESS</return_code></xml>`)) }, ErrJSON},
		{"JSON array", func() (http.Header, []byte) { return signed([]byte(`[]`)) }, ErrJSON},
		{"deep nesting", func() (http.Header, []byte) {
			return signed([]byte(`{"x":` + strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200) + `}`))
		}, ErrJSON},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, body := tc.req()
			n, err := c.ParseNotification(postRequest(h, body))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == ErrDecrypt && err != ErrDecrypt {
				t.Fatalf("decryption failure %v is not exactly ErrDecrypt", err)
			}
			if n != nil {
				t.Fatalf("notification returned with an error: %+v", n)
			}
			if err != nil && strings.Contains(err.Error(), v5APIv3Key) {
				t.Fatal("error names the APIv3 key")
			}
		})
	}
}

// TestParseNotificationWindow: a genuine notification replayed later than
// five minutes is refused; inside the window either way it is accepted.
func TestParseNotificationWindow(t *testing.T) {
	wx := newWechat(t)
	clock := &testClock{t: testNow}
	c := newNotifyClient(t, clock)
	body := notificationJSON(t, sealedResource(t, testPlaintext))
	h := wx.headers(t, testNow, body)
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{
		{0, true}, {4*time.Minute + 59*time.Second, true}, {-4*time.Minute - 59*time.Second, true},
		{5*time.Minute + time.Second, false}, {-5*time.Minute - time.Second, false},
		{time.Hour, false}, {24 * time.Hour, false}, {-time.Hour, false},
	} {
		clock.set(testNow.Add(tc.d))
		_, err := c.ParseNotification(postRequest(h, body))
		if tc.ok != (err == nil) {
			t.Errorf("replayed %v later: err = %v, want ok=%v", tc.d, err, tc.ok)
		}
		if !tc.ok && !errors.Is(err, ErrTimestamp) {
			t.Errorf("replayed %v later: %v, want ErrTimestamp", tc.d, err)
		}
	}
}

// countingReader yields an endless body and counts what was read.
type countingReader struct{ n int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '{'
	}
	r.n += int64(len(p))
	return len(p), nil
}

func TestParseNotificationBounds(t *testing.T) {
	c := newNotifyClient(t, &testClock{t: testNow})
	// An endless body is refused after at most the cap plus the reader's
	// last buffer, never read to the end.
	cr := &countingReader{}
	r := httptest.NewRequest(http.MethodPost, "/notify", io.NopCloser(cr))
	if _, err := c.ParseNotification(r); !errors.Is(err, ErrNotificationTooLarge) {
		t.Fatalf("endless body: %v", err)
	}
	if cr.n > MaxNotificationBytes+64<<10 {
		t.Fatalf("read %d bytes of an endless body (cap %d)", cr.n, MaxNotificationBytes)
	}
	// A Content-Length that lies (small, or huge) changes nothing.
	for _, cl := range []int64{10, MaxNotificationBytes, 1 << 40} {
		cr := &countingReader{}
		r := httptest.NewRequest(http.MethodPost, "/notify", io.NopCloser(cr))
		r.ContentLength = cl
		if _, err := c.ParseNotification(r); !errors.Is(err, ErrNotificationTooLarge) {
			t.Fatalf("Content-Length %d, endless body: %v", cl, err)
		}
		if cr.n > MaxNotificationBytes+64<<10 {
			t.Fatalf("Content-Length %d: read %d bytes", cl, cr.n)
		}
	}
	// Exactly the cap is read (and then refused by the signature check).
	big := bytes.Repeat([]byte(" "), MaxNotificationBytes)
	if _, err := c.ParseNotification(postRequest(http.Header{}, big)); errors.Is(err, ErrNotificationTooLarge) {
		t.Fatal("a body of exactly the cap was refused as too large")
	}
	if _, err := c.ParseNotificationBody(context.Background(), http.Header{}, append(big, ' ')); !errors.Is(err, ErrNotificationTooLarge) {
		t.Fatalf("ParseNotificationBody over the cap: %v", err)
	}
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodHead, "PATCH", "post"} {
		r := httptest.NewRequest(http.MethodPost, "/notify", strings.NewReader("{}"))
		r.Method = m
		if _, err := c.ParseNotification(r); !errors.Is(err, ErrNotificationMethod) {
			t.Fatalf("method %s: %v", m, err)
		}
	}
	// A broken connection is reported as such, wrapping the cause.
	r = httptest.NewRequest(http.MethodPost, "/notify", io.MultiReader(strings.NewReader(`{"id":`), iotest.ErrReader(io.ErrUnexpectedEOF)))
	if _, err := c.ParseNotification(r); !errors.Is(err, io.ErrUnexpectedEOF) || !strings.HasPrefix(err.Error(), "apiv3: reading the notification body") {
		t.Fatalf("broken body: %v", err)
	}
	r = httptest.NewRequest(http.MethodPost, "/notify", nil)
	r.Body = nil
	if _, err := c.ParseNotification(r); !errors.Is(err, ErrMissingSignature) && !errors.Is(err, ErrSignature) {
		t.Fatalf("nil body: %v", err)
	}
}

// TestParseNotificationConcurrent shares one client between goroutines
// parsing genuine and forged notifications.
func TestParseNotificationConcurrent(t *testing.T) {
	wx := newWechat(t)
	c := newNotifyClient(t, &testClock{t: testNow})
	body := notificationJSON(t, sealedResource(t, testPlaintext))
	h := wx.headers(t, testNow, body)
	forged := bytes.Replace(body, []byte("EV-"), []byte("FV-"), 1)
	var wg sync.WaitGroup
	errs := make(chan error, 128)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 4; j++ {
				if i%2 == 0 {
					if n, err := c.ParseNotification(postRequest(h, body)); err != nil || string(n.Plaintext) != testPlaintext {
						errs <- err
						return
					}
				} else if _, err := c.ParseNotification(postRequest(h, forged)); !errors.Is(err, ErrSignature) {
					errs <- errors.New("forged accepted")
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// FuzzParseNotification mutates a genuine notification's body and
// headers. Nothing may panic, every refusal is a known error, and only
// the exact signed request can pass.
func FuzzParseNotification(f *testing.F) {
	wx := newWechat(f)
	body := notificationJSON(f, sealedResource(f, testPlaintext))
	h := wx.headers(f, testNow, body)
	f.Add(body, h.Get("Wechatpay-Timestamp"), h.Get("Wechatpay-Nonce"), h.Get("Wechatpay-Serial"), h.Get("Wechatpay-Signature"))
	f.Add([]byte(`{}`), "", "", "", "")
	f.Add(body, h.Get("Wechatpay-Timestamp"), h.Get("Wechatpay-Nonce"), h.Get("Wechatpay-Serial"), "WECHATPAY/SIGNTEST/"+h.Get("Wechatpay-Signature"))
	c := newNotifyClient(f, &testClock{t: testNow})
	f.Fuzz(func(t *testing.T, b []byte, ts, nonce, serial, sig string) {
		hh := http.Header{}
		hh.Set("Wechatpay-Timestamp", ts)
		hh.Set("Wechatpay-Nonce", nonce)
		hh.Set("Wechatpay-Serial", serial)
		hh.Set("Wechatpay-Signature", sig)
		n, err := c.ParseNotificationBody(context.Background(), hh, b)
		if err != nil {
			checkNotifyError(t, err)
			return
		}
		if !bytes.Equal(b, body) || ts != h.Get("Wechatpay-Timestamp") || nonce != h.Get("Wechatpay-Nonce") ||
			sig != h.Get("Wechatpay-Signature") {
			t.Fatalf("a request other than the signed one was accepted")
		}
		if string(n.Plaintext) != testPlaintext {
			t.Fatalf("plaintext %q", n.Plaintext)
		}
	})
}

// FuzzNotificationBody signs whatever body the fuzzer makes, as WeChat
// would, so that the layers behind the signature (JSON, fields, resource,
// AES-GCM) are exercised.
func FuzzNotificationBody(f *testing.F) {
	wx := newWechat(f)
	f.Add(notificationJSON(f, sealedResource(f, testPlaintext)))
	f.Add([]byte(`{"id":"1","create_time":"2026-01-02T15:04:06+08:00","event_type":"E","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"AAAA","nonce":"123456789012"}}`))
	f.Add([]byte(`{"id":"1","id":"2"}`))
	c := newNotifyClient(f, &testClock{t: testNow})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > MaxNotificationBytes {
			return
		}
		n, err := c.ParseNotificationBody(context.Background(), wx.headers(t, testNow, b), b)
		if err != nil {
			checkNotifyError(t, err)
			if errors.Is(err, ErrSignature) {
				t.Fatalf("a correctly signed body failed verification: %v", err)
			}
			return
		}
		if n.ID == "" || n.EventType == "" || n.CreateTime.IsZero() || n.Plaintext == nil {
			t.Fatalf("accepted an incomplete notification %+v", n)
		}
	})
}

func checkNotifyError(t *testing.T, err error) {
	t.Helper()
	for _, want := range []error{ErrSignature, ErrJSON, ErrNotification, ErrAlgorithm, ErrNotificationTooLarge} {
		if errors.Is(err, want) {
			return
		}
	}
	if err == ErrDecrypt { // the very value
		return
	}
	t.Fatalf("unexpected error kind %T: %v", err, err)
}
