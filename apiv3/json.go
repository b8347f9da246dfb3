package apiv3

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// Limits of the hardened JSON decoder.
const (
	// MaxJSONBytes bounds a JSON document: an answer's body or a decrypted
	// resource. WeChat's are a few kilobytes (a bill-apply answer, a
	// certificate list); 1 MiB leaves room and no more.
	MaxJSONBytes = 1 << 20
	// MaxJSONDepth bounds the nesting of objects and arrays. WeChat's
	// deepest messages (promotion_detail[].goods_detail[]) nest four
	// levels; encoding/json alone allows 10000.
	MaxJSONDepth = 32
)

// decodeJSON decodes b, untrusted JSON from the network or from a
// decrypted resource, into v.
//
// encoding/json does the decoding; it is enough for types, and unknown
// fields are tolerated as WeChat asks (new versions add keys). What it
// does not do, checkJSON does first, in one pass over the bytes:
//
//   - a size cap (MaxJSONBytes) and a nesting cap (MaxJSONDepth);
//   - duplicate keys in one object are refused, compared the way
//     encoding/json matches field names (case-insensitively), because it
//     silently keeps the last and another parser may keep the first: two
//     parsers must never see two different messages;
//   - invalid UTF-8 and unpaired surrogate escapes are refused, which
//     encoding/json would silently replace with U+FFFD;
//   - every number must be a plain integer that fits an int64 (no
//     fraction, no exponent, no leading zeros): WeChat's v3 JSON carries
//     amounts in integer fen and counts, never floats, and "1e2" or "100.0"
//     for an amount is a forgery or a bug, not a value to round.
//
// Every failure is a [*JSONError] matching [ErrJSON].
func decodeJSON(b []byte, v any) error {
	if err := checkJSON(b); err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		je := &JSONError{Offset: -1, Reason: "does not fit the expected shape", Err: err}
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			je.Offset = te.Offset
			je.Reason = "wrong type for " + wire.OneLine(te.Field)
		case errors.As(err, &se):
			je.Offset = se.Offset
			je.Reason = "syntax error"
		}
		return je
	}
	return nil
}

// checkJSON validates b against the rules of [decodeJSON] without
// decoding it. It allocates only for objects with many keys.
func checkJSON(b []byte) error {
	if len(b) > MaxJSONBytes {
		return &JSONError{Offset: -1, Reason: "document larger than " + strconv.Itoa(MaxJSONBytes) + " bytes"}
	}
	s := jsonScanner{b: b}
	s.ws()
	if err := s.value(0); err != nil {
		return err
	}
	s.ws()
	if s.i != len(b) {
		return s.fail("data after the top-level value")
	}
	return nil
}

type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) fail(reason string) error {
	return &JSONError{Offset: int64(s.i), Reason: reason}
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) value(depth int) error {
	if s.i >= len(s.b) {
		return s.fail("unexpected end of input")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		if depth >= MaxJSONDepth {
			return s.fail("nesting deeper than " + strconv.Itoa(MaxJSONDepth))
		}
		return s.object(depth+1, nil)
	case c == '[':
		if depth >= MaxJSONDepth {
			return s.fail("nesting deeper than " + strconv.Itoa(MaxJSONDepth))
		}
		return s.array(depth + 1)
	case c == '"':
		_, err := s.str(false)
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	}
	return s.fail("unexpected character")
}

func (s *jsonScanner) lit(w string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(w)) {
		return s.fail("invalid literal")
	}
	s.i += len(w)
	return nil
}

// number accepts -?(0|[1-9][0-9]*) within the int64 range.
func (s *jsonScanner) number() error {
	start := s.i
	if s.b[s.i] == '-' {
		s.i++
	}
	d := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	switch {
	case s.i == d:
		return s.fail("invalid number")
	case s.b[d] == '0' && s.i-d > 1:
		return s.fail("number with a leading zero")
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return s.fail("number is not an integer (fractions and exponents are refused)")
		}
	}
	if _, err := strconv.ParseInt(string(s.b[start:s.i]), 10, 64); err != nil {
		s.i = start
		return s.fail("integer out of the int64 range")
	}
	return nil
}

