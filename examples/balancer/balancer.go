// Package balancer is a small round-robin reverse proxy for running
// several instances of the example server side by side on loopback, in
// tests and under the load generator: what a load balancer in front of a
// real deployment does, reduced to what those need. Every request goes to
// the next instance in turn, so one user's login, order, payment and the
// payment notification usually land on different instances, which is the
// point: the instances share nothing but the database.
//
// The forwarding itself is the standard library's
// [httputil.ReverseProxy]: its Rewrite hook points each attempt at the
// instance whose turn it is (appending the client to X-Forwarded-For, as a
// real load balancer does), and its error hook tells a refused connection
// (the instance is down: try the next one) from any other failure (502,
// since the request may have been served).
//
// WeChat Pay's payment notifications, v2's (POST /orders/pay/notify, see
// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7) and v3's
// (POST /orders/pay/v3/notify, see
// https://pay.weixin.qq.com/doc/v3/merchant/4012791861), pass through it
// like any request; [Balancer.Notify] and [Balancer.Notified] let a test
// or the load generator watch them, or drop one on purpose as WeChat
// sometimes does. A v2 notification names its order in plain XML; a v3
// one seals it under the APIv3 key (AEAD_AES_256_GCM), so the balancer
// can tell a v3 notification's order only when given that key
// ([Balancer.APIv3Key]), as a test tool on loopback may be. Requests under /fake/ go to a standalone fake
// WeChat (wxpay fake), so that a client written for one server in fake
// mode works unchanged against several.
package balancer

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// NotifyPath is where the example server takes WeChat's v2 payment
// notifications, and NotifyPathV3 its v3 ones.
const (
	NotifyPath   = "/orders/pay/notify"
	NotifyPathV3 = "/orders/pay/v3/notify"
)

// maxBody bounds every body the balancer reads: the request's (read whole
// so that it can be sent again to the next instance) and a notification's
// reply (read whole to see whether it acknowledged). Other replies stream
// through.
const maxBody = 4 << 20

// timeout bounds one request, all attempts included.
const timeout = 30 * time.Second

// Balancer is an http.Handler that forwards each request to the next
// backend. Set the hooks before serving; the backends may change at any
// time.
type Balancer struct {
	// Notify, when set, sees each payment notification before it is
	// forwarded, with its out_trade_no and body. Returning false drops it:
	// WeChat is answered FAIL (503) and no instance sees it, a lost
	// notification that WeChat retries later.
	Notify func(outTradeNo string, body []byte) bool
	// Notified, when set, is told each forwarded notification's outcome:
	// acked is true when the instance answered SUCCESS.
	Notified func(outTradeNo string, acked bool)
	// APIv3Key, when set, is the merchant's 32-byte APIv3 key, with which
	// the balancer opens a v3 notification's resource to read its
	// out_trade_no for Notify and Notified. It is a secret: the balancer
	// never logs or returns it, nor the plaintext. Without it (or when the
	// resource does not open) a v3 notification's out_trade_no is "".
	APIv3Key []byte

	fake      *url.URL
	transport *http.Transport
	proxy     *httputil.ReverseProxy

	mu       sync.Mutex
	backends []*url.URL
	next     int
}

// New returns a Balancer over the backends (http://host:port origins).
// fake, if not empty, is the standalone fake WeChat that /fake/ leads to.
func New(fake string, backends ...string) (*Balancer, error) {
	b := &Balancer{transport: &http.Transport{
		// No Proxy: never through HTTP_PROXY, the instances are on this
		// machine.
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     time.Minute,
	}}
	b.proxy = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      b.transport,
		ModifyResponse: modifyResponse,
		ErrorHandler:   proxyError,
		ErrorLog:       log.New(io.Discard, "", 0), // a client gone mid-reply is not news
	}
	if fake != "" {
		u, err := parseOrigin(fake)
		if err != nil {
			return nil, err
		}
		b.fake = u
	}
	for _, s := range backends {
		if err := b.Add(s); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func parseOrigin(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, errors.New("balancer: a backend must be an origin such as http://127.0.0.1:8081")
	}
	u.Path = ""
	return u, nil
}

