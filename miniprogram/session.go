package miniprogram

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
)

// Session is the result of [Client.Code2Session]: who the user is, and the
// key that protects the data the mini program forwards for them.
//
// SessionKey is a secret. Keep it on the server (it decrypts encryptedData
// and checks rawData signatures) and never send it to the mini program.
// Session's String, GoString, Format and LogValue methods print
// "[redacted]" in its place, so fmt verbs (%v, %+v, %#v, %s) and log/slog do
// not leak it. Encoding a Session with encoding/json does include it, since
// storing it server-side is a legitimate need; do not log that encoding.
type Session struct {
	// OpenID identifies the user within this mini program.
	OpenID string
	// UnionID identifies the user across the apps of one WeChat Open
	// Platform account. It is empty unless the mini program is bound to
	// such an account.
	UnionID string
	// SessionKey is the user's current session key (base64 of 16 bytes).
	// Secret: see the type documentation.
	SessionKey string
}

const redacted = "[redacted]"

// String returns the session with SessionKey redacted.
func (s Session) String() string {
	return fmt.Sprintf("{OpenID:%s UnionID:%s SessionKey:%s}", s.OpenID, s.UnionID, redactedIfSet(s.SessionKey))
}

// GoString returns Go-syntax-like text with SessionKey redacted; fmt uses
// it for %#v.
func (s Session) GoString() string {
	return fmt.Sprintf("miniprogram.Session{OpenID:%q, UnionID:%q, SessionKey:%q}", s.OpenID, s.UnionID, redactedIfSet(s.SessionKey))
}

// Format implements fmt.Formatter so that every verb, including %+v which
// would otherwise print the struct fields, goes through [Session.String]
// or [Session.GoString].
func (s Session) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, s.GoString())
	case verb == 'v' || verb == 's':
		fmt.Fprint(f, s.String())
	case verb == 'q':
		fmt.Fprint(f, strconv.Quote(s.String()))
	default:
		fmt.Fprintf(f, "%%!%c(miniprogram.Session=%s)", verb, s.String())
	}
}

// LogValue implements slog.LogValuer: the session logs as a group with
// openid and unionid and SessionKey redacted.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("openid", s.OpenID),
		slog.String("unionid", s.UnionID),
		slog.String("session_key", redactedIfSet(s.SessionKey)),
	)
}

func redactedIfSet(secret string) string {
	if secret == "" {
		return ""
	}
	return redacted
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
		"secret":     {c.st.appSecret},
		"js_code":    {code},
		"grant_type": {"authorization_code"},
	}
	r, err := c.do(ctx, op, http.MethodGet, "/sns/jscode2session", q, nil)
	if err != nil {
		return nil, err
	}
	return decodeSession(r, scrubber(c.st.appSecret))
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
	return &Session{OpenID: sr.OpenID, UnionID: sr.UnionID, SessionKey: sr.SessionKey}, nil
}
