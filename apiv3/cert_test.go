package apiv3

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var certNow = time.Date(2026, 1, 2, 15, 4, 5, 0, chinaTime)

// certSetup is a merchant on platform certificates only: WeChat holds
// certificate A (k-wgo) and signs with it.
func certSetup(t *testing.T, opts ...Option) (*fakeWeChat, *Client, *fakeClock, *x509.Certificate) {
	t.Helper()
	clock := newFakeClock(certNow)
	f := newFakeWeChat(t, clock.Now)
	wgo := parseKeyPEM(t, loadVec(t, "k-wgo.pem"))
	a := makeCert(t, wgo, "0"+fakeCertSerial, certNow.Add(-24*time.Hour), certNow.Add(365*24*time.Hour))
	f.setCerts(a)
	f.setSigner(fakeKey{fakeCertSerial, wgo})
	cfg := baseConfig(t)
	cfg.PublicKeyID, cfg.PublicKey, cfg.PlatformCertificates = "", nil, true
	return f, clientFor(t, f, cfg, clock, opts...), clock, a
}

func serials(c *Client) []string {
	var out []string
	for _, pc := range c.Certificates() {
		out = append(out, pc.SerialNo)
	}
	return out
}

// V7: wechatpay-java's certificate download under a 32-byte APIv3 key
// (TestConfig.DOWNLOAD_CERTIFICATE_RESPONSE). Its signature is not
// published, so "WeChat" signs the published body with its public key
// (migration mode); decryption, parsing and the serial check run on the
// published bytes.
func TestDownloadV7(t *testing.T) {
	var v struct {
		Body     string `json:"body"`
		APIv3Key string `json:"apiv3_key"`
		SerialNo string `json:"serial_no"`
	}
	require.NoError(t, json.Unmarshal(loadVec(t, "certificates-v7.json"), &v))
	clock := newFakeClock(certNow)
	f := newFakeWeChat(t, clock.Now)
	f.route("GET /v3/certificates", func(r *http.Request) (int, string) {
		assert.Equal(t, "algorithm_type=RSA", r.URL.RawQuery)
		return http.StatusOK, v.Body
	})
	cfg := baseConfig(t)
	cfg.APIv3Key, cfg.PlatformCertificates = v.APIv3Key, true
	c := clientFor(t, f, cfg, clock)
	require.NoError(t, c.RefreshCertificates(context.Background()))
	require.Equal(t, []string{v.SerialNo}, serials(c))
	got := c.Certificates()[0].Certificate
	assert.Equal(t, "Tenpay.com Root CA", got.Issuer.CommonName)
	assert.True(t, got.NotAfter.Equal(time.Date(2028, 9, 17, 15, 15, 58, 0, time.UTC)))

	// After the certificate expires the same download is refused.
	clock.Set(time.Date(2028, 9, 18, 0, 0, 0, 0, time.UTC))
	err := c.RefreshCertificates(context.Background())
	assert.ErrorIs(t, err, ErrCertificate)
}

// V6: wechatpay-go's download is sealed under a 16-byte key: no 32-byte
// APIv3 key opens it, and such a key is refused at construction.
func TestDownloadV6Refused(t *testing.T) {
	var v struct {
		Body string `json:"body"`
	}
	require.NoError(t, json.Unmarshal(loadVec(t, "certificates-v6.json"), &v))
	clock := newFakeClock(time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC))
	f := newFakeWeChat(t, clock.Now)
	f.route("GET /v3/certificates", func(*http.Request) (int, string) { return http.StatusOK, v.Body })
	cfg := baseConfig(t)
	cfg.PlatformCertificates = true
	c := clientFor(t, f, cfg, clock)
	assert.ErrorIs(t, c.RefreshCertificates(context.Background()), ErrDecrypt)
	assert.Empty(t, c.Certificates())

	cfg.APIv3Key = "mockAPIv3Key1234"
	_, err := NewClient(cfg)
	assert.ErrorContains(t, err, "exactly 32 bytes")
}

// TestDownloadBootstrap: a merchant without the public key trusts the
// first download by its AEAD seal and its signature by a certificate it
// delivers; the answer that triggered it is then verified.
func TestDownloadBootstrap(t *testing.T) {
	f, c, _, a := certSetup(t)
	f.route("GET /v3/pay/transactions/out-trade-no/T1", func(*http.Request) (int, string) {
		return http.StatusOK, `{"out_trade_no":"T1","amount":{"total":1}}`
	})
	out, _, err := query(t, c, "T1")
	require.NoError(t, err)
	assert.Equal(t, "T1", out.OutTradeNo)
	assert.Equal(t, int64(1), f.downloads.Load())
	assert.Equal(t, []string{serialOf(a)}, serials(c))
	// Held now: the next answers need no download.
	for i := 0; i < 3; i++ {
		_, _, err = query(t, c, "T1")
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), f.downloads.Load())

	serial, pub, err := c.encryptionKey(context.Background())
	require.NoError(t, err)
	assert.Equal(t, serialOf(a), serial)
	assert.Equal(t, a.PublicKey, pub)
}

