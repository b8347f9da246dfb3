package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxpay-go/wxpay/examples/shop"
)

// raw is a claim value written into the payload as it is, valid JSON or
// not.
type raw string

// signedWith returns a token that Issue would give user 42, with the
// claims in change replaced (a nil value removes the claim), signed
// with secret. The payload is written by hand, so that values no encoder
// would produce can be tried.
func signedWith(t *testing.T, a *Auth, secret []byte, change map[string]any) string {
	t.Helper()
	tok, _, err := a.Issue(42)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for k, v := range c {
		fields[k] = string(v)
	}
	for k, v := range change {
		switch v := v.(type) {
		case nil:
			delete(fields, k)
		case raw:
			fields[k] = string(v)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			fields[k] = string(b)
		}
	}
	var b strings.Builder
	b.WriteString("{")
	for k, v := range fields {
		if b.Len() > 1 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	b.WriteString("}")
	signing := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(b.String()))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// TestMalformedRegisteredClaims: a correctly signed token whose registered
// claims have the wrong JSON type is refused; golang-jwt alone accepts a
// string exp (json.Number reads "9999999999") and skips claims it cannot
// place.
func TestMalformedRegisteredClaims(t *testing.T) {
	secret := []byte("claims-secret-0123456789abcdefghijklmnopqrstuvwxyz")
	now := time.Unix(1_800_000_000, 0)
	a, err := NewAuth(secret, time.Hour, func() time.Time { return now }, func(_ *http.Request, id int64) (shop.User, error) {
		return shop.User{ID: id}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Hour).Unix()
	user := func(tok string) error {
		r := httptest.NewRequest("GET", "/orders", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, err := a.User(r)
		return err
	}
	if err := user(signedWith(t, a, secret, nil)); err != nil {
		t.Fatalf("the unchanged token was refused: %v", err)
	}
	for name, change := range map[string]map[string]any{
		"exp a numeric string":     {"exp": "9999999999"},
		"exp a string, now+1h":     {"exp": raw(`"` + jsonInt(later) + `"`)},
		"exp fractional":           {"exp": raw(jsonInt(later) + ".5")},
		"exp with an exponent":     {"exp": raw("1.9e9")},
		"exp negative":             {"exp": raw("-1")},
		"exp null":                 {"exp": raw("null")},
		"exp true":                 {"exp": true},
		"exp an array":             {"exp": []int64{later}},
		"exp an object":            {"exp": map[string]int64{"n": later}},
		"exp past year 5138":       {"exp": raw("999999999999")},
		"exp with leading zero":    {"exp": raw("0" + jsonInt(later))},
		"iat a string":             {"iat": jsonInt(now.Unix())},
		"nbf a string":             {"nbf": jsonInt(now.Unix())},
		"nbf fractional":           {"nbf": 1.5},
		"iss an array":             {"iss": []string{"wxpay-example"}},
		"iss a number":             {"iss": 1},
		"sub a number":             {"sub": 42},
		"sub null":                 {"sub": raw("null")},
		"jti a number":             {"jti": 7},
		"aud a number":             {"aud": 1},
		"aud null":                 {"aud": raw("null")},
		"aud an empty array":       {"aud": []string{}},
		"aud an array of null":     {"aud": raw("[null]")},
		"aud an array of a number": {"aud": []int{1}},
	} {
		t.Run(name, func(t *testing.T) {
			if err := user(signedWith(t, a, secret, change)); shop.ErrorCode(err) != shop.CodeUnauthorized {
				t.Errorf("User: %v, want unauthorized", err)
			}
		})
	}
}

func jsonInt(v int64) string { b, _ := json.Marshal(v); return string(b) }

// FuzzClaims: any payload either decodes, with each registered claim of
// its RFC 7519 type (checked here independently), or is refused; never a
// panic.
func FuzzClaims(f *testing.F) {
	for _, s := range []string{
		`{"iss":"wxpay-example","sub":"42","iat":1800000000,"exp":1800003600}`, `{"exp":"9999999999"}`, `{"exp":1.5}`,
		`{"aud":["a","b"]}`, `{"aud":[null]}`, `{"sub":42}`, `null`, `[]`, `{"exp":1e400}`, `{"exp":01}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c claims
		if c.UnmarshalJSON(b) != nil {
			return
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil || m == nil {
			t.Fatalf("accepted %q, which is not a JSON object: %v", b, err)
		}
		for _, k := range []string{"exp", "nbf", "iat"} {
			if v, ok := m[k]; ok {
				n, isNum := v.(json.Number)
				if i, err := strconv.ParseInt(string(n), 10, 64); !isNum || err != nil || i < 0 {
					t.Fatalf("accepted %s = %#v in %q", k, v, b)
				}
			}
		}
		for _, k := range []string{"iss", "sub", "jti"} {
			if v, ok := m[k]; ok {
				if _, isStr := v.(string); !isStr {
					t.Fatalf("accepted %s = %#v in %q", k, v, b)
				}
			}
		}
	})
}
