package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNonce(t *testing.T) {
	t.Parallel()
	// Byte b maps to NonceAlphabet[b%62]; bytes >= 248 are skipped, so
	// the result is unbiased.
	src := make([]byte, 64)
	for i := range src {
		src[i] = byte(i)
	}
	src[0] = 250 // skipped
	n, err := Nonce(bytes.NewReader(src))
	require.NoError(t, err)
	assert.Equal(t, NonceAlphabet[1:33], n)
	_, err = Nonce(bytes.NewReader(nil))
	assert.ErrorIs(t, err, io.EOF)
	_, err = Nonce(bytes.NewReader(bytes.Repeat([]byte{255}, 64*16)))
	assert.ErrorContains(t, err, "too few usable bytes")
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	l := &Limiter{Now: func() time.Time { return now }}
	for i := 0; i < LimiterBurst; i++ {
		ok, _ := l.Allow()
		require.True(t, ok, i)
	}
	ok, _ := l.Allow()
	assert.False(t, ok, "burst spent")
	ok, _ = l.Allow()
	assert.False(t, ok)
	now = now.Add(LimiterEvery)
	ok, suppressed := l.Allow()
	assert.True(t, ok)
	assert.Equal(t, 2, suppressed)
}

func TestSealedPrintsNoSecret(t *testing.T) {
	t.Parallel()
	type holder struct{ k *Sealed[[4]byte] }
	h := holder{Seal([4]byte{'S', 'E', 'C', 'R'})}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		out := fmt.Sprintf(verb, h)
		assert.NotContains(t, out, "SECR", verb)
		assert.NotContains(t, out, "83 69 67 82", verb)
		assert.NotContains(t, out, "53454352", verb)
	}
	assert.Equal(t, [4]byte{'S', 'E', 'C', 'R'}, *h.k.Open())
}

func TestNeverSentAndDo(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	_, reached, err := Do(&http.Client{}, req)
	require.Error(t, err)
	assert.False(t, reached)
	assert.True(t, NeverSent(err), "a refused connection was never sent")

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		c, _, _ := hj.Hijack()
		c.Close() // read the request, then drop the connection
	}))
	defer srv.Close()
	req, _ = http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("x"))
	_, reached, err = Do(srv.Client(), req)
	require.Error(t, err)
	assert.True(t, reached, "the connection was handed to the request")
	assert.False(t, NeverSent(err))
	assert.False(t, NeverSent(nil))
	assert.False(t, NeverSent(errors.New("EOF")))
}

func TestReadBody(t *testing.T) {
	t.Parallel()
	resp := func(n int64, body string) *http.Response {
		return &http.Response{ContentLength: n, Body: io.NopCloser(strings.NewReader(body))}
	}
	b, err := ReadBody(resp(5, "12345"), 5)
	require.NoError(t, err)
	assert.Equal(t, "12345", string(b))
	_, err = ReadBody(resp(3, "123456"), 5)
	assert.ErrorIs(t, err, ErrTooLarge, "a body longer than announced is still capped")
	_, err = ReadBody(resp(-1, "123456"), 5)
	assert.ErrorIs(t, err, ErrTooLarge)
	_, err = ReadBody(resp(1<<40, "12"), 5)
	require.NoError(t, err, "an announced size only sizes the buffer up to the limit")
}
