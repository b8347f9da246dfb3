package apiv3

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// MaxNotificationBytes caps the body of a notification that
// [Client.ParseNotification] and [Client.NotificationHandler] read. A real
// notification is one or two kilobytes (the encrypted resource is most of
// it); notify_url is public, so the cap bounds what anyone can make the
// server buffer.
const MaxNotificationBytes = 64 << 10

// AlgorithmAEADAES256GCM is the only resource algorithm WeChat uses for
// notifications with RSA signatures (resource.algorithm), and the only one
// accepted: AES-256-GCM under the 32-byte APIv3 key.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3_partner/wechatpay/wechatpay4_2.shtml
const AlgorithmAEADAES256GCM = "AEAD_AES_256_GCM"

// Notification failures other than those of the signature (which match
// [ErrSignature]), of decryption ([ErrDecrypt]) and of the JSON decoder
// ([ErrJSON]).
var (
	// ErrNotification means a signed body is not a WeChat Pay
	// notification: id, create_time, event_type or the resource
	// (ciphertext, nonce) is missing or malformed. Errors of this kind
	// match it under errors.Is and name the field.
	ErrNotification = wire.NewError("apiv3: ", "not a valid notification")
	// ErrNotificationMethod means the request is not a POST, the only
	// method WeChat uses for notifications.
	ErrNotificationMethod = wire.NewError("apiv3: ", "notification must be POST")
	// ErrNotificationTooLarge means the body is longer than
	// [MaxNotificationBytes]; it was not read past the cap.
	ErrNotificationTooLarge = wire.NewError("apiv3: ", "notification body too large")
	// ErrAlgorithm means resource.algorithm is not
	// [AlgorithmAEADAES256GCM]. It is checked after the signature, so it
	// only ever reports what WeChat itself sent (for example SM4 from a
	// merchant set up for China's national algorithms, which this package
	// does not speak).
	ErrAlgorithm = wire.NewError("apiv3: ", "unsupported resource algorithm")
)

// notificationError is an [ErrNotification] naming the offending field.
type notificationError struct{ field string }

func (e *notificationError) Error() string { return "apiv3: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *notificationError) Text() string {
	return wire.Text(ErrNotification) + ": missing or malformed " + e.field
}

func (e *notificationError) Is(target error) bool { return target == ErrNotification }

// Notification is a verified, decrypted WeChat Pay API v3 notification
// (回调通知): the outer event, whose signature matched and whose timestamp
// was within five minutes of the client's clock, and the plaintext of its
// resource, opened under the APIv3 key.
//
// What the plaintext is depends on EventType: for TRANSACTION.SUCCESS it
// is the transaction (订单), for REFUND.SUCCESS, REFUND.ABNORMAL and
// REFUND.CLOSED the refund. Read it with [Notification.Decode]. A genuine
// notification may be a redelivery: handle ID and the business object
// idempotently, and check that the plaintext's mchid (and appid) are
// yours and its amount equals your order before acting on it.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012791861
type Notification struct {
	// ID is the notification's unique id (id), the same across
	// redeliveries of one event.
	ID string
	// CreateTime is when WeChat created the notification (create_time).
	CreateTime time.Time
	// EventType says what happened, such as "TRANSACTION.SUCCESS" or
	// "REFUND.SUCCESS" (event_type).
	EventType string
	// ResourceType is "encrypt-resource" for encrypted resources
	// (resource_type).
	ResourceType string
	// Summary is WeChat's short human description, such as "支付成功"
	// (summary). Do not act on it.
	Summary string
	// OriginalType names the kind of object that was encrypted, such as
	// "transaction" or "refund" (resource.original_type).
	OriginalType string
	// Plaintext is the decrypted resource, JSON as WeChat sent it. It
	// holds personal data (openid, amounts): do not log it.
	Plaintext []byte
}

// LogValue makes slog show the event without its plaintext, which holds
// personal data (openid, amounts, sometimes names): id, event_type,
// resource_type, original_type, create_time and the plaintext's length.
func (n *Notification) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", n.ID),
		slog.String("event_type", n.EventType),
		slog.String("resource_type", n.ResourceType),
		slog.String("original_type", n.OriginalType),
		slog.Time("create_time", n.CreateTime),
		slog.Int("plaintext_bytes", len(n.Plaintext)),
	)
}

