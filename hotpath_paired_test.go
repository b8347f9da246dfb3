//go:build linux

package wxpay

import (
	"crypto/hmac"
	"crypto/sha256"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// threadCPU is the CPU time the calling OS thread has used. Paired
// benchmarks measure it rather than wall time, so that other processes on
// a shared machine do not count against whichever side was running.
func threadCPU() time.Duration {
	const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID
	var ts syscall.Timespec
	_, _, _ = syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// paired runs ours and floor alternately, in short chunks on one locked
// thread, and reports the CPU time of each per call and their ratio
// (ours/floor), the figure the hot paths are held to.
func paired(b *testing.B, ours, floor func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const chunk = 16
	var tOurs, tFloor time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		t0 := threadCPU()
		for i := 0; i < chunk; i++ {
			ours()
		}
		t1 := threadCPU()
		for i := 0; i < chunk; i++ {
			floor()
		}
		t2 := threadCPU()
		tOurs += t1 - t0
		tFloor += t2 - t1
	}
	n := float64((b.N + chunk - 1) / chunk * chunk)
	b.ReportMetric(float64(tOurs.Nanoseconds())/n, "ours-cpu-ns/op")
	b.ReportMetric(float64(tFloor.Nanoseconds())/n, "floor-cpu-ns/op")
	b.ReportMetric(float64(tOurs)/float64(tFloor), "ours/floor")
}

// BenchmarkPaired measures each hot path against its standard-library
// floor in the same process, interleaved; see paired. The floors are
// those of the unpaired benchmarks beside them.
func BenchmarkPaired(b *testing.B) {
	md5s := mustSigner(b, testKey, SignMD5)
	hmacs := mustSigner(b, testKey, SignHMACSHA256)
	canon := []byte(canonical(benchOrder, testKey))

	b.Run("sign-md5", func(b *testing.B) {
		paired(b, func() { sinkString = md5s.Sign(benchOrder) }, func() {
			sinkString = md5Upper(string(canon))
		})
	})
	b.Run("sign-hmac", func(b *testing.B) {
		paired(b, func() { sinkString = hmacs.Sign(benchOrder) }, func() {
			sinkString = hmacUpper(testKey, string(canon))
		})
	})
	// The strictest HMAC floor: one keyed state, reset between messages,
	// over the prebuilt canonical string.
	mac := hmac.New(sha256.New, []byte(testKey))
	b.Run("sign-hmac-reused-state", func(b *testing.B) {
		paired(b, func() { sinkString = hmacs.Sign(benchOrder) }, func() {
			mac.Reset()
			mac.Write(canon)
			var sum [sha256.Size]byte
			var out [2 * sha256.Size]byte
			upperHex(out[:], mac.Sum(sum[:0]))
			sinkString = string(out[:])
		})
	})
	s1 := benchNotifyBody(b)
	b.Run("decode-verify/fields=26", func(b *testing.B) {
		paired(b, func() { sinkParams, sinkErr, _ = md5s.decodeVerify(s1) }, func() {
			ntSinkSign = ntFloorSign(s1, testKey)
		})
	})
	for _, n := range fieldCounts {
		p := couponMessage(b, n)
		body, err := EncodeXML(p)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("decode-verify/"+benchName(n), func(b *testing.B) {
			paired(b, func() { sinkParams, sinkErr, _ = md5s.decodeVerify(body) }, func() {
				ntSinkSign = ntFloorSign(body, testKey)
			})
		})
		b.Run("sign/"+benchName(n), func(b *testing.B) {
			paired(b, func() { sinkString = md5s.Sign(p) }, func() {
				sinkString = md5Upper(canonical(p, testKey))
			})
		})
	}
	fs := benchRequest()
	p := Params{}
	for _, f := range fs {
		p[f.k] = f.v
	}
	b.Run("encode-signed", func(b *testing.B) {
		paired(b, func() { sinkBytes, _ = md5s.encodeSigned(fs) }, func() {
			sinkBytes = encodeFloor(p, testKey)
		})
	})
}
