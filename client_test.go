package wxpay

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewClientDefaults(t *testing.T) {
	t.Parallel()
	c, err := NewClient(Config{AppID: testAppID, MchID: testMchID, APIKey: testKey})
	require.NoError(t, err)
	assert.Equal(t, BaseURL, c.baseURL)
	assert.Equal(t, SignMD5, c.signer.Type())
	assert.Equal(t, int64(1<<20), c.maxBytes)
	assert.Equal(t, testAppID, c.AppID())
	assert.Equal(t, testMchID, c.MchID())
}

// TestCallErrors drives the failures of the shared request path through
// UnifiedOrder that need answers built byte by byte (tampered, unsigned,
// malformed, oversized, odd status codes), and checks the error's type,
// the fields callers branch on and the house rules for its text. The
// answers wxpaytest plays (err_codes, return_code FAIL, HTML pages, the
// wrong key) are in client_external_test.go.
func TestCallErrors(t *testing.T) {
	t.Parallel()
	// The answers are encoded here, on the test's goroutine; the
	// handlers only write bytes.
	signedWith := func(key string, typ SignType, p Params) http.HandlerFunc {
		return rawAnswer(http.StatusOK, string(signedXML(t, key, typ, p)))
	}
	prepay := string(signedXML(t, testKey, SignMD5, prepayAnswer(Params{"trade_type": "JSAPI"})))
	type want struct {
		is         error     // errors.Is target, if any
		status     int       // *Error.StatusCode, if an *Error is expected
		code       ErrorCode // *Error.Code
		returnCode string    // *Error.ReturnCode
		retryable  bool
		field      string // *FieldError.Field
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    want
	}{
		{"return_code missing", rawAnswer(200, `<xml><return_msg>OK</return_msg></xml>`),
			want{status: 200, is: ErrMissingField, field: "return_code"}},
		{"result_code FAIL without err_code", signedWith(testKey, SignMD5, okAnswer(Params{"result_code": "FAIL"})),
			want{status: 200, returnCode: "SUCCESS", is: errNoErrCode}},
		{"result_code missing", signedWith(testKey, SignMD5, func() Params { p := okAnswer(nil); delete(p, "result_code"); return p }()),
			want{status: 200, returnCode: "SUCCESS", is: ErrMissingField, field: "result_code"}},
		{"field changed after signing", rawAnswer(http.StatusOK, strings.Replace(prepay, "wx2014", "wx2015", 1)), want{is: ErrSignature}},
		{"field added after signing", rawAnswer(http.StatusOK, strings.Replace(prepay, "</xml>", "<code_url>weixin://evil</code_url></xml>", 1)),
			want{is: ErrSignature}},
		{"sign missing", rawAnswer(http.StatusOK, string(encodeXML(t, prepayAnswer(Params{"trade_type": "JSAPI"})))), want{is: ErrMissingSign}},
		{"sign_type other than configured", signedWith(testKey, SignHMACSHA256, okAnswer(Params{"prepay_id": "wx1", "sign_type": "HMAC-SHA256"})), want{is: ErrSignType}},
		{"HMAC sign without sign_type", signedWith(testKey, SignHMACSHA256, okAnswer(Params{"prepay_id": "wx1"})), want{is: ErrSignature}},
		{"appid mismatch", signedWith(testKey, SignMD5, okAnswer(Params{"prepay_id": "wx1", "appid": "wx0000000000000000"})), want{is: ErrMerchant}},
		{"mch_id mismatch", signedWith(testKey, SignMD5, okAnswer(Params{"prepay_id": "wx1", "mch_id": "10000200"})), want{is: ErrMerchant}},
		{"HTML with 200", rawAnswer(200, "<!DOCTYPE html><html><body>证书错误</body></html>"),
			want{status: 200, is: ErrXML}},
		{"empty body", rawAnswer(200, ""), want{status: 200, is: ErrXML}},
		{"FAIL with 500", rawAnswer(500, `<xml><return_code>FAIL</return_code><return_msg>system error</return_msg></xml>`),
			want{status: 500, returnCode: "FAIL", retryable: true}},
		{"signed SUCCESS with 503", rawAnswer(503, prepay), want{status: 503, retryable: true}},
		{"oversized body", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "<xml><return_code>SUCCESS</return_code><x>")
			_, _ = w.Write(make([]byte, 1<<20))
		}, want{status: 200, is: ErrResponseTooLarge}},
		{"SUCCESS without prepay_id", signedWith(testKey, SignMD5, okAnswer(Params{"trade_type": "JSAPI"})),
			want{is: ErrMissingField, field: "prepay_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			mux.HandleFunc("/pay/unifiedorder", tt.handler)
			resp, err := c.UnifiedOrder(context.Background(), validOrder())
			assert.Nil(t, resp)
			assertClean(t, err)
			assert.Equal(t, 1, strings.Count(err.Error(), "unifiedorder"), "endpoint named once: %q", err)
			if tt.want.is != nil {
				assert.ErrorIs(t, err, tt.want.is)
			}
			var fe *FieldError
			if tt.want.field != "" && assert.ErrorAs(t, err, &fe) {
				assert.Equal(t, tt.want.field, fe.Field)
			}
			var we *Error
			if tt.want.status == 0 {
				assert.False(t, errors.As(err, &we), "want no *Error, got %v", err)
				return
			}
			require.ErrorAs(t, err, &we)
			assert.Equal(t, "unifiedorder", we.Op)
			assert.Equal(t, tt.want.status, we.StatusCode)
			assert.Equal(t, tt.want.code, we.Code)
			assert.Equal(t, tt.want.returnCode, we.ReturnCode)
			assert.Equal(t, tt.want.retryable, we.Retryable())
		})
	}
}

