package wxpay

// The helpers of the package's internal tests, in one place and under one
// naming scheme: the test merchant's constants start with "test", helpers
// are named for what they do. The external tests (package wxpay_test)
// have their own in helpers_external_test.go and use wxpaytest as WeChat.

import (
	"bytes"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/internal/refsign"
)

// The test merchant: the official signing example's appid, mch_id and key
// (WeChat Pay docs, 安全规范), which the published notification vectors in
// testdata/notify are signed with.
const (
	testAppID     = "wxd930ea5d5a258f4f"
	testMchID     = "10000100"
	testKey       = "192006250b4c09247ec02edce69f6a2d"
	testNotifyURL = "https://example.com/wxpay/notify"
	// testBasePath is where the test server mounts the API, so a client
	// that drops the base URL's path is caught (go-github's setup).
	testBasePath = "/base"
)

// testConfig is the test merchant's configuration, signing with MD5.
func testConfig() Config {
	return Config{AppID: testAppID, MchID: testMchID, APIKey: testKey, NotifyURL: testNotifyURL}
}

// testClient is a client of the test merchant signing with st, without a
// server.
func testClient(tb testing.TB, st SignType, opts ...Option) *Client {
	tb.Helper()
	cfg := testConfig()
	cfg.SignType = st
	c, err := NewClient(cfg, opts...)
	require.NoError(tb, err)
	return c
}

// md5Upper is the plain definition of an MD5 sign (internal/refsign).
func md5Upper(s string) string { return refsign.MD5(s) }

// hmacUpper is the plain definition of an HMAC-SHA256 sign
// (internal/refsign).
func hmacUpper(key, s string) string { return refsign.HMACSHA256(key, s) }

// refSign is the sign WeChat computes for p under key with typ, from the
// plain definition in internal/refsign rather than with [Signer], so a
// fake holds the client to the protocol, not to itself.
func refSign(key string, typ SignType, p Params) string {
	return refsign.Sign(p, key, string(typ))
}

var update = flag.Bool("update", false, "update golden files in testdata")

// testClock is the fixed time of deterministic tests: 2024-05-01 12:00:00 in
// Beijing, Unix 1714536000.
func testClock() time.Time { return time.Unix(1714536000, 0) }

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

// testServer is a fake WeChat host that mounts the API under testBasePath,
// so a client that drops the base URL's path is caught (go-github setup).
type testServer struct {
	URL  string // base URL including testBasePath
	Mux  *http.ServeMux
	Hits atomic.Int64 // requests received on any path
	srv  *httptest.Server
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ts := &testServer{Mux: http.NewServeMux()}
	api := http.NewServeMux()
	api.Handle(testBasePath+"/", http.StripPrefix(testBasePath, ts.Mux))
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the base path: %s %s", r.Method, r.URL.Path)
		http.Error(w, "outside base path", http.StatusBadRequest)
	})
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.Hits.Add(1)
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.srv.Close)
	ts.URL = ts.srv.URL + testBasePath
	return ts
}

// setup returns a client wired to a fresh fake server, the mux to register
// endpoint handlers on, and the server (for request counts). opts are
// applied after the defaults, so they may override them.
func setup(t *testing.T, opts ...Option) (*Client, *http.ServeMux, *testServer) {
	t.Helper()
	ts := newTestServer(t)
	all := append([]Option{WithBaseURL(ts.URL), WithHTTPClient(ts.srv.Client())}, opts...)
	c, err := NewClient(testConfig(), all...)
	require.NoError(t, err)
	return c, ts.Mux, ts
}

