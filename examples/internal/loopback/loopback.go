// Package loopback answers one question for the example programs: does
// this address stay on this machine? The fake WeChat pays orders for free,
// so fake mode, the shared fake and the load generator refuse to talk to or
// listen on anything else.
package loopback

import (
	"net"
	"net/url"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// Host reports whether host (a name or an IP, without port or brackets) is
// "localhost" or a loopback IP such as 127.0.0.1 or ::1. Other names are
// not resolved: a name that merely resolves to loopback today is refused.
//
// It is the library's one loopback rule (the wxpay tool's notify and fake
// use it too), so the example and the tool never disagree.
func Host(host string) bool { return wire.LoopbackHost(host) }

// Addr reports whether addr, a host:port such as a listen address, is on
// loopback. An address without a host (":8080", every interface) is not.
func Addr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && Host(host)
}

// URL reports whether u's host is on loopback. It checks the host only:
// scheme, path and query are each caller's to restrict.
func URL(u *url.URL) bool { return Host(u.Hostname()) }