func TestCallVerificationErrorText(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/pay/unifiedorder", rawAnswer(200, `<xml><return_code>SUCCESS</return_code><appid>`+testAppID+`</appid></xml>`))
	_, err := c.UnifiedOrder(context.Background(), validOrder())
	assert.Equal(t, "wxpay: unifiedorder: message is not signed", err.Error())
}

// blockUntilGone is a handler that never answers: it returns only when
// the client has gone away. arrived, if not nil, is closed on the first
// request.
func blockUntilGone(arrived chan struct{}) http.HandlerFunc {
	var once atomic.Bool
	return func(w http.ResponseWriter, r *http.Request) {
		// The server notices a vanished client only once the body has
		// been read, so read it first.
		_, _ = io.Copy(io.Discard, r.Body)
		if arrived != nil && once.CompareAndSwap(false, true) {
			close(arrived)
		}
		<-r.Context().Done()
	}
}

// expiresOn is a context whose deadline passes when fire is closed. Tests
// close it once the server has the request, so "the deadline passed while
// waiting for the answer" happens at a chosen point instead of after some
// milliseconds of wall-clock time, which a loaded machine may spend
// before the request is even sent.
type expiresOn struct{ fire <-chan struct{} }

func (expiresOn) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c expiresOn) Done() <-chan struct{}     { return c.fire }
func (expiresOn) Value(any) any               { return nil }

func (c expiresOn) Err() error {
	select {
	case <-c.fire:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// stalledConn is a connection whose reads wait until arrived is closed
// and then fail exactly as a read past a connection deadline does. It
// makes a read timeout deterministic: the server has the whole request by
// the time the client's read "times out".
type stalledConn struct {
	net.Conn
	arrived <-chan struct{}
	once    sync.Once
	closed  chan struct{} // closed by Close, so a pending Read ends
}

func (c *stalledConn) Read([]byte) (int, error) {
	select {
	case <-c.arrived:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.ErrDeadlineExceeded}
	case <-c.closed:
		return 0, net.ErrClosed
	}
}

func (c *stalledConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// stallingClient is an HTTP client whose connections are stalledConns.
func stallingClient(t *testing.T, arrived <-chan struct{}) *http.Client {
	var d net.Dialer
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stalledConn{Conn: conn, arrived: arrived, closed: make(chan struct{})}, nil
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestCallContextDeadline(t *testing.T) {
	t.Parallel()
	c, mux, ts := setup(t)
	arrived := make(chan struct{})
	mux.HandleFunc("/pay/unifiedorder", blockUntilGone(arrived))
	_, err := c.UnifiedOrder(expiresOn{arrived}, validOrder())
	assertClean(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "wxpay: unifiedorder: ")
	assert.Equal(t, int64(1), ts.Hits.Load())
}

func TestCallReadTimeout(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	arrived := make(chan struct{})
	ts.Mux.HandleFunc("/pay/unifiedorder", blockUntilGone(arrived))
	c, err := NewClient(testConfig(), WithBaseURL(ts.URL), WithHTTPClient(stallingClient(t, arrived)))
	require.NoError(t, err)
	_, err = c.UnifiedOrder(context.Background(), validOrder())
	assertClean(t, err)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	assert.False(t, neverSent(err))
	assert.Equal(t, int64(1), ts.Hits.Load())
}

func TestCallContextCanceled(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	arrived := make(chan struct{})
	mux.HandleFunc("/pay/unifiedorder", blockUntilGone(arrived))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := c.UnifiedOrder(ctx, validOrder())
	assertClean(t, err)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestCallCanceledBeforeStart(t *testing.T) {
	t.Parallel()
	c, _, ts := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.UnifiedOrder(ctx, validOrder())
	assertClean(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, ts.Hits.Load())
}

// closedURL returns a base URL whose port had a listener that is now
// closed, so connecting is refused.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	conn, err := net.Dial("tcp", addr)
	if err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections", addr)
	}
	return "http://" + addr + testBasePath
}

func TestConnectionRefusedWithoutFailover(t *testing.T) {
	t.Parallel()
	c, err := NewClient(testConfig(), WithBaseURL(closedURL(t)))
	require.NoError(t, err)
	_, err = c.UnifiedOrder(context.Background(), validOrder())
	assertClean(t, err)
	var oe *net.OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "dial", oe.Op)
	assert.True(t, neverSent(err))
}

func TestFailoverOnConnectionRefused(t *testing.T) {
	t.Parallel()
	backup := newTestServer(t)
	got := make(chan Params, 1)
	backup.Mux.HandleFunc("/pay/unifiedorder", fakeWeChat(t, prepayAnswer, got))
	c, err := NewClient(testConfig(), WithBaseURL(closedURL(t)), WithFailover(backup.URL),
		WithHTTPClient(backup.srv.Client()))
	require.NoError(t, err)
	resp, err := c.UnifiedOrder(context.Background(), validOrder())
	require.NoError(t, err)
	assert.Equal(t, "wx201410272009395522657a690389285100", resp.PrepayID)
	assert.Equal(t, int64(1), backup.Hits.Load())
	assert.Equal(t, "20240501120000-0001", (<-got)["out_trade_no"])
}

// scriptedTransport fails requests to failHost with failErr and sends the
// rest through next, recording every body it is given.
type scriptedTransport struct {
	failHost string
	failErr  error
	next     http.RoundTripper
	bodies   chan []byte
}

func (s *scriptedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	s.bodies <- b
	if r.URL.Host == s.failHost {
		return nil, s.failErr
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(strings.NewReader(string(b)))
	return s.next.RoundTrip(r2)
}

// TestFailoverResendsSameBody checks that the backup receives the very
// bytes meant for the primary (same nonce, same sign, same out_trade_no),
// for each kind of error that proves the primary was never reached.
func TestFailoverResendsSameBody(t *testing.T) {
	t.Parallel()
	errs := map[string]error{
		"dns":  &net.DNSError{Err: "no such host", Name: "api.mch.weixin.qq.com", IsNotFound: true},
		"dial": &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: network is unreachable")},
	}
	for name, failErr := range errs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			backup := newTestServer(t)
			backup.Mux.HandleFunc("/pay/unifiedorder", fakeWeChat(t, prepayAnswer, nil))
			tr := &scriptedTransport{failHost: "primary.invalid", failErr: failErr,
				next: backup.srv.Client().Transport, bodies: make(chan []byte, 2)}
			c, err := NewClient(testConfig(), WithBaseURL("http://primary.invalid/base"),
				WithFailover(backup.URL), WithHTTPClient(&http.Client{Transport: tr}))
			require.NoError(t, err)
			_, err = c.UnifiedOrder(context.Background(), validOrder())
			require.NoError(t, err)
			first, second := <-tr.bodies, <-tr.bodies
			assert.Equal(t, string(first), string(second))
			assert.Equal(t, int64(1), backup.Hits.Load())
		})
	}
}

