package apiv3

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type jsonAmount struct {
	Total       int64  `json:"total"`
	PayerTotal  int64  `json:"payer_total"`
	Currency    string `json:"currency"`
	SuccessTime jsonTime
}

type jsonTxn struct {
	OutTradeNo string     `json:"out_trade_no"`
	Amount     jsonAmount `json:"amount"`
	Tags       []string   `json:"tags"`
}

func TestDecodeJSONAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want jsonTxn
	}{
		{"plain", `{"out_trade_no":"T1","amount":{"total":100,"payer_total":90,"currency":"CNY"}}`,
			jsonTxn{OutTradeNo: "T1", Amount: jsonAmount{Total: 100, PayerTotal: 90, Currency: "CNY"}}},
		{"unknown fields tolerated", `{"out_trade_no":"T1","new_field":{"x":[1,2,{"y":null}]},"amount":{"total":1,"promo":true}}`,
			jsonTxn{OutTradeNo: "T1", Amount: jsonAmount{Total: 1}}},
		{"whitespace and escapes", " {\n\t\"out_trade_no\" : \"T\\u00e9\\n\\\"\\/\" } \r\n", jsonTxn{OutTradeNo: "Té\n\"/"}},
		{"surrogate pair", `{"out_trade_no":"\ud83d\ude00"}`, jsonTxn{OutTradeNo: "😀"}},
		{"negative and zero", `{"amount":{"total":-1,"payer_total":0}}`, jsonTxn{Amount: jsonAmount{Total: -1}}},
		{"int64 bounds", `{"amount":{"total":9223372036854775807,"payer_total":-9223372036854775808}}`,
			jsonTxn{Amount: jsonAmount{Total: 1<<63 - 1, PayerTotal: -1 << 63}}},
		{"null", `{"out_trade_no":null,"tags":null}`, jsonTxn{}},
		{"deepest allowed", strings.Repeat(`{"a":`, MaxJSONDepth-1) + `{"out_trade_no":"D"}` + strings.Repeat("}", MaxJSONDepth-1), jsonTxn{}},
		{"same key in different objects", `{"amount":{"total":1},"x":{"amount":2}}`, jsonTxn{Amount: jsonAmount{Total: 1}}},
		{"utf-8", `{"out_trade_no":"支付成功"}`, jsonTxn{OutTradeNo: "支付成功"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got jsonTxn
			require.NoError(t, decodeJSON([]byte(tt.in), &got))
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDecodeJSONRefuses(t *testing.T) {
	deep := strings.Repeat(`{"a":`, MaxJSONDepth+1) + "1" + strings.Repeat("}", MaxJSONDepth+1)
	deepArr := strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1)
	many := `{`
	for i := 0; i < 40; i++ {
		many += `"k` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":1,`
	}
	manyDup := many + `"kaa":2}`
	tests := []struct {
		name, in string
	}{
		{"empty", ``},
		{"duplicate key", `{"out_trade_no":"A","out_trade_no":"B"}`},
		{"duplicate key differing in case", `{"amount":{"total":1,"TOTAL":100000}}`},
		{"duplicate key through an escape", `{"total":1,"\u0074otal":2}`},
		{"duplicate key via the Kelvin sign", `{"k":1,"\u212a":2}`},
		{"duplicate key via long s", `{"s":1,"ſ":2}`},
		{"duplicate among many keys", manyDup},
		{"case duplicate among many keys", many + `"KAA":2}`},
		{"Kelvin duplicate among many keys", many + `"Kaa":2}`},
		{"fraction", `{"amount":{"total":100.0}}`},
		{"exponent", `{"amount":{"total":1e2}}`},
		{"capital exponent", `{"amount":{"total":1E2}}`},
		{"leading zero", `{"amount":{"total":0100}}`},
		{"plus sign", `{"amount":{"total":+1}}`},
		{"overflow", `{"amount":{"total":9223372036854775808}}`},
		{"negative overflow", `{"amount":{"total":-9223372036854775809}}`},
		{"lone minus", `{"amount":{"total":-}}`},
		{"string for amount", `{"amount":{"total":"100"}}`},
		{"too deep", deep},
		{"too deep arrays", `{"tags":` + deepArr + `}`},
		{"invalid utf-8", "{\"out_trade_no\":\"\xff\"}"},
		{"invalid utf-8 in key", "{\"\xc3\":1}"},
		{"lone high surrogate", `{"out_trade_no":"\ud83d"}`},
		{"lone low surrogate", `{"out_trade_no":"\ude00"}`},
		{"high surrogate then letter", `{"out_trade_no":"\ud83dx"}`},
		{"bad escape", `{"out_trade_no":"\x"}`},
		{"short unicode escape", `{"out_trade_no":"\u12"}`},
		{"control character", "{\"out_trade_no\":\"a\tb\"}"},
		{"trailing data", `{"out_trade_no":"A"} {"out_trade_no":"B"}`},
		{"trailing comma", `{"out_trade_no":"A",}`},
		{"unterminated", `{"out_trade_no":"A"`},
		{"unterminated string", `{"out_trade_no":"A`},
		{"single quotes", `{'a':1}`},
		{"bare word", `{"a":tru}`},
		{"NaN", `{"a":NaN}`},
		{"missing colon", `{"a" 1}`},
		{"array for object", `[1,2]`},
		{"too large", `{"a":"` + strings.Repeat("x", MaxJSONBytes) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := jsonTxn{OutTradeNo: "untouched"}
			got := before
			err := decodeJSON([]byte(tt.in), &got)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrJSON)
			var je *JSONError
			require.ErrorAs(t, err, &je)
			assert.NotEmpty(t, je.Reason)
			if checkJSON([]byte(tt.in)) != nil {
				assert.Equal(t, before, got, "a refused document changes nothing")
			}
		})
	}
}

