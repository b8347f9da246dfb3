package miniprogram

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPKCS7Unpad(t *testing.T) {
	t.Parallel()
	block := func(prefix string, pad ...byte) []byte {
		b := append([]byte(prefix), pad...)
		if len(b)%16 != 0 {
			t.Fatalf("test block has length %d", len(b))
		}
		return b
	}
	tests := []struct {
		name  string
		in    []byte
		wantN int
		ok    bool
	}{
		{"pad 1", block("0123456789abcde", 1), 15, true},
		{"pad 2", block("0123456789abcd", 2, 2), 14, true},
		{"pad 16", bytes.Repeat([]byte{16}, 16), 0, true},
		{"pad 16 after data", append([]byte("0123456789abcdef"), bytes.Repeat([]byte{16}, 16)...), 16, true},
		{"pad 15", append([]byte("x"), bytes.Repeat([]byte{15}, 15)...), 1, true},
		{"pad 0", block("0123456789abcde", 0), 0, false},
		{"pad 17", append(bytes.Repeat([]byte{17}, 16), bytes.Repeat([]byte{17}, 16)...), 0, false},
		{"pad 255", bytes.Repeat([]byte{255}, 32), 0, false},
		{"inconsistent pad 2", block("0123456789abcd", 3, 2), 0, false},
		{"inconsistent pad 4", block("0123456789ab", 4, 4, 5, 4), 0, false},
		{"inconsistent pad 16", append([]byte{15}, bytes.Repeat([]byte{16}, 15)...), 0, false},
		{"first pad byte wrong", block("0123456789abc", 2, 3, 3), 0, false},
		{"data byte equal to pad is fine", block("0123456789ab\x03", 3, 3, 3), 13, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if len(tt.in)%16 != 0 {
				t.Fatalf("test input has length %d", len(tt.in))
			}
			n, ok := pkcs7Unpad(tt.in, 16)
			assert.Equal(t, tt.ok, ok)
			if tt.ok {
				assert.Equal(t, tt.wantN, n)
			}
		})
	}
}
