// Package wire holds the plumbing shared by wxpay and its subpackages
// (apiv3, miniprogram, wxpaytest, the CLI), each piece once: bounded body
// reads, the default HTTP client and its transport, base-URL checks,
// failover rules (send.go), the client options of both generations
// (options.go), the notification-handler skeleton (notify.go), certificate
// and key loading (cert.go), error texts built once (errtext.go), random
// strings and nonces (rand.go, nonce.go), the v2 field-name rule
// (name.go), the character rules of identifiers and decimal numbers
// (chars.go), loopback checks (loopback.go), redaction (redact.go and
// RedactURL), the refusal-log limiter and sealed secrets (limit.go),
// constant-time PKCS#7 unpadding, the truncation of caller input in
// error text and the one-line form of remote text (OneLine). It is internal so that the public surface stays small; each
// public package maps these results onto its own typed errors.
package wire

import (
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultTimeout bounds a whole request made with [NewHTTPClient]. WeChat
// answers within a few seconds; a client with no timeout at all (like
// http.DefaultClient) would let a stuck connection hold a goroutine forever.
const DefaultTimeout = 10 * time.Second

// ConnectTimeout bounds DNS resolution plus the TCP connect of the default
// transport. It is well under [DefaultTimeout] so that a primary host that
// drops packets (a data centre that is down) fails fast enough for a
// failover to the backup host to run, and finish, within the overall
// timeout.
const ConnectTimeout = 3 * time.Second

// TLSHandshakeTimeout bounds the TLS handshake of the default transport,
// for the same reason as [ConnectTimeout]: a host that accepts the
// connection but never completes the handshake must not use up the whole
// request budget.
const TLSHandshakeTimeout = 3 * time.Second

// MaxIdleConnsPerHost is how many idle keep-alive connections the default
// transport keeps per host. net/http's default of 2 makes concurrent
// callers open (and TLS-handshake) a new connection for a share of their
// calls; every caller of one SDK talks to the same one or two hosts.
const MaxIdleConnsPerHost = 64

// sharedTransport is built once and used by every client from
// [NewHTTPClient], so that all of them share one connection pool.
var sharedTransport = sync.OnceValue(newTransport)

// newTransport has http.DefaultTransport's settings (proxy from the
// environment, keep-alives, HTTP/2) with the shorter connect and handshake
// timeouts and the larger idle pool above. It is built from scratch rather
// than cloned from http.DefaultTransport, which is a variable any program
// may replace.
func newTransport() *http.Transport {
	d := &net.Dialer{Timeout: ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   TLSHandshakeTimeout,
		ExpectContinueTimeout: 1 * time.Second,
		// Verification stays on (system roots); WeChat's hosts all speak
		// TLS 1.2 or later.
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12},
	}
}

// NewHTTPClient returns the client used when the caller supplies none:
// [DefaultTimeout] overall, a transport shared by every client it returns
// (see [ConnectTimeout], [TLSHandshakeTimeout], [MaxIdleConnsPerHost]; TLS
// verification on, TLS 1.2 or later), and no redirects. WeChat's APIs never
// redirect; following one would re-send a request body (which can hold an
// app secret) to wherever the redirect points. A 3xx answer is returned to
// the caller as it is. Each call returns a new *http.Client, so a caller
// may change its fields without affecting others; its Transport is the
// shared one and must never be modified: Clone it to derive another (for
// example one presenting a client certificate).
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: sharedTransport(), Timeout: DefaultTimeout, CheckRedirect: NoRedirect}
}

// NoRedirect is an http.Client CheckRedirect function that stops at the
// first redirect and returns it as the response.
func NoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// CheckBaseURL validates a base URL that API paths are appended to and
// returns it with trailing slashes removed. It must be absolute http or
// https with a host, and carry no user info, query or fragment (a path
// prefix is fine). The error names the rule that failed and shows the URL
// only as scheme, host and path, so a password or query parameter the
// caller put there never reaches a log. The error has no package prefix;
// callers add their own.
func CheckBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the whole input, secrets included.
		return "", errors.New("base URL is not a valid URL")
	}
	var why string
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		why = "must be absolute http or https"
	case u.Host == "":
		why = "must have a host"
	case u.User != nil:
		why = "must not carry user info"
	case u.RawQuery != "" || u.ForceQuery:
		why = "must not have a query"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		why = "must not have a fragment"
	}
	if why != "" {
		safe := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
		return "", errors.New("base URL " + QuoteShort(safe.String()) + " " + why)
	}
	return strings.TrimRight(raw, "/"), nil
}

