package miniprogram

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

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
	assert.Equal(t, TokenStable, c.tokens.endpoint)
	require.NotNil(t, c.hc)
	assert.Positive(t, c.hc.Timeout, "default client must have a timeout")
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
	assert.Nil(t, hc.CheckRedirect)
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.err.Error())
		})
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

func TestTruncate(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "abc", truncate("abc", 3))
	assert.Equal(t, "ab…", truncate("abc", 2))
	// "é" is two bytes; cutting inside it must back off to a rune start.
	assert.Equal(t, "a…", truncate("aé", 2))
}

func TestScrubber(t *testing.T) {
	t.Parallel()
	scrub := scrubber(testSecret, "short", "")
	assert.Equal(t, "bad secret [redacted] here", scrub("bad secret "+testSecret+" here"))
	assert.Equal(t, "short is too short to scrub", scrub("short is too short to scrub"))
}
