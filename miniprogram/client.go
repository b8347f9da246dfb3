package miniprogram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// DefaultBaseURL is the WeChat API host used unless [WithBaseURL] says
// otherwise.
const DefaultBaseURL = "https://api.weixin.qq.com"

// maxBodySize caps every response body we read, so a misbehaving peer
// cannot make us buffer more than this.
const maxBodySize = 1 << 20

// Client calls the WeChat mini-program server APIs for one app. Create it
// with [NewClient]. It is safe for concurrent use, and it should be shared:
// it holds the app's access-token cache, and every new token fetched with
// the client_credential grant invalidates the previous one.
//
// Printing a Client with fmt (any verb, on a *Client or a Client value, at
// any depth of a value of yours, exported field or not) or logging it with
// log/slog shows only its app id or addresses, and encoding/json sees no
// field: the app secret and the cached access token never appear.
type Client struct {
	appID   string
	hc      *http.Client
	baseURL string // no trailing slash
	now     func() time.Time
	// st holds the app secret and the token cache. It sits behind a
	// pointer so that copying a Client (as its value-receiver methods do)
	// never copies the mutex, and so that printers which bypass
	// [Client.Format] by reflection see an address rather than a secret.
	st *clientState
}

// clientState is the part of a Client that is secret or mutable. Its
// secret is a [secret] value and its mutable token cache sits behind one
// more pointer, so that even fmt's bad-verb path (which prints the struct
// behind a pointer without calling any method) shows only addresses: it
// never shows a secret, and never reads state another goroutine is
// changing.
type clientState struct {
	appSecret secret
	tokens    *tokenCache
}

// Option configures a [Client] in [NewClient].
type Option func(*options) error

type options struct {
	hc       *http.Client
	baseURL  string
	now      func() time.Time
	endpoint TokenEndpoint
}

// WithHTTPClient makes the client send requests through hc, for example to
// add tracing, a proxy or a different timeout. The client keeps its own
// copy of *hc and never modifies the caller's value. Without this option
// the client uses one with a 10 second timeout. A nil hc is an error.
//
// The copy's CheckRedirect is replaced by one that never follows a
// redirect, whatever hc sets: the stable_token request body holds the
// app secret, and on a 307 or 308 net/http would send that body again to
// wherever Location points. Requests therefore go only to the base URL,
// and a 3xx answer is returned as an [*Error] with that StatusCode. The
// default client behaves the same way.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *options) error {
		if hc == nil {
			return fmt.Errorf("%w: nil http client", ErrBadInput)
		}
		if err := wire.CheckTLS(hc); err != nil {
			return fmt.Errorf("%w: %s", ErrBadInput, err.Error())
		}
		cp := *hc
		o.hc = &cp
		return nil
	}
}

// WithBaseURL replaces [DefaultBaseURL], for tests and proxies. The URL
// must be absolute http or https; it may carry a path prefix (such as
// "http://127.0.0.1:8080/wechat"), which is kept in front of every API
// path. A trailing slash is ignored. Query strings and fragments are
// rejected because API paths are appended to the URL, and so is user
// info, which would be sent with every request. The error ([ErrBadInput])
// names the rule that failed and shows the URL without its user info,
// query or fragment.
func WithBaseURL(base string) Option {
	return func(o *options) error {
		u, err := wire.CheckBaseURL(base)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadInput, err)
		}
		o.baseURL = u
		return nil
	}
}

// WithClock replaces time.Now, which the client uses to decide when a
// cached access token is due for renewal. Tests use it to move time
// forward without sleeping. A nil now is an error.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrBadInput)
		}
		o.now = now
		return nil
	}
}

// NewClient returns a client for the mini program identified by appID and
// appSecret (both from the mini-program admin console, 开发管理 → 开发设置).
// Both are required. appSecret must be the 32 letters and digits WeChat
// issues; anything else (an empty value, a trailing newline read from a
// file, a placeholder) is refused here with [ErrBadInput] rather than
// failing every later call with [CodeInvalidSecret]. appSecret is kept in
// memory and sent only in API requests; it never appears in errors.
func NewClient(appID, appSecret string, opts ...Option) (*Client, error) {
	if appID == "" {
		return nil, fmt.Errorf("%w: empty app id", ErrBadInput)
	}
	if err := checkAppSecret(appSecret); err != nil {
		return nil, err
	}
	o := options{baseURL: DefaultBaseURL, now: time.Now, endpoint: TokenStable}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil option", ErrBadInput)
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.hc == nil {
		o.hc = wire.NewHTTPClient()
	}
	// o.hc is always our own value (a fresh default or WithHTTPClient's
	// copy), so changing it leaves the caller's client alone.
	o.hc.CheckRedirect = wire.NoRedirect
	c := &Client{
		appID:   appID,
		hc:      o.hc,
		baseURL: o.baseURL,
		now:     o.now,
		st:      &clientState{appSecret: newSecret(appSecret), tokens: &tokenCache{endpoint: o.endpoint}},
	}
	return c, nil
}

// appSecretLen is the length of every AppSecret WeChat issues.
const appSecretLen = 32

// checkAppSecret accepts the shape WeChat issues: 32 ASCII letters and
// digits. The error says what is wrong but never shows the value.
func checkAppSecret(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty app secret", ErrBadInput)
	}
	if len(s) != appSecretLen {
		return fmt.Errorf("%w: app secret must be the %d characters WeChat issues, got %d", ErrBadInput, appSecretLen, len(s))
	}
	if !wire.OfAlnum(s, "") {
		return fmt.Errorf("%w: app secret must be ASCII letters and digits, as WeChat issues it", ErrBadInput)
	}
	return nil
}

