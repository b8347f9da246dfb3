package apiv3

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// The headers WeChat signs its answers and notifications with.
const (
	HeaderSerial    = "Wechatpay-Serial"    // the key: a platform certificate serial or a PUB_KEY_ID_… id
	HeaderSignature = "Wechatpay-Signature" // base64 RSA-SHA256 signature
	HeaderTimestamp = "Wechatpay-Timestamp" // Unix seconds
	HeaderNonce     = "Wechatpay-Nonce"     // random string
	HeaderRequestID = "Request-ID"          // WeChat's id of the exchange, for support
	// HeaderSignatureType names the algorithm; when present it must be
	// WECHATPAY2-SHA256-RSA2048 ([AuthScheme]), the only one supported.
	HeaderSignatureType = "Wechatpay-Signature-Type"
)

// SignatureWindow is how far Wechatpay-Timestamp may be from the client's
// clock, in either direction, for an answer or a notification to be
// accepted. WeChat applies the same five minutes to requests.
const SignatureWindow = 5 * time.Minute

// ProbePrefix starts the signatures of WeChat's signature probes
// (签名探测流量): real messages deliberately signed wrong, to catch
// merchants who never verify. They are refused with [ErrSignatureProbe].
const ProbePrefix = "WECHATPAY/SIGNTEST/"

// keyResolver returns the public key that Wechatpay-Serial names.
type keyResolver func(ctx context.Context, serial string) (*rsa.PublicKey, error)

// verifySignature proves that body and the headers h come from WeChat:
// an answer of any status, or a notification. It checks, in this order
// and before anything of body is read:
//
//   - Wechatpay-Serial, Wechatpay-Signature, Wechatpay-Timestamp and
//     Wechatpay-Nonce are each present exactly once and non-empty;
//   - the signature is not a WECHATPAY/SIGNTEST/ probe;
//   - the timestamp is decimal Unix seconds within [SignatureWindow] of
//     c.now(), either way (a replay or a clock to fix);
//   - the nonce has no control characters (a newline in it would let
//     the three signed lines be cut differently);
//   - the serial names the configured WeChat Pay public key, or a valid
//     platform certificate; an unknown certificate serial triggers at
//     most one rate-limited, single-flight refresh, then is refused;
//   - the signature is RSASSA-PKCS1-v1_5 with SHA-256 over
//     TIMESTAMP\nNONCE\nBODY\n under that key. crypto/rsa compares the
//     recovered digest in constant time.
//
// Every failure matches [ErrSignature] under errors.Is, and a sentinel
// naming the check: [ErrMissingSignature], [ErrSignatureProbe],
// [ErrTimestamp], [ErrUnknownSerial]. Notifications are verified here
// too.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay4_1.shtml,
// https://pay.weixin.qq.com/doc/v3/merchant/4016241880 (probe signatures)
func (c *Client) verifySignature(ctx context.Context, h http.Header, body []byte) error {
	return c.verifyWith(ctx, h, body, c.keyFor)
}

// verifyWith is verifySignature with the key looked up by resolve.
func (c *Client) verifyWith(ctx context.Context, h http.Header, body []byte, resolve keyResolver) error {
	serial, okSerial := single(h, HeaderSerial)
	sig, okSig := single(h, HeaderSignature)
	ts, okTS := single(h, HeaderTimestamp)
	nonce, okNonce := single(h, HeaderNonce)
	switch {
	case !okSig:
		return &verifyError{ErrMissingSignature, HeaderSignature + " absent, empty or repeated"}
	case !okSerial:
		return &verifyError{ErrMissingSignature, HeaderSerial + " absent, empty or repeated"}
	case !okTS:
		return &verifyError{ErrMissingSignature, HeaderTimestamp + " absent, empty or repeated"}
	case !okNonce:
		return &verifyError{ErrMissingSignature, HeaderNonce + " absent, empty or repeated"}
	}
	if strings.HasPrefix(sig, ProbePrefix) {
		return &verifyError{kind: ErrSignatureProbe}
	}
	// A merchant set up for China's national algorithms gets SM2
	// signatures; say so rather than report a failed RSA check. The
	// header is the sender's claim: it can only make us refuse.
	if st := h.Values(HeaderSignatureType); len(st) > 1 || len(st) == 1 && st[0] != AuthScheme {
		return &verifyError{ErrSignature, HeaderSignatureType + " is not " + AuthScheme + " (SM2 signatures are not supported)"}
	}
	t, ok := parseUnix(ts)
	if !ok {
		return &verifyError{ErrTimestamp, "not decimal Unix seconds"}
	}
	now := c.now().Unix()
	const window = int64(SignatureWindow / time.Second)
	if t < now-window {
		return &verifyError{ErrTimestamp, "older than 5 minutes (replayed, or the client's clock is fast)"}
	}
	if t > now+window {
		return &verifyError{ErrTimestamp, "more than 5 minutes ahead (the client's clock is slow)"}
	}
	if !printable(nonce, 128) {
		return &verifyError{ErrSignature, HeaderNonce + " malformed"}
	}
	if !validSerial(serial) {
		return &verifyError{ErrUnknownSerial, HeaderSerial + " malformed"}
	}
	pub, err := resolve(ctx, serial)
	if err != nil {
		return err
	}
	// A 2048-bit signature is 344 base64 characters; a longer header is
	// refused before decoding anything.
	if len(sig) > base64.StdEncoding.EncodedLen(pub.Size()) {
		return &verifyError{ErrSignature, "signature has the wrong length"}
	}
	var raw [1024]byte
	if base64.StdEncoding.DecodedLen(len(sig)) > len(raw) {
		return &verifyError{ErrSignature, "signature too long"}
	}
	n, err := base64.StdEncoding.Decode(raw[:], []byte(sig))
	if err != nil || n != pub.Size() {
		return &verifyError{ErrSignature, "signature is not base64 of the key's size"}
	}
	d := sha256.New()
	// Hashed in pieces: the body is never copied into a signed string.
	d.Write([]byte(ts))
	d.Write(newline)
	d.Write([]byte(nonce))
	d.Write(newline)
	d.Write(body)
	d.Write(newline)
	var digest [sha256.Size]byte
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d.Sum(digest[:0]), raw[:n]); err != nil {
		return &verifyError{ErrSignature, "signature does not match"}
	}
	return nil
}