// TestDownloadRefusals serves downloads that are wrong in one way each;
// none may change what the client trusts.
func TestDownloadRefusals(t *testing.T) {
	wgo := parseKeyPEM(t, loadVec(t, "k-wgo.pem"))
	valid := makeCert(t, wgo, fakeCertSerial, certNow.Add(-time.Hour), certNow.Add(time.Hour))
	forgerCert := makeCert(t, otherKey(t), "ABCDEF", certNow.Add(-time.Hour), certNow.Add(time.Hour))
	expired := makeCert(t, wgo, fakeCertSerial, certNow.Add(-48*time.Hour), certNow.Add(-24*time.Hour))
	item := func(c *x509.Certificate, serialNo, key, alg, aad string) string {
		pemText := "-----BEGIN CERTIFICATE-----\n" + b64lines(c.Raw) + "-----END CERTIFICATE-----\n"
		ct := gcmSealForTest(t, key, "nonce0123456", aad, []byte(pemText))
		return fmt.Sprintf(`{"serial_no":%q,"effective_time":"2026-01-01T00:00:00+08:00","expire_time":"2027-01-01T00:00:00+08:00","encrypt_certificate":{"algorithm":%q,"nonce":"nonce0123456","associated_data":%q,"ciphertext":%q}}`,
			serialNo, alg, aad, ct)
	}
	good := item(valid, fakeCertSerial, fakeAPIv3Key, "AEAD_AES_256_GCM", "certificate")
	tests := []struct {
		name   string
		body   string
		signer fakeKey
		want   error
	}{
		{"serial_no names another certificate", `{"data":[` + item(valid, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", fakeAPIv3Key, "AEAD_AES_256_GCM", "certificate") + `]}`,
			fakeKey{fakeCertSerial, wgo}, ErrCertificate},
		{"sealed under another key (a forger without the APIv3 key)", `{"data":[` + item(forgerCert, "ABCDEF", "0123456789abcdefghijABCDEFGHIJ01", "AEAD_AES_256_GCM", "certificate") + `]}`,
			fakeKey{"ABCDEF", otherKey(t)}, ErrDecrypt},
		{"associated_data changed", `{"data":[` + strings.Replace(good, `"associated_data":"certificate"`, `"associated_data":"transaction"`, 1) + `]}`,
			fakeKey{fakeCertSerial, wgo}, ErrDecrypt},
		{"unknown algorithm", `{"data":[` + item(valid, fakeCertSerial, fakeAPIv3Key, "AEAD_SM4_GCM", "certificate") + `]}`,
			fakeKey{fakeCertSerial, wgo}, ErrCertificate},
		{"only an expired certificate", `{"data":[` + item(expired, fakeCertSerial, fakeAPIv3Key, "AEAD_AES_256_GCM", "certificate") + `]}`,
			fakeKey{fakeCertSerial, wgo}, ErrCertificate},
		{"signed by a key it does not deliver", `{"data":[` + good + `]}`,
			fakeKey{"ABCDEF", otherKey(t)}, ErrUnknownSerial},
		{"signed under the delivered serial by another key", `{"data":[` + good + `]}`,
			fakeKey{fakeCertSerial, otherKey(t)}, ErrSignature},
		{"no certificates", `{"data":[]}`, fakeKey{fakeCertSerial, wgo}, ErrCertificate},
		{"duplicate data", `{"data":[],"data":[` + good + `]}`, fakeKey{fakeCertSerial, wgo}, ErrJSON},
		{"not JSON", `<html></html>`, fakeKey{fakeCertSerial, wgo}, ErrJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, c, _, _ := certSetup(t)
			f.route("GET /v3/certificates", func(*http.Request) (int, string) { return http.StatusOK, tt.body })
			f.setSigner(tt.signer)
			err := c.RefreshCertificates(context.Background())
			assert.ErrorIs(t, err, tt.want)
			assert.Empty(t, c.Certificates(), "nothing refused is trusted")
			_, _, err = c.encryptionKey(context.Background())
			assert.ErrorIs(t, err, ErrNoEncryptionKey)
		})
	}
	// The same fake with the good body is accepted (the table's
	// refusals are the changes, not the setup).
	f, c, _, _ := certSetup(t)
	f.route("GET /v3/certificates", func(*http.Request) (int, string) { return http.StatusOK, `{"data":[` + good + `]}` })
	require.NoError(t, c.RefreshCertificates(context.Background()))
	assert.Equal(t, []string{fakeCertSerial}, serials(c))
}

