package wxpaytest

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sort"
	"strings"

	"github.com/wxpay-go/wxpay"
)

// signParams computes a v2 sign the way WeChat documents it, independently
// of wxpay.Signer so that a bug shared by the library and its fake cannot
// hide: every non-empty field except sign, sorted by name in byte order,
// joined as name=value with '&', then "&key=" and the key; MD5 or
// HMAC-SHA256 (keyed with the key) of that, in uppercase hex.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3
func signParams(p map[string]string, key string, t wxpay.SignType) string {
	names := make([]string, 0, len(p))
	for k, v := range p {
		if k == "sign" || v == "" {
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(p[k])
		b.WriteByte('&')
	}
	b.WriteString("key=")
	b.WriteString(key)
	var h hash.Hash
	if t == wxpay.SignHMACSHA256 {
		h = hmac.New(sha256.New, []byte(key))
	} else {
		h = md5.New()
	}
	h.Write([]byte(b.String()))
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

// signOK reports whether p's sign is the one key and t give, comparing in
// constant time.
func signOK(p map[string]string, key string, t wxpay.SignType) bool {
	got := p["sign"]
	want := signParams(p, key, t)
	return hmac.Equal([]byte(got), []byte(want))
}

// wrongKey is the key of the "signed with the wrong key" fault: any key
// other than the merchant's does.
func wrongKey(key string) string {
	b := []byte(key)
	for i := range b {
		if b[i] == 'z' {
			b[i] = 'a'
		} else {
			b[i] = 'z'
		}
	}
	return string(b)
}
