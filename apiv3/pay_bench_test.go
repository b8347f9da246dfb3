//go:build linux

package apiv3

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

const (
	payClockProcess = 2 // CLOCK_PROCESS_CPUTIME_ID: work spread over goroutines (a round trip)
	payClockThread  = 3 // CLOCK_THREAD_CPUTIME_ID: work on the calling goroutine
)

func payCPU(clock uintptr) time.Duration {
	var ts syscall.Timespec
	_, _, _ = syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clock, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// pairedSides runs each side in turn in short chunks on one locked
// thread and reports each side's CPU time per call under clock, and the
// ratio of the first side (ours) to each other. With the process clock a
// round trip's server share is counted too, the same for every side, as
// the v2 client's paired round-trip benchmark does.
func pairedSides(b *testing.B, clock uintptr, names []string, sides ...func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const chunk = 8
	total := make([]time.Duration, len(sides))
	b.ResetTimer()
	// Each round starts with the next side, so that no side always
	// follows the same one (a side after one that left the connection
	// idle pays for waking it, for instance).
	for done, round := 0, 0; done < b.N; done, round = done+chunk, round+1 {
		for j := range sides {
			s := (round + j) % len(sides)
			t0 := payCPU(clock)
			for i := 0; i < chunk; i++ {
				sides[s]()
			}
			total[s] += payCPU(clock) - t0
		}
	}
	b.StopTimer()
	n := float64((b.N + chunk - 1) / chunk * chunk)
	for s := range sides {
		b.ReportMetric(float64(total[s].Nanoseconds())/n, names[s]+"-cpu-ns/op")
		if s > 0 {
			b.ReportMetric(float64(total[0])/float64(total[s]), names[0]+"/"+names[s])
		}
	}
}

// prepayBenchServer answers every request on loopback with one prebuilt
// answer signed with the WeChat Pay public key's private half at start
// (time.Now, so that the clients' five-minute window holds).
func prepayBenchServer(b *testing.B) (srv *httptest.Server, answer []byte, h http.Header) {
	answer = []byte(`{"prepay_id":"` + v1PrepayID + `"}`)
	h = signedHeaders(b, fakeKey{fakePubKeyID, parseKeyPEM(b, loadVec(b, "k-off.pem"))}, time.Now(), answer)
	h.Set("Content-Type", "application/json")
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		for k, v := range h {
			w.Header()[k] = v
		}
		_, _ = w.Write(answer)
	}))
	b.Cleanup(srv.Close)
	return srv, answer, h
}

var sinkPay any