func b64lines(der []byte) string {
	s := base64.StdEncoding.EncodeToString(der)
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	b.WriteString(s + "\n")
	return b.String()
}

// TestRotation: WeChat adds certificate B and starts signing with it;
// answers under A and B are both accepted through the overlap, and A is
// dropped once WeChat stops listing it.
func TestRotation(t *testing.T) {
	f, c, clock, a := certSetup(t)
	f.route("GET /v3/pay/transactions/out-trade-no/T1", func(*http.Request) (int, string) { return http.StatusOK, `{"out_trade_no":"T1"}` })
	_, _, err := query(t, c, "T1")
	require.NoError(t, err)

	b := makeCert(t, otherKey(t), "7A0B", certNow, certNow.Add(5*365*24*time.Hour))
	f.setCerts(a, b)
	f.setSigner(fakeKey{"7A0B", otherKey(t)})
	clock.Add(CertificateRetryInterval + time.Second)
	_, _, err = query(t, c, "T1")
	require.NoError(t, err, "an unknown serial refreshes once")
	assert.Equal(t, int64(2), f.downloads.Load())
	assert.ElementsMatch(t, []string{serialOf(a), "7A0B"}, serials(c))
	serial, _, err := c.encryptionKey(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "7A0B", serial, "sensitive fields go under the newest certificate")

	f.setSigner(fakeKey{fakeCertSerial, parseKeyPEM(t, loadVec(t, "k-wgo.pem"))})
	_, _, err = query(t, c, "T1")
	require.NoError(t, err, "the old certificate stays valid during the overlap")

	// WeChat stops listing A; the twice-daily refresh picks that up in
	// the background, and A's answers are then refused.
	f.setCerts(b)
	f.setSigner(fakeKey{"7A0B", otherKey(t)})
	clock.Add(CertificateRefreshInterval + time.Second)
	_, _, err = query(t, c, "T1")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(c.Certificates()) == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, []string{"7A0B"}, serials(c))
	assert.Equal(t, int64(3), f.downloads.Load())
}

// TestUnknownSerialStorm: 1000 answers under made-up serials arriving at
// once cause at most one download; later ones within the retry interval
// cause none.
func TestUnknownSerialStorm(t *testing.T) {
	f, c, _, _ := certSetup(t)
	require.NoError(t, c.RefreshCertificates(context.Background()))
	start := f.downloads.Load()
	body := []byte(`{}`)
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			k := fakeKey{fmt.Sprintf("%040X", i+1), otherKey(t)}
			h := signedHeaders(t, k, certNow, body)
			errs <- c.verifySignature(context.Background(), h, body)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.ErrorIs(t, err, ErrUnknownSerial)
	}
	assert.LessOrEqual(t, f.downloads.Load()-start, int64(1), "at most one download for the whole storm")
	after := f.downloads.Load()
	body2 := []byte(`{"again":1}`)
	h := signedHeaders(t, fakeKey{"ABCDEF0123", otherKey(t)}, certNow, body2)
	assert.ErrorIs(t, c.verifySignature(context.Background(), h, body2), ErrUnknownSerial)
	assert.Equal(t, after, f.downloads.Load(), "none within the retry interval")
}

// TestFirstUseStorm: 1000 concurrent first answers of a client holding no
// certificate share one download.
func TestFirstUseStorm(t *testing.T) {
	f, c, _, a := certSetup(t)
	body := []byte(`{}`)
	wgo := parseKeyPEM(t, loadVec(t, "k-wgo.pem"))
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.verifySignature(context.Background(), signedHeaders(t, fakeKey{serialOf(a), wgo}, certNow, body), body)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), f.downloads.Load())
}

// TestCertificateStoreShared: a second instance meeting a serial loads it
// from the shared store instead of downloading.
func TestCertificateStoreShared(t *testing.T) {
	store := &MemoryCertificateStore{}
	f, c1, clock, a := certSetup(t, WithCertificateStore(store))
	require.NoError(t, c1.RefreshCertificates(context.Background()))
	require.Equal(t, int64(1), f.downloads.Load())

	cfg := baseConfig(t)
	cfg.PublicKeyID, cfg.PublicKey, cfg.PlatformCertificates = "", nil, true
	c2 := clientFor(t, f, cfg, clock, WithCertificateStore(store))
	body := []byte(`{}`)
	h := signedHeaders(t, fakeKey{serialOf(a), parseKeyPEM(t, loadVec(t, "k-wgo.pem"))}, certNow, body)
	require.NoError(t, c2.verifySignature(context.Background(), h, body))
	assert.Equal(t, int64(1), f.downloads.Load(), "the second instance used the store")

	got, err := store.LoadCertificates(context.Background(), fakeMchID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, a.Raw, got[0].Raw)
}

