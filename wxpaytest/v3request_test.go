package wxpaytest_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay/internal/v3wire"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// merchantKey parses the key the fake minted for its merchant.
func merchantKey(t testing.TB, f *wxpaytest.Fake) (string, *rsa.PrivateKey) {
	t.Helper()
	serial, keyPEM := f.V3MerchantKey()
	block, _ := pem.Decode(keyPEM)
	require.NotNil(t, block)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	return serial, k.(*rsa.PrivateKey)
}

// v3Req is a v3 request as a client writes it, signed over what it
// holds at the time sign is called.
type v3Req struct {
	method, uri string
	body        []byte
	header      http.Header
	auth        v3wire.Authorization
}

func newV3Req(t testing.TB, f *wxpaytest.Fake, method, uri string, body []byte) *v3Req {
	t.Helper()
	serial, key := merchantKey(t, f)
	r := &v3Req{method: method, uri: uri, body: body, header: http.Header{}}
	r.header.Set("Accept", "application/json")
	r.header.Set("User-Agent", "wxpaytest-test/1")
	if len(body) > 0 {
		r.header.Set("Content-Type", "application/json")
	}
	ts := strconv.FormatInt(f.Now().Unix(), 10)
	sig, err := v3wire.Sign(key, v3wire.RequestMessage(method, uri, ts, "593BEC0C930BF1AFEB40B4A08C8FB242", body))
	require.NoError(t, err)
	r.auth = v3wire.Authorization{MchID: testMchID, NonceStr: "593BEC0C930BF1AFEB40B4A08C8FB242", Timestamp: ts, SerialNo: serial, Signature: sig}
	r.header.Set("Authorization", r.auth.Header())
	return r
}

// serve sends r to f directly (no network) and returns the recorder.
func (r *v3Req) serve(f *wxpaytest.Fake) *httptest.ResponseRecorder {
	req := httptest.NewRequest(r.method, r.uri, strings.NewReader(string(r.body)))
	req.Header = r.header.Clone()
	w := httptest.NewRecorder()
	f.ServeHTTP(w, req)
	return w
}

const goodPrepay = `{"appid":"` + testAppID + `","mchid":"` + testMchID + `","description":"d","out_trade_no":"table00001","notify_url":"https://example.com/n","amount":{"total":100},"payer":{"openid":"o1"}}`

