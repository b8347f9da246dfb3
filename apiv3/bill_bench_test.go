//go:build linux

package apiv3

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"io"
	"strconv"
	"testing"
)

// BenchmarkBillStream pairs the checked bill stream (caps, gunzip, SHA-1
// as it streams, the hash compared at EOF) with a standard-library floor
// doing the same gunzip and SHA-1 over the same 4 MiB bill, in memory so
// that only the reading is measured.
func BenchmarkBillStream(b *testing.B) {
	var plain bytes.Buffer
	plain.WriteString("交易时间,公众账号ID,商户号,商户订单号,交易状态,应结订单金额\r\n")
	for i := 0; plain.Len() < 4<<20; i++ {
		plain.WriteString("`2026-03-03 10:20:30,`wx2421b1c4370ec43b,`1230000109,`T" + strconv.Itoa(i) + ",`SUCCESS,`1.00\r\n")
	}
	sum := sha1.Sum(plain.Bytes())
	z := gzipBytes(b, plain.Bytes())
	buf := make([]byte, 32<<10)
	ours := func() {
		s, err := newBillStream(io.NopCloser(bytes.NewReader(z)), true, sum[:])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, s, buf); err != nil {
			b.Fatal(err)
		}
	}
	floor := func() {
		zr, err := gzip.NewReader(bytes.NewReader(z))
		if err != nil {
			b.Fatal(err)
		}
		h := sha1.New()
		if _, err := io.CopyBuffer(h, zr, buf); err != nil {
			b.Fatal(err)
		}
		if !bytes.Equal(h.Sum(nil), sum[:]) {
			b.Fatal("hash")
		}
	}
	b.SetBytes(int64(plain.Len()))
	pairRun(b, ours, floor)
}
