package wire

import "strings"

// The character rules WeChat's identifiers and numbers follow, written
// once. Each caller keeps its own length rule and error text, which
// differ per field; what a character may be is decided here.

// OfAlnum reports whether every byte of s is an ASCII letter or digit, or
// one of the bytes of extra (WeChat's merchant numbers add "_-|*@", its
// out_trade_no of v3 "_-|*", Wechatpay-Serial "_"). An empty s passes:
// callers check the length, and say so in their own words.
func OfAlnum(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') && strings.IndexByte(extra, c) < 0 {
			return false
		}
	}
	return true
}

// ParseDigits reads s as 1 to max ASCII decimal digits (no sign, space, point
// or exponent; leading zeros allowed) and returns its value. max must be
// at most 18, so that the value always fits an int64. ok is false for
// anything else.
func ParseDigits(s string, max int) (v int64, ok bool) {
	if len(s) == 0 || len(s) > max {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// IsHex reports whether every byte of s is an ASCII hex digit, of either
// case: a certificate serial as WeChat and openssl write it. An empty s
// passes, as for [OfAlnum].
func IsHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// NormSerial returns a certificate serial in the form serials are
// compared in: upper-case hex without leading zeros ("0" for a serial of
// zeros, "" for ""). WeChat writes a serial with a leading zero byte kept
// (%X of its bytes), some SDKs drop the leading zero nibble; both name the
// same certificate.
func NormSerial(s string) string {
	s = strings.ToUpper(s)
	t := strings.TrimLeft(s, "0")
	if t == "" && s != "" {
		return "0"
	}
	return t
}
