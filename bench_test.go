package wxpay

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
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

// canonical is the plain definition of the string-to-sign, computed once
// outside the floor benchmarks' loops.
func canonical(p Params, key string) string {
	keys := make([]string, 0, len(p))
	for k, v := range p {
		if v != "" && k != "sign" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + p[k] + "&")
	}
	b.WriteString("key=" + key)
	return b.String()
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

// benchNotifyBody is a 24-field payment notification in WeChat's own
// layout (CDATA for strings, bare numbers).
var benchNotifyBody = []byte(`<xml>
<appid><![CDATA[wxd930ea5d5a258f4f]]></appid>
<attach><![CDATA[支付测试]]></attach>
<bank_type><![CDATA[CMC]]></bank_type>
<cash_fee>80</cash_fee>
<coupon_count>2</coupon_count>
<coupon_fee>20</coupon_fee>
<coupon_fee_0>10</coupon_fee_0>
<coupon_fee_1>10</coupon_fee_1>
<coupon_id_0><![CDATA[10000]]></coupon_id_0>
<coupon_id_1><![CDATA[10001]]></coupon_id_1>
<coupon_type_0><![CDATA[CASH]]></coupon_type_0>
<coupon_type_1><![CDATA[NO_CASH]]></coupon_type_1>
<fee_type><![CDATA[CNY]]></fee_type>
<is_subscribe><![CDATA[N]]></is_subscribe>
<mch_id><![CDATA[10000100]]></mch_id>
<nonce_str><![CDATA[ibuaiVcKdpRxkhJA]]></nonce_str>
<openid><![CDATA[oUpF8uMuAJO_M2pxb1Q9zNjWeS6o]]></openid>
<out_trade_no><![CDATA[1409811653]]></out_trade_no>
<result_code><![CDATA[SUCCESS]]></result_code>
<return_code><![CDATA[SUCCESS]]></return_code>
<sign><![CDATA[A00744A890852A2FA7B302F5C76762B6]]></sign>
<time_end><![CDATA[20141030133525]]></time_end>
<total_fee>100</total_fee>
<trade_type><![CDATA[JSAPI]]></trade_type>
<transaction_id><![CDATA[1004400740201409030005092168]]></transaction_id>
</xml>`)

var sinkParams Params

func BenchmarkDecodeXML(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchNotifyBody)))
	for i := 0; i < b.N; i++ {
		p, err := DecodeXML(benchNotifyBody)
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
	b.ReportAllocs()
	b.SetBytes(int64(len(benchNotifyBody)))
	for i := 0; i < b.N; i++ {
		sinkParams = minimalScan(benchNotifyBody)
	}
}

func minimalScan(body []byte) Params {
	p := make(Params, 32)
	rest := body[bytes.IndexByte(body, '>')+1:]
	for {
		lt := bytes.IndexByte(rest, '<')
		if lt < 0 || lt+1 >= len(rest) || rest[lt+1] == '/' {
			return p
		}
		rest = rest[lt+1:]
		gt := bytes.IndexByte(rest, '>')
		name := rest[:gt]
		rest = rest[gt+1:]
		end := bytes.Index(rest, []byte("</"))
		val := rest[:end]
		if bytes.HasPrefix(val, []byte("<![CDATA[")) {
			val = val[9 : len(val)-3]
		}
		p[string(name)] = string(val)
		rest = rest[end+2+len(name)+1:]
	}
}

func TestMinimalScanMatchesDecoder(t *testing.T) {
	t.Parallel()
	// The floor must do the same job, or the ratio means nothing.
	p, err := DecodeXML(benchNotifyBody)
	if err != nil {
		t.Fatal(err)
	}
	if q := minimalScan(benchNotifyBody); !equalParams(p, q) {
		t.Fatalf("floor scan differs:\n %q\n %q", p, q)
	}
	if len(p) != 25 || p["sign"] != "A00744A890852A2FA7B302F5C76762B6" {
		t.Fatalf("unexpected body: %d fields", len(p))
	}
	if want := hex.EncodeToString(nil); want != "" {
		t.Fatal("unreachable")
	}
}
