package wire

import (
	"context"
	"log/slog"
	"net/http"
)

// NotifyHandler is the HTTP skeleton every notification handler of the
// module shares, v2's (XML, the root package's NotifyHandler and
// RefundNotifyHandler) and v3's (JSON, apiv3's handlers): method check,
// bounded read, parse, callback, then exactly one answer, and refusals
// logged at Warn, rate-limited, never with the body or a secret. It
// replaces the root package's and apiv3's notifyHandler types; each
// generation supplies what differs as fields (its reading, parsing,
// answers and log attributes). A NotifyHandler is safe for concurrent
// use once built; its fields must not change afterwards.
type NotifyHandler[T any] struct {
	// Prefix begins log messages ("wxpay: ", "apiv3: ").
	Prefix string
	// Op names the handler in log records ("notify", "refundnotify", ...).
	Op string
	// Logger returns the logger at each record (so a later
	// slog.SetDefault takes effect).
	Logger func() *slog.Logger
	// Lim rate-limits refusal lines; set its Now.
	Lim Limiter

	// Read reads the body of r, bounded. tooLarge reports a body over the
	// cap (answered 413), any other error one that could not be read (400).
	Read func(w http.ResponseWriter, r *http.Request) (body []byte, tooLarge bool, err error)
	// Parse verifies and decodes a body; on failure it returns the status
	// of the answer (400, or 401 for a bad signature) with the reason.
	Parse func(r *http.Request, body []byte) (v T, status int, err error)
	// Fn is the caller's function; an error gives 500 so WeChat redelivers.
	Fn func(context.Context, T) error

	// Reasons logged for the refusals that happen before Parse.
	MethodReason, TooLargeReason, UnreadableReason string
	// Claims returns what a refused body claims to be, as log attributes
	// under names that say nobody vouched for them.
	Claims func(body []byte) []slog.Attr
	// FailedAttrs returns the attributes logged with Fn's error, from the
	// verified body and what Parse made of it; nil for none.
	FailedAttrs func(body []byte, v T) []slog.Attr

	// Success is the status and body of the answer after Fn returned nil.
	Success int
	// Replies maps each failure status to its fixed body.
	Replies map[int]string
	// Write sends the one answer.
	Write func(w http.ResponseWriter, status int, body string)
}

// ServeHTTP implements http.Handler.
func (h *NotifyHandler[T]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status := h.serve(w, r)
	// The only write of the answer: every path of serve returns here.
	body := h.Replies[status]
	if status == h.Success {
		body = h.Replies[SuccessReply]
	}
	h.Write(w, status, body)
}

// SuccessReply is the key of [NotifyHandler.Replies] holding the body of
// the success answer ("" for none).
const SuccessReply = 0

func (h *NotifyHandler[T]) serve(w http.ResponseWriter, r *http.Request) int {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refused(ctx, h.MethodReason, nil)
		return http.StatusMethodNotAllowed
	}
	body, tooLarge, err := h.Read(w, r)
	if err != nil {
		if tooLarge {
			h.refused(ctx, h.TooLargeReason, nil)
			return http.StatusRequestEntityTooLarge
		}
		h.refused(ctx, h.UnreadableReason, nil)
		return http.StatusBadRequest
	}
	v, status, err := h.Parse(r, body)
	if err != nil {
		// The error names a reason and at most a field name or offset;
		// it never holds a key, a signature or the body.
		h.refused(ctx, err.Error(), body)
		return status
	}
	if err := h.Fn(ctx, v); err != nil {
		attrs := []slog.Attr{slog.String("op", h.Op)}
		if h.FailedAttrs != nil {
			attrs = append(attrs, h.FailedAttrs(body, v)...)
		}
		attrs = append(attrs, slog.String("error", err.Error()))
		h.Logger().LogAttrs(ctx, slog.LevelError, h.Prefix+"notification handler failed; WeChat will redeliver", attrs...)
		return http.StatusInternalServerError
	}
	return h.Success
}

// refused logs a refused notification at Warn, so that an integration
// that is failing shows why in the default log: the reason, and what the
// body claims to be. The notify URL is public, so the lines are
// rate-limited, and the next line that gets through says how many were
// suppressed.
func (h *NotifyHandler[T]) refused(ctx context.Context, reason string, body []byte) {
	log := h.Logger()
	if !log.Enabled(ctx, slog.LevelWarn) {
		return
	}
	ok, suppressed := h.Lim.Allow()
	if !ok {
		return
	}
	attrs := make([]slog.Attr, 0, 5)
	attrs = append(attrs, slog.String("op", h.Op), slog.String("reason", reason))
	if body != nil {
		attrs = append(attrs, h.Claims(body)...)
	}
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", suppressed))
	}
	log.LogAttrs(ctx, slog.LevelWarn, h.Prefix+"notification refused", attrs...)
}
