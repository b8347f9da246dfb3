package apiv3

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"strconv"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// AuthScheme is the scheme of the Authorization header of every v3
// request: RSA-SHA256 with the merchant API private key.
const AuthScheme = "WECHATPAY2-SHA256-RSA2048"

// appendMessage appends the string to sign of a request to dst:
//
//	METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n
//
// Every line ends in '\n', the last included; a request without a body
// has an empty fifth line. uri is the path and query exactly as sent
// (no scheme or host), body the exact bytes sent.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012365336
func appendMessage(dst []byte, method, uri, timestamp, nonce string, body []byte) []byte {
	dst = append(dst, method...)
	dst = append(dst, '\n')
	dst = append(dst, uri...)
	dst = append(dst, '\n')
	dst = append(dst, timestamp...)
	dst = append(dst, '\n')
	dst = append(dst, nonce...)
	dst = append(dst, '\n')
	dst = append(dst, body...)
	return append(dst, '\n')
}

// signMessage signs msg with the merchant API private key: SHA-256,
// RSASSA-PKCS1-v1_5, standard padded base64. PKCS #1 v1.5 is
// deterministic, so the published examples reproduce byte for byte.
func (c *Client) signMessage(msg []byte) (string, error) {
	d := sha256.Sum256(msg)
	// An *rsa.PrivateKey ignores the reader for PKCS #1 v1.5; an HSM
	// or KMS signer may use it.
	sig, err := (*c.key.Open()).Sign(c.rand, d[:], crypto.SHA256)
	if err != nil {
		// The signer's own error may describe the key (a KMS key name);
		// it is kept for errors.Is but is the signer's, not ours.
		return "", &signError{err}
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// signError wraps a failure of the merchant's signer.
type signError struct{ err error }

func (e *signError) Error() string { return "apiv3: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *signError) Text() string  { return "signing the request failed: " + wire.Text(e.err) }
func (e *signError) Unwrap() error { return e.err }

// authorization returns the Authorization header of a request, and the
// timestamp and nonce it signed:
//
//	WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"
//
// The items are in the order of WeChat's published example (WeChat reads
// them in any order); their values are digits, hex, [A-Za-z0-9] and
// base64, so none can hold a quote or a comma.
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/partner/development/verify-signature-faq/http-header-authorization-error.html
func (c *Client) authorization(method, uri string, body []byte) (string, error) {
	nonce, err := wire.Nonce(c.rand)
	if err != nil {
		return "", &signError{err}
	}
	ts := strconv.FormatInt(c.now().Unix(), 10)
	return c.authorizationAt(method, uri, ts, nonce, body)
}

// authorizationAt is authorization with the timestamp and nonce given,
// for the published vectors.
func (c *Client) authorizationAt(method, uri, ts, nonce string, body []byte) (string, error) {
	var stack [512]byte
	msg := appendMessage(stack[:0], method, uri, ts, nonce, body)
	sig, err := c.signMessage(msg)
	if err != nil {
		return "", err
	}
	return formatAuthorization(c.mchID, nonce, sig, ts, c.serial), nil
}

// formatAuthorization assembles the header from its items.
func formatAuthorization(mchID, nonce, sig, ts, serial string) string {
	b := make([]byte, 0, len(AuthScheme)+80+len(mchID)+len(nonce)+len(sig)+len(ts)+len(serial))
	b = append(b, AuthScheme...)
	b = append(b, ` mchid="`...)
	b = append(b, mchID...)
	b = append(b, `",nonce_str="`...)
	b = append(b, nonce...)
	b = append(b, `",signature="`...)
	b = append(b, sig...)
	b = append(b, `",timestamp="`...)
	b = append(b, ts...)
	b = append(b, `",serial_no="`...)
	b = append(b, serial...)
	b = append(b, '"')
	return string(b)
}
