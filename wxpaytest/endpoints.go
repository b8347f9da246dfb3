package wxpaytest

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/wire"
)

// protocol is how an endpoint's requests are read and its answers written.
type protocol int

const (
	// protoV2 is WeChat Pay v2: a signed XML body, checked by the v2
	// pipeline (certificate, fault, method, body, signature, appid)
	// before route.v2 sees the verified fields; XML answers.
	protoV2 protocol = iota + 1
	// protoMini is the mini-program server API: route.mini answers JSON
	// or a WeChat errcode.
	protoMini
	// protoRaw endpoints read and write the request themselves
	// (route.serve): the fake's own /wxpaytest/ endpoints and getsignkey.
	protoRaw
	// protoV3 is WeChat Pay API v3: JSON signed in the Authorization
	// header, checked by the v3 pipeline (fault, method, body, headers,
	// Authorization) before route.v3 sees the request; JSON answers
	// signed with the Wechatpay-* headers. Served with Config.APIv3Key
	// only.
	protoV3
)

// route is one row of the fake's endpoint table: the one place an
// endpoint is declared, with what it needs. A family file (order.go,
// refund.go, bill.go, micropay.go, login.go, sandbox.go, userpay.go)
// declares its rows beside their handlers, and [routes] joins the
// families.
//
// The shape is meant to hold API v3 as rows too: a v3 endpoint has a
// method, a path whose {name} segments are parameters
// (/v3/pay/transactions/out-trade-no/{out_trade_no}; see [routeIndex]),
// and a protocol of its own with its own handler field.
type route struct {
	// path is the endpoint's path, and the key faults are injected
	// under ([Fake.Inject]). Segments written {name} match any one
	// non-empty segment.
	path Endpoint
	// aliases are further paths that serve the same endpoint (and share
	// its faults): getsignkey's second sandbox generation.
	aliases []string
	// method, if set, is the only HTTP method routed to the endpoint.
	// v2 and mini-program endpoints leave it empty: they answer a wrong
	// method in their own words (请使用post方法, errcode 43001).
	method string
	proto  protocol
	// cert: WeChat requires the merchant's client certificate
	// (checked when the request came over TLS, see [NewTLSServer]).
	cert bool
	// sign is the algorithm WeChat imposes on the endpoint whatever the
	// merchant's (HMAC-SHA256 for the fund-flow bill); a request naming
	// another is refused before its signature is checked.
	sign wxpay.SignType
	// signMsg replaces the return_msg of a wrongly signed request, for
	// an endpoint with its own wording (downloadbill's "SIGN ERROR").
	signMsg string
	// sandbox: also served under [SandboxPrefix] and [SandboxPrefixXDC]
	// with Config.Sandbox, signed with the sandbox key.
	sandbox bool
	// sandboxOnly: exists only with Config.Sandbox (getsignkey).
	sandboxOnly bool
	// secret: exists only when Config.AppSecret is set.
	secret bool

	// v2 answers a verified v2 request (protoV2).
	v2 func(f *Fake, p wxpay.Params) answer
	// recall is the answer of a v2 endpoint under a Recall fault that is
	// not Processed; nil: Recall changes nothing on the endpoint.
	recall func(f *Fake, p wxpay.Params) answer
	// mini answers a mini-program request (protoMini).
	mini func(f *Fake, w http.ResponseWriter, r *http.Request) (any, *miniError)
	// serve answers the request itself (protoRaw).
	serve func(f *Fake, w http.ResponseWriter, r *http.Request)
	// v3 answers a v3 request whose Authorization passed (protoV3).
	v3 func(f *Fake, c *v3Call) v3Answer
}

// routes is the fake's endpoint table: every family's rows.
func routes() []route {
	var all []route
	for _, family := range [][]route{orderRoutes, refundRoutes, billRoutes, microRoutes, loginRoutes, sandboxRoutes, userPayRoutes, v3Routes} {
		all = append(all, family...)
	}
	return all
}

// served is a route as one path of one fake serves it: with the signing
// of that path (production or sandbox).
type served struct {
	*route
	sig signing
}

// routeIndex finds the route of a path: exact paths in a map, paths with
// {name} segments by segment. It is built once per fake, from [routes]
// and the fake's configuration.
type routeIndex struct {
	exact    map[string]served
	patterns []pattern
}

type pattern struct {
	segs []string // "{name}" matches any non-empty segment
	served
}

func (ix *routeIndex) add(path string, s served) {
	if !strings.Contains(path, "{") {
		ix.exact[path] = s
		return
	}
	ix.patterns = append(ix.patterns, pattern{segs: strings.Split(path, "/"), served: s})
}

