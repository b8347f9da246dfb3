package wire

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckBaseURL(t *testing.T) {
	t.Parallel()
	ok := []struct{ in, want string }{
		{"https://api.mch.weixin.qq.com", "https://api.mch.weixin.qq.com"},
		{"https://api.mch.weixin.qq.com/", "https://api.mch.weixin.qq.com"},
		{"http://127.0.0.1:8080/wechat//", "http://127.0.0.1:8080/wechat"},
		{"HTTPS://Example.com/p", "HTTPS://Example.com/p"}, // url.Parse lower-cases the scheme
	}
	for _, tc := range ok {
		got, err := CheckBaseURL(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	const secret = "pw0123456789abcdefSECRET"
	bad := []struct{ in, why string }{
		{"", "http or https"},
		{"api.mch.weixin.qq.com", "http or https"},
		{"/relative/path", "http or https"},
		{"ftp://example.com", "http or https"},
		{"https://", "host"},
		{"https:///path", "host"},
		{"https://user:" + secret + "@example.com", "user info"},
		{"https://example.com/?secret=" + secret, "query"},
		{"https://example.com/?", "query"},
		{"https://example.com/#" + secret, "fragment"},
		{"https://example.com/#", "fragment"},
		{"https://exa mple.com/" + secret, "not a valid URL"},
		{"https://example.com/%zz" + secret, "not a valid URL"},
	}
	for _, tc := range bad {
		got, err := CheckBaseURL(tc.in)
		require.Error(t, err, tc.in)
		assert.Empty(t, got)
		assert.Contains(t, err.Error(), tc.why, tc.in)
		assert.NotContains(t, err.Error(), secret, "error text must not carry the URL's secrets")
		assert.True(t, strings.HasPrefix(err.Error(), "base URL "), "callers add their own prefix: %q", err)
	}
}

// refUnpad is a plain PKCS#7 check written for clarity, not constant time.
func refUnpad(b []byte, bs int) (int, bool) {
	if bs < 1 || bs > 255 || len(b) == 0 || len(b)%bs != 0 {
		return len(b), false
	}
	p := int(b[len(b)-1])
	if p == 0 || p > bs {
		return len(b), false
	}
	for _, c := range b[len(b)-p:] {
		if int(c) != p {
			return len(b), false
		}
	}
	return len(b) - p, true
}

func TestUnpadPKCS7(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte{'a'}, 16)
	block := func(prefix []byte, tail ...byte) []byte {
		return append(append([]byte(nil), prefix...), tail...)
	}
	tests := []struct {
		name  string
		b     []byte
		bs    int
		wantN int
		ok    bool
	}{
		{"pad 1", block(data[:15], 1), 16, 15, true},
		{"pad 2", block(data[:14], 2, 2), 16, 14, true},
		{"full block of 16", append(data, bytes.Repeat([]byte{16}, 16)...), 16, 16, true},
		{"two blocks pad 3", block(append(data, data[:13]...), 3, 3, 3), 16, 29, true},
		{"pad 0", block(data[:15], 0), 16, 16, false},
		{"sixteen 0x11", bytes.Repeat([]byte{0x11}, 16), 16, 16, false},
		{"sixteen 0xFF", bytes.Repeat([]byte{0xFF}, 16), 16, 16, false},
		{"pad 17 after a block", append(data, bytes.Repeat([]byte{17}, 16)...), 16, 32, false},
		{"first pad byte differs", block(data[:13], 2, 3, 3), 16, 16, false},
		{"middle pad byte differs", block(data[:12], 4, 4, 5, 4), 16, 16, false},
		{"pad 16 with one bad byte", block([]byte{15}, bytes.Repeat([]byte{16}, 15)...), 16, 16, false},
		{"not a multiple", data[:15], 16, 15, false},
		{"empty", nil, 16, 0, false},
		{"block size 0", data, 0, 16, false},
		{"block size 256", make([]byte, 256), 256, 256, false},
		{"block size 8", block(data[:5], 3, 3, 3), 8, 5, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := UnpadPKCS7(tc.b, tc.bs)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.wantN, n)
			rn, rok := refUnpad(tc.b, tc.bs)
			assert.Equal(t, rok, ok, "reference disagrees")
			assert.Equal(t, rn, n, "reference disagrees")
		})
	}
}

