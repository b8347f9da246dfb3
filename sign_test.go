package wxpay

import (
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type signVector struct {
	ID       string   `json:"id"`
	Key      string   `json:"key"`
	SignType SignType `json:"sign_type"`
	Params   Params   `json:"params"`
	Sign     string   `json:"sign"`
}

func loadSignVectors(t testing.TB) []signVector {
	t.Helper()
	b, err := os.ReadFile("testdata/sign_vectors.json")
	require.NoError(t, err)
	var f struct {
		Vectors []signVector `json:"vectors"`
	}
	require.NoError(t, json.Unmarshal(b, &f))
	require.Len(t, f.Vectors, 6)
	return f.Vectors
}

func TestSignGoldenVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadSignVectors(t) {
		t.Run(v.ID, func(t *testing.T) {
			t.Parallel()
			s := mustSigner(t, v.Key, v.SignType)
			assert.Equal(t, v.Sign, s.Sign(v.Params))

			signed := cloneParams(v.Params)
			signed["sign"] = v.Sign
			assert.NoError(t, s.Verify(signed))
			// The sign field itself never takes part in the signature.
			assert.Equal(t, v.Sign, s.Sign(signed))
		})
	}
}

func TestSignRules(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, testKey, SignMD5)
	base := Params{"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000", "body": "test", "nonce_str": "ibuaiVcKdpRxkhJA"}
	const v1 = "9A0A8659F005D6984697E2CA0A9CF3B7"

	withEmpty := cloneParams(base)
	withEmpty["attach"] = ""
	assert.Equal(t, v1, s.Sign(withEmpty), "empty values are skipped")

	withSignType := cloneParams(base)
	withSignType["sign_type"] = "MD5"
	assert.NotEqual(t, v1, s.Sign(withSignType), "sign_type is signed when present")

	// Names are case-sensitive and sorted by byte: "Z" < "a".
	upper := cloneParams(base)
	upper["Zeta"] = "1"
	assert.NotEqual(t, v1, s.Sign(upper))

	// Values are signed raw: leading spaces count.
	spaced := cloneParams(base)
	spaced["body"] = " test"
	assert.NotEqual(t, v1, s.Sign(spaced))
}

// A message with more fields than the stack buffer, and a canonical
// string longer than 1 KiB, must sign the same as the short path would.
func TestSignLargeMessage(t *testing.T) {
	t.Parallel()
	p := Params{}
	var pairs []string
	for i := 0; i < 60; i++ {
		k := "field_" + string(rune('A'+i%26)) + string(rune('a'+i/26))
		v := strings.Repeat("v", 40)
		p[k] = v
		pairs = append(pairs, k+"="+v)
	}
	// The reference sorts the pairs as whole strings, a different
	// algorithm from the signer's; with '=' below every name byte the
	// orders agree.
	slices.Sort(pairs)
	want := md5Upper(strings.Join(pairs, "&") + "&key=" + testKey)
	require.Greater(t, len(want), 0)
	assert.Equal(t, want, mustSigner(t, testKey, SignMD5).Sign(p))
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	md5s := mustSigner(t, testKey, SignMD5)
	hmacs := mustSigner(t, testKey, SignHMACSHA256)
	other := mustSigner(t, "0123456789abcdef0123456789abcdef", SignMD5)
	base := Params{"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000", "body": "test", "nonce_str": "ibuaiVcKdpRxkhJA"}
	with := func(kv ...string) Params {
		p := cloneParams(base)
		for i := 0; i < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	const v1 = "9A0A8659F005D6984697E2CA0A9CF3B7"
	const v2 = "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
	tests := []struct {
		name   string
		signer *Signer
		p      Params
		want   error
	}{
		{"no sign", md5s, with(), ErrMissingSign},
		{"empty sign", md5s, with("sign", ""), ErrMissingSign},
		{"lowercase sign", md5s, with("sign", strings.ToLower(v1)), ErrSignature},
		{"flipped sign", md5s, with("sign", "9A0A8659F005D6984697E2CA0A9CF3B6"), ErrSignature},
		{"changed field", md5s, with("sign", v1, "body", "test2"), ErrSignature},
		{"added field", md5s, with("sign", v1, "total_fee", "1"), ErrSignature},
		{"other key", other, with("sign", v1), ErrSignature},
		{"md5 sign to hmac signer", hmacs, with("sign", v1), ErrSignature},
		{"hmac sign to md5 signer", md5s, with("sign", v2), ErrSignature},
		{"short sign", md5s, with("sign", v1[:31]), ErrSignature},
		{"sign with space", md5s, with("sign", " "+v1[1:]), ErrSignature},
		{"non-hex sign", md5s, with("sign", "ZA0A8659F005D6984697E2CA0A9CF3B7"), ErrSignature},
		{"downgrade to MD5", hmacs, with("sign", v1, "sign_type", "MD5"), ErrSignType},
		{"upgrade not configured", md5s, with("sign", v2, "sign_type", "HMAC-SHA256"), ErrSignType},
		{"unknown sign_type", md5s, with("sign", v1, "sign_type", "md5"), ErrSignType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.signer.Verify(tt.p)
			require.Error(t, err)
			assert.True(t, errors.Is(err, tt.want), "got %v, want %v", err, tt.want)
			assert.NotContains(t, err.Error(), testKey)
		})
	}
	// And the genuine messages pass, so the rejections above are not
	// a signer that rejects everything.
	assert.NoError(t, md5s.Verify(with("sign", v1)))
	assert.NoError(t, hmacs.Verify(with("sign", v2)))
}

