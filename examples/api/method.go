package api

import (
	"net/http"
	"strings"

	"github.com/wxpay-go/wxpay/examples/shop"
)

// methods are the request methods a route may be registered for; HEAD is
// served wherever GET is (ServeMux's rule).
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowed lists the methods some route other than the catch-all serves at
// r's path. ServeMux answers 405 by itself only when no pattern matches the
// method, and the catch-all "/" matches every method, so the catch-all asks
// the mux again with each method.
func (h *Handler) allowed(r *http.Request) []string {
	var out []string
	for _, m := range methods {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "" && pattern != "/" {
			out = append(out, m)
		}
	}
	return out
}

// noRoute answers a request no route took: 405 with Allow when the path
// exists for other methods (RFC 9110, section 15.5.6), else 404, both in
// the error shape.
func (h *Handler) noRoute(w http.ResponseWriter, r *http.Request) {
	if allow := h.allowed(r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		h.writeError(w, r, shop.Errorf(shop.CodeMethod, "%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
		return
	}
	h.writeError(w, r, shop.Errorf(shop.CodeNotFound, "no route %s %s", r.Method, r.URL.Path))
}
