package miniprogram

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testCode = "081Kq4Ga1DqPTF0OmUIa1s7Ytn0Kq4GN"

// code2sessionHandler checks the request WeChat expects and answers with
// respond.
func code2sessionHandler(t *testing.T, calls *atomic.Int32, respond func(w http.ResponseWriter)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if calls != nil {
			calls.Add(1)
		}
		assert.Equal(t, http.MethodGet, r.Method)
		q := r.URL.Query()
		assert.Equal(t, testAppID, q.Get("appid"))
		assert.Equal(t, testSecret, q.Get("secret"))
		assert.Equal(t, testCode, q.Get("js_code"))
		assert.Equal(t, "authorization_code", q.Get("grant_type"))
		assert.Len(t, q, 4, "unexpected query parameters: %v", q)
		respond(w)
	}
}

func TestCode2SessionSuccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		contentType string
		body        string
		want        Session
	}{
		{
			name: "without errcode",
			body: `{"openid":"oGZUI0egBJY1zhBYw2KhdUfwVJJE","session_key":"tiihtNczf5v6AKRyjwEUhQ=="}`,
			want: Session{OpenID: "oGZUI0egBJY1zhBYw2KhdUfwVJJE", SessionKey: SessionKey{newSecret("tiihtNczf5v6AKRyjwEUhQ==")}},
		},
		{
			name: "with errcode 0 and unionid",
			body: `{"session_key":"tiihtNczf5v6AKRyjwEUhQ==","openid":"oGZUI0egBJY1zhBYw2KhdUfwVJJE","unionid":"ocMvos6NjeKLIBqg5Mr9QjxrP1FA","errcode":0,"errmsg":"ok"}`,
			want: Session{OpenID: "oGZUI0egBJY1zhBYw2KhdUfwVJJE", UnionID: "ocMvos6NjeKLIBqg5Mr9QjxrP1FA", SessionKey: SessionKey{newSecret("tiihtNczf5v6AKRyjwEUhQ==")}},
		},
		{
			name:        "text/plain content type",
			contentType: "text/plain",
			body:        `{"openid":"o1","session_key":"k1"}`,
			want:        Session{OpenID: "o1", SessionKey: SessionKey{newSecret("k1")}},
		},
		{
			name: "errcode as string zero",
			body: `{"openid":"o1","session_key":"k1","errcode":"0"}`,
			want: Session{OpenID: "o1", SessionKey: SessionKey{newSecret("k1")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setup(t)
			var calls atomic.Int32
			mux.Handle("GET /sns/jscode2session", code2sessionHandler(t, &calls, func(w http.ResponseWriter) {
				ct := tt.contentType
				if ct == "" {
					ct = "application/json"
				}
				writeRaw(w, http.StatusOK, ct, tt.body)
			}))
			got, err := c.Code2Session(context.Background(), testCode)
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, *got, cmp.Comparer(func(a, b SessionKey) bool { return a.Reveal() == b.Reveal() })); diff != "" {
				t.Errorf("session mismatch (-want +got):\n%s", diff)
			}
			assert.Equal(t, int32(1), calls.Load())
		})
	}
}

func TestCode2SessionErrmsgEchoingSecretIsScrubbed(t *testing.T) {
	t.Parallel()
	c, mux := setup(t)
	mux.Handle("GET /sns/jscode2session", code2sessionHandler(t, nil, func(w http.ResponseWriter) {
		writeRaw(w, http.StatusOK, "application/json", `{"errcode":40125,"errmsg":"invalid appsecret `+testSecret+`"}`)
	}))
	_, err := c.Code2Session(context.Background(), testCode)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, CodeInvalidSecret, e.Code)
	assert.NotContains(t, err.Error(), testSecret)
	assert.NotContains(t, e.Message, testSecret)
}