func FuzzUnpadPKCS7(f *testing.F) {
	f.Add([]byte("0123456789abcde\x01"), 16)
	f.Add(bytes.Repeat([]byte{0x10}, 32), 16)
	f.Add(bytes.Repeat([]byte{0x11}, 16), 16)
	f.Add(bytes.Repeat([]byte{0xFF}, 16), 16)
	f.Add([]byte("0123456789ab\x04\x04\x05\x04"), 16)
	f.Add([]byte("abc\x01"), 4)
	f.Fuzz(func(t *testing.T, b []byte, bs int) {
		n, ok := UnpadPKCS7(b, bs)
		rn, rok := refUnpad(b, bs)
		if n != rn || ok != rok {
			t.Fatalf("UnpadPKCS7(%x, %d) = %d, %v; reference %d, %v", b, bs, n, ok, rn, rok)
		}
	})
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"hello", 5, "hello"},
		{"hello", 10, "hello"},
		{"hello", 3, "hel…"},
		{"hello", 0, "…"},
		{"hello", -1, "…"},
		{"", 0, ""},
		{"日本語", 4, "日…"}, // never splits the 3-byte 本
		{"日本語", 6, "日本…"},
		{"日本語", 9, "日本語"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, Truncate(tc.s, tc.n), "Truncate(%q, %d)", tc.s, tc.n)
	}
}

func TestQuoteShort(t *testing.T) {
	t.Parallel()
	assert.Equal(t, `"MD5"`, QuoteShort("MD5"))
	long := strings.Repeat("x", 100)
	assert.Equal(t, `"`+strings.Repeat("x", QuoteShortLen)+`…"`, QuoteShort(long))
	// A value cannot break the log line or smuggle invalid UTF-8.
	assert.Equal(t, `"a\nb\x00c\xff"`, QuoteShort("a\nb\x00c\xff"))
	assert.NotContains(t, QuoteShort("evil\r\nINFO forged line"), "\n")
}

// TestRedactURLShortValuesDoNotGarble shows that a value too short to be a
// real secret is redacted where it sits in a URL, and nowhere else.
func TestRedactURLShortValuesDoNotGarble(t *testing.T) {
	t.Parallel()
	const u = "https://api.weixin.qq.com/sns/jscode2session?appid=wx1&secret=s&js_code=o&grant_type=authorization_code"
	cause := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	got := RedactURL(&url.Error{Op: "Get", URL: u, Err: cause})
	assert.Equal(t,
		`Get "https://api.weixin.qq.com/sns/jscode2session?appid=wx1&secret=REDACTED&js_code=REDACTED&grant_type=authorization_code": dial tcp: connect: connection refused`,
		got.Error())
	var oe *net.OpError
	assert.ErrorAs(t, got, &oe)

	// A cause that repeats the URL gets the same parameter redaction.
	echo := &url.Error{Op: "Get", URL: u, Err: fmt.Errorf("proxy refused %s (code=o kept: not a parameter)", u)}
	assert.Equal(t,
		`Get "https://api.weixin.qq.com/sns/jscode2session?appid=wx1&secret=REDACTED&js_code=REDACTED&grant_type=authorization_code": `+
			`proxy refused https://api.weixin.qq.com/sns/jscode2session?appid=wx1&secret=REDACTED&js_code=REDACTED&grant_type=authorization_code (code=o kept: not a parameter)`,
		RedactURL(echo).Error())
}

func TestRedactURLLongSecretsAnywhere(t *testing.T) {
	t.Parallel()
	const tok = "84_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
	u := "https://h/wxa/business/getuserphonenumber?access_token=" + tok
	// The cause names the token outside any URL (a RoundTripper's own
	// words); a long value is replaced wherever it appears.
	err := RedactURL(&url.Error{Op: "Post", URL: u, Err: fmt.Errorf("token %s refused by proxy: %w", tok, context.Canceled)})
	assert.NotContains(t, err.Error(), tok)
	assert.Contains(t, err.Error(), "access_token=REDACTED")
	assert.Contains(t, err.Error(), "refused by proxy")
	assert.ErrorIs(t, err, context.Canceled)

	// Percent-encoded values are caught in their raw form too.
	const enc = "a%2Bb%2Fc0123456789abcdef"
	err = RedactURL(&url.Error{Op: "Get", URL: "https://h/x?secret=" + enc, Err: errors.New("saw " + enc + " and a+b/c0123456789abcdef")})
	assert.NotContains(t, err.Error(), enc)
	assert.NotContains(t, err.Error(), "a+b/c0123456789abcdef")
}

