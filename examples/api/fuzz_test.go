package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wxpay-go/wxpay/examples/shop"
)

// FuzzDecodeOrder: any body either decodes into a CreateOrderRequest or
// fails with a client error; never a panic, never an internal error.
func FuzzDecodeOrder(f *testing.F) {
	for _, s := range []string{
		`{"items":[{"goods_id":101,"count":2}]}`, `{"items":[`, `[]`, `null`, ``, `{"items":[{"goods_id":1,"count":1.5}]}`,
		`{"items":[{"goods_id":1,"count":"1"}]}`, `{"items":[]} {}`, `{"total_fee":1}`, `{"items":[{"goods_id":1e400}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/orders", strings.NewReader(string(body)))
		var req CreateOrderRequest
		err := decode(httptest.NewRecorder(), r, &req)
		if err == nil {
			return
		}
		var e *shop.Error
		if !errors.As(err, &e) || (e.Code != shop.CodeInvalid && e.Code != shop.CodeTooLarge) {
			t.Fatalf("decode(%q) = %v, want a 400 or 413 *shop.Error", body, err)
		}
		if e.Message == "" {
			t.Fatal("empty message")
		}
	})
}

// FuzzAuth: Auth.User accepts a header only if it carries an HS256 token
// whose signature checks out under the secret (verified here
// independently), and never panics.
func FuzzAuth(f *testing.F) {
	secret := []byte("fuzz-secret-0123456789abcdefghijklmnopqrstuvwxyz")
	now := time.Unix(1_800_000_000, 0)
	a, err := NewAuth(secret, time.Hour, func() time.Time { return now }, func(_ *http.Request, id int64) (shop.User, error) {
		return shop.User{ID: id}, nil
	})
	if err != nil {
		f.Fatal(err)
	}
	tok, _, err := a.Issue(42)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("Bearer " + tok)
	f.Add("Bearer " + tok[:len(tok)-2])
	f.Add("Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiI0MiJ9.")
	f.Add("Bearer " + strings.Repeat(".", 3000))
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/orders", nil)
		r.Header.Set("Authorization", header)
		u, err := a.User(r)
		if err != nil {
			if shop.ErrorCode(err) != shop.CodeUnauthorized {
				t.Fatalf("User: %v, want unauthorized", err)
			}
			return
		}
		raw := strings.TrimPrefix(header, "Bearer ")
		parts := strings.Split(raw, ".")
		if len(parts) != 3 || u.ID < 1 {
			t.Fatalf("accepted %q", header)
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(parts[0] + "." + parts[1]))
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
			t.Fatalf("accepted a token whose HS256 signature does not verify: %q", header)
		}
	})
}
