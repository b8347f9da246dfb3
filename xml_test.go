package wxpay

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeXMLAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Params
	}{
		{"official example body",
			`<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info><body>test</body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str><sign>9A0A8659F005D6984697E2CA0A9CF3B7</sign></xml>`,
			Params{"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000", "body": "test", "nonce_str": "ibuaiVcKdpRxkhJA", "sign": "9A0A8659F005D6984697E2CA0A9CF3B7"}},
		{"CDATA and whitespace",
			"<xml>\n  <return_code><![CDATA[SUCCESS]]></return_code>\r\n\t<total_fee>1</total_fee>\n</xml>\n",
			Params{"return_code": "SUCCESS", "total_fee": "1"}},
		{"declaration and comments",
			`<?xml version="1.0" encoding="UTF-8"?><!-- a --><xml><!-- b --><a>1</a><!-- c --></xml><!-- d -->`,
			Params{"a": "1"}},
		{"declaration single quotes standalone",
			`<?xml version='1.0' encoding='utf-8' standalone='yes'?>` + "\n<xml><a>1</a></xml>",
			Params{"a": "1"}},
		{"empty values", `<xml><a></a><b/><c ></c><d><![CDATA[]]></d></xml>`,
			Params{"a": "", "b": "", "c": "", "d": ""}},
		{"entities", `<xml><a>&lt;b&gt; &amp; &apos;&quot; &#65;&#x42;&#x4e2d;</a></xml>`,
			Params{"a": `<b> & '" AB中`}},
		{"CDATA keeps markup", `<xml><a><![CDATA[<b>&amp;</b>]]></a></xml>`,
			Params{"a": "<b>&amp;</b>"}},
		{"split CDATA holds ]]>", `<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a></xml>`,
			Params{"a": "x]]>y"}},
		{"text and CDATA mixed", `<xml><a>x<![CDATA[y]]>z</a></xml>`, Params{"a": "xyz"}},
		{"chinese and emoji", `<xml><attach>支付测试😀</attach></xml>`, Params{"attach": "支付测试😀"}},
		{"line ends normalized", "<xml><a>x\r\ny\rz</a><b><![CDATA[p\r\nq]]></b></xml>",
			Params{"a": "x\ny\nz", "b": "p\nq"}},
		{"escaped CR survives", `<xml><a>x&#xD;y</a></xml>`, Params{"a": "x\ry"}},
		{"spaces kept in values", `<xml><a>  x  </a></xml>`, Params{"a": "  x  "}},
		{"end tag space", `<xml><a>1</a ></xml >`, Params{"a": "1"}},
		{"self-closing root", `<xml/>`, Params{}},
		{"names with digits dots dashes", `<xml><coupon_id_0>1</coupon_id_0><a.b-c>2</a.b-c></xml>`,
			Params{"coupon_id_0": "1", "a.b-c": "2"}},
		{"lone brackets", `<xml><a>]]</a><b>]></b><c>a>b</c></xml>`, Params{"a": "]]", "b": "]>", "c": "a>b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeXML([]byte(tt.in))
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeXML mismatch (-want +got):\n%s", diff)
			}
			// encoding/xml reads the same map: the parity the fuzz
			// target checks, pinned for the interesting cases.
			ref, err := referenceDecode([]byte(tt.in), "xml")
			require.NoError(t, err)
			assert.Equal(t, tt.want, ref)
		})
	}
}

