package wire

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadAll(t *testing.T) {
	t.Parallel()
	b, err := ReadAll(strings.NewReader("12345"), 5)
	require.NoError(t, err)
	assert.Equal(t, "12345", string(b))

	b, err = ReadAll(strings.NewReader("123456"), 5)
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.Nil(t, b)

	// A body without end is read only to limit+1 bytes.
	r := &countingReader{}
	_, err = ReadAll(r, 1000)
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.LessOrEqual(t, r.n, 1001+512, "read far past the limit")
}

type timeoutErr struct{ s string }

func (e *timeoutErr) Error() string   { return e.s }
func (e *timeoutErr) Timeout() bool   { return true }
func (e *timeoutErr) Temporary() bool { return true }

type countingReader struct{ n int }

func (r *countingReader) Read(p []byte) (int, error) {
	r.n += len(p)
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-app-secret"
	inner := fmt.Errorf("dial: %w", context.DeadlineExceeded)
	err := &url.Error{Op: "Get", URL: "https://user:pw@api.weixin.qq.com/sns/jscode2session?appid=wx1&secret=" + secret + "#frag", Err: inner}

	got := RedactURL(err)
	assert.NotContains(t, got.Error(), secret)
	assert.NotContains(t, got.Error(), "pw")
	assert.Contains(t, got.Error(), "api.weixin.qq.com/sns/jscode2session")
	assert.True(t, errors.Is(got, context.DeadlineExceeded), "cause kept")

	wrapped := fmt.Errorf("outer: %w", err)
	assert.NotContains(t, RedactURL(wrapped).Error(), secret)

	// A RoundTripper that repeats the URL in its own error.
	echo := &url.Error{Op: "Post", URL: "https://h/sns?secret=" + secret + "&grant_type=authorization_code",
		Err: fmt.Errorf("proxy refused https://h/sns?secret=%s&grant_type=authorization_code: %w", secret, context.Canceled)}
	got = RedactURL(echo)
	assert.NotContains(t, got.Error(), secret)
	assert.True(t, errors.Is(got, context.Canceled), "cause kept")
	assert.Contains(t, got.Error(), "grant_type=authorization_code", "non-secret parameters stay readable")

	// A timeout stays a timeout after scrubbing: callers retry on it.
	timeout := &url.Error{Op: "Get", URL: "https://h/cgi-bin/token?access_token=" + secret,
		Err: &timeoutErr{"read https://h/cgi-bin/token?access_token=" + secret + ": i/o timeout"}}
	require.True(t, timeout.Timeout())
	got = RedactURL(timeout)
	assert.NotContains(t, got.Error(), secret)
	var ne net.Error
	require.ErrorAs(t, got, &ne)
	assert.True(t, ne.Timeout())

	plain := errors.New("no url here")
	assert.Same(t, plain, RedactURL(plain))
	assert.Nil(t, RedactURL(nil))
}

func TestNewHTTPClient(t *testing.T) {
	t.Parallel()
	a, b := NewHTTPClient(), NewHTTPClient()
	assert.Equal(t, DefaultTimeout, a.Timeout)
	assert.NotSame(t, a, b, "each caller gets its own client")
	assert.ErrorIs(t, a.CheckRedirect(nil, nil), http.ErrUseLastResponse, "redirects are not followed")
}

func TestCheckTLS(t *testing.T) {
	insecure := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	for name, tc := range map[string]struct {
		hc   *http.Client
		want error
	}{
		"default":          {&http.Client{}, nil},
		"library's":        {NewHTTPClient(), nil},
		"verifying":        {&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}, nil},
		"insecure":         {&http.Client{Transport: insecure}, ErrInsecureTLS},
		"custom roundtrip": {&http.Client{Transport: roundTripFunc(nil)}, nil},
	} {
		if err := CheckTLS(tc.hc); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: CheckTLS = %v, want %v", name, err, tc.want)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
