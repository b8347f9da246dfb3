package wxpay

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"os"
	"sort"
	"strings"
	"testing"
)

// benchOrder is the 10-field unifiedorder request the sign benchmarks use.
var benchOrder = Params{
	"appid":            "wxd930ea5d5a258f4f",
	"mch_id":           "10000100",
	"nonce_str":        "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
	"body":             "腾讯充值中心-QQ会员充值",
	"out_trade_no":     "20150806125346",
	"total_fee":        "88",
	"spbill_create_ip": "123.12.12.123",
	"notify_url":       "https://www.weixin.qq.com/wxpay/pay.php",
	"trade_type":       "JSAPI",
	"openid":           "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
}

var sinkString string

func BenchmarkSignMD5(b *testing.B) {
	s := mustSigner(b, testKey, SignMD5)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sinkString = s.Sign(benchOrder)
	}
}

// BenchmarkSignMD5Floor is the standard-library floor for SignMD5: MD5 of
// the prebuilt canonical string, written as the same uppercase hex string.
func BenchmarkSignMD5Floor(b *testing.B) {
	c := []byte(canonical(benchOrder, testKey))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sum := md5.Sum(c)
		var out [32]byte
		upperHex(out[:], sum[:])
		sinkString = string(out[:])
	}
}

func BenchmarkSignHMACSHA256(b *testing.B) {
	s := mustSigner(b, testKey, SignHMACSHA256)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sinkString = s.Sign(benchOrder)
	}
}

// BenchmarkSignHMACSHA256Floor is crypto/hmac over the prebuilt canonical
// string, the way the standard library computes it.
func BenchmarkSignHMACSHA256Floor(b *testing.B) {
	c := []byte(canonical(benchOrder, testKey))
	key := []byte(testKey)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m := hmac.New(sha256.New, key)
		m.Write(c)
		var sum [32]byte
		var out [64]byte
		upperHex(out[:], m.Sum(sum[:0]))
		sinkString = string(out[:])
	}
}

// benchNotifyBody is the S1 payment notification as WeChat lays it out
// (CDATA for strings, bare numbers): 26 fields, sign included.
func benchNotifyBody(tb testing.TB) []byte {
	tb.Helper()
	body, err := os.ReadFile("testdata/notify/s1_md5.xml")
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

var sinkParams Params

func BenchmarkDecodeXML(b *testing.B) {
	body := benchNotifyBody(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		p, err := DecodeXML(body)
		if err != nil {
			b.Fatal(err)
		}
		sinkParams = p
	}
}

// BenchmarkDecodeXMLFloor is a minimal standard-library scan of the same
// body into the same map: find each <name>, take the text up to </name>,
// strip CDATA. It validates nothing.
func BenchmarkDecodeXMLFloor(b *testing.B) {
	body := benchNotifyBody(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		sinkParams = minimalScan(body)
	}
}

func TestMinimalScanMatchesDecoder(t *testing.T) {
	t.Parallel()
	// The floor must do the same job, or the ratio means nothing.
	body := benchNotifyBody(t)
	p, err := DecodeXML(body)
	if err != nil {
		t.Fatal(err)
	}
	if q := minimalScan(body); !equalParams(p, q) {
		t.Fatalf("floor scan differs:\n %q\n %q", p, q)
	}
	if len(p) != 26 || p["sign"] != "A00744A890852A2FA7B302F5C76762B6" {
		t.Fatalf("unexpected body: %d fields", len(p))
	}
}

// fieldCounts are the message sizes of the linear-cost benchmarks: a
// typical notification, one with a dozen coupons, and two far past
// anything documented (up to MaxXMLFields).
var fieldCounts = []int{30, 100, 250, 500}

// couponMessage returns a payment notification of n fields, signed with
// testKey by the plain definition: the S1 fields, then coupon_fee_i,
// coupon_id_i and coupon_type_i families, which share their first seven
// bytes and so stress the sort's tie-breaking.
func couponMessage(tb testing.TB, n int) Params {
	tb.Helper()
	body, err := os.ReadFile("testdata/notify/s1_md5.xml")
	if err != nil {
		tb.Fatal(err)
	}
	p, err := DecodeXML(body)
	if err != nil {
		tb.Fatal(err)
	}
	delete(p, "sign")
	for i := 0; len(p) < n-1; i++ {
		si := itoaTest(i)
		for _, f := range []field{{"coupon_fee_" + si, "1"}, {"coupon_id_" + si, "2000000" + si}, {"coupon_type_" + si, "CASH"}} {
			if len(p) < n-1 {
				p[f.k] = f.v
			}
		}
	}
	p["coupon_count"] = itoaTest(len(p))
	p["sign"] = md5Upper(canonical(p, testKey))
	if len(p) != n {
		tb.Fatalf("built %d fields, want %d", len(p), n)
	}
	return p
}

func benchName(n int) string { return "fields=" + itoaTest(n) }

// BenchmarkSignFields signs messages of growing size; the cost per field
// must stay flat (n log n at worst, as for the floor's sort).
func BenchmarkSignFields(b *testing.B) {
	s := mustSigner(b, testKey, SignMD5)
	for _, n := range fieldCounts {
		p := couponMessage(b, n)
		b.Run(benchName(n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkString = s.Sign(p)
			}
		})
	}
}