// str scans a string starting at its opening quote. With key it returns
// the string's value (a sub-slice of the input unless it has escapes),
// for duplicate detection; otherwise it returns nil.
func (s *jsonScanner) str(key bool) ([]byte, error) {
	s.i++ // opening quote
	start := s.i
	escaped := false
	for {
		// Fast path: the plain ASCII that makes up nearly all of
		// WeChat's strings (base64 ciphertexts, ids).
		for s.i < len(s.b) {
			if c := s.b[s.i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
				break
			}
			s.i++
		}
		if s.i >= len(s.b) {
			return nil, s.fail("unterminated string")
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			if !key {
				return nil, nil
			}
			if escaped {
				var v string
				// The escapes were validated above; encoding/json
				// interprets them exactly as its decoder will.
				if err := json.Unmarshal(s.b[start-1:s.i], &v); err != nil {
					return nil, s.fail("invalid string")
				}
				return []byte(v), nil
			}
			return raw, nil
		case c == '\\':
			escaped = true
			if err := s.escape(); err != nil {
				return nil, err
			}
		case c < 0x20:
			return nil, s.fail("control character in string")
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n <= 1 {
				return nil, s.fail("invalid UTF-8")
			}
			s.i += n
		}
	}
}

// escape validates one escape sequence at s.i (the backslash), including
// the pairing of UTF-16 surrogates.
func (s *jsonScanner) escape() error {
	if s.i+1 >= len(s.b) {
		return s.fail("unterminated escape")
	}
	switch s.b[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return nil
	case 'u':
	default:
		return s.fail("invalid escape")
	}
	r, ok := hex4(s.b[s.i+2:])
	if !ok {
		return s.fail("invalid \\u escape")
	}
	switch {
	case r >= 0xD800 && r < 0xDC00:
		// A high surrogate must be followed by an escaped low one.
		rest := s.b[s.i+6:]
		if len(rest) < 6 || rest[0] != '\\' || rest[1] != 'u' {
			return s.fail("unpaired surrogate escape")
		}
		lo, ok := hex4(rest[2:])
		if !ok || lo < 0xDC00 || lo > 0xDFFF {
			return s.fail("unpaired surrogate escape")
		}
		s.i += 12
	case r >= 0xDC00 && r <= 0xDFFF:
		return s.fail("unpaired surrogate escape")
	default:
		s.i += 6
	}
	return nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// foldKey maps a key to a canonical form such that two keys have the same
// form exactly when bytes.EqualFold (the rule encoding/json uses to match
// keys to field names) holds, for objects with many keys: each rune becomes the smallest rune of its
// simple case-folding orbit ('K', 'k' and the Kelvin sign all map to 'K').
// Keys are almost always ASCII, which is handled without allocating more
// than the result.
func foldKey(k []byte) []byte {
	out := make([]byte, 0, len(k))
	for i := 0; i < len(k); {
		c := k[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			// 'K' and 'S' have non-ASCII orbit members (U+212A, U+017F)
			// but are already the smallest of their orbits.
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(k[i:])
		i += n
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		out = utf8.AppendRune(out, min)
	}
	return out
}

// smallObject is how many keys an object may have before duplicate
// detection switches from a linear scan to a map.
const smallObject = 16

// object scans an object starting at its '{'. For each key, after the
// duplicate check, field (when not nil) may consume the value itself
// (returning true) and is then called with s.i at the value's first byte;
// otherwise the value is only validated.
func (s *jsonScanner) object(depth int, field func(key []byte) (bool, error)) error {
	if s.open('}') {
		return nil
	}
	var small [smallObject][]byte
	keys := small[:0]
	var seen map[string]struct{}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.fail("expected a key")
		}
		at := s.i
		k, err := s.str(true)
		if err != nil {
			return err
		}
		if seen == nil && len(keys) < smallObject {
			// bytes.EqualFold is the rule encoding/json matches keys
			// to field names by.
			for _, o := range keys {
				if bytes.EqualFold(o, k) {
					s.i = at
					return s.fail("duplicate key")
				}
			}
			keys = append(keys, k)
		} else {
			if seen == nil {
				seen = make(map[string]struct{}, 2*smallObject)
				for _, o := range keys {
					seen[string(foldKey(o))] = struct{}{}
				}
			}
			f := string(foldKey(k))
			if _, dup := seen[f]; dup {
				s.i = at
				return s.fail("duplicate key")
			}
			seen[f] = struct{}{}
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.fail("expected ':'")
		}
		s.i++
		s.ws()
		done := false
		if field != nil && s.i < len(s.b) {
			if done, err = field(k); err != nil {
				return err
			}
		}
		if !done {
			if err := s.value(depth); err != nil {
				return err
			}
		}
		if more, err := s.next('}'); !more {
			return err
		}
	}
}