// okAnswer is a successful answer's common fields plus extra; extra wins.
func okAnswer(extra Params) Params {
	p := Params{
		"return_code": "SUCCESS",
		"return_msg":  "OK",
		"appid":       testAppID,
		"mch_id":      testMchID,
		"nonce_str":   "ibuaiVcKdpRxkhJA",
		"result_code": "SUCCESS",
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// signXML signs a copy of p under key with typ, as WeChat would (any sign
// in p is replaced), and encodes it.
func signXML(key string, typ SignType, p Params) ([]byte, error) {
	q := make(Params, len(p)+1)
	for k, v := range p {
		q[k] = v
	}
	q["sign"] = refSign(key, typ, q)
	return EncodeXML(q)
}

// signedXML is signXML for the test goroutine: it fails the test on error.
// Handlers use writeSigned instead, since FailNow must not be called from
// a handler's goroutine.
func signedXML(t testing.TB, key string, typ SignType, p Params) []byte {
	t.Helper()
	b, err := signXML(key, typ, p)
	require.NoError(t, err)
	return b
}

// writeSigned answers an HTTP request with p signed under key with typ,
// as WeChat would. Run in a handler's goroutine, it reports a failure to
// encode with t.Errorf and answers 500.
func writeSigned(t testing.TB, w http.ResponseWriter, key string, typ SignType, p Params) {
	b, err := signXML(key, typ, p)
	if err != nil {
		t.Errorf("encode answer: %v", err)
		http.Error(w, "cannot encode answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(b)
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
			http.Error(w, "cannot read request", http.StatusBadRequest)
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
		if want := refSign(testKey, typ, req); req["sign"] != want {
			t.Errorf("request sign = %q, want %q", req["sign"], want)
		}
		if req["appid"] != testAppID || req["mch_id"] != testMchID || len(req["nonce_str"]) != NonceLen {
			t.Errorf("request header fields: appid=%q mch_id=%q nonce_str=%q", req["appid"], req["mch_id"], req["nonce_str"])
		}
		if got != nil {
			got <- req
		}
		writeSigned(t, w, testKey, typ, answer(req))
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
	assert.NotContains(t, msg, testKey, "error text must never contain the API key")
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

// The exact replies WeChat expects, written out here rather than taken
// from the package so that a change to them fails a test.
const (
	replySuccess = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
	replyInvalid = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[invalid notification]]></return_msg></xml>"
	replyFailed  = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[processing failed]]></return_msg></xml>"
	replyMethod  = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[method not allowed]]></return_msg></xml>"
	replyLarge   = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[body too large]]></return_msg></xml>"
)

func notifyFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "notify", name))
	require.NoError(tb, err)
	return b
}

// s1Params returns the fields of the S1 vector, without sign.
func s1Params(tb testing.TB) Params {
	tb.Helper()
	p, err := DecodeXML(notifyFixture(tb, "s1_md5.xml"))
	require.NoError(tb, err)
	delete(p, "sign")
	return p
}

// signedFor signs p (replacing any sign) with the test key in c's sign
// type, by the plain definition rather than the signer under test, and
// encodes it.
func signedFor(tb testing.TB, c *Client, p Params) []byte {
	tb.Helper()
	return signedXML(tb, testKey, c.Signer().Type(), p)
}

func encodeXML(tb testing.TB, p Params) []byte {
	tb.Helper()
	b, err := EncodeXML(p)
	require.NoError(tb, err)
	return b
}

