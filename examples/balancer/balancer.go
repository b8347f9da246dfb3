// Package balancer is a small round-robin reverse proxy for running
// several instances of the example server side by side on loopback, in
// tests and under the load generator: what a load balancer in front of a
// real deployment does, reduced to what those need. Every request goes to
// the next instance in turn, so one user's login, order, payment and the
// payment notification usually land on different instances, which is the
// point: the instances share nothing but the database.
//
// WeChat Pay's notifications (POST /orders/pay/notify, see
// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7) pass
// through it like any request; [Balancer.Notify] and [Balancer.Notified]
// let a test or the load generator watch them, or drop one on purpose as
// WeChat sometimes does. Requests under /fake/ go to a standalone fake
// WeChat (wxpay fake), so that a client written for one server in fake
// mode works unchanged against several.
package balancer

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// NotifyPath is where the example server takes WeChat's payment
// notifications.
const NotifyPath = "/orders/pay/notify"

// maxBody bounds every body the balancer reads, both ways.
const maxBody = 4 << 20

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

	fake   *url.URL
	client *http.Client

	mu       sync.Mutex
	backends []*url.URL
	next     int
}

// New returns a Balancer over the backends (http://host:port origins).
// fake, if not empty, is the standalone fake WeChat that /fake/ leads to.
func New(fake string, backends ...string) (*Balancer, error) {
	b := &Balancer{client: &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute},
	}}
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
func (b *Balancer) CloseIdleConnections() { b.client.CloseIdleConnections() }

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

// ServeHTTP forwards r. A backend that refuses the connection (the
// request never reached it) is skipped for the next one; any other failure
// is a 502, since the request may have been served.
func (b *Balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	if b.fake != nil && strings.HasPrefix(r.URL.Path, "/fake/") {
		u := *b.fake
		b.forward(w, r, &u, strings.TrimPrefix(r.URL.Path, "/fake"), body)
		return
	}
	var otn string
	notify := r.Method == http.MethodPost && r.URL.Path == NotifyPath
	if notify {
		var n struct {
			OutTradeNo string `xml:"out_trade_no"`
		}
		_ = xml.Unmarshal(body, &n) // a malformed one is the instance's to refuse
		otn = n.OutTradeNo
		if b.Notify != nil && !b.Notify(otn, body) {
			http.Error(w, "dropped by the balancer", http.StatusServiceUnavailable)
			return
		}
	}
	for _, u := range b.pick() {
		status, reply, ok := b.forward(w, r, u, r.URL.Path, body)
		if !ok {
			continue
		}
		if notify && b.Notified != nil {
			b.Notified(otn, status == http.StatusOK && acked(reply))
		}
		return
	}
	http.Error(w, "no backend answered", http.StatusBadGateway)
	if notify && b.Notified != nil {
		b.Notified(otn, false)
	}
}

// forward sends the request to u and copies the answer to w. ok is false
// only when the connection was refused and nothing was written.
func (b *Balancer) forward(w http.ResponseWriter, r *http.Request, u *url.URL, path string, body []byte) (status int, reply []byte, ok bool) {
	target := *u
	target.Path = path
	target.RawQuery = r.URL.RawQuery
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return http.StatusBadRequest, nil, true
	}
	for k, v := range r.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Te", "Trailer", "Expect":
			continue
		}
		req.Header[k] = v
	}
	resp, err := b.client.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return 0, nil, false
		}
		http.Error(w, "backend failed", http.StatusBadGateway)
		return http.StatusBadGateway, nil, true
	}
	defer resp.Body.Close()
	reply, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		http.Error(w, "backend failed", http.StatusBadGateway)
		return http.StatusBadGateway, nil, true
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(reply)
	return resp.StatusCode, reply, true
}

// acked reports whether a reply to a notification is SUCCESS.
func acked(reply []byte) bool {
	var v struct {
		ReturnCode string `xml:"return_code"`
	}
	return xml.Unmarshal(reply, &v) == nil && v.ReturnCode == "SUCCESS"
}
