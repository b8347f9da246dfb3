package wxpay

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "update golden files in testdata")

// The merchant of the client tests: the official signing example's appid,
// mch_id and key (protocol.md §2.2).
const (
	tAppID    = "wxd930ea5d5a258f4f"
	tMchID    = "10000100"
	tKey      = "192006250b4c09247ec02edce69f6a2d"
	tNotify   = "https://example.com/wxpay/notify"
	tBasePath = "/base"
)

func tConfig() Config {
	return Config{AppID: tAppID, MchID: tMchID, APIKey: tKey, NotifyURL: tNotify}
}

// tClock is the fixed time of deterministic tests: 2024-05-01 12:00:00 in
// Beijing, Unix 1714536000.
func tClock() time.Time { return time.Unix(1714536000, 0) }

// seqReader is a deterministic randomness source: 0, 1, 2, … mod 62, so
// the first nonce it yields is the first 32 letters of the nonce alphabet.
type seqReader struct{ n int }

func (r *seqReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.n % 62)
		r.n++
	}
	return len(p), nil
}

// firstSeqNonce is the nonce a fresh seqReader yields, written out by hand
// rather than computed with the code under test.
const firstSeqNonce = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"

// nonceReader yields exactly the bytes that make newNonce produce s (which
// must use the nonce alphabet and be NonceLen long), then zeros.
func nonceReader(t testing.TB, s string) io.Reader {
	t.Helper()
	require.Len(t, s, NonceLen)
	b := make([]byte, 64)
	for i := 0; i < len(s); i++ {
		j := strings.IndexByte(nonceAlphabet, s[i])
		require.GreaterOrEqual(t, j, 0, "nonce character %q", s[i])
		b[i] = byte(j)
	}
	return &onceReader{b: b}
}

type onceReader struct{ b []byte }

func (r *onceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// testServer is a fake WeChat host that mounts the API under tBasePath,
// so a client that drops the base URL's path is caught (go-github setup).
type testServer struct {
	URL  string // base URL including tBasePath
	Mux  *http.ServeMux
	Hits atomic.Int64 // requests received on any path
	srv  *httptest.Server
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ts := &testServer{Mux: http.NewServeMux()}
	api := http.NewServeMux()
	api.Handle(tBasePath+"/", http.StripPrefix(tBasePath, ts.Mux))
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the base path: %s %s", r.Method, r.URL.Path)
		http.Error(w, "outside base path", http.StatusBadRequest)
	})
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.Hits.Add(1)
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.srv.Close)
	ts.URL = ts.srv.URL + tBasePath
	return ts
}

// setup returns a client wired to a fresh fake server, the mux to register
// endpoint handlers on, and the server (for request counts). opts are
// applied after the defaults, so they may override them.
func setup(t *testing.T, opts ...Option) (*Client, *http.ServeMux, *testServer) {
	t.Helper()
	ts := newTestServer(t)
	all := append([]Option{WithBaseURL(ts.URL), WithHTTPClient(ts.srv.Client())}, opts...)
	c, err := NewClient(tConfig(), all...)
	require.NoError(t, err)
	return c, ts.Mux, ts
}

// okAnswer is a successful answer's common fields plus extra; extra wins.
func okAnswer(extra Params) Params {
	p := Params{
		"return_code": "SUCCESS",
		"return_msg":  "OK",
		"appid":       tAppID,
		"mch_id":      tMchID,
		"nonce_str":   "ibuaiVcKdpRxkhJA",
		"result_code": "SUCCESS",
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// refSign is the sign WeChat computes for p under key with typ, from the
// plain definitions in helpers_test.go rather than with [Signer], so the
// fake server holds the client to the protocol, not to itself.
func refSign(key string, typ SignType, p Params) string {
	if typ == SignHMACSHA256 {
		return hmacUpper(key, canonical(p, key))
	}
	return md5Upper(canonical(p, key))
}

// signedXML signs p under key with typ, as WeChat would, and encodes it.
func signedXML(t testing.TB, key string, typ SignType, p Params) []byte {
	t.Helper()
	q := make(Params, len(p)+1)
	for k, v := range p {
		q[k] = v
	}
	q["sign"] = refSign(key, typ, q)
	b, err := EncodeXML(q)
	require.NoError(t, err)
	return b
}

// fakeWeChat plays WeChat's side of one endpoint: it checks the request as
// WeChat would (POST, XML, our merchant, a valid signature in the declared
// sign_type) and answers with answer(request), signed with the request's
// algorithm. got, if not nil, receives each decoded request.
func fakeWeChat(t *testing.T, answer func(req Params) Params, got chan<- Params) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			t.Errorf("method = %s, want POST", r.Method)
		}
		if ct := r.Header.Get("Content-Type"); ct != "text/xml; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request: %v", err)
			return
		}
		req, err := DecodeXML(body)
		if err != nil {
			t.Errorf("request is not a v2 message: %v", err)
			http.Error(w, "bad xml", http.StatusBadRequest)
			return
		}
		typ := SignType(req["sign_type"])
		if typ != SignMD5 && typ != SignHMACSHA256 {
			t.Errorf("sign_type = %q, want it always sent", typ)
			typ = SignMD5
		}
		if want := refSign(tKey, typ, req); req["sign"] != want {
			t.Errorf("request sign = %q, want %q", req["sign"], want)
		}
		if req["appid"] != tAppID || req["mch_id"] != tMchID || len(req["nonce_str"]) != NonceLen {
			t.Errorf("request header fields: appid=%q mch_id=%q nonce_str=%q", req["appid"], req["mch_id"], req["nonce_str"])
		}
		if got != nil {
			got <- req
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(signedXML(t, tKey, typ, answer(req)))
	}
}

