package web_test

import (
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/wxpay-go/wxpay/examples/api"
	"github.com/wxpay-go/wxpay/examples/app/web"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// The clients call the server only through api(method, path, ...) and its
// fake WeChat only through wechat(path, ...), with literal paths ('...' or
// `...` with ${...} for the ids), so that a regexp finds every call.
var (
	apiCallRE    = regexp.MustCompile("\\bapi\\(\\s*'([A-Z]+)'\\s*,\\s*(?:'([^'`$]*)'|`([^`']*)`)")
	wechatCallRE = regexp.MustCompile(`\bwechat\(\s*'(/[^']*)'`)
	anyAPIRE     = regexp.MustCompile(`\bapi\(`)
	anyWechatRE  = regexp.MustCompile(`\bwechat\(`)
	defRE        = regexp.MustCompile(`\bfunction (api|wechat)\(`)
	placeholder  = regexp.MustCompile(`\$\{[^}]*\}`)
	commentRE    = regexp.MustCompile(`(?m)(^|\s)//.*$`) // line comments (not the // of a URL)
)

type call struct {
	method, path string
	query        url.Values
	file         string
}

// calls extracts the API and fake-WeChat calls of a JavaScript file, and
// fails if any call of api or wechat does not have the form the regexps
// read, so that none can slip past the check.
func calls(t *testing.T, name, src string) (apiCalls []call, wechatCalls []string) {
	t.Helper()
	src = commentRE.ReplaceAllString(src, "$1")
	defs := defRE.FindAllStringSubmatch(src, -1)
	defined := map[string]int{}
	for _, d := range defs {
		defined[d[1]]++
	}
	for _, m := range apiCallRE.FindAllStringSubmatch(src, -1) {
		raw := m[2] + m[3]
		path, q, _ := strings.Cut(raw, "?")
		query, err := url.ParseQuery(q)
		if err != nil {
			t.Errorf("%s: query of %s: %v", name, raw, err)
		}
		apiCalls = append(apiCalls, call{method: m[1], path: placeholder.ReplaceAllString(path, "{}"), query: query, file: name})
	}
	for _, m := range wechatCallRE.FindAllStringSubmatch(src, -1) {
		wechatCalls = append(wechatCalls, m[1])
	}
	if n := len(anyAPIRE.FindAllString(src, -1)) - defined["api"]; n != len(apiCalls) {
		t.Errorf("%s: %d calls of api(...), %d of them with a method and a literal path", name, n, len(apiCalls))
	}
	if n := len(anyWechatRE.FindAllString(src, -1)) - defined["wechat"]; n != len(wechatCalls) {
		t.Errorf("%s: %d calls of wechat(...), %d of them with a literal path", name, n, len(wechatCalls))
	}
	return apiCalls, wechatCalls
}

// TestClientCallsInOpenAPI: every path the browser demo and the
// mini-program call, with its method and query parameters, is in
// openapi.json; the fake-WeChat paths they call are the fake's; and the two
// clients make the same calls.
func TestClientCallsInOpenAPI(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]*openapi3.Operation{} // "GET /orders/{}" -> operation
	pathParams := map[string]openapi3.Parameters{}
	for p, item := range doc.Paths.Map() {
		key := regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(p, "{}")
		for method, op := range item.Operations() {
			documented[method+" "+key] = op
			pathParams[method+" "+key] = item.Parameters
		}
	}

	// The sources: the demo's script, and the mini-program's.
	type source struct{ name, src string }
	var demo, mini []source
	b, err := fs.ReadFile(web.Files(), "app.js")
	if err != nil {
		t.Fatal(err)
	}
	demo = append(demo, source{"app/web/static/app.js", string(b)})
	err = filepath.WalkDir("../../miniprogram", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, err := os.ReadFile(p)
		mini = append(mini, source{strings.TrimPrefix(filepath.ToSlash(p), "../../"), string(b)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(mini) < 4 {
		t.Fatalf("found %d mini-program scripts, want app.js, utils/api.js and the pages", len(mini))
	}

	// Each client reaches the network in one place only: the function the
	// regexps read the calls of.
	if n := strings.Count(demo[0].src, "fetch("); n != 2 {
		t.Errorf("app.js calls fetch %d times, want 2 (in api and wechat)", n)
	}
	wxRequests := 0
	for _, s := range mini {
		wxRequests += strings.Count(s.src, "wx.request(")
	}
	if wxRequests != 1 {
		t.Errorf("the mini-program calls wx.request %d times, want once (in utils/api.js)", wxRequests)
	}

	called := map[string]map[string]bool{"demo": {}, "mini": {}}
	fakePaths := map[string]bool{}
	for client, srcs := range map[string][]source{"demo": demo, "mini": mini} {
		for _, s := range srcs {
			apiCalls, wechatCalls := calls(t, s.name, s.src)
			for _, c := range apiCalls {
				key := c.method + " " + c.path
				called[client][key] = true
				op := documented[key]
				if op == nil {
					t.Errorf("%s calls %s, which openapi.json does not have", c.file, key)
					continue
				}
				for name := range c.query {
					ps := append(slices.Clone(op.Parameters), pathParams[key]...)
					if ps.GetByInAndName(openapi3.ParameterInQuery, name) == nil {
						t.Errorf("%s calls %s with query parameter %q, which openapi.json does not have", c.file, key, name)
					}
				}
			}
			for _, p := range wechatCalls {
				fakePaths[p] = true
			}
		}
	}

	// The whole flow, in both clients.
	flow := []string{"POST /users/wxLogin", "GET /shops", "GET /shops/{}/goods", "POST /orders", "GET /orders", "GET /orders/{}", "POST /orders/{}/pay"}
	for _, client := range []string{"demo", "mini"} {
		for _, k := range flow {
			if !called[client][k] {
				t.Errorf("%s client never calls %s", client, k)
			}
		}
	}
	for k := range called["demo"] {
		if !called["mini"][k] {
			t.Errorf("the demo calls %s and the mini-program does not", k)
		}
	}

	// The fake-WeChat paths answer on a fake (anything but 404).
	if !fakePaths["/wxpaytest/login"] || !fakePaths["/wxpaytest/pay"] {
		t.Errorf("fake WeChat paths called: %v, want /wxpaytest/login and /wxpaytest/pay", fakePaths)
	}
	fake := wxpaytest.NewServer(wxpaytest.Config{AppID: "wx0123456789abcdef", MchID: "1900000109", APIKey: strings.Repeat("k", 32)})
	defer fake.Close()
	for p := range fakePaths {
		resp, err := http.Post(fake.URL+p, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			t.Errorf("the fake WeChat has no POST %s", p)
		}
	}
}
