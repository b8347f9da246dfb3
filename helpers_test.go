package wxpay

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
)

// md5Upper is the plain definition of an MD5 sign, used as an independent
// reference in tests.
func md5Upper(s string) string {
	sum := md5.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}