var newline = []byte{'\n'}

// single returns the one value of header name, or false when it is
// absent, empty or given more than once (two values could be read
// differently by two layers).
func single(h http.Header, name string) (string, bool) {
	vs := h[name]
	if vs == nil {
		vs = h.Values(name)
	}
	if len(vs) != 1 || vs[0] == "" {
		return "", false
	}
	return vs[0], true
}

// parseUnix reads 1 to 12 decimal digits; no sign, space or fraction.
func parseUnix(s string) (int64, bool) { return wire.ParseDigits(s, 12) }

// printable reports whether s is 1..max bytes of printable ASCII.
func printable(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// validSerial accepts what WeChat puts in Wechatpay-Serial: the hex
// serial of a platform certificate or a PUB_KEY_ID_… id of digits.
func validSerial(s string) bool { return len(s) >= 1 && len(s) <= 64 && wire.OfAlnum(s, "_") }

// keyFor resolves Wechatpay-Serial for answers and notifications: the
// configured public key by its id, else a platform certificate (which may
// refresh them, see certManager.lookup).
func (c *Client) keyFor(ctx context.Context, serial string) (*rsa.PublicKey, error) {
	if c.pubKey != nil && serial == c.pubKeyID {
		return c.pubKey, nil
	}
	if c.certs == nil || strings.HasPrefix(serial, PublicKeyIDPrefix) || !wire.IsHex(serial) {
		// Another public key id, or no certificates: nothing to
		// download that could know it.
		return nil, &verifyError{ErrUnknownSerial, serialHint(c, serial)}
	}
	return c.certs.lookup(ctx, serial)
}

// serialHint says what configuration a refused serial suggests.
func serialHint(c *Client, serial string) string {
	switch {
	case strings.HasPrefix(serial, PublicKeyIDPrefix) && c.pubKey == nil:
		return "a WeChat Pay public key id, and none is configured (set Config.PublicKeyID and PublicKey)"
	case strings.HasPrefix(serial, PublicKeyIDPrefix):
		return "not the configured WeChat Pay public key id (was the key replaced in the merchant platform?)"
	case c.certs == nil && wire.IsHex(serial):
		return "a platform certificate serial, and certificates are not enabled (set Config.PlatformCertificates while migrating)"
	}
	return "neither a public key id nor a certificate serial"
}

// encryptionKey returns the WeChat key that sensitive request fields
// (names, phone numbers, ID numbers) must be encrypted under, and its
// serial for the request's Wechatpay-Serial header: the WeChat Pay public
// key when configured, else the newest valid platform certificate
// (downloading them if none is held yet). The error matches
// [ErrNoEncryptionKey] when there is none.
//
// WeChat Pay docs: https://pay.wechatpay.cn/doc/v3/partner/4013059053
func (c *Client) encryptionKey(ctx context.Context) (serial string, pub *rsa.PublicKey, err error) {
	if c.pubKey != nil {
		return c.pubKeyID, c.pubKey, nil
	}
	if c.certs == nil {
		return "", nil, ErrNoEncryptionKey
	}
	return c.certs.newest(ctx)
}
