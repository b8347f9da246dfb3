package apiv3

import (
	"errors"
	"strings"
	"testing"
)

// viaEncodingJSON is what decodeEnvelope replaces: decodeJSON into
// notificationBody (checkJSON, then encoding/json), mapped to an envelope.
func viaEncodingJSON(b []byte) (envelope, error) {
	var nb notificationBody
	if err := decodeJSON(b, &nb); err != nil {
		return envelope{}, err
	}
	e := envelope{id: nb.ID, createTime: nb.CreateTime, eventType: nb.EventType, resourceType: nb.ResourceType, summary: nb.Summary}
	if r := nb.Resource; r != nil {
		e.hasResource = true
		e.originalType = r.OriginalType
		e.algorithm, e.ciphertext = []byte(r.Algorithm), []byte(r.Ciphertext)
		e.associatedData, e.nonce = []byte(r.AssociatedData), []byte(r.Nonce)
	}
	return e, nil
}

func sameEnvelope(a, b envelope) bool {
	return a.id == b.id && a.createTime == b.createTime && a.eventType == b.eventType &&
		a.resourceType == b.resourceType && a.summary == b.summary && a.hasResource == b.hasResource &&
		a.originalType == b.originalType && string(a.algorithm) == string(b.algorithm) &&
		string(a.ciphertext) == string(b.ciphertext) && string(a.associatedData) == string(b.associatedData) &&
		string(a.nonce) == string(b.nonce)
}

// checkEnvelope holds decodeEnvelope to encoding/json's reading under
// decodeJSON's rules: the same document is accepted or refused by both,
// refusals are *JSONError, and what is accepted reads the same.
func checkEnvelope(t *testing.T, in []byte) (envelope, error) {
	t.Helper()
	got, err := decodeEnvelope(in)
	want, werr := viaEncodingJSON(in)
	if (err == nil) != (werr == nil) {
		t.Fatalf("decodeEnvelope(%q) err = %v; encoding/json path err = %v", in, err, werr)
	}
	if err != nil {
		var je *JSONError
		if !errors.As(err, &je) || !errors.Is(err, ErrJSON) {
			t.Fatalf("decodeEnvelope(%q) err = %T %v, want *JSONError", in, err, err)
		}
		return got, err
	}
	if !sameEnvelope(got, want) {
		t.Fatalf("decodeEnvelope(%q) = %+v; encoding/json reads %+v", in, got, want)
	}
	return got, nil
}

func TestDecodeEnvelope(t *testing.T) {
	const res = `"resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"Y3Q=","associated_data":"transaction","nonce":"fdasflkja484"}`
	good := `{"id":"EV-1","create_time":"2026-01-02T15:04:06+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"支付成功",` + res + `}`

	e, err := checkEnvelope(t, []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if e.id != "EV-1" || e.summary != "支付成功" || !e.hasResource || string(e.nonce) != "fdasflkja484" ||
		string(e.ciphertext) != "Y3Q=" || e.originalType != "transaction" || string(e.associatedData) != "transaction" {
		t.Fatalf("good envelope read as %+v", e)
	}

	accepted := []struct{ name, in string }{
		{"keys in another case match as in encoding/json", `{"ID":"EV-1","Resource":{"NONCE":"n"}}`},
		{"Kelvin sign and long s fold like ASCII", "{\"\u017fummary\":\"s\",\"resource\":{\"\u212aey\":1,\"nonce\":\"n\"}}"},
		{"escaped key and value", `{"\u0069d":"EV\u002d1","resource":{"nonce":"\ud83d\ude00"}}`},
		{"null fields stay empty", `{"id":null,"resource":{"nonce":null}}`},
		{"null resource", `{"id":"x","resource":null}`},
		{"empty resource", `{"resource":{}}`},
		{"unknown fields of every type", `{"x":[1,{"a":null}],"y":true,"z":-3,"resource":{"w":{"q":[]}},"id":"i"}`},
		{"null document", ` null `},
		{"empty object", `{}`},
		{"whitespace around", " \t\n{\"id\" : \"x\" }\r\n"},
	}
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := checkEnvelope(t, []byte(tc.in)); err != nil {
				t.Fatal(err)
			}
		})
	}

	refused := []struct{ name, in string }{
		{"duplicate key", `{"id":"a","id":"b"}`},
		{"duplicate key in another case", `{"id":"a","ID":"b"}`},
		{"duplicate resource", `{"resource":{"nonce":"a"},"Resource":{"nonce":"b"}}`},
		{"duplicate resource field", `{"resource":{"nonce":"a","nOnce":"b"}}`},
		{"duplicate unknown key", `{"x":1,"X":2}`},
		{"id a number", `{"id":1}`},
		{"create_time a number", `{"create_time":1767337446}`},
		{"resource a string", `{"resource":"x"}`},
		{"resource an array", `{"resource":[]}`},
		{"nonce an object", `{"resource":{"nonce":{}}}`},
		{"ciphertext a boolean", `{"resource":{"ciphertext":true}}`},
		{"wrong type, then a syntax error", `{"id":1,"x":01}`},
		{"array document", `[]`},
		{"string document", `"x"`},
		{"number document", `1`},
		{"empty", ``},
		{"trailing data", `{"id":"x"}{"id":"y"}`},
		{"trailing data after null", `null x`},
		{"fraction among unknowns", `{"x":1.5}`},
		{"exponent in the resource", `{"resource":{"n":1e3}}`},
		{"integer overflow", `{"x":9223372036854775808}`},
		{"invalid UTF-8 in a value", "{\"summary\":\"\xff\"}"},
		{"unpaired surrogate", `{"id":"\ud800"}`},
		{"control character", "{\"id\":\"a\nb\"}"},
		{"unterminated string", `{"id":"x`},
		{"unterminated object", `{"id":"x"`},
		{"unterminated resource", `{"resource":{"nonce":"n"`},
		{"missing colon", `{"id" "x"}`},
		{"value missing", `{"id":}`},
		{"key missing", `{:"x"}`},
		{"truncated after colon", `{"id":`},
		{"nesting too deep", `{"x":` + strings.Repeat(`[`, MaxJSONDepth) + strings.Repeat(`]`, MaxJSONDepth) + `}`},
		{"too large", `{"x":"` + strings.Repeat("a", MaxJSONBytes) + `"}`},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := checkEnvelope(t, []byte(tc.in)); err == nil {
				t.Fatalf("decodeEnvelope(%.60q) accepted", tc.in)
			}
		})
	}
}

// FuzzEnvelope: decodeEnvelope and decodeJSON into notificationBody
// accept the same documents and read them the same way.
func FuzzEnvelope(f *testing.F) {
	f.Add([]byte(`{"id":"EV-1","create_time":"2026-01-02T15:04:06+08:00","event_type":"TRANSACTION.SUCCESS","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"Y3Q=","nonce":"fdasflkja484","associated_data":""}}`))
	f.Add([]byte(`{"ID":null,"Resource":{"NONCE":"\u0041"},"x":[1,{"y":-0}]}`))
	f.Add([]byte(`{"id":1,"id":2}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = checkEnvelope(t, b)
	})
}
