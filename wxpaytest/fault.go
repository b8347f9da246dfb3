package wxpaytest

import (
	"net/http"
	"sync"
	"time"

	"github.com/wxpay-go/wxpay"
)

// Endpoint names a WeChat endpoint of the fake, by its path: what
// faults are injected into ([Fake.Inject]). Each family of endpoints
// declares its constants beside its handlers (EndpointUnifiedOrder,
// EndpointRefund, EndpointCode2Session, ...). A fault on a sandbox path
// (/sandboxnew/pay/micropay) is injected into the endpoint without the
// prefix.
type Endpoint string

// Always, as the times argument of [Fake.Inject], applies a fault to every
// call until [Fake.ClearFaults].
const Always = -1

// Fault is how an endpoint misbehaves for a call; see [Fake.Inject].
// On an API v3 endpoint, ErrCode is the code of WeChat's error object
// (such as "SYSTEM_ERROR", answered 500, or "FREQUENCY_LIMITED", 429;
// HTTPStatus overrides the status), signed unless Unsigned; ReturnMsg
// and MiniErrCode do nothing there; WrongKey, Unsigned, V3Probe,
// V3UnknownSerial and V3StaleTimestamp bend the signature headers.
// Several fields combine: Delay happens first, then the request is
// processed if Processed (or WrongKey) says so, then the answer is
// replaced as the other fields say. At most one of ErrCode, ReturnMsg,
// MiniErrCode, HTML and Drop should be set.
type Fault struct {
	// ErrCode makes a v2 endpoint answer return_code SUCCESS,
	// result_code FAIL with this err_code (such as
	// wxpay.ErrCodeSystemError), correctly signed. ErrCodeDes is its
	// err_code_des; "" picks WeChat's wording for the documented codes.
	ErrCode    wxpay.ErrorCode
	ErrCodeDes string
	// ReturnMsg makes a v2 endpoint answer return_code FAIL with this
	// return_msg, unsigned, as WeChat does for protocol failures (such as
	// "system error").
	ReturnMsg string
	// MiniErrCode makes a mini-program endpoint answer this errcode (such
	// as -1, system busy, or 45011, rate limited) with MiniErrMsg.
	MiniErrCode int
	MiniErrMsg  string
	// HTML answers an HTML error page with HTTPStatus (502 when 0), as a
	// gateway in front of WeChat does.
	HTML       bool
	HTTPStatus int
	// Delay waits this long before answering. It is wall-clock time, not
	// scaled by Config.Speed: it is meant to outlast a client's timeout.
	// The wait ends early if the client goes away.
	Delay time.Duration
	// Drop closes the connection without answering (the client sees a
	// reset or an EOF).
	Drop bool
	// WrongKey answers as usual, but signs the answer with another key
	// than the merchant's: what a client must refuse. The request is
	// processed.
	WrongKey bool
	// Recall makes reverse answer SUCCESS with recall=Y, as WeChat does
	// when the reversal must be called again: without Processed nothing
	// is reversed; with it the order is reversed all the same.
	Recall bool
	// Unsigned sends the answer without the Wechatpay-* signature
	// headers (API v3): with ErrCode SYSTEM_ERROR, a 5xx from a gateway
	// that did not pass WeChat's signature on; on a 2xx, a forgery a
	// client must refuse. The request is processed.
	Unsigned bool
	// V3Probe marks an API v3 answer's signature as WeChat's signature
	// probes do (the WECHATPAY/SIGNTEST/ prefix), which a client must
	// refuse. The request is processed.
	V3Probe bool
	// V3UnknownSerial names a serial no key has in an API v3 answer's
	// Wechatpay-Serial (the signature is otherwise right). The request
	// is processed.
	V3UnknownSerial bool
	// V3StaleTimestamp dates an API v3 answer's Wechatpay-Timestamp ten
	// minutes back, out of the five-minute window (the signature covers
	// it). The request is processed.
	V3StaleTimestamp bool
	// V3TamperCiphertext, in PayOptions.V3Fault (and refund
	// notifications' faults), alters an API v3 notification's
	// resource.ciphertext before the body is signed: the signature
	// verifies, decryption must fail. It does nothing on an endpoint.
	V3TamperCiphertext bool
	// Processed makes the request take effect (an order is created,
	// closed, refunded, a code used) before the fault replaces the answer, as when
	// WeChat did the work but the answer was lost. Without it the request
	// has no effect.
	Processed bool
}

type faultEntry struct {
	fault Fault
	left  int // calls left; Always = forever
}

// faultBook is the injected faults, by endpoint, under their own lock.
type faultBook struct {
	mu sync.Mutex
	m  map[Endpoint][]*faultEntry
}

func newFaultBook() *faultBook { return &faultBook{m: make(map[Endpoint][]*faultEntry)} }

// Inject makes the next times calls to ep misbehave as fault says:
// times 1 is the next call only, n the next n calls, [Always] every call;
// any other times does nothing. Faults injected earlier for ep are used up
// first.
func (f *Fake) Inject(ep Endpoint, times int, fault Fault) {
	if times == 0 || times < Always {
		return
	}
	f.faults.mu.Lock()
	defer f.faults.mu.Unlock()
	f.faults.m[ep] = append(f.faults.m[ep], &faultEntry{fault: fault, left: times})
}

// FailNext makes the next call to ep answer err_code code (result_code
// FAIL), as WeChat's own SYSTEMERROR does; shorthand for Inject(ep, 1,
// Fault{ErrCode: code}).
func (f *Fake) FailNext(ep Endpoint, code wxpay.ErrorCode) {
	f.Inject(ep, 1, Fault{ErrCode: code})
}

// ClearFaults removes every fault injected into ep.
func (f *Fake) ClearFaults(ep Endpoint) {
	f.faults.mu.Lock()
	defer f.faults.mu.Unlock()
	delete(f.faults.m, ep)
}

// take consumes one use of ep's first pending fault.
func (b *faultBook) take(ep Endpoint) (Fault, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.m[ep]
	if len(q) == 0 {
		return Fault{}, false // the common case: no map write
	}
	for len(q) > 0 && q[0].left == 0 {
		q = q[1:]
	}
	b.m[ep] = q
	if len(q) == 0 {
		return Fault{}, false
	}
	e := q[0]
	if e.left > 0 {
		e.left--
	}
	return e.fault, true
}

// wait sleeps for d of wall time or until the request is abandoned or
// the fake closes.
func (f *Fake) wait(r *http.Request, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	case <-f.ctx.Done():
	}
}

// writeTransportFault answers an HTML page or drops the connection, and
// reports whether it did.
func writeTransportFault(w http.ResponseWriter, fl Fault) bool {
	switch {
	case fl.Drop:
		hj, ok := w.(http.Hijacker)
		if !ok {
			// HTTP/2 cannot hijack; aborting the handler resets the stream.
			panic(http.ErrAbortHandler)
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close()
		}
		return true
	case fl.HTML:
		st := fl.HTTPStatus
		if st == 0 {
			st = http.StatusBadGateway
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(st)
		_, _ = w.Write([]byte("<html><head><title>" + http.StatusText(st) + "</title></head><body><center><h1>" +
			http.StatusText(st) + "</h1></center><hr><center>nginx</center></body></html>\n"))
		return true
	}
	return false
}