func TestDecodeXMLRejects(t *testing.T) {
	t.Parallel()
	tooMany := &strings.Builder{}
	tooMany.WriteString("<xml>")
	for i := 0; i <= MaxXMLFields; i++ {
		tooMany.WriteString("<f" + itoaTest(i) + ">1</f" + itoaTest(i) + ">")
	}
	tooMany.WriteString("</xml>")
	huge := "<xml><a>" + strings.Repeat("x", MaxXMLSize) + "</a></xml>"

	tests := []struct {
		name string
		in   string
		want XMLReason
	}{
		{"empty input", "", XMLEmpty},
		{"only whitespace", " \n\t", XMLEmpty},
		{"only declaration", `<?xml version="1.0"?>`, XMLEmpty},
		{"only comment", `<!-- x -->`, XMLEmpty},
		{"doctype", `<!DOCTYPE xml><xml><a>1</a></xml>`, XMLDoctype},
		{"xxe external entity", `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><a>&x;</a></xml>`, XMLDoctype},
		{"billion laughs", `<!DOCTYPE l [<!ENTITY a "aa"><!ENTITY b "&a;&a;">]><xml><a>&b;</a></xml>`, XMLDoctype},
		{"doctype inside root", `<xml><!DOCTYPE x><a>1</a></xml>`, XMLDoctype},
		{"entity decl inside value", `<xml><a><!ENTITY x "y"></a></xml>`, XMLDoctype},
		{"undeclared entity", `<xml><a>&x;</a></xml>`, XMLSyntax},
		{"nested element", `<xml><a><b>1</b></a></xml>`, XMLNested},
		{"nested after text", `<xml><a>1<b/></a></xml>`, XMLNested},
		{"attribute on field", `<xml><total_fee currency="USD">1</total_fee></xml>`, XMLAttribute},
		{"attribute on root", `<xml a="1"><b>1</b></xml>`, XMLAttribute},
		{"xmlns on root", `<xml xmlns="urn:x"><a>1</a></xml>`, XMLNamespace},
		{"prefixed field", `<xml><x:total_fee>1</x:total_fee></xml>`, XMLNamespace},
		{"prefixed root", `<x:xml><a>1</a></x:xml>`, XMLNamespace},
		{"duplicate field", `<xml><total_fee>1</total_fee><total_fee>100</total_fee></xml>`, XMLDuplicate},
		{"duplicate empty field", `<xml><sign/><sign>A</sign></xml>`, XMLDuplicate},
		{"second document", `<xml><a>1</a></xml><xml><a>2</a></xml>`, XMLTrailing},
		{"text after root", `<xml><a>1</a></xml>junk`, XMLTrailing},
		{"wrong root", `<root><a>1</a></root>`, XMLRoot},
		{"root case", `<XML><a>1</a></XML>`, XMLRoot},
		{"invalid utf-8", "<xml><a>\xff\xfe</a></xml>", XMLInvalidUTF8},
		{"overlong utf-8", "<xml><a>\xc0\xaf</a></xml>", XMLInvalidUTF8},
		{"gbk declared", `<?xml version="1.0" encoding="GBK"?><xml><a>1</a></xml>`, XMLEncoding},
		{"utf-16 declared", `<?xml version="1.0" encoding="UTF-16"?><xml/>`, XMLEncoding},
		{"too many fields", tooMany.String(), XMLTooManyFields},
		{"too large", huge, XMLTooLarge},
		{"unclosed root", `<xml><a>1</a>`, XMLSyntax},
		{"unclosed field", `<xml><a>1</xml>`, XMLSyntax},
		{"mismatched end", `<xml><a>1</b></xml>`, XMLSyntax},
		{"end tag prefix", `<xml><a>1</ab></xml>`, XMLSyntax},
		{"text in root", `<xml>hello<a>1</a></xml>`, XMLSyntax},
		{"raw ]]> in text", `<xml><a>x]]>y</a></xml>`, XMLSyntax},
		{"unterminated CDATA", `<xml><a><![CDATA[x</a></xml>`, XMLSyntax},
		{"comment in value", `<xml><a>1<!-- x -->00</a></xml>`, XMLSyntax},
		{"processing instruction", `<xml><?php x ?><a>1</a></xml>`, XMLSyntax},
		{"declaration not first", ` <?xml version="1.0"?><xml/>`, XMLSyntax},
		{"declaration bad version", `<?xml version="1.1"?><xml/>`, XMLSyntax},
		{"declaration garbage", `<?xml version="1.0" foo="bar"?><xml/>`, XMLSyntax},
		{"declaration unterminated", `<?xml version="1.0"<xml/>`, XMLSyntax},
		{"control character", "<xml><a>\x01</a></xml>", XMLSyntax},
		{"NUL", "<xml><a>\x00</a></xml>", XMLSyntax},
		{"NUL char ref", `<xml><a>&#0;</a></xml>`, XMLSyntax},
		{"surrogate char ref", `<xml><a>&#xD800;</a></xml>`, XMLSyntax},
		{"huge char ref", `<xml><a>&#99999999999;</a></xml>`, XMLSyntax},
		{"U+FFFE", "<xml><a>\uFFFE</a></xml>", XMLSyntax},
		{"control in CDATA", "<xml><a><![CDATA[\x02]]></a></xml>", XMLSyntax},
		{"bare ampersand", `<xml><a>a & b</a></xml>`, XMLSyntax},
		{"double dash comment", `<xml><!-- a -- b --><a>1</a></xml>`, XMLSyntax},
		{"BOM", "\xef\xbb\xbf<xml/>", XMLSyntax},
		{"non-ascii name", `<xml><名>1</名></xml>`, XMLSyntax},
		{"lt in text", `<xml><a>1 < 2</a></xml>`, XMLSyntax},
		{"not xml", `{"return_code":"SUCCESS"}`, XMLSyntax},
		{"html", `<html><body>502 Bad Gateway</body></html>`, XMLRoot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := DecodeXML([]byte(tt.in))
			require.Error(t, err)
			assert.Nil(t, p, "never a partial map with an error")
			var xe *XMLError
			require.True(t, errors.As(err, &xe), "error %T is not *XMLError", err)
			assert.Equal(t, tt.want, xe.Reason, "got %v", err)
			assert.True(t, errors.Is(err, ErrXML))
			assert.LessOrEqual(t, xe.Offset, len(tt.in))
			assert.Less(t, len(err.Error()), 120, "error text stays short and content-free")
		})
	}
}

