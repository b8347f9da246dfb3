package wire

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// LoopbackIP is the one loopback rule of the module (the CLI's notify URL
// and dialer, doctor's probe, fake's listener, wxpaytest's server):
// 127.0.0.0/8 or ::1. The unspecified address (0.0.0.0, ::) is not
// loopback: listening on it listens everywhere.
func LoopbackIP(ip net.IP) bool { return ip.IsLoopback() }

// LoopbackHost reports whether host (no port) is "localhost" in any case
// or a loopback IP under [LoopbackIP]. Other names are not looked up: a
// caller that must refuse a name resolving elsewhere checks the dialled
// address too (or uses [CheckLoopbackListen]).
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && LoopbackIP(ip)
}

// CheckLoopbackListen returns nil when addr ("host:port") names loopback
// only: an IP such as 127.0.0.1 or ::1, "localhost", or a name all of
// whose addresses are loopback (looked up with lookup, within 5 seconds).
// An empty host (":port"), 0.0.0.0 and [::] listen on every interface and
// are refused, as is a name that resolves elsewhere or not at all. The
// error texts begin with what, the name of the setting addr came from
// (a flag such as "-addr").
func CheckLoopbackListen(ctx context.Context, what, addr string, lookup func(context.Context, string) ([]net.IPAddr, error)) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s: %v", what, err)
	}
	if host == "" {
		return fmt.Errorf("%s %s listens on every interface, not only loopback", what, addr)
	}
	if ip := net.ParseIP(host); ip != nil {
		if !LoopbackIP(ip) {
			return fmt.Errorf("%s %s is not loopback", what, addr)
		}
		return nil
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := lookup(rctx, host)
	if err != nil {
		return fmt.Errorf("%s: cannot tell whether %s is loopback: %v", what, host, err)
	}
	if len(ips) == 0 {
		return fmt.Errorf("%s: %s has no address", what, host)
	}
	for _, ip := range ips {
		if !LoopbackIP(ip.IP) {
			return fmt.Errorf("%s %s resolves to %s, which is not loopback", what, host, ip.IP)
		}
	}
	return nil
}
