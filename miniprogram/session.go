package miniprogram

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// Session is the result of [Client.Code2Session]: who the user is, and the
// key that protects the data the mini program forwards for them.
//
// Its SessionKey is an opaque [SessionKey]: it prints and encodes as
// "[redacted]" everywhere (fmt, log/slog, encoding/json), so a Session can
// be logged, and held in any struct of yours, without leaking the key. To
// keep the key server-side, store [SessionKey.Reveal] and rebuild it later
// with [ParseSessionKey]. Never send it to the mini program.
//
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/server/API/user-login/api_code2session
type Session struct {
	// OpenID identifies the user within this mini program.
	OpenID string
	// UnionID identifies the user across the apps of one WeChat Open
	// Platform account. It is empty unless the mini program is bound to
	// such an account.
	UnionID string
	// SessionKey is the user's current session key. It decrypts
	// encryptedData ([Client.DecryptData]) and checks rawData signatures
	// ([VerifyRawData]).
	SessionKey SessionKey
}

const redacted = "[redacted]"

// String returns the session with its key redacted, e.g.
// "{OpenID:o… UnionID: SessionKey:[redacted]}".
func (s Session) String() string {
	return "{OpenID:" + s.OpenID + " UnionID:" + s.UnionID + " SessionKey:" + s.SessionKey.String() + "}"
}

// LogValue implements slog.LogValuer: the session logs as a group with
// openid and unionid and its key redacted.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("openid", s.OpenID),
		slog.String("unionid", s.UnionID),
		slog.String("session_key", s.SessionKey.String()),
	)
}

// SessionKey is a user's session_key, the secret WeChat shares with your
// server at login (base64 of 16 bytes). The zero value holds no key.
//
// It cannot leak by accident: fmt (every verb, at any depth, including
// %#v, %x and %p), log/slog and encoding/json and encoding/xml show
// "[redacted]" (or "" for the zero value) or an address, never the key.
// The key is held behind a pointer so that printers which bypass its
// methods by reflection (fmt on a struct of yours with an unexported
// SessionKey field) show an address too. Only [SessionKey.Reveal] returns
// it.
//
// WeChat docs (session_key): https://developers.weixin.qq.com/miniprogram/dev/server/API/user-login/api_code2session
// WeChat docs (what it decrypts): https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/signature.html
type SessionKey struct{ s secret }

// ParseSessionKey turns a stored session key (the text [SessionKey.Reveal]
// returned, as WeChat sent it) back into a SessionKey. It must be standard
// base64 of 16 bytes; anything else is [ErrBadInput], whose text never
// contains the value.
//
// WeChat docs (session_key): https://developers.weixin.qq.com/miniprogram/dev/server/API/user-login/api_code2session
// WeChat docs (what it decrypts): https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/signature.html
func ParseSessionKey(s string) (SessionKey, error) {
	if _, err := decodeField("session key", s, sessionKeySize); err != nil {
		return SessionKey{}, err
	}
	return SessionKey{newSecret(s)}, nil
}

// sessionKeySize is the length of a decoded session key: an AES-128 key.
const sessionKeySize = 16

// Reveal returns the session key as WeChat sent it (base64), to store it
// server-side or hand it to code outside this package. The result is a
// secret: never log it, put it in an error or send it to the mini program.
func (k SessionKey) Reveal() string { return k.s.value() }

// IsZero reports whether k holds no key.
func (k SessionKey) IsZero() bool { return k.s.value() == "" }

// String returns "[redacted]", or "" for the zero SessionKey.
func (k SessionKey) String() string {
	if k.IsZero() {
		return ""
	}
	return redacted
}

// GoString returns "miniprogram.SessionKey([redacted])"; fmt uses it for
// %#v.
func (k SessionKey) GoString() string {
	return "miniprogram.SessionKey(" + strconv.Quote(k.String()) + ")"
}