func TestDecodeXMLRefundRoot(t *testing.T) {
	t.Parallel()
	p, err := decodeXML([]byte("<root>\n<a><![CDATA[1]]></a>\n</root>"), "root")
	require.NoError(t, err)
	assert.Equal(t, Params{"a": "1"}, p)
	_, err = decodeXML([]byte("<xml><a>1</a></xml>"), "root")
	var xe *XMLError
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, XMLRoot, xe.Reason)
}

func TestEncodeXML(t *testing.T) {
	t.Parallel()
	p := Params{
		"body":      "test",
		"appid":     "wxd930ea5d5a258f4f",
		"attach":    "a&b<c>d]]>e",
		"detail":    `{"goods_detail":[{"goods_name":"iPhone 苹果 😀","price":1}]}`,
		"cr":        "x\r\ny",
		"empty":     "",
		"nonce_str": "ibuaiVcKdpRxkhJA",
	}
	b, err := EncodeXML(p)
	require.NoError(t, err)
	// Deterministic: sorted keys, escaped text.
	want := `<xml><appid>wxd930ea5d5a258f4f</appid><attach>a&amp;b&lt;c&gt;d]]&gt;e</attach><body>test</body><cr>x&#xD;` + "\n" + `y</cr>` +
		`<detail>{"goods_detail":[{"goods_name":"iPhone 苹果 😀","price":1}]}</detail><empty></empty><nonce_str>ibuaiVcKdpRxkhJA</nonce_str></xml>`
	assert.Equal(t, want, string(b))

	// Any XML parser reads it back to the same map.
	ref, err := referenceDecode(b, "xml")
	require.NoError(t, err)
	assert.Equal(t, p, ref)
	got, err := DecodeXML(b)
	require.NoError(t, err)
	assert.Equal(t, p, got)

	again, err := EncodeXML(got)
	require.NoError(t, err)
	assert.Equal(t, b, again)
}

// Each value is written with exactly the escapes EncodeXML promises, and
// the first special byte of a value takes the same path as any later one.
func TestEncodeXMLEscapes(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"<", "&lt;"},
		{"a<b", "a&lt;b"},
		{"</a><b>x", "&lt;/a&gt;&lt;b&gt;x"},
		{"<![CDATA[x]]>", "&lt;![CDATA[x]]&gt;"},
		{"<!--x-->", "&lt;!--x--&gt;"},
		{"&", "&amp;"},
		{"a&lt;", "a&amp;lt;"},
		{">", "&gt;"},
		{"]]>", "]]&gt;"},
		{"\r", "&#xD;"},
		{"a\r\nb", "a&#xD;\nb"},
		{"\t\n", "\t\n"},
		{"'\"", "'\""},
		{"中<文", "中&lt;文"},
		{"😀>", "😀&gt;"},
	}
	for _, tt := range tests {
		b, err := EncodeXML(Params{"a": tt.in})
		require.NoError(t, err, "%q", tt.in)
		assert.Equal(t, "<xml><a>"+tt.want+"</a></xml>", string(b), "%q", tt.in)
		got, err := DecodeXML(b)
		require.NoError(t, err, "%q", tt.in)
		assert.Equal(t, tt.in, got["a"])
	}
}

// The size cap is exact: a well-formed document of MaxXMLSize bytes is
// read, one byte more is refused before parsing.
func TestDecodeXMLSizeCap(t *testing.T) {
	t.Parallel()
	doc := func(n int) []byte {
		const frame = len("<xml><a></a></xml>")
		return []byte("<xml><a>" + strings.Repeat("x", n-frame) + "</a></xml>")
	}
	atCap := doc(MaxXMLSize)
	require.Len(t, atCap, MaxXMLSize)
	p, err := DecodeXML(atCap)
	require.NoError(t, err)
	assert.Len(t, p["a"], MaxXMLSize-len("<xml><a></a></xml>"))
	_, _, err = mustSigner(t, testKey, SignMD5).decodeVerify(atCap)
	require.NoError(t, err)

	over := doc(MaxXMLSize + 1)
	require.Len(t, over, MaxXMLSize+1)
	for name, decode := range map[string]func([]byte) error{
		"DecodeXML": func(b []byte) error { _, err := DecodeXML(b); return err },
		"decodeVerify": func(b []byte) error {
			_, _, err := mustSigner(t, testKey, SignMD5).decodeVerify(b)
			return err
		},
	} {
		err := decode(over)
		var xe *XMLError
		require.ErrorAs(t, err, &xe, name)
		assert.Equal(t, XMLTooLarge, xe.Reason, name)
		assert.Equal(t, MaxXMLSize, xe.Offset, name)
	}
}

