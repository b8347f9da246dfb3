package wire

import (
	"bytes"
	"testing"
)

// BenchmarkUnpadPKCS7 sits beside its floor, the plain early-exit check
// refUnpad: the constant-time version reads the whole final block every
// time.
func BenchmarkUnpadPKCS7(b *testing.B) {
	msg := append(bytes.Repeat([]byte{'a'}, 400), bytes.Repeat([]byte{16}, 16)...)
	b.Run("constant-time", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, ok := UnpadPKCS7(msg, 16); !ok {
				b.Fatal("bad padding")
			}
		}
	})
	b.Run("floor=plain", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, ok := refUnpad(msg, 16); !ok {
				b.Fatal("bad padding")
			}
		}
	})
}
