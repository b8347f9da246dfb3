package wxpaytest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
)

// libEndpoint is an endpoint the library calls, as its source declares it.
type libEndpoint struct {
	where string // file:line
	path  string
	cert  bool
	sign  string // the forced algorithm's constant name, "" if none
}

// parseDir parses the non-test Go files of dir.
func parseDir(t *testing.T, dir string) (*token.FileSet, []*ast.File) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	fset := token.NewFileSet()
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		src, err := os.ReadFile(n)
		require.NoError(t, err)
		f, err := parser.ParseFile(fset, n, src, 0)
		require.NoError(t, err)
		files = append(files, f)
	}
	return fset, files
}

// rootEndpoints finds every `endpoint{...}` literal of the root package:
// the library declares each v2 endpoint once that way.
func rootEndpoints(t *testing.T) []libEndpoint {
	fset, files := parseDir(t, "..")
	var out []libEndpoint
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if id, ok := lit.Type.(*ast.Ident); !ok || id.Name != "endpoint" {
				return true
			}
			e := libEndpoint{where: fset.Position(lit.Pos()).String()}
			for _, el := range lit.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					t.Fatalf("%s: endpoint literal without field names", e.where)
				}
				key := kv.Key.(*ast.Ident).Name
				switch key {
				case "path":
					bl, ok := kv.Value.(*ast.BasicLit)
					require.True(t, ok, "%s: path is not a literal", e.where)
					p, err := strconv.Unquote(bl.Value)
					require.NoError(t, err)
					e.path = p
				case "cert":
					e.cert = kv.Value.(*ast.Ident).Name == "true"
				case "sign":
					e.sign = kv.Value.(*ast.Ident).Name
				}
			}
			out = append(out, e)
			return true
		})
	}
	return out
}

// miniEndpoints finds every path the miniprogram package calls: the
// string literal path argument of its c.do(ctx, op, method, path, ...).
func miniEndpoints(t *testing.T) []libEndpoint {
	fset, files := parseDir(t, filepath.Join("..", "miniprogram"))
	var out []libEndpoint
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "do" || len(call.Args) < 4 {
				return true
			}
			where := fset.Position(call.Pos()).String()
			bl, ok := call.Args[3].(*ast.BasicLit)
			require.True(t, ok, "%s: the path of c.do is not a literal", where)
			p, err := strconv.Unquote(bl.Value)
			require.NoError(t, err)
			out = append(out, libEndpoint{where: where, path: p})
			return true
		})
	}
	return out
}

// testFake is a fake serving every row: with an AppSecret and the
// sandbox.
func testFake(t testing.TB) *Fake {
	f, err := New(Config{AppID: "wx0", MchID: "1", APIKey: strings.Repeat("k", 32), AppSecret: strings.Repeat("s", 32), Sandbox: true})
	require.NoError(t, err)
	t.Cleanup(f.Close)
	return f
}

func tableRow(t *testing.T, path string) (*route, bool) {
	s, _, ok := testFake(t).index.lookup(path)
	return s.route, ok
}

// addEchoRow adds to f's index a row shaped like a v3 endpoint (a
// method, {name} segments) whose handler writes the out_trade_no
// segment back.
func addEchoRow(f *Fake, method, path string) {
	rt := &route{path: Endpoint(path), method: method, proto: protoRaw,
		serve: func(_ *Fake, w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, r.PathValue("out_trade_no"))
		}}
	f.index.add(path, served{route: rt})
}

