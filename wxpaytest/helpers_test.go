package wxpaytest_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

const (
	testAppID  = "wxd930ea5d5a258f4f"
	testMchID  = "10000100"
	testKey    = "192006250b4c09247ec02edce69f6a2d"
	testSecret = "0123456789abcdef0123456789abcdef"
)

func testConfig() wxpaytest.Config {
	return wxpaytest.Config{AppID: testAppID, MchID: testMchID, APIKey: testKey, AppSecret: testSecret}
}

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newClient returns a wxpay client of the fake's merchant.
func newClient(t testing.TB, s *wxpaytest.Server, st wxpay.SignType, notifyURL string) *wxpay.Client {
	t.Helper()
	c, err := wxpay.NewClient(wxpay.Config{
		AppID: testAppID, MchID: testMchID, APIKey: testKey, SignType: st, NotifyURL: notifyURL,
	}, wxpay.WithBaseURL(s.URL), wxpay.WithHTTPClient(s.Client()))
	require.NoError(t, err)
	return c
}

// post sends a raw v2 request to the fake and decodes the answer.
func post(t testing.TB, s *wxpaytest.Server, path string, body []byte) wxpay.Params {
	t.Helper()
	resp, err := s.Client().Post(s.URL+path, "text/xml", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	p, err := wxpay.DecodeXML(b)
	require.NoError(t, err, "answer %q", b)
	return p
}

// signed encodes p signed with key and st, adding the common fields the
// caller left out.
func signed(t testing.TB, p wxpay.Params, key string, st wxpay.SignType) []byte {
	t.Helper()
	q := wxpay.Params{"appid": testAppID, "mch_id": testMchID, "nonce_str": "ibuaiVcKdpRxkhJA"}
	for k, v := range p {
		q[k] = v
	}
	s, err := wxpay.NewSigner(key, st)
	require.NoError(t, err)
	q["sign"] = s.Sign(q)
	b, err := wxpay.EncodeXML(q)
	require.NoError(t, err)
	return b
}

// orderFields is a valid JSAPI unifiedorder request.
func orderFields(outTradeNo string) wxpay.Params {
	return wxpay.Params{
		"body":             "test",
		"out_trade_no":     outTradeNo,
		"total_fee":        "100",
		"spbill_create_ip": "127.0.0.1",
		"notify_url":       "https://example.com/notify",
		"trade_type":       "JSAPI",
		"openid":           "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
	}
}

// requireSignedBy checks an answer's sign with the plain MD5/HMAC rules of
// the library under test.
func requireSignedBy(t testing.TB, p wxpay.Params, key string, st wxpay.SignType) {
	t.Helper()
	s, err := wxpay.NewSigner(key, st)
	require.NoError(t, err)
	require.NoError(t, s.Verify(p))
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newMux serves h under prefix, as http.StripPrefix mounts it.
func newMux(prefix string, h http.Handler) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle(prefix, http.StripPrefix(strings.TrimSuffix(prefix, "/"), h))
	return httptest.NewServer(mux)
}
