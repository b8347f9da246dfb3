package wxpay

import (
	"crypto/rand"
	"io"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// NonceLen is the length of the nonces wxpay generates: the maximum v2
// allows for nonce_str, for the most entropy (about 190 bits).
const NonceLen = wire.NonceLen

const nonceAlphabet = wire.NonceAlphabet

// NewNonce returns a random nonce_str of [NonceLen] characters from
// [A-Za-z0-9], drawn from crypto/rand. WeChat requires a nonce in every
// request; a guessable one (a timestamp, math/rand) weakens the signature
// against replay.
//
// WeChat Pay docs (signing rules): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3
func NewNonce() (string, error) {
	return newNonce(rand.Reader)
}

// newNonce draws a nonce from r without modulo bias (see [wire.Nonce],
// shared with apiv3).
func newNonce(r io.Reader) (string, error) {
	n, err := wire.Nonce(r)
	if err != nil {
		return "", wire.Errorf("wxpay: ", "%w", err)
	}
	return n, nil
}
