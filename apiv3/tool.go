package apiv3

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// This file exports, for tools that work by hand on single messages (the
// wxpay command's sign, verify and doctor), the pieces a [Client] uses
// internally. They apply exactly the rules the Client applies; an
// application talks to WeChat through a Client instead.

// ParsePrivateKey reads the merchant API private key (apiclient_key.pem)
// from PEM as [Config.PrivateKey] accepts it: PKCS#8 ("PRIVATE KEY") or
// PKCS#1 ("RSA PRIVATE KEY"), RSA of at least 2048 bits, one PEM block.
// Its errors say what the input is (a certificate, another key type)
// without quoting any of it.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/partner/4025464285
func ParsePrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) { return parsePrivateKey(pemBytes) }

// ParsePublicKey reads the WeChat Pay public key (pub_key.pem) as
// [Config.PublicKey] accepts it: one PEM "PUBLIC KEY" (or "RSA PUBLIC
// KEY") block holding an RSA key of at least 2048 bits.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012154180
func ParsePublicKey(pemBytes []byte) (*rsa.PublicKey, error) { return parsePublicKey(pemBytes) }

// MerchantCertificateSerial returns the serial number (upper-case hex)
// of the merchant API certificate (apiclient_cert.pem) after checking, as
// [NewClient] does with [Config.MerchantCertificate], that it is one PEM
// certificate and that signer holds its private key. The serial is the
// serial_no of the Authorization header.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/partner/4025464285
func MerchantCertificateSerial(certPEM []byte, signer crypto.Signer) (string, error) {
	if signer == nil {
		return "", configError("MerchantCertificateSerial needs the private key")
	}
	return checkMerchantCertificate(certPEM, "", signer)
}

// RequestMessage returns the string a request signature covers:
//
//	METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n
//
// uri is the path and query exactly as sent, without scheme and host;
// body the exact bytes sent (empty for a GET). Every line ends in '\n',
// the last included.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012365336
func RequestMessage(method, uri, timestamp, nonce string, body []byte) []byte {
	return appendMessage(make([]byte, 0, len(method)+len(uri)+len(timestamp)+len(nonce)+len(body)+5), method, uri, timestamp, nonce, body)
}

// ErrAuthorizationItem is returned by [SignRequest] when an item of the
// Authorization header has a shape WeChat never uses; the header is not
// built, since a quote or a comma in an item would change its meaning.
var ErrAuthorizationItem = errors.New("apiv3: malformed Authorization item")

// SignRequest returns the Authorization header of a request signed with
// signer (the merchant API private key), for the merchant mchID whose API
// certificate has serial serialNo, at the given timestamp (decimal Unix
// seconds) and nonce: exactly what a [Client] sends, with the time and
// nonce chosen by the caller (to reproduce a published example, or a
// signature WeChat refused). The signature is RSASSA-PKCS1-v1_5 over
// SHA-256 of [RequestMessage], in standard base64.
//
// mchID must be digits, serialNo hex, timestamp 1 to 12 digits and nonce
// 1 to 64 printable ASCII characters other than '"' and ','; otherwise the
// error is [ErrAuthorizationItem]. A failure of signer is returned
// wrapped.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012365336
func SignRequest(signer crypto.Signer, mchID, serialNo, method, uri, timestamp, nonce string, body []byte) (string, error) {
	if signer == nil {
		return "", errors.New("apiv3: SignRequest: nil signer")
	}
	if checkMchID(mchID) != nil || serialNo == "" || len(serialNo) > 64 || !wire.IsHex(serialNo) {
		return "", ErrAuthorizationItem
	}
	if _, ok := parseUnix(timestamp); !ok || !printable(nonce, 64) {
		return "", ErrAuthorizationItem
	}
	for i := 0; i < len(nonce); i++ {
		if nonce[i] == '"' || nonce[i] == ',' {
			return "", ErrAuthorizationItem
		}
	}
	c := &Client{mchID: mchID, serial: serialNo, key: wire.Seal(signer), rand: rand.Reader}
	return c.authorizationAt(method, uri, timestamp, nonce, body)
}

// VerifyMessage proves that body and the headers h come from WeChat, as
// a [Client] checks every answer and notification, with the current time
// taken as now and the public key that Wechatpay-Serial names looked up
// by key. The checks, in order: the four Wechatpay-* headers present
// once each ([ErrMissingSignature]); not a WECHATPAY/SIGNTEST/ probe
// ([ErrSignatureProbe]); Wechatpay-Signature-Type, when present,
// WECHATPAY2-SHA256-RSA2048; the timestamp within [SignatureWindow] of
// now ([ErrTimestamp]); a well-formed nonce and serial; the key found
// (key's error is returned as is; return one matching
// [ErrUnknownSerial]); and the signature over TIMESTAMP\nNONCE\nBODY\n.
// Every failure matches [ErrSignature].
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay4_1.shtml,
// https://pay.weixin.qq.com/doc/v3/merchant/4016241880 (probe signatures)
func VerifyMessage(h http.Header, body []byte, now time.Time, key func(serial string) (*rsa.PublicKey, error)) error {
	if key == nil {
		return errors.New("apiv3: VerifyMessage: nil key lookup")
	}
	c := &Client{now: func() time.Time { return now }}
	return c.verifyWith(context.Background(), h, body, func(_ context.Context, serial string) (*rsa.PublicKey, error) {
		pub, err := key(serial)
		if err == nil && pub == nil {
			err = &verifyError{ErrUnknownSerial, "no key for this serial"}
		}
		return pub, err
	})
}

// UnknownSerial returns an error matching [ErrUnknownSerial] (and
// [ErrSignature]) with why as its detail, for the key lookup of
// [VerifyMessage]. why must not hold key material.
func UnknownSerial(why string) error { return &verifyError{ErrUnknownSerial, why} }

// OpenNotification decodes a notification body and opens its resource
// under the 32-byte APIv3 key, running checks 4 to 6 of
// [Client.ParseNotification] (the hardened decoder, the required fields,
// the algorithm, AES-256-GCM) but not the signature check: call it only
// on a body [VerifyMessage] accepted. A key of another length is refused
// with [ErrDecrypt], as every decryption failure is.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012791861
func OpenNotification(apiV3Key string, body []byte) (*Notification, error) {
	if len(body) > MaxNotificationBytes {
		return nil, ErrNotificationTooLarge
	}
	if len(apiV3Key) != aeadKeySize {
		return nil, ErrDecrypt
	}
	return openNotificationBody(newAPIv3Key(apiV3Key), body)
}