// Add puts a backend into the rotation.
func (b *Balancer) Add(backend string) error {
	u, err := parseOrigin(backend)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = append(b.backends, u)
	return nil
}

// Remove takes a backend out of the rotation, as a load balancer's health
// check does with an instance that stopped answering.
func (b *Balancer) Remove(backend string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, u := range b.backends {
		if u.String() == strings.TrimSuffix(backend, "/") {
			b.backends = append(b.backends[:i:i], b.backends[i+1:]...)
			return
		}
	}
}

// CloseIdleConnections closes the balancer's idle connections to the
// backends.
func (b *Balancer) CloseIdleConnections() { b.transport.CloseIdleConnections() }

// pick returns every backend, starting with the one whose turn it is, and
// moves the turn on by one (round robin). The rest are the fallbacks, in
// order, for when the first refuses the connection.
func (b *Balancer) pick() []*url.URL {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.backends)
	order := make([]*url.URL, n)
	for i := range n {
		order[i] = b.backends[(b.next+i)%n]
	}
	if n > 0 {
		b.next = (b.next + 1) % n
	}
	return order
}

// attempt is one try of one request at one backend, carried to the
// proxy's hooks in the request's context.
type attempt struct {
	target *url.URL
	path   string
	notify bool
	v3     bool // the notification is v3's: JSON answers

	refused bool // the connection was refused: nothing was written
	acked   bool // a notification's reply was SUCCESS
}

type attemptKey struct{}

// ServeHTTP forwards r. A backend that refuses the connection (the
// request never reached it) is skipped for the next one; any other failure
// is a 502, since the request may have been served.
func (b *Balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if b.fake != nil && strings.HasPrefix(r.URL.Path, "/fake/") {
		if !b.try(ctx, w, r, body, &attempt{target: b.fake, path: strings.TrimPrefix(r.URL.Path, "/fake")}) {
			http.Error(w, "the fake WeChat refused the connection", http.StatusBadGateway)
		}
		return
	}
	var otn string
	v3 := r.Method == http.MethodPost && r.URL.Path == NotifyPathV3
	notify := v3 || (r.Method == http.MethodPost && r.URL.Path == NotifyPath)
	if notify {
		if v3 {
			otn = openOutTradeNo(b.APIv3Key, body)
		} else {
			var n struct {
				OutTradeNo string `xml:"out_trade_no"`
			}
			_ = xml.Unmarshal(body, &n) // a malformed one is the instance's to refuse
			otn = n.OutTradeNo
		}
		if b.Notify != nil && !b.Notify(otn, body) {
			http.Error(w, "dropped by the balancer", http.StatusServiceUnavailable)
			return
		}
	}
	for _, u := range b.pick() {
		a := &attempt{target: u, path: r.URL.Path, notify: notify, v3: v3}
		if !b.try(ctx, w, r, body, a) {
			continue
		}
		if notify && b.Notified != nil {
			b.Notified(otn, a.acked)
		}
		return
	}
	http.Error(w, "no backend answered", http.StatusBadGateway)
	if notify && b.Notified != nil {
		b.Notified(otn, false)
	}
}

// try sends r, with body, through the proxy as attempt a. It reports
// false only when the backend refused the connection and nothing was
// written to w.
func (b *Balancer) try(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte, a *attempt) bool {
	req := r.Clone(context.WithValue(ctx, attemptKey{}, a))
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	b.proxy.ServeHTTP(w, req)
	return !a.refused
}

