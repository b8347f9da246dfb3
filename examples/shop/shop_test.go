package shop

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMulAddFen(t *testing.T) {
	tests := []struct {
		price, count int64
		want         int64
		ok           bool
	}{
		{1800, 2, 3600, true},
		{1, 1, 1, true},
		{math.MaxInt64, 1, math.MaxInt64, true},
		{math.MaxInt64, 2, 0, false},
		{1 << 32, 1 << 31, 0, false}, // 2^63 overflows
		{1 << 31, 1 << 31, 1 << 62, true},
		{0, 5, 0, false},
		{5, 0, 0, false},
		{-5, 2, 0, false},
		{5, -2, 0, false},
	}
	for _, tt := range tests {
		got, ok := mulFen(tt.price, tt.count)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("mulFen(%d, %d) = %d, %v; want %d, %v", tt.price, tt.count, got, ok, tt.want, tt.ok)
		}
	}
	if _, ok := addFen(math.MaxInt64, 1); ok {
		t.Error("addFen(MaxInt64, 1) did not overflow")
	}
	if got, ok := addFen(math.MaxInt64-1, 1); !ok || got != math.MaxInt64 {
		t.Errorf("addFen(MaxInt64-1, 1) = %d, %v", got, ok)
	}
	if _, ok := addFen(-1, 1); ok {
		t.Error("addFen accepted a negative amount")
	}
}

func TestFormatYuan(t *testing.T) {
	for fen, want := range map[int64]string{
		0: "¥0.00", 1: "¥0.01", 1800: "¥18.00", 123456: "¥1234.56", -250: "-¥2.50",
		math.MinInt64: "-¥92233720368547758.08",
	} {
		if got := FormatYuan(fen); got != want {
			t.Errorf("FormatYuan(%d) = %q, want %q", fen, got, want)
		}
	}
}

func TestCheckItems(t *testing.T) {
	many := make([]Item, MaxOrderLines+1)
	for i := range many {
		many[i] = Item{GoodsID: int64(i + 1), Count: 1}
	}
	tests := []struct {
		name  string
		items []Item
		ok    bool
	}{
		{"one", []Item{{101, 1}}, true},
		{"max count", []Item{{101, MaxCount}}, true},
		{"max lines", many[:MaxOrderLines], true},
		{"none", nil, false},
		{"too many lines", many, false},
		{"zero count", []Item{{101, 0}}, false},
		{"negative count", []Item{{101, -1}}, false},
		{"count over max", []Item{{101, MaxCount + 1}}, false},
		{"huge count", []Item{{101, math.MaxInt64}}, false},
		{"zero id", []Item{{0, 1}}, false},
		{"negative id", []Item{{-101, 1}}, false},
		{"duplicate", []Item{{101, 1}, {102, 1}, {101, 1}}, false},
	}
	for _, tt := range tests {
		err := checkItems(tt.items)
		var e *Error
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case !tt.ok && (!errors.As(err, &e) || e.Code != CodeInvalid):
			t.Errorf("%s: %v, want an invalid_request *Error", tt.name, err)
		}
	}
}

func TestOrderBody(t *testing.T) {
	lines := []Line{{Name: "美式咖啡"}, {Name: "拿铁"}}
	if got, want := orderBody("街角咖啡", lines), "街角咖啡-美式咖啡等2件"; got != want {
		t.Errorf("orderBody = %q, want %q", got, want)
	}
	if got := orderBody("a&b=c\n", lines[:1]); strings.ContainsAny(got, "&=\n") {
		t.Errorf("orderBody kept a separator: %q", got)
	}
	long := orderBody(strings.Repeat("店", 100), lines)
	if len(long) > 128 || !utf8.ValidString(long) {
		t.Errorf("orderBody of a long name: %d bytes, valid UTF-8 %v", len(long), utf8.ValidString(long))
	}
}

func TestNewOutTradeNo(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		n, err := newOutTradeNo()
		if err != nil {
			t.Fatal(err)
		}
		if len(n) != 32 || strings.Trim(n, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" || seen[n] {
			t.Fatalf("out_trade_no %q: want 32 fresh characters of [0-9A-Za-z]", n)
		}
		seen[n] = true
	}
}

func TestNewID(t *testing.T) {
	for range 1000 {
		if id := newID(); id < 1 || id >= 1<<53 {
			t.Fatalf("id %d outside [1, 2^53)", id)
		}
	}
}

func TestMayQuery(t *testing.T) {
	s := &Service{queried: NewLimiter(Rate{Every: queryInterval, Burst: 1}, maxMeteredKeys), userQueries: NewLimiter(UserQueryRate, maxMeteredKeys)}
	if !s.mayQuery(1, "A") || s.mayQuery(1, "A") {
		t.Fatal("the second query within the interval was allowed, or the first refused")
	}
	if !s.mayQuery(1, "B") {
		t.Fatal("another out_trade_no was refused")
	}
	// One user's budget runs out however many orders it polls; another
	// user's does not.
	n := 2
	for i := range 100 {
		if s.mayQuery(1, fmt.Sprint("U1-", i)) {
			n++
		}
	}
	if n != UserQueryRate.Burst {
		t.Errorf("user 1 got %d queries at once, want its burst of %d", n, UserQueryRate.Burst)
	}
	if !s.mayQuery(2, "C") {
		t.Error("another user was refused")
	}
}