// appSecret returns the app secret for a request.
func (c *Client) appSecret() string { return c.st.appSecret.value() }

// AppID returns the app id the client was created with; decrypted data must
// carry it in its watermark.
func (c *Client) AppID() string { return c.appID }

// String returns "miniprogram.Client{AppID:<app id>}"; the app secret and
// the cached access token are never shown.
func (c Client) String() string { return "miniprogram.Client{AppID:" + c.appID + "}" }

// GoString returns Go-syntax-like text showing only the app id; fmt uses it
// for %#v.
func (c Client) GoString() string { return "miniprogram.Client{AppID:" + strconv.Quote(c.appID) + "}" }

// Format implements fmt.Formatter so that every verb, including %+v and
// %#v which would otherwise print the struct fields, shows only the app
// id. It has a value receiver, so printing *c is covered as well as c.
func (c Client) Format(f fmt.State, verb rune) {
	wire.FormatRedacted(f, verb, c.String(), c.GoString())
}

// LogValue implements slog.LogValuer: the client logs as a group holding
// only its app id.
func (c Client) LogValue() slog.Value {
	return slog.GroupValue(slog.String("appid", c.appID))
}

// response is what [Client.do] hands to the decoders: the HTTP status,
// content type and the bounded body.
type response struct {
	status      int
	contentType string
	body        []byte
}

// do sends one request and reads its body. Transport errors have the URL
// query (which carries the secret or the access token) removed and keep
// their cause, so context errors stay detectable with errors.Is.
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, reqBody any) (*response, error) {
	u := c.baseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if reqBody != nil {
		b, err := json.Marshal(reqBody)
		if err != nil {
			return nil, fmt.Errorf("miniprogram: %s: encode request: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		// The URL is built from a validated base URL and fixed paths, so
		// this only fails for a nil ctx or similar programming errors; do
		// not wrap err, whose text may include the URL.
		return nil, fmt.Errorf("miniprogram: %s: cannot build request", op)
	}
	req.Header.Set("Accept", "application/json")
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("miniprogram: %s: %w", op, wire.RedactURL(err))
	}
	defer resp.Body.Close()
	b, err := wire.ReadAll(resp.Body, maxBodySize)
	if errors.Is(err, wire.ErrTooLarge) {
		return nil, &Error{Op: op, StatusCode: resp.StatusCode,
			Err: fmt.Errorf("%w: body exceeds %d bytes", ErrInvalidResponse, maxBodySize)}
	}
	if err != nil {
		return nil, fmt.Errorf("miniprogram: %s: read response: %w", op, wire.RedactURL(err))
	}
	return &response{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: b}, nil
}

// apiStatus is the errcode/errmsg pair every WeChat JSON response may
// carry. Success responses often omit errcode, so a missing field means 0.
type apiStatus struct {
	ErrCode flexInt `json:"errcode"`
	ErrMsg  string  `json:"errmsg"`
}

func (s *apiStatus) status() *apiStatus { return s }

// statusCarrier is implemented by every response struct that embeds
// apiStatus.
type statusCarrier interface{ status() *apiStatus }

// decodeAPI decodes a WeChat JSON response by its shape rather than by
// headers: non-2xx statuses, bodies that are not a JSON object and nonzero
// errcodes become *Error. scrub removes secrets from errmsg. It never
// panics on arbitrary input.
func decodeAPI(op string, r *response, out statusCarrier, scrub func(string) string) error {
	if r.status < 200 || r.status > 299 {
		e := &Error{Op: op, StatusCode: r.status}
		// Keep errcode/errmsg if the body happens to carry them.
		var st apiStatus
		if json.Unmarshal(r.body, &st) == nil {
			e.Code, e.Message = int(st.ErrCode), scrub(st.ErrMsg)
		}
		return e
	}
	if err := json.Unmarshal(r.body, out); err != nil {
		return &Error{Op: op, StatusCode: r.status, Err: fmt.Errorf("%w: body is not the expected json (content-type %q): %w",
			ErrInvalidResponse, wire.Truncate(r.contentType, 64), err)}
	}
	if st := out.status(); st.ErrCode != 0 {
		return &Error{Op: op, StatusCode: r.status, Code: int(st.ErrCode), Message: scrub(st.ErrMsg)}
	}
	return nil
}

// invalidResponse builds the error for a well-formed body that lacks a
// required field.
func invalidResponse(op string, status int, what string) error {
	return &Error{Op: op, StatusCode: status, Err: fmt.Errorf("%w: %s", ErrInvalidResponse, what)}
}

// scrubber returns a function that removes each secret from s and caps
// its length. WeChat is not known to echo secrets in errmsg; this makes
// sure a change on its side cannot leak them into our errors. The secrets
// passed here are the AppSecret (32 characters, checked by NewClient) and
// access tokens (over 100): long enough that finding one in a message
// means it is there. Values shorter than [wire.MinScrubLen] are skipped, so
// a short test token cannot garble an unrelated message.
func scrubber(secrets ...string) func(string) string {
	return func(s string) string {
		for _, sec := range secrets {
			if len(sec) >= wire.MinScrubLen {
				s = strings.ReplaceAll(s, sec, redacted)
			}
		}
		return wire.Truncate(s, 512)
	}
}

// flexInt decodes a JSON integer that WeChat may send as a number or as a
// string of digits.
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		// Not wrapped: strconv's message quotes the whole input.
		return errors.New("not an integer")
	}
	*n = flexInt(v)
	return nil
}