func TestNewSigner(t *testing.T) {
	t.Parallel()
	s, err := NewSigner(testKey, "")
	require.NoError(t, err)
	assert.Equal(t, SignMD5, s.Type(), "zero type means MD5")

	for _, tt := range []struct{ name, key string }{
		{"empty", ""},
		{"short", "abc"},
		{"trailing newline", testKey[:31] + "\n"},
		{"33 chars", testKey + "x"},
		{"space", testKey[:31] + " "},
	} {
		_, err := NewSigner(tt.key, SignMD5)
		assert.Error(t, err, tt.name)
	}
	_, err = NewSigner(testKey, "SHA1")
	assert.Error(t, err)
	_, err = NewSigner(testKey, "md5")
	assert.Error(t, err, "sign types are case-sensitive on the wire")
}

func TestSignConcurrent(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, testKey, SignHMACSHA256)
	v := loadSignVectors(t)[1]
	done := make(chan string, 8)
	for i := 0; i < 8; i++ {
		go func() { done <- s.Sign(v.Params) }()
	}
	for i := 0; i < 8; i++ {
		assert.Equal(t, v.Sign, <-done)
	}
}

func cloneParams(p Params) Params {
	q := make(Params, len(p))
	for k, v := range p {
		q[k] = v
	}
	return q
}

// Past 32 fields the sort spills to the heap, names sharing a prefix are
// settled by insertion up to 12 and by sorting beyond, and past
// maxIndexed fields the sort key can no longer index them; each path must
// produce the plain definition.
func TestSignFieldCounts(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 7, 12, 13, 24, 25, 32, 33, 255, 256, 257, 400, maxIndexed + 1} {
		p := Params{}
		for i := 0; i < n; i++ {
			// Shared 7-byte prefixes exercise the tie-breaking pass.
			p["coupon_fee_"+itoaTest(i)] = itoaTest(i * 7)
		}
		p["sign"] = "IGNORED"
		p["empty"] = ""
		for _, typ := range []SignType{SignMD5, SignHMACSHA256} {
			want := canonical(p, testKey)
			var expect string
			if typ == SignMD5 {
				expect = md5Upper(want)
			} else {
				expect = hmacUpper(testKey, want)
			}
			assert.Equal(t, expect, mustSigner(t, testKey, typ).Sign(p), "n=%d %s", n, typ)
		}
	}
}

// Verify must compare the sign in constant time. A comparison with == or
// bytes.Equal gives the same answers, so no behavioural test can tell;
// this one reads sign.go and holds verify to one
// subtle.ConstantTimeCompare of the computed and the received digest,
// with no other comparison that could touch sign material.
func TestVerifyComparesInConstantTime(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "sign.go", nil, 0)
	require.NoError(t, err)
	funcs := map[string]*ast.FuncDecl{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			funcs[fd.Name.Name] = fd
		}
	}
	src := func(n ast.Node) string {
		var b strings.Builder
		require.NoError(t, printer.Fprint(&b, fset, n))
		return b.String()
	}

	// Verify is verify with no pre-sorted fields.
	require.Contains(t, funcs, "Verify")
	require.Contains(t, funcs, "verify")
	assert.Equal(t, "s.verify(p, nil)", src(funcs["Verify"].Body.List[0].(*ast.ReturnStmt).Results[0]))

	ctc := 0
	ast.Inspect(funcs["verify"].Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.IfStmt:
			// The one place the digests meet.
			if src(n.Cond) == "subtle.ConstantTimeCompare(want[:n], gotRaw[:n]) != 1" {
				ctc++
				assert.Equal(t, "return ErrSignature", strings.TrimSpace(src(n.Body.List[0])))
			}
		case *ast.BinaryExpr:
			if n.Op != token.EQL && n.Op != token.NEQ {
				return true
			}
			switch src(n) {
			case "SignType(st) != s.typ", "len(got) != s.typ.signLen()":
				return true // public: the algorithm and the length of a hex string
			}
			if isLiteral(n.X) || isLiteral(n.Y) {
				return true
			}
			if strings.HasPrefix(src(n.X), "subtle.ConstantTimeCompare(") {
				return true
			}
			t.Errorf("verify compares %s with %s; sign material must be compared with subtle.ConstantTimeCompare", src(n), n.Op)
		case *ast.SwitchStmt:
			if n.Tag != nil {
				t.Errorf("verify switches on %s", src(n.Tag))
			}
		case *ast.CallExpr:
			name := src(n.Fun)
			if (strings.Contains(name, "Equal") || strings.Contains(name, "Compare")) && name != "subtle.ConstantTimeCompare" {
				t.Errorf("verify calls %s; sign material must be compared with subtle.ConstantTimeCompare", name)
			}
		}
		return true
	})
	assert.Equal(t, 1, ctc, "verify must compare want and gotRaw with subtle.ConstantTimeCompare exactly once")
}

// isLiteral reports whether e is a constant the comparison cannot leak:
// a literal, nil, or an untyped constant identifier.
func isLiteral(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return e.Name == "nil"
	}
	return false
}

// TestSignerConfigErrorsSayWhatToDo: the mistakes made while configuring
// are named, with what would be right, and never echo a key.
func TestSignerConfigErrorsSayWhatToDo(t *testing.T) {
	t.Parallel()
	_, err := NewSigner(testKey, "SHA1")
	require.Error(t, err)
	for _, want := range []string{`"SHA1"`, `"MD5"`, `"HMAC-SHA256"`} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = NewSigner("", SignMD5)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "API key is empty")
	_, err = NewSigner(testKey+"\n", SignMD5)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "32 characters, not 33")
	assert.NotContains(t, err.Error(), testKey)
}
