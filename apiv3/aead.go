package apiv3

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// ErrDecrypt reports that an AEAD_AES_256_GCM resource (a notification's
// resource or a platform certificate's encrypt_certificate) could not be
// opened under the APIv3 key.
//
// Every cause gives this one error value and nothing else: a wrong or
// truncated key, a bad nonce, ciphertext that is not base64, a ciphertext
// shorter than the tag, and an authentication failure (tampered ciphertext,
// tag, nonce or associated_data) are indistinguishable to the caller, so an
// attacker probing a notification endpoint learns nothing but "no". When it
// appears for genuine WeChat traffic, check that Config holds the 32-byte
// APIv3 key set in the merchant platform (账户中心 → API安全 → APIv3密钥),
// not the v2 API key.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3_partner/wechatpay/wechatpay4_2.shtml
var ErrDecrypt = wire.NewError("apiv3: ", "cannot decrypt resource (wrong APIv3 key or tampered data)")

const (
	// aeadKeySize is the APIv3 key length. WeChat's key is 32 bytes and the
	// algorithm is named AEAD_AES_256_GCM; a 16- or 24-byte key would
	// silently select AES-128/192 in crypto/aes, so it is refused here.
	aeadKeySize = 32
	// aeadNonceSize is the length of WeChat's nonce (12 printable bytes,
	// used as the raw GCM nonce, not base64-decoded).
	aeadNonceSize = 12
	// aeadTagSize is GCM's 16-byte tag, appended to the ciphertext.
	aeadTagSize = 16
	// maxAEADCiphertext bounds the base64 text accepted, so a hostile
	// resource cannot make us allocate more than the notification or
	// certificate body already holds. 1 MiB is far above any real resource.
	maxAEADCiphertext = 1 << 20
)

// strictBase64 is standard, padded base64 refusing non-zero padding
// bits, so that one ciphertext has exactly one spelling. It is built once:
// Encoding.Strict returns a fresh copy of the encoding on every call.
var strictBase64 = base64.StdEncoding.Strict()

// newAEAD returns AES-256-GCM under key with WeChat's parameters (12-byte
// nonce, 16-byte tag), or nil when key is not 32 bytes. The APIv3 key is
// fixed for a Client's life, so the Client builds this once (see
// apiV3Key) rather than expanding the key for every notification; a
// cipher.AEAD is safe for concurrent use.
func newAEAD(key []byte) cipher.AEAD {
	if len(key) != aeadKeySize {
		return nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil
	}
	return gcm
}

// openAEAD opens a WeChat AEAD_AES_256_GCM resource: AES-256-GCM under the
// 32-byte APIv3 key, the 12-byte nonce and associated_data used as given
// (as bytes of the strings), and ciphertextB64 the standard, padded base64
// of ciphertext‖tag. Every failure returns ErrDecrypt and nothing else.
// A Client opens with its prebuilt AEAD instead (apiV3Key.open).
func openAEAD(key []byte, nonce, associatedData, ciphertextB64 string) ([]byte, error) {
	if len(ciphertextB64) > maxAEADCiphertext {
		return nil, ErrDecrypt
	}
	return openWith(newAEAD(key), []byte(nonce), []byte(associatedData), []byte(ciphertextB64))
}

// open is openAEAD under the client's APIv3 key, with the AEAD built once
// at construction. nonce, associatedData and ciphertextB64 are only read.
func (k apiV3Key) open(nonce, associatedData, ciphertextB64 []byte) ([]byte, error) {
	var gcm cipher.AEAD
	if k.aead != nil {
		gcm = *k.aead.Open()
	}
	return openWith(gcm, nonce, associatedData, ciphertextB64)
}

// openWith is openAEAD's work under a prebuilt AEAD (nil: no valid key).
func openWith(gcm cipher.AEAD, nonce, associatedData, ciphertextB64 []byte) ([]byte, error) {
	if gcm == nil || len(nonce) != aeadNonceSize || len(ciphertextB64) > maxAEADCiphertext {
		return nil, ErrDecrypt
	}
	// One allocation: the base64 is decoded straight from the bytes it
	// arrived in, and the plaintext reuses the decoded buffer.
	ct := make([]byte, strictBase64.DecodedLen(len(ciphertextB64)))
	n, err := strictBase64.Decode(ct, ciphertextB64)
	if err != nil || n < aeadTagSize {
		return nil, ErrDecrypt
	}
	ct = ct[:n]
	pt, err := gcm.Open(ct[:0], nonce, ct, associatedData)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
