package apiv3

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" // WeChat's OAEP uses SHA-1 (and MGF1-SHA-1); not a signature, so SHA-1's collisions do not matter here
	"encoding/base64"
	"strconv"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// Sensitive-field failures.
var (
	// ErrSensitiveDecrypt means a sensitive field could not be decrypted
	// with the merchant private key. Every cause (not base64, wrong
	// length, wrong key, corrupted ciphertext) gives this one error, so
	// that the answer reveals nothing an attacker could use as a padding
	// oracle.
	ErrSensitiveDecrypt = wire.NewError("apiv3: ", "cannot decrypt sensitive field")
	// ErrNoDecryptionKey means the merchant key was given as a
	// crypto.Signer that does not also implement crypto.Decrypter (for
	// example a KMS key allowed to sign only), so sensitive fields
	// WeChat encrypted to the merchant cannot be opened here. Give
	// Config a Signer that implements crypto.Decrypter with
	// rsa.OAEPOptions, or decrypt in the key's own service.
	ErrNoDecryptionKey = wire.NewError("apiv3: ", "the merchant key cannot decrypt (its crypto.Signer is not a crypto.Decrypter)")
)

// SensitiveTooLongError reports a plaintext longer than RSA-OAEP (SHA-1)
// can encrypt under WeChat's key: 214 bytes for a 2048-bit key. It names
// the position and length, never the text.
type SensitiveTooLongError struct {
	Index int // position of the field in the call's arguments
	Len   int // its length in bytes
	Max   int // the most the key can encrypt
}

// Error says which plaintext is too long and the most the key can encrypt.
func (e *SensitiveTooLongError) Error() string { return "apiv3: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *SensitiveTooLongError) Text() string {
	return "sensitive field " + strconv.Itoa(e.Index) + " is " + strconv.Itoa(e.Len) +
		" bytes, more than the " + strconv.Itoa(e.Max) + " RSA-OAEP can encrypt under WeChat's key"
}

// EncryptSensitive encrypts the sensitive fields of one request (names,
// ID numbers, phone numbers, bank accounts) for WeChat, as its API
// requires: RSAES-OAEP with SHA-1 and MGF1-SHA-1 under WeChat's key,
// base64 (standard, padded). Every field is encrypted under the same key,
// whose serial is returned: the request carrying the ciphertexts must
// send it in the Wechatpay-Serial header, or WeChat refuses it.
//
// The key is the WeChat Pay public key when one is configured, otherwise
// the newest valid platform certificate (which may be downloaded first,
// hence ctx). Encryption is randomised: the same text gives a different
// ciphertext every time.
//
// WeChat Pay docs: https://pay.wechatpay.cn/doc/v3/partner/4013059053
func (c *Client) EncryptSensitive(ctx context.Context, plaintexts ...string) (serial string, ciphertexts []string, err error) {
	serial, pub, err := c.encryptionKey(ctx)
	if err != nil {
		return "", nil, err
	}
	max := pub.Size() - 2*sha1.Size - 2
	out := make([]string, len(plaintexts))
	for i, p := range plaintexts {
		if len(p) > max {
			return "", nil, &SensitiveTooLongError{Index: i, Len: len(p), Max: max}
		}
		ct, err := rsa.EncryptOAEP(sha1.New(), c.rand, pub, []byte(p), nil)
		if err != nil {
			// The length was checked; what is left is a broken key or
			// entropy source. Say which step failed, never the text.
			return "", nil, wire.NewError("apiv3: ", "RSA-OAEP encryption failed: "+err.Error())
		}
		out[i] = base64.StdEncoding.EncodeToString(ct)
	}
	return serial, out, nil
}

// DecryptSensitive decrypts a sensitive field WeChat encrypted to the
// merchant (RSAES-OAEP, SHA-1, base64) with the merchant API private key.
// Any failure is [ErrSensitiveDecrypt]; a key given as a crypto.Signer
// that cannot decrypt gives [ErrNoDecryptionKey].
//
// The result is personal data: do not log it.
//
// WeChat Pay docs: https://pay.wechatpay.cn/doc/v3/partner/4013059053
func (c *Client) DecryptSensitive(ciphertext string) (string, error) {
	d, ok := (*c.key.Open()).(crypto.Decrypter)
	if !ok {
		return "", ErrNoDecryptionKey
	}
	pub, ok := d.Public().(*rsa.PublicKey)
	if !ok {
		return "", ErrNoDecryptionKey
	}
	// Decoded length of an RSA ciphertext is exactly the modulus size;
	// refuse anything longer before decoding, so hostile input is bounded.
	if base64.StdEncoding.DecodedLen(len(ciphertext)) > pub.Size()+2 {
		return "", ErrSensitiveDecrypt
	}
	ct, err := base64.StdEncoding.Strict().DecodeString(ciphertext)
	if err != nil || len(ct) != pub.Size() {
		return "", ErrSensitiveDecrypt
	}
	pt, err := d.Decrypt(c.rand, ct, &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1})
	if err != nil {
		return "", ErrSensitiveDecrypt
	}
	return string(pt), nil
}