// Every endpoint the library calls has a row in the fake's table, with
// the same needs: a forgotten endpoint is a failing test here, not a
// reversal (or a 404) at run time.
func TestEveryLibraryEndpointHasARow(t *testing.T) {
	root := rootEndpoints(t)
	require.GreaterOrEqual(t, len(root), 10, "the scan of the root package found too few endpoints")
	for _, e := range root {
		if e.path == "" {
			// getsignkey: its path is the sandbox prefix's
			// (signKeyPath), one per generation.
			for _, p := range []string{wxpay.SandboxPrefix + "/pay/getsignkey", "/xdc/apiv2getsignkey/sign/getsignkey"} {
				rt, ok := tableRow(t, p)
				if assert.True(t, ok, "%s: getsignkey at %s has no row", e.where, p) {
					assert.Equal(t, EndpointGetSignKey, rt.path)
				}
			}
			continue
		}
		rt, ok := tableRow(t, e.path)
		if !assert.True(t, ok, "%s: %s has no row in the fake's table", e.where, e.path) {
			continue
		}
		assert.Equal(t, protoV2, rt.proto, "%s: %s", e.where, e.path)
		assert.Equal(t, e.cert, rt.cert, "%s: %s: the client certificate", e.where, e.path)
		assert.True(t, rt.sandbox, "%s: %s is served in the sandbox too", e.where, e.path)
		switch e.sign {
		case "":
			assert.Empty(t, rt.sign, "%s: %s", e.where, e.path)
		case "SignHMACSHA256":
			assert.Equal(t, wxpay.SignHMACSHA256, rt.sign, "%s: %s", e.where, e.path)
		default:
			t.Errorf("%s: unknown forced algorithm %s", e.where, e.sign)
		}
		for _, prefix := range []string{wxpay.SandboxPrefix, wxpay.SandboxPrefixXDC} {
			_, ok := tableRow(t, prefix+e.path)
			assert.True(t, ok, "%s: %s under %s", e.where, e.path, prefix)
		}
	}

	mini := miniEndpoints(t)
	require.GreaterOrEqual(t, len(mini), 4, "the scan of miniprogram found too few endpoints")
	for _, e := range mini {
		rt, ok := tableRow(t, e.path)
		if assert.True(t, ok, "%s: %s has no row in the fake's table", e.where, e.path) {
			assert.Equal(t, protoMini, rt.proto, "%s: %s", e.where, e.path)
			assert.True(t, rt.secret, "%s: %s needs the AppSecret", e.where, e.path)
		}
	}
}

// Every row is sound: one path once, a handler for its protocol, and a
// fault key that the other paths of the row share.
func TestTableRows(t *testing.T) {
	seen := map[string]bool{}
	for _, rt := range routes() {
		for _, p := range append([]string{string(rt.path)}, rt.aliases...) {
			assert.False(t, seen[p], "%s is declared twice", p)
			seen[p] = true
			assert.True(t, strings.HasPrefix(p, "/"), p)
		}
		switch rt.proto {
		case protoV2:
			assert.NotNil(t, rt.v2, rt.path)
		case protoMini:
			assert.NotNil(t, rt.mini, rt.path)
		case protoRaw:
			assert.NotNil(t, rt.serve, rt.path)
		case protoV3:
			assert.NotNil(t, rt.v3, rt.path)
			assert.NotEmpty(t, rt.method, "%s: a v3 row names its method", rt.path)
			assert.True(t, strings.HasPrefix(string(rt.path), "/v3/"), rt.path)
		default:
			t.Errorf("%s: no protocol", rt.path)
		}
		if rt.recall != nil {
			assert.Equal(t, protoV2, rt.proto, rt.path)
		}
	}
}

// The index finds exact paths and the {name} segments that v3 paths
// carry, and nothing else.
func TestRouteIndex(t *testing.T) {
	a, b, c := &route{path: "/pay/orderquery"}, &route{path: "/v3/pay/transactions/out-trade-no/{out_trade_no}"},
		&route{path: "/v3/pay/transactions/out-trade-no/{out_trade_no}/close"}
	ix := &routeIndex{exact: map[string]served{}}
	for _, rt := range []*route{a, b, c} {
		ix.add(string(rt.path), served{route: rt})
	}
	for _, tc := range []struct {
		path string
		want *route
		vals map[string]string
	}{
		{"/pay/orderquery", a, nil},
		{"/v3/pay/transactions/out-trade-no/o-1", b, map[string]string{"out_trade_no": "o-1"}},
		{"/v3/pay/transactions/out-trade-no/o-1/close", c, map[string]string{"out_trade_no": "o-1"}},
		{"/v3/pay/transactions/out-trade-no/", nil, nil},
		{"/v3/pay/transactions/out-trade-no", nil, nil},
		{"/v3/pay/transactions/out-trade-no/o-1/close/x", nil, nil},
		{"/v3/pay/transactions/id/o-1", nil, nil},
		{"/pay/orderquery/", nil, nil},
		{"", nil, nil},
	} {
		s, vals, ok := ix.lookup(tc.path)
		if tc.want == nil {
			assert.False(t, ok, tc.path)
			continue
		}
		if assert.True(t, ok, tc.path) {
			assert.Same(t, tc.want, s.route, tc.path)
			assert.Equal(t, tc.vals, vals, tc.path)
		}
	}
}

