package wxpay

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testPKI is a throwaway certificate authority made for one test run:
// nothing is committed, and the keys never leave memory (or t.TempDir).
type testPKI struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPool *x509.CertPool
}

func newTestPKI(t testing.TB, name string) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{ca: ca, caKey: key, caPool: pool}
}

// issue returns a PEM certificate and PEM key for cn, for a server
// (127.0.0.1) or a client.
func (p *testPKI) issue(t testing.TB, cn string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// mtlsServer is a fake WeChat host over TLS that, like WeChat on its
// certificate endpoints, requires a client certificate issued by its CA
// (the merchant's, with the mch_id as common name). Handshakes that fail
// are counted; so are requests, and whether each carried a certificate.
type mtlsServer struct {
	*httptest.Server
	URL       string
	Mux       *http.ServeMux
	roots     *x509.CertPool // to trust the server
	clientPKI *testPKI       // issues certificates the server accepts
	requests  atomic.Int64
	withCert  atomic.Int64
}

// newMTLSServer starts the server. require decides whether a request
// without a client certificate is refused in the handshake (as WeChat's
// certificate endpoints do) or let through, so that a test can see which
// calls present one.
func newMTLSServer(t *testing.T, require_ bool) *mtlsServer {
	t.Helper()
	serverPKI := newTestPKI(t, "fake WeChat root")
	clientPKI := newTestPKI(t, "fake merchant CA")
	certPEM, keyPEM := serverPKI.issue(t, "api.mch.weixin.qq.com", true)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	s := &mtlsServer{Mux: http.NewServeMux(), roots: serverPKI.caPool, clientPKI: clientPKI}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if len(r.TLS.PeerCertificates) > 0 {
			s.withCert.Add(1)
			if cn := r.TLS.PeerCertificates[0].Subject.CommonName; cn != testMchID {
				http.Error(w, "certificate of another merchant", http.StatusForbidden)
				return
			}
		}
		s.Mux.ServeHTTP(w, r)
	}))
	auth := tls.VerifyClientCertIfGiven
	if require_ {
		auth = tls.RequireAndVerifyClientCert
	}
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: auth, ClientCAs: clientPKI.caPool, MinVersion: tls.VersionTLS12}
	// Refused handshakes are the point of several tests.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	s.URL = s.Server.URL
	return s
}

// httpClient trusts the fake server's root and nothing else.
func (s *mtlsServer) httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots}}, Timeout: 5 * time.Second}
}

// merchantCert is a client certificate the server accepts.
func (s *mtlsServer) merchantCert(t testing.TB) (certPEM, keyPEM []byte) {
	return s.clientPKI.issue(t, testMchID, false)
}

// certClient returns a client of the fake with the merchant certificate.
func (s *mtlsServer) certClient(t *testing.T, opts ...Option) *Client {
	t.Helper()
	certPEM, keyPEM := s.merchantCert(t)
	all := append([]Option{WithBaseURL(s.URL), WithHTTPClient(s.httpClient()), WithClientCertificate(certPEM, keyPEM)}, opts...)
	c, err := NewClient(testConfig(), all...)
	require.NoError(t, err)
	return c
}

func TestClientCertificateMismatchedPair(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "ca")
	certA, _ := pki.issue(t, testMchID, false)
	_, keyB := pki.issue(t, testMchID, false)
	_, err := NewClient(testConfig(), WithClientCertificate(certA, keyB))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "do not form a usable pair")
	assert.NotContains(t, err.Error(), string(keyB[30:60]), "the key never appears in the error")

	_, err = NewClient(testConfig(), WithClientCertificate([]byte("not pem"), keyB))
	require.Error(t, err)

	dir := t.TempDir()
	_, err = NewClient(testConfig(), WithClientCertificateFiles(filepath.Join(dir, "missing.pem"), filepath.Join(dir, "k.pem")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WithClientCertificateFiles")
}

func TestClientCertificateExpired(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "ca")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: testMchID},
		NotBefore: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pki.ca, &key.PublicKey, pki.caKey)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	_, err = NewClient(testConfig(), WithClientCertificate(
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not valid now (valid 2019-01-01 to 2024-01-01)")
}

func TestClientCertificateFiles(t *testing.T) {
	t.Parallel()
	s := newMTLSServer(t, true)
	certPEM, keyPEM := s.merchantCert(t)
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "apiclient_cert.pem"), filepath.Join(dir, "apiclient_key.pem")
	require.NoError(t, os.WriteFile(cf, certPEM, 0o600))
	require.NoError(t, os.WriteFile(kf, keyPEM, 0o600))
	c, err := NewClient(testConfig(), WithBaseURL(s.URL), WithHTTPClient(s.httpClient()), WithClientCertificateFiles(cf, kf))
	require.NoError(t, err)
	s.Mux.HandleFunc("/secapi/pay/reverse", fakeWeChat(t, func(Params) Params { return okAnswer(Params{"recall": "N"}) }, nil))
	r, err := c.Reverse(context.Background(), &ReverseRequest{OutTradeNo: "1217752501201407033233368018"})
	require.NoError(t, err)
	assert.False(t, r.Recall)
	assert.EqualValues(t, 1, s.withCert.Load())
}

