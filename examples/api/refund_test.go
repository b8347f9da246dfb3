package api

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wxpay-go/wxpay/examples/shop"
)

// FuzzAdminAuth: the admin check accepts exactly "Bearer " and the token,
// and nothing else, without panicking.
func FuzzAdminAuth(f *testing.F) {
	token := "admin-0123456789abcdefghijklmnopqrstuvwxyz"
	a := newAdminAuth([]byte(token))
	for _, s := range []string{"Bearer " + token, "Bearer " + token + " ", "bearer " + token, "Bearer " + token[:len(token)-1], token, "", "Bearer ", "Bearer " + strings.Repeat("a", 3000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("POST", "/orders/1/refund", nil)
		r.Header.Set("Authorization", header)
		err := a.check(r)
		want := r.Header.Get("Authorization") == "Bearer "+token
		if (err == nil) != want {
			t.Fatalf("check(%q) = %v, want accepted %v", header, err, want)
		}
		if err != nil && shop.ErrorCode(err) != shop.CodeUnauthorized {
			t.Fatalf("check(%q) = %v, want unauthorized", header, err)
		}
	})
}

// TestAdminAuthUnset: without an admin token nothing is accepted, not even
// an empty bearer token.
func TestAdminAuthUnset(t *testing.T) {
	a := newAdminAuth(nil)
	for _, h := range []string{"Bearer ", "Bearer x", ""} {
		r := httptest.NewRequest("POST", "/orders/1/refund", nil)
		r.Header.Set("Authorization", h)
		if a.check(r) == nil {
			t.Errorf("accepted %q without an admin token", h)
		}
	}
}

// FuzzDecodeRefund: any body either decodes into a RefundRequest or fails
// with a client error; never a panic, never an internal error.
func FuzzDecodeRefund(f *testing.F) {
	for _, s := range []string{
		`{"amount_fen":100}`, `{"amount_fen":100,"reason":"退货"}`, `{"amount_fen":"100"}`, `{"amount_fen":1e400}`,
		`{"amount_fen":-1}`, `{"out_refund_no":"x"}`, `{}`, `[]`, ``, `{"amount_fen":1} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/orders/1/refund", strings.NewReader(string(body)))
		var req RefundRequest
		err := decode(httptest.NewRecorder(), r, &req)
		if err == nil {
			return
		}
		var e *shop.Error
		if !errors.As(err, &e) || (e.Code != shop.CodeInvalid && e.Code != shop.CodeTooLarge) || e.Message == "" {
			t.Fatalf("decode(%q) = %v, want a 400 or 413 *shop.Error", body, err)
		}
	})
}