// Every kind of bad v3 request gets WeChat's answer and changes nothing;
// refusals before the signature passed are unsigned, later ones signed.
func TestV3BadRequests(t *testing.T) {
	clk := newClock()
	cfg := v3Config(wxpaytest.V3SignPublicKey)
	cfg.Now = clk.Now
	f, err := wxpaytest.New(cfg)
	require.NoError(t, err)
	defer f.Close()
	prepay := string(wxpaytest.EndpointV3PrepayJSAPI)
	query := "/v3/pay/transactions/out-trade-no/table00001"
	abnormal := "/v3/refund/domestic/refunds/50000000001/apply-abnormal-refund"
	const abnormalBody = `{"out_refund_no":"r1","type":"USER_BANK_CARD","bank_type":"ICBC_DEBIT","bank_account":"MTIzNA==","real_name":"MTIzNA=="}`
	body := func(s string) []byte { return []byte(s) }
	with := func(old, new string) []byte { return []byte(strings.Replace(goodPrepay, old, new, 1)) }

	for name, tc := range map[string]struct {
		method, uri string
		body        []byte
		bend        func(r *v3Req)
		status      int
		code        string
		signed      bool
		field       string
	}{
		"no Authorization": {"POST", prepay, body(goodPrepay), func(r *v3Req) { r.header.Del("Authorization") }, 401, "SIGN_ERROR", false, ""},
		"garbled Authorization": {"POST", prepay, body(goodPrepay), func(r *v3Req) {
			r.header.Set("Authorization", strings.Replace(r.header.Get("Authorization"), `",`, `" ,`, 1))
		}, 401, "SIGN_ERROR", false, ""},
		"two Authorization headers": {"POST", prepay, body(goodPrepay), func(r *v3Req) { r.header.Add("Authorization", r.auth.Header()) }, 401, "SIGN_ERROR", false, ""},
		"other scheme": {"POST", prepay, body(goodPrepay), func(r *v3Req) {
			r.header.Set("Authorization", "WECHATPAY2-SM2-WITH-SM3"+strings.TrimPrefix(r.auth.Header(), v3wire.Scheme))
		}, 401, "SIGN_ERROR", false, ""},
		"wrong mchid": {"POST", prepay, body(goodPrepay), func(r *v3Req) {
			a := r.auth
			a.MchID = "10000101"
			r.header.Set("Authorization", a.Header())
		}, 401, "SIGN_ERROR", false, ""},
		"wrong serial": {"POST", prepay, body(goodPrepay), func(r *v3Req) {
			a := r.auth
			a.SerialNo = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"
			r.header.Set("Authorization", a.Header())
		}, 401, "SIGN_ERROR", false, ""},
		"stale timestamp":  {"POST", prepay, body(goodPrepay), func(r *v3Req) { clk.Add(6 * time.Minute) }, 401, "SIGN_ERROR", false, ""},
		"future timestamp": {"POST", prepay, body(goodPrepay), func(r *v3Req) { clk.Add(-6 * time.Minute) }, 401, "SIGN_ERROR", false, ""},
		"body edited after signing": {"POST", prepay, body(goodPrepay), func(r *v3Req) {
			r.body = []byte(strings.Replace(goodPrepay, `"total":100`, `"total":1`, 1))
		}, 401, "SIGN_ERROR", false, "signature"},
		"path edited after signing":  {"POST", prepay, body(goodPrepay), func(r *v3Req) { r.uri = string(wxpaytest.EndpointV3PrepayApp) }, 401, "SIGN_ERROR", false, "signature"},
		"no User-Agent":              {"POST", prepay, body(goodPrepay), func(r *v3Req) { r.header.Del("User-Agent") }, 400, "INVALID_REQUEST", false, ""},
		"no Accept":                  {"POST", prepay, body(goodPrepay), func(r *v3Req) { r.header.Del("Accept") }, 400, "INVALID_REQUEST", false, ""},
		"Accept XML":                 {"POST", prepay, body(goodPrepay), func(r *v3Req) { r.header.Set("Accept", "text/xml") }, 400, "INVALID_REQUEST", false, ""},
		"Content-Type":               {"POST", prepay, body(goodPrepay), func(r *v3Req) { r.header.Set("Content-Type", "text/plain") }, 400, "INVALID_REQUEST", false, ""},
		"wrong method":               {"GET", prepay, nil, nil, 405, "INVALID_REQUEST", false, ""},
		"oversized body":             {"POST", prepay, []byte(`{"x":"` + strings.Repeat("a", 70<<10) + `"}`), nil, 413, "INVALID_REQUEST", false, ""},
		"unknown field":              {"POST", prepay, with(`"description"`, `"extra":1,"description"`), nil, 400, "PARAM_ERROR", true, "extra"},
		"duplicate key":              {"POST", prepay, with(`"description":"d"`, `"description":"d","description":"e"`), nil, 400, "PARAM_ERROR", true, "/description"},
		"wrong type":                 {"POST", prepay, with(`"total":100`, `"total":"100"`), nil, 400, "PARAM_ERROR", true, "/amount/total"},
		"fractional fen":             {"POST", prepay, with(`"total":100`, `"total":1.5`), nil, 400, "PARAM_ERROR", true, "/amount/total"},
		"negative amount":            {"POST", prepay, with(`"total":100`, `"total":-1`), nil, 400, "PARAM_ERROR", true, "/amount/total"},
		"null":                       {"POST", prepay, with(`"attach"`, `"attach"`)[:0:0], nil, 400, "PARAM_ERROR", true, "body"},
		"null value":                 {"POST", prepay, with(`"description":"d"`, `"description":null`), nil, 400, "PARAM_ERROR", true, "/description"},
		"missing field":              {"POST", prepay, with(`"description":"d",`, ``), nil, 400, "PARAM_ERROR", true, "/description"},
		"no openid":                  {"POST", prepay, with(`,"payer":{"openid":"o1"}`, ``), nil, 400, "PARAM_ERROR", true, "/payer/openid"},
		"other currency":             {"POST", prepay, with(`"total":100`, `"total":100,"currency":"USD"`), nil, 400, "PARAM_ERROR", true, "/amount/currency"},
		"emoji":                      {"POST", prepay, with(`"description":"d"`, `"description":"d😀"`), nil, 400, "PARAM_ERROR", true, "body"},
		"two values":                 {"POST", prepay, []byte(goodPrepay + goodPrepay), nil, 400, "PARAM_ERROR", true, "body"},
		"not JSON":                   {"POST", prepay, []byte(`{"appid":`), nil, 400, "PARAM_ERROR", true, "body"},
		"other appid":                {"POST", prepay, with(`"appid":"`+testAppID, `"appid":"wx0000000000000000`), nil, 400, "APPID_MCHID_NOT_MATCH", true, ""},
		"query no mchid":             {"GET", query, nil, nil, 400, "PARAM_ERROR", true, "mchid"},
		"query extra":                {"GET", query + "?mchid=" + testMchID + "&x=1", nil, nil, 400, "PARAM_ERROR", true, "x"},
		"query not found":            {"GET", query + "?mchid=" + testMchID, nil, nil, 404, "ORDER_NOT_EXIST", true, ""},
		"abnormal refund, no serial": {"POST", abnormal, body(abnormalBody), nil, 400, "PARAM_ERROR", true, "Wechatpay-Serial"},
		"abnormal refund, not OAEP": {"POST", abnormal, body(abnormalBody), func(r *v3Req) {
			r.header.Set("Wechatpay-Serial", f.V3PublicKeyID())
		}, 400, "PARAM_ERROR", true, "/bank_account"},
	} {
		t.Run(name, func(t *testing.T) {
			clk.t = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
			r := newV3Req(t, f, tc.method, tc.uri, tc.body)
			if name == "null" {
				r = newV3Req(t, f, tc.method, tc.uri, nil)
				r.header.Set("Content-Type", "application/json")
			}
			if tc.bend != nil {
				tc.bend(r)
			}
			w := r.serve(f)
			assert.Equal(t, tc.status, w.Code, w.Body.String())
			var e struct {
				Code   string          `json:"code"`
				Detail json.RawMessage `json:"detail"`
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), w.Body.String())
			assert.Equal(t, tc.code, e.Code)
			assert.Equal(t, tc.signed, w.Header().Get("Wechatpay-Signature") != "", "signed")
			assert.NotEmpty(t, w.Header().Get("Request-ID"))
			if tc.field != "" {
				var d struct {
					Field string `json:"field"`
				}
				require.NoError(t, json.Unmarshal(e.Detail, &d))
				assert.Equal(t, tc.field, d.Field)
			}
			assert.Empty(t, f.Orders(), "a refused request changes nothing")
		})
	}
}