// UnpadPKCS7 checks the PKCS#7 padding of b and returns the length of the
// data before it. b's length must be a positive multiple of blockSize
// (1..255); the last byte p must be in 1..blockSize and the last p bytes
// must all equal p.
//
// The check reads the whole final block whatever p is and has no branch on
// its bytes, so its timing does not reveal where the padding went wrong.
// When ok is false n is len(b): a caller that wants one code path for every
// failure (to avoid a padding oracle) can go on with b[:n] and decide at
// the end. Lengths are public, so a bad length returns early.
func UnpadPKCS7(b []byte, blockSize int) (n int, ok bool) {
	if blockSize < 1 || blockSize > 255 || len(b) == 0 || len(b)%blockSize != 0 {
		return len(b), false
	}
	last := b[len(b)-blockSize:]
	p := int(last[blockSize-1])
	good := subtle.ConstantTimeLessOrEq(1, p) & subtle.ConstantTimeLessOrEq(p, blockSize)
	for i := 0; i < blockSize; i++ {
		// Byte i of the final block is padding iff blockSize-i <= p
		// (written so that both operands are non-negative, as
		// ConstantTimeLessOrEq requires).
		inPad := subtle.ConstantTimeLessOrEq(blockSize-i, p)
		eq := subtle.ConstantTimeByteEq(last[i], byte(p))
		// Outside the padding anything goes; inside it must equal p.
		good &= eq | (inPad ^ 1)
	}
	return subtle.ConstantTimeSelect(good, len(b)-p, len(b)), good == 1
}

// Truncate shortens s to at most n bytes, without splitting a UTF-8
// sequence, and marks a cut with "…". Text shorter than n is returned as
// it is. It bounds caller- or peer-supplied text in error messages.
func Truncate(s string, n int) string {
	if n < 0 {
		n = 0
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// QuoteShortLen is how many bytes of a value [QuoteShort] keeps.
const QuoteShortLen = 32

// QuoteShort quotes a caller-supplied value for an error message: cut by
// [Truncate] to [QuoteShortLen] bytes and quoted with strconv.Quote, so
// control characters, invalid UTF-8 and line breaks cannot forge or split
// a log line.
func QuoteShort(s string) string { return strconv.Quote(Truncate(s, QuoteShortLen)) }

// ErrTooLarge reports a body longer than the limit given to [ReadAll].
var ErrTooLarge = errors.New("body exceeds limit")

// ReadAll reads r up to limit bytes. A body longer than limit yields
// ErrTooLarge after reading at most limit+1 bytes, so a hostile peer can
// never make us buffer more than that.
func ReadAll(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, ErrTooLarge
	}
	return b, nil
}

// Redacted is what the module shows in place of a secret: in error text,
// and in the printed, logged and JSON forms of values that hold one (see
// [FormatRedacted]). miniprogram shows "[redacted]" instead, as it always
// has.
const Redacted = "REDACTED"

// RedactURL removes secrets from a URL error so that they never reach an
// error string or a log line (code2session sends the app secret as a query
// parameter). In the URL the user info and fragment are dropped and the
// values of the secret parameters (secret, js_code, code, access_token)
// are replaced; other parameters stay readable. A custom RoundTripper may
// repeat the URL inside the cause, so the cause's text gets the same
// parameter redaction, and any secret value of at least [MinScrubLen]
// bytes is replaced wherever it appears. Shorter values are not searched
// for as plain substrings: WeChat issues none that short, and replacing
// them would garble unrelated text (a one-letter js_code would turn
// "connection refused" into nonsense).
//
// The cause itself is kept for errors.Is and errors.As
// (context.DeadlineExceeded still matches) and Timeout answers like it.
// Errors of other types are returned unchanged.
func RedactURL(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return &url.Error{Op: ue.Op, URL: redact(ue.URL), Err: scrub(ue.Err, secretsOf(ue.URL))}
}

// MinScrubLen is the shortest secret value [RedactURL] replaces as a plain
// substring. WeChat's secrets are far longer (an AppSecret has 32
// characters, a login code 32, a phone code 64, an access token over 100).
const MinScrubLen = 16

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable url]"
	}
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	u.RawQuery = redactQuery(u.RawQuery)
	return u.String()
}

