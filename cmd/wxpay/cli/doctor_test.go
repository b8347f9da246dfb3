package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
)

// certPair writes a self-signed certificate of docMchID valid from
// notBefore to notAfter and its key, as PEM files, and returns their paths.
func certPair(t *testing.T, notBefore, notAfter time.Time) (certFile, keyFile string) {
	t.Helper()
	return certPairOf(t, docMchID, notBefore, notAfter)
}

// certPairOf is certPair for a certificate whose common name is cn: the
// merchant platform issues the API certificate to the mch_id.
func certPairOf(t *testing.T, cn string, notBefore, notAfter time.Time) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Tenpay.com"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return writeFile(t, "apiclient_cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))),
		writeFile(t, "apiclient_key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
}

func doctorChecks(t *testing.T, env map[string]string, args ...string) (int, map[string]check) {
	t.Helper()
	code, out, errOut := run(t, env, "", append([]string{"doctor", "-json"}, args...)...)
	var res doctorResult
	require.NoError(t, json.Unmarshal([]byte(out), &res), errOut)
	assert.Equal(t, code == ExitOK, res.OK)
	// Keep the most severe finding of each name.
	rank := map[string]int{statusOK: 0, statusSkip: 1, statusWarn: 2, statusFail: 3}
	m := map[string]check{}
	for _, c := range res.Checks {
		if prev, ok := m[c.Name]; ok && rank[prev.Status] >= rank[c.Status] {
			continue
		}
		m[c.Name] = c
	}
	return code, m
}

func TestDoctorSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		env        map[string]string
		check      string
		wantStatus string
		want       string
	}{
		{"good appid", docEnv(), EnvAppID, statusOK, docAppID},
		{"missing appid", docEnv(EnvAppID, ""), EnvAppID, statusFail, "not set"},
		{"uppercase appid", docEnv(EnvAppID, "wxD930EA5D5A258F4F"), EnvAppID, statusFail, "uppercase"},
		{"short appid", docEnv(EnvAppID, "wxd930ea5d5a258f4"), EnvAppID, statusFail, "wx followed by 16 hex digits"},
		{"gh_ id", docEnv(EnvAppID, "gh_0123456789ab"), EnvAppID, statusFail, "not an appid"},
		{"good mch_id", docEnv(), EnvMchID, statusOK, docMchID},
		{"letters in mch_id", docEnv(EnvMchID, "1000abc"), EnvMchID, statusFail, "digits only"},
		{"odd mch_id length", docEnv(EnvMchID, "12345"), EnvMchID, statusWarn, "5 digits"},
		{"good key", docEnv(), EnvAPIKey, statusOK, "*** (32 characters)"},
		// A format check says it is one, and what would prove more.
		{"key checked for format only", docEnv(), EnvAPIKey, statusOK, "format only; a real check needs a signed call"},
		{"appid checked for format only", docEnv(), EnvAppID, statusOK, "format only"},
		{"mch_id checked for format only", docEnv(), EnvMchID, statusOK, "format only"},
		{"app secret checked for format only", docEnv(EnvAppSecret, testAppSecret), EnvAppSecret, statusOK, "format only"},
		{"missing key", docEnv(EnvAPIKey, ""), EnvAPIKey, statusFail, "not set"},
		{"short key", docEnv(EnvAPIKey, "0123456789"), EnvAPIKey, statusFail, "has 10 characters"},
		{"key with newline", docEnv(EnvAPIKey, docKey+"\n"), EnvAPIKey, statusFail, "whitespace"},
		{"key with symbols", docEnv(EnvAPIKey, "0123456789abcdef0123456789abcde!"), EnvAPIKey, statusFail, "letters and digits"},
		{"default sign type", docEnv(), EnvSignType, statusOK, "MD5, WeChat's default"},
		{"HMAC", docEnv(EnvSignType, "HMAC-SHA256"), EnvSignType, statusOK, "HMAC-SHA256"},
		{"HMAC_SHA256", docEnv(EnvSignType, "hmac_sha256"), EnvSignType, statusFail, "write it exactly HMAC-SHA256"},
		{"SHA1", docEnv(EnvSignType, "SHA1"), EnvSignType, statusFail, "MD5 or HMAC-SHA256"},
		{"no app secret", docEnv(), EnvAppSecret, statusSkip, "not set"},
		{"good app secret", docEnv(EnvAppSecret, testAppSecret), EnvAppSecret, statusOK, "*** (32 characters)"},
		{"short app secret", docEnv(EnvAppSecret, "abc"), EnvAppSecret, statusFail, "32 characters"},
		{"no notify URL", docEnv(), EnvNotifyURL, statusSkip, "not set"},
		{"query string", docEnv(EnvNotifyURL, "https://shop.example.com/notify?order=1"), EnvNotifyURL, statusFail, "query string"},
		{"fragment", docEnv(EnvNotifyURL, "https://shop.example.com/notify#x"), EnvNotifyURL, statusFail, "fragment"},
		{"relative", docEnv(EnvNotifyURL, "/notify"), EnvNotifyURL, statusFail, "not an absolute URL"},
		{"ftp", docEnv(EnvNotifyURL, "ftp://shop.example.com/notify"), EnvNotifyURL, statusFail, "scheme"},
		{"http offline", docEnv(EnvNotifyURL, "http://shop.example.com/notify"), EnvNotifyURL, statusWarn, "WeChat requires https"},
		{"offline", docEnv(EnvNotifyURL, "https://shop.example.com/notify"), checkReply, statusSkip, "-offline"},
		{"loopback", docEnv(EnvNotifyURL, "https://127.0.0.1/notify"), EnvNotifyURL, statusWarn, "WeChat cannot reach it"},
		{"no cert", docEnv(), "certificate", statusSkip, "not set"},
		{"cert without key", docEnv(EnvCertFile, "/x/apiclient_cert.pem"), "certificate", statusFail, "set both"},
		{"missing cert files", docEnv(EnvCertFile, "/nonexistent/c.pem", EnvKeyFile, "/nonexistent/k.pem"), "certificate", statusFail, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, checks := doctorChecks(t, tt.env, "-offline")
			c, ok := checks[tt.check]
			require.True(t, ok)
			assert.Equal(t, tt.wantStatus, c.Status, c.Message)
			assert.Contains(t, c.Message, tt.want)
			if tt.wantStatus == statusFail {
				assert.Equal(t, ExitFail, code)
			}
		})
	}
}

