package miniprogram

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewClientValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		appID  string
		secret string
		opts   []Option
	}{
		{name: "empty app id", appID: "", secret: testSecret},
		{name: "empty secret", appID: testAppID, secret: ""},
		{name: "short secret", appID: testAppID, secret: "s3cr3t"},
		{name: "secret one too long", appID: testAppID, secret: testSecret + "0"},
		{name: "secret one too short", appID: testAppID, secret: testSecret[1:]},
		{name: "secret with trailing newline", appID: testAppID, secret: testSecret[1:] + "\n"},
		{name: "secret with a space", appID: testAppID, secret: " " + testSecret[1:]},
		{name: "secret with non-ASCII", appID: testAppID, secret: "é" + testSecret[2:]},
		{name: "nil http client", appID: testAppID, secret: testSecret, opts: []Option{WithHTTPClient(nil)}},
		{name: "nil clock", appID: testAppID, secret: testSecret, opts: []Option{WithClock(nil)}},
		{name: "nil option", appID: testAppID, secret: testSecret, opts: []Option{nil}},
		{name: "relative base url", appID: testAppID, secret: testSecret, opts: []Option{WithBaseURL("/api")}},
		{name: "ftp base url", appID: testAppID, secret: testSecret, opts: []Option{WithBaseURL("ftp://example.com")}},
		{name: "base url with query", appID: testAppID, secret: testSecret, opts: []Option{WithBaseURL("https://example.com/?a=b")}},
		{name: "base url with fragment", appID: testAppID, secret: testSecret, opts: []Option{WithBaseURL("https://example.com/#x")}},
		{name: "base url with user", appID: testAppID, secret: testSecret, opts: []Option{WithBaseURL("https://u:p@example.com/")}},
		{name: "unparseable base url", appID: testAppID, secret: testSecret, opts: []Option{WithBaseURL("http://[::1")}},
		{name: "unknown token endpoint", appID: testAppID, secret: testSecret, opts: []Option{WithTokenEndpoint("sometimes")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewClient(tt.appID, tt.secret, tt.opts...)
			require.ErrorIs(t, err, ErrBadInput)
			assert.Nil(t, c)
			assert.NotContains(t, err.Error(), testSecret)
		})
	}
}

func TestNewClientDefaults(t *testing.T) {
	t.Parallel()
	c, err := NewClient(testAppID, testSecret)
	require.NoError(t, err)
	assert.Equal(t, DefaultBaseURL, c.baseURL)
	assert.Equal(t, TokenStable, c.st.tokens.endpoint)
	require.NotNil(t, c.hc)
	assert.Positive(t, c.hc.Timeout, "default client must have a timeout")
	assert.NotNil(t, c.hc.CheckRedirect, "default client must not follow redirects")
	assert.Equal(t, testAppID, c.AppID())
}

func TestWithBaseURLNormalises(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://api.weixin.qq.com":       "https://api.weixin.qq.com",
		"https://api.weixin.qq.com/":      "https://api.weixin.qq.com",
		"http://127.0.0.1:8080/wechat/":   "http://127.0.0.1:8080/wechat",
		"http://127.0.0.1:8080/a/b":       "http://127.0.0.1:8080/a/b",
		"https://proxy.example.com/wx///": "https://proxy.example.com/wx",
	} {
		c, err := NewClient(testAppID, testSecret, WithBaseURL(in))
		require.NoError(t, err, in)
		assert.Equal(t, want, c.baseURL, in)
	}
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWithHTTPClientUsesCopyWithoutMutating(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeRaw(w, http.StatusOK, "application/json", `{"openid":"o","session_key":"k"}`)
	}))
	t.Cleanup(srv.Close)

	var used int
	base := srv.Client().Transport
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used++
		return base.RoundTrip(r)
	})
	hc := &http.Client{Transport: rt, Timeout: 3 * time.Second}
	c, err := NewClient(testAppID, testSecret, WithHTTPClient(hc), WithBaseURL(srv.URL))
	require.NoError(t, err)
	assert.NotSame(t, hc, c.hc, "client must keep its own copy")

	_, err = c.Code2Session(context.Background(), "code")
	require.NoError(t, err)
	assert.Equal(t, 1, used, "requests must go through the caller's transport")
	assert.Equal(t, 3*time.Second, hc.Timeout)
	assert.Nil(t, hc.Jar)
	assert.Nil(t, hc.CheckRedirect, "the caller's client is not modified")
	assert.NotNil(t, c.hc.CheckRedirect, "the copy never follows redirects")
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"errcode", &Error{Op: "code2session", StatusCode: 200, Code: 40029, Message: "invalid code"}, "miniprogram: code2session: errcode 40029: invalid code"},
		{"errcode without message", &Error{Op: "token", StatusCode: 200, Code: -1}, "miniprogram: token: errcode -1"},
		{"status", &Error{Op: "code2session", StatusCode: 502}, "miniprogram: code2session: http status 502"},
		{"status and errcode", &Error{Op: "code2session", StatusCode: 500, Code: -1, Message: "system error"}, "miniprogram: code2session: http status 500: errcode -1: system error"},
		{"malformed", &Error{Op: "stable_token", StatusCode: 200, Err: errors.New("invalid response: missing access_token")}, "miniprogram: stable_token: invalid response: missing access_token"},
		{"newlines in errmsg", &Error{Op: "token", StatusCode: 200, Code: -1, Message: "busy\nlevel=ERROR msg=forged\r\n"}, "miniprogram: token: errcode -1: busy level=ERROR msg=forged  "},
		{"control chars", &Error{Op: "token", StatusCode: 200, Code: -1, Message: "a\x00b\x1bc\x7fd\u0085e\tf"}, "miniprogram: token: errcode -1: a b c d e f"},
		{"separators and bidi", &Error{Op: "token", StatusCode: 200, Code: -1, Message: "a\u2028b\u2029c\u202ed\u2066e"}, "miniprogram: token: errcode -1: a b c d e"},
		{"invalid utf-8", &Error{Op: "token", StatusCode: 200, Code: -1, Message: "a\xffb\xc3"}, "miniprogram: token: errcode -1: a\uFFFDb\uFFFD"},
		{"chinese kept", &Error{Op: "token", StatusCode: 200, Code: 40243, Message: "AppSecret已被冻结"}, "miniprogram: token: errcode 40243: AppSecret已被冻结"},
		{"op sanitised", &Error{Op: "x\ny", StatusCode: 502}, "miniprogram: x y: http status 502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.err.Error())
		})
	}
}

