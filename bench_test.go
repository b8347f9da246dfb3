package wxpay

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"os"
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
