// Package refsign is the plain definition of the WeChat Pay v2 signature,
// written as directly from the rules as possible: sort, join, hash. Tests
// across the module hold the optimized signer (and the fake WeChat) to it,
// so that a shared bug cannot hide behind two copies of one clever
// implementation. It is not fast and is not meant to be.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3
package refsign

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
)

// Canonical is the string-to-sign of fields under key: non-empty fields
// other than sign, sorted by name in byte order, joined as name=value
// with '&', then "&key=" and the key.
func Canonical(fields map[string]string, key string) string {
	keys := make([]string, 0, len(fields))
	n := len("key=") + len(key)
	for k, v := range fields {
		if v != "" && k != "sign" {
			keys = append(keys, k)
			n += len(k) + len(v) + 2
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.Grow(n)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(fields[k])
		b.WriteByte('&')
	}
	b.WriteString("key=")
	b.WriteString(key)
	return b.String()
}

// MD5 is the uppercase hex MD5 of s.
func MD5(s string) string {
	sum := md5.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// HMACSHA256 is the uppercase hex HMAC-SHA256 of s keyed with key.
func HMACSHA256(key, s string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(s))
	return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
}

// Sign is the sign of fields under key with the named algorithm ("MD5",
// or "HMAC-SHA256"); an empty algorithm means MD5, v2's default.
func Sign(fields map[string]string, key, algorithm string) string {
	c := Canonical(fields, key)
	if algorithm == "HMAC-SHA256" {
		return HMACSHA256(key, c)
	}
	return MD5(c)
}
