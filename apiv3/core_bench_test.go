//go:build linux

package apiv3

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// threadCPU reads the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID),
// so that other processes on a shared machine do not count against
// whichever side was running.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	_, _, _ = syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// pairRun runs ours and floor alternately in short chunks on one locked
// thread and reports the CPU time of each per call and their ratio
// (ours/floor), as the v2 package's paired benchmarks do.
func pairRun(b *testing.B, ours, floor func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const chunk = 8
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

var (
	sinkErr    error
	sinkString string
)

// BenchmarkPairedCore holds the two RSA hot paths to their standard
// library floors:
//
//   - sign: the Authorization header of V1's request (nonce from
//     crypto/rand, string to sign, SHA-256, RSA, base64, header) against
//     sha256 + rsa.SignPKCS1v15 over the prebuilt message;
//   - verify: an answer (V5's 909-byte body and headers, under the public
//     key) against sha256 + rsa.VerifyPKCS1v15 over the prebuilt message
//     with the signature already decoded.
func BenchmarkPairedCore(b *testing.B) {
	b.Run("sign", func(b *testing.B) {
		c := v1Client(b)
		k := parseKeyPEM(b, loadVec(b, "k-off.pem"))
		body := []byte(v1Body)
		msg := appendMessage(nil, v1Method, v1URI, v1TS, v1Nonce, body)
		pairRun(b, func() {
			sinkString, sinkErr = c.authorization(v1Method, v1URI, body)
		}, func() {
			d := sha256.Sum256(msg)
			sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
			sinkString, sinkErr = string(sig), err
		})
	})
	b.Run("verify", func(b *testing.B) {
		h, body, now := loadNotifyVec(b, "notify-v5.json")
		c, err := NewClient(baseConfig(b), WithClock(func() time.Time { return now }))
		if err != nil {
			b.Fatal(err)
		}
		pub := c.pubKey
		msg := []byte(h.Get(HeaderTimestamp) + "\n" + h.Get(HeaderNonce) + "\n" + string(body) + "\n")
		sig, _ := base64.StdEncoding.DecodeString(h.Get(HeaderSignature))
		ctx := context.Background()
		if err := c.verifySignature(ctx, h, body); err != nil {
			b.Fatal(err)
		}
		pairRun(b, func() {
			sinkErr = c.verifySignature(ctx, h, body)
		}, func() {
			d := sha256.Sum256(msg)
			sinkErr = rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig)
		})
	})
}

// BenchmarkPairedJSON holds the hardened decoder to encoding/json on a
// notification body (V5, 909 bytes): decodeJSON is checkJSON's one pass
// plus json.Unmarshal, so the ratio is the price of the checks.
func BenchmarkPairedJSON(b *testing.B) {
	_, body, _ := loadNotifyVec(b, "notify-v5.json")
	type resource struct {
		Algorithm      string `json:"algorithm"`
		Ciphertext     string `json:"ciphertext"`
		AssociatedData string `json:"associated_data"`
		Nonce          string `json:"nonce"`
	}
	type event struct {
		ID           string   `json:"id"`
		CreateTime   string   `json:"create_time"`
		EventType    string   `json:"event_type"`
		ResourceType string   `json:"resource_type"`
		Summary      string   `json:"summary"`
		Resource     resource `json:"resource"`
	}
	pairRun(b, func() {
		var e event
		sinkErr = decodeJSON(body, &e)
	}, func() {
		var e event
		sinkErr = json.Unmarshal(body, &e)
	})
}

var sinkEnvelope envelope

// BenchmarkPairedEnvelope holds the one-pass decoder of a notification's
// outer JSON (decodeEnvelope: every check of decodeJSON, fields taken
// during the scan) to json.Unmarshal alone into notificationBody, which
// checks nothing, on V5's 909-byte body.
func BenchmarkPairedEnvelope(b *testing.B) {
	_, body, _ := loadNotifyVec(b, "notify-v5.json")
	if _, err := decodeEnvelope(body); err != nil {
		b.Fatal(err)
	}
	pairRun(b, func() {
		sinkEnvelope, sinkErr = decodeEnvelope(body)
	}, func() {
		var nb notificationBody
		sinkErr = json.Unmarshal(body, &nb)
	})
}
