package wxpaytest

import (
	"crypto/hmac"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/refsign"
)

// signParams computes a v2 sign with internal/refsign, the module's
// reference signer written from WeChat's rule and held to the published
// vectors, not with wxpay.Signer: a bug shared by the library and its
// fake cannot hide.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3
func signParams(p map[string]string, key string, t wxpay.SignType) string {
	return refsign.Sign(p, key, string(t))
}

// signOK reports whether p's sign is the one key and t give, comparing in
// constant time.
func signOK(p map[string]string, key string, t wxpay.SignType) bool {
	return hmac.Equal([]byte(p["sign"]), []byte(signParams(p, key, t)))
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
