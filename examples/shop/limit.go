package shop

import (
	"container/list"
	"sync"
	"time"
)

// Rate is a token bucket's rule: Burst calls at once, then one more each
// Every. The zero Rate allows nothing; use [Unlimited] for no limit.
type Rate struct {
	Every time.Duration
	Burst int
}

// Unlimited is a Rate that never refuses, for load tests on loopback.
var Unlimited = Rate{Every: time.Nanosecond, Burst: 1 << 30}

// Limiter meters calls by key (a client address, a user id, an
// out_trade_no): a token bucket per key, in a table of at most a fixed
// number of keys. When the table is full the least recently used key is
// dropped, so that no caller can grow it without bound or, by filling it,
// lock others out; a dropped key starts again with a full bucket, which
// errs on the side of the caller, and the global limits bound the total.
// Its methods are safe for concurrent use.
//
// Limits hold per process: several instances each apply their own.
type Limiter struct {
	rate    Rate
	maxKeys int
	now     func() time.Time

	mu   sync.Mutex
	lru  *list.List // of *bucket, most recently used first
	keys map[string]*list.Element
}

type bucket struct {
	key    string
	tokens float64
	at     time.Time // when tokens was computed
}

// NewLimiter returns a Limiter applying r to each key, remembering at
// most maxKeys keys (at least 1).
func NewLimiter(r Rate, maxKeys int) *Limiter {
	return &Limiter{rate: r, maxKeys: max(maxKeys, 1), now: time.Now, lru: list.New(), keys: map[string]*list.Element{}}
}

// Allow takes one call from key's bucket. When the bucket is empty it
// takes nothing and returns false and how long until a call is allowed.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l.rate.Burst <= 0 || l.rate.Every <= 0 {
		return false, time.Hour
	}
	// now is read under the lock: read before it, a caller that waited
	// could carry an older time in after a newer one, and the refill
	// between the two would then be counted twice.
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var b *bucket
	if e, found := l.keys[key]; found {
		l.lru.MoveToFront(e)
		b = e.Value.(*bucket)
		if el := now.Sub(b.at); el > 0 {
			// A clock that steps back refills nothing, and b.at never
			// moves back with it.
			b.tokens = min(float64(l.rate.Burst), b.tokens+float64(el)/float64(l.rate.Every))
			b.at = now
		}
	} else {
		if l.lru.Len() >= l.maxKeys {
			old := l.lru.Back()
			l.lru.Remove(old)
			delete(l.keys, old.Value.(*bucket).key)
		}
		b = &bucket{key: key, tokens: float64(l.rate.Burst), at: now}
		l.keys[key] = l.lru.PushFront(b)
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(l.rate.Every))
}

// Len is how many keys the table holds.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// Login code bounds. WeChat documents no format for wx.login's code: the
// codes it hands out are 32 characters of [0-9A-Za-z] (and the fake's
// too), so these bounds are loose on purpose, to refuse only what cannot
// be a code, before it costs a code2session call.
const (
	MinLoginCode = 8
	MaxLoginCode = 128
)

// CheckLoginCode refuses a login code that cannot be one of wx.login's:
// shorter than MinLoginCode, longer than MaxLoginCode, or with a
// character outside [0-9A-Za-z_-].
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/api/open-api/login/wx.login.html
func CheckLoginCode(code string) error {
	ok := len(code) >= MinLoginCode && len(code) <= MaxLoginCode
	for i := 0; ok && i < len(code); i++ {
		c := code[i]
		ok = '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_' || c == '-'
	}
	if !ok {
		return Errorf(CodeInvalid, "code must be %d to %d letters, digits, '_' or '-', as wx.login gives", MinLoginCode, MaxLoginCode)
	}
	return nil
}
