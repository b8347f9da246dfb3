//go:build linux

package wxpay

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"io"
	"net/http"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// cpuTime reads a CPU-time clock. Paired benchmarks measure CPU time
// rather than wall time, so that other processes on a shared machine do
// not count against whichever side was running.
func cpuTime(clock uintptr) time.Duration {
	var ts syscall.Timespec
	_, _, _ = syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clock, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// paired runs ours and floor alternately, in short chunks on one locked
// thread, and reports the CPU time of each per call and their ratio
// (ours/floor), the figure the hot paths are held to.
func paired(b *testing.B, ours, floor func()) {
	pairedClock(b, clockThreadCPUTime, ours, floor)
}

const (
	clockProcessCPUTime = 2 // CLOCK_PROCESS_CPUTIME_ID
	clockThreadCPUTime  = 3 // CLOCK_THREAD_CPUTIME_ID
)

// pairedClock is paired with the given clock: the thread's CPU time for
// work done on the calling goroutine, the process's for work spread over
// goroutines (an HTTP round trip), which then includes the test server's
// share, the same for both sides.
func pairedClock(b *testing.B, clock uintptr, ours, floor func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const chunk = 16
	var tOurs, tFloor time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		t0 := cpuTime(clock)
		for i := 0; i < chunk; i++ {
			ours()
		}
		t1 := cpuTime(clock)
		for i := 0; i < chunk; i++ {
			floor()
		}
		t2 := cpuTime(clock)
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
	// The same sign over a field list, as requests are signed: no map to
	// walk, which is most of what Sign adds to the floor above.
	var list []field
	for k, v := range benchOrder {
		list = append(list, field{k, v})
	}
	b.Run("sign-hmac-field-list-reused-state", func(b *testing.B) {
		paired(b, func() {
			var sum [sha256.Size]byte
			var obuf [32]uint64
			sinkString = signString(&sum, hmacs.hash(list, sortOrder(list, obuf[:0]), &sum))
		}, func() {
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

// BenchmarkPairedClient measures the client's full paths against the same
// floors: ParseNotification (decode, verify, merchant check, typed
// mapping) and a UnifiedOrder round trip on loopback.
func BenchmarkPairedClient(b *testing.B) {
	s1 := benchNotifyBody(b)
	c, err := NewClient(Config{AppID: "wxd930ea5d5a258f4f", MchID: "10000100", APIKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("parse-notification/fields=26", func(b *testing.B) {
		paired(b, func() {
			n, err := c.ParseNotification(s1)
			if err != nil {
				b.Fatal(err)
			}
			sinkAny = n
		}, func() { ntSinkSign = ntFloorSign(s1, testKey) })
	})

	srv := benchServer(b)
	rc, err := NewClient(testConfig(), WithBaseURL(srv.URL), WithHTTPClient(srv.Client()))
	if err != nil {
		b.Fatal(err)
	}
	body := signedOrderBody(b, rc)
	hc := srv.Client()
	url := srv.URL + epUnifiedOrder.path
	ctx := context.Background()
	b.Run("unifiedorder-round-trip", func(b *testing.B) {
		pairedClock(b, clockProcessCPUTime, func() {
			resp, err := rc.UnifiedOrder(ctx, validOrder())
			if err != nil {
				b.Fatal(err)
			}
			sinkAny = resp
		}, func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Content-Type", "text/xml; charset=utf-8")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			out, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || len(out) == 0 {
				b.Fatal(err)
			}
		})
	})
}

var sinkAny any
