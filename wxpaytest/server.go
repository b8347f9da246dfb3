package wxpaytest

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"

	"github.com/wxpay-go/wxpay"
)

// Server is a [Fake] listening on a loopback address, as
// [httptest.Server] is for an [http.Handler].
type Server struct {
	*Fake
	// URL is the base URL of the server, such as http://127.0.0.1:1234,
	// with no trailing slash. Give it to wxpay.WithBaseURL and
	// miniprogram.WithBaseURL.
	URL string

	ts *httptest.Server
}

// NewServer starts a Server for cfg and returns it. Like
// [httptest.NewServer] it panics if it cannot start, and here also if cfg
// is invalid (see [New]): both are mistakes in the test itself. The caller
// should Close it.
func NewServer(cfg Config) *Server {
	return newServer(cfg, httptest.NewServer)
}

// NewTLSServer is [NewServer] over HTTPS, with httptest's certificate:
// use [Server.Client], or a client trusting that certificate.
//
// It asks every client for a certificate and, like WeChat, requires the
// merchant's on the certificate endpoints (refund, reverse,
// downloadfundflow): pass [Fake.ClientCertificate]'s pair to
// wxpay.WithClientCertificate. Those endpoints refuse a request the way
// WeChat's gateway does, after the TLS handshake: without a certificate,
// or with one the fake did not issue (or expired), an HTTP 400 HTML page
// from "nginx" ("400 No required SSL certificate was sent", "400 The SSL
// certificate error"); with the fake's certificate of another mch_id
// ([Fake.OtherMerchantCertificate]), return_code FAIL "certificate not
// match". The other endpoints ignore client certificates.
func NewTLSServer(cfg Config) *Server {
	return newServer(cfg, func(h http.Handler) *httptest.Server {
		ts := httptest.NewUnstartedServer(h)
		// Verified by the handler (Fake.checkClientCert), so that a bad
		// certificate gets WeChat's answer rather than a TLS alert.
		ts.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
		ts.StartTLS()
		return ts
	})
}

func newServer(cfg Config, start func(http.Handler) *httptest.Server) *Server {
	f, err := New(cfg)
	if err != nil {
		panic(err)
	}
	ts := start(f)
	return &Server{Fake: f, URL: ts.URL, ts: ts}
}

// Client returns an HTTP client configured for the server: it trusts the
// TLS server's certificate, and presents none of its own. Pass it to
// wxpay.WithHTTPClient and miniprogram.WithHTTPClient; the library adds
// the client certificate of wxpay.WithClientCertificate to a copy of its
// transport for the certificate endpoints.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// ClientOption is the one wxpay.Option that connects a wxpay.Client to
// the server, as the merchant's client connects to WeChat: the server's
// URL as base URL, an HTTP client trusting its TLS certificate (for
// [NewTLSServer]), and the merchant's API certificate
// ([Fake.ClientCertificate]) for the certificate endpoints. Give it to
// wxpay.NewClient with the merchant's wxpay.Config:
//
//	wx := wxpaytest.NewTLSServer(cfg)
//	pay, err := wxpay.NewClient(merchant, wx.ClientOption())
//
// Options given after it override its parts (another HTTP client, say).
// Like [NewServer] it panics if it cannot work, here if the certificate
// cannot be minted (crypto/rand failed): a broken test machine, not a
// test's input.
func (s *Server) ClientOption() wxpay.Option {
	certPEM, keyPEM, err := s.ClientCertificate()
	if err != nil {
		panic("wxpaytest: ClientOption: " + err.Error())
	}
	return wxpay.WithOptions(wxpay.WithBaseURL(s.URL), wxpay.WithHTTPClient(s.Client()), wxpay.WithClientCertificate(certPEM, keyPEM))
}

// Close stops notification retries (see [Fake.Close]), then shuts the
// server down, blocking until its requests have finished.
func (s *Server) Close() {
	s.Fake.Close()
	s.ts.Close()
}