// Decode decodes the plaintext into v with the same hardened decoder as
// every answer: duplicate keys, non-integer amounts, excessive nesting
// and invalid UTF-8 are refused ([ErrJSON]), unknown fields are ignored.
// The plaintext was authenticated by AES-GCM, but two parsers that read
// one text differently must still never see two different messages.
func (n *Notification) Decode(v any) error { return decodeJSON(n.Plaintext, v) }

// notificationBody is the outer JSON of a notification.
type notificationBody struct {
	ID string `json:"id"`
	// CreateTime is parsed after decoding: a string field keeps
	// encoding/json off its slower Unmarshaler path, which for a
	// notification costs more than the rest of the outer decode.
	CreateTime   string `json:"create_time"`
	EventType    string `json:"event_type"`
	ResourceType string `json:"resource_type"`
	Summary      string `json:"summary"`
	Resource     *struct {
		OriginalType   string `json:"original_type"`
		Algorithm      string `json:"algorithm"`
		Ciphertext     string `json:"ciphertext"`
		AssociatedData string `json:"associated_data"`
		Nonce          string `json:"nonce"`
	} `json:"resource"`
}

// ParseNotification reads, verifies and decrypts the notification WeChat
// POSTed to notify_url. The checks run in this order, and nothing of the
// body is parsed before the signature has passed:
//
//  1. the method must be POST ([ErrNotificationMethod]);
//  2. the body is read up to [MaxNotificationBytes]
//     ([ErrNotificationTooLarge]; never more than one byte past the cap
//     is read);
//  3. the Wechatpay-Serial, -Signature, -Timestamp and -Nonce headers
//     must verify over the exact bytes received, with the WeChat key
//     Wechatpay-Serial names, within five minutes of the client's clock
//     either way (a replay later than that is refused); the
//     WECHATPAY/SIGNTEST/ probes WeChat sends fail like any forgery, and
//     a Wechatpay-Signature-Type other than WECHATPAY2-SHA256-RSA2048
//     (when present) is refused. All of these match [ErrSignature];
//  4. the body is decoded by the hardened decoder ([ErrJSON]) and must
//     carry id, create_time (RFC 3339), event_type and a resource
//     ([ErrNotification]);
//  5. resource.algorithm must be AEAD_AES_256_GCM ([ErrAlgorithm]);
//  6. the resource is opened with AES-256-GCM under the APIv3 key, its
//     nonce and associated_data. Every failure of this step is the one
//     error [ErrDecrypt], so that nothing is learnt from which check
//     failed.
//
// r.Body is consumed and not closed (the HTTP server closes it). Most
// applications mount [Client.NotificationHandler] instead, which answers
// WeChat as it requires.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012791861
func (c *Client) ParseNotification(r *http.Request) (*Notification, error) {
	if r.Method != http.MethodPost {
		return nil, ErrNotificationMethod
	}
	if r.Body == nil {
		return c.ParseNotificationBody(r.Context(), r.Header, nil)
	}
	body, err := readNotification(r.Body, r.ContentLength)
	if err != nil {
		return nil, err
	}
	return c.ParseNotificationBody(r.Context(), r.Header, body)
}

// readNotification reads a notification body of at most
// MaxNotificationBytes, reading no more than one byte past the cap. A
// Content-Length within the cap sizes the buffer in one allocation (it is
// only a hint: the cap is enforced on what is read, not on what the
// header says).
func readNotification(r io.Reader, contentLength int64) ([]byte, error) {
	if r == nil {
		// A hand-built request, or a middleware that dropped the
		// body: an empty body, refused by the checks that follow.
		return nil, nil
	}
	size := int64(512)
	if contentLength > 0 && contentLength <= MaxNotificationBytes {
		size = contentLength + 1 // room to see EOF without growing
	}
	b := make([]byte, 0, size)
	lr := io.LimitReader(r, MaxNotificationBytes+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > MaxNotificationBytes {
			return nil, ErrNotificationTooLarge
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, &readError{err}
		}
	}
}

// readError is a failure to read a notification body (the connection
// broke, or an http.MaxBytesReader the caller installed tripped); it
// wraps the reader's error.
type readError struct{ err error }