func TestEncryptionKeyPublicKey(t *testing.T) {
	_, c, _ := fakeSetup(t)
	serial, pub, err := c.encryptionKey(context.Background())
	require.NoError(t, err)
	assert.Equal(t, fakePubKeyID, serial)
	assert.Equal(t, c.pubKey, pub)
}

// TestPublicKeyMerchantNeverDownloads: a public-key merchant (for whom
// /v3/certificates fails) never touches the endpoint.
func TestPublicKeyMerchantNeverDownloads(t *testing.T) {
	f, c, _ := fakeSetup(t)
	f.route("GET /v3/pay/transactions/out-trade-no/T1", func(*http.Request) (int, string) { return http.StatusOK, `{}` })
	f.route("GET /v3/certificates", func(*http.Request) (int, string) {
		t.Error("downloaded certificates")
		return http.StatusNotFound, `{"code":"NOT_FOUND","message":"证书不存在"}`
	})
	_, _, err := query(t, c, "T1")
	require.NoError(t, err)
	require.NoError(t, c.RefreshCertificates(context.Background()))
	assert.Nil(t, c.Certificates())
}

func FuzzOpenDownload(f *testing.F) {
	wgo := parseKeyPEM(f, loadVec(f, "k-wgo.pem"))
	cert := makeCert(f, wgo, fakeCertSerial, certNow.Add(-time.Hour), certNow.Add(time.Hour))
	fw := &fakeWeChat{t: f}
	fw.setCerts(cert)
	f.Add([]byte(fw.certificatesBody()))
	var v struct{ Body string }
	_ = json.Unmarshal(loadVec(f, "certificates-v7.json"), &v)
	f.Add([]byte(v.Body))
	f.Add([]byte(`{"data":[{"serial_no":"1","encrypt_certificate":{"algorithm":"AEAD_AES_256_GCM","nonce":"","ciphertext":""}}]}`))
	cfg := baseConfig(f)
	cfg.PublicKeyID, cfg.PublicKey, cfg.PlatformCertificates = "", nil, true
	c, err := NewClient(cfg, WithClock(func() time.Time { return certNow }))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte) {
		h := signedHeaders(t, fakeKey{fakeCertSerial, wgo}, certNow, body)
		certs, err := c.certs.openDownload(context.Background(), h, body)
		if err == nil {
			for _, pc := range certs {
				if pc.pub == nil || pc.cert == nil {
					t.Fatal("accepted a certificate without a key")
				}
			}
		}
	})
}

// TestDownloadErrorAnswers: /v3/certificates fails for public-key
// merchants (404, 403, 500 are reported). A signed error answer is
// verified with keys already trusted, never through another refresh (the
// download is the refresh: that would wait on itself).
func TestDownloadErrorAnswers(t *testing.T) {
	notFound := func(*http.Request) (int, string) {
		return http.StatusNotFound, `{"code":"RESOURCE_NOT_EXISTS","message":"证书不存在"}`
	}
	t.Run("migrating merchant, answer signed with the public key", func(t *testing.T) {
		clock := newFakeClock(certNow)
		f := newFakeWeChat(t, clock.Now)
		f.route("GET /v3/certificates", notFound)
		cfg := baseConfig(t)
		cfg.PlatformCertificates = true
		c := clientFor(t, f, cfg, clock)
		err := c.RefreshCertificates(context.Background())
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.True(t, e.Verified)
		assert.Equal(t, ErrorCode("RESOURCE_NOT_EXISTS"), e.Code)
	})
	t.Run("certificate merchant, answer signed by an unknown certificate", func(t *testing.T) {
		f, c, _, _ := certSetup(t)
		f.route("GET /v3/certificates", notFound)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := c.RefreshCertificates(ctx)
		assert.ErrorIs(t, err, ErrUnknownSerial)
		assert.NoError(t, ctx.Err(), "answered at once, not after waiting on itself")
		assert.Empty(t, c.Certificates())
	})
}

// TestRefreshLeavesNoGoroutine: the refresh goroutines (joined, and in
// the background) end with their download; nothing runs on after.
func TestRefreshLeavesNoGoroutine(t *testing.T) {
	f, c, clock, _ := certSetup(t)
	f.route("GET /v3/pay/transactions/out-trade-no/T1", func(*http.Request) (int, string) { return http.StatusOK, `{}` })
	_, _, err := query(t, c, "T1") // first use: a joined refresh
	require.NoError(t, err)
	clock.Add(CertificateRefreshInterval + time.Second)
	_, _, err = query(t, c, "T1") // starts a background refresh
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		return !strings.Contains(stacks, "apiv3.(*certManager)")
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, int64(2), f.downloads.Load())
}