// rewrite points the outgoing request at the attempt's backend and path,
// keeping the query, with the backend's host as Host, and appends the
// client to X-Forwarded-For.
func rewrite(pr *httputil.ProxyRequest) {
	a := pr.In.Context().Value(attemptKey{}).(*attempt)
	pr.Out.URL.Scheme, pr.Out.URL.Host = a.target.Scheme, a.target.Host
	pr.Out.URL.Path, pr.Out.URL.RawPath = a.path, ""
	pr.Out.Host = ""
	pr.Out.Header.Del("Expect") // the body is already here
	if xff, ok := pr.In.Header["X-Forwarded-For"]; ok {
		pr.Out.Header["X-Forwarded-For"] = xff // SetXForwarded appends to it
	}
	pr.SetXForwarded()
}

// modifyResponse reads a notification's reply (bounded) to see whether
// the instance acknowledged it, and hands the same bytes on.
func modifyResponse(resp *http.Response) error {
	a := resp.Request.Context().Value(attemptKey{}).(*attempt)
	if !a.notify {
		return nil
	}
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if a.v3 {
		a.acked = (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent) && ackedV3(reply)
	} else {
		a.acked = resp.StatusCode == http.StatusOK && acked(reply)
	}
	resp.Body = io.NopCloser(bytes.NewReader(reply))
	resp.ContentLength = int64(len(reply))
	resp.Header.Del("Content-Length")
	return nil
}

// proxyError answers a failed attempt: a refused connection is only
// noted, for the next backend to be tried; anything else is a 502.
func proxyError(w http.ResponseWriter, r *http.Request, err error) {
	a := r.Context().Value(attemptKey{}).(*attempt)
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		a.refused = true
		return
	}
	http.Error(w, "backend failed", http.StatusBadGateway)
}

// acked reports whether a reply to a notification is SUCCESS.
func acked(reply []byte) bool {
	var v struct {
		ReturnCode string `xml:"return_code"`
	}
	return xml.Unmarshal(reply, &v) == nil && v.ReturnCode == "SUCCESS"
}

// ackedV3 reports whether the body of a 200 or 204 reply to a v3
// notification is a success: empty, or JSON whose code is not FAIL (v3
// takes the status as the answer; a body, if any, says
// {"code":"FAIL",…} only on failure).
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012791861
func ackedV3(reply []byte) bool {
	if len(bytes.TrimSpace(reply)) == 0 {
		return true
	}
	var v struct {
		Code string `json:"code"`
	}
	return json.Unmarshal(reply, &v) == nil && (v.Code == "" || v.Code == "SUCCESS")
}

// openOutTradeNo returns the out_trade_no sealed in a v3 notification's
// resource (AEAD_AES_256_GCM under key, with the resource's nonce and
// associated_data), or "" when key is not 32 bytes or the body is not
// such a notification, or does not open under key. Only the order's
// number leaves this function; the plaintext and the key do not. The
// body is bounded by maxBody, and nothing here verifies WeChat's
// signature: the instance does, and the number only matches a
// notification to the cycle that waits for it.
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012791861
func openOutTradeNo(key, body []byte) string {
	if len(key) != 32 {
		return ""
	}
	var n struct {
		Resource struct {
			Algorithm      string `json:"algorithm"`
			Ciphertext     string `json:"ciphertext"`
			AssociatedData string `json:"associated_data"`
			Nonce          string `json:"nonce"`
		} `json:"resource"`
	}
	if json.Unmarshal(body, &n) != nil || n.Resource.Algorithm != "AEAD_AES_256_GCM" {
		return ""
	}
	ct, err := base64.StdEncoding.DecodeString(n.Resource.Ciphertext)
	if err != nil {
		return ""
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return ""
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil || len(n.Resource.Nonce) != gcm.NonceSize() || len(ct) < gcm.Overhead() {
		return ""
	}
	plain, err := gcm.Open(nil, []byte(n.Resource.Nonce), ct, []byte(n.Resource.AssociatedData))
	if err != nil {
		return ""
	}
	var t struct {
		OutTradeNo string `json:"out_trade_no"`
	}
	if json.Unmarshal(plain, &t) != nil {
		return ""
	}
	return t.OutTradeNo
}
