package wxpay

import (
	"cmp"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// s1Fields is the S1 payment notification (testdata/notify/s1_md5.xml)
// without its sign.
func s1Fields(t *testing.T) Params {
	t.Helper()
	body, err := os.ReadFile("testdata/notify/s1_md5.xml")
	require.NoError(t, err)
	p, err := DecodeXML(body)
	require.NoError(t, err)
	require.Equal(t, "A00744A890852A2FA7B302F5C76762B6", p["sign"])
	delete(p, "sign")
	return p
}

// pairs writes the fields of p whose names sort after after, in the
// canonical form name=value joined by '&', without the key.
func pairs(p Params, after string) string {
	var out []string
	for k, v := range p {
		if k > after && v != "" {
			out = append(out, k+"="+v)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "&")
}

// An attacker pays a 1-fen order of their own whose attach they chose, and
// receives (or is shown) WeChat's signed notification for it. From it they
// build a notification for the victim's order and amount that carries the
// same canonical string, hence the same sign. Verify must refuse it.
func TestVerifyRefusesResplitForgery(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, testKey, SignMD5)

	// What the attacker wants the merchant to read: the S1 order, paid
	// in full, with attach "x".
	forged := s1Fields(t)
	forged["attach"] = "x"
	// Every pair the forgery needs after attach goes into the attach of
	// the attacker's own order...
	genuine := s1Fields(t)
	genuine["attach"] = "x&" + pairs(forged, "attach")
	genuine["out_trade_no"] = "ATTACKER0001"
	genuine["total_fee"] = "1"
	genuine["cash_fee"] = "1"
	genuine["settlement_total_fee"] = "1"
	genuine["coupon_count"] = ""
	for k := range genuine {
		if strings.HasPrefix(k, "coupon_") {
			delete(genuine, k)
		}
	}
	genuine["transaction_id"] = "4200000001202411300000000001"
	// ...and the genuine pairs after attach are swallowed by the last
	// field of the forgery.
	forged["transaction_id"] += "&" + pairs(genuine, "attach")

	// WeChat signs the attacker's genuine order: the plain definition,
	// not our signer, stands for it.
	require.Equal(t, canonical(genuine, testKey), canonical(forged, testKey),
		"the construction must give both messages one canonical string")
	sign := md5Upper(canonical(genuine, testKey))
	genuine["sign"], forged["sign"] = sign, sign
	require.NotEqual(t, genuine["out_trade_no"], forged["out_trade_no"])
	require.Equal(t, "1409811653", forged["out_trade_no"])
	require.Equal(t, "100", forged["total_fee"])
	// Without the ambiguity rule this would be a valid signature.
	require.Equal(t, sign, s.Sign(forged))

	// Through the decoder, as a notification body arrives.
	body, err := EncodeXML(forged)
	require.NoError(t, err)
	p, verr, err := s.decodeVerify(body)
	require.NoError(t, err)
	assert.Equal(t, forged, p)
	assert.ErrorIs(t, verr, ErrAmbiguousValue)
	assert.ErrorIs(t, verr, ErrSignature, "callers branching on ErrSignature must see a forgery")
	assert.ErrorIs(t, s.Verify(forged), ErrAmbiguousValue)

	// The attacker's own message is refused as well: nothing tells the
	// two apart, and both embed fields of their own message.
	assert.ErrorIs(t, s.Verify(genuine), ErrAmbiguousValue)

	// The same messages with attach holding no field verify, so the
	// refusals above come from the rule, not from a broken sign.
	clean := s1Fields(t)
	clean["sign"] = md5Upper(canonical(clean, testKey))
	assert.NoError(t, s.Verify(clean))
}

func TestErrAmbiguousValue(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "wxpay: a field value embeds another field of the message", ErrAmbiguousValue.Error())
	assert.ErrorIs(t, ErrAmbiguousValue, ErrSignature)
	assert.NotErrorIs(t, ErrSignature, ErrAmbiguousValue)
	assert.NotErrorIs(t, ErrAmbiguousValue, ErrSignType)
	wrapped := errors.Join(errors.New("notify"), ErrAmbiguousValue)
	assert.ErrorIs(t, wrapped, ErrAmbiguousValue)
	assert.ErrorIs(t, wrapped, ErrSignature)
}

