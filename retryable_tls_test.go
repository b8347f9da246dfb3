package wxpay

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expiredServer starts a TLS server whose self-signed certificate for
// 127.0.0.1 expired yesterday, and returns it with a pool that trusts it,
// so the only thing wrong with the handshake is the expiry.
func expiredServer(t *testing.T) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "expired test server"},
		NotBefore:             time.Now().Add(-48 * time.Hour),
		NotAfter:              time.Now().Add(-24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a request got through a handshake that must fail")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return srv, pool
}

// A certificate that does not verify fails the same way on every try: a
// retry loop that believed it transient would spin. Each case is a real
// handshake, not a constructed error, on an endpoint without an
// idempotency key (unifiedorder) and on one with it (micropay).
func TestRetryableFalseOnCertificateFailures(t *testing.T) {
	t.Parallel()
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a request got through a handshake that must fail")
	}))
	t.Cleanup(untrusted.Close)
	trusting := func(pool *x509.CertPool) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	expired, expiredPool := expiredServer(t)
	// httptest's certificate names 127.0.0.1, ::1 and example.com, not
	// localhost.
	_, port, err := net.SplitHostPort(untrusted.Listener.Addr().String())
	require.NoError(t, err)
	tests := []struct {
		name    string
		baseURL string
		hc      *http.Client
		want    string
	}{
		{"unknown authority", untrusted.URL, &http.Client{}, "certificate signed by unknown authority"},
		{"hostname mismatch", "https://localhost:" + port, untrusted.Client(), "certificate is valid for"},
		{"expired", expired.URL, trusting(expiredPool), "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := testClient(t, SignMD5, WithBaseURL(tt.baseURL), WithHTTPClient(tt.hc))
			_, err := c.UnifiedOrder(context.Background(), validOrder())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.False(t, Retryable(err), "a certificate that does not verify is refused on every try: %v", err)
			_, err = c.MicroPay(context.Background(), validMicroPay())
			require.Error(t, err)
			assert.True(t, strings.Contains(err.Error(), tt.want), err.Error())
			assert.False(t, Retryable(err), "micropay: %v", err)
		})
	}
}

// The transient transport failures stay retryable: nothing was sent, and
// the next try may find the server up.
func TestRetryableTrueOnTransientTransportFailures(t *testing.T) {
	t.Parallel()
	c := testClient(t, SignMD5, WithBaseURL(closedURL(t)))
	_, err := c.UnifiedOrder(context.Background(), validOrder())
	require.Error(t, err)
	assert.True(t, Retryable(err), "connection refused: %v", err)

	assert.True(t, Retryable(&opError{"unifiedorder", &net.DNSError{Err: "no such host", Name: "api.mch.weixin.qq.com", IsNotFound: true}}))
	assert.True(t, Retryable(&opError{"unifiedorder", timeoutErr{}}), "TLS handshake timeout")
}