// lookup returns the route of path (decoded, as url.URL.Path holds it)
// and the values of its {name} segments.
func (ix *routeIndex) lookup(path string) (served, map[string]string, bool) {
	if s, ok := ix.exact[path]; ok {
		return s, nil, true
	}
	return ix.match(strings.Split(path, "/"))
}

// lookupURL is lookup over the request-target as sent: its segments are
// split at the slashes the client wrote and only then unescaped, so that
// an escaped slash (%2F) stays inside its segment, as the signed
// request-target has it. Routing on the decoded path instead would send
// ".../out-trade-no/X%2Fclose", which a server reading the target as
// signed takes for the order "X/close", to the close of X.
func (ix *routeIndex) lookupURL(u *url.URL) (served, map[string]string, bool) {
	raw := u.EscapedPath()
	if !strings.Contains(raw, "%") {
		return ix.lookup(u.Path)
	}
	segs := strings.Split(raw, "/")
	for i, sg := range segs {
		v, err := url.PathUnescape(sg)
		if err != nil {
			return served{}, nil, false
		}
		segs[i] = v
	}
	for _, sg := range segs {
		if strings.Contains(sg, "/") {
			// Not one of the fake's fixed paths, whose segments hold no
			// slash; a {name} segment may still take it, and its handler
			// refuses the malformed value.
			return ix.match(segs)
		}
	}
	if s, ok := ix.exact[strings.Join(segs, "/")]; ok {
		return s, nil, true
	}
	return ix.match(segs)
}

// match finds the pattern whose segments match segs.
func (ix *routeIndex) match(segs []string) (served, map[string]string, bool) {
next:
	for _, p := range ix.patterns {
		if len(p.segs) != len(segs) {
			continue
		}
		var vals map[string]string
		for i, ps := range p.segs {
			if name, ok := strings.CutPrefix(ps, "{"); ok && strings.HasSuffix(name, "}") {
				if segs[i] == "" {
					continue next
				}
				if vals == nil {
					vals = make(map[string]string)
				}
				vals[strings.TrimSuffix(name, "}")] = segs[i]
			} else if ps != segs[i] {
				continue next
			}
		}
		return p.served, vals, true
	}
	return served{}, nil, false
}

// newRouteIndex indexes rows for f: every path of every row, the
// sandbox's prefixed copies with the sandbox signing, and rows f's
// configuration leaves out (no AppSecret, no sandbox) under disabled,
// so that they are refused with the reason.
func newRouteIndex(f *Fake, rows []route) (enabled, disabled *routeIndex) {
	enabled = &routeIndex{exact: make(map[string]served)}
	disabled = &routeIndex{exact: make(map[string]served)}
	prod := f.prodSigning()
	sandbox := signing{key: f.sandboxKey, st: wxpay.SignMD5, signMsg: msgSandboxSign} // the sandbox accepts MD5 only
	for i := range rows {
		rt := &rows[i]
		ix := enabled
		if (rt.secret && f.secret == "") || (rt.sandboxOnly && f.sandboxKey == "") || (rt.proto == protoV3 && f.v3 == nil) {
			ix = disabled
		}
		for _, p := range append([]string{string(rt.path)}, rt.aliases...) {
			ix.add(p, served{rt, prod})
		}
		if rt.sandbox {
			ix := enabled
			if f.sandboxKey == "" {
				ix = disabled
			}
			for _, prefix := range []string{SandboxPrefix, SandboxPrefixXDC} {
				ix.add(prefix+string(rt.path), served{rt, sandbox})
			}
		}
	}
	return enabled, disabled
}

