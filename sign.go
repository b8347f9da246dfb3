package wxpay

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// SignType is the signature algorithm of a v2 message, as written in its
// sign_type field.
//
// WeChat Pay docs (signing rules): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3
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
	// suffix points to "key=" + the API key, which ends every canonical
	// string (each field before it is written followed by '&'). It is a
	// second pointer because fmt, printing a pointer under a verb that
	// does not fit it (%s, %q, %x), dumps the struct it points to: one
	// level of pointers hides nothing, the second is printed as an
	// address.
	suffix *string
	// macs holds *macState values keyed with the API key. crypto/hmac's
	// Reset returns a state to just after the key was absorbed, so a
	// pooled state signs without rehashing the key or allocating.
	macs sync.Pool
}

// macState is one pooled HMAC-SHA256 computation. The canonical string is
// built in buf, not on the stack, because hash.Hash.Write is an interface
// call that would move a stack buffer to the heap on every call.
type macState struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// NewSigner returns a Signer for apiKey and t. An empty t means [SignMD5],
// the v2 default. apiKey is the 32-character "API密钥" set in the merchant
// platform (账户中心 → API安全); it is kept only inside the Signer and never
// appears in an error.
//
// WeChat Pay docs (signing rules): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3
func NewSigner(apiKey string, t SignType) (*Signer, error) {
	if t == "" {
		t = SignMD5
	}
	if t.signLen() == 0 {
		return nil, wire.NewError("wxpay: ", "unknown sign type "+wire.QuoteShort(string(t))+
			": use \"MD5\" (SignMD5, also the default when empty) or \"HMAC-SHA256\" (SignHMACSHA256)")
	}
	if err := checkAPIKey(apiKey); err != nil {
		return nil, err
	}
	suffix := "key=" + apiKey
	k := &signerKey{suffix: &suffix}
	if t == SignHMACSHA256 {
		key := []byte(apiKey)
		k.macs.New = func() any {
			return &macState{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 1024)}
		}
	}
	return &Signer{typ: t, k: k}, nil
}