// TestCode2SessionBadResponses feeds code2session answers built byte by
// byte; the errcodes and HTML pages wxpaytest plays are in
// login_external_test.go.
func TestCode2SessionBadResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantStatus  int
		wantCode    int
		wantInvalid bool // errors.Is(err, ErrInvalidResponse)
	}{
		{name: "empty openid", status: 200, contentType: "application/json", body: `{"openid":"","session_key":"k"}`, wantStatus: 200, wantInvalid: true},
		{name: "missing openid", status: 200, contentType: "application/json", body: `{"session_key":"k"}`, wantStatus: 200, wantInvalid: true},
		{name: "empty session_key", status: 200, contentType: "application/json", body: `{"openid":"o","session_key":""}`, wantStatus: 200, wantInvalid: true},
		{name: "empty object", status: 200, contentType: "application/json", body: `{}`, wantStatus: 200, wantInvalid: true},
		{name: "json null", status: 200, contentType: "application/json", body: `null`, wantStatus: 200, wantInvalid: true},
		{name: "json array", status: 200, contentType: "application/json", body: `[]`, wantStatus: 200, wantInvalid: true},
		{name: "empty body", status: 200, contentType: "application/json", body: ``, wantStatus: 200, wantInvalid: true},
		{name: "plain text", status: 200, contentType: "text/plain", body: "system busy", wantStatus: 200, wantInvalid: true},
		{name: "truncated json", status: 200, contentType: "application/json", body: `{"openid":"o","session_`, wantStatus: 200, wantInvalid: true},
		{name: "openid wrong type", status: 200, contentType: "application/json", body: `{"openid":1,"session_key":"k"}`, wantStatus: 200, wantInvalid: true},
		{name: "errcode not integer", status: 200, contentType: "application/json", body: `{"errcode":"busy","errmsg":"x"}`, wantStatus: 200, wantInvalid: true},
		{name: "404 empty", status: 404, contentType: "text/plain", body: "", wantStatus: 404},
		{name: "500 with errcode", status: 500, contentType: "application/json", body: `{"errcode":-1,"errmsg":"system error"}`, wantStatus: 500, wantCode: -1},
		{name: "302 redirect without location", status: 302, contentType: "text/html", body: "", wantStatus: 302},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setup(t)
			mux.Handle("GET /sns/jscode2session", code2sessionHandler(t, nil, func(w http.ResponseWriter) {
				writeRaw(w, tt.status, tt.contentType, tt.body)
			}))
			s, err := c.Code2Session(context.Background(), testCode)
			require.Error(t, err)
			assert.Nil(t, s)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "code2session", e.Op)
			assert.Equal(t, tt.wantStatus, e.StatusCode)
			assert.Equal(t, tt.wantCode, e.Code)
			assert.Equal(t, tt.wantInvalid, errors.Is(err, ErrInvalidResponse), "ErrInvalidResponse: %v", err)
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, "miniprogram: code2session: "), msg)
			assert.NotContains(t, msg, testSecret)
			assert.NotContains(t, msg, "nginx", "response bodies must not be copied into errors")
			if tt.wantStatus != 200 {
				assert.Contains(t, msg, fmt.Sprintf("http status %d", tt.wantStatus))
			}
		})
	}
}

func TestCode2SessionBodySizeLimit(t *testing.T) {
	t.Parallel()
	valid := `{"openid":"o","session_key":"k"}`
	tests := []struct {
		name    string
		size    int
		wantErr bool
	}{
		{"exactly 1 MiB", maxBodySize, false},
		{"1 MiB plus one byte", maxBodySize + 1, true},
		{"4 MiB", 4 * maxBodySize, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setup(t)
			mux.Handle("GET /sns/jscode2session", code2sessionHandler(t, nil, func(w http.ResponseWriter) {
				// Valid JSON padded with trailing whitespace to the size.
				writeRaw(w, http.StatusOK, "application/json", valid+strings.Repeat(" ", tt.size-len(valid)))
			}))
			s, err := c.Code2Session(context.Background(), testCode)
			if !tt.wantErr {
				require.NoError(t, err)
				assert.Equal(t, "o", s.OpenID)
				return
			}
			require.ErrorIs(t, err, ErrInvalidResponse)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, 200, e.StatusCode)
			assert.Contains(t, err.Error(), "body exceeds")
		})
	}
}

func TestCode2SessionEmptyCodeNoRequest(t *testing.T) {
	t.Parallel()
	c, _ := setup(t) // the catch-all handler fails the test on any request
	s, err := c.Code2Session(context.Background(), "")
	require.ErrorIs(t, err, ErrBadInput)
	assert.Nil(t, s)
}

