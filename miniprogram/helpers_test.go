package miniprogram

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	testAppID  = "wx4f4bc4dec97d474b"
	testSecret = "0123456789abcdef0123456789abcdef" // 32 chars like a real AppSecret
	basePath   = "/prefix"
)

// setup starts a fake WeChat API mounted under basePath and returns a
// client pointed at it (with a trailing slash, which must be tolerated) and
// the mux to register handlers on. Requests to any unregistered path fail
// the test, which catches clients that drop the base path.
func setup(t *testing.T, opts ...Option) (*Client, *http.ServeMux) {
	t.Helper()
	api := http.NewServeMux()
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		http.Error(w, "unexpected path", http.StatusNotFound)
	})
	root := http.NewServeMux()
	root.Handle(basePath+"/", http.StripPrefix(basePath, api))
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside base path: %s %s", r.Method, r.URL.Path)
		http.Error(w, "outside base path", http.StatusNotFound)
	})
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)

	all := append([]Option{WithBaseURL(srv.URL + basePath + "/"), WithHTTPClient(srv.Client())}, opts...)
	c, err := NewClient(testAppID, testSecret, all...)
	require.NoError(t, err)
	return c, api
}

// writeJSON answers with v as JSON and the content type WeChat uses. It
// runs in a handler's goroutine, where FailNow must not be called, so a
// value that cannot be encoded fails the test with t.Errorf and is
// answered 500.
func writeJSON(t *testing.T, w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		t.Errorf("encode answer: %v", err)
		http.Error(w, "cannot encode answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	_, _ = w.Write(append(b, '\n'))
}

// writeRaw answers with body verbatim.
func writeRaw(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// fakeClock is a settable clock for WithClock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
