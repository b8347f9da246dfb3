package api

import "testing"

// TestAddressKey: the metering key of a client address is its IPv4
// address, or its IPv6 /64 (one host's usual share), so that a host
// cannot get a fresh bucket per address of its /64.
func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:5000":                       "192.0.2.7",
		"[::ffff:192.0.2.7]:5000":              "192.0.2.7",
		"[2001:db8:1:2:aaaa::1]:443":           "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff:ffff:ffff:ffff]:1": "2001:db8:1:2::/64",
		"[2001:db8:1:3::1]:443":                "2001:db8:1:3::/64",
		"192.0.2.7":                            "192.0.2.7", // no port
		"not an address":                       "not an address",
		"":                                     "",
	} {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
}