// rawAnswer answers every request with status and body as given.
func rawAnswer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// assertClean checks the house rules every error must follow.
func assertClean(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	msg := err.Error()
	assert.NotContains(t, msg, tKey, "error text must never contain the API key")
	assert.True(t, strings.HasPrefix(msg, "wxpay: "), "error %q lacks the wxpay: prefix", msg)
	assert.NotContains(t, msg, "\n")
}

// validOrder is a request that passes validation.
func validOrder() *UnifiedOrderRequest {
	return &UnifiedOrderRequest{
		Body:           "腾讯充值中心-QQ会员充值",
		OutTradeNo:     "20240501120000-0001",
		TotalFee:       888,
		SpbillCreateIP: "123.12.12.123",
		TradeType:      TradeJSAPI,
		OpenID:         "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
	}
}

func prepayAnswer(req Params) Params {
	return okAnswer(Params{"prepay_id": "wx201410272009395522657a690389285100", "trade_type": req["trade_type"]})
}

func TestNewClientDefaults(t *testing.T) {
	t.Parallel()
	c, err := NewClient(Config{AppID: tAppID, MchID: tMchID, APIKey: tKey})
	require.NoError(t, err)
	assert.Equal(t, BaseURL, c.baseURL)
	assert.Equal(t, SignMD5, c.signer.Type())
	assert.Equal(t, int64(1<<20), c.maxBytes)
	assert.Equal(t, tAppID, c.AppID())
	assert.Equal(t, tMchID, c.MchID())
}