func (s *jsonScanner) array(depth int) error {
	if s.open(']') {
		return nil
	}
	for {
		s.ws()
		if err := s.value(depth); err != nil {
			return err
		}
		if more, err := s.next(']'); !more {
			return err
		}
	}
}

// open consumes the '{' or '[' at s.i and the white space after it, and
// reports an empty object or array (consuming its end, closer, as well).
// With next it is the one framing of both: members separated by commas,
// up to the closer.
func (s *jsonScanner) open(closer byte) bool {
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == closer {
		s.i++
		return true
	}
	return false
}

// next consumes what follows a member of an object or array (closer '}'
// or ']'): a comma, when more is true and a member follows, or the
// closer, when more is false and err is nil. Anything else is the error,
// with more false.
func (s *jsonScanner) next(closer byte) (more bool, err error) {
	s.ws()
	if s.i >= len(s.b) {
		if closer == '}' {
			return false, s.fail("unterminated object")
		}
		return false, s.fail("unterminated array")
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return true, nil
	case closer:
		s.i++
		return false, nil
	}
	if closer == '}' {
		return false, s.fail("expected ',' or '}'")
	}
	return false, s.fail("expected ',' or ']'")
}

// envelope is the outer JSON of a notification as decodeEnvelope reads it:
// the strings a Notification keeps, and the resource's fields as
// sub-slices of the body (or of a fresh buffer, for a string with
// escapes), which must only be read.
type envelope struct {
	id, createTime, eventType, resourceType, summary string
	// hasResource says resource was an object (possibly empty), as a
	// non-nil *struct field of encoding/json would.
	hasResource                                  bool
	originalType                                 string
	algorithm, ciphertext, associatedData, nonce []byte
}

