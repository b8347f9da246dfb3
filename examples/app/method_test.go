package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/wxpay-go/wxpay/examples/api"
	"github.com/wxpay-go/wxpay/examples/shop"
)

// TestMethodNotAllowed: every path of the OpenAPI document, called with a
// method the document does not list for it, answers 405
// method_not_allowed with an Allow header naming exactly the documented
// methods (HEAD wherever GET), in the document's MethodNotAllowed
// response; and the request changes nothing. An unknown path stays 404,
// without Allow.
func TestMethodNotAllowed(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	resp405 := doc.Components.Responses["MethodNotAllowed"]
	if resp405 == nil || resp405.Value.Headers["Allow"] == nil || !resp405.Value.Headers["Allow"].Value.Required {
		t.Fatal("the document has no MethodNotAllowed response with a required Allow header")
	}
	schema := resp405.Value.Content.Get("application/json").Schema.Value
	alice := h.user()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	plain := &http.Client{Transport: tr}
	tried := 0
	for path, item := range doc.Paths.Map() {
		var want []string
		for m := range item.Operations() {
			want = append(want, m)
			if m == http.MethodGet {
				want = append(want, http.MethodHead)
			}
		}
		concrete := strings.ReplaceAll(path, "{id}", "1")
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
			if slices.Contains(want, m) {
				continue
			}
			before := h.state()
			req, _ := http.NewRequestWithContext(ctx, m, h.s.URL+concrete, strings.NewReader(`{}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+alice.Token)
			hc := h.http
			if m == http.MethodHead {
				hc = plain // a bodiless answer; the validator wants one
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			tried++
			allow := strings.Split(resp.Header.Get("Allow"), ", ")
			slices.Sort(allow)
			slices.Sort(want)
			if resp.StatusCode != http.StatusMethodNotAllowed || !slices.Equal(allow, want) {
				t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", m, concrete, resp.StatusCode, resp.Header.Get("Allow"), strings.Join(want, ", "))
				continue
			}
			if m == http.MethodHead {
				continue // no body
			}
			var v any
			var e api.ErrorBody
			if json.Unmarshal(body, &v) != nil || schema.VisitJSON(v, openapi3.EnableJSONSchema2020()) != nil ||
				json.Unmarshal(body, &e) != nil || e.Error.Code != shop.CodeMethod {
				t.Errorf("%s %s: body %s, want the document's MethodNotAllowed error", m, concrete, body)
			}
			if after := h.state(); after != before {
				t.Errorf("%s %s changed the state", m, concrete)
			}
		}
	}
	if tried < 40 {
		t.Errorf("tried %d wrong methods; the document has fewer paths than expected", tried)
	}
	resp, err := h.http.Post(h.s.URL+"/no/such/path", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Allow") != "" {
		t.Errorf("unknown path: %d Allow %q, want 404 without Allow", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