// A row with a method and {name} segments, as a v3 endpoint will be, is
// routed with its path values and refused another method.
func TestPatternRowServed(t *testing.T) {
	f := testFake(t)
	addEchoRow(f, http.MethodGet, "/v3/pay/transactions/out-trade-no/{out_trade_no}")

	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v3/pay/transactions/out-trade-no/o-7", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "o-7", rec.Body.String())

	rec = httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v3/pay/transactions/out-trade-no/o-7", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, http.MethodGet, rec.Header().Get("Allow"))

	rec = httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v3/pay/transactions/out-trade-no/o-7/x", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
}

// FuzzRoute feeds arbitrary paths to the index and to ServeHTTP: lookup
// never panics, a match rebuilds the path from its pattern and values,
// and an unmatched path is a bounded 404 (return_code FAIL on a v2 path).
func FuzzRoute(f *testing.F) {
	for _, s := range []string{"/pay/unifiedorder", "/pay/refund", "/sandboxnew/pay/micropay", "/v3/pay/transactions/out-trade-no/o-1",
		"/v3/pay/transactions/out-trade-no//close", "", "/", "//", "/pay/\xff", "/pay/]]>", "/wxpaytest/pay/x"} {
		f.Add(s)
	}
	fake := testFake(f)
	addEchoRow(fake, http.MethodPost, "/v3/pay/transactions/out-trade-no/{out_trade_no}/close")

	f.Fuzz(func(t *testing.T, path string) {
		s, vals, ok := fake.index.lookup(path)
		// The request-target route of the same path, written escaped as
		// a client would, agrees with the decoded lookup: escaping only
		// keeps an escaped slash inside its segment.
		us, uvals, uok := fake.index.lookupURL(&url.URL{Path: path})
		assert.Equal(t, ok, uok)
		assert.Equal(t, s.route, us.route)
		assert.Equal(t, vals, uvals)
		if ok {
			rebuilt := string(s.path)
			for k, v := range vals {
				assert.NotEmpty(t, v)
				assert.NotContains(t, v, "/")
				rebuilt = strings.Replace(rebuilt, "{"+k+"}", v, 1)
			}
			if !strings.HasPrefix(path, SandboxPrefix+"/") && !strings.HasPrefix(path, SandboxPrefixXDC+"/") && len(s.aliases) == 0 {
				assert.Equal(t, path, rebuilt)
			}
			return
		}
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("<xml/>"))
		req.URL.Path = path
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusNotFound, rec.Code)
		assert.Less(t, rec.Body.Len(), 512)
		if v2Path(path) {
			p, err := wxpay.DecodeXML(rec.Body.Bytes())
			require.NoError(t, err)
			assert.Equal(t, "FAIL", p["return_code"])
		}
	})
}

// lookupURL splits the request-target at the slashes the client wrote:
// an escaped slash stays inside a {name} segment, and a fixed path is
// matched whatever other escapes spell it.
func TestLookupURLEscapes(t *testing.T) {
	ix := &routeIndex{exact: map[string]served{}}
	q, c, fixed := &route{path: "/v3/pay/transactions/out-trade-no/{out_trade_no}"},
		&route{path: "/v3/pay/transactions/out-trade-no/{out_trade_no}/close"}, &route{path: "/v3/certificates"}
	for _, rt := range []*route{q, c, fixed} {
		ix.add(string(rt.path), served{route: rt})
	}
	for _, tc := range []struct {
		target string
		want   *route
		vals   map[string]string
	}{
		{"/v3/pay/transactions/out-trade-no/X%2Fclose", q, map[string]string{"out_trade_no": "X/close"}},
		{"/v3/pay/transactions/out-trade-no/X/close", c, map[string]string{"out_trade_no": "X"}},
		{"/v3/pay/transactions/out-trade-no/%58/close", c, map[string]string{"out_trade_no": "X"}},
		{"/v3/%63ertificates", fixed, nil},
		{"/v3%2Fcertificates", nil, nil},
	} {
		u, err := url.ParseRequestURI(tc.target)
		require.NoError(t, err, tc.target)
		s, vals, ok := ix.lookupURL(u)
		if tc.want == nil {
			assert.False(t, ok, tc.target)
			continue
		}
		if assert.True(t, ok, tc.target) {
			assert.Same(t, tc.want, s.route, tc.target)
			assert.Equal(t, tc.vals, vals, tc.target)
		}
	}
}
