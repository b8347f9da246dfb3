package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/wxpay-go/wxpay/examples/app/web"
)

// ExampleRoutes mounts the demo on a mux beside an API, as the example
// server does in fake mode.
func ExampleRoutes() {
	mux := http.NewServeMux()
	for pattern, h := range web.Routes() {
		mux.Handle(pattern, h)
	}
	mux.HandleFunc("GET /shops", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, `{"items":[]}`) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, path := range []string{"/", "/demo/app.js", "/shops"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy") == web.ContentSecurityPolicy)
	}
	// Output:
	// / 200 text/html; charset=utf-8 true
	// /demo/app.js 200 text/javascript; charset=utf-8 true
	// /shops 200 text/plain; charset=utf-8 false
}
