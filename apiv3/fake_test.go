package apiv3

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The keys of these tests come from testdata/v3 (public sources, see its
// PROVENANCE.md): the merchant signs with k-wj.pem (wechatpay-java's
// merchant test key); "WeChat" signs with k-off.pem (the documentation
// key) as its WeChat Pay public key, and with k-wgo.pem and a key made
// here as platform certificates.
const (
	fakeMchID      = "1230000109"
	fakeMchSerial  = "5F1C72E2A8931B72A2E13AF8DEE92471EB397115" // k-wj's certificate serial in wechatpay-java
	fakeAPIv3Key   = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"         // wechatpay-java TestConfig
	fakePubKeyID   = "PUB_KEY_ID_0114232134912410000000000000"  // the example id of the OpenAPI definitions
	fakeCertSerial = "D7CE59D1F522D701"                         // wechatpay-go's test certificate
)

func loadVec(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/v3/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseKeyPEM(t testing.TB, b []byte) *rsa.PrivateKey {
	t.Helper()
	k, err := parsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	extraKeyOnce sync.Once
	extraKey     *rsa.PrivateKey
)

// otherKey is a platform key that no public source has: the rotation
// target, and the forger's key.
func otherKey(t testing.TB) *rsa.PrivateKey {
	extraKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		extraKey = k
	})
	return extraKey
}

// makeCert issues a self-signed certificate for k with the given serial
// (hex) and validity.
func makeCert(t testing.TB, k *rsa.PrivateKey, serialHex string, from, to time.Time) *x509.Certificate {
	t.Helper()
	sn, ok := new(big.Int).SetString(serialHex, 16)
	if !ok {
		t.Fatalf("bad serial %q", serialHex)
	}
	tpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: "Tenpay.com sign (test)"},
		NotBefore:    from,
		NotAfter:     to,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeKey is a key the fake signs with, and the serial it names it by.
type fakeKey struct {
	serial string
	key    *rsa.PrivateKey
}

// fakeWeChat is an httptest server playing WeChat Pay API v3: it checks
// each request's Authorization header against the merchant's public key
// (answering 401 SIGN_ERROR unsigned, as WeChat does), routes it, and
// signs the answer. /v3/certificates serves certs, each sealed under the
// APIv3 key.
type fakeWeChat struct {
	t   testing.TB
	srv *httptest.Server
	mch *rsa.PublicKey
	now func() time.Time

	mu     sync.Mutex
	signer fakeKey                                        // signs answers
	certs  []*x509.Certificate                            // served by /v3/certificates
	routes map[string]func(r *http.Request) (int, string) // "GET /v3/x" → status, body
	// hook may rewrite an answer after signing (tampering tests).
	hook func(h http.Header, body []byte) (http.Header, []byte)

	downloads atomic.Int64
	requests  atomic.Int64
	lastAuth  atomic.Value // string
	lastSer   atomic.Value // string: the Wechatpay-Serial request header
}

