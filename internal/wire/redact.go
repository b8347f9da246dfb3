package wire

import (
	"fmt"
	"io"
	"strconv"
)

// The module has one way of keeping a secret out of printed values: a type
// that holds or describes one implements fmt.Formatter and slog.LogValuer
// on a value receiver, writing a text that never contains the secret
// ([Redacted] in its place, see [RedactedIf]), and keeps the secret itself
// behind [Sealed] so that reflection-based printing of an enclosing value
// meets only a pointer. [FormatRedacted] is the Formatter body for the
// types that tell their print verbs apart; the root package's and apiv3's
// Config, Client and key types print their text under every verb. URL
// errors get [RedactURL].

// RedactedIf is what a description shows for a secret field: [Redacted]
// when it is set, `""` when it is empty (so that a missing key can still
// be told apart from a present one).
func RedactedIf(set bool) string {
	if set {
		return Redacted
	}
	return `""`
}

// FormatRedacted writes text for the print verbs (%v, %s), its quoted form
// for %q and goSyntax for %#v; any other verb gets fmt's bad-verb form
// around text. It never sees a secret, only the redacted text, so no verb
// or flag can reveal one. It replaces miniprogram's formatRedacted.
func FormatRedacted(f fmt.State, verb rune, text, goSyntax string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, goSyntax)
	case verb == 'v' || verb == 's':
		_, _ = io.WriteString(f, text)
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(text))
	default:
		_, _ = fmt.Fprintf(f, "%%!%c(%s)", verb, text)
	}
}
