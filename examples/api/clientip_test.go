package api

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 127.0.0.1, 10.1.2.3/8 ,::1,::ffff:192.0.2.1,")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1/32", "10.0.0.0/8", "::1/128", "192.0.2.1/32"}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("%d: %v; want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"localhost", "10.0.0.0/33", "1.2.3", "fe80::1%eth0", "127.0.0.1;10.0.0.1", "*"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if p, err := ParseTrustedProxies(""); err != nil || p != nil {
		t.Errorf("empty: %v %v", p, err)
	}
}

// TestClientIP: X-Forwarded-For counts only from a trusted proxy, and then
// only its rightmost untrusted entry: what the client wrote itself, left
// of it, is never believed.
func TestClientIP(t *testing.T) {
	trusted, _ := ParseTrustedProxies("127.0.0.1,10.0.0.0/8")
	for _, tt := range []struct {
		name, remote string
		xff          []string
		trusted      []netip.Prefix
		want         string
	}{
		{"direct", "203.0.113.7:5555", nil, trusted, "203.0.113.7"},
		{"spoofed from an untrusted peer", "203.0.113.7:5555", []string{"198.51.100.1"}, trusted, "203.0.113.7"},
		{"no trusted proxies", "127.0.0.1:5555", []string{"198.51.100.1"}, nil, "127.0.0.1"},
		{"through a trusted proxy", "127.0.0.1:5555", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"client-written entries left of the proxy's", "127.0.0.1:5555", []string{"6.6.6.6, 198.51.100.1"}, trusted, "198.51.100.1"},
		{"two trusted hops", "127.0.0.1:5555", []string{"198.51.100.1, 10.0.0.5"}, trusted, "198.51.100.1"},
		{"several header lines", "127.0.0.1:5555", []string{"6.6.6.6", "198.51.100.1"}, trusted, "198.51.100.1"},
		{"malformed entry", "127.0.0.1:5555", []string{"198.51.100.1, not-an-ip"}, trusted, "127.0.0.1"},
		{"empty entry", "127.0.0.1:5555", []string{"198.51.100.1,"}, trusted, "127.0.0.1"},
		{"trusted proxy without the header", "127.0.0.1:5555", nil, trusted, "127.0.0.1"},
		{"all hops trusted", "127.0.0.1:5555", []string{"10.0.0.9"}, trusted, "10.0.0.9"},
		{"IPv4-mapped peer", "[::ffff:127.0.0.1]:5555", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"IPv6 client", "127.0.0.1:5555", []string{"2001:db8::1"}, trusted, "2001:db8::1"},
		{"zone dropped", "127.0.0.1:5555", []string{"fe80::1%eth0"}, trusted, "fe80::1"},
		{"port in the header", "127.0.0.1:5555", []string{"198.51.100.1:80"}, trusted, "127.0.0.1"},
		{"no port on the peer", "203.0.113.7", nil, trusted, "203.0.113.7"},
	} {
		r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := ClientIP(r, tt.trusted); got != tt.want {
			t.Errorf("%s: %q; want %q", tt.name, got, tt.want)
		}
	}
}

// FuzzClientIP: any header gives a parseable address or the peer as it
// is, never a panic, and an untrusted peer is never overridden.
func FuzzClientIP(f *testing.F) {
	f.Add("127.0.0.1:1", "198.51.100.1, 10.0.0.1")
	f.Add("203.0.113.7:1", "1.1.1.1")
	f.Add("[::1]:1", "::ffff:1.2.3.4,,%")
	trusted, _ := ParseTrustedProxies("127.0.0.1,::1,10.0.0.0/8")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}}}
		got := ClientIP(r, trusted)
		a, err := netip.ParseAddr(got)
		if err != nil {
			return // a peer that is not an address is passed on as it is
		}
		r.Header.Del("X-Forwarded-For")
		if peer := ClientIP(r, trusted); !trustedAddr(a, trusted) && peer != got {
			if p, err := netip.ParseAddr(peer); err == nil && !trustedAddr(p, trusted) {
				t.Fatalf("untrusted peer %q overridden by %q", peer, got)
			}
		}
	})
}