func TestDoctorAllGood(t *testing.T) {
	t.Parallel()
	now := time.Now()
	cert, key := certPair(t, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	m := newMerchantServer(t, wxpay.Config{AppID: docAppID, MchID: docMchID, APIKey: docKey})
	env := docEnv(EnvAppSecret, testAppSecret, EnvCertFile, cert, EnvKeyFile, key, EnvNotifyURL, m.URL+"/notify")
	code, out, _ := run(t, env, "", "doctor")
	assert.Equal(t, ExitOK, code, out)
	assert.Contains(t, out, "refused a notification signed with a wrong key with return_code FAIL")
	assert.Contains(t, out, `key matches the certificate of mch_id "10000100"`)
	assert.Contains(t, out, "no problems found")
	m.mu.Lock()
	defer m.mu.Unlock()
	assert.Empty(t, m.payments, "the probe must never be accepted")
}

func TestDoctorNotifyProbe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus string
		want       string
	}{
		{"accepts anything", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>")
		}, statusFail, "does not verify signatures, so anyone can forge a payment"},
		{"plain-text refusal", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, "bad signature")
		}, statusWarn, "not WeChat's"},
		{"404", http.NotFound, statusFail, "HTTP 404"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example.com/notify", http.StatusMovedPermanently)
		}, statusFail, "redirect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			code, checks := doctorChecks(t, docEnv(EnvNotifyURL, srv.URL+"/notify"))
			c := checks[checkReply]
			assert.Equal(t, tt.wantStatus, c.Status, c.Message)
			assert.Contains(t, c.Message, tt.want)
			assert.Equal(t, tt.wantStatus == statusFail, code == ExitFail)
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL
		srv.Close()
		_, checks := doctorChecks(t, docEnv(EnvNotifyURL, u+"/notify"))
		assert.Equal(t, statusFail, checks[checkReply].Status)
		assert.Contains(t, checks[checkReply].Message, "not reachable")
	})
}

func TestDoctorCertificates(t *testing.T) {
	t.Parallel()
	now := time.Now()
	good, goodKey := certPair(t, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	soon, soonKey := certPair(t, now.AddDate(-1, 0, 0), now.AddDate(0, 0, 10))
	expired, expiredKey := certPair(t, now.AddDate(-2, 0, 0), now.AddDate(0, 0, -1))
	future, futureKey := certPair(t, now.AddDate(0, 0, 2), now.AddDate(1, 0, 0))
	// Valid in every other way: only the subject is wrong.
	other, otherMchKey := certPairOf(t, "1900000109", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	named, namedKey := certPairOf(t, "Tenpay.com Root CA test 10000100", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	tests := []struct {
		name, cert, key, wantStatus, want string
	}{
		{"valid", good, goodKey, statusOK, "valid until"},
		{"expires in 10 days", soon, soonKey, statusFail, "renew it now"},
		{"expired", expired, expiredKey, statusFail, "expired on"},
		{"not yet valid", future, futureKey, statusFail, "not valid before"},
		{"key of another certificate", good, soonKey, statusFail, "does not belong to the certificate"},
		{"key file is a certificate", good, good, statusFail, ""},
		{"of another merchant", other, otherMchKey, statusFail, `issued to "1900000109", not to WXPAY_MCHID 10000100`},
		{"common name not a merchant", named, namedKey, statusFail, "not to WXPAY_MCHID 10000100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, checks := doctorChecks(t, docEnv(EnvCertFile, tt.cert, EnvKeyFile, tt.key), "-offline")
			c := checks["certificate"]
			assert.Equal(t, tt.wantStatus, c.Status, c.Message)
			assert.Contains(t, c.Message, tt.want)
			assert.Equal(t, tt.wantStatus == statusFail, code == ExitFail)
		})
	}
}
