package wxpay

import (
	"strings"
	"testing"
)

// xmlSeeds are the fuzz seeds for the decoder: genuine shapes and the
// tricks the hostile table covers.
var xmlSeeds = []string{
	`<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info><body>test</body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str><sign>9A0A8659F005D6984697E2CA0A9CF3B7</sign></xml>`,
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xml>\n<return_code><![CDATA[SUCCESS]]></return_code>\n<attach><![CDATA[支付测试]]></attach>\n<total_fee>100</total_fee>\n</xml>",
	`<xml><a>&lt;&gt;&amp;&apos;&quot;&#65;&#x4e2d;</a><b><![CDATA[x]]]]><![CDATA[>y]]></b><c/></xml>`,
	"<xml><a>x\r\ny</a><!-- c --></xml>",
	`<root><refund_fee><![CDATA[6]]></refund_fee></root>`,
	`<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><a>&x;</a></xml>`,
	`<xml><a><b>1</b></a></xml>`,
	`<xml a="1"><b>1</b></xml>`,
	`<xml><x:a>1</x:a></xml>`,
	`<xml><a>1</a><a>2</a></xml>`,
	`<xml><a>1</a></xml><xml/>`,
	`<xml><a>]]></a></xml>`,
	"<xml><a>\xff</a></xml>",
	`<?xml version="1.0" encoding="GBK"?><xml/>`,
}

// FuzzDecodeXML holds the decoder to three properties on any input: it
// never panics and never returns a map with an error; what it accepts,
// encoding/xml reads to the same map (DecodeXML may only be stricter);
// and decode → encode → decode is stable.
func FuzzDecodeXML(f *testing.F) {
	for _, s := range xmlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeXML(b)
		if err != nil {
			if p != nil {
				t.Fatalf("partial map with error %v", err)
			}
			return
		}
		ref, rerr := referenceDecode(b, "xml")
		if rerr != nil {
			t.Fatalf("DecodeXML accepted what encoding/xml rejects (%v): %q", rerr, b)
		}
		if !equalParams(p, ref) {
			t.Fatalf("DecodeXML and encoding/xml disagree on %q:\n ours %q\n ref  %q", b, p, ref)
		}
		enc, err := EncodeXML(p)
		if err != nil {
			t.Fatalf("cannot encode a decoded map: %v", err)
		}
		q, err := DecodeXML(enc)
		if err != nil {
			t.Fatalf("cannot decode own output %q: %v", enc, err)
		}
		if !equalParams(p, q) {
			t.Fatalf("round trip changed the map:\n before %q\n after  %q", p, q)
		}
	})
}