func TestErrorStringCapsMessage(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 400) // 800 bytes
	msg := (&Error{Op: "token", StatusCode: 200, Code: -1, Message: long}).Error()
	const prefix = "miniprogram: token: errcode -1: "
	require.True(t, strings.HasPrefix(msg, prefix), msg)
	rest := strings.TrimPrefix(msg, prefix)
	assert.LessOrEqual(t, len(rest), maxMessageLen+len("…"))
	assert.True(t, strings.HasSuffix(rest, "…"), rest)
	assert.True(t, utf8.ValidString(msg), "cut on a rune boundary")
}

func TestSanitizeProperties(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "plain", "\n\r\t", "\xff\xfe", strings.Repeat("\x00é\u2028", 200), "多字节\u202e文本"} {
		out := sanitize(in)
		assert.True(t, utf8.ValidString(out), "%q", in)
		assert.LessOrEqual(t, len(out), maxMessageLen+len("…"), "%q", in)
		for _, r := range out {
			assert.False(t, unicode.IsControl(r), "%q -> %q", in, out)
			assert.False(t, unicode.In(r, unicode.Zl, unicode.Zp, unicode.Bidi_Control), "%q -> %q", in, out)
		}
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		for _, ep := range tokenEndpoints {
			for _, custom := range []bool{false, true} {
				name := fmt.Sprintf("%d/%s/custom=%v", status, ep.endpoint, custom)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					var captured atomic.Int32
					mux := http.NewServeMux()
					mux.HandleFunc("/wx/", func(w http.ResponseWriter, r *http.Request) {
						http.Redirect(w, r, "/capture"+r.URL.Path, status)
					})
					mux.HandleFunc("/capture/", func(w http.ResponseWriter, r *http.Request) {
						captured.Add(1)
						b, _ := io.ReadAll(r.Body)
						t.Errorf("redirect followed: %s %s body %q", r.Method, r.URL, b)
						writeJSON(t, w, map[string]any{"access_token": "STOLEN", "expires_in": 7200})
					})
					srv := httptest.NewServer(mux)
					t.Cleanup(srv.Close)

					opts := []Option{WithBaseURL(srv.URL + "/wx"), WithTokenEndpoint(ep.endpoint)}
					if custom {
						// A client that follows redirects (CheckRedirect nil).
						hc := srv.Client()
						require.Nil(t, hc.CheckRedirect)
						opts = append(opts, WithHTTPClient(hc))
					}
					c, err := NewClient(testAppID, testSecret, opts...)
					require.NoError(t, err)

					tok, err := c.AccessToken(context.Background())
					require.Error(t, err)
					assert.Empty(t, tok)
					var e *Error
					require.ErrorAs(t, err, &e)
					assert.Equal(t, status, e.StatusCode)
					assert.Equal(t, string(ep.endpoint), e.Op)
					assert.Contains(t, err.Error(), fmt.Sprintf("http status %d", status))
					assert.NotContains(t, err.Error(), testSecret)
					assert.Equal(t, int32(0), captured.Load())
				})
			}
		}
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	retryable := map[int]bool{CodeSystemBusy: true, CodeRateLimited: true}
	for _, code := range []int{CodeSystemBusy, CodeInvalidCredential, CodeInvalidGrantType, CodeInvalidAppID,
		CodeInvalidAccessToken, CodeInvalidCode, CodeInvalidURL, CodeInvalidSecret, CodeCodeUsed, CodeIPNotAllowed,
		CodeHighRisk, CodeSecretFrozen, CodeMissingAccessToken, CodeMissingAppID, CodeMissingSecret, CodeMissingCode,
		CodeAccessTokenExpired, CodeDailyQuotaExceeded, CodeRateLimited, CodeInvalidRequestFormat, 0} {
		assert.Equal(t, retryable[code], (&Error{Code: code}).Retryable(), "code %d", code)
	}
	assert.False(t, (&Error{StatusCode: 503}).Retryable(), "http status alone is not a retry hint")
}

func TestScrubber(t *testing.T) {
	t.Parallel()
	scrub := scrubber(testSecret, "o", "")
	assert.Equal(t, "bad secret [redacted] here", scrub("bad secret "+testSecret+" here"))
	// A short value is not a secret WeChat issues; replacing it would
	// garble the message.
	assert.Equal(t, "connection refused", scrub("connection refused"))
}