// ServeHTTP answers the WeChat endpoints the fake implements, at their
// paths relative to wherever it is mounted (use [http.StripPrefix] to mount
// it under a prefix). Each is named by an [Endpoint] constant, whose doc
// gives its method and WeChat's page:
//
//	/pay/unifiedorder, /pay/orderquery, /pay/closeorder   orders (XML)
//	/secapi/pay/refund, /pay/refundquery                  refunds (refund needs the certificate)
//	/pay/downloadbill, /pay/downloadfundflow              bills (fund flow needs the certificate)
//	/pay/micropay, /secapi/pay/reverse                    payment codes (reverse needs the certificate)
//	/sandboxnew/pay/getsignkey, /sandboxnew/...           the sandbox, with Config.Sandbox
//	/sns/jscode2session, /cgi-bin/token,                  the mini-program (JSON), with Config.AppSecret
//	/cgi-bin/stable_token, /wxa/business/getuserphonenumber
//
// and the fake's own, which play the user's side:
//
//	POST /wxpaytest/login                                 mint a login code (JSON)
//	POST /wxpaytest/phonecode                             mint a phone code (JSON)
//	POST /wxpaytest/pay                                   confirm wx.requestPayment (JSON)
//
// Any other path is answered 404 Not Found: on a v2 path (/pay/...,
// /secapi/..., the sandbox's) with return_code FAIL in XML, as a client
// of v2 reads it; on others with a line of text naming the path. The
// mini-program endpoints are 404 without Config.AppSecret, the sandbox's
// without Config.Sandbox, saying so.
//
// /wxpaytest/login takes {"openid": "..."} (optional: omit it for a new
// user) and answers {"code": "...", "openid": "..."}, as wx.login hands a
// code to a mini-program. /wxpaytest/phonecode takes {"openid": "...",
// "phone": "..."} (openid optional as above; phone as [Fake.PhoneCode]
// takes it) and answers {"code": "...", "openid": "..."}, as a
// getPhoneNumber button hands a code to a mini-program; a missing or
// malformed phone is a 400. /wxpaytest/pay takes the wx.requestPayment
// arguments exactly as [wxpay.JSAPIParams] marshals them (appId may be
// omitted, as wx.requestPayment has none) and plays the user confirming
// the payment: it checks paySign as WeChat's server does, then pays as
// [Fake.Pay] does. It answers {"result":"SUCCESS","out_trade_no":...,
// "transaction_id":...,"err_msg":"requestPayment:ok"}, or a 4xx status
// with {"error":...,"err_msg":"requestPayment:fail ..."}.
//
// The certificate endpoints (/secapi/..., /pay/downloadfundflow) check
// the client certificate of a request that came over TLS, as
// [NewTLSServer] serves them; see [NewTLSServer] for how they refuse one.
// Over plain HTTP there is no certificate to check, and they answer as if
// the merchant's had been presented.
//
// WeChat docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=7_7&index=6 (paySign)
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s, vals, ok := f.index.lookupURL(r.URL)
	if !ok {
		f.serveUnknown(w, r)
		return
	}
	if s.method != "" && r.Method != s.method && s.proto != protoV3 {
		w.Header().Set("Allow", s.method)
		http.Error(w, "wxpaytest: "+string(s.path)+" takes "+s.method+" only", http.StatusMethodNotAllowed)
		return
	}
	for name, v := range vals {
		r.SetPathValue(name, v) // what a v3 handler reads with r.PathValue
	}
	switch s.proto {
	case protoV2:
		f.serveV2(w, r, s)
	case protoMini:
		f.serveMini(w, r, s.route)
	case protoV3:
		f.serveV3(w, r, s.route)
	default:
		s.serve(f, w, r)
	}
}

// serveUnknown answers a path the fake does not serve (or not with this
// configuration) with a 404 that says so.
func (f *Fake) serveUnknown(w http.ResponseWriter, r *http.Request) {
	// The path is the client's: echoed bounded, so that a long one
	// cannot grow the answer or the log line without limit.
	path := wire.Truncate(r.URL.Path, maxPathEcho)
	why := "wxpaytest: no endpoint at " + path
	s, _, known := f.disabled.lookupURL(r.URL)
	switch {
	case known && (s.sandboxOnly || s.sandbox):
		why = "wxpaytest: the sandbox is served with Config.Sandbox only"
	case known && s.secret:
		why = "wxpaytest: the mini-program endpoints are served with Config.AppSecret only"
	case known && s.proto == protoV3:
		why = "wxpaytest: the API v3 endpoints are served with Config.APIv3Key only"
	}
	f.log.Info("wxpaytest: unknown endpoint", "path", path, "method", wire.Truncate(r.Method, 16))
	if strings.HasPrefix(r.URL.Path, "/v3/") {
		serveV3Unknown(w, why)
		return
	}
	if !v2Path(r.URL.Path) {
		http.Error(w, why, http.StatusNotFound)
		return
	}
	b, err := wxpay.EncodeXML(wxpay.Params{"return_code": "FAIL", "return_msg": why})
	if err != nil {
		// A path that is not text XML can carry is not echoed.
		b, _ = wxpay.EncodeXML(wxpay.Params{"return_code": "FAIL", "return_msg": "wxpaytest: no such endpoint"})
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(b)
}

// maxPathEcho is how much of an unknown path the answer and the log quote.
const maxPathEcho = 128

// v2Path reports whether path is where a v2 client would look for an
// endpoint: under /pay/, /secapi/ or a sandbox prefix.
func v2Path(path string) bool {
	for _, p := range []string{"/pay/", "/secapi/", SandboxPrefix + "/", SandboxPrefixXDC + "/", "/xdc/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}
