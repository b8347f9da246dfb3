package shop

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestLimiterBucket: a key gets its burst, then one call per Every, and
// is told how long to wait; keys do not share buckets.
func TestLimiterBucket(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := NewLimiter(Rate{Every: 2 * time.Second, Burst: 3}, 100)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("call %d of the burst refused", i+1)
		}
	}
	ok, after := l.Allow("a")
	if ok || after != 2*time.Second {
		t.Fatalf("past the burst: %v, retry after %v; want refused, 2s", ok, after)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key was refused")
	}
	now = now.Add(1500 * time.Millisecond)
	if ok, after := l.Allow("a"); ok || after != 500*time.Millisecond {
		t.Fatalf("after 1.5s: %v, %v; want refused, 0.5s", ok, after)
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("after 2s: refused")
	}
	now = now.Add(time.Hour)
	for i := range 4 {
		if ok, _ := l.Allow("a"); ok != (i < 3) {
			t.Fatalf("after an hour, call %d: %v; the bucket must refill to its burst only", i+1, ok)
		}
	}
	if ok, _ := NewLimiter(Rate{}, 1).Allow("x"); ok {
		t.Error("the zero Rate allowed a call")
	}
}

// TestLimiterTimeOrder: a call that reads an older time than the bucket's
// (a caller overtaken on its way to the lock, or a clock stepping back)
// refills nothing and does not move the bucket's time back, so the same
// interval is never refilled twice. Under load the limiter once let 526
// logins through where 509 were allowed, and 1109 where 988 were.
func TestLimiterTimeOrder(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	now := t0
	l := NewLimiter(Rate{Every: time.Second, Burst: 10}, 1)
	l.now = func() time.Time { return now }
	allowed := func() (n int) {
		for {
			if ok, _ := l.Allow(""); !ok {
				return n
			}
			n++
		}
	}
	if n := allowed(); n != 10 {
		t.Fatalf("the burst gave %d", n)
	}
	now = t0.Add(5 * time.Second)
	if ok, _ := l.Allow(""); !ok {
		t.Fatal("5 s later: refused")
	}
	now = t0 // behind the bucket's time
	if ok, _ := l.Allow(""); !ok {
		t.Fatal("a call with an older time took none of the 4 tokens left")
	}
	now = t0.Add(5 * time.Second)
	if n := allowed(); n != 3 {
		t.Errorf("back at +5 s, %d calls were allowed; want the 3 tokens left (5 s refilled once)", n)
	}
}

// TestLimiterBounded: however many keys call, the table keeps at most its
// bound, drops the least recently used one, and still meters the keys it
// keeps.
func TestLimiterBounded(t *testing.T) {
	l := NewLimiter(Rate{Every: time.Hour, Burst: 1}, 1000)
	l.Allow("victim")
	for i := range 100_000 {
		l.Allow(fmt.Sprint("user-", i))
		if i%250 == 0 {
			if ok, _ := l.Allow("victim"); ok {
				t.Fatal("a recently used key was dropped and refilled")
			}
		}
		if n := l.Len(); n > 1000 {
			t.Fatalf("%d keys after %d callers, bound 1000", n, i+1)
		}
	}
	if ok, _ := l.Allow("user-99999"); ok {
		t.Error("the newest key was refilled")
	}
	if ok, _ := l.Allow("user-0"); !ok {
		t.Error("the oldest key was not dropped (it would still be empty)")
	}
}

func TestCheckLoginCode(t *testing.T) {
	for code, ok := range map[string]bool{
		"081Kq4Ga1DqPTF0OmUIa1s7Ytn0Kq4GN":  true, // the shape of wx.login's codes
		"not-a-code":                        true,
		"abc_DEF-0123":                      true,
		strings.Repeat("a", MaxLoginCode):   true,
		"":                                  false,
		"short":                             false,
		strings.Repeat("a", MaxLoginCode+1): false,
		"with space 0123":                   false,
		"semi;colon0123":                    false,
		"quote'0123456":                     false,
		"percent%20abc":                     false,
		"plus+slash/0=":                     false,
		"newline\n0123456":                  false,
		"nul\x000123456":                    false,
		"中文登录码中文登录码":                        false,
	} {
		if err := CheckLoginCode(code); (err == nil) != ok {
			t.Errorf("CheckLoginCode(%q) = %v, want ok %v", code, err, ok)
		} else if err != nil && ErrorCode(err) != CodeInvalid {
			t.Errorf("CheckLoginCode(%q) = %v, want invalid_request", code, err)
		}
	}
}

// FuzzCheckLoginCode: an accepted code has the documented shape, checked
// here independently; never a panic.
func FuzzCheckLoginCode(f *testing.F) {
	for _, s := range []string{"081Kq4Ga1DqPTF0OmUIa1s7Ytn0Kq4GN", "", "a b", "x\x00", "ÿÿÿÿÿÿÿÿ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		if CheckLoginCode(code) != nil {
			return
		}
		if len(code) < MinLoginCode || len(code) > MaxLoginCode ||
			strings.Trim(code, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-") != "" {
			t.Fatalf("accepted %q", code)
		}
	})
}