func newFakeWeChat(t testing.TB, now func() time.Time) *fakeWeChat {
	t.Helper()
	f := &fakeWeChat{
		t:      t,
		mch:    &parseKeyPEM(t, loadVec(t, "k-wj.pem")).PublicKey,
		now:    now,
		routes: map[string]func(*http.Request) (int, string){},
	}
	f.signer = fakeKey{fakePubKeyID, parseKeyPEM(t, loadVec(t, "k-off.pem"))}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	// Connections the clients drop at the end of a test are not news.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWeChat) setSigner(k fakeKey) { f.mu.Lock(); f.signer = k; f.mu.Unlock() }

func (f *fakeWeChat) setCerts(cs ...*x509.Certificate) { f.mu.Lock(); f.certs = cs; f.mu.Unlock() }

func (f *fakeWeChat) route(pattern string, h func(*http.Request) (int, string)) {
	f.mu.Lock()
	f.routes[pattern] = h
	f.mu.Unlock()
}

func (f *fakeWeChat) setHook(h func(http.Header, []byte) (http.Header, []byte)) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

// checkAuth verifies a request as WeChat does.
func (f *fakeWeChat) checkAuth(r *http.Request, body []byte) bool {
	a := r.Header.Get("Authorization")
	f.lastAuth.Store(a)
	f.lastSer.Store(r.Header.Get(HeaderSerial))
	items, ok := parseAuthForTest(a)
	if !ok || items["mchid"] != fakeMchID || items["serial_no"] != fakeMchSerial {
		return false
	}
	ts, err := strconv.ParseInt(items["timestamp"], 10, 64)
	if err != nil || abs(f.now().Unix()-ts) > 300 {
		return false
	}
	msg := r.Method + "\n" + r.URL.RequestURI() + "\n" + items["timestamp"] + "\n" + items["nonce_str"] + "\n" + string(body) + "\n"
	sig, err := base64.StdEncoding.DecodeString(items["signature"])
	if err != nil {
		return false
	}
	d := sha256.Sum256([]byte(msg))
	return rsa.VerifyPKCS1v15(f.mch, crypto.SHA256, d[:], sig) == nil
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// parseAuthForTest splits an Authorization header into its items, the
// way WeChat's rules describe it (scheme, space, key="value" joined by
// commas), independently of the code under test.
func parseAuthForTest(a string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(a, "WECHATPAY2-SHA256-RSA2048 ")
	if !ok {
		return nil, false
	}
	m := map[string]string{}
	for _, it := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(it, "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, false
		}
		m[k] = v[1 : len(v)-1]
	}
	return m, len(m) == 5
}

func (f *fakeWeChat) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	if !f.checkAuth(r, body) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"code":"SIGN_ERROR","message":"错误的签名,验签失败"}`)
		return
	}
	status, out := http.StatusNotFound, `{"code":"NOT_FOUND","message":"no such route"}`
	f.mu.Lock()
	h := f.routes[r.Method+" "+r.URL.Path]
	f.mu.Unlock()
	switch {
	case h != nil:
		status, out = h(r)
	case r.Method == http.MethodGet && r.URL.Path == "/v3/certificates":
		f.downloads.Add(1)
		status, out = http.StatusOK, f.certificatesBody()
	}
	f.reply(w, status, []byte(out))
}

// reply writes a signed answer (with the current signer), passing it
// through the hook first.
func (f *fakeWeChat) reply(w http.ResponseWriter, status int, body []byte) {
	f.mu.Lock()
	k, hook := f.signer, f.hook
	f.mu.Unlock()
	h := signedHeaders(f.t, k, f.now(), body)
	if hook != nil {
		h, body = hook(h, body)
	}
	for name, vs := range h {
		w.Header()[name] = vs
	}
	w.Header().Set("Request-ID", "08F78BB5AF0610D302189F0E20BE0528F8CB0B-0")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// signedHeaders signs body as WeChat signs answers and notifications.
func signedHeaders(t testing.TB, k fakeKey, now time.Time, body []byte) http.Header {
	ts := strconv.FormatInt(now.Unix(), 10)
	nonce := "fakeNonce" + strconv.FormatInt(now.UnixNano()%1e9, 10)
	d := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + string(body) + "\n"))
	sig, err := rsa.SignPKCS1v15(nil, k.key, crypto.SHA256, d[:])
	if err != nil {
		t.Error(err)
	}
	h := http.Header{}
	h.Set(HeaderSerial, k.serial)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderNonce, nonce)
	h.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
	return h
}

// certificatesBody lists f.certs as WeChat does, each sealed under the
// APIv3 key with a fresh nonce and associated_data "certificate".
func (f *fakeWeChat) certificatesBody() string {
	f.mu.Lock()
	certs := f.certs
	f.mu.Unlock()
	type enc struct {
		Algorithm      string `json:"algorithm"`
		Nonce          string `json:"nonce"`
		AssociatedData string `json:"associated_data"`
		Ciphertext     string `json:"ciphertext"`
	}
	type item struct {
		SerialNo           string `json:"serial_no"`
		EffectiveTime      string `json:"effective_time"`
		ExpireTime         string `json:"expire_time"`
		EncryptCertificate enc    `json:"encrypt_certificate"`
	}
	var data struct {
		Data []item `json:"data"`
	}
	for i, c := range certs {
		nonce := "certnonce" + strconv.Itoa(100+i)
		pemText := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		data.Data = append(data.Data, item{
			SerialNo:           serialOfForTest(c),
			EffectiveTime:      c.NotBefore.Format(time.RFC3339),
			ExpireTime:         c.NotAfter.Format(time.RFC3339),
			EncryptCertificate: enc{"AEAD_AES_256_GCM", nonce, "certificate", gcmSealForTest(f.t, fakeAPIv3Key, nonce, "certificate", pemText)},
		})
	}
	b, err := json.Marshal(data)
	if err != nil {
		f.t.Error(err)
	}
	return string(b)
}

// serialOfForTest writes a serial the way WeChat's SDK does, independently
// of serialOf.
func serialOfForTest(c *x509.Certificate) string {
	return strings.ToUpper(c.SerialNumber.Text(16))
}

func gcmSealForTest(t testing.TB, key, nonce, aad string, pt []byte) string {
	b, err := aes.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(g.Seal(nil, []byte(nonce), pt, []byte(aad)))
}

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Add(d time.Duration) { c.ns.Add(int64(d)) }
func (c *fakeClock) Set(t time.Time)     { c.ns.Store(t.UnixNano()) }

// baseConfig is the merchant of the fake: k-wj signs, and WeChat is
// verified by its public key (k-off).
func baseConfig(t testing.TB) Config {
	return Config{
		MchID:            fakeMchID,
		MerchantSerialNo: fakeMchSerial,
		PrivateKey:       loadVec(t, "k-wj.pem"),
		APIv3Key:         fakeAPIv3Key,
		PublicKeyID:      fakePubKeyID,
		PublicKey:        loadVec(t, "k-off.pub.pem"),
	}
}

// clientFor builds a client of cfg talking to f.
func clientFor(t testing.TB, f *fakeWeChat, cfg Config, clock *fakeClock, opts ...Option) *Client {
	t.Helper()
	opts = append([]Option{WithHTTPClient(f.srv.Client()), WithBaseURL(f.srv.URL), WithClock(clock.Now)}, opts...)
	c, err := NewClient(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