// withFields returns a copy of p with the given name/value pairs set; a value
// of "\x00" deletes the field.
func withFields(p Params, kv ...string) Params {
	q := make(Params, len(p))
	for k, v := range p {
		q[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "\x00" {
			delete(q, kv[i])
			continue
		}
		q[kv[i]] = kv[i+1]
	}
	return q
}

// s1Want is the typed form of the S1 vector (testdata/notify/README.md),
// written out by hand.
func s1Want() Notification {
	return Notification{
		AppID: testAppID,
		MchID: testMchID,
		Payment: Payment{
			OpenID:             "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
			IsSubscribe:        false,
			TradeType:          TradeJSAPI,
			BankType:           "CMC",
			TotalFee:           100,
			SettlementTotalFee: NullFen{90, true},
			CashFee:            NullFen{80, true},
			CouponFee:          NullFen{20, true},
			FeeType:            FeeCNY,
			Coupons: []Coupon{
				{ID: "10000", Type: CouponCash, Fee: 10},
				{ID: "10001", Type: CouponNoCash, Fee: 10},
			},
			TransactionID: "1004400740201409030005092168",
			OutTradeNo:    "1409811653",
			Attach:        "支付测试",
			TimeEnd:       time.Date(2014, 10, 30, 13, 35, 25, 0, time.FixedZone("UTC+8", 8*3600)),
		},
		ResultCode: "SUCCESS",
	}
}

var ignoreRaw = cmpopts.IgnoreFields(Notification{}, "Raw")

// badCase is an input every notification entry point must refuse.
type badCase struct {
	name   string
	body   []byte
	is     error     // errors.Is target, if any
	field  string    // FieldError.Field, if any
	op     string    // *Error Op, if the error is a FAIL answer
	reason XMLReason // XMLError.Reason, if any
}

func (bc badCase) check(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	if bc.is != nil {
		assert.ErrorIs(t, err, bc.is)
	}
	if bc.field != "" {
		var fe *FieldError
		if assert.ErrorAs(t, err, &fe) {
			assert.Equal(t, bc.field, fe.Field)
		}
	}
	if bc.op != "" {
		var we *Error
		if assert.ErrorAs(t, err, &we) {
			assert.Equal(t, bc.op, we.Op)
			assert.Equal(t, "FAIL", we.ReturnCode)
		}
	}
	if bc.reason != 0 {
		var xe *XMLError
		if assert.ErrorAs(t, err, &xe) {
			assert.Equal(t, bc.reason, xe.Reason)
		}
	}
	assert.True(t, strings.HasPrefix(err.Error(), "wxpay: "), "error text %q", err)
	assert.NotContains(t, err.Error(), testKey)
}

// badNotifications are bodies an MD5 client with the test merchant must
// refuse. Most are S1 with one change, re-signed with the right key where
// the point is that a valid signature alone is not enough.
func badNotifications(tb testing.TB) []badCase {
	tb.Helper()
	c := testClient(tb, SignMD5)
	s1 := s1Params(tb)
	good := notifyFixture(tb, "s1_md5.xml")
	const goodSign = "A00744A890852A2FA7B302F5C76762B6"
	resign := func(kv ...string) []byte { return signedFor(tb, c, withFields(s1, kv...)) }

	otherKey, err := NewSigner("0123456789abcdef0123456789abcdef", SignMD5)
	require.NoError(tb, err)
	foreign := withFields(s1)
	foreign["sign"] = otherKey.Sign(foreign)

	hmacSigner, err := NewSigner(testKey, SignHMACSHA256)
	require.NoError(tb, err)
	downgrade := withFields(s1, "sign_type", "HMAC-SHA256")
	downgrade["sign"] = hmacSigner.Sign(downgrade)

	// The JSAPI pay parameters (WeChat Pay docs, jsapi.php?chapter=7_7)
	// are signed with the same key by the same algorithm, but are no
	// notification.
	jsapi := Params{
		"appId":     testAppID,
		"nonceStr":  "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
		"package":   "prepay_id=wx201410272009395522657a690389285100",
		"signType":  "MD5",
		"timeStamp": "1412000000",
	}
	jsapiPaySign := withFields(jsapi, "paySign", c.Signer().Sign(jsapi))
	// A closeorder answer: signed, SUCCESS, our merchant, but no payment.
	closeOrder := Params{
		"return_code": "SUCCESS", "return_msg": "OK", "appid": testAppID, "mch_id": testMchID,
		"nonce_str": "BFK89FC6rxKCOjLX", "result_code": "SUCCESS", "result_msg": "OK",
	}

	cases := []badCase{
		{name: "empty body", body: nil, is: ErrXML, reason: XMLEmpty},
		{name: "not xml", body: []byte("return_code=SUCCESS&total_fee=1"), is: ErrXML},
		{name: "missing sign", body: encodeXML(tb, s1), is: ErrMissingSign},
		{name: "empty sign", body: encodeXML(tb, withFields(s1, "sign", "")), is: ErrMissingSign},
		{name: "flipped sign", body: bytes.Replace(good, []byte(goodSign), []byte("A00744A890852A2FA7B302F5C76762B7"), 1), is: ErrSignature},
		{name: "lowercase sign", body: bytes.Replace(good, []byte(goodSign), []byte(strings.ToLower(goodSign)), 1), is: ErrSignature},
		{name: "truncated sign", body: bytes.Replace(good, []byte(goodSign), []byte(goodSign[:31]), 1), is: ErrSignature},
		{name: "sign of another key", body: encodeXML(tb, foreign), is: ErrSignature},
		{name: "stale sign after changed amount", body: bytes.Replace(good, []byte("<total_fee>100<"), []byte("<total_fee>1<"), 1), is: ErrSignature},
		{name: "stale sign after added field", body: encodeXML(tb, withFields(s1, "sign", goodSign, "device_info", "x")), is: ErrSignature},
		{name: "sign_type other than configured", body: encodeXML(tb, downgrade), is: ErrSignType},
		{name: "sign_type unknown", body: resign("sign_type", "SHA1"), is: ErrSignType},
		{name: "wrong appid", body: resign("appid", "wx0000000000000000"), is: ErrMerchant},
		{name: "wrong mch_id", body: resign("mch_id", "10000101"), is: ErrMerchant},
		{name: "missing appid", body: resign("appid", "\x00"), is: ErrMerchant},
		{name: "return_code FAIL", body: encodeXML(tb, Params{"return_code": "FAIL", "return_msg": "签名失败"}), op: "notify"},
		{name: "return_code FAIL signed", body: resign("return_code", "FAIL"), op: "notify"},
		{name: "return_code missing", body: resign("return_code", "\x00"), is: ErrMissingField, field: "return_code"},
		{name: "missing out_trade_no", body: resign("out_trade_no", "\x00"), is: ErrMissingField, field: "out_trade_no"},
		{name: "missing transaction_id", body: resign("transaction_id", "\x00"), is: ErrMissingField, field: "transaction_id"},
		{name: "missing total_fee", body: resign("total_fee", "\x00"), is: ErrMissingField, field: "total_fee"},
		{name: "missing result_code", body: resign("result_code", "\x00"), is: ErrMissingField, field: "result_code"},
		{name: "empty total_fee", body: resign("total_fee", ""), is: ErrMissingField, field: "total_fee"},
		{name: "total_fee 0100", body: resign("total_fee", "0100"), is: ErrAmount, field: "total_fee"},
		{name: "total_fee +1", body: resign("total_fee", "+1"), is: ErrAmount, field: "total_fee"},
		{name: "total_fee -1", body: resign("total_fee", "-1"), is: ErrAmount, field: "total_fee"},
		{name: "total_fee 1e2", body: resign("total_fee", "1e2"), is: ErrAmount, field: "total_fee"},
		{name: "total_fee leading space", body: resign("total_fee", " 1"), is: ErrAmount, field: "total_fee"},
		{name: "total_fee trailing space", body: resign("total_fee", "1 "), is: ErrAmount, field: "total_fee"},
		{name: "total_fee decimal", body: resign("total_fee", "1.00"), is: ErrAmount, field: "total_fee"},
		{name: "total_fee overflow", body: resign("total_fee", "9999999999999999999"), is: ErrAmount, field: "total_fee"},
		{name: "orderquery answer for unpaid order", body: resign("trade_state", "NOTPAY"), field: "trade_state"},
		{name: "jsapi pay params with paySign", body: encodeXML(tb, jsapiPaySign), is: ErrMissingField, field: "return_code"},
		{name: "jsapi pay params signed as a message", body: signedFor(tb, c, withFields(jsapi, "return_code", "SUCCESS", "appid", testAppID, "mch_id", testMchID)), is: ErrMissingField, field: "result_code"},
		{name: "closeorder answer", body: signedFor(tb, c, closeOrder), is: ErrMissingField, field: "out_trade_no"},
		{name: "duplicate field", body: bytes.Replace(good, []byte("<total_fee>100</total_fee>"), []byte("<total_fee>100</total_fee><total_fee>1</total_fee>"), 1), is: ErrXML, reason: XMLDuplicate},
		{name: "duplicate sign", body: bytes.Replace(good, []byte("</xml>"), []byte("<sign>"+goodSign+"</sign></xml>"), 1), is: ErrXML, reason: XMLDuplicate},
		{name: "doctype", body: append([]byte(`<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>`), good...), is: ErrXML, reason: XMLDoctype},
		{name: "nested element", body: bytes.Replace(good, []byte("<total_fee>100</total_fee>"), []byte("<total_fee><v>100</v></total_fee>"), 1), is: ErrXML, reason: XMLNested},
		{name: "trailing document", body: append(append([]byte{}, good...), good...), is: ErrXML, reason: XMLTrailing},
		{name: "wrong root", body: bytes.ReplaceAll(good, []byte("xml>"), []byte("root>")), is: ErrXML, reason: XMLRoot},
	}
	return cases
}

// serveNotify runs one request through h and counts nothing itself.
func serveNotify(h http.Handler, method string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/wxpay/notify", bytes.NewReader(body))
	r.Header.Set("Content-Type", "text/xml")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func assertReply(t *testing.T, w *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	assert.Equal(t, status, w.Code)
	assert.Equal(t, body, w.Body.String())
	assert.Equal(t, "text/xml; charset=utf-8", w.Header().Get("Content-Type"))
}

// logBuffer is a bytes.Buffer safe for the parallel subtests' loggers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// canonical is the string-to-sign by the plain definition in
// internal/refsign, the one reference signer of the tests; floor
// benchmarks use it too (it sizes its buffer once, as a fast
// standard-library floor should).
func canonical(p Params, key string) string { return refsign.Canonical(p, key) }

// minimalScan is the least a parser of a flat message can do with the
// standard library: find each <name>, take the text up to the next "</",
// strip CDATA. It validates nothing; floor benchmarks use it.
func minimalScan(body []byte) Params {
	p := make(Params, 32)
	rest := body
	for {
		lt := bytes.IndexByte(rest, '<')
		if lt < 0 || lt+1 >= len(rest) {
			return p
		}
		rest = rest[lt+1:]
		gt := bytes.IndexByte(rest, '>')
		if gt < 0 {
			return p
		}
		name := rest[:gt]
		rest = rest[gt+1:]
		if rest0 := name[0]; rest0 == '/' || rest0 == '?' || string(name) == "xml" {
			continue // end tags, the declaration, the root
		}
		end := bytes.Index(rest, []byte("</"))
		val := rest[:end]
		if bytes.HasPrefix(val, []byte("<![CDATA[")) {
			val = val[9 : len(val)-3]
		}
		p[string(name)] = string(val)
		rest = rest[end:]
	}
}

func mustSigner(t testing.TB, key string, typ SignType) *Signer {
	t.Helper()
	s, err := NewSigner(key, typ)
	require.NoError(t, err)
	return s
}
