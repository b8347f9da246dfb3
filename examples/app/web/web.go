// Package web is the browser demo of the example server: a phone-shaped
// page that plays the WeChat mini-program (log in, shops, goods, a cart,
// an order, paying, the order turning paid) against the server's API and
// its fake WeChat on the same origin. It is plain HTML, CSS and JavaScript
// embedded in the binary: no build step, and nothing is fetched from
// anywhere but the server itself.
//
// The page confirms payments with the fake WeChat, so it is served in fake
// mode only; the mini-program it imitates is in ../../miniprogram.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Files returns the page's files: index.html, app.js, style.css and icon.svg.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree always has it
	}
	return sub
}

// AssetPrefix is where the page's script and style sheet are served.
const AssetPrefix = "/demo/"

// ContentSecurityPolicy lets the page load and call only its own origin:
// no inline script or style, no frames, no forms posted anywhere, so that
// a string from the API can never run as code.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Routes returns the demo's routes for an http.ServeMux: the page at "/"
// and its assets under [AssetPrefix].
func Routes() map[string]http.Handler {
	files := Files()
	assets := http.StripPrefix(AssetPrefix[:len(AssetPrefix)-1], http.FileServerFS(files))
	return map[string]http.Handler{
		"GET /{$}": secured(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.ServeFileFS(w, r, files, "index.html")
		})),
		"GET " + AssetPrefix: secured(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == AssetPrefix || r.URL.Path == AssetPrefix+"index.html" {
				http.NotFound(w, r) // the page lives at "/" only
				return
			}
			assets.ServeHTTP(w, r)
		})),
	}
}

// secured adds the headers every file of the page carries.
func secured(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}