// TestNoFailoverOnceSent checks that nothing that may have reached the
// primary is sent to the backup.
func TestNoFailoverOnceSent(t *testing.T) {
	t.Parallel()
	// The first two cases time out only once the primary has the request
	// (arrived is closed), so the hit count below never depends on how
	// fast the machine is.
	type stall struct {
		stalledRead bool // the connection's read times out
		deadline    bool // the context's deadline passes
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		stall   *stall
		is      error
	}{
		{name: "read timeout", stall: &stall{stalledRead: true}, is: os.ErrDeadlineExceeded},
		{name: "context deadline", stall: &stall{deadline: true}, is: context.DeadlineExceeded},
		{name: "HTTP 500", handler: rawAnswer(500, "<html>Internal Server Error</html>"), is: ErrXML},
		{name: "FAIL answer", handler: rawAnswer(200, `<xml><return_code>FAIL</return_code><return_msg>system error</return_msg></xml>`)},
		{name: "SYSTEMERROR", handler: rawAnswer(http.StatusOK, string(signedXML(t, testKey, SignMD5, okAnswer(Params{"result_code": "FAIL", "err_code": "SYSTEMERROR"}))))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			backup := newTestServer(t)
			backup.Mux.HandleFunc("/pay/unifiedorder", fakeWeChat(t, prepayAnswer, nil))
			primary := newTestServer(t)
			handler, hc, ctx := tt.handler, primary.srv.Client(), context.Context(context.Background())
			if tt.stall != nil {
				arrived := make(chan struct{})
				handler = blockUntilGone(arrived)
				if tt.stall.stalledRead {
					hc = stallingClient(t, arrived)
				}
				if tt.stall.deadline {
					ctx = expiresOn{arrived}
				}
			}
			primary.Mux.HandleFunc("/pay/unifiedorder", handler)
			c, err := NewClient(testConfig(), WithBaseURL(primary.URL), WithFailover(backup.URL), WithHTTPClient(hc))
			require.NoError(t, err)
			_, err = c.UnifiedOrder(ctx, validOrder())
			assertClean(t, err)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.Equal(t, int64(1), primary.Hits.Load())
			assert.Zero(t, backup.Hits.Load(), "a request that reached the primary went to the backup")
		})
	}
}