// TestCode2SessionCanceledMidFlight cancels the caller's context once the
// request has reached the server, without relying on timing.
func TestCode2SessionCanceledMidFlight(t *testing.T) {
	t.Parallel()
	c, mux := setup(t)
	entered := make(chan struct{})
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) }) // runs before srv.Close (LIFO)
	check := code2sessionHandler(t, nil, func(http.ResponseWriter) {})
	mux.HandleFunc("GET /sns/jscode2session", func(w http.ResponseWriter, r *http.Request) {
		check(w, r)
		close(entered)
		select { // no answer until the client gives up
		case <-r.Context().Done():
		case <-stop:
		}
	})

	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		s   *Session
		err error
	}
	res := make(chan result, 1)
	go func() {
		s, err := c.Code2Session(ctx, testCode)
		res <- result{s, err}
	}()
	recvOrFail(t, entered, "request at the server")
	cancel()
	r := recvOrFail(t, res, "Code2Session")
	require.ErrorIs(t, r.err, context.Canceled)
	assert.Nil(t, r.s)
	checkTransportError(t, r.err)
}

// TestCode2SessionDeadline lets a deadline expire while the server never
// answers. Nothing depends on how long the request takes: the handler
// blocks until the client gives up.
func TestCode2SessionDeadline(t *testing.T) {
	t.Parallel()
	c, mux := setup(t)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) }) // runs before srv.Close (LIFO)
	mux.HandleFunc("GET /sns/jscode2session", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done(): // the client gave up and closed the connection
		case <-stop:
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	s, err := c.Code2Session(ctx, testCode)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Nil(t, s)
	checkTransportError(t, err)
}

// checkTransportError checks a failure that happened below HTTP: not an
// *Error, prefixed with the op, and free of the secret and the code.
func checkTransportError(t *testing.T, err error) {
	t.Helper()
	var e *Error
	assert.False(t, errors.As(err, &e), "transport failures are not *Error")
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, "miniprogram: code2session: "), msg)
	assert.NotContains(t, msg, testSecret)
	assert.NotContains(t, msg, testCode)
	assert.Contains(t, msg, "secret=REDACTED", "the parameter is named, its value is not")
}

func TestCode2SessionCanceledBeforeCall(t *testing.T) {
	t.Parallel()
	c, _ := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Code2Session(ctx, testCode)
	require.ErrorIs(t, err, context.Canceled)
	assert.NotContains(t, err.Error(), testSecret)
}

func TestCode2SessionConnectionRefused(t *testing.T) {
	t.Parallel()
	// Reserve a port, then close it so nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	c, err := NewClient(testAppID, testSecret, WithBaseURL("http://"+addr+"/prefix"))
	require.NoError(t, err)
	_, err = c.Code2Session(context.Background(), testCode)
	require.Error(t, err)
	var opErr *net.OpError
	assert.ErrorAs(t, err, &opErr, "cause must stay inspectable")
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, "miniprogram: code2session: "), msg)
	assert.NotContains(t, msg, testSecret)
	assert.NotContains(t, msg, testCode)
	assert.Contains(t, msg, "secret=REDACTED", "the parameter is named, its value is not")
	assert.Contains(t, msg, addr+"/prefix/sns/jscode2session", "the redacted url still helps debugging")
}

// TestCode2SessionShortCodeKeepsErrorText: a js_code of one character is
// redacted where it sits in the URL, and nowhere else, so the transport
// error stays readable ("connection refused", the host, the path).
func TestCode2SessionShortCodeKeepsErrorText(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	c, err := NewClient(testAppID, testSecret, WithBaseURL("http://"+addr+"/prefix"))
	require.NoError(t, err)
	for _, code := range []string{"o", "n", "e", "c", "1", "t", "/", "%"} {
		_, err = c.Code2Session(context.Background(), code)
		require.Error(t, err)
		var opErr *net.OpError
		require.ErrorAs(t, err, &opErr)
		want := "miniprogram: code2session: Get \"http://" + addr + "/prefix/sns/jscode2session?appid=" + testAppID +
			"&grant_type=authorization_code&js_code=REDACTED&secret=REDACTED\": " + opErr.Error()
		assert.Equal(t, want, err.Error(), "js_code %q", code)
		assert.Contains(t, err.Error(), "connection refused", "js_code %q", code)
		assert.NotContains(t, err.Error(), testSecret)
	}
}