// BenchmarkPairedPrepay is a JSAPI prepay round trip on loopback (whole
// process CPU), three ways interleaved:
//
//   - ours: PrepayJSAPI (validate, encode, sign, POST, bounded read,
//     verify the answer's signature, hardened decode);
//   - floor: what any v3 client must do for the same exchange with the
//     standard library: rsa.SignPKCS1v15 over the prebuilt string to
//     sign, the same headers, the prebuilt body POSTed with net/http,
//     the answer read, rsa.VerifyPKCS1v15 over its prebuilt message and
//     json.Unmarshal; held to 1.2;
//   - transport: the prebuilt signed request POSTed and the answer read,
//     nothing else: the HTTP cost alone, for scale (RSA signing
//     dominates a v3 call, so no client can come near it).
func BenchmarkPairedPrepay(b *testing.B) {
	srv, answer, ah := prepayBenchServer(b)
	cfg := baseConfig(b)
	cfg.AppID, cfg.NotifyURL = v1AppID, v1NotifyURL
	c, err := NewClient(cfg, WithBaseURL(srv.URL), WithHTTPClient(srv.Client()))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := v1Request()
	body, err := encodeJSON(must2(c.prepayBody(epPrepayJSAPI, &req)))
	if err != nil {
		b.Fatal(err)
	}
	key := parseKeyPEM(b, loadVec(b, "k-wj.pem"))
	wxPub := &parseKeyPEM(b, loadVec(b, "k-off.pem")).PublicKey
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	msg := appendMessage(nil, "POST", "/v3/pay/transactions/jsapi", ts, v1Nonce, body)
	auth, err := c.authorizationAt("POST", "/v3/pay/transactions/jsapi", ts, v1Nonce, body)
	if err != nil {
		b.Fatal(err)
	}
	answerMsg := []byte(ah.Get(HeaderTimestamp) + "\n" + ah.Get(HeaderNonce) + "\n" + string(answer) + "\n")
	answerSig, _ := base64.StdEncoding.DecodeString(ah.Get(HeaderSignature))
	url := srv.URL + "/v3/pay/transactions/jsapi"
	hc := srv.Client()
	post := func(authorization string) []byte {
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		r.Header["Authorization"] = []string{authorization}
		r.Header["Accept"] = []string{"application/json"}
		r.Header["Content-Type"] = []string{"application/json"}
		r.Header["User-Agent"] = []string{c.userAgent}
		r.Header[HeaderSerial] = []string{fakePubKeyID}
		resp, err := hc.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(out) == 0 {
			b.Fatal(err)
		}
		return out
	}
	pairedSides(b, payClockProcess, []string{"ours", "floor", "transport"}, func() {
		resp, err := c.PrepayJSAPI(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		sinkPay = resp
	}, func() {
		d := sha256.Sum256(msg)
		sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
		if err != nil {
			b.Fatal(err)
		}
		out := post(formatAuthorization(fakeMchID, v1Nonce, base64.StdEncoding.EncodeToString(sig), ts, fakeMchSerial))
		ad := sha256.Sum256(answerMsg)
		if err := rsa.VerifyPKCS1v15(wxPub, crypto.SHA256, ad[:], answerSig); err != nil {
			b.Fatal(err)
		}
		var pr PrepayResponse
		if err := json.Unmarshal(out, &pr); err != nil {
			b.Fatal(err)
		}
		sinkPay = pr
	}, func() {
		sinkPay = post(auth)
	})
}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// discardWriter is the cheapest http.ResponseWriter, reused.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }

// BenchmarkPairedPayNotify handles one payment notification (V5's
// plaintext, sealed and signed here) through NotifyHandler — read,
// verify, decrypt, decode the transaction, check it, call fn, answer —
// against the heart's floor: rsa.VerifyPKCS1v15 + gcm.Open with a
// prebuilt AEAD + json.Unmarshal of the envelope and of the transaction
// into structs. Thread CPU.
func BenchmarkPairedPayNotify(b *testing.B) {
	wx := newWechat(b)
	c := newPayNotifyClient(b, &testClock{t: testNow})
	body := payNotificationBody(b, "TRANSACTION.SUCCESS", "encrypt-resource", "transaction", v5Plaintext)
	h := wx.headers(b, testNow, body)
	var got *PaymentNotification
	handler := c.NotifyHandler(func(_ context.Context, n *PaymentNotification) error { got = n; return nil })
	w := &discardWriter{h: http.Header{}}
	ctx := context.Background()
	req := func() *http.Request {
		return (&http.Request{Method: http.MethodPost, Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}).WithContext(ctx)
	}
	handler.ServeHTTP(w, req())
	if w.status != http.StatusNoContent || got == nil {
		b.Fatalf("handler answered %d", w.status)
	}
	blk, _ := aes.NewCipher([]byte(v5APIv3Key))
	gcm, _ := cipher.NewGCM(blk)
	pub := &wx.key.PublicKey
	type floorTx struct {
		MchID         string `json:"mchid"`
		AppID         string `json:"appid"`
		OutTradeNo    string `json:"out_trade_no"`
		TransactionID string `json:"transaction_id"`
		TradeState    string `json:"trade_state"`
		SuccessTime   string `json:"success_time"`
		Payer         struct {
			OpenID string `json:"openid"`
		} `json:"payer"`
		Amount struct {
			Total      int64 `json:"total"`
			PayerTotal int64 `json:"payer_total"`
		} `json:"amount"`
	}
	pairedSides(b, payClockThread, []string{"ours", "floor"}, func() {
		w.status = 0
		handler.ServeHTTP(w, req())
		if w.status != http.StatusNoContent {
			b.Fatal(w.status)
		}
	}, func() {
		bb, _ := io.ReadAll(req().Body)
		msg := make([]byte, 0, len(bb)+64)
		msg = append(append(append(append(append(msg, h.Get(HeaderTimestamp)...), '\n'), h.Get(HeaderNonce)...), '\n'), bb...)
		msg = append(msg, '\n')
		sig, _ := base64.StdEncoding.DecodeString(h.Get(HeaderSignature))
		d := sha256.Sum256(msg)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
			b.Fatal(err)
		}
		var ev notificationBody
		if err := json.Unmarshal(bb, &ev); err != nil {
			b.Fatal(err)
		}
		ct, _ := base64.StdEncoding.DecodeString(ev.Resource.Ciphertext)
		pt, err := gcm.Open(ct[:0], []byte(ev.Resource.Nonce), ct, []byte(ev.Resource.AssociatedData))
		if err != nil {
			b.Fatal(err)
		}
		var tx floorTx
		if err := json.Unmarshal(pt, &tx); err != nil {
			b.Fatal(err)
		}
		sinkPay = tx
	})
}