// TestCallErrors drives every failure of the shared request path through
// UnifiedOrder and checks the error's type, the fields callers branch on
// and the house rules for its text.
func TestCallErrors(t *testing.T) {
	t.Parallel()
	const otherKey = "0123456789abcdef0123456789abcdef"
	signedWith := func(key string, typ SignType, p Params) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = w.Write(signedXML(t, key, typ, p))
		}
	}
	fail := func(code ErrorCode, msg string) http.HandlerFunc {
		return signedWith(tKey, SignMD5, okAnswer(Params{"result_code": "FAIL", "err_code": string(code), "err_code_des": msg}))
	}
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
		{"return_code FAIL", rawAnswer(200, `<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[签名失败]]></return_msg></xml>`),
			want{status: 200, returnCode: "FAIL"}},
		{"return_code missing", rawAnswer(200, `<xml><return_msg>OK</return_msg></xml>`),
			want{status: 200, is: ErrMissingField, field: "return_code"}},
		{"SYSTEMERROR", fail(ErrCodeSystemError, "系统超时"), want{status: 200, code: ErrCodeSystemError, returnCode: "SUCCESS", retryable: true}},
		{"BANKERROR", fail(ErrCodeBankError, "银行系统异常"), want{status: 200, code: ErrCodeBankError, returnCode: "SUCCESS", retryable: true}},
		{"ORDERPAID", fail(ErrCodeOrderPaid, "该订单已支付"), want{status: 200, code: ErrCodeOrderPaid, returnCode: "SUCCESS"}},
		{"ORDERCLOSED", fail(ErrCodeOrderClosed, "该订单已关"), want{status: 200, code: ErrCodeOrderClosed, returnCode: "SUCCESS"}},
		{"OUT_TRADE_NO_USED", fail(ErrCodeOutTradeNoUsed, "商户订单号重复"), want{status: 200, code: ErrCodeOutTradeNoUsed, returnCode: "SUCCESS"}},
		{"INVALID_REQUEST", fail(ErrCodeInvalidRequest, "参数错误"), want{status: 200, code: ErrCodeInvalidRequest, returnCode: "SUCCESS"}},
		{"NOTENOUGH", fail(ErrCodeNotEnough, "余额不足"), want{status: 200, code: ErrCodeNotEnough, returnCode: "SUCCESS"}},
		{"result_code FAIL without err_code", signedWith(tKey, SignMD5, okAnswer(Params{"result_code": "FAIL"})),
			want{status: 200, returnCode: "SUCCESS", is: errNoErrCode}},
		{"result_code missing", signedWith(tKey, SignMD5, func() Params { p := okAnswer(nil); delete(p, "result_code"); return p }()),
			want{status: 200, returnCode: "SUCCESS", is: ErrMissingField, field: "result_code"}},
		{"sign from another key", signedWith(otherKey, SignMD5, prepayAnswer(Params{"trade_type": "JSAPI"})), want{is: ErrSignature}},
		{"field changed after signing", func(w http.ResponseWriter, r *http.Request) {
			b := signedXML(t, tKey, SignMD5, prepayAnswer(Params{"trade_type": "JSAPI"}))
			_, _ = w.Write([]byte(strings.Replace(string(b), "wx2014", "wx2015", 1)))
		}, want{is: ErrSignature}},
		{"field added after signing", func(w http.ResponseWriter, r *http.Request) {
			b := signedXML(t, tKey, SignMD5, prepayAnswer(Params{"trade_type": "JSAPI"}))
			_, _ = w.Write([]byte(strings.Replace(string(b), "</xml>", "<code_url>weixin://evil</code_url></xml>", 1)))
		}, want{is: ErrSignature}},
		{"sign missing", func(w http.ResponseWriter, r *http.Request) {
			b, err := EncodeXML(prepayAnswer(Params{"trade_type": "JSAPI"}))
			require.NoError(t, err)
			_, _ = w.Write(b)
		}, want{is: ErrMissingSign}},
		{"sign_type other than configured", signedWith(tKey, SignHMACSHA256, okAnswer(Params{"prepay_id": "wx1", "sign_type": "HMAC-SHA256"})), want{is: ErrSignType}},
		{"HMAC sign without sign_type", signedWith(tKey, SignHMACSHA256, okAnswer(Params{"prepay_id": "wx1"})), want{is: ErrSignature}},
		{"appid mismatch", signedWith(tKey, SignMD5, okAnswer(Params{"prepay_id": "wx1", "appid": "wx0000000000000000"})), want{is: ErrMerchant}},
		{"mch_id mismatch", signedWith(tKey, SignMD5, okAnswer(Params{"prepay_id": "wx1", "mch_id": "10000200"})), want{is: ErrMerchant}},
		{"HTML with 502", rawAnswer(502, "<html><body><h1>502 Bad Gateway</h1></body></html>"),
			want{status: 502, is: ErrXML, retryable: true}},
		{"HTML with 200", rawAnswer(200, "<!DOCTYPE html><html><body>证书错误</body></html>"),
			want{status: 200, is: ErrXML}},
		{"empty body", rawAnswer(200, ""), want{status: 200, is: ErrXML}},
		{"FAIL with 500", rawAnswer(500, `<xml><return_code>FAIL</return_code><return_msg>system error</return_msg></xml>`),
			want{status: 500, returnCode: "FAIL", retryable: true}},
		{"signed SUCCESS with 503", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(503)
			_, _ = w.Write(signedXML(t, tKey, SignMD5, prepayAnswer(Params{"trade_type": "JSAPI"})))
		}, want{status: 503, retryable: true}},
		{"oversized body", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "<xml><return_code>SUCCESS</return_code><x>")
			_, _ = w.Write(make([]byte, 1<<20))
		}, want{status: 200, is: ErrResponseTooLarge}},
		{"SUCCESS without prepay_id", signedWith(tKey, SignMD5, okAnswer(Params{"trade_type": "JSAPI"})),
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

func TestCallBusinessErrorText(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/pay/unifiedorder", fakeWeChat(t, func(Params) Params {
		return okAnswer(Params{"result_code": "FAIL", "err_code": "ORDERPAID", "err_code_des": "该订单已支付"})
	}, nil))
	_, err := c.UnifiedOrder(context.Background(), validOrder())
	assertClean(t, err)
	assert.Equal(t, "wxpay: unifiedorder: ORDERPAID: 该订单已支付", err.Error())
	var we *Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, "该订单已支付", we.Message)
}

func TestCallVerificationErrorText(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/pay/unifiedorder", rawAnswer(200, `<xml><return_code>SUCCESS</return_code><appid>`+tAppID+`</appid></xml>`))
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
	c, err := NewClient(tConfig(), WithBaseURL(ts.URL), WithHTTPClient(stallingClient(t, arrived)))
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
	return "http://" + addr + tBasePath
}

func TestConnectionRefusedWithoutFailover(t *testing.T) {
	t.Parallel()
	c, err := NewClient(tConfig(), WithBaseURL(closedURL(t)))
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
	c, err := NewClient(tConfig(), WithBaseURL(closedURL(t)), WithFailover(backup.URL),
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
			c, err := NewClient(tConfig(), WithBaseURL("http://primary.invalid/base"),
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
		{name: "SYSTEMERROR", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(signedXML(t, tKey, SignMD5, okAnswer(Params{"result_code": "FAIL", "err_code": "SYSTEMERROR"})))
		}},
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
			c, err := NewClient(tConfig(), WithBaseURL(primary.URL), WithFailover(backup.URL), WithHTTPClient(hc))
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
