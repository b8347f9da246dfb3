package wxpaytest

import (
	"net/http"
	"net/http/httptest"
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
func NewTLSServer(cfg Config) *Server {
	return newServer(cfg, httptest.NewTLSServer)
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
// TLS server's certificate. Pass it to wxpay.WithHTTPClient and
// miniprogram.WithHTTPClient.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close stops notification retries (see [Fake.Close]), then shuts the
// server down, blocking until its requests have finished.
func (s *Server) Close() {
	s.Fake.Close()
	s.ts.Close()
}
