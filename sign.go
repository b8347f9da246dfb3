package wxpay

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"
)

// SignType is the signature algorithm of a v2 message, as written in its
// sign_type field.
type SignType string

// The two v2 signature algorithms. Both hash the same canonical string; see
// [Signer].
const (
	SignMD5        SignType = "MD5"
	SignHMACSHA256 SignType = "HMAC-SHA256"
)

// signLen is the length of a sign in hex: MD5 is 16 bytes, SHA-256 32.
func (t SignType) signLen() int {
	switch t {
	case SignMD5:
		return 2 * md5.Size
	case SignHMACSHA256:
		return 2 * sha256.Size
	}
	return 0
}

// Signer signs and verifies v2 messages with one API key and one
// algorithm. It is immutable and safe for concurrent use.
//
// The signature covers every field of the message except sign itself and
// fields with empty values: the names are sorted by byte order, joined as
// name=value with '&', "&key=" and the API key are appended, and the result
// is hashed with MD5 or HMAC-SHA256 (keyed with the API key) and written as
// uppercase hex. sign_type, when present, is signed like any other field.
//
// The zero Signer is not usable; create one with [NewSigner].
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3
type Signer struct {
	typ SignType
	// k holds everything derived from the API key behind a pointer, so
	// that a Signer value printed by reflection (as an unexported field
	// of some other struct) shows an address, never key material.
	k *signerKey
}

type signerKey struct {
	// suffix is "key=" + the API key, which ends every canonical string
	// (each field before it is written followed by '&').
	suffix string
	// ipad and opad are the HMAC pads derived from the key, precomputed so
	// that signing needs no hash.Hash (whose allocation would dominate).
	ipad, opad [sha256.BlockSize]byte
}

// NewSigner returns a Signer for apiKey and t. An empty t means [SignMD5],
// the v2 default. apiKey is the 32-character "API密钥" set in the merchant
// platform (账户中心 → API安全); it is kept only inside the Signer and never
// appears in an error.
func NewSigner(apiKey string, t SignType) (*Signer, error) {
	if t == "" {
		t = SignMD5
	}
	if t.signLen() == 0 {
		return nil, errors.New("wxpay: unknown sign type " + quoteShort(string(t)))
	}
	if err := checkAPIKey(apiKey); err != nil {
		return nil, err
	}
	s := &Signer{typ: t, k: &signerKey{suffix: "key=" + apiKey}}
	// HMAC (RFC 2104): a key longer than the block is hashed first.
	k := []byte(apiKey)
	if len(k) > sha256.BlockSize {
		h := sha256.Sum256(k)
		k = h[:]
	}
	for i := range s.k.ipad {
		var b byte
		if i < len(k) {
			b = k[i]
		}
		s.k.ipad[i] = b ^ 0x36
		s.k.opad[i] = b ^ 0x5c
	}
	return s, nil
}

// checkAPIKey accepts the key shape WeChat issues: 32 printable ASCII
// characters. Anything else is a configuration mistake (a key with a
// trailing newline from a file, the APIv3 key, a certificate serial) that
// would otherwise surface later as SIGNERROR from every call.
func checkAPIKey(k string) error {
	if len(k) != 32 {
		return errors.New("wxpay: API key must be 32 characters")
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] >= 0x7f {
			return errors.New("wxpay: API key must be printable ASCII without spaces")
		}
	}
	return nil
}

// Type returns the algorithm this Signer uses.
func (s *Signer) Type() SignType { return s.typ }

// Sign returns the sign of p: uppercase hex of the MD5 or HMAC-SHA256 of
// p's canonical string. p's own sign field, if any, is ignored.
func (s *Signer) Sign(p Params) string {
	var sum [sha256.Size]byte
	n := s.sum(p, &sum)
	var out [2 * sha256.Size]byte
	upperHex(out[:], sum[:n])
	return string(out[:2*n])
}

// Verify checks p's sign against p's other fields. It fails with
// [ErrMissingSign] when p has no sign, [ErrSignType] when p's sign_type
// names another algorithm than s uses, and [ErrSignature] when the sign is
// malformed or does not match. A message without sign_type is verified
// with s's algorithm: WeChat omits sign_type from payment notifications
// and signs them with the algorithm of the order.
//
// Every non-empty field of p takes part, including fields wxpay does not
// know, so that a message WeChat extends still verifies and no field can
// be added or changed unnoticed. Fields with empty values are not signed
// (the v2 rules skip them), so anyone could add one to a genuine message:
// treat an empty field as absent. The comparison takes constant time.
func (s *Signer) Verify(p Params) error {
	got := p["sign"]
	if got == "" {
		return ErrMissingSign
	}
	if st := p["sign_type"]; st != "" && SignType(st) != s.typ {
		return ErrSignType
	}
	var want [sha256.Size]byte
	var gotRaw [sha256.Size]byte
	if len(got) != s.typ.signLen() || !decodeUpperHex(gotRaw[:len(got)/2], got) {
		return ErrSignature
	}
	n := s.sum(p, &want)
	if subtle.ConstantTimeCompare(want[:n], gotRaw[:n]) != 1 {
		return ErrSignature
	}
	return nil
}