func TestClientCertificateTransportRules(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "ca")
	certPEM, keyPEM := pki.issue(t, testMchID, false)

	// A custom RoundTripper cannot be given a certificate.
	custom := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("unused") })}
	_, err := NewClient(testConfig(), WithHTTPClient(custom), WithClientCertificate(certPEM, keyPEM))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WithCertificateHTTPClient")

	// Verification off is refused outright.
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	_, err = NewClient(testConfig(), WithHTTPClient(insecure), WithClientCertificate(certPEM, keyPEM))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "verification")

	_, err = NewClient(testConfig(), WithClientCertificate(certPEM, keyPEM), WithCertificateHTTPClient(http.DefaultClient))
	require.Error(t, err)

	// The certificate client is built once, from a clone: TLS 1.2 or
	// newer, the certificate in place, the caller's transport untouched.
	old := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS10}}
	c, err := NewClient(testConfig(), WithHTTPClient(&http.Client{Transport: old}), WithClientCertificate(certPEM, keyPEM))
	require.NoError(t, err)
	tr := c.certHC.Transport.(*http.Transport)
	assert.NotSame(t, old, tr)
	assert.EqualValues(t, tls.VersionTLS12, tr.TLSClientConfig.MinVersion)
	assert.Len(t, tr.TLSClientConfig.Certificates, 1)
	assert.False(t, tr.TLSClientConfig.InsecureSkipVerify)
	assert.Empty(t, old.TLSClientConfig.Certificates)
	assert.EqualValues(t, tls.VersionTLS10, old.TLSClientConfig.MinVersion)

	// The default client gets a clone of the library's transport.
	c, err = NewClient(testConfig(), WithClientCertificate(certPEM, keyPEM))
	require.NoError(t, err)
	tr = c.certHC.Transport.(*http.Transport)
	assert.Len(t, tr.TLSClientConfig.Certificates, 1)
	assert.NotSame(t, c.hc.Transport, tr)
	assert.Equal(t, c.hc.Timeout, c.certHC.Timeout)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestCertificateOnlyOnCertificateEndpoints: the merchant certificate is
// presented to refund but not to orderquery.
func TestCertificateOnlyOnCertificateEndpoints(t *testing.T) {
	t.Parallel()
	s := newMTLSServer(t, false)
	c := s.certClient(t)
	s.Mux.HandleFunc("/pay/orderquery", fakeWeChat(t, func(req Params) Params {
		return okAnswer(Params{"trade_state": "NOTPAY", "out_trade_no": req["out_trade_no"]})
	}, nil))
	s.Mux.HandleFunc("/secapi/pay/refund", fakeWeChat(t, refundOK, nil))
	_, err := c.OrderQuery(context.Background(), &OrderQueryRequest{OutTradeNo: "o1"})
	require.NoError(t, err)
	assert.EqualValues(t, 0, s.withCert.Load())
	_, err = c.Refund(context.Background(), validRefund())
	require.NoError(t, err)
	assert.EqualValues(t, 1, s.withCert.Load())
}

func TestRefundCertificateFailures(t *testing.T) {
	t.Parallel()
	s := newMTLSServer(t, true)
	s.Mux.HandleFunc("/secapi/pay/refund", fakeWeChat(t, refundOK, nil))

	t.Run("none configured", func(t *testing.T) {
		c, err := NewClient(testConfig(), WithBaseURL(s.URL), WithHTTPClient(s.httpClient()))
		require.NoError(t, err)
		before := s.requests.Load()
		_, err = c.Refund(context.Background(), validRefund())
		var re *RequestError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "refund", re.Op)
		assert.Contains(t, err.Error(), "WithClientCertificate")
		assert.Equal(t, before, s.requests.Load(), "no I/O")
		_, err = c.Reverse(context.Background(), &ReverseRequest{OutTradeNo: "x1"})
		require.ErrorAs(t, err, &re)
		_, err = c.DownloadFundFlow(context.Background(), &DownloadFundFlowRequest{BillDate: "20240501", AccountType: AccountBasic}, io.Discard)
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "client certificate", re.Field)
	})
	t.Run("from an untrusted issuer", func(t *testing.T) {
		other := newTestPKI(t, "not WeChat's")
		certPEM, keyPEM := other.issue(t, testMchID, false)
		c, err := NewClient(testConfig(), WithBaseURL(s.URL), WithHTTPClient(s.httpClient()), WithClientCertificate(certPEM, keyPEM))
		require.NoError(t, err)
		before := s.requests.Load()
		_, err = c.Refund(context.Background(), validRefund())
		require.ErrorIs(t, err, ErrCertificateRefused)
		assertClean(t, err)
		assert.Contains(t, err.Error(), "wxpay: refund: ")
		assert.Contains(t, err.Error(), "client certificate")
		assert.False(t, Retryable(err))
		assert.Equal(t, before, s.requests.Load(), "the server processed nothing")
	})
	t.Run("of another merchant", func(t *testing.T) {
		certPEM, keyPEM := s.clientPKI.issue(t, "1900000109", false)
		c, err := NewClient(testConfig(), WithBaseURL(s.URL), WithHTTPClient(s.httpClient()), WithClientCertificate(certPEM, keyPEM))
		require.NoError(t, err)
		_, err = c.Refund(context.Background(), validRefund())
		var we *Error
		require.ErrorAs(t, err, &we)
		assert.Equal(t, http.StatusForbidden, we.StatusCode)
	})
}