// The request pipeline never panics, never accepts what was not signed
// by the merchant, and changes state only for the genuine request.
func FuzzV3Request(f *testing.F) {
	clk := newClock()
	cfg := v3Config(wxpaytest.V3SignPublicKey)
	cfg.Now = clk.Now
	fk, err := wxpaytest.New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	defer fk.Close()
	genuine := newV3Req(f, fk, "POST", string(wxpaytest.EndpointV3PrepayJSAPI), []byte(goodPrepay))
	auth := genuine.header.Get("Authorization")
	f.Add(auth, []byte(goodPrepay))
	f.Add(auth, []byte(`{"appid":"x"}`))
	f.Add(strings.Replace(auth, "mchid", "mchId", 1), []byte(goodPrepay))
	f.Add("", []byte(nil))
	f.Fuzz(func(t *testing.T, authz string, body []byte) {
		r := &v3Req{method: "POST", uri: genuine.uri, body: body, header: genuine.header.Clone()}
		r.header.Set("Authorization", authz)
		before := len(fk.Orders())
		w := r.serve(fk)
		isGenuine := authz == auth && string(body) == goodPrepay
		if w.Code/100 == 2 && !isGenuine {
			t.Fatalf("accepted a request the merchant did not sign: %d %s", w.Code, w.Body)
		}
		if len(fk.Orders()) != before && !isGenuine {
			t.Fatal("state changed on a refused request")
		}
		if w.Code == http.StatusUnauthorized && w.Header().Get("Wechatpay-Signature") != "" {
			t.Fatal("a refusal of the signature was signed")
		}
		if w.Code != http.StatusNoContent && !json.Valid(w.Body.Bytes()) && w.Body.Len() > 0 {
			t.Fatalf("answer is not JSON: %q", w.Body)
		}
	})
}
