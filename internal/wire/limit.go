package wire

import (
	"sync"
	"time"
)

// Refusal log lines of the public notify endpoints are rate-limited by a
// [Limiter]: a burst of LimiterBurst, then one line every LimiterEvery.
const (
	LimiterBurst = 10
	LimiterEvery = 6 * time.Second // 10 lines a minute once the burst is spent
)

// Limiter is a token bucket for log lines about refused input from the
// network (a notify URL is public, so whoever finds it could otherwise
// flood the log). It counts what it drops, so that the next line that
// gets through can say how many were suppressed. Now must be set; the
// zero value is otherwise ready, and a Limiter is safe for concurrent use.
type Limiter struct {
	Now func() time.Time

	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed int
}

// Allow reports whether a line may be logged now, and how many were
// suppressed since the last one that was.
func (l *Limiter) Allow() (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	if l.last.IsZero() {
		l.tokens = LimiterBurst
	} else if d := now.Sub(l.last); d > 0 {
		l.tokens = min(LimiterBurst, l.tokens+float64(d)/float64(LimiterEvery))
	}
	l.last = now
	if l.tokens < 1 {
		l.suppressed++
		return false, 0
	}
	l.tokens--
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

// Sealed holds a secret (a key) behind a second pointer, so that fmt can
// never print it. fmt's error path for a verb that does not fit a pointer
// (%s, %q, %t, ...) prints the pointee of a pointer it meets at any
// depth, but only one level deep, and prints pointers below that as
// addresses; methods (String, Format) are not called on values reached
// through unexported fields. One pointer would show the key under %s; two
// show an address. Struct fields that hold key material have type
// *Sealed[T], never T or *T.
type Sealed[T any] struct{ p *T }

// Seal returns v behind two pointers.
func Seal[T any](v T) *Sealed[T] { return &Sealed[T]{p: &v} }

// Open returns the secret.
func (s *Sealed[T]) Open() *T { return s.p }
