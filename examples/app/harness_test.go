package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/wxpay-go/wxpay/examples/api"
	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/examples/client"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

const testJWTSecret = "test-secret-0123456789abcdefghijklmnopqrstuvwxyz"

// Payment timings of the tests, on the fake's clock (60 times real time):
// 6 minutes of pay window are 6 seconds.
var testTiming = shop.Timing{PayWindow: 6 * time.Minute}

var registerXML sync.Once

// syncBuf collects the server's log output.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// secrets collects every secret the test run sees, to check that none
// reaches a log line or a response body where it must not be.
type secrets struct {
	mu   sync.Mutex
	list map[string]string // value -> what it is
}

func (s *secrets) add(what, v string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.list == nil {
		s.list = map[string]string{}
	}
	s.list[v] = what
}

func (s *secrets) find(text string, allowJWT string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []string
	for v, what := range s.list {
		if v != allowJWT && strings.Contains(text, v) {
			found = append(found, what)
		}
	}
	for _, m := range jwtRE.FindAllString(text, -1) {
		if m != allowJWT {
			found = append(found, "a JWT")
		}
	}
	return found
}

// internalPrefix returns the package prefix ("shop: ", "wxpay: ", ...)
// an error body's message carries, or "": API messages are written for
// the client where the error is made, never a Go error's text.
func internalPrefix(body []byte) string {
	var e api.ErrorBody
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	for _, p := range []string{"shop: ", "api: ", "app: ", "wxpay: ", "wxpaytest: ", "miniprogram: "} {
		if strings.Contains(e.Error.Message, p) {
			return p
		}
	}
	return ""
}

var jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)

// wechatRecorder sits between the server and the fake WeChat: it counts
// the server's calls and notes the session keys WeChat hands out.
type wechatRecorder struct {
	sec   *secrets
	mu    sync.Mutex
	calls map[string]int
}

func (w *wechatRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.calls[strings.TrimPrefix(req.URL.Path, "/fake")]++
	w.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/sns/jscode2session") {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var v struct {
		SessionKey string `json:"session_key"`
	}
	if json.Unmarshal(b, &v) == nil {
		w.sec.add("a session_key", v.SessionKey)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// payCalls is how many WeChat Pay calls the server made.
func (w *wechatRecorder) payCalls() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for p, c := range w.calls {
		if strings.HasPrefix(p, "/pay/") || strings.HasPrefix(p, "/v3/pay/") {
			n += c
		}
	}
	return n
}

// validator checks every response the tests receive against the OpenAPI
// document, and that no response body carries a secret.
type validator struct {
	tr     *http.Transport
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	sec    *secrets
}

