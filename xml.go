package wxpay

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// Params is one v2 message: the fields of its flat <xml> document, by
// name. Values are the decoded text (entities and CDATA resolved). A
// field with an empty value counts as absent when signing.
//
// WeChat Pay docs (protocol rules): https://pay.weixin.qq.com/wiki/doc/api/wxpay/ch/pay/chapter2_2.shtml
// WeChat Pay docs (signing rules): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3
type Params map[string]string

// Limits of [DecodeXML]. Real messages are a few kilobytes with at most a
// few dozen fields (refundquery with every coupon is the largest); the
// limits leave ample room while bounding what hostile input can cost.
const (
	MaxXMLSize   = 1 << 20 // bytes of input
	MaxXMLFields = 512     // fields in one message
)

// XMLReason says why [DecodeXML] rejected its input.
type XMLReason int

// Reasons for rejecting a document.
const (
	XMLSyntax        XMLReason = iota + 1 // not well-formed XML, or a construct wxpay does not accept
	XMLEmpty                              // no root element
	XMLTooLarge                           // more than MaxXMLSize bytes
	XMLTooManyFields                      // more than MaxXMLFields fields
	XMLDoctype                            // a DOCTYPE or entity declaration (XXE)
	XMLNested                             // an element inside a field
	XMLAttribute                          // an attribute on the root or a field
	XMLNamespace                          // a namespaced name or xmlns declaration
	XMLDuplicate                          // the same field twice
	XMLTrailing                           // content after the root element
	XMLRoot                               // the root element has the wrong name
	XMLInvalidUTF8                        // bytes that are not UTF-8
	XMLEncoding                           // a declared encoding other than UTF-8
)

var xmlReasonText = [...]string{
	XMLSyntax:        "syntax error",
	XMLEmpty:         "empty document",
	XMLTooLarge:      "document too large",
	XMLTooManyFields: "too many fields",
	XMLDoctype:       "DOCTYPE or entity declaration not allowed",
	XMLNested:        "nested element not allowed",
	XMLAttribute:     "attribute not allowed",
	XMLNamespace:     "namespace not allowed",
	XMLDuplicate:     "duplicate field",
	XMLTrailing:      "content after root element",
	XMLRoot:          "unexpected root element",
	XMLInvalidUTF8:   "invalid UTF-8",
	XMLEncoding:      "encoding other than UTF-8",
}

// String returns a short description of the reason.
func (r XMLReason) String() string {
	if r > 0 && int(r) < len(xmlReasonText) {
		return xmlReasonText[r]
	}
	return "XMLReason(" + strconv.Itoa(int(r)) + ")"
}

// XMLError reports why a document was rejected and where. Its text names
// the reason and offset only, never the document's content.
type XMLError struct {
	Reason XMLReason // which rule the input broke
	Offset int       // byte offset in the input where the problem was found
}

// Error names the reason and the offset, such as "wxpay: malformed XML:
// duplicate field at offset 57".
func (e *XMLError) Error() string { return "wxpay: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *XMLError) Text() string {
	return "malformed XML: " + e.Reason.String() + " at offset " + strconv.Itoa(e.Offset)
}

// Unwrap returns [ErrXML], so errors.Is(err, ErrXML) matches every reason.
func (e *XMLError) Unwrap() error { return ErrXML }

// DecodeXML decodes a v2 message from untrusted bytes.
//
// It accepts exactly what WeChat sends: an optional XML declaration
// (version 1.0, UTF-8), then one <xml> element whose children are fields
// holding text or CDATA, with whitespace and comments between elements.
// Everything else is rejected with an [*XMLError] before any field is
// returned: DOCTYPE and entity declarations, nested elements, attributes,
// namespaces, duplicate fields, a second root or text after the root,
// invalid UTF-8 or characters XML forbids, other encodings, empty input,
// more than [MaxXMLFields] fields and more than [MaxXMLSize] bytes. On
// error the returned Params is always nil.
//
// Where DecodeXML accepts a document, encoding/xml reads the same fields
// from it; DecodeXML is just stricter and several times faster.
//
// WeChat Pay docs (protocol rules): https://pay.weixin.qq.com/wiki/doc/api/wxpay/ch/pay/chapter2_2.shtml
func DecodeXML(b []byte) (Params, error) {
	return decodeXML(b, "xml")
}

