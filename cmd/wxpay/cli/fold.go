package cli

import (
	"sort"
	"strings"

	"github.com/wxpay-go/wxpay/internal/refsign"
)

// refsignFold signs p as a signer that sorts names case-insensitively
// would: the order is the only difference from refsign.Sign.
func refsignFold(p map[string]string, key, algorithm string) string {
	keys := make([]string, 0, len(p))
	for k, v := range p {
		if v != "" && k != "sign" {
			keys = append(keys, k)
		}
	}
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := strings.ToLower(keys[i]), strings.ToLower(keys[j])
		if a != b {
			return a < b
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + p[k] + "&")
	}
	s := b.String() + "key=" + key
	if algorithm == "HMAC-SHA256" {
		return refsign.HMACSHA256(key, s)
	}
	return refsign.MD5(s)
}
