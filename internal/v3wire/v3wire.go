// Package v3wire holds the byte-level rules of WeChat Pay API v3 that a
// client and a server both need: the signed messages, the Authorization
// header, RSA-SHA256 signatures and AEAD_AES_256_GCM. It is written from
// WeChat's published rules, apart from the apiv3 client, so that the fake
// (wxpaytest) checks the client against a second implementation rather
// than against itself.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012365336 (signing),
// https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay4_1.shtml (verifying),
// https://pay.weixin.qq.com/wiki/doc/apiv3_partner/wechatpay/wechatpay4_2.shtml (AES-GCM)
package v3wire

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// Scheme is the Authorization scheme of RSA requests.
const Scheme = "WECHATPAY2-SHA256-RSA2048"

// ProbePrefix starts the signature of WeChat's signature probes
// ("签名探测流量"), which every verifier must refuse.
const ProbePrefix = "WECHATPAY/SIGNTEST/"

// KeySize is the length of an APIv3 key: AES-256.
const KeySize = 32

// RequestMessage is the string a request is signed over: five lines, each
// ending in '\n' (the last included): method, the request-target exactly
// as sent (path and query), timestamp, nonce, body.
func RequestMessage(method, uri, timestamp, nonce string, body []byte) []byte {
	b := make([]byte, 0, len(method)+len(uri)+len(timestamp)+len(nonce)+len(body)+5)
	for _, s := range [...]string{method, uri, timestamp, nonce} {
		b = append(b, s...)
		b = append(b, '\n')
	}
	b = append(b, body...)
	return append(b, '\n')
}

// AnswerMessage is the string an answer or a notification is signed over:
// timestamp, nonce and body, each line ending in '\n'.
func AnswerMessage(timestamp, nonce string, body []byte) []byte {
	b := make([]byte, 0, len(timestamp)+len(nonce)+len(body)+3)
	b = append(b, timestamp...)
	b = append(b, '\n')
	b = append(b, nonce...)
	b = append(b, '\n')
	b = append(b, body...)
	return append(b, '\n')
}

// PayMessage is the string a payment-UI signature covers: four lines
// (appId, timeStamp, nonceStr, and package for JSAPI and mini-programs
// or the bare prepay id for APP), each ending in '\n'.
func PayMessage(appID, timestamp, nonce, fourth string) []byte {
	return []byte(appID + "\n" + timestamp + "\n" + nonce + "\n" + fourth + "\n")
}

// Sign returns base64(RSASSA-PKCS1-v1_5(SHA-256(msg))) under key.
func Sign(key *rsa.PrivateKey, msg []byte) (string, error) {
	d := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// ErrSignature is a signature that does not verify (or is a probe, or
// is not base64).
var ErrSignature = errors.New("signature does not verify")

// ErrProbe is a signature carrying [ProbePrefix].
var ErrProbe = errors.New("signature is a WECHATPAY/SIGNTEST/ probe")

// Verify checks sig (base64) over msg with pub. crypto/rsa compares the
// decoded signature in constant time; nothing of sig is echoed.
func Verify(pub *rsa.PublicKey, msg []byte, sig string) error {
	if strings.HasPrefix(sig, ProbePrefix) {
		return ErrProbe
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) != pub.Size() {
		return ErrSignature
	}
	d := sha256.Sum256(msg)
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], raw) != nil {
		return ErrSignature
	}
	return nil
}

// Authorization is the parsed value of a request's Authorization header.
type Authorization struct {
	MchID, NonceStr, Timestamp, SerialNo, Signature string
}

// maxAuthorization bounds the header: five short items and a 2048- or
// 4096-bit signature fit in well under it.
const maxAuthorization = 2048

// ErrAuthorization is an Authorization header not written as WeChat's
// rules say.
var ErrAuthorization = errors.New("authorization header is malformed")

// ParseAuthorization reads `WECHATPAY2-SHA256-RSA2048 k="v",...`: the
// scheme, one space, then exactly the five items mchid, nonce_str,
// timestamp, serial_no and signature in any order, each once, values in
// double quotes without quotes inside, joined by commas without spaces.
func ParseAuthorization(h string) (Authorization, error) {
	var a Authorization
	if len(h) > maxAuthorization {
		return a, ErrAuthorization
	}
	rest, ok := strings.CutPrefix(h, Scheme+" ")
	if !ok {
		return a, ErrAuthorization
	}
	seen := 0
	for rest != "" {
		item, tail, _ := strings.Cut(rest, ",")
		rest = tail
		k, v, ok := strings.Cut(item, "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return a, ErrAuthorization
		}
		v = v[1 : len(v)-1]
		if v == "" || strings.ContainsAny(v, "\"\r\n") {
			return a, ErrAuthorization
		}
		var dst *string
		bit := 0
		switch k {
		case "mchid":
			dst, bit = &a.MchID, 1
		case "nonce_str":
			dst, bit = &a.NonceStr, 2
		case "timestamp":
			dst, bit = &a.Timestamp, 4
		case "serial_no":
			dst, bit = &a.SerialNo, 8
		case "signature":
			dst, bit = &a.Signature, 16
		default:
			return a, ErrAuthorization
		}
		if seen&bit != 0 {
			return a, ErrAuthorization
		}
		seen |= bit
		*dst = v
	}
	if seen != 31 || strings.HasSuffix(h, ",") {
		return a, ErrAuthorization
	}
	return a, nil
}

// Header writes a as an Authorization header value, items in
// wechatpay-go's order.
func (a Authorization) Header() string {
	return Scheme + ` mchid="` + a.MchID + `",nonce_str="` + a.NonceStr + `",timestamp="` + a.Timestamp +
		`",serial_no="` + a.SerialNo + `",signature="` + a.Signature + `"`
}

// ErrKey is an APIv3 key that is not 32 bytes.
var ErrKey = errors.New("the APIv3 key must be 32 bytes")

// ErrDecrypt is any failure to open an AEAD_AES_256_GCM resource.
var ErrDecrypt = errors.New("AEAD_AES_256_GCM: cannot open the resource")

func gcm(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, ErrKey
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Seal encrypts plain as WeChat encrypts notification resources and
// platform certificates: AES-256-GCM under the APIv3 key, the nonce
// string's bytes (12) as IV, aad as associated data; the result is
// base64(ciphertext ‖ tag).
func Seal(key []byte, nonce, aad string, plain []byte) (string, error) {
	g, err := gcm(key)
	if err != nil {
		return "", err
	}
	if len(nonce) != g.NonceSize() {
		return "", errors.New("AEAD_AES_256_GCM: the nonce must be 12 bytes")
	}
	return base64.StdEncoding.EncodeToString(g.Seal(nil, []byte(nonce), plain, []byte(aad))), nil
}

// Open reverses [Seal]. Every failure is [ErrDecrypt] (or [ErrKey]).
func Open(key []byte, nonce, aad, ciphertext string) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	ct, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil || len(nonce) != g.NonceSize() || len(ct) < g.Overhead() {
		return nil, ErrDecrypt
	}
	plain, err := g.Open(nil, []byte(nonce), ct, []byte(aad))
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}
