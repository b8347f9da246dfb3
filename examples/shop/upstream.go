package shop

import (
	"errors"
	"strconv"
	"time"
)

// UpstreamKind says what a failed call to WeChat means for the client
// that caused it: whether anything may have happened at WeChat, and
// whether asking again can help.
type UpstreamKind int

// Kinds of upstream failure, each with one API error (see [UpstreamAPIError]).
const (
	// UpstreamUnknown: the request may have reached WeChat and its
	// answer was lost or could not be used (a timeout after connecting,
	// a reset, a gateway's page). WeChat may have acted on it; repeating
	// exactly the same request (same order, same Idempotency-Key) is
	// safe and tells. It is the kind of every failure nobody classified.
	UpstreamUnknown UpstreamKind = iota
	// UpstreamUnavailable: WeChat was provably not reached (the name did
	// not resolve, the connection was refused), or it answered that it
	// is busy and asked to be called again (SYSTEMERROR,
	// FREQUENCY_LIMITED, an HTTP 5xx). Nothing happened; try later.
	UpstreamUnavailable
	// UpstreamRefused: WeChat refused the request for good (a FAIL
	// answer such as a signature error, a business error such as
	// NOAUTH), its answer failed verification, or the request could not
	// even be formed. The same request fails the same way again, so the
	// client is never invited to retry it.
	UpstreamRefused
)

// UpstreamError is a failed call to WeChat, classified. Package app makes
// them from the libraries' typed errors; [UpstreamAPIError] turns them
// into what the client sees.
type UpstreamError struct {
	// Op is the WeChat endpoint, such as "unifiedorder".
	Op   string
	Kind UpstreamKind
	// Reason is a short text safe to show the client, such as WeChat's
	// documented err_code ("NOAUTH") or "answer failed signature
	// verification"; never WeChat's free text and never a secret. It may
	// be empty.
	Reason string
	// RetryAfter suggests when to try again (UpstreamUnavailable,
	// UpstreamUnknown); zero means a default.
	RetryAfter time.Duration
	// Err is the library's error, for logs and errors.Is/As.
	Err error
}

// Error describes the failure for logs (it never holds a secret: the
// libraries' errors do not).
func (e *UpstreamError) Error() string {
	s := "WeChat " + e.Op + " " + [...]string{"outcome unknown", "unavailable", "refused"}[e.kind()]
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the library's error.
func (e *UpstreamError) Unwrap() error { return e.Err }

func (e *UpstreamError) kind() UpstreamKind {
	if e.Kind < UpstreamUnknown || e.Kind > UpstreamRefused {
		return UpstreamUnknown
	}
	return e.Kind
}

// DefaultRetryAfter is the Retry-After of a retryable upstream failure
// that suggested none.
const DefaultRetryAfter = 5 * time.Second

// UpstreamAPIError is the one mapping from a failed WeChat call to the
// error the client sees. Every route that calls WeChat answers through
// it, so the same failure reads the same everywhere:
//
//   - refused: 502 upstream_refused, no Retry-After, with the safe
//     reason: repeating the same request fails the same way;
//   - unavailable: 503 upstream_unavailable with Retry-After;
//   - unknown: 502 upstream_outcome_unknown with Retry-After: repeat the
//     same request.
//
// An error that is not an [*UpstreamError] is treated as unknown, the
// cautious reading. what names the action for the message ("payment",
// "login", "refund ..."); retry says how the client repeats it safely.
func UpstreamAPIError(what, retry string, err error) *Error {
	ue := &UpstreamError{Kind: UpstreamUnknown}
	errors.As(err, &ue)
	after := ue.RetryAfter
	if after <= 0 {
		after = DefaultRetryAfter
	}
	reason := ""
	if ue.Reason != "" {
		reason = " (" + ue.Reason + ")"
	}
	switch ue.kind() {
	case UpstreamRefused:
		return Errorf(CodeUpstreamRefused, "WeChat refused the %s%s; repeating the same request will fail the same way", what, reason)
	case UpstreamUnavailable:
		e := Errorf(CodeUpstream, "WeChat is unavailable for the %s%s; nothing was done: try again in %s", what, reason, seconds(after))
		e.RetryAfter = after
		return e
	}
	e := Errorf(CodeUpstreamUnknown, "WeChat's answer to the %s was lost; it may have taken effect: %s", what, retry)
	e.RetryAfter = after
	return e
}

func seconds(d time.Duration) string {
	n := int((d + time.Second - 1) / time.Second)
	if n == 1 {
		return "1 second"
	}
	return strconv.Itoa(n) + " seconds"
}