// The ambiguity rule on signed messages: genuine shapes from WeChat's
// samples pass, values naming a field of their own message do not.
func TestVerifyAmbiguity(t *testing.T) {
	t.Parallel()
	for _, typ := range []SignType{SignMD5, SignHMACSHA256} {
		s := mustSigner(t, testKey, typ)
		// A unifiedorder answer (the response fields of chapter 9_1).
		answer := func(kv ...string) Params {
			p := Params{
				"return_code": "SUCCESS", "return_msg": "OK", "appid": "wxd930ea5d5a258f4f",
				"mch_id": "10000100", "nonce_str": "IITRi8Iabbblz1Jc", "result_code": "SUCCESS",
				"prepay_id": "wx201411101639507cbf6ffd8b0779950874", "trade_type": "NATIVE",
			}
			for i := 0; i < len(kv); i += 2 {
				p[kv[i]] = kv[i+1]
			}
			return p
		}
		tests := []struct {
			name string
			p    Params
			want error
		}{
			{"native code_url", answer("code_url", "weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&groupid=00"), nil},
			{"mweb_url", answer("trade_type", "MWEB", "mweb_url",
				"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx201411101639507cbf6ffd8b0779950874&package=1405458241"), nil},
			{"mweb_url with redirect_url", answer("trade_type", "MWEB", "mweb_url",
				"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2014&package=1405458241&redirect_url=https%3A%2F%2Fexample.com"), nil},
			{"S1 attach", func() Params { p := s1Fields(t); return p }(), nil},
			{"names an absent field", answer("attach", "a&total_fee=1"), nil},
			{"names an empty field", answer("attach", "a&total_fee=1", "total_fee", ""), nil},
			{"names sign", answer("attach", "a&sign=1"), nil},
			{"name without '='", answer("attach", "a&prepay_id"), nil},
			{"field at the start", answer("attach", "prepay_id=1"), nil},
			{"'&=' and '&&'", answer("attach", "&=&&=x&&"), nil},
			{"'=' after another '&'", answer("attach", "a&b&prepay_id"), nil},
			{"names another field", answer("attach", "a&prepay_id=wx1"), ErrAmbiguousValue},
			{"names the last field", answer("attach", "a&trade_type=JSAPI"), ErrAmbiguousValue},
			{"names its own field", answer("attach", "a&attach=b"), ErrAmbiguousValue},
			{"after other pairs", answer("attach", "&x=1&y=2&&result_code=SUCCESS"), ErrAmbiguousValue},
			{"in code_url", answer("code_url", "weixin://wxpay/bizpayurl/up?pr=N&appid=wx1"), ErrAmbiguousValue},
			{"names sign_type", answer("attach", "a&sign_type=MD5", "sign_type", string(typ)), ErrAmbiguousValue},
		}
		for _, tt := range tests {
			p := cloneParams(tt.p)
			p["sign"] = s.Sign(p)
			err := s.Verify(p)
			if tt.want == nil {
				assert.NoError(t, err, "%s %s", typ, tt.name)
			} else {
				assert.ErrorIs(t, err, tt.want, "%s %s", typ, tt.name)
			}
			// decodeVerify gives the same answer from the wire.
			body, err := EncodeXML(p)
			require.NoError(t, err)
			q, verr, err := s.decodeVerify(body)
			require.NoError(t, err)
			assert.Equal(t, p, q)
			assert.Equal(t, s.Verify(p), verr, "%s %s", typ, tt.name)

			// An unsigned ambiguous message is a plain mismatch: the
			// rule only speaks once the key has.
			p["sign"] = strings.Repeat("0", typ.signLen())
			assert.Equal(t, ErrSignature, s.Verify(p), "%s %s", typ, tt.name)
		}
	}
}

// decodeVerify returns what DecodeXML and Verify return, for accepted and
// refused bodies alike.
func TestDecodeVerifyMatchesDecodeXMLAndVerify(t *testing.T) {
	t.Parallel()
	md5s := mustSigner(t, testKey, SignMD5)
	hmacs := mustSigner(t, testKey, SignHMACSHA256)
	var bodies [][]byte
	for _, name := range []string{"s1_md5.xml", "s1_hmac.xml", "s2_hmac_sign_type.xml"} {
		b, err := os.ReadFile(filepath.Join("testdata", "notify", name))
		require.NoError(t, err)
		bodies = append(bodies, b)
	}
	for _, s := range xmlSeeds {
		bodies = append(bodies, []byte(s))
	}
	bodies = append(bodies,
		[]byte(`<xml><a>1</a><b>2</b><a>3</a><c>`), // duplicate before a syntax error
		[]byte(`<xml><b>1</b><a/><a>3</a></xml>`),  // duplicate of an empty field
		[]byte(`<xml><sign>ABC</sign><sign_type>MD5</sign_type></xml>`),
		[]byte(`<xml><return_code>FAIL</return_code><return_msg>x</return_msg></xml>`),
		[]byte(`<xml/>`),
		[]byte(``),
	)
	for _, b := range bodies {
		want, wantErr := DecodeXML(b)
		for _, s := range []*Signer{md5s, hmacs} {
			p, verr, err := s.decodeVerify(b)
			if wantErr != nil {
				assert.Equal(t, wantErr, err, "%q", b)
				assert.Nil(t, p)
				assert.Nil(t, verr)
				continue
			}
			require.NoError(t, err, "%q", b)
			assert.Equal(t, want, p, "%q", b)
			assert.Equal(t, s.Verify(want), verr, "%q", b)
		}
	}
	// The S1 bodies verify under their own algorithm.
	_, verr, err := md5s.decodeVerify(bodies[0])
	require.NoError(t, err)
	assert.NoError(t, verr)
	_, verr, err = hmacs.decodeVerify(bodies[1])
	require.NoError(t, err)
	assert.NoError(t, verr)
}

