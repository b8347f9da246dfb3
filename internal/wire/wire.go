// Package wire holds the HTTP plumbing shared by wxpay and its subpackages:
// bounded body reads, the default HTTP client and the scrubbing of secrets
// from transport errors. It is internal so that the public surface stays
// small; each public package maps these results onto its own typed errors.
package wire

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds a whole request made with [NewHTTPClient]. WeChat
// answers within a few seconds; a client with no timeout at all (like
// http.DefaultClient) would let a stuck connection hold a goroutine forever.
const DefaultTimeout = 10 * time.Second

// NewHTTPClient returns the client used when the caller supplies none: the
// default transport (system roots, TLS verification on), [DefaultTimeout],
// and no redirects. WeChat's APIs never redirect; following one would
// re-send a request body (which can hold an app secret) to wherever the
// redirect points. A 3xx answer is returned to the caller as it is.
func NewHTTPClient() *http.Client {
	return &http.Client{Timeout: DefaultTimeout, CheckRedirect: NoRedirect}
}

// NoRedirect is an http.Client CheckRedirect function that stops at the
// first redirect and returns it as the response.
func NoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

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

// RedactURL strips the query string and any user info from a URL error so
// that secrets carried there (code2session sends the app secret as a query
// parameter) never reach an error string or a log line. A custom
// RoundTripper may repeat the URL inside the cause, so the cause's text is
// scrubbed of every query value and password too. The cause itself is
// kept for errors.Is and errors.As (context.DeadlineExceeded still
// matches). Errors of other types are returned unchanged.
func RedactURL(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return &url.Error{Op: ue.Op, URL: redact(ue.URL), Err: scrub(ue.Err, secretsOf(ue.URL))}
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable url]"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	u.Fragment = ""
	return u.String()
}

// secretKeys are the query parameters of WeChat's APIs that carry secrets:
// the app secret, single-use login and phone codes, access tokens.
var secretKeys = [...]string{"secret", "js_code", "code", "access_token"}

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
		k, v, _ := strings.Cut(kv, "=")
		for _, sk := range secretKeys {
			if k == sk {
				s = append(s, v)
			}
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

// scrub returns err with every non-empty secret replaced in its text.
func scrub(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	changed := false
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			text = strings.ReplaceAll(text, s, "REDACTED")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &scrubbedError{text: text, err: err}
}