// field is one name=value pair of the canonical string.
type field struct{ k, v string }

// sum hashes p's canonical string into out and returns the digest length.
// The fields are gathered and the string built in stack buffers, so a
// typical message signs without allocating.
func (s *Signer) sum(p Params, out *[sha256.Size]byte) int {
	// 32 covers every message WeChat documents bar refundquery pages.
	var fbuf [32]field
	var obuf [32]uint64
	fs, order := fbuf[:0], obuf[:0]
	for k, v := range p {
		if v == "" || k == "sign" {
			continue
		}
		order = append(order, sortKey(k, len(fs)))
		fs = append(fs, field{k, v})
	}
	var bbuf [1024]byte
	buf := bbuf[:0]
	if s.typ == SignHMACSHA256 {
		buf = append(buf, s.k.ipad[:]...)
	}
	if len(fs) <= 256 {
		sortFields(fs, order)
		for _, o := range order {
			buf = appendPair(buf, fs[o&0xff])
		}
	} else {
		// More fields than a sort key can index: sort the pairs
		// themselves. Only hostile or exotic messages get here.
		slices.SortFunc(fs, func(a, b field) int { return strings.Compare(a.k, b.k) })
		for _, f := range fs {
			buf = appendPair(buf, f)
		}
	}
	buf = append(buf, s.k.suffix...)

	if s.typ == SignMD5 {
		*(*[md5.Size]byte)(out[:md5.Size]) = md5.Sum(buf)
		return md5.Size
	}
	// HMAC-SHA256(key, msg) = H(opad || H(ipad || msg)); buf already
	// starts with ipad.
	inner := sha256.Sum256(buf)
	var ob [sha256.BlockSize + sha256.Size]byte
	copy(ob[:], s.k.opad[:])
	copy(ob[sha256.BlockSize:], inner[:])
	*out = sha256.Sum256(ob[:])
	return sha256.Size
}

// appendPair appends "name=value&".
func appendPair(buf []byte, f field) []byte {
	buf = append(buf, f.k...)
	buf = append(buf, '=')
	buf = append(buf, f.v...)
	return append(buf, '&')
}

// sortKey packs the first 7 bytes of a name (big-endian, so integer order
// is byte order) above the field's index. Sorting these integers orders
// the fields by name prefix; names sharing all 7 bytes are settled by a
// full comparison afterwards.
func sortKey(k string, i int) uint64 {
	if len(k) >= 7 {
		// The compiler merges these loads into one.
		return uint64(k[0])<<56 | uint64(k[1])<<48 | uint64(k[2])<<40 | uint64(k[3])<<32 |
			uint64(k[4])<<24 | uint64(k[5])<<16 | uint64(k[6])<<8 | uint64(i&0xff)
	}
	var x uint64
	for j := 0; j < 7; j++ {
		x <<= 8
		if j < len(k) {
			x |= uint64(k[j])
		}
	}
	return x<<8 | uint64(i&0xff)
}

// sortFields sorts order (see sortKey) so that fs[order[i]&0xff] are in
// byte order of name, as the v2 rules require. It needs len(fs) <= 256.
func sortFields(fs []field, order []uint64) {
	if len(order) > 24 {
		slices.Sort(order)
	} else {
		for i := 1; i < len(order); i++ {
			for j := i; j > 0 && order[j] < order[j-1]; j-- {
				order[j], order[j-1] = order[j-1], order[j]
			}
		}
	}
	// Settle runs whose 7-byte prefixes tie (coupon_fee_0, coupon_fee_1).
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && order[j]>>8 == order[j-1]>>8 && fs[order[j]&0xff].k < fs[order[j-1]&0xff].k; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
}

const upperDigits = "0123456789ABCDEF"

func upperHex(dst, src []byte) {
	for i, b := range src {
		dst[2*i] = upperDigits[b>>4]
		dst[2*i+1] = upperDigits[b&0x0f]
	}
}

// decodeUpperHex decodes s into dst, accepting only 0-9 and A-F: WeChat
// writes signs in uppercase, and a lowercase or otherwise odd sign did not
// come from a conforming signer.
func decodeUpperHex(dst []byte, s string) bool {
	for i := range dst {
		hi, ok1 := upperNibble(s[2*i])
		lo, ok2 := upperNibble(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func upperNibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// quoteShort quotes a caller-supplied value for an error message, cut to a
// length that keeps logs readable.
func quoteShort(s string) string {
	const max = 32
	if len(s) > max {
		s = s[:max] + "..."
	}
	return "\"" + strings.ToValidUTF8(s, "?") + "\""
}
