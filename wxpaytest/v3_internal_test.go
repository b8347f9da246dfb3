package wxpaytest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The strict body reader: each refusal names the field, and what it
// accepts encoding/json (with unknown fields refused) accepts too.
func TestDecodeV3(t *testing.T) {
	type inner struct {
		N *int64 `json:"n"`
	}
	type body struct {
		A string  `json:"a"`
		B []inner `json:"b,omitempty"`
		C *inner  `json:"c,omitempty"`
	}
	for in, field := range map[string]string{
		``:                           "body",
		`   `:                        "body",
		`{"a":"x","a":"y"}`:          "/a",
		`{"c":{"n":1,"n":2}}`:        "/c/n",
		`{"b":[{"n":1},{"n":null}]}`: "/b/1/n",
		`{"a":null}`:                 "/a",
		`null`:                       "",
		`{"a":1}`:                    "/a",
		`{"c":{"n":"1"}}`:            "/c/n",
		`{"d":1}`:                    "d",
		`{"a":"x"} {}`:               "body",
		`{"a":"x"`:                   "body",
		`{"a":"\xff"}`:               "body",
		`{"a":"😀"}`:                  "body",
		strings.Repeat(`{"c":`, 20) + `1` + strings.Repeat(`}`, 20): "",
	} {
		var v body
		a, ok := decodeV3([]byte(in), &v)
		if !assert.False(t, ok, "%q accepted", in) {
			continue
		}
		assert.Equal(t, 400, a.status, in)
		assert.Equal(t, "PARAM_ERROR", a.code, in)
		if field != "" {
			assert.Equal(t, field, a.detail.(map[string]string)["field"], in)
		}
	}
	var v body
	_, ok := decodeV3([]byte(`{"a":"中文","b":[{"n":1},{"n":2}],"c":{"n":3}}`), &v)
	require.True(t, ok)
	assert.Equal(t, int64(2), *v.B[1].N)
}

func FuzzDecodeV3(f *testing.F) {
	f.Add([]byte(`{"appid":"wx","amount":{"total":1},"payer":{"openid":"o"}}`))
	f.Add([]byte(`{"appid":"wx","appid":"wy"}`))
	f.Add([]byte(`[1,2,{"a":null}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p v3PrepayRequest
		a, ok := decodeV3(b, &p)
		if !ok {
			if a.status != 400 || a.code != "PARAM_ERROR" {
				t.Fatalf("refusal %d %s", a.status, a.code)
			}
			return
		}
		// Accepted: encoding/json reads the same value (one parse, no
		// differential between the check and the use).
		var q v3PrepayRequest
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			t.Fatalf("accepted what encoding/json refuses: %v", err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("read %+v, encoding/json %+v", p, q)
		}
	})
}
