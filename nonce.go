package wxpay

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

const nonceAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NonceLen is the length of the nonces wxpay generates: the maximum v2
// allows for nonce_str, for the most entropy (about 190 bits).
const NonceLen = 32

// NewNonce returns a random nonce_str of [NonceLen] characters from
// [A-Za-z0-9], drawn from crypto/rand. WeChat requires a nonce in every
// request; a guessable one (a timestamp, math/rand) weakens the signature
// against replay.
//
// WeChat Pay docs (signing rules): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3
func NewNonce() (string, error) {
	return newNonce(rand.Reader)
}

// newNonce draws a nonce from r without modulo bias: bytes at or above
// 248 (the largest multiple of 62 below 256) are discarded.
func newNonce(r io.Reader) (string, error) {
	var out [NonceLen]byte
	var buf [64]byte
	n := 0
	for tries := 0; n < NonceLen; tries++ {
		if tries == 16 {
			return "", errors.New("wxpay: random source yields too few usable bytes")
		}
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("wxpay: read random source: %w", err)
		}
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			out[n] = nonceAlphabet[b%62]
			n++
			if n == NonceLen {
				break
			}
		}
	}
	return string(out[:]), nil
}