// encodeSigned writes exactly what EncodeXML writes once the sign is set,
// so the golden request files do not change.
func TestEncodeSignedMatchesEncodeXML(t *testing.T) {
	t.Parallel()
	goldens, err := filepath.Glob("testdata/client/*.golden")
	require.NoError(t, err)
	require.NotEmpty(t, goldens)
	md5s := mustSigner(t, testKey, SignMD5)
	for _, g := range goldens {
		want, err := os.ReadFile(g)
		require.NoError(t, err)
		p, err := DecodeXML(want)
		require.NoError(t, err)
		var fs []field
		for k, v := range p {
			if k != "sign" {
				fs = append(fs, field{k, v})
			}
		}
		got, err := md5s.encodeSigned(fs)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), g)
	}

	many := Params{}
	for i := 0; i < 300; i++ {
		many["coupon_fee_"+itoaTest(i)] = itoaTest(i)
	}
	for name, p := range map[string]Params{
		"empty":                  {},
		"only sign's neighbours": {"sig": "1", "sign_type": "MD5", "signa": "2", "Sign": "3", "s": "4", "t": "5"},
		"empty values":           {"a": "", "b": "1", "z": ""},
		"escaping":               {"attach": "a<b&c>d\r\n", "body": "<", "detail": "😀"},
		"many fields":            many,
		"a sign given":           {"a": "1", "sign": "WRONG"},
	} {
		for _, typ := range []SignType{SignMD5, SignHMACSHA256} {
			s := mustSigner(t, testKey, typ)
			var fs []field
			for k, v := range p {
				fs = append(fs, field{k, v})
			}
			got, err := s.encodeSigned(fs)
			require.NoError(t, err, name)
			q := cloneParams(p)
			q["sign"] = s.Sign(q)
			want, err := EncodeXML(q)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got), "%s %s", name, typ)
		}
	}
}

func TestEncodeSignedRejects(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, testKey, SignMD5)
	for name, p := range map[string]Params{
		"control char":    {"a": "x\x01"},
		"invalid utf-8":   {"a": "\xff"},
		"bad name":        {"a b": "1", "z": "\x01"},
		"empty name":      {"": "1"},
		"markup name":     {"a><b": "1"},
		"bad after sign":  {"t": "\x02"},
		"bad before sign": {"a": "\x02"},
	} {
		var fs []field
		for k, v := range p {
			fs = append(fs, field{k, v})
		}
		_, err := s.encodeSigned(fs)
		require.Error(t, err, name)
		q := cloneParams(p)
		q["sign"] = s.Sign(q)
		_, want := EncodeXML(q)
		assert.Equal(t, want.Error(), err.Error(), name)
	}
	_, err := s.encodeSigned([]field{{"a", "1"}, {"b", "2"}, {"a", "1"}})
	assert.EqualError(t, err, `wxpay: encode XML: duplicate field name "a"`)
}

// sortFields must agree with a plain sort on any names: long shared
// prefixes (several key widths deep), names that are prefixes of others,
// NUL bytes that key padding cannot tell from an end, and duplicates.
func TestSortFieldsMatchesSort(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{'a', 'b', '_', 0}
	for round := 0; round < 300; round++ {
		n := rng.IntN(40)
		if round%10 == 0 {
			n = 200 + rng.IntN(400)
		}
		prefix := strings.Repeat("coupon_refund_fee_", rng.IntN(3))
		fs := make([]field, n)
		for i := range fs {
			name := []byte(prefix)
			for j := rng.IntN(20); j > 0; j-- {
				name = append(name, alphabet[rng.IntN(len(alphabet))])
			}
			fs[i] = field{string(name), itoaTest(i)}
		}
		want := slices.Clone(fs)
		slices.SortStableFunc(want, func(a, b field) int { return strings.Compare(a.k, b.k) })
		var buf [32]field
		got := sortFields(slices.Clone(fs), buf[:0])
		require.Len(t, got, n)
		for i := range got {
			require.Equal(t, want[i].k, got[i].k, "round %d, position %d", round, i)
		}
		// Same multiset of fields: nothing lost or doubled.
		slices.SortFunc(got, func(a, b field) int {
			return cmp.Or(strings.Compare(a.k, b.k), strings.Compare(a.v, b.v))
		})
		slices.SortFunc(want, func(a, b field) int {
			return cmp.Or(strings.Compare(a.k, b.k), strings.Compare(a.v, b.v))
		})
		require.Equal(t, want, got)
	}
}
