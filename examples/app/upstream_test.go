package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/api"
	"github.com/wxpay-go/wxpay/examples/client"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// post sends an authenticated POST without a body and returns the status,
// the Retry-After header and the error body.
func (h *harness) post(token, path string) (int, string, api.ErrorBody) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e api.ErrorBody
	if resp.StatusCode/100 != 2 {
		if err := json.Unmarshal(b, &e); err != nil {
			h.t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), e
}

// TestUpstreamErrors: each kind of WeChat failure reaches the client as
// what it is. A definite refusal (a business error, a protocol FAIL, an
// answer signed with another key) is 502 upstream_refused without
// Retry-After and without inviting a retry; a busy WeChat is 503
// upstream_unavailable with Retry-After; a lost answer is 502
// upstream_outcome_unknown with Retry-After, and repeating the request
// then works. Every answer matches openapi.json (the harness checks).
func TestUpstreamErrors(t *testing.T) {
	v2Only(t, "its faults are v2 answers; v3's classification is TestUpstreamV3 in upstream_internal_test.go")
	for _, tt := range []struct {
		name       string
		fault      wxpaytest.Fault
		status     int
		code       shop.Code
		retryAfter bool
		says       string
	}{
		{"business error", wxpaytest.Fault{ErrCode: wxpay.ErrCodeNoAuth}, 502, shop.CodeUpstreamRefused, false, "NOAUTH"},
		{"appid not bound", wxpaytest.Fault{ErrCode: wxpay.ErrCodeAppIDMchIDNotMatch}, 502, shop.CodeUpstreamRefused, false, "APPID_MCHID_NOT_MATCH"},
		{"signature refused", wxpaytest.Fault{ReturnMsg: "签名错误"}, 502, shop.CodeUpstreamRefused, false, "return_code FAIL"},
		{"answer signed with another key", wxpaytest.Fault{WrongKey: true}, 502, shop.CodeUpstreamRefused, false, "verification"},
		{"busy", wxpaytest.Fault{ErrCode: wxpay.ErrCodeSystemError}, 503, shop.CodeUpstream, true, "SYSTEMERROR"},
		{"rate limited", wxpaytest.Fault{ErrCode: wxpay.ErrCodeFrequencyLimited}, 503, shop.CodeUpstream, true, "FREQUENCY_LIMITED"},
		{"gateway 503", wxpaytest.Fault{HTML: true, HTTPStatus: 503}, 503, shop.CodeUpstream, true, "try again"},
		{"answer lost", wxpaytest.Fault{Drop: true, Processed: true}, 502, shop.CodeUpstreamUnknown, true, "/pay"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			c := h.user()
			o, err := c.CreateOrder(context.Background(), []shop.Item{{GoodsID: 101, Count: 1}}, "")
			if err != nil {
				t.Fatal(err)
			}
			h.s.Fake.Inject(wxpaytest.EndpointUnifiedOrder, 1, tt.fault)
			path := fmt.Sprintf("/orders/%d/pay", o.ID)
			st, after, e := h.post(c.Token, path)
			if st != tt.status || e.Error.Code != tt.code || !strings.Contains(e.Error.Message, tt.says) {
				t.Fatalf("pay: %d %+v; want %d %s saying %q", st, e.Error, tt.status, tt.code, tt.says)
			}
			if (after != "") != tt.retryAfter {
				t.Errorf("Retry-After %q; want one: %v", after, tt.retryAfter)
			}
			if tt.code == shop.CodeUpstreamRefused && strings.Contains(strings.ToLower(e.Error.Message), "try again") {
				t.Errorf("a permanent refusal invites a retry: %q", e.Error.Message)
			}
			if !strings.Contains(h.logs.String(), "WeChat call failed") {
				t.Error("the cause was not logged")
			}
			// The fault is gone: the same request now pays (the order
			// and its out_trade_no were kept).
			if _, err := c.Pay(context.Background(), o.ID); err != nil {
				t.Fatalf("pay after the fault: %v", err)
			}
		})
	}
}

// TestUpstreamLoginErrors: code2session's definite errors are refusals;
// its "system busy" is a retry later.
func TestUpstreamLoginErrors(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct {
		errcode int
		status  int
		code    shop.Code
	}{
		{40013, 502, shop.CodeUpstreamRefused}, // invalid appid
		{-1, 503, shop.CodeUpstream},           // system busy
	} {
		h.s.Fake.Inject(wxpaytest.EndpointCode2Session, 1, wxpaytest.Fault{MiniErrCode: tt.errcode, MiniErrMsg: "x"})
		c := &client.Client{Base: h.s.URL, HTTP: h.http}
		code, err := c.FakeLogin(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Login(context.Background(), code)
		if err == nil {
			t.Fatalf("errcode %d: login succeeded", tt.errcode)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d %s", tt.status, tt.code)) {
			t.Errorf("errcode %d: %v; want %d %s", tt.errcode, err, tt.status, tt.code)
		}
	}
}
