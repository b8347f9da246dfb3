package wxpay

import (
	"github.com/wxpay-go/wxpay/internal/wire"
)

// decodeVerify decodes a v2 message from untrusted bytes and verifies its
// signature in one pass over one sorted field list: the fields are sorted
// once (which also finds duplicate names), signed in that order and put
// into a map made at its final size.
//
// err is a decode error, exactly what [DecodeXML] would return, and p is
// then nil. Otherwise p holds every field (empty ones and sign included)
// and verifyErr is exactly what s.Verify(p) would return. Callers that
// must read return_code before trusting the signature can do so: a
// message that reports a failure carries no sign.
func (s *Signer) decodeVerify(b []byte) (p Params, verifyErr error, err error) {
	fs, err := decodeFields(b, "xml")
	if err != nil {
		// decodeFields stops at the same first error as DecodeXML unless
		// a duplicate name came before it, which only DecodeXML sees.
		_, err = DecodeXML(b)
		return nil, nil, err
	}
	var sbuf [32]field
	sorted := sortFields(fs, sbuf[:0])
	for i := 1; i < len(sorted); i++ {
		if sorted[i].k == sorted[i-1].k {
			// The error, with its offset, is DecodeXML's to give.
			if _, err = DecodeXML(b); err == nil {
				err = errDecodeMismatch
			}
			return nil, nil, err
		}
	}
	p = make(Params, len(sorted))
	for _, f := range sorted {
		p[f.k] = f.v
	}
	return p, s.verify(p, sorted), nil
}

// errDecodeMismatch would mean decodeFields and DecodeXML disagree; the
// fuzz target FuzzDecodeVerify holds them to each other.
var errDecodeMismatch = wire.NewError("wxpay: ", "internal error: decoders disagree")

// encodeSigned writes a signed request: fs are its fields in any order,
// each name given once; a field named sign is ignored, since the sign is
// computed here. The fields are sorted once, for both the sign and the
// XML. The bytes are exactly those of EncodeXML(p) after
// p["sign"] = s.Sign(p), where p holds fs: empty values are written as
// empty elements and not signed (callers leave out what they do not
// send), and an invalid name or value fails with EncodeXML's error.
func (s *Signer) encodeSigned(fs []field) ([]byte, error) {
	var fbuf, sbuf [32]field
	own := fbuf[:0]
	if len(fs) > len(fbuf) {
		own = make([]field, 0, len(fs))
	}
	for _, f := range fs {
		if f.k != "sign" {
			own = append(own, f)
		}
	}
	sorted := sortFields(own, sbuf[:0])
	for i := 1; i < len(sorted); i++ {
		if sorted[i].k == sorted[i-1].k {
			return nil, wire.NewError("wxpay: ", "encode XML: duplicate field name "+wire.QuoteShort(sorted[i].k))
		}
	}
	var sum [32]byte
	n := s.sumSorted(sorted, &sum)
	return appendFieldsXML(nil, sorted, "xml", signString(&sum, n))
}