func (e *readError) Error() string { return "apiv3: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *readError) Text() string  { return "reading the notification body: " + wire.Text(e.err) }
func (e *readError) Unwrap() error { return e.err }

// ParseNotificationBody is [Client.ParseNotification] for a notification
// already read: its headers (Wechatpay-*) and its exact body bytes, for
// example taken from a queue in front of the application. It runs
// checks 3 to 6 of ParseNotification; the five-minute window is measured
// against the client's clock now, so verify soon after receipt.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012791861
func (c *Client) ParseNotificationBody(ctx context.Context, header http.Header, body []byte) (*Notification, error) {
	if len(body) > MaxNotificationBytes {
		return nil, ErrNotificationTooLarge
	}
	// Verify first, decode after: an unauthenticated body never reaches
	// the JSON decoder, and the bytes verified are the bytes decoded.
	if err := c.verifySignature(ctx, header, body); err != nil {
		return nil, err
	}
	return openNotificationBody(c.apiV3Key, body)
}

// openNotificationBody runs checks 4 to 6 of ParseNotification on a body
// whose signature has been verified: decode, check the fields, open the
// resource under key.
func openNotificationBody(key apiV3Key, body []byte) (*Notification, error) {
	// decodeEnvelope is decodeJSON into notificationBody, in one pass.
	nb, err := decodeEnvelope(body)
	if err != nil {
		return nil, err
	}
	created, terr := time.Parse(time.RFC3339Nano, nb.createTime)
	switch {
	case nb.id == "":
		return nil, &notificationError{"id"}
	case terr != nil:
		return nil, &notificationError{"create_time"}
	case nb.eventType == "":
		return nil, &notificationError{"event_type"}
	case !nb.hasResource:
		return nil, &notificationError{"resource"}
	case string(nb.algorithm) != AlgorithmAEADAES256GCM:
		return nil, ErrAlgorithm
	case len(nb.ciphertext) == 0:
		return nil, &notificationError{"resource.ciphertext"}
	case len(nb.nonce) == 0:
		return nil, &notificationError{"resource.nonce"}
	}
	pt, err := key.open(nb.nonce, nb.associatedData, nb.ciphertext)
	if err != nil {
		return nil, err
	}
	return &Notification{
		ID:           nb.id,
		CreateTime:   created,
		EventType:    nb.eventType,
		ResourceType: nb.resourceType,
		Summary:      nb.summary,
		OriginalType: nb.originalType,
		Plaintext:    pt,
	}, nil
}

// NotificationFunc handles one verified notification for
// [Client.NotificationHandler]; ctx is the request's context.
//
// WeChat redelivers a notification until it is acknowledged, for about 24
// hours (15 attempts) and sometimes from several servers at once, so fn
// must:
//
//   - be idempotent: key on the business object (out_trade_no,
//     out_refund_no) or on [Notification.ID], and treat an event already
//     recorded as done;
//   - check that the plaintext's mchid/appid are the merchant's and that
//     its amount equals the stored order before acting on it;
//   - return nil only once the outcome is durably recorded. An error
//     makes the handler answer 500, so WeChat delivers again later, and
//     is logged, never sent to WeChat.
//
// WeChat waits five seconds for the answer: do slow work after
// recording the event.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012791861
type NotificationFunc func(ctx context.Context, n *Notification) error

// NotificationHandler returns the http.Handler to mount at notify_url for
// notifications of any event type. It parses each request with
// [Client.ParseNotification] and answers as WeChat requires:
//
//   - fn is called only for a notification that passed every check, and
//     only then can the answer be a success: 204 No Content, no body,
//     after fn returned nil;
//   - fn's error gives 500; a refused request gives 405 (not POST, with
//     "Allow: POST"), 413 (body over [MaxNotificationBytes]), 401 (the
//     signature, including WeChat's probes, which it then resends
//     correctly signed) or 400 (anything else). Every failure answer is
//     {"code":"FAIL","message":"…"} with a fixed message that names no
//     internal detail, so WeChat delivers again later.
//
// Refusals are logged at Warn to the client's logger ([WithLogger]) with
// the reason and the id and event_type the body claims, labelled
// unverified, never the body, the plaintext or a key. notify_url is
// public, so these lines are rate-limited (a burst of 10, then 10 a
// minute) and the next line says how many were suppressed.
//
// fn must not be nil: NotificationHandler panics, as http.Handle does for
// a nil handler, since that is a programming error found at startup.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012791861
func (c *Client) NotificationHandler(fn NotificationFunc) http.Handler {
	if fn == nil {
		panic("apiv3: NotificationHandler: nil NotificationFunc")
	}
	return newNotifyHandler(c, "notify", func(n *Notification) (*Notification, error) { return n, nil }, fn)
}

// The failure answers of the notify handlers, byte for byte. code and
// message are within WeChat's limits (32 and 64 characters); the message
// is fixed so that nothing internal reaches whoever posted the request.
const (
	notifyReplyInvalid   = `{"code":"FAIL","message":"invalid notification"}`
	notifyReplySignature = `{"code":"FAIL","message":"signature verification failed"}`
	notifyReplyFailed    = `{"code":"FAIL","message":"processing failed"}`
	notifyReplyMethod    = `{"code":"FAIL","message":"method not allowed"}`
	notifyReplyTooLarge  = `{"code":"FAIL","message":"body too large"}`
)

// newNotifyHandler builds a v3 notification handler on the module's one
// notify skeleton ([wire.NotifyHandler]): method check, a read capped at
// [MaxNotificationBytes], [Client.ParseNotificationBody], accept, callback,
// one answer. accept turns a verified notification into what fn takes
// (for a typed handler: check the event type, decode the plaintext, check
// the merchant); its error is a refusal (400), logged like any other.
// Refusals are logged with the id and event_type the body claims; only
// what the hardened decoder accepts is shown, and the resource is not
// even decoded.
func newNotifyHandler[T any](c *Client, op string, accept func(*Notification) (T, error), fn func(context.Context, T) error) *wire.NotifyHandler[T] {
	return &wire.NotifyHandler[T]{
		Prefix: "apiv3: ",
		Op:     op,
		Logger: func() *slog.Logger { return c.logger },
		Lim:    wire.Limiter{Now: c.now},
		Read: func(_ http.ResponseWriter, r *http.Request) ([]byte, bool, error) {
			body, err := readNotification(r.Body, r.ContentLength)
			return body, errors.Is(err, ErrNotificationTooLarge), err
		},
		Parse: func(r *http.Request, body []byte) (T, int, error) {
			var zero T
			n, err := c.ParseNotificationBody(r.Context(), r.Header, body)
			if err != nil {
				if errors.Is(err, ErrSignature) {
					return zero, http.StatusUnauthorized, err
				}
				return zero, http.StatusBadRequest, err
			}
			v, err := accept(n)
			if err != nil {
				return zero, http.StatusBadRequest, err
			}
			return v, 0, nil
		},
		Fn:               fn,
		MethodReason:     ErrNotificationMethod.Error(),
		TooLargeReason:   ErrNotificationTooLarge.Error(),
		UnreadableReason: "apiv3: cannot read notification body",
		Claims:           claimsOf,
		FailedAttrs:      failedAttrs[T],
		Success:          http.StatusNoContent,
		Replies: map[int]string{
			http.StatusMethodNotAllowed:      notifyReplyMethod,
			http.StatusRequestEntityTooLarge: notifyReplyTooLarge,
			http.StatusBadRequest:            notifyReplyInvalid,
			http.StatusUnauthorized:          notifyReplySignature,
			http.StatusInternalServerError:   notifyReplyFailed,
		},
		Write: writeNotifyReply,
	}
}

// writeNotifyReply sends a v3 answer: the status alone for a success,
// the JSON failure body otherwise.
func writeNotifyReply(w http.ResponseWriter, status int, reply string) {
	if reply == "" {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(reply))
}

// failedAttrs names the notification whose fn failed: the id and
// event_type of its verified body (decoded again only on this path, by
// the decoder that already accepted it).
func failedAttrs[T any](body []byte, _ T) []slog.Attr {
	var ev struct {
		ID        string `json:"id"`
		EventType string `json:"event_type"`
	}
	_ = decodeJSON(body, &ev)
	return []slog.Attr{slog.String("id", wire.Truncate(ev.ID, 64)), slog.String("event_type", wire.Truncate(ev.EventType, 64))}
}

// claimsOf returns the id and event_type a refused body claims, cut
// short and quoted, under names that say nobody vouched for them.
func claimsOf(body []byte) []slog.Attr {
	var claim struct {
		ID        string `json:"id"`
		EventType string `json:"event_type"`
	}
	if decodeJSON(body, &claim) != nil {
		return nil
	}
	var attrs []slog.Attr
	if claim.ID != "" {
		attrs = append(attrs, slog.String("unverified_id", wire.QuoteShort(claim.ID)))
	}
	if claim.EventType != "" {
		attrs = append(attrs, slog.String("unverified_event_type", wire.QuoteShort(claim.EventType)))
	}
	return attrs
}
