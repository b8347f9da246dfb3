package wire

import "io"

// NonceAlphabet is the characters [Nonce] draws from.
const NonceAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NonceLen is the length of the nonces [Nonce] draws: the maximum v2
// allows for nonce_str and what WeChat's own v3 SDK sends, about 190 bits.
const NonceLen = 32

// Nonce draws a nonce of [NonceLen] characters from [A-Za-z0-9] out of r
// without modulo bias: bytes at or above 248 (the largest multiple of 62
// below 256) are discarded. Errors carry no package prefix.
func Nonce(r io.Reader) (string, error) { return RandString(r, NonceAlphabet, NonceLen) }