func (v *validator) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := v.tr.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if strings.HasPrefix(req.URL.Path, "/fake/") {
		return resp, nil // the fake WeChat is not this API
	}
	if resp.Header.Get(app.FakeHeader) == "" {
		v.t.Errorf("%s %s: response without the %s header", req.Method, req.URL.Path, app.FakeHeader)
	}
	allow := ""
	if req.URL.Path == "/users/wxLogin" && resp.StatusCode == 200 {
		var lr api.LoginResponse
		if json.Unmarshal(body, &lr) == nil {
			allow = lr.Token
			v.sec.add("a JWT issued at login", lr.Token)
		}
	}
	if found := v.sec.find(string(body), allow); len(found) > 0 {
		v.t.Errorf("%s %s: response body contains %v", req.Method, req.URL.Path, found)
	}
	if p := internalPrefix(body); p != "" {
		v.t.Errorf("%s %s: an error message carries the internal prefix %q: %s", req.Method, req.URL.Path, p, body)
	}

	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := v.router.FindRoute(vreq)
	if err != nil {
		// Not a documented route: it must still answer in the error shape.
		var doc any
		if err := json.Unmarshal(body, &doc); err != nil {
			v.t.Errorf("%s %s: undocumented route answered non-JSON %q", req.Method, req.URL.Path, body)
		} else if err := v.doc.Components.Schemas["Error"].Value.VisitJSON(doc, openapi3.EnableJSONSchema2020()); err != nil {
			v.t.Errorf("%s %s: undocumented route answered outside the error shape: %v", req.Method, req.URL.Path, err)
		}
		return resp, nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		v.t.Errorf("%s %s: response %d does not match the OpenAPI document: %v\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
	return resp, nil
}

type harness struct {
	t    *testing.T
	s    *app.Server
	logs *syncBuf
	sec  *secrets
	wx   *wechatRecorder
	http *http.Client
	db   *sql.DB // a read-only view of the server's database
}

func newHarness(t *testing.T) *harness { return newHarnessTiming(t, testTiming) }

func newHarnessTiming(t *testing.T, timing shop.Timing) *harness {
	t.Helper()
	return newHarnessOn(t, timing, testAPI())
}

// newHarnessOn is a harness on WeChat Pay API generation ("v2" or "v3")
// whatever generation this process runs the suite on, for a test whose
// subject is one generation's wire format.
func newHarnessOn(t *testing.T, timing shop.Timing, generation string) *harness {
	t.Helper()
	registerXML.Do(func() { openapi3filter.RegisterBodyDecoder("text/xml", openapi3filter.PlainBodyDecoder) })
	h := &harness{t: t, logs: &syncBuf{}, sec: &secrets{}}
	h.sec.add("JWT_SECRET", testJWTSecret)
	h.wx = &wechatRecorder{sec: h.sec, calls: map[string]int{}}
	dbPath := t.TempDir() + "/shop.db"
	pgURL := testStoreURL(t) // "" on SQLite
	// Registered first, so it runs last: after the server has stopped and
	// written its last line.
	t.Cleanup(func() {
		logs := h.logs.String()
		for _, line := range strings.Split(logs, "\n") {
			if found := h.sec.find(line, ""); len(found) > 0 {
				t.Errorf("log line contains %v: %.200s", found, line)
			}
		}
		if t.Failed() || os.Getenv("SHOW_SERVER_LOG") != "" {
			t.Logf("server log:\n%s", logs)
		}
	})
	s, err := app.Start(context.Background(), app.Config{
		Addr:        "127.0.0.1:0",
		DBPath:      dbPath,
		DatabaseURL: pgURL,
		Speed:       60,
		JWTSecret:   testJWTSecret,
		HTTPClient:  &http.Client{Transport: h.wx, Timeout: 10 * time.Second},
		Timing:      timing,
		API:         generation,
	}, h.logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	h.s = s
	h.sec.add("the API key", s.FakeConfig.APIKey)
	h.sec.add("the AppSecret", s.FakeConfig.AppSecret)
	h.sec.add("ADMIN_TOKEN", s.AdminToken)
	if s.FakeConfig.APIv3Key != "" {
		h.sec.add("the APIv3 key", s.FakeConfig.APIv3Key)
		h.sec.add("the WeChat Pay private key", pemBody(s.FakeConfig.WeChatPayKey))
		_, mchKey := s.Fake.V3MerchantKey()
		h.sec.add("the merchant private key", pemBody(mchKey))
	}

	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: s.URL}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	h.http = &http.Client{Transport: &validator{tr: tr, t: t, doc: doc, router: router, sec: h.sec}, Timeout: 20 * time.Second}
	// Runs before the server's Close: connections the client opened but
	// never used would hold up its graceful shutdown for 5 seconds.
	t.Cleanup(tr.CloseIdleConnections)
	if pgURL != "" {
		h.db, err = sql.Open("pgx", pgURL)
	} else {
		h.db, err = sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(10000)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.db.Close() })
	return h
}

// user returns a client logged in as a new user.
func (h *harness) user() *client.Client {
	h.t.Helper()
	c := &client.Client{Base: h.s.URL, HTTP: h.http}
	code, err := c.FakeLogin(context.Background(), "")
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := c.Login(context.Background(), code); err != nil {
		h.t.Fatal(err)
	}
	return c
}

// state is a fingerprint of everything the server stores.
func (h *harness) state() string { return h.stateOf(true) }

