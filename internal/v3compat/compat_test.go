package v3compat

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"

	"github.com/wxpay-go/wxpay/apiv3"
)

// Keys and certificate from ../../testdata/v3 (see its PROVENANCE.md):
// the merchant is wechatpay-java's test key, WeChat is wechatpay-go's
// test key, as the WeChat Pay public key or as the platform certificate
// D7CE59D1F522D701 that holds it.
const (
	merchantSerial = "5F1C72E2A8931B72A2E13AF8DEE92471EB397115"
	wechatCertSN   = "D7CE59D1F522D701"
	pubKeyID       = "PUB_KEY_ID_0114232134912410000000000000"
	apiV3Key       = "0123456789abcdefghijABCDEFGHIJ01"
	mchID          = "1230000109"
)

func vector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/v3/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keys loads every key once through wechatpay-go's own loaders, so that
// the official SDK reads them as it would a merchant's files.
type keys struct {
	merchant     *rsa.PrivateKey // k-wj.pem
	merchantPEM  []byte
	wechat       *rsa.PrivateKey // k-wgo.pem
	wechatPubPEM []byte
	wechatCert   *x509.Certificate
	wechatCertPE []byte
}

func loadKeys(t testing.TB) keys {
	t.Helper()
	var k keys
	var err error
	k.merchantPEM = vector(t, "k-wj.pem")
	if k.merchant, err = utils.LoadPrivateKey(string(k.merchantPEM)); err != nil {
		t.Fatal(err)
	}
	if k.wechat, err = utils.LoadPrivateKey(string(vector(t, "k-wgo.pem"))); err != nil {
		t.Fatal(err)
	}
	k.wechatCertPE = vector(t, "wgo-cert-D7CE59D1F522D701.pem")
	if k.wechatCert, err = utils.LoadCertificate(string(k.wechatCertPE)); err != nil {
		t.Fatal(err)
	}
	if utils.GetCertificateSerialNumber(*k.wechatCert) != wechatCertSN {
		t.Fatalf("certificate serial %s", utils.GetCertificateSerialNumber(*k.wechatCert))
	}
	der, err := x509.MarshalPKIXPublicKey(&k.wechat.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	k.wechatPubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return k
}

// publicKeyClient is an apiv3 client that trusts WeChat's key as the
// WeChat Pay public key.
func publicKeyClient(t testing.TB, k keys, opts ...apiv3.Option) *apiv3.Client {
	t.Helper()
	c, err := apiv3.NewClient(apiv3.Config{
		MchID: mchID, MerchantSerialNo: merchantSerial, PrivateKey: k.merchantPEM, APIv3Key: apiV3Key,
		PublicKeyID: pubKeyID, PublicKey: k.wechatPubPEM,
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wgoSign signs TIMESTAMP\nNONCE\nBODY\n with wechatpay-go's signer, as
// WeChat signs answers and notifications, and returns the headers.
func wgoSign(t testing.TB, key *rsa.PrivateKey, serial string, ts time.Time, body []byte) http.Header {
	t.Helper()
	nonce, err := utils.GenerateNonce()
	if err != nil {
		t.Fatal(err)
	}
	tss := strconv.FormatInt(ts.Unix(), 10)
	s := &signers.SHA256WithRSASigner{PrivateKey: key, CertificateSerialNo: serial}
	res, err := s.Sign(context.Background(), tss+"\n"+nonce+"\n"+string(body)+"\n")
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Request-ID", "08F78BB5AF0610D302ECA0F7D4E5051D97C6E05B")
	h.Set("Wechatpay-Timestamp", tss)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Serial", serial)
	h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
	h.Set("Wechatpay-Signature", res.Signature)
	return h
}

// seal encrypts as WeChat does (AEAD_AES_256_GCM). wechatpay-go has no
// encryption helper, only utils.DecryptAES256GCM, so the standard library
// seals and both sides open.
func seal(t testing.TB, key, nonce, aad, plaintext string) string {
	t.Helper()
	b, err := aes.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	g, _ := cipher.NewGCM(b)
	return base64.StdEncoding.EncodeToString(g.Seal(nil, []byte(nonce), []byte(plaintext), []byte(aad)))
}

const txPlaintext = `{"mchid":"1230000109","appid":"wxd678efh567hg6787","out_trade_no":"1217752501201407033233368018","transaction_id":"4200000000000000000000000001","trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"OTHERS","attach":"","success_time":"2026-01-02T15:04:05+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}`

func notificationBody(t testing.TB, plaintext string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id": "EV-2026010215040500001", "create_time": "2026-01-02T15:04:06+08:00",
		"resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
		"resource": map[string]string{
			"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "associated_data": "transaction",
			"nonce": "fdasflkja484", "ciphertext": seal(t, apiV3Key, "fdasflkja484", "transaction", plaintext),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func request(h http.Header, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "https://merchant.example/notify", bytes.NewReader(body))
	for k, v := range h {
		r.Header[k] = v
	}
	return r
}

// wgoNotifyHandler is the official SDK's notification parser, trusting
// WeChat's key as a public key (id pubKeyID).
func wgoNotifyHandler(t testing.TB, k keys) *notify.Handler {
	t.Helper()
	h, err := notify.NewRSANotifyHandler(apiV3Key, verifiers.NewSHA256WithRSAPubkeyVerifier(pubKeyID, k.wechat.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestNotificationBothWays: a notification signed by wechatpay-go's signer
// is accepted by apiv3 and by wechatpay-go alike, with the same event and
// plaintext; one apiv3 refuses (tampered, stale, a probe) is refused by
// wechatpay-go too, so the two agree on what WeChat sent.
func TestNotificationBothWays(t *testing.T) {
	k := loadKeys(t)
	now := time.Now() // wechatpay-go checks the window against time.Now
	c := publicKeyClient(t, k, apiv3.WithClock(func() time.Time { return now }))
	wgo := wgoNotifyHandler(t, k)

	body := notificationBody(t, txPlaintext)
	h := wgoSign(t, k.wechat, pubKeyID, now, body)

	n, err := c.ParseNotification(request(h, body))
	if err != nil {
		t.Fatalf("apiv3 refused a wechatpay-go-signed notification: %v", err)
	}
	var content map[string]any
	wn, err := wgo.ParseNotifyRequest(context.Background(), request(h, body), &content)
	if err != nil {
		t.Fatalf("wechatpay-go refused it: %v", err)
	}
	if string(n.Plaintext) != wn.Resource.Plaintext || string(n.Plaintext) != txPlaintext {
		t.Fatalf("plaintexts differ:\napiv3 %s\nwgo   %s", n.Plaintext, wn.Resource.Plaintext)
	}
	if n.ID != wn.ID || n.EventType != wn.EventType || n.ResourceType != wn.ResourceType ||
		n.Summary != wn.Summary || !n.CreateTime.Equal(*wn.CreateTime) || n.OriginalType != wn.Resource.OriginalType {
		t.Fatalf("events differ: apiv3 %+v, wgo %+v", n, wn)
	}
	// The official SDK's decryption helper opens the same resource.
	var nb struct {
		Resource struct{ Ciphertext, Nonce string } `json:"resource"`
	}
	_ = json.Unmarshal(body, &nb)
	pt, err := utils.DecryptAES256GCM(apiV3Key, "transaction", nb.Resource.Nonce, nb.Resource.Ciphertext)
	if err != nil || pt != txPlaintext {
		t.Fatalf("utils.DecryptAES256GCM: %q, %v", pt, err)
	}

	// Both refuse the same forgeries.
	forged := bytes.Replace(body, []byte("EV-"), []byte("FV-"), 1)
	probe := h.Clone()
	probe.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+h.Get("Wechatpay-Signature"))
	for name, req := range map[string]func() *http.Request{
		"tampered body": func() *http.Request { return request(h, forged) },
		"stale": func() *http.Request {
			return request(wgoSign(t, k.wechat, pubKeyID, now.Add(-6*time.Minute), body), body)
		},
		"future": func() *http.Request {
			return request(wgoSign(t, k.wechat, pubKeyID, now.Add(6*time.Minute), body), body)
		},
		"probe":     func() *http.Request { return request(probe, body) },
		"other key": func() *http.Request { return request(wgoSign(t, k.merchant, pubKeyID, now, body), body) },
	} {
		if _, err := c.ParseNotification(req()); !errors.Is(err, apiv3.ErrSignature) {
			t.Errorf("%s: apiv3 %v, want ErrSignature", name, err)
		}
		if _, err := wgo.ParseNotifyRequest(context.Background(), req(), &content); err == nil {
			t.Errorf("%s: wechatpay-go accepted it", name)
		}
	}
}

// TestNotificationV4 replays wechatpay-go's own published notification
// (core/notify/notify_test.go): its signature verifies with apiv3's
// verification at its time, and its 16-byte APIv3 key, which the official
// SDK accepts (AES-128), is refused by apiv3's strict AEAD_AES_256_GCM.
func TestNotificationV4(t *testing.T) {
	var v struct {
		Headers   map[string]string `json:"headers"`
		Now       int64             `json:"now"`
		Body      string            `json:"body"`
		APIv3Key  string            `json:"apiv3_key"`
		Plaintext string            `json:"plaintext"`
	}
	if err := json.Unmarshal(vector(t, "notify-v4.json"), &v); err != nil {
		t.Fatal(err)
	}
	var nb struct {
		Resource struct{ Ciphertext, Nonce, AssociatedData string } `json:"resource"`
	}
	if err := json.Unmarshal([]byte(v.Body), &nb); err != nil {
		t.Fatal(err)
	}
	r := nb.Resource
	pt, err := utils.DecryptAES256GCM(v.APIv3Key, "payscore", r.Nonce, r.Ciphertext)
	if err != nil || pt != v.Plaintext {
		t.Fatalf("wechatpay-go opens its own vector under the 16-byte key: %q, %v", pt, err)
	}
	if _, err := apiv3.NewClient(apiv3.Config{
		MchID: "1234567890", MerchantSerialNo: merchantSerial, PrivateKey: vector(t, "k-wj.pem"),
		APIv3Key: v.APIv3Key, PublicKeyID: pubKeyID, PublicKey: loadKeys(t).wechatPubPEM,
	}); err == nil {
		t.Fatal("apiv3 accepted a 16-byte APIv3 key")
	}
	// The signature: a client trusting the certificate's key under a
	// public key id verifies V4's headers and body once the serial is
	// mapped, which shows the two agree on the signed message. (Under
	// its own serial the certificate would have to come from a download.)
	k := loadKeys(t)
	ts, _ := strconv.ParseInt(v.Headers["Wechatpay-Timestamp"], 10, 64)
	c := publicKeyClient(t, k, apiv3.WithClock(func() time.Time { return time.Unix(ts, 0) }))
	h := http.Header{}
	for name, val := range v.Headers {
		h.Set(name, val)
	}
	h.Set("Wechatpay-Serial", pubKeyID)
	_, err = c.ParseNotificationBody(context.Background(), h, []byte(v.Body))
	if err != apiv3.ErrDecrypt { // verified, then refused at decryption: the key differs
		t.Fatalf("V4 through apiv3: %v, want the signature to pass and ErrDecrypt", err)
	}
	c = publicKeyClient(t, k, apiv3.WithClock(func() time.Time { return time.Unix(ts+301, 0) }))
	if _, err := c.ParseNotificationBody(context.Background(), h, []byte(v.Body)); !errors.Is(err, apiv3.ErrTimestamp) {
		t.Fatalf("V4 replayed 301 s later: %v", err)
	}
}

// parseAuthorization splits a WECHATPAY2-SHA256-RSA2048 header.
func parseAuthorization(t testing.TB, h string) map[string]string {
	t.Helper()
	const scheme = "WECHATPAY2-SHA256-RSA2048 "
	if !strings.HasPrefix(h, scheme) {
		t.Fatalf("Authorization %q", h)
	}
	out := map[string]string{}
	for _, kv := range strings.Split(h[len(scheme):], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			t.Fatalf("item %q", kv)
		}
		out[k] = v[1 : len(v)-1]
	}
	return out
}

// fakeWeChat answers GET /v3/certificates as WeChat does, after checking
// the request's Authorization with wechatpay-go's verifier; the answer is
// signed with wechatpay-go's signer under the delivered certificate.
type fakeWeChat struct {
	t        testing.TB
	k        keys
	mu       sync.Mutex
	verified int
	failures []string
	signWith *rsa.PrivateKey
}

func (f *fakeWeChat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a := parseAuthorization(f.t, r.Header.Get("Authorization"))
	msg := r.Method + "\n" + r.URL.RequestURI() + "\n" + a["timestamp"] + "\n" + a["nonce_str"] + "\n" + string(body) + "\n"
	v := verifiers.NewSHA256WithRSAPubkeyVerifier(a["serial_no"], f.k.merchant.PublicKey)
	err := v.Verify(context.Background(), a["serial_no"], msg, a["signature"])
	f.mu.Lock()
	if err != nil {
		f.failures = append(f.failures, err.Error())
	} else if a["mchid"] != mchID || a["serial_no"] != merchantSerial {
		f.failures = append(f.failures, fmt.Sprintf("identity %v", a))
	} else {
		f.verified++
	}
	f.mu.Unlock()
	if err != nil || r.URL.Path != "/v3/certificates" {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"code":"SIGN_ERROR","message":"错误的签名,验签失败"}`)
		return
	}
	out, _ := json.Marshal(map[string]any{"data": []any{map[string]any{
		"serial_no": wechatCertSN, "effective_time": "2021-04-27T16:55:23+08:00", "expire_time": "2031-04-25T16:55:23+08:00",
		"encrypt_certificate": map[string]string{
			"algorithm": "AEAD_AES_256_GCM", "associated_data": "certificate", "nonce": "3a584b49ed9b",
			"ciphertext": seal(f.t, apiV3Key, "3a584b49ed9b", "certificate", string(f.k.wechatCertPE)),
		},
	}}})
	signer := f.signWith
	if signer == nil {
		signer = f.k.wechat
	}
	for name, vals := range wgoSign(f.t, signer, wechatCertSN, time.Now(), out) {
		w.Header()[name] = vals
	}
	_, _ = w.Write(out)
}

// TestRequestSigningAndAnswerBothWays: apiv3's request signature verifies
// with wechatpay-go's verifier, and an answer signed by wechatpay-go's
// signer verifies through apiv3's answer path (the certificate download,
// whose answer must be signed by what it delivers). The certificates it
// then holds verify a wechatpay-go-signed notification.
func TestRequestSigningAndAnswerBothWays(t *testing.T) {
	k := loadKeys(t)
	fake := &fakeWeChat{t: t, k: k}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c, err := apiv3.NewClient(apiv3.Config{
		MchID: mchID, MerchantSerialNo: merchantSerial, PrivateKey: k.merchantPEM, APIv3Key: apiV3Key,
		PlatformCertificates: true,
	}, apiv3.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RefreshCertificates(context.Background()); err != nil {
		t.Fatalf("RefreshCertificates: %v (server saw %v)", err, fake.failures)
	}
	if fake.verified != 1 || len(fake.failures) != 0 {
		t.Fatalf("wechatpay-go verified %d requests, failures %v", fake.verified, fake.failures)
	}
	certs := c.Certificates()
	if len(certs) != 1 || certs[0].SerialNo != wechatCertSN {
		t.Fatalf("certificates held: %+v", certs)
	}
	// A notification signed by wechatpay-go under the platform
	// certificate's serial now verifies.
	body := notificationBody(t, txPlaintext)
	if n, err := c.ParseNotification(request(wgoSign(t, k.wechat, wechatCertSN, time.Now(), body), body)); err != nil || string(n.Plaintext) != txPlaintext {
		t.Fatalf("notification under the downloaded certificate: %v", err)
	}

	// An answer signed with another key is refused.
	fake2 := &fakeWeChat{t: t, k: k, signWith: k.merchant}
	srv2 := httptest.NewServer(fake2)
	defer srv2.Close()
	c2, err := apiv3.NewClient(apiv3.Config{
		MchID: mchID, MerchantSerialNo: merchantSerial, PrivateKey: k.merchantPEM, APIv3Key: apiV3Key,
		PlatformCertificates: true,
	}, apiv3.WithBaseURL(srv2.URL))
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.RefreshCertificates(context.Background()); !errors.Is(err, apiv3.ErrSignature) {
		t.Fatalf("download signed by another key: %v, want ErrSignature", err)
	}
	if fake2.verified != 1 {
		t.Fatalf("request of the second client: %d verified, %v", fake2.verified, fake2.failures)
	}
}

// TestSensitiveBothWays: RSA-OAEP (SHA-1) made by one side opens on the
// other, in both directions.
func TestSensitiveBothWays(t *testing.T) {
	k := loadKeys(t)
	c := publicKeyClient(t, k)
	// apiv3 encrypts under WeChat's key; wechatpay-go decrypts as WeChat.
	serial, cts, err := c.EncryptSensitive(context.Background(), "张三", "13800138000")
	if err != nil || serial != pubKeyID {
		t.Fatalf("EncryptSensitive: %q %v", serial, err)
	}
	for i, want := range []string{"张三", "13800138000"} {
		got, err := utils.DecryptOAEP(cts[i], k.wechat)
		if err != nil || got != want {
			t.Fatalf("utils.DecryptOAEP(field %d) = %q, %v", i, got, err)
		}
	}
	// wechatpay-go encrypts to the merchant; apiv3 decrypts.
	for _, want := range []string{"张三", "13800138000", "", strings.Repeat("x", 214)} {
		ct, err := utils.EncryptOAEPWithPublicKey(want, &k.merchant.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.DecryptSensitive(ct); err != nil || got != want {
			t.Fatalf("DecryptSensitive(wechatpay-go's %q) = %q, %v", want, got, err)
		}
	}
	// PKCS#1 v1.5, which wechatpay-go also offers, is not what WeChat
	// uses for these fields and is refused.
	ct, _ := utils.EncryptPKCS1v15WithPublicKey("13800138000", &k.merchant.PublicKey)
	if _, err := c.DecryptSensitive(ct); !errors.Is(err, apiv3.ErrSensitiveDecrypt) {
		t.Fatalf("PKCS#1 v1.5 ciphertext: %v", err)
	}
}

// floorNotify is the standard-library floor of a notification:
// RSA-SHA256 verification of the headers and body, GCM open of the
// resource with a prebuilt AEAD, json.Unmarshal of the event (the same
// fields apiv3's Notification carries) and of the plaintext into structs.
// It checks nothing else: no window, no duplicate keys, no key length.
type floorNotify struct {
	pub *rsa.PublicKey
	gcm cipher.AEAD
}

type floorEvent struct {
	ID           string    `json:"id"`
	CreateTime   time.Time `json:"create_time"`
	EventType    string    `json:"event_type"`
	ResourceType string    `json:"resource_type"`
	Summary      string    `json:"summary"`
	Resource     struct {
		OriginalType   string `json:"original_type"`
		Algorithm      string `json:"algorithm"`
		Ciphertext     string `json:"ciphertext"`
		AssociatedData string `json:"associated_data"`
		Nonce          string `json:"nonce"`
	} `json:"resource"`
}

type transaction struct {
	MchID         string `json:"mchid"`
	AppID         string `json:"appid"`
	OutTradeNo    string `json:"out_trade_no"`
	TransactionID string `json:"transaction_id"`
	TradeState    string `json:"trade_state"`
	Amount        struct {
		Total int64 `json:"total"`
	} `json:"amount"`
}

func (f *floorNotify) run(h http.Header, body []byte) (transaction, error) {
	var tx transaction
	msg := make([]byte, 0, len(body)+64)
	msg = append(msg, h.Get("Wechatpay-Timestamp")...)
	msg = append(msg, '\n')
	msg = append(msg, h.Get("Wechatpay-Nonce")...)
	msg = append(msg, '\n')
	msg = append(msg, body...)
	msg = append(msg, '\n')
	sig, err := base64.StdEncoding.DecodeString(h.Get("Wechatpay-Signature"))
	if err != nil {
		return tx, err
	}
	d := sha256.Sum256(msg)
	if err := rsa.VerifyPKCS1v15(f.pub, crypto.SHA256, d[:], sig); err != nil {
		return tx, err
	}
	var ev floorEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return tx, err
	}
	ct, err := base64.StdEncoding.DecodeString(ev.Resource.Ciphertext)
	if err != nil {
		return tx, err
	}
	pt, err := f.gcm.Open(ct[:0], []byte(ev.Resource.Nonce), ct, []byte(ev.Resource.AssociatedData))
	if err != nil {
		return tx, err
	}
	err = json.Unmarshal(pt, &tx)
	return tx, err
}

func newFloor(t testing.TB, pub *rsa.PublicKey) *floorNotify {
	b, err := aes.NewCipher([]byte(apiV3Key))
	if err != nil {
		t.Fatal(err)
	}
	g, _ := cipher.NewGCM(b)
	return &floorNotify{pub: pub, gcm: g}
}

// TestFloorAgrees checks that the benchmarks' three sides do the same
// work on the same request: all accept it with the same transaction.
func TestFloorAgrees(t *testing.T) {
	k := loadKeys(t)
	now := time.Now()
	c := publicKeyClient(t, k, apiv3.WithClock(func() time.Time { return now }))
	body := notificationBody(t, txPlaintext)
	h := wgoSign(t, k.wechat, pubKeyID, now, body)
	tx, err := newFloor(t, &k.wechat.PublicKey).run(h, body)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.ParseNotification(request(h, body))
	if err != nil {
		t.Fatal(err)
	}
	var ours transaction
	if err := n.Decode(&ours); err != nil || ours != tx {
		t.Fatalf("apiv3 %+v, floor %+v (%v)", ours, tx, err)
	}
	var theirs transaction
	if _, err := wgoNotifyHandler(t, k).ParseNotifyRequest(context.Background(), request(h, body), &theirs); err != nil || theirs != tx {
		t.Fatalf("wechatpay-go %+v, floor %+v (%v)", theirs, tx, err)
	}
}

// TestDuplicateResourceDivergence documents where apiv3 is stricter than
// the official SDK on a signed body: a second "resource" key. encoding/json
// (which wechatpay-go uses) keeps the last one, another parser may keep
// the first, so two readers of one signed body would see two payments;
// apiv3 refuses the body instead.
func TestDuplicateResourceDivergence(t *testing.T) {
	k := loadKeys(t)
	now := time.Now()
	c := publicKeyClient(t, k, apiv3.WithClock(func() time.Time { return now }))
	wgo := wgoNotifyHandler(t, k)
	first := notificationBody(t, txPlaintext)
	cheap := strings.Replace(txPlaintext, `"total":100,`, `"total":1,`, 1)
	second, _ := json.Marshal(map[string]string{
		"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "associated_data": "transaction",
		"nonce": "fdasflkja484", "ciphertext": seal(t, apiV3Key, "fdasflkja484", "transaction", cheap),
	})
	body := append(append(append(first[:len(first)-1:len(first)-1], `,"resource":`...), second...), '}')
	h := wgoSign(t, k.wechat, pubKeyID, now, body)

	var tx transaction
	if _, err := wgo.ParseNotifyRequest(context.Background(), request(h, body), &tx); err != nil {
		t.Fatalf("wechatpay-go: %v", err)
	}
	if tx.Amount.Total != 1 {
		t.Fatalf("wechatpay-go read total %d; the divergence this test documents is gone", tx.Amount.Total)
	}
	if _, err := c.ParseNotification(request(h, body)); !errors.Is(err, apiv3.ErrJSON) {
		t.Fatalf("apiv3 accepted a body with two resources: %v", err)
	}
}