// secretKeys are the query parameters of WeChat's APIs that carry secrets:
// the app secret, single-use login and phone codes, access tokens.
var secretKeys = [...]string{"secret", "js_code", "code", "access_token"}

func isSecretKey(k string) bool {
	for _, sk := range secretKeys {
		if k == sk {
			return true
		}
	}
	return false
}

// redactQuery replaces the values of secret parameters in a raw query.
func redactQuery(q string) string {
	if q == "" {
		return ""
	}
	parts := strings.Split(q, "&")
	for i, kv := range parts {
		if k, _, ok := strings.Cut(kv, "="); ok && isSecretKey(k) {
			parts[i] = k + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}

// redactParams replaces, in free text, the value of every secret parameter
// written as a query parameter: "?k=v" or "&k=v" with k a secret key. The
// value ends at '&', '#', a quote, an angle bracket, a backquote, a space
// or a control character, which is where a URL ends in the texts net/http
// and its RoundTrippers write.
func redactParams(text string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(text); i++ {
		if text[i] != '?' && text[i] != '&' {
			continue
		}
		k := paramKeyAt(text[i+1:])
		if k == "" {
			continue
		}
		start := i + 1 + len(k) + 1
		end := start
		for end < len(text) && !endsParam(text[end]) {
			end++
		}
		b.WriteString(text[last:start])
		b.WriteString(Redacted)
		last = end
		i = end - 1
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// paramKeyAt returns the secret key that s starts with, followed by '=',
// or "".
func paramKeyAt(s string) string {
	for _, k := range secretKeys {
		if len(s) > len(k) && s[len(k)] == '=' && s[:len(k)] == k {
			return k
		}
	}
	return ""
}

func endsParam(c byte) bool {
	switch c {
	case '&', '#', '"', '\'', '<', '>', '`', ' ':
		return true
	}
	return c < 0x20 || c == 0x7f
}

// secretsOf lists the secret strings of a URL, raw and decoded: the values
// of secretKeys and the password.
func secretsOf(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var s []string
	q := u.Query()
	for _, k := range secretKeys {
		s = append(s, q[k]...)
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		if k, v, _ := strings.Cut(kv, "="); isSecretKey(k) {
			s = append(s, v)
		}
	}
	if pw, ok := u.User.Password(); ok {
		s = append(s, pw)
	}
	return s
}

// scrubbedError carries a cause whose text had secrets removed. It keeps
// the cause for errors.Is and errors.As, and answers Timeout like it, since
// url.Error.Timeout asks its direct cause only.
type scrubbedError struct {
	text string
	err  error
}

func (e *scrubbedError) Error() string { return e.text }
func (e *scrubbedError) Unwrap() error { return e.err }

// Timeout reports whether the cause is a timeout.
func (e *scrubbedError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.err, &t) && t.Timeout()
}

// scrub returns err with secret parameters redacted from its text and
// every secret of at least MinScrubLen bytes replaced.
func scrub(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	orig := err.Error()
	text := redactParams(orig)
	for _, s := range secrets {
		if len(s) >= MinScrubLen {
			text = strings.ReplaceAll(text, s, Redacted)
		}
	}
	if text == orig {
		return err
	}
	return &scrubbedError{text: text, err: err}
}

// ErrInsecureTLS reports an HTTP client whose transport skips the
// server's certificate check. WeChat's signatures protect what an answer
// says, but not the confidentiality of what is sent (openids, amounts, an
// app secret) nor the client certificate's use, so such a client is
// refused rather than trusted.
var ErrInsecureTLS = errors.New("the HTTP client's transport has TLS verification turned off (InsecureSkipVerify); keep it on and trust a test server's certificate instead (httptest.Server.Client does)")

// CheckTLS refuses an http.Client whose transport, as far as it can be
// inspected (an *http.Transport, or http.DefaultTransport when Transport
// is nil), has InsecureSkipVerify set. A custom RoundTripper cannot be
// inspected and is the caller's responsibility.
func CheckTLS(hc *http.Client) error {
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	if t, ok := rt.(*http.Transport); ok && t.TLSClientConfig != nil && t.TLSClientConfig.InsecureSkipVerify {
		return ErrInsecureTLS
	}
	return nil
}
