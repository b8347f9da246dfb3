package api

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how far X-Forwarded-For is walked: a chain of
// proxies is a few hops, and the header is attacker-controlled.
const maxForwardedHops = 32

// ParseTrustedProxies reads TRUSTED_PROXIES: comma-separated IP addresses
// or CIDR prefixes of the reverse proxies in front of the server, such as
// "127.0.0.1,10.0.0.0/8". Only a request coming from one of them has its
// X-Forwarded-For read. "" trusts none.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			return nil, errors.New("TRUSTED_PROXIES must be comma-separated IP addresses or CIDR prefixes, such as 127.0.0.1,10.0.0.0/8")
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func trustedAddr(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the address of the client that made r, for
// spbill_create_ip: the connection's peer, unless the peer is a trusted
// proxy; then X-Forwarded-For is read from the right (each proxy appends
// the address it saw), skipping trusted proxies, and the first address
// that is not one is the client. Anything left of it was written by the
// client and may be forged, so it is never read; a malformed entry met
// before it stops the walk at the peer. With no trusted proxies
// X-Forwarded-For is ignored.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap().WithZone("")
	if !trustedAddr(peer, trusted) {
		return peer.String()
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i, n := len(hops)-1, 0; i >= 0 && n < maxForwardedHops; i, n = i-1, n+1 {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer.String()
		}
		client = a.Unmap().WithZone("")
		if !trustedAddr(client, trusted) {
			return client.String()
		}
	}
	// Every hop is a trusted proxy: the leftmost one read is the client.
	return client.String()
}
