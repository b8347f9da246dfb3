package wire

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
)

// Do sends req with hc and reports, besides hc.Do's results, whether a
// connection was handed to the request (net/http's GotConn): from then on
// its bytes may have been written, so no error can prove it was never
// sent. A transport that does not report connections leaves reached
// false, and the error's type alone decides (see [NeverSent]).
func Do(hc *http.Client, req *http.Request) (resp *http.Response, reached bool, err error) {
	var got atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { got.Store(true) }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err = hc.Do(req)
	return resp, got.Load() || err == nil, err
}

// ReadBody reads an answer into one buffer sized from its Content-Length,
// so that a typical answer costs one allocation. The header only sizes
// the buffer up to limit: a peer announcing more gets nothing beyond the
// cap, and a body longer than announced is still read, and capped with
// [ErrTooLarge].
func ReadBody(resp *http.Response, limit int64) ([]byte, error) {
	n := resp.ContentLength
	if n < 0 || n > limit {
		return ReadAll(resp.Body, limit)
	}
	// One byte more than announced, so that a body matching its header
	// reaches EOF without growing the buffer.
	buf := make([]byte, 0, n+1)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return nil, ErrTooLarge
			}
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if int64(len(buf)) > limit {
			return nil, ErrTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// NeverSent reports whether err proves that a request never reached the
// server, so that sending it elsewhere (a failover to the backup domain)
// cannot make it take effect twice: the name did not resolve (even by
// timing out), the TCP connection was not established (refused,
// unreachable, or a connect that timed out because the host is down and
// drops SYNs), or the TLS handshake failed, including a plain-HTTP answer
// on the HTTPS port (a handshake completes before any request byte is
// written). Anything else — a timeout after connecting, an HTTP status, a
// FAIL answer — may have reached WeChat and is never retried.
//
// The types are checked before any timeout: a dial that timed out also
// matches context.DeadlineExceeded, and asking that first would keep the
// client on a dead primary, the very case failover exists for. The
// caller's own cancellation or deadline is excluded by the caller, which
// fails over only while its context is live.
func NeverSent(err error) bool {
	if err == nil {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	if errors.Is(err, http.ErrSchemeMismatch) {
		return true
	}
	var (
		recErr   tls.RecordHeaderError
		verifErr *tls.CertificateVerificationError
		authErr  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		certErr  x509.CertificateInvalidError
	)
	// A record header error proves nothing once the handshake is done (a
	// middlebox can corrupt a record after the request went out); crypto/tls
	// sets Conn only for a first record that is not TLS at all.
	if errors.As(err, &recErr) && recErr.Conn != nil {
		return true
	}
	if errors.As(err, &verifErr) || errors.As(err, &authErr) ||
		errors.As(err, &hostErr) || errors.As(err, &certErr) {
		return true
	}
	// tls.AlertError is deliberately absent: under TLS 1.3 the server's
	// rejection of a client certificate arrives after the client has
	// finished its handshake and may already have written the request.
	//
	// net/http reports a handshake that timed out with an unexported
	// type; its text is the only handle.
	return strings.HasSuffix(err.Error(), "net/http: TLS handshake timeout")
}
