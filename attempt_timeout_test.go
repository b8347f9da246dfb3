package wxpay

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// The client holds one HTTP client per TLS identity; what used to be a
// second client with a longer Timeout for bills is a deadline per attempt,
// given only on the library's own clients.
func TestAttemptTimeout(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "ca")
	certPEM, keyPEM := pki.issue(t, testMchID, false)

	own, err := NewClient(testConfig(), WithClientCertificate(certPEM, keyPEM))
	require.NoError(t, err)
	assert.Zero(t, own.hc.Timeout, "the own client is bounded per attempt, not by Timeout")
	assert.Equal(t, wire.DefaultTimeout, own.attemptTimeout(own.hc, wire.DefaultTimeout))
	assert.Equal(t, BillTimeout, own.attemptTimeout(own.hc, BillTimeout))
	assert.Equal(t, BillTimeout, own.attemptTimeout(own.certHC, BillTimeout))

	caller := &http.Client{Transport: &http.Transport{}, Timeout: time.Minute}
	theirs, err := NewClient(testConfig(), WithHTTPClient(caller), WithClientCertificate(certPEM, keyPEM))
	require.NoError(t, err)
	assert.Zero(t, theirs.attemptTimeout(theirs.hc, BillTimeout), "a caller's client keeps its own Timeout")
	assert.Zero(t, theirs.attemptTimeout(theirs.certHC, BillTimeout))
	assert.Equal(t, time.Minute, theirs.certHC.Timeout)

	certClient := &http.Client{Transport: &http.Transport{}}
	mixed, err := NewClient(testConfig(), WithCertificateHTTPClient(certClient))
	require.NoError(t, err)
	assert.Equal(t, wire.DefaultTimeout, mixed.attemptTimeout(mixed.hc, wire.DefaultTimeout))
	assert.Zero(t, mixed.attemptTimeout(mixed.certHC, wire.DefaultTimeout))
}

// An attempt's deadline covers the reading of the body, as
// http.Client.Timeout does, and ends when the body is closed.
func TestAttemptDeadlineCoversBody(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "<xml>")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := NewClient(testConfig(), WithBaseURL(srv.URL))
	require.NoError(t, err)
	resp, _, err := c.do(context.Background(), c.hc, 50*time.Millisecond, srv.URL, nil)
	require.NoError(t, err)
	_, err = io.ReadAll(resp.Body)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, resp.Body.Close())
}
