package wxpay

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"sort"
	"strings"
	"testing"
)

// The S1 vector as WeChat lays it out: 26 fields (sign included), strings
// in CDATA, numbers bare, MD5-signed.
func ntBenchBody(b *testing.B) []byte {
	b.Helper()
	return ntFixture(b, "s1_md5.xml")
}

var ntSinkNotification *Notification

// BenchmarkParseNotification is the full ParseNotification path: hardened
// decode, signature check over every field, merchant check, typed build
// (amounts, coupons, time).
func BenchmarkParseNotification(b *testing.B) {
	body := ntBenchBody(b)
	c := ntClient(b, SignMD5)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, err := c.ParseNotification(body)
		if err != nil {
			b.Fatal(err)
		}
		ntSinkNotification = n
	}
}

var ntSinkSign string

// BenchmarkParseNotificationFloor is the least any verifying parser must
// do with the standard library: scan <name>value</name> pairs into a map
// (stripping CDATA, validating nothing), sort the names, build the
// canonical string, MD5 it and hex-encode the sum.
func BenchmarkParseNotificationFloor(b *testing.B) {
	body := ntBenchBody(b)
	if got := ntFloorSign(body, ntAPIKey); got != "A00744A890852A2FA7B302F5C76762B6" {
		b.Fatalf("floor computes sign %s; the benchmark would measure the wrong work", got)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ntSinkSign = ntFloorSign(body, ntAPIKey)
	}
}

func ntFloorSign(body []byte, key string) string {
	m := make(map[string]string, 32)
	rest := body
	for {
		lt := bytes.IndexByte(rest, '<')
		if lt < 0 || lt+1 >= len(rest) {
			break
		}
		rest = rest[lt+1:]
		if rest[0] == '/' {
			continue // the root's end tag
		}
		gt := bytes.IndexByte(rest, '>')
		name := rest[:gt]
		rest = rest[gt+1:]
		if string(name) == "xml" {
			continue
		}
		end := bytes.Index(rest, []byte("</"))
		val := rest[:end]
		if bytes.HasPrefix(val, []byte("<![CDATA[")) {
			val = val[9 : len(val)-3]
		}
		m[string(name)] = string(val)
		rest = rest[end+2+len(name)+1:]
	}
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if k != "sign" && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(k)
		sb.WriteByte('=')
		sb.WriteString(m[k])
	}
	sb.WriteString("&key=")
	sb.WriteString(key)
	sum := md5.Sum([]byte(sb.String()))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}