// stateOf is state, leaving out the anomalies table unless withAnomalies.
func (h *harness) stateOf(withAnomalies bool) string {
	h.t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT COUNT(*) FROM users`,
		`SELECT COUNT(*) FROM orders`,
		`SELECT COALESCE(group_concat(id || ':' || status || ':' || COALESCE(transaction_id, ''), ','), '') FROM (SELECT * FROM orders ORDER BY id) AS t`,
		`SELECT COUNT(*) FROM order_lines`,
		`SELECT COUNT(*) FROM idempotency_keys`,
		`SELECT COALESCE(group_concat(out_trade_no || ':' || state || ':' || COALESCE(prepay_id, ''), ','), '') FROM (SELECT * FROM pay_attempts ORDER BY out_trade_no) AS t`,
		`SELECT COUNT(*) FROM payments`,
		`SELECT COUNT(*) FROM anomalies`,
		`SELECT COUNT(*) FROM river_job`,
	} {
		if !withAnomalies && strings.Contains(q, "anomalies") {
			continue
		}
		var v string
		q = h.dialect(q)
		if err := h.db.QueryRow(q).Scan(&v); err != nil {
			h.t.Fatalf("%s: %v", q, err)
		}
		fmt.Fprintf(&b, "%s\n", v)
	}
	fmt.Fprintf(&b, "WeChat Pay calls: %d\n", h.wx.payCalls())
	return b.String()
}

func (h *harness) orderStatus(id int64) string {
	h.t.Helper()
	var s string
	if err := h.db.QueryRow(`SELECT status FROM orders WHERE id = $1`, id).Scan(&s); err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) count(q string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.QueryRow(q, args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// waitFor polls cond until it holds or d passes.
func (h *harness) waitFor(d time.Duration, what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// placeAndPrepay places an order of two coffees and gets its payment.
func (h *harness) placeAndPrepay(c *client.Client) (shop.Order, client.PayResult) {
	h.t.Helper()
	ctx := context.Background()
	o, err := c.CreateOrder(ctx, []shop.Item{{GoodsID: 101, Count: 2}}, "")
	if err != nil {
		h.t.Fatal(err)
	}
	p, err := c.Pay(ctx, o.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return o, p
}

var _ = wxpaytest.NotificationBody

// TestSecretScanner: the check every test runs on logs and bodies does
// find what it looks for.
func TestSecretScanner(t *testing.T) {
	var s secrets
	s.add("the API key", "0123456789abcdefghijklmnopqrstuv")
	jwtText := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
	for text, want := range map[string]int{
		"nothing here":                         0,
		"key=0123456789abcdefghijklmnopqrstuv": 1,
		"token " + jwtText:                     1,
	} {
		if got := len(s.find(text, "")); got != want {
			t.Errorf("find(%q) found %d, want %d", text, got, want)
		}
	}
	if got := s.find("token "+jwtText, jwtText); len(got) != 0 {
		t.Errorf("the allowed JWT was reported: %v", got)
	}
}

// dialect adapts a test query written for SQLite to the store under test:
// PostgreSQL calls group_concat string_agg (both ordered by a subquery).
func (h *harness) dialect(q string) string {
	if os.Getenv(storeEnv) != "" {
		return strings.ReplaceAll(q, "group_concat(", "string_agg(")
	}
	return q
}

// startRealMode starts a server with every WeChat credential set (real
// mode) whose HTTP client fails the test on any call to WeChat, and
// returns it with its log; it is closed when the test ends.
func startRealMode(t *testing.T) (*app.Server, *syncBuf) {
	t.Helper()
	getenv := env(map[string]string{
		"WXPAY_APPID": "wx8888888888888888", "WXPAY_MCHID": "1900000109", "WXPAY_API_KEY": strings.Repeat("k", 32),
		"WX_APP_SECRET": strings.Repeat("s", 32), "PUBLIC_URL": "https://shop.example.com", "JWT_SECRET": testJWTSecret,
	})
	c, err := app.ParseConfig([]string{"-addr", "127.0.0.1:0", "-db", t.TempDir() + "/x.db"}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	c.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("called WeChat: %s", r.URL.Path)
		return nil, errors.New("no network in tests")
	})}
	logs := &syncBuf{}
	s, err := app.Start(context.Background(), c, logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, logs
}