func TestJSONTime(t *testing.T) {
	var v struct {
		T jsonTime `json:"t"`
	}
	require.NoError(t, decodeJSON([]byte(`{"t":"2018-06-08T10:34:56+08:00"}`), &v))
	assert.True(t, v.T.Time().Equal(time.Date(2018, 6, 8, 2, 34, 56, 0, time.UTC)))
	require.NoError(t, decodeJSON([]byte(`{"t":"2018-06-08T02:34:56.123Z"}`), &v))
	assert.Equal(t, 123*time.Millisecond, time.Duration(v.T.Time().Nanosecond()))
	for _, bad := range []string{`{"t":"2018-06-08 10:34:56"}`, `{"t":"2018-06-08T10:34:56"}`, `{"t":1528425296}`} {
		assert.ErrorIs(t, decodeJSON([]byte(bad), &v), ErrJSON, bad)
	}
	v.T = jsonTime{}
	require.NoError(t, decodeJSON([]byte(`{"t":""}`), &v))
	assert.True(t, v.T.Time().IsZero())

	// Sent in UTC+8 to the second, as WeChat documents time_expire.
	b, err := json.Marshal(jsonTime(time.Date(2018, 6, 8, 2, 34, 56, 999, time.UTC)))
	require.NoError(t, err)
	assert.Equal(t, `"2018-06-08T10:34:56+08:00"`, string(b))
}

func TestEncodeJSON(t *testing.T) {
	b, err := encodeJSON(map[string]string{"description": "<a&b>"})
	require.NoError(t, err)
	assert.Equal(t, `{"description":"<a&b>"}`, string(b), "no HTML escaping, no trailing newline")
}

// FuzzDecodeJSON checks that the scanner never panics, that what it
// accepts encoding/json accepts as well (so the two never disagree on
// whether a document is JSON), and that duplicate keys never pass.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"out_trade_no":"T1","amount":{"total":100}}`, `{"a":[1,{"b":null}],"c":"\u00e9"}`,
		`{"a":1,"A":2}`, `{"a":1.5}`, `[]`, `"x"`, `{"\ud83d\ude00":1}`,
		`{"id":"EV-1","resource":{"ciphertext":"abc","nonce":"n"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		err := decodeJSON(b, &v)
		if err != nil {
			if !errors.Is(err, ErrJSON) {
				t.Fatalf("error %v is not an ErrJSON", err)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted what encoding/json calls invalid: %q", b)
		}
		if refDuplicates(b) {
			t.Fatalf("accepted a document with duplicate keys: %q", b)
		}
	})
}

// refDuplicates reports whether valid JSON b has two keys in one object
// that encoding/json would match to the same field (bytes.EqualFold),
// using encoding/json's own tokenizer: the reference for the scanner.
func refDuplicates(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		obj, wantKey bool
		keys         []string
	}
	var st []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(st) > 0 {
			top = st[len(st)-1]
		}
		if top != nil && top.obj && top.wantKey {
			if s, ok := tok.(string); ok {
				for _, k := range top.keys {
					if bytes.EqualFold([]byte(k), []byte(s)) {
						return true
					}
				}
				top.keys = append(top.keys, s)
				top.wantKey = false
				continue
			}
		}
		if top != nil && top.obj {
			top.wantKey = true // after this value, a key
		}
		switch tok {
		case json.Delim('{'):
			st = append(st, &frame{obj: true, wantKey: true})
		case json.Delim('['):
			st = append(st, &frame{})
		case json.Delim('}'), json.Delim(']'):
			st = st[:len(st)-1]
		}
	}
}
