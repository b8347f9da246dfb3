package wxpay

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"testing"
)

// The S1 vector as WeChat lays it out: 26 fields (sign included), strings
// in CDATA, numbers bare, MD5-signed.
func ntBenchBody(b *testing.B) []byte {
	b.Helper()
	return notifyFixture(b, "s1_md5.xml")
}

var ntSinkNotification *Notification

// BenchmarkParseNotification is the full ParseNotification path: hardened
// decode, signature check over every field, merchant check, typed build
// (amounts, coupons, time).
func BenchmarkParseNotification(b *testing.B) {
	body := ntBenchBody(b)
	c := testClient(b, SignMD5)
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
	if got := ntFloorSign(body, testKey); got != "A00744A890852A2FA7B302F5C76762B6" {
		b.Fatalf("floor computes sign %s; the benchmark would measure the wrong work", got)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ntSinkSign = ntFloorSign(body, testKey)
	}
}

func ntFloorSign(body []byte, key string) string {
	sum := md5.Sum([]byte(canonical(minimalScan(body), key)))
	var out [32]byte
	hex.Encode(out[:], sum[:])
	return string(bytes.ToUpper(out[:]))
}

// BenchmarkDecodeVerify is the hardened decode and the signature check of
// ParseNotification on the S1 body, without the typed mapping: the part
// BenchmarkParseNotificationFloor's work corresponds to.
func BenchmarkDecodeVerify(b *testing.B) {
	body := ntBenchBody(b)
	s := mustSigner(b, testKey, SignMD5)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		p, verr, err := s.decodeVerify(body)
		if err != nil || verr != nil {
			b.Fatal(err, verr)
		}
		sinkParams = p
	}
}
