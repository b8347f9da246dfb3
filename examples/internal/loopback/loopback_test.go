package loopback

import (
	"net/url"
	"testing"
)

func TestAddr(t *testing.T) {
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8080", true},
		{"127.9.9.9:1", true},
		{"[::1]:8080", true},
		{"localhost:0", true},
		{":8080", false},
		{"0.0.0.0:8080", false},
		{"[::]:8080", false},
		{"192.168.1.2:80", false},
		{"localhost.example.com:80", false},
		{"127.0.0.1", false}, // no port: not a listen address
		{"", false},
	} {
		if got := Addr(tt.addr); got != tt.want {
			t.Errorf("Addr(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestURL(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want bool
	}{
		{"http://127.0.0.1:8090", true},
		{"https://localhost/x", true},
		{"http://[::1]", true},
		{"http://example.com", false},
		{"http://127.0.0.1.example.com", false},
		{"http://:80", false},
	} {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := URL(u); got != tt.want {
			t.Errorf("URL(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}