// checkAPIKey accepts the key shape WeChat issues: 32 printable ASCII
// characters. Anything else is a configuration mistake (a key with a
// trailing newline from a file, the APIv3 key, a certificate serial) that
// would otherwise surface later as SIGNERROR from every call.
func checkAPIKey(k string) error {
	if k == "" {
		return wire.NewError("wxpay: ", "API key is empty: set Config.APIKey to the 32-character key from the merchant platform (账户中心 → API安全)")
	}
	if len(k) != 32 {
		return wire.NewError("wxpay: ", "API key must be 32 characters, not "+strconv.Itoa(len(k))+
			" (the APIv3 key or a key read with a trailing newline are common mistakes)")
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] >= 0x7f {
			return wire.NewError("wxpay: ", "API key must be printable ASCII without spaces")
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
	return signString(&sum, n)
}

func signString(sum *[sha256.Size]byte, n int) string {
	var out [2 * sha256.Size]byte
	upperHex(out[:], sum[:n])
	return string(out[:2*n])
}

// Verify checks p's sign against p's other fields. It fails with
// [ErrMissingSign] when p has no sign, [ErrSignType] when p's sign_type
// names another algorithm than s uses, [ErrSignature] when the sign is
// malformed or does not match, and [ErrAmbiguousValue] (which also
// matches ErrSignature) when the sign matches but the message could be a
// re-split forgery, as described below. A message without sign_type is
// verified with s's algorithm: WeChat omits sign_type from payment
// notifications and signs them with the algorithm of the order.
//
// Every non-empty field of p takes part, including fields wxpay does not
// know, so that a message WeChat extends still verifies and no field can
// be added or changed unnoticed. Fields with empty values are not signed
// (the v2 rules skip them), so anyone could add one to a genuine message:
// treat an empty field as absent. The comparison takes constant time.
//
// Re-split forgeries. v2 signs values raw, joined with '&' and '=', so the
// signed string does not say where one value ends: a genuine message whose
// attach (chosen by the payer, or holding customer text) reads
// "x&out_trade_no=1&total_fee=100" signs the same string as a message
// that cuts attach short and carries those two fields itself. Whoever
// holds one such genuine message could thus forge another, with the same
// sign, naming another order or amount. Any such forgery must hide the
// genuine "&name=" of each field it changes inside some value, so Verify
// refuses a message in which a value contains "&name=" where name is a
// non-empty signed field of that message (the value's own field
// included). Genuine values pass: a code_url's "&groupid=" or an
// mweb_url's "&package=" name no field of their messages. The rule reads
// only the message, never the key, and is applied after the sign matched,
// so ErrAmbiguousValue always means "signed by the key, but ambiguous".
func (s *Signer) Verify(p Params) error {
	return s.verify(p, nil)
}

// verify is Verify with p's fields already sorted by name in sorted, when
// the caller has them (see decodeVerify); sorted may hold empty fields and
// sign, which the signature skips as it does in p.
func (s *Signer) verify(p Params, sorted []field) error {
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
	var n int
	if sorted != nil {
		n = s.sumSorted(sorted, &want)
	} else {
		n = s.sum(p, &want)
	}
	if subtle.ConstantTimeCompare(want[:n], gotRaw[:n]) != 1 {
		return ErrSignature
	}
	if ambiguous(p) {
		return ErrAmbiguousValue
	}
	return nil
}

// ambiguous reports whether a signed value of p contains "&name=" where
// name is a signed field of p. Each byte of each value is read once: the
// name after an '&' is read up to the next '=' or '&', never further.
func ambiguous(p Params) bool {
	for k, v := range p {
		if k == "sign" {
			continue
		}
		for i := strings.IndexByte(v, '&'); i >= 0; {
			j := i + 1
			for j < len(v) && v[j] != '=' && v[j] != '&' {
				j++
			}
			if j < len(v) && v[j] == '=' && j > i+1 {
				if name := v[i+1 : j]; name != "sign" && p[name] != "" {
					return true
				}
			}
			next := strings.IndexByte(v[j:], '&')
			if next < 0 {
				break
			}
			i = j + next
		}
	}
	return false
}

// field is one name=value pair of a message.
type field struct{ k, v string }

// sum hashes p's canonical string into out and returns the digest length.
// The fields are gathered and sorted in stack buffers, so a typical
// message signs without allocating.
func (s *Signer) sum(p Params, out *[sha256.Size]byte) int {
	// 32 covers every message WeChat documents bar refundquery pages.
	var fbuf [32]field
	var obuf [32]uint64
	fs := fbuf[:0]
	if len(p) > len(fbuf) {
		fs = make([]field, 0, len(p))
	}
	for k, v := range p {
		if v != "" && k != "sign" {
			fs = append(fs, field{k, v})
		}
	}
	// Hash in key order rather than copying the fields into order.
	return s.hash(fs, sortOrder(fs, obuf[:0]), out)
}

// sumSorted hashes the canonical string of fields sorted by name, skipping
// sign and empty values, into out and returns the digest length.
func (s *Signer) sumSorted(fs []field, out *[sha256.Size]byte) int {
	return s.hash(fs, nil, out)
}

// hash hashes the canonical string of fs taken in the order of order (see
// sortOrder), or as they are when order is nil.
func (s *Signer) hash(fs []field, order []uint64, out *[sha256.Size]byte) int {
	if s.typ == SignMD5 {
		var bbuf [1024]byte
		buf := s.appendCanonical(bbuf[:0], fs, order)
		*(*[md5.Size]byte)(out[:md5.Size]) = md5.Sum(buf)
		return md5.Size
	}
	m := s.k.macs.Get().(*macState)
	buf := s.appendCanonical(m.buf[:0], fs, order)
	m.mac.Reset()
	m.mac.Write(buf)
	copy(out[:], m.mac.Sum(m.sum[:0]))
	if cap(buf) != cap(m.buf) && cap(buf) <= 64<<10 {
		m.buf = buf // keep a grown buffer, but never a hostile message's
	}
	s.k.macs.Put(m)
	return sha256.Size
}

// appendCanonical appends the string-to-sign to buf: name=value& for each
// signed field of fs in the order of order (or as they are when order is
// nil), then key=KEY.
func (s *Signer) appendCanonical(buf []byte, fs []field, order []uint64) []byte {
	n := len(*s.k.suffix)
	for _, f := range fs {
		n += len(f.k) + len(f.v) + 2
	}
	buf = slices.Grow(buf, n)
	for i := range fs {
		f := fs[i]
		if order != nil {
			f = fs[order[i]&indexMask]
		}
		if f.v == "" || f.k == "sign" {
			continue
		}
		buf = append(buf, f.k...)
		buf = append(buf, '=')
		buf = append(buf, f.v...)
		buf = append(buf, '&')
	}
	return append(buf, *s.k.suffix...)
}

// Fields are sorted by integer keys that pack prefixLen bytes of a name
// (big-endian, so integer order is byte order) above the field's index.
// Names that tie on those bytes (the coupon_… families) are sorted again
// by their next prefixLen bytes, and so on, so that nearly all the work is
// sorting integers, and no pattern of names makes it quadratic.
const (
	prefixLen  = 6
	indexBits  = 64 - 8*prefixLen
	indexMask  = 1<<indexBits - 1
	maxIndexed = 1 << indexBits
)

// sortKey packs k[off:off+prefixLen], zero-padded, above index i.
func sortKey(k string, off, i int) uint64 {
	var x uint64
	if len(k) >= off+prefixLen {
		k = k[off : off+prefixLen]
		// The compiler merges these loads into one.
		x = uint64(k[0])<<40 | uint64(k[1])<<32 | uint64(k[2])<<24 |
			uint64(k[3])<<16 | uint64(k[4])<<8 | uint64(k[5])
	} else {
		for j := off; j < off+prefixLen; j++ {
			x <<= 8
			if j < len(k) {
				x |= uint64(k[j])
			}
		}
	}
	return x<<indexBits | uint64(i)
}

// sortFields returns fs sorted by name in byte order, as the v2 rules
// require, in buf when it is large enough. fs itself may be reordered.
// Its cost is O(n log n) whatever the names.
func sortFields(fs, buf []field) []field {
	var obuf [32]uint64
	order := sortOrder(fs, obuf[:0])
	if order == nil {
		return fs
	}
	out := buf[:0]
	if cap(out) < len(fs) {
		out = make([]field, 0, len(fs))
	}
	for _, o := range order {
		out = append(out, fs[o&indexMask])
	}
	return out
}

// sortOrder returns, in buf when it is large enough, the sort keys of fs
// in order: fs[o&indexMask] for each o are fs sorted by name. With more
// fields than a key can index, it sorts fs itself and returns nil.
func sortOrder(fs []field, buf []uint64) []uint64 {
	if len(fs) > maxIndexed {
		slices.SortFunc(fs, func(a, b field) int { return strings.Compare(a.k, b.k) })
		return nil
	}
	order := buf[:0]
	if cap(order) < len(fs) {
		order = make([]uint64, 0, len(fs))
	}
	for i, f := range fs {
		order = append(order, sortKey(f.k, 0, i))
	}
	slices.Sort(order)
	settleRuns(fs, order, prefixLen)
	return order
}

// settleRuns sorts each run of order whose keys tie, all of whose names
// agree on their first off bytes.
func settleRuns(fs []field, order []uint64, off int) {
	for i := 0; i < len(order); {
		j := i + 1
		for j < len(order) && order[j]>>indexBits == order[i]>>indexBits {
			j++
		}
		if j-i > 1 {
			settleTies(fs, order[i:j], off)
		}
		i = j
	}
}

// settleTies sorts run, whose names agree on their first off bytes.
func settleTies(fs []field, run []uint64, off int) {
	name := func(o uint64) string { return fs[o&indexMask].k }
	switch {
	case len(run) <= 12:
		for i := 1; i < len(run); i++ {
			for j := i; j > 0 && name(run[j]) < name(run[j-1]); j-- {
				run[j], run[j-1] = run[j-1], run[j]
			}
		}
	case len(name(run[0])) <= off:
		// Equal names, or names that differ only by NUL bytes (which
		// padding cannot tell apart): compare them whole.
		slices.SortFunc(run, func(a, b uint64) int { return strings.Compare(name(a), name(b)) })
	default:
		for i, o := range run {
			run[i] = sortKey(name(o), off, int(o&indexMask))
		}
		slices.Sort(run)
		settleRuns(fs, run, off+prefixLen)
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

// refundKey derives the req_info key from the API key: the lowercase hex
// MD5 of the key, whose 32 ASCII characters are themselves the AES-256 key
// (not the 16 bytes they spell). NewClient derives it once.
func refundKey(apiKey string) *[32]byte {
	sum := md5.Sum([]byte(apiKey))
	var k [32]byte
	hex.Encode(k[:], sum[:])
	return &k
}