// decodeXML decodes a flat document whose root element is named root:
// "xml" for messages, "root" for the decrypted req_info of refund
// notifications.
func decodeXML(b []byte, root string) (Params, error) {
	d, err := newXMLDecoder(b)
	if err != nil {
		return nil, err
	}
	// Size the map from an upper bound on the field count (one "</" per
	// field), so that it never grows while filling.
	d.m = make(Params, d.fieldBound())
	if err := d.document(root); err != nil {
		return nil, err
	}
	return d.m, nil
}

// decodeFields decodes like decodeXML into a list of fields in document
// order, for callers that sort the fields anyway. It does not detect
// duplicate names (a sorted list shows them side by side); for the
// error of a document with a duplicate, ask decodeXML.
func decodeFields(b []byte, root string) ([]field, error) {
	d, err := newXMLDecoder(b)
	if err != nil {
		return nil, err
	}
	d.list = make([]field, 0, d.fieldBound())
	if err := d.document(root); err != nil {
		return nil, err
	}
	return d.list, nil
}

// newXMLDecoder checks what can be checked before parsing: the size cap
// and UTF-8 validity.
func newXMLDecoder(b []byte) (xmlDecoder, error) {
	if len(b) > MaxXMLSize {
		return xmlDecoder{}, &XMLError{XMLTooLarge, MaxXMLSize}
	}
	if !utf8.Valid(b) {
		off := 0
		for off < len(b) {
			r, n := utf8.DecodeRune(b[off:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			off += n
		}
		return xmlDecoder{}, &XMLError{XMLInvalidUTF8, off}
	}
	// One copy of the input; unescaped values (nearly all of them) are
	// substrings of it and cost no further allocation.
	return xmlDecoder{s: string(b)}, nil
}

// xmlDecoder reads one document into m or, when m is nil, onto list.
type xmlDecoder struct {
	s    string
	i    int
	m    Params
	list []field
}

func (d *xmlDecoder) fail(r XMLReason) error { return &XMLError{r, d.i} }

// fieldBound is an upper bound on the number of fields: one "</" each,
// and no more than the limit.
func (d *xmlDecoder) fieldBound() int {
	return min(strings.Count(d.s, "</"), MaxXMLFields)
}

func (d *xmlDecoder) document(root string) error {
	if strings.HasPrefix(d.s, "<?xml") && len(d.s) > 5 && isSpace(d.s[5]) {
		if err := d.declaration(); err != nil {
			return err
		}
	}
	if err := d.misc(XMLSyntax); err != nil {
		return err
	}
	if d.i == len(d.s) {
		return d.fail(XMLEmpty)
	}
	// d.s[d.i] == '<' here: misc stops only at a start tag.
	d.i++
	start := d.i
	name, err := d.name()
	if err != nil {
		return err
	}
	if name != root {
		d.i = start
		return d.fail(XMLRoot)
	}
	empty, err := d.tagEnd()
	if err != nil {
		return err
	}
	if !empty {
		if err := d.fields(root); err != nil {
			return err
		}
	}
	if err := d.misc(XMLTrailing); err != nil {
		return err
	}
	if d.i != len(d.s) {
		return d.fail(XMLTrailing)
	}
	return nil
}

// declaration parses <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
// at the start of the input.
func (d *xmlDecoder) declaration() error {
	end := strings.Index(d.s, "?>")
	if end < 0 {
		return d.fail(XMLSyntax)
	}
	body := d.s[5:end]
	seen := 0
	for {
		body = strings.TrimLeft(body, " \t\r\n")
		if body == "" {
			break
		}
		eq := strings.IndexByte(body, '=')
		if eq <= 0 {
			return d.fail(XMLSyntax)
		}
		key := strings.TrimRight(body[:eq], " \t\r\n")
		rest := strings.TrimLeft(body[eq+1:], " \t\r\n")
		if rest == "" || (rest[0] != '"' && rest[0] != '\'') {
			return d.fail(XMLSyntax)
		}
		closeAt := strings.IndexByte(rest[1:], rest[0])
		if closeAt < 0 {
			return d.fail(XMLSyntax)
		}
		val := rest[1 : 1+closeAt]
		body = rest[2+closeAt:]
		if body != "" && !isSpace(body[0]) {
			return d.fail(XMLSyntax)
		}
		switch {
		case key == "version" && seen == 0:
			if val != "1.0" {
				return d.fail(XMLSyntax)
			}
			seen = 1
		case key == "encoding" && seen == 1:
			if !strings.EqualFold(val, "utf-8") {
				return d.fail(XMLEncoding)
			}
			seen = 2
		case key == "standalone" && seen >= 1 && seen < 3:
			if val != "yes" && val != "no" {
				return d.fail(XMLSyntax)
			}
			seen = 3
		default:
			return d.fail(XMLSyntax)
		}
	}
	if seen == 0 {
		return d.fail(XMLSyntax)
	}
	d.i = end + 2
	return nil
}

// misc skips whitespace and comments outside the root element. It stops at
// the end of input or at a '<' that starts an element. Text and processing
// instructions are reported with reason stray: a syntax error before the
// root, trailing content after it.
func (d *xmlDecoder) misc(stray XMLReason) error {
	for {
		d.skipSpace()
		if d.i == len(d.s) {
			return nil
		}
		if d.s[d.i] != '<' {
			return d.fail(stray)
		}
		rest := d.s[d.i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			if err := d.comment(); err != nil {
				return err
			}
		case strings.HasPrefix(rest, "<!"):
			return d.bang()
		case strings.HasPrefix(rest, "<?"):
			return d.fail(stray)
		default:
			return nil
		}
	}
}

// bang reports a <! construct other than a comment: a DOCTYPE or entity
// declaration is an attack, anything else is malformed here.
func (d *xmlDecoder) bang() error {
	rest := d.s[d.i:]
	if strings.HasPrefix(rest, "<!DOCTYPE") || strings.HasPrefix(rest, "<!ENTITY") ||
		strings.HasPrefix(rest, "<!ELEMENT") || strings.HasPrefix(rest, "<!ATTLIST") {
		return d.fail(XMLDoctype)
	}
	return d.fail(XMLSyntax)
}

// comment skips <!-- ... -->, which may not contain "--".
func (d *xmlDecoder) comment() error {
	body := d.s[d.i+4:]
	end := strings.Index(body, "--")
	if end < 0 || !strings.HasPrefix(body[end:], "-->") {
		return d.fail(XMLSyntax)
	}
	if err := checkChars(body[:end]); err != nil {
		return d.fail(XMLSyntax)
	}
	d.i += 4 + end + 3
	return nil
}

// name reads an element name. wxpay accepts ASCII names only (every
// WeChat field is one); a ':' means a namespace prefix.
func (d *xmlDecoder) name() (string, error) {
	start := d.i
	if d.i == len(d.s) || !isNameStart(d.s[d.i]) {
		return "", d.fail(XMLSyntax)
	}
	d.i++
	for d.i < len(d.s) && isNameChar(d.s[d.i]) {
		d.i++
	}
	if d.i < len(d.s) && d.s[d.i] == ':' {
		return "", d.fail(XMLNamespace)
	}
	return d.s[start:d.i], nil
}

// tagEnd reads the rest of a start tag after its name: optional
// whitespace, then '>' or "/>". It reports whether the element is empty.
func (d *xmlDecoder) tagEnd() (empty bool, err error) {
	d.skipSpace()
	if d.i == len(d.s) {
		return false, d.fail(XMLSyntax)
	}
	switch c := d.s[d.i]; {
	case c == '>':
		d.i++
		return false, nil
	case c == '/':
		if d.i+1 < len(d.s) && d.s[d.i+1] == '>' {
			d.i += 2
			return true, nil
		}
	case isNameStart(c):
		if strings.HasPrefix(d.s[d.i:], "xmlns") {
			return false, d.fail(XMLNamespace)
		}
		return false, d.fail(XMLAttribute)
	}
	return false, d.fail(XMLSyntax)
}

// endTag reads "</name>" with optional whitespace before '>', d.i at '<'.
func (d *xmlDecoder) endTag(name string) error {
	d.i += 2
	if !strings.HasPrefix(d.s[d.i:], name) {
		return d.fail(XMLSyntax)
	}
	d.i += len(name)
	d.skipSpace()
	if d.i == len(d.s) || d.s[d.i] != '>' {
		return d.fail(XMLSyntax)
	}
	d.i++
	return nil
}

// fields reads the children of the root up to and including its end tag.
func (d *xmlDecoder) fields(root string) error {
	for {
		d.skipSpace()
		if d.i == len(d.s) {
			return d.fail(XMLSyntax)
		}
		if d.s[d.i] != '<' {
			return d.fail(XMLSyntax) // text directly inside the root
		}
		rest := d.s[d.i:]
		switch {
		case strings.HasPrefix(rest, "</"):
			return d.endTag(root)
		case strings.HasPrefix(rest, "<!--"):
			if err := d.comment(); err != nil {
				return err
			}
			continue
		case strings.HasPrefix(rest, "<!"):
			return d.bang()
		case strings.HasPrefix(rest, "<?"):
			return d.fail(XMLSyntax)
		}
		d.i++
		start := d.i
		name, err := d.name()
		if err != nil {
			return err
		}
		empty, err := d.tagEnd()
		if err != nil {
			return err
		}
		value := ""
		if !empty {
			if value, err = d.value(name); err != nil {
				return err
			}
		}
		if d.m == nil {
			if len(d.list) == MaxXMLFields {
				d.i = start
				return d.fail(XMLTooManyFields)
			}
			d.list = append(d.list, field{name, value})
			continue
		}
		if len(d.m) == MaxXMLFields {
			d.i = start
			return d.fail(XMLTooManyFields)
		}
		// One map operation both inserts and detects a duplicate; the
		// map is discarded on error, so the overwrite is harmless.
		before := len(d.m)
		d.m[name] = value
		if len(d.m) == before {
			d.i = start
			return d.fail(XMLDuplicate)
		}
	}
}

// value reads a field's content and its end tag. The content is text and
// CDATA sections, concatenated; a value that is one unescaped run is
// returned as a substring of the input without copying.
func (d *xmlDecoder) value(name string) (string, error) {
	var b []byte // set once the value needs building
	first := ""
	parts := 0
	for {
		lt := strings.IndexByte(d.s[d.i:], '<')
		if lt < 0 {
			d.i = len(d.s)
			return "", d.fail(XMLSyntax)
		}
		if lt > 0 {
			seg := d.s[d.i : d.i+lt]
			flags, err := scanText(seg)
			if err != nil {
				return "", d.fail(XMLSyntax)
			}
			if flags == 0 && parts == 0 {
				first = seg
			} else {
				if b == nil {
					b = append(make([]byte, 0, len(seg)+len(first)), first...) // decoding never lengthens text
				}
				if b, err = appendText(b, seg, flags); err != nil {
					return "", d.fail(XMLSyntax)
				}
			}
			parts++
			d.i += lt
		}
		rest := d.s[d.i:]
		switch {
		case strings.HasPrefix(rest, "</"):
			if err := d.endTag(name); err != nil {
				return "", err
			}
			if b != nil {
				return string(b), nil
			}
			return first, nil
		case strings.HasPrefix(rest, "<![CDATA["):
			body := rest[len("<![CDATA["):]
			end := strings.Index(body, "]]>")
			if end < 0 {
				return "", d.fail(XMLSyntax)
			}
			seg := body[:end]
			if err := checkChars(seg); err != nil {
				return "", d.fail(XMLSyntax)
			}
			cr := strings.IndexByte(seg, '\r') >= 0
			if !cr && parts == 0 {
				first = seg
			} else {
				if b == nil {
					b = append(make([]byte, 0, len(seg)+len(first)), first...) // decoding never lengthens text
				}
				b = appendNormalized(b, seg)
			}
			parts++
			d.i += len("<![CDATA[") + end + 3
		case strings.HasPrefix(rest, "<!--"), strings.HasPrefix(rest, "<?"):
			// encoding/xml would splice text around a comment; WeChat
			// never sends one there, so it can only be a trick.
			return "", d.fail(XMLSyntax)
		case strings.HasPrefix(rest, "<!"):
			return "", d.bang()
		case len(rest) > 1 && isNameStart(rest[1]):
			return "", d.fail(XMLNested)
		default:
			return "", d.fail(XMLSyntax) // a bare '<'
		}
	}
}

// Flags from scanText: what a text run needs before it is a value.
const (
	textEscaped = 1 << iota // holds entity or character references
	textCR                  // holds '\r', which XML turns into '\n'
)

// Byte classes of textClass: what scanText, checkChars and appendEscaped
// must do about a byte. Every byte not listed is classPlain.
const (
	classPlain     = iota // copied as it is
	classForbidden        // a control character XML 1.0 does not allow
	classCR               // '\r', which a parser turns into '\n'
	classAmp              // '&', which starts a reference
	classGT               // '>', forbidden in text only as the end of "]]>"
	classEF               // 0xEF, the first byte of U+FFFE and U+FFFF, which XML forbids
)

// textClass maps each byte to its class. It is built by a function rather
// than init so the package has no init.
var textClass = func() (t [256]byte) {
	for c := 0; c < 0x20; c++ {
		t[c] = classForbidden
	}
	t['\t'], t['\n'] = classPlain, classPlain
	t['\r'] = classCR
	t['&'] = classAmp
	t['>'] = classGT
	t[0xEF] = classEF
	return t
}()

// scanText validates raw text (no '<'; the input is valid UTF-8) and
// reports what appendText must do with it.
func scanText(s string) (flags int, err error) {
	for i := 0; i < len(s); i++ {
		switch textClass[s[i]] {
		case classPlain:
		case classForbidden:
			return 0, ErrXML
		case classCR:
			flags |= textCR
		case classAmp:
			flags |= textEscaped
		case classGT:
			if i >= 2 && s[i-1] == ']' && s[i-2] == ']' {
				return 0, ErrXML // "]]>" may only end a CDATA section
			}
		case classEF:
			if isNonChar(s, i) {
				return 0, ErrXML
			}
		}
	}
	return flags, nil
}

// isNonChar reports whether s[i:] starts with the UTF-8 form of U+FFFE or
// U+FFFF (EF BF BE, EF BF BF).
func isNonChar(s string, i int) bool {
	return i+2 < len(s) && s[i+1] == 0xBF && (s[i+2] == 0xBE || s[i+2] == 0xBF)
}

// checkChars validates CDATA and comment text: no characters XML forbids.
func checkChars(s string) error {
	for i := 0; i < len(s); i++ {
		switch textClass[s[i]] {
		case classForbidden:
			return ErrXML
		case classEF:
			if isNonChar(s, i) {
				return ErrXML
			}
		}
	}
	return nil
}

// appendText appends the decoded form of a text run validated by scanText.
func appendText(b []byte, s string, flags int) ([]byte, error) {
	if flags&textEscaped == 0 {
		return appendNormalized(b, s), nil
	}
	for len(s) > 0 {
		amp := strings.IndexByte(s, '&')
		if amp < 0 {
			return appendNormalized(b, s), nil
		}
		b = appendNormalized(b, s[:amp])
		s = s[amp+1:]
		semi := strings.IndexByte(s, ';')
		if semi <= 0 || semi > 12 {
			return nil, ErrXML
		}
		ref := s[:semi]
		s = s[semi+1:]
		switch ref {
		case "lt":
			b = append(b, '<')
		case "gt":
			b = append(b, '>')
		case "amp":
			b = append(b, '&')
		case "apos":
			b = append(b, '\'')
		case "quot":
			b = append(b, '"')
		default:
			r, ok := charRef(ref)
			if !ok {
				return nil, ErrXML // unknown entity: none can be declared
			}
			b = utf8.AppendRune(b, r)
		}
	}
	return b, nil
}

// charRef decodes the body of &#NN; or &#xHH; to a character XML allows.
func charRef(ref string) (rune, bool) {
	if len(ref) < 2 || ref[0] != '#' {
		return 0, false
	}
	base, digits := 10, ref[1:]
	if digits[0] == 'x' {
		base, digits = 16, digits[1:]
	}
	if digits == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, base, 32)
	if err != nil || digits[0] == '+' || digits[0] == '-' {
		return 0, false
	}
	r := rune(n)
	if !isXMLChar(r) {
		return 0, false
	}
	return r, true
}

// isXMLChar reports whether XML 1.0 allows r in a document.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// appendNormalized appends s with line ends normalized as XML requires:
// "\r\n" and a lone "\r" both become "\n".
func appendNormalized(b []byte, s string) []byte {
	for {
		cr := strings.IndexByte(s, '\r')
		if cr < 0 {
			return append(b, s...)
		}
		b = append(b, s[:cr]...)
		b = append(b, '\n')
		s = s[cr+1:]
		if s != "" && s[0] == '\n' {
			s = s[1:]
		}
	}
}

func (d *xmlDecoder) skipSpace() {
	for d.i < len(d.s) && isSpace(d.s[d.i]) {
		d.i++
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

func isNameChar(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9' || c == '-' || c == '.'
}

// EncodeXML writes p as a v2 message: <xml> with one child per field, in
// sorted order so the output is deterministic. Values are escaped text
// ('&', '<', '>' and '\r' as references), which every XML parser reads
// back to the same string, including values holding "]]>".
//
// It fails if a name is not a plain XML name or a value holds invalid
// UTF-8 or a character XML 1.0 cannot carry (control characters other
// than tab, newline and carriage return).
//
// WeChat Pay docs (protocol rules): https://pay.weixin.qq.com/wiki/doc/api/wxpay/ch/pay/chapter2_2.shtml
func EncodeXML(p Params) ([]byte, error) {
	return appendXML(nil, p, "xml")
}

// appendXML appends p as a document with the given root to dst.
func appendXML(dst []byte, p Params, root string) ([]byte, error) {
	var fbuf, sbuf [32]field
	fs := fbuf[:0]
	for k, v := range p {
		fs = append(fs, field{k, v})
	}
	return appendFieldsXML(dst, sortFields(fs, sbuf[:0]), root, "")
}

// appendFieldsXML appends a document with the given root holding the
// fields of fs, which are sorted by name and have distinct names; sign, if
// not empty, is written as the sign field in its sorted place (fs must
// then hold no field named sign). Empty values are written as empty
// elements, as EncodeXML writes them.
func appendFieldsXML(dst []byte, fs []field, root, sign string) ([]byte, error) {
	size := 2*len(root) + 5
	for _, f := range fs {
		size += 2*len(f.k) + 5 + len(f.v)
	}
	if sign != "" {
		size += 2*len("sign") + 5 + len(sign)
	}
	dst = slices.Grow(dst, size)
	dst = append(dst, '<')
	dst = append(dst, root...)
	dst = append(dst, '>')
	for _, f := range fs {
		if sign != "" && f.k > "sign" {
			dst = appendElement(dst, "sign", sign)
			sign = ""
		}
		if !wire.ValidName(f.k) {
			return nil, wire.NewError("wxpay: ", "encode XML: invalid field name "+wire.QuoteShort(f.k))
		}
		dst = append(dst, '<')
		dst = append(dst, f.k...)
		dst = append(dst, '>')
		var err error
		if dst, err = appendEscaped(dst, f.v); err != nil {
			return nil, wire.Errorf("wxpay: ", "encode XML: field %s: %w", f.k, err)
		}
		dst = append(dst, '<', '/')
		dst = append(dst, f.k...)
		dst = append(dst, '>')
	}
	if sign != "" {
		dst = appendElement(dst, "sign", sign)
	}
	dst = append(dst, '<', '/')
	dst = append(dst, root...)
	dst = append(dst, '>')
	return dst, nil
}

// appendElement appends <k>v</k> for a name and value known to need no
// checking or escaping.
func appendElement(dst []byte, k, v string) []byte {
	dst = append(dst, '<')
	dst = append(dst, k...)
	dst = append(dst, '>')
	dst = append(dst, v...)
	dst = append(dst, '<', '/')
	dst = append(dst, k...)
	return append(dst, '>')
}

func appendEscaped(dst []byte, v string) ([]byte, error) {
	// Fast path: most values are plain ASCII that needs no escaping.
	plain := 0
	for plain < len(v) && v[plain] < utf8.RuneSelf && textClass[v[plain]] == classPlain && v[plain] != '<' {
		plain++
	}
	dst = append(dst, v[:plain]...)
	for i := plain; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				dst = append(dst, "&amp;"...)
			case c == '<':
				dst = append(dst, "&lt;"...)
			case c == '>':
				dst = append(dst, "&gt;"...)
			case c == '\r':
				dst = append(dst, "&#xD;"...)
			case c < 0x20 && c != '\t' && c != '\n':
				return nil, errors.New("control character not allowed in XML")
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && n == 1 {
			return nil, errors.New("invalid UTF-8")
		}
		if !isXMLChar(r) {
			return nil, errors.New("character not allowed in XML")
		}
		dst = append(dst, v[i:i+n]...)
		i += n
	}
	return dst, nil
}