func TestEncodeXMLRejects(t *testing.T) {
	t.Parallel()
	for name, p := range map[string]Params{
		"control char":    {"a": "x\x01"},
		"invalid utf-8":   {"a": "\xff"},
		"U+FFFF":          {"a": "\uFFFF"},
		"bad name":        {"a b": "1"},
		"empty name":      {"": "1"},
		"namespaced name": {"x:a": "1"},
		"markup name":     {"a><b": "1"},
	} {
		_, err := EncodeXML(p)
		assert.Error(t, err, name)
	}
}

// referenceDecode reads a flat document with encoding/xml in strict mode,
// the independent reference the hand-written decoder is held to.
func referenceDecode(b []byte, root string) (Params, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	p := Params{}
	depth := 0
	var name string
	var val strings.Builder
	sawRoot := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if !sawRoot || depth != 0 {
				return nil, errors.New("ref: incomplete")
			}
			return p, nil
		}
		if err != nil {
			return nil, err
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if len(tk.Attr) > 0 || tk.Name.Space != "" {
				return nil, errors.New("ref: attributes or namespace")
			}
			switch depth {
			case 0:
				if sawRoot || tk.Name.Local != root {
					return nil, errors.New("ref: root")
				}
				sawRoot = true
			case 1:
				name = tk.Name.Local
				val.Reset()
			default:
				return nil, errors.New("ref: nested")
			}
			depth++
		case xml.EndElement:
			depth--
			if depth == 1 {
				if _, dup := p[name]; dup {
					return nil, errors.New("ref: duplicate")
				}
				p[name] = val.String()
			}
		case xml.CharData:
			switch depth {
			case 2:
				val.Write(tk)
			default:
				if len(bytes.TrimLeft(tk, " \t\r\n")) != 0 {
					return nil, errors.New("ref: text outside fields")
				}
			}
		case xml.Directive:
			return nil, errors.New("ref: directive")
		}
	}
}

func itoaTest(i int) string {
	return string(appendInt(nil, i))
}

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

// The decoder's memory is bounded by its input: a few copies of it at
// most, whatever the input holds. (Not parallel: it reads the process's
// allocation counter.)
func TestDecodeXMLMemoryBound(t *testing.T) {
	many := &strings.Builder{}
	many.WriteString("<xml>")
	for i := 0; i < MaxXMLFields; i++ {
		many.WriteString("<f" + itoaTest(i) + ">&amp;&#x4e2d;" + strings.Repeat("v", 100) + "</f" + itoaTest(i) + ">")
	}
	many.WriteString("</xml>")
	inputs := map[string]string{
		"one huge value":      "<xml><a>" + strings.Repeat("x", MaxXMLSize-20) + "</a></xml>",
		"one huge escaped":    "<xml><a>" + strings.Repeat("&lt;", (MaxXMLSize-20)/4) + "</a></xml>",
		"huge CDATA pieces":   "<xml><a>" + strings.Repeat("<![CDATA[x]]>", (MaxXMLSize-20)/13) + "</a></xml>",
		"max fields":          many.String(),
		"over the limit":      strings.Repeat("<", MaxXMLSize+1),
		"rejected late":       "<xml><a>" + strings.Repeat("x", MaxXMLSize/2) + "</a><a>dup</a></xml>",
		"many comments":       "<xml>" + strings.Repeat("<!---->", (MaxXMLSize-20)/7) + "</xml>",
		"many short end tags": "<xml>" + strings.Repeat("<a/>", 1) + strings.Repeat("</", (MaxXMLSize-20)/2) + "</xml>",
	}
	s := mustSigner(t, testKey, SignHMACSHA256)
	decoders := map[string]func([]byte){
		"DecodeXML":    func(b []byte) { _, _ = DecodeXML(b) },
		"decodeVerify": func(b []byte) { _, _, _ = s.decodeVerify(b) },
	}
	for name, in := range inputs {
		b := []byte(in)
		for dname, decode := range decoders {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			const runs = 3
			for i := 0; i < runs; i++ {
				decode(b)
			}
			runtime.ReadMemStats(&after)
			perRun := (after.TotalAlloc - before.TotalAlloc) / runs
			assert.LessOrEqual(t, perRun, uint64(6*len(b)+64<<10), "%s %s: %d bytes for %d of input", dname, name, perRun, len(b))
		}
	}
}