func TestRedactParams(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"no params", "no params"},
		{"?code=x", "?code=REDACTED"},
		{"&code=x&y=1", "&code=REDACTED&y=1"},
		{"?js_code=abc#frag", "?js_code=REDACTED#frag"},
		{`"?access_token=t t"`, `"?access_token=REDACTED t"`},
		{"?code=", "?code=REDACTED"},
		{"?codex=1&xcode=2", "?codex=1&xcode=2"},
		{"code=1 is not a parameter", "code=1 is not a parameter"},
		{"?secret=a\nnext", "?secret=REDACTED\nnext"},
		{"&&?&secret=z", "&&?&secret=REDACTED"},
		{"trailing ?", "trailing ?"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, redactParams(tc.in), "redactParams(%q)", tc.in)
	}
}

func TestNewHTTPClientTransport(t *testing.T) {
	t.Parallel()
	a, b := NewHTTPClient(), NewHTTPClient()
	require.NotSame(t, a, b, "each caller gets its own client")
	require.Same(t, a.Transport, b.Transport, "one transport, one connection pool")
	tr, ok := a.Transport.(*http.Transport)
	require.True(t, ok)
	assert.Equal(t, DefaultTimeout, a.Timeout)
	assert.ErrorIs(t, a.CheckRedirect(nil, nil), http.ErrUseLastResponse)
	assert.Less(t, ConnectTimeout, DefaultTimeout/2, "failover needs time for a second attempt")
	assert.Less(t, ConnectTimeout+TLSHandshakeTimeout, DefaultTimeout)
	assert.Equal(t, TLSHandshakeTimeout, tr.TLSHandshakeTimeout)
	assert.Equal(t, MaxIdleConnsPerHost, tr.MaxIdleConnsPerHost)
	assert.GreaterOrEqual(t, tr.MaxIdleConns, MaxIdleConnsPerHost)
	assert.NotNil(t, tr.Proxy, "HTTPS_PROXY is honoured like http.DefaultTransport")
	assert.True(t, tr.ForceAttemptHTTP2)
	require.NotNil(t, tr.TLSClientConfig)
	assert.False(t, tr.TLSClientConfig.InsecureSkipVerify)
	assert.Equal(t, uint16(tls.VersionTLS12), tr.TLSClientConfig.MinVersion)
	assert.NotSame(t, http.DefaultTransport, tr, "http.DefaultTransport is left alone")
}

// TestNewHTTPClientVerifiesTLS: a server whose certificate no system root
// signed is refused.
func TestNewHTTPClientVerifiesTLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("request reached a server with an untrusted certificate")
	}))
	defer srv.Close()
	_, err := NewHTTPClient().Get(srv.URL)
	require.Error(t, err)
	var ce *tls.CertificateVerificationError
	assert.ErrorAs(t, err, &ce)
}

// TestNewHTTPClientHandshakeTimeout: a host that accepts the connection
// but never answers the TLS handshake is given up on after
// TLSHandshakeTimeout, well before the overall timeout, so a failover has
// time left to run.
func TestNewHTTPClientHandshakeTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	start := time.Now()
	_, err = NewHTTPClient().Get("https://" + ln.Addr().String() + "/")
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TLS handshake timeout")
	assert.Less(t, elapsed, DefaultTimeout-2*time.Second, "the handshake timeout, not the overall one, ended the call")
}

// TestNewHTTPClientReusesConnections: concurrent callers get pooled
// connections back instead of opening new ones (net/http's default of two
// idle connections per host would open about 14 more per round here).
func TestNewHTTPClientReusesConnections(t *testing.T) {
	t.Parallel()
	var opened atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	const callers, rounds = 16, 5
	hc := NewHTTPClient()
	for range rounds {
		var wg sync.WaitGroup
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := hc.Get(srv.URL)
				if !assert.NoError(t, err) {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
		}
		wg.Wait()
	}
	assert.LessOrEqual(t, opened.Load(), int32(callers+callers/4),
		"%d connections for %d rounds of %d concurrent calls", opened.Load(), rounds, callers)
}
