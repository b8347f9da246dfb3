// Package loopback answers one question for the example programs: does
// this address stay on this machine? The fake WeChat pays orders for free,
// so fake mode, the shared fake and the load generator refuse to talk to or
// listen on anything else.
package loopback

import (
	"net"
	"net/url"
)

// Host reports whether host (a name or an IP, without port or brackets) is
// "localhost" or a loopback IP such as 127.0.0.1 or ::1. Other names are
// not resolved: a name that merely resolves to loopback today is refused.
func Host(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr reports whether addr, a host:port such as a listen address, is on
// loopback. An address without a host (":8080", every interface) is not.
func Addr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && Host(host)
}

// URL reports whether u's host is on loopback. It checks the host only:
// scheme, path and query are each caller's to restrict.
func URL(u *url.URL) bool { return Host(u.Hostname()) }
