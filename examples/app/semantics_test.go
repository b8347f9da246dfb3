package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/wxpay-go/wxpay/examples/api"
	"github.com/wxpay-go/wxpay/examples/shop"
)

// TestMalformedIDs: an id that is not a positive integer is the client's
// mistake, a 400 naming the parameter; a well-formed id of nothing stays
// a 404.
func TestMalformedIDs(t *testing.T) {
	h := newHarness(t)
	c := h.user()
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/orders/abc", 400},
		{"GET", "/orders/0", 400},
		{"GET", "/orders/-5", 400},
		{"GET", "/orders/+5", 400},
		{"GET", "/orders/99999999999999999999", 400},
		{"POST", "/orders/1e3/pay", 400},
		{"GET", "/shops/x/goods", 400},
		{"GET", "/orders/123", 404},
		{"GET", "/shops/999/goods", 404},
	} {
		req, _ := http.NewRequest(tt.method, h.s.URL+tt.path, nil)
		req.Header.Set("Authorization", "Bearer "+c.Token)
		resp, err := h.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e api.ErrorBody
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s: %d %+v; want %d", tt.method, tt.path, resp.StatusCode, e.Error, tt.status)
		}
		if tt.status == 400 && (e.Error.Code != shop.CodeInvalid || !strings.Contains(e.Error.Message, "id")) {
			t.Errorf("%s %s: %+v does not name the id", tt.method, tt.path, e.Error)
		}
	}
}

// TestFakeErrorShape: the fake WeChat mounted at /fake/ answers the
// client-facing errors (its wx.login and wx.requestPayment helpers,
// paths it does not serve) in the API's one error shape, which the
// OpenAPI document's Error schema accepts; WeChat's own endpoints keep
// WeChat's shapes.
func TestFakeErrorShape(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct {
		method, path, body string
		status             int
		code               shop.Code
	}{
		{"POST", "/fake/wxpaytest/pay", `not json`, 400, shop.CodeInvalid},
		{"POST", "/fake/wxpaytest/pay", `{"package":"prepay_id=wx1","timeStamp":"1","nonceStr":"n","signType":"HMAC-SHA256","paySign":"x"}`, 400, shop.CodeInvalid},
		{"GET", "/fake/wxpaytest/login", ``, 405, shop.CodeMethod},
		{"POST", "/fake/wxpaytest/login", `[`, 400, shop.CodeInvalid},
		{"GET", "/fake/nothing-here", ``, 404, shop.CodeNotFound},
	} {
		req, _ := http.NewRequest(tt.method, h.s.URL+tt.path, strings.NewReader(tt.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e api.ErrorBody
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil || resp.StatusCode != tt.status || e.Error.Code != tt.code ||
			e.Error.Message == "" || e.Error.RequestID == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %q (%v); want %d %s in the API's shape", tt.method, tt.path, resp.StatusCode, b, err, tt.status, tt.code)
		}
		var doc any
		json.Unmarshal(b, &doc)
		if err := errorSchema(t).VisitJSON(doc); err != nil {
			t.Errorf("%s %s: outside the Error schema: %v", tt.method, tt.path, err)
		}
		if tt.status == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tt.method, tt.path)
		}
	}
	// WeChat's own endpoint keeps WeChat's (XML) answer.
	resp, err := http.Post(h.s.URL+"/fake/pay/unifiedorder", "text/xml", strings.NewReader("<xml></xml>"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(b, []byte("<return_code>")) {
		t.Errorf("unifiedorder answered %q, not WeChat's XML", b)
	}
}

// errorSchema is the Error schema of openapi.json.
func errorSchema(t *testing.T) interface{ VisitJSON(any) error } {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	return schemaVisitor{doc.Components.Schemas["Error"].Value}
}

type schemaVisitor struct{ s *openapi3.Schema }

func (v schemaVisitor) VisitJSON(doc any) error {
	return v.s.VisitJSON(doc, openapi3.EnableJSONSchema2020())
}
