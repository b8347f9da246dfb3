package apiv3

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// recordingFake is the signed fake of fake_test.go, with two additions
// the refund and bill tests need: it records each request as it arrived
// (method, request URI, exact body, headers), so that golden requests are
// checked against literals written in the tests, and it can answer a
// path with raw, unsigned bytes written as they are (a bill file, as
// WeChat serves it), after checking the request's signature as WeChat
// does.
type recordingFake struct {
	*fakeWeChat

	mu   sync.Mutex
	reqs []recorded
	raw  map[string][]byte // path → unsigned 200 answer
}

type recorded struct {
	method, uri string
	body        []byte
	header      http.Header
}

func newRecordingFake(t testing.TB, now func() time.Time) *recordingFake {
	t.Helper()
	f := &fakeWeChat{
		t:      t,
		mch:    &parseKeyPEM(t, loadVec(t, "k-wj.pem")).PublicKey,
		now:    now,
		routes: map[string]func(*http.Request) (int, string){},
	}
	f.signer = fakeKey{fakePubKeyID, parseKeyPEM(t, loadVec(t, "k-off.pem"))}
	rf := &recordingFake{fakeWeChat: f, raw: map[string][]byte{}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(rf.serveRecorded))
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return rf
}

func (rf *recordingFake) serveRecorded(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rf.mu.Lock()
	rf.reqs = append(rf.reqs, recorded{r.Method, r.URL.RequestURI(), body, r.Header.Clone()})
	raw, isRaw := rf.raw[r.URL.Path]
	rf.mu.Unlock()
	if isRaw && r.Method == http.MethodGet {
		rf.requests.Add(1)
		if !rf.checkAuth(r, body) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"code":"SIGN_ERROR","message":"错误的签名,验签失败"}`)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(raw)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rf.serve(w, r)
}

// setRaw makes GET path answer 200 with b, unsigned.
func (rf *recordingFake) setRaw(path string, b []byte) {
	rf.mu.Lock()
	rf.raw[path] = b
	rf.mu.Unlock()
}

// recorded returns the requests received so far.
func (rf *recordingFake) recorded() []recorded {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	return append([]recorded(nil), rf.reqs...)
}

// last returns the last request received; it fails the test if there
// was none.
func (rf *recordingFake) last(t testing.TB) recorded {
	t.Helper()
	rs := rf.recorded()
	if len(rs) == 0 {
		t.Fatal("no request reached the fake")
	}
	return rs[len(rs)-1]
}

// rfClient is a client of the merchant of baseConfig talking to rf at a
// fixed clock.
func rfClient(t testing.TB, rf *recordingFake, clock *fakeClock, opts ...Option) *Client {
	t.Helper()
	return clientFor(t, rf.fakeWeChat, baseConfig(t), clock, opts...)
}

// fixedNow is the clock of the refund and bill tests.
var fixedNow = time.Date(2026, 3, 4, 10, 20, 30, 0, time.UTC)