// Format implements fmt.Formatter so that every verb, including %x, %d
// and verbs fmt does not know, shows [SessionKey.String] and never the
// key.
func (k SessionKey) Format(f fmt.State, verb rune) {
	wire.FormatRedacted(f, verb, k.String(), k.GoString())
}

// LogValue implements slog.LogValuer: the key logs as "[redacted]".
func (k SessionKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalText implements encoding.TextMarshaler, which encoding/json and
// encoding/xml use: the key encodes as "[redacted]" (or "" when zero), so a
// Session written to a JSON log or API response carries no secret. Store
// [SessionKey.Reveal] instead.
func (k SessionKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler as [ParseSessionKey]
// does, so a key stored as text (from [SessionKey.Reveal]) decodes into a
// SessionKey. An empty text gives the zero key. "[redacted]" is refused
// with [ErrBadInput]: it is what MarshalText wrote, and the key it stood
// for is gone.
func (k *SessionKey) UnmarshalText(b []byte) error {
	switch string(b) {
	case "":
		*k = SessionKey{}
		return nil
	case redacted:
		return fmt.Errorf("%w: session key was redacted when encoded; store SessionKey.Reveal() instead", ErrBadInput)
	}
	v, err := ParseSessionKey(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// secret holds a string that must never be printed. The string sits
// behind a pointer to a plain string: fmt prints such a pointer as an
// address at every depth and under every verb (even on its bad-verb path,
// which skips all methods and expands a pointer to a struct, slice or
// map), and encoding/json cannot see the unexported field.
type secret struct{ p *string }

func newSecret(s string) secret {
	if s == "" {
		return secret{}
	}
	return secret{&s}
}

func (s secret) value() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// sessionResponse is the jscode2session body. errcode is absent or 0 on
// success.
type sessionResponse struct {
	apiStatus
	OpenID     string `json:"openid"`
	SessionKey string `json:"session_key"`
	UnionID    string `json:"unionid"`
}

// Code2Session exchanges the code a mini program got from wx.login for the
// user's [Session]. Each code is single-use and expires after about five
// minutes, so call this once per login and do not retry after
// [CodeInvalidCode] or [CodeCodeUsed]; retry only when [Error.Retryable].
//
// Failures reported by WeChat are [*Error] values with Op "code2session"
// (for example [CodeInvalidCode], [CodeCodeUsed], [CodeHighRisk],
// [CodeRateLimited]). An empty code fails with [ErrBadInput] without any
// request. A response without an openid or session_key is an [*Error]
// wrapping [ErrInvalidResponse].
//
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/server/API/user-login/api_code2session
func (c *Client) Code2Session(ctx context.Context, code string) (*Session, error) {
	const op = "code2session"
	if code == "" {
		return nil, fmt.Errorf("%w: %s: empty code", ErrBadInput, op)
	}
	q := url.Values{
		"appid":      {c.appID},
		"secret":     {c.appSecret()},
		"js_code":    {code},
		"grant_type": {"authorization_code"},
	}
	r, err := c.do(ctx, op, http.MethodGet, "/sns/jscode2session", q, nil)
	if err != nil {
		return nil, err
	}
	return decodeSession(r, scrubber(c.appSecret()))
}

// decodeSession turns a jscode2session response into a Session. It never
// panics, whatever the bytes.
func decodeSession(r *response, scrub func(string) string) (*Session, error) {
	const op = "code2session"
	var sr sessionResponse
	if err := decodeAPI(op, r, &sr, scrub); err != nil {
		return nil, err
	}
	switch {
	case sr.OpenID == "":
		return nil, invalidResponse(op, r.status, "missing openid")
	case sr.SessionKey == "":
		return nil, invalidResponse(op, r.status, "missing session_key")
	}
	return &Session{OpenID: sr.OpenID, UnionID: sr.UnionID, SessionKey: SessionKey{newSecret(sr.SessionKey)}}, nil
}
