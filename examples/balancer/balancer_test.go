package balancer_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wxpay-go/wxpay/examples/balancer"
)

// backend answers with its name and the path it saw, and acknowledges
// notifications.
func backend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Backend", name)
		if r.URL.Path == balancer.NotifyPath {
			io.WriteString(w, "<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>")
			return
		}
		io.WriteString(w, name+" "+r.Method+" "+r.URL.RequestURI()+" "+string(b))
	}))
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRoundRobinAndRemove(t *testing.T) {
	a, b := backend(t, "a"), backend(t, "b")
	fake := backend(t, "fake")
	lb, err := balancer.New(fake.URL, a.URL, b.URL)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(lb)
	defer s.Close()
	seen := map[string]int{}
	for range 10 {
		_, body := get(t, s.URL+"/shops?page=2")
		name, rest, _ := strings.Cut(body, " ")
		if rest != "GET /shops?page=2 " {
			t.Fatalf("forwarded as %q", rest)
		}
		seen[name]++
	}
	if seen["a"] != 5 || seen["b"] != 5 {
		t.Errorf("spread %v, want 5 and 5", seen)
	}
	if _, body := get(t, s.URL+"/fake/wxpaytest/login"); body != "fake GET /wxpaytest/login " {
		t.Errorf("/fake/ forwarded as %q", body)
	}
	lb.Remove(a.URL)
	for range 4 {
		if _, body := get(t, s.URL+"/x"); !strings.HasPrefix(body, "b ") {
			t.Errorf("after Remove: %q", body)
		}
	}
}

// TestDeadBackendSkipped: a backend that refuses connections (a killed
// instance) is skipped; when none is left the answer is 502.
func TestDeadBackendSkipped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	live := backend(t, "live")
	lb, err := balancer.New("", dead, live.URL)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(lb)
	defer s.Close()
	for range 4 {
		if code, body := get(t, s.URL+"/x"); code != 200 || !strings.HasPrefix(body, "live ") {
			t.Errorf("%d %q", code, body)
		}
	}
	if _, body := get(t, s.URL+"/fake/x"); body != "live GET /fake/x " {
		t.Errorf("/fake/ without a fake: %q, want it forwarded unchanged", body)
	}
	lb.Remove(live.URL)
	if code, _ := get(t, s.URL+"/x"); code != http.StatusBadGateway {
		t.Errorf("no live backend: %d, want 502", code)
	}
}

func TestNotifyHooks(t *testing.T) {
	a := backend(t, "a")
	lb, err := balancer.New("", a.URL)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	lb.Notify = func(otn string, body []byte) bool { return otn != "DROP" }
	lb.Notified = func(otn string, acked bool) {
		mu.Lock()
		defer mu.Unlock()
		if acked {
			seen = append(seen, otn)
		}
	}
	s := httptest.NewServer(lb)
	defer s.Close()
	post := func(body string) int {
		resp, err := http.Post(s.URL+balancer.NotifyPath, "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("<xml><out_trade_no>KEEP</out_trade_no></xml>"); code != 200 {
		t.Errorf("kept: %d", code)
	}
	if code := post("<xml><out_trade_no>DROP</out_trade_no></xml>"); code != http.StatusServiceUnavailable {
		t.Errorf("dropped: %d, want 503", code)
	}
	if code := post("not xml at all"); code != 200 {
		t.Errorf("malformed: %d, want it forwarded (the instance refuses it)", code)
	}
	if code := post(strings.Repeat("x", 5<<20)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("huge body: %d, want 413", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, ",") != "KEEP," {
		t.Errorf("acked notifications %q, want KEEP and the malformed one", seen)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8081", "ftp://127.0.0.1", "http://127.0.0.1:8081/path", "http://127.0.0.1:8081/?q=1"} {
		if _, err := balancer.New("", u); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

// FuzzNotify: whatever a notification's body holds, the balancer forwards
// it whole (or drops it when the hook says so) and never fails itself.
func FuzzNotify(f *testing.F) {
	f.Add([]byte("<xml><out_trade_no><![CDATA[A1]]></out_trade_no></xml>"))
	f.Add([]byte("<xml><out_trade_no>"))
	f.Add([]byte("\x00\xff<"))
	var got []byte
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		io.WriteString(w, "<xml><return_code>SUCCESS</return_code></xml>")
	}))
	defer a.Close()
	lb, err := balancer.New("", a.URL)
	if err != nil {
		f.Fatal(err)
	}
	lb.Notify = func(otn string, _ []byte) bool { return otn != "DROP" }
	f.Fuzz(func(t *testing.T, body []byte) {
		got = nil
		w := httptest.NewRecorder()
		lb.ServeHTTP(w, httptest.NewRequest("POST", balancer.NotifyPath, strings.NewReader(string(body))))
		switch w.Code {
		case 200:
			if string(got) != string(body) {
				t.Fatalf("forwarded %q, want %q", got, body)
			}
		case http.StatusServiceUnavailable: // dropped
		default:
			t.Fatalf("status %d", w.Code)
		}
	})
}

// TestForwardedHeaders: the instance sees its own host as Host, the
// client appended to X-Forwarded-For (as a real load balancer does), and
// none of the client's hop-by-hop headers.
func TestForwardedHeaders(t *testing.T) {
	var got http.Header
	var host string
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, host = r.Header.Clone(), r.Host
	}))
	defer a.Close()
	lb, err := balancer.New("", a.URL)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(lb)
	defer s.Close()
	req, _ := http.NewRequest("GET", s.URL+"/x", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("X-Custom", "kept")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := strings.TrimPrefix(a.URL, "http://"); host != want {
		t.Errorf("Host %q, want the instance's %q", host, want)
	}
	if xff := got.Get("X-Forwarded-For"); xff != "203.0.113.7, 127.0.0.1" {
		t.Errorf("X-Forwarded-For %q, want the client appended", xff)
	}
	if got.Get("Keep-Alive") != "" || got.Get("X-Custom") != "kept" {
		t.Errorf("headers forwarded: %v", got)
	}
}
