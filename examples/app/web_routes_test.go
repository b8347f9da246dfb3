package app_test

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/wxpay-go/wxpay/examples/api"
	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/examples/app/web"
)

func getPath(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestWebRoutesFakeMode: in fake mode the demo's page and files are served
// with the Content-Security-Policy and their types, and only those.
func TestWebRoutesFakeMode(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		path, ctype string
		status      int
	}{
		{"/", "text/html; charset=utf-8", 200},
		{"/demo/app.js", "text/javascript; charset=utf-8", 200},
		{"/demo/style.css", "text/css; charset=utf-8", 200},
		{"/demo/icon.svg", "image/svg+xml", 200},
		{"/demo/", "", 404},
		{"/demo/index.html", "", 404},
		{"/demo/missing.js", "", 404},
		{"/demo/../go.mod", "", 404},
		{"/index.html", "application/json; charset=utf-8", 404}, // the API's 404
	} {
		resp, body := getPath(t, h.s.URL+tc.path)
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.status)
			continue
		}
		if resp.Header.Get(app.FakeHeader) == "" {
			t.Errorf("GET %s: no %s header", tc.path, app.FakeHeader)
		}
		if tc.status != 200 {
			if tc.ctype != "" && resp.Header.Get("Content-Type") != tc.ctype {
				t.Errorf("GET %s: Content-Type %q, want %q", tc.path, resp.Header.Get("Content-Type"), tc.ctype)
			}
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != web.ContentSecurityPolicy {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, got)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no X-Content-Type-Options: nosniff", tc.path)
		}
		name := strings.TrimPrefix(tc.path, "/demo/")
		if tc.path == "/" {
			name = "index.html"
		}
		want, err := fs.ReadFile(web.Files(), name)
		if err != nil {
			t.Fatal(err)
		}
		if body != string(want) {
			t.Errorf("GET %s: not the embedded %s", tc.path, name)
		}
	}
	// The policy allows this origin only, and no inline code.
	for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(web.ContentSecurityPolicy, d) {
			t.Errorf("Content-Security-Policy lacks %s", d)
		}
	}
	if strings.Contains(web.ContentSecurityPolicy, "unsafe") || strings.Contains(web.ContentSecurityPolicy, "http") {
		t.Errorf("Content-Security-Policy allows more than this origin: %s", web.ContentSecurityPolicy)
	}
}

// TestWebPageSelfContained: the page loads nothing from elsewhere and
// holds no inline script or style, which the policy would refuse anyway.
func TestWebPageSelfContained(t *testing.T) {
	html, err := fs.ReadFile(web.Files(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`\b(?:src|href)="([^"]*)"`).FindAllStringSubmatch(string(html), -1)
	if len(refs) < 3 {
		t.Fatalf("index.html references %d files, want the script, the style sheet and the icon", len(refs))
	}
	for _, m := range refs {
		name, ok := strings.CutPrefix(m[1], web.AssetPrefix)
		if !ok {
			t.Errorf("index.html references %q, outside %s", m[1], web.AssetPrefix)
			continue
		}
		if _, err := fs.Stat(web.Files(), name); err != nil {
			t.Errorf("index.html references %q, which is not embedded", m[1])
		}
	}
	if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).Match(html) || strings.Contains(string(html), "<style") ||
		regexp.MustCompile(`\s(?:style|on[a-z]+)=`).Match(html) {
		t.Error("index.html has an inline script, style or event handler")
	}
	for _, name := range []string{"app.js", "style.css"} {
		b, err := fs.ReadFile(web.Files(), name)
		if err != nil {
			t.Fatal(err)
		}
		if m := regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|innerHTML|eval\(`).Find(b); m != nil {
			t.Errorf("%s contains %q: it must load nothing from elsewhere and build no markup from strings", name, m)
		}
	}
}

// TestWebRoutesRealMode: a server in real mode serves nothing of the demo.
func TestWebRoutesRealMode(t *testing.T) {
	s, _ := startRealMode(t)
	for _, path := range []string{"/", "/demo/app.js", "/demo/style.css", "/demo/icon.svg", "/fake/wxpaytest/pay"} {
		resp, body := getPath(t, s.URL+path)
		var eb api.ErrorBody
		if resp.StatusCode != 404 || json.Unmarshal([]byte(body), &eb) != nil || eb.Error.Code != "not_found" {
			t.Errorf("real mode: GET %s: %d %.100s; want the API's 404", path, resp.StatusCode, body)
		}
		if resp.Header.Get("Content-Security-Policy") != "" {
			t.Errorf("real mode: GET %s carries the demo's headers", path)
		}
	}
}