// FuzzVerify holds verification to: never panic; accept only a sign equal
// to what the key produces; never accept under another key; and reject a
// genuinely signed message once any value changes.
func FuzzVerify(f *testing.F) {
	for _, s := range xmlSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Add([]byte(`<xml><a>1</a><sign>9A0A8659F005D6984697E2CA0A9CF3B7</sign></xml>`), false)
	f.Add([]byte(`<xml><a>1</a><sign_type>MD5</sign_type><sign>9A0A8659F005D6984697E2CA0A9CF3B7</sign></xml>`), true)
	mine := map[bool]*Signer{}
	other := map[bool]*Signer{}
	for _, h := range []bool{false, true} {
		typ := SignMD5
		if h {
			typ = SignHMACSHA256
		}
		mine[h] = mustSigner(f, testKey, typ)
		other[h] = mustSigner(f, "0123456789abcdef0123456789abcdef", typ)
	}
	f.Fuzz(func(t *testing.T, b []byte, useHMAC bool) {
		p, err := DecodeXML(b)
		if err != nil {
			return
		}
		s := mine[useHMAC]
		// The reference is the plain definition, not the signer itself.
		ref := md5Upper(canonical(p, testKey))
		if useHMAC {
			ref = hmacUpper(testKey, canonical(p, testKey))
		}
		if s.Sign(p) != ref {
			t.Fatalf("signer disagrees with the definition on %q", p)
		}
		if s.Verify(p) == nil {
			if p["sign"] != ref {
				t.Fatalf("accepted sign %q that the key does not produce", p["sign"])
			}
			if st := p["sign_type"]; st != "" && SignType(st) != s.Type() {
				t.Fatalf("accepted sign_type %q", st)
			}
		}
		if other[useHMAC].Verify(p) == nil && s.Verify(p) == nil {
			t.Fatalf("one message verified under two keys")
		}

		// Sign it properly, then change each field in turn.
		p = cloneParams(p)
		delete(p, "sign_type")
		p["sign"] = s.Sign(p)
		err = s.Verify(p)
		if ambiguousRef(p) {
			if err != ErrAmbiguousValue {
				t.Fatalf("a value names a field of its message, yet Verify says %v", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
		for k, v := range p {
			if k == "sign" {
				continue
			}
			q := cloneParams(p)
			q[k] = v + "0"
			if s.Verify(q) == nil {
				t.Fatalf("changed field %q still verifies", k)
			}
		}
		q := cloneParams(p)
		q["injected"] = "1"
		if s.Verify(q) == nil {
			t.Fatalf("added field still verifies")
		}
	})
}

// ambiguousRef is the plain definition of the re-split rule: some signed
// value contains "&name=" for a signed field name of the same message.
func ambiguousRef(p Params) bool {
	for k, v := range p {
		if k == "sign" || v == "" {
			continue
		}
		for n, w := range p {
			if n != "sign" && w != "" && strings.Contains(v, "&"+n+"=") {
				return true
			}
		}
	}
	return false
}

// FuzzDecodeVerify holds decodeVerify to DecodeXML followed by Verify: the
// same decode error, the same map, the same verification result, for any
// body under either algorithm. Bodies are often signed first, so that the
// fuzzer reaches the paths after a matching sign.
func FuzzDecodeVerify(f *testing.F) {
	for _, s := range xmlSeeds {
		f.Add([]byte(s), false, false)
		f.Add([]byte(s), true, true)
	}
	f.Add([]byte(`<xml><attach>x&amp;b=1</attach><b>1</b><coupon_fee_0>1</coupon_fee_0><coupon_fee_1/></xml>`), false, true)
	f.Add([]byte(`<xml><a>1</a><b>2</b><a>3</a><c>`), true, false)
	signers := map[bool]*Signer{
		false: mustSigner(f, testKey, SignMD5),
		true:  mustSigner(f, testKey, SignHMACSHA256),
	}
	f.Fuzz(func(t *testing.T, b []byte, useHMAC, resign bool) {
		s := signers[useHMAC]
		if resign {
			// Replace whatever sign the body has with a correct one.
			if p, err := DecodeXML(b); err == nil {
				p["sign"] = s.Sign(p)
				if enc, err := EncodeXML(p); err == nil {
					b = enc
				}
			}
		}
		want, wantErr := DecodeXML(b)
		p, verr, err := s.decodeVerify(b)
		if wantErr != nil {
			if p != nil || verr != nil || err == nil || err.Error() != wantErr.Error() {
				t.Fatalf("decode error %v, decodeVerify gave %v, %v, %v", wantErr, p, verr, err)
			}
			return
		}
		if err != nil || !equalParams(p, want) {
			t.Fatalf("decodeVerify gave %q, %v; DecodeXML %q", p, err, want)
		}
		if wantV := s.Verify(want); verr != wantV {
			t.Fatalf("decodeVerify verification %v, Verify %v", verr, wantV)
		}
		if verr == nil && ambiguousRef(p) {
			t.Fatalf("accepted an ambiguous message %q", p)
		}
	})
}

// FuzzEncodeSigned holds encodeSigned to EncodeXML after Sign, byte for
// byte and error for error.
func FuzzEncodeSigned(f *testing.F) {
	for _, s := range xmlSeeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`<xml><sign_type>MD5</sign_type><sig>1</sig><signb/><t>&lt;</t></xml>`), true)
	signers := map[bool]*Signer{
		false: mustSigner(f, testKey, SignMD5),
		true:  mustSigner(f, testKey, SignHMACSHA256),
	}
	f.Fuzz(func(t *testing.T, b []byte, useHMAC bool) {
		p, err := DecodeXML(b)
		if err != nil {
			return
		}
		s := signers[useHMAC]
		var fs []field
		for k, v := range p {
			fs = append(fs, field{k, v})
		}
		got, err := s.encodeSigned(fs)
		p["sign"] = s.Sign(p)
		want, wantErr := EncodeXML(p)
		if wantErr != nil || err != nil {
			if wantErr == nil || err == nil || err.Error() != wantErr.Error() {
				t.Fatalf("encodeSigned error %v, EncodeXML error %v", err, wantErr)
			}
			return
		}
		if string(got) != string(want) {
			t.Fatalf("encodeSigned wrote\n %q\nEncodeXML\n %q", got, want)
		}
	})
}

func equalParams(a, b Params) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