// BenchmarkSignFieldsFloor is the standard library's way to sign the same
// maps: canonical (sort.Strings and a strings.Builder), MD5 and hex.
func BenchmarkSignFieldsFloor(b *testing.B) {
	for _, n := range fieldCounts {
		p := couponMessage(b, n)
		b.Run(benchName(n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sum := md5.Sum([]byte(canonical(p, testKey)))
				var out [32]byte
				upperHex(out[:], sum[:])
				sinkString = string(out[:])
			}
		})
	}
}

var sinkErr error

// BenchmarkDecodeVerifyFields decodes and verifies notification bodies of
// growing size, as ParseNotification does before mapping fields.
func BenchmarkDecodeVerifyFields(b *testing.B) {
	s := mustSigner(b, testKey, SignMD5)
	for _, n := range fieldCounts {
		body, err := EncodeXML(couponMessage(b, n))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(benchName(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for i := 0; i < b.N; i++ {
				p, verr, err := s.decodeVerify(body)
				if err != nil || verr != nil {
					b.Fatal(err, verr)
				}
				sinkParams = p
			}
		})
	}
}

// BenchmarkDecodeVerifyFieldsFloor is the least a verifying parser does
// with the standard library on the same bodies: minimalScan into a map,
// canonical, MD5, hex (validating nothing).
func BenchmarkDecodeVerifyFieldsFloor(b *testing.B) {
	for _, n := range fieldCounts {
		p := couponMessage(b, n)
		body, err := EncodeXML(p)
		if err != nil {
			b.Fatal(err)
		}
		if got := ntFloorSign(body, testKey); got != p["sign"] {
			b.Fatalf("floor computes sign %s, want %s", got, p["sign"])
		}
		b.Run(benchName(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for i := 0; i < b.N; i++ {
				ntSinkSign = ntFloorSign(body, testKey)
			}
		})
	}
}

// benchRequest is benchOrder as the client sends it: with sign_type and
// the fields a request carries besides the order.
func benchRequest() []field {
	fs := []field{{"sign_type", "MD5"}, {"attach", "深圳分店"}, {"time_start", "20240501120000"}, {"time_expire", "20240501140000"}}
	for k, v := range benchOrder {
		fs = append(fs, field{k, v})
	}
	return fs
}

var sinkBytes []byte

// BenchmarkEncodeSigned is a request body built as the client builds it:
// an unsorted field list, sorted once for the sign and the XML.
func BenchmarkEncodeSigned(b *testing.B) {
	s := mustSigner(b, testKey, SignMD5)
	fs := benchRequest()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		body, err := s.encodeSigned(fs)
		if err != nil {
			b.Fatal(err)
		}
		sinkBytes = body
	}
}

// BenchmarkEncodeSignedFloor is the same body built with the standard
// library and no validation: the names sorted once, the canonical string
// and the XML (xml.EscapeText) written from that order, MD5 and hex.
func BenchmarkEncodeSignedFloor(b *testing.B) {
	fs := benchRequest()
	p := Params{}
	for _, f := range fs {
		p[f.k] = f.v
	}
	want := mustSigner(b, testKey, SignMD5).Sign(p)
	if got := encodeFloor(p, testKey); !bytes.Contains(got, []byte("<sign>"+want+"</sign>")) {
		b.Fatalf("floor writes %s without the sign %s", got, want)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sinkBytes = encodeFloor(p, testKey)
	}
}

func encodeFloor(p Params, key string) []byte {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var c strings.Builder
	for _, k := range keys {
		c.WriteString(k)
		c.WriteByte('=')
		c.WriteString(p[k])
		c.WriteByte('&')
	}
	c.WriteString("key=")
	c.WriteString(key)
	sum := md5.Sum([]byte(c.String()))
	sign := strings.ToUpper(hex.EncodeToString(sum[:]))
	var x bytes.Buffer
	x.WriteString("<xml>")
	signed := false
	for _, k := range keys {
		if !signed && k > "sign" {
			x.WriteString("<sign>" + sign + "</sign>")
			signed = true
		}
		x.WriteString("<" + k + ">")
		_ = xml.EscapeText(&x, []byte(p[k]))
		x.WriteString("</" + k + ">")
	}
	if !signed {
		x.WriteString("<sign>" + sign + "</sign>")
	}
	x.WriteString("</xml>")
	return x.Bytes()
}
