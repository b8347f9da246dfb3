package wire

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// Digits and Alnum are the alphabets the module draws random strings from.
const (
	Digits = "0123456789"
	Alnum  = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// RandString draws n characters uniformly from alphabet (1 to 256
// characters) out of r, without modulo bias: bytes at or above the largest
// multiple of len(alphabet) not above 256 are discarded. It is the one
// random-string generator of the module ([Nonce], the CLI's generated ids
// and keys, wxpaytest's ids replace their own generators with it). Errors
// carry no package prefix.
func RandString(r io.Reader, alphabet string, n int) (string, error) {
	if len(alphabet) == 0 || len(alphabet) > 256 || n < 0 {
		return "", errors.New("bad random string request")
	}
	limit := 256 - 256%len(alphabet)
	var small, buf [64]byte
	out := small[:0] // a nonce's characters stay on the stack
	if n > len(small) {
		out = make([]byte, 0, n)
	}
	for tries := 0; len(out) < n; tries++ {
		// Each byte is usable with probability above 1/2, so 16 rounds per
		// 64 characters asked for only fail for a broken source.
		if tries == 16*(n/64+1) {
			return "", errors.New("random source yields too few usable bytes")
		}
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("read random source: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit {
				out = append(out, alphabet[int(b)%len(alphabet)])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out), nil
}

// MustRandString is [RandString] from crypto/rand, for test servers and
// tools: crypto/rand does not fail on supported platforms (Go 1.22 and
// later crash the program rather than return an error), so a failure
// here is a broken platform and panics.
func MustRandString(alphabet string, n int) string {
	s, err := RandString(rand.Reader, alphabet, n)
	if err != nil {
		panic("wire: " + err.Error())
	}
	return s
}
