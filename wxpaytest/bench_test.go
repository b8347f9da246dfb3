package wxpaytest_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// BenchmarkServeUnifiedOrder measures one unifiedorder through the fake's
// handler: parse, verify, order bookkeeping, sign, encode. Compare it with
// BenchmarkFloorUnifiedOrder, the least the standard library needs for the
// same message work.
func BenchmarkServeUnifiedOrder(b *testing.B) {
	fake, err := wxpaytest.New(testConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer fake.Close()
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = signed(b, orderFields(fmt.Sprintf("b-%d", i)), testKey, wxpay.SignMD5)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/pay/unifiedorder", bytes.NewReader(bodies[i])))
		if !bytes.Contains(rec.Body.Bytes(), []byte("prepay_id")) {
			b.Fatalf("answer %s", rec.Body.Bytes())
		}
	}
}

// BenchmarkFloorUnifiedOrder is the floor: encoding/xml into a map, an MD5
// sign check, an MD5 sign of the answer and its encoding, with no
// validation and no state.
func BenchmarkFloorUnifiedOrder(b *testing.B) {
	body := signed(b, orderFields("b-1"), testKey, wxpay.SignMD5)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/pay/unifiedorder", bytes.NewReader(body))
		var doc struct {
			Fields []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
			} `xml:",any"`
		}
		if err := xml.NewDecoder(req.Body).Decode(&doc); err != nil {
			b.Fatal(err)
		}
		p := make(map[string]string, len(doc.Fields))
		for _, f := range doc.Fields {
			p[f.XMLName.Local] = f.Value
		}
		if floorSign(p) != p["sign"] {
			b.Fatal("sign")
		}
		ans := map[string]string{"return_code": "SUCCESS", "result_code": "SUCCESS", "appid": p["appid"],
			"mch_id": p["mch_id"], "nonce_str": "x", "prepay_id": "wx1", "trade_type": "JSAPI"}
		ans["sign"] = floorSign(ans)
		var out strings.Builder
		out.WriteString("<xml>")
		for k, v := range ans {
			out.WriteString("<" + k + ">")
			_ = xml.EscapeText(&out, []byte(v))
			out.WriteString("</" + k + ">")
		}
		out.WriteString("</xml>")
		_, _ = rec.WriteString(out.String())
	}
}

func floorSign(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k, v := range p {
		if k != "sign" && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var s strings.Builder
	for _, k := range keys {
		s.WriteString(k + "=" + p[k] + "&")
	}
	s.WriteString("key=" + testKey)
	sum := md5.Sum([]byte(s.String()))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}
