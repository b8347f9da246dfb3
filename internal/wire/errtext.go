package wire

import (
	"fmt"
	"strings"
)

// Error texts of the module are built once. Each package's errors read
// "wxpay: ..." or "apiv3: ..." at the top, and an error that wraps
// another of the module's errors writes the cause's text without its
// prefix: the cause says what that is through [Text], rather than the
// wrapper cutting a prefix off the cause's Error (which silently broke
// whenever a text did not begin as expected).

// texter is implemented by the module's errors: Text is Error without
// the package prefix.
type texter interface{ Text() string }

// Text returns err's text without the package prefix for the module's own
// errors (those that implement Text() string, such as the ones
// [NewError] and [Errorf] make), and err.Error() for any other error.
func Text(err error) string {
	if t, ok := err.(texter); ok {
		return t.Text()
	}
	return err.Error()
}

// prefixed is an error of the module: a package prefix and a text.
type prefixed struct {
	prefix, text string
	err          error // what Errorf wrapped, for errors.Is and errors.As
}

func (e *prefixed) Error() string { return e.prefix + e.text }
func (e *prefixed) Text() string  { return e.text }
func (e *prefixed) Unwrap() error { return e.err }

// NewError returns an error whose text is prefix+text and whose [Text] is
// text: errors.New for the module's sentinels.
func NewError(prefix, text string) error { return &prefixed{prefix: prefix, text: text} }

// Errorf is fmt.Errorf for the module's errors: the text is
// prefix+fmt.Sprintf(format, args...) with the %w operands written by
// their [Text], and the error unwraps to what fmt.Errorf would.
func Errorf(prefix, format string, args ...any) error {
	shown := make([]any, len(args))
	for i, a := range args {
		if e, ok := a.(error); ok {
			a = textOnly{e}
		}
		shown[i] = a
	}
	inner := fmt.Errorf(format, args...)
	return &prefixed{prefix: prefix, text: fmt.Errorf(format, shown...).Error(), err: unwrapOnce(inner)}
}

// textOnly prints an error operand by its Text.
type textOnly struct{ err error }

func (t textOnly) Error() string { return Text(t.err) }

func unwrapOnce(err error) error {
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return u.Unwrap()
	case interface{ Unwrap() []error }:
		return err // several %w: keep fmt's error, which unwraps to all of them
	}
	return nil
}

// The texts of the errors v2 and v3 share in meaning, written once.

// RequestText is the text of a request refused before any I/O because a
// field breaks one of WeChat's rules ("unifiedorder: invalid out_trade_no:
// is longer than 32 characters"). The value is never repeated: it may be
// personal data.
func RequestText(op, field, reason string) string { return op + ": invalid " + field + ": " + reason }

// OutcomeUnknownText is the text of a call whose request may have reached
// WeChat but whose answer was lost: it says to retry with the same key.
func OutcomeUnknownText(op, key string, cause error) string {
	return op + ": outcome unknown, the request may have reached WeChat (retry with the same " +
		key + "): " + Text(cause)
}

// OneLineMax is how many bytes of a remote text [OneLine] keeps.
const OneLineMax = 256

// OneLine makes text from the network (WeChat's code and message, a
// Request-ID, a gateway's page) safe to put in an error or a log line:
// invalid UTF-8 becomes '?', each control character (C0 and DEL) a space,
// so that no line break or escape can forge a record, and the text is cut
// to [OneLineMax] bytes by [Truncate], since nothing bounds it otherwise.
// It is the one rule of the root package and apiv3.
func OneLine(s string) string {
	s = Truncate(strings.ToValidUTF8(s, "?"), OneLineMax)
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// RetryHint is appended to the text of a retryable error of an endpoint
// with an idempotency key, naming the key a retry must reuse.
func RetryHint(key string) string { return " (retryable: call again with the same " + key + ")" }