// decodeEnvelope decodes a notification's outer JSON in one pass.
//
// It is decodeJSON into notificationBody without encoding/json, for the
// one document every notification carries: the same checks (size and
// nesting caps, duplicate keys refused case-insensitively, strict UTF-8,
// strict integers, nothing after the value) are made by the same scanner,
// and the fields are taken during that scan, the way encoding/json would
// fill them: keys matched to names as bytes.EqualFold does, null leaving
// a field empty, unknown keys skipped, a value of the wrong type refused
// once the whole document has been checked. FuzzEnvelope holds the two to
// the same answer on every input. Decoding this way skips encoding/json's
// second scan and its reflection, and leaves the base64 ciphertext in the
// body's bytes rather than copying it into a string.
func decodeEnvelope(b []byte) (envelope, error) {
	var e envelope
	if len(b) > MaxJSONBytes {
		return e, &JSONError{Offset: -1, Reason: "document larger than " + strconv.Itoa(MaxJSONBytes) + " bytes"}
	}
	s := jsonScanner{b: b}
	var typeErr error // the first value of the wrong type, reported only for a document otherwise valid
	// wrong validates a value of the wrong type for field and keeps it
	// as typeErr (the first one) for a document otherwise valid.
	wrong := func(depth int, field string) error {
		at := s.i
		if err := s.value(depth); err != nil {
			return err
		}
		if typeErr == nil {
			typeErr = &JSONError{Offset: int64(at), Reason: "wrong type for " + field}
		}
		return nil
	}
	// str takes a string value into *dst; null leaves it empty; anything
	// else is validated and reported as the wrong type.
	str := func(dst *[]byte, depth int, field string) error {
		switch s.b[s.i] {
		case '"':
			v, err := s.str(true)
			*dst = v
			return err
		case 'n':
			return s.lit("null")
		}
		return wrong(depth, field)
	}
	resource := func(k []byte) (bool, error) {
		var dst *[]byte
		var orig []byte
		name := ""
		switch {
		case bytes.EqualFold(k, []byte("original_type")):
			dst, name = &orig, "resource.original_type"
		case bytes.EqualFold(k, []byte("algorithm")):
			dst, name = &e.algorithm, "resource.algorithm"
		case bytes.EqualFold(k, []byte("ciphertext")):
			dst, name = &e.ciphertext, "resource.ciphertext"
		case bytes.EqualFold(k, []byte("associated_data")):
			dst, name = &e.associatedData, "resource.associated_data"
		case bytes.EqualFold(k, []byte("nonce")):
			dst, name = &e.nonce, "resource.nonce"
		default:
			return false, nil
		}
		err := str(dst, 2, name)
		if orig != nil {
			e.originalType = string(orig)
		}
		return true, err
	}
	top := func(k []byte) (bool, error) {
		var dst *string
		name := ""
		switch {
		case bytes.EqualFold(k, []byte("id")):
			dst, name = &e.id, "id"
		case bytes.EqualFold(k, []byte("create_time")):
			dst, name = &e.createTime, "create_time"
		case bytes.EqualFold(k, []byte("event_type")):
			dst, name = &e.eventType, "event_type"
		case bytes.EqualFold(k, []byte("resource_type")):
			dst, name = &e.resourceType, "resource_type"
		case bytes.EqualFold(k, []byte("summary")):
			dst, name = &e.summary, "summary"
		case bytes.EqualFold(k, []byte("resource")):
			switch s.b[s.i] {
			case '{':
				e.hasResource = true
				return true, s.object(2, resource)
			case 'n':
				return true, s.lit("null")
			}
			return true, wrong(1, "resource")
		default:
			return false, nil
		}
		var v []byte
		err := str(&v, 1, name)
		if v != nil {
			*dst = string(v)
		}
		return true, err
	}
	s.ws()
	var err error
	switch {
	case s.i < len(b) && b[s.i] == '{':
		err = s.object(1, top)
	case bytes.HasPrefix(b[s.i:], []byte("null")):
		err = s.value(0) // a null document decodes to nothing
	default:
		err = wrong(0, "")
	}
	if err != nil {
		return envelope{}, err
	}
	s.ws()
	if s.i != len(b) {
		return envelope{}, s.fail("data after the top-level value")
	}
	if typeErr != nil {
		return envelope{}, typeErr
	}
	return e, nil
}

// encodeJSON marshals a request body as it will be signed and sent:
// without HTML escaping (WeChat reads "<" and "&" in descriptions as
// they are; "\u003c" would be correct JSON but is not what the merchant
// wrote) and without encoding/json's trailing newline, which would
// otherwise be signed and sent as part of the body.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// chinaTime is UTC+8, the zone WeChat's documentation writes every time
// in. Times are sent in it so that a merchant reading a request log sees
// the same wall clock as in WeChat's merchant platform.
var chinaTime = time.FixedZone("CST", 8*60*60)

// timeLayout is how times are sent: RFC 3339 to the second with a
// numeric offset, as WeChat documents time_expire
// ("2018-06-08T10:34:56+08:00").
const timeLayout = "2006-01-02T15:04:05-07:00"

// jsonTime is a time.Time in WeChat's wire format, for the fields of
// request and answer structs: it is sent in UTC+8 to the second, and read
// from any RFC 3339 text (WeChat sends "+08:00", sometimes fractions or
// "Z"). The zero time is sent as "" only where a field is optional and
// omitted by the caller's omitempty handling; an empty string or null
// decodes to the zero time.
type jsonTime time.Time

// MarshalJSON writes t as "2006-01-02T15:04:05+08:00".
func (t jsonTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte(`""`), nil
	}
	b := make([]byte, 0, len(timeLayout)+2)
	b = append(b, '"')
	b = tt.In(chinaTime).AppendFormat(b, timeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON reads an RFC 3339 time; it refuses anything else (a Unix
// number, a time without an offset).
func (t *jsonTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return wire.NewError("apiv3: ", "time is not a string")
	}
	if s == "" {
		*t = jsonTime{}
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return wire.NewError("apiv3: ", "time is not RFC 3339")
	}
	*t = jsonTime(v)
	return nil
}

// Time returns t as a time.Time.
func (t jsonTime) Time() time.Time { return time.Time(t) }
