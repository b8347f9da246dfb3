package apiv3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// endpoint is one v3 API, declared once as a package-level value in the
// file of the endpoint (as the v2 client declares its endpoints):
//
//	var epQueryByOutTradeNo = endpoint{op: "transactions/query", method: http.MethodGet,
//		path: "/v3/pay/transactions/out-trade-no/{out_trade_no}"}
//	var epRefund = endpoint{op: "refunds", method: http.MethodPost,
//		path: "/v3/refund/domestic/refunds", key: "out_refund_no"}
type endpoint struct {
	// op names the endpoint in errors and log records.
	op string
	// method is the HTTP method, upper case.
	method string
	// path is the path under the base URL. Each {name} is a path
	// parameter, filled in order from newRequest's args, escaped; name
	// is the wire name reported when an arg is missing.
	path string
	// key names the request's idempotency key (out_trade_no,
	// out_refund_no). After a request that may have reached WeChat
	// without a definite answer, the error is an [*OutcomeUnknownError]
	// that names it, since retrying under the same key is what makes a
	// retry safe. Empty for queries, which are safe to repeat anyway.
	key string
}

// request is one call, ready to sign and send.
type request struct {
	ep endpoint
	// uri is the path (with the base URL's prefix added at send time)
	// and query, escaped exactly as it is sent and signed.
	uri string
	// body is the exact JSON sent and signed; nil for GET and bodiless
	// DELETE.
	body []byte
	// serial is sent as the Wechatpay-Serial request header: the serial
	// (or PUB_KEY_ID_… id) of the WeChat key that the request's
	// sensitive fields were encrypted under, as returned by
	// [Client.encryptionKey]. WeChat needs it to decrypt them. Empty
	// means the default: the configured public key id when there is one
	// (which also asks WeChat to sign the answer with the public key),
	// else no header.
	serial string
	// verify checks an answer of the given status; nil means
	// [Client.verifySignature]. The certificate download verifies its
	// 2xx answer with what it delivered, and must never look a serial up
	// through a refresh (it is the refresh).
	verify func(ctx context.Context, status int, h http.Header, body []byte) error
}

// response is a verified answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// newRequest builds the request of ep: args fill the path's {name}
// parameters in order, query is appended (sorted by key), and body, if
// not nil, is encoded as the JSON that will be signed and sent. A missing
// path parameter, a body that does not encode, or text WeChat refuses
// (4-byte UTF-8 such as emoji) is a [*RequestError], before any I/O.
func newRequest(ep endpoint, args []string, query url.Values, body any) (*request, error) {
	r := &request{ep: ep}
	var b strings.Builder
	p := ep.path
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			b.WriteString(p)
			break
		}
		j := strings.IndexByte(p[i:], '}')
		if j < 0 {
			b.WriteString(p)
			break
		}
		name := p[i+1 : i+j]
		b.WriteString(p[:i])
		if len(args) == 0 || args[0] == "" {
			return nil, &RequestError{Op: ep.op, Field: name, Reason: "is required"}
		}
		b.WriteString(url.PathEscape(args[0]))
		args = args[1:]
		p = p[i+j+1:]
	}
	if len(args) != 0 {
		return nil, &RequestError{Op: ep.op, Field: "path", Reason: "has fewer parameters than given"}
	}
	if len(query) > 0 {
		b.WriteByte('?')
		b.WriteString(query.Encode())
	}
	r.uri = b.String()
	if body != nil {
		j, err := encodeJSON(body)
		if err != nil {
			return nil, &RequestError{Op: ep.op, Field: "body", Reason: "does not encode as JSON: " + err.Error()}
		}
		if has4ByteUTF8(j) {
			return nil, &RequestError{Op: ep.op, Field: "body",
				Reason: "holds a 4-byte UTF-8 character (an emoji or a rare CJK character), which WeChat refuses; remove it from the text fields"}
		}
		r.body = j
	}
	return r, nil
}

// has4ByteUTF8 reports a UTF-8 sequence of four bytes: WeChat's v3 APIs
// accept only one- to three-byte characters.
func has4ByteUTF8(b []byte) bool {
	for _, c := range b {
		if c >= 0xF0 {
			return true
		}
	}
	return false
}

// call is the one request path of every endpoint: sign r, send it, fail
// over when it provably never left, read a bounded answer, verify it, and
// decode a 2xx body into out (when out is not nil). It returns the HTTP
// status of a verified 2xx answer (200, 202 or 204).
//
// Errors:
//   - [*RequestError] before any I/O;
//   - transport failures wrapped with %w (context errors stay matchable);
//   - [*Error] for a non-2xx answer (Verified says whether it was signed)
//     or an oversized one;
//   - an error matching [ErrSignature] when verification fails, and
//     [ErrJSON] when a verified body does not decode;
//   - on an endpoint with an idempotency key, anything but a definite
//     answer from WeChat becomes an [*OutcomeUnknownError] (see
//     afterSent).
func (c *Client) call(ctx context.Context, r *request, out any) (int, error) {
	resp, err := c.do(ctx, r)
	if err == nil && out != nil && len(resp.body) > 0 {
		if derr := decodeJSON(resp.body, out); derr != nil {
			err = &opError{r.ep.op, derr}
		}
	}
	if err != nil {
		if r.ep.key != "" {
			return 0, r.afterSent(err)
		}
		return 0, err
	}
	return resp.status, nil
}

// afterSent classifies a failure on an endpoint with an idempotency key.
// Only WeChat's own word is final: an error answer with a code below 500
// (other than 429), signed or (like the unsigned 401 SIGN_ERROR) shaped as
// WeChat's error object. Anything else — a transport failure after the
// connection was made, a 5xx or 429, a gateway's page, an answer whose
// signature or body fails — leaves the outcome unknown: WeChat may have
// charged or refunded, and only a retry (or a query) under the same key
// tells.
func (r *request) afterSent(err error) error {
	var oe *OutcomeUnknownError
	if errors.As(err, &oe) {
		return err
	}
	var re *RequestError
	var se *signError
	if errors.As(err, &re) || errors.As(err, &se) || wire.NeverSent(err) {
		// Nothing was sent (do has classified transport failures).
		return err
	}
	var we *Error
	if errors.As(err, &we) {
		we.key = r.ep.key
		if we.Code != "" && !we.Retryable() {
			return err
		}
	}
	return &OutcomeUnknownError{Op: r.ep.op, Key: r.ep.key, Err: err}
}

// do sends r and returns the verified answer of a 2xx status, or an error.
// It signs once per attempt: the signed path includes the base URL's path
// prefix, which the backup need not share.
func (c *Client) do(ctx context.Context, r *request) (*response, error) {
	op := r.ep.op
	resp, reached, err := c.send(ctx, r, c.baseURL)
	if err != nil && c.backup != "" && ctx.Err() == nil && !reached && wire.NeverSent(err) {
		c.logger.DebugContext(ctx, "apiv3: primary unreachable, failing over", "op", op, "backup", c.backup, "error", err.Error())
		resp, reached, err = c.send(ctx, r, c.backup)
	}
	if err != nil {
		var se *signError
		if errors.As(err, &se) {
			return nil, &opError{op, err}
		}
		if r.ep.key != "" && (reached || !wire.NeverSent(err)) {
			return nil, &OutcomeUnknownError{Op: op, Key: r.ep.key, Err: err}
		}
		var we *Error
		if errors.As(err, &we) {
			return nil, err
		}
		if r.ep.method == http.MethodGet {
			// A read changes nothing at WeChat: a transport failure
			// after sending is worth asking again.
			err = readFailure{err}
		}
		return nil, &opError{op, err}
	}
	verify := r.verify
	if verify == nil {
		verify = func(ctx context.Context, _ int, h http.Header, body []byte) error {
			return c.verifySignature(ctx, h, body)
		}
	}
	if resp.status >= 200 && resp.status <= 299 {
		// WeChat signs every 2xx answer, a 204 without body included:
		// an unsigned one is forged.
		if err := verify(ctx, resp.status, resp.header, resp.body); err != nil {
			return nil, &opError{op, err}
		}
		return resp, nil
	}
	e := &Error{Op: op, StatusCode: resp.status, RequestID: wire.OneLine(resp.header.Get(HeaderRequestID))}
	if resp.header.Get(HeaderSignature) != "" {
		// Signed error answers are verified like any other; nothing of
		// a body whose signature fails is reported.
		if err := verify(ctx, resp.status, resp.header, resp.body); err != nil {
			return nil, &opError{op, err}
		}
		e.Verified = true
	}
	e.decodeBody(resp.body)
	return nil, e
}

// decodeBody fills e from an error answer's body: WeChat's code, message
// and detail, or the reason it is not WeChat's error object.
func (e *Error) decodeBody(body []byte) {
	var eb struct {
		Code    ErrorCode    `json:"code"`
		Message string       `json:"message"`
		Detail  *ErrorDetail `json:"detail"`
	}
	switch err := decodeJSON(body, &eb); {
	case len(body) == 0:
	case err != nil:
		e.Err = err
	case eb.Code == "":
		e.Err = errNotWeChatError
	default:
		e.Code, e.Message, e.Detail = eb.Code, eb.Message, eb.Detail
	}
}

// errNotWeChatError is the cause of an [*Error] whose body is JSON but
// not WeChat's error object.
var errNotWeChatError = wire.NewError("apiv3: ", "answer is not a WeChat error object")

// send makes one attempt at base. reached reports that the request may
// have been written (see wire.Do).
func (c *Client) send(ctx context.Context, r *request, base string) (*response, bool, error) {
	start := time.Now()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.ep.method, base+r.uri, body)
	if err != nil {
		return nil, false, err
	}
	// What is signed is what net/http writes on the request line.
	auth, err := c.authorization(r.ep.method, req.URL.RequestURI(), r.body)
	if err != nil {
		return nil, false, err
	}
	h := req.Header
	h["Authorization"] = []string{auth}
	h["Accept"] = []string{"application/json"}
	h["User-Agent"] = []string{c.userAgent}
	if r.body != nil {
		h["Content-Type"] = []string{"application/json"}
	}
	if s := r.serial; s != "" {
		h[HeaderSerial] = []string{s}
	} else if c.pubKeyID != "" {
		h[HeaderSerial] = []string{c.pubKeyID}
	}
	resp, reached, err := wire.Do(c.hc, req)
	if err != nil {
		return nil, reached, err
	}
	b, err := wire.ReadBody(resp, c.maxBytes)
	resp.Body.Close()
	if c.logger.Enabled(ctx, slog.LevelDebug) {
		c.logger.LogAttrs(ctx, slog.LevelDebug, "apiv3: call", slog.String("op", r.ep.op),
			slog.String("method", r.ep.method), slog.Int("status", resp.StatusCode), slog.Int("bytes", len(b)),
			slog.String("request_id", wire.OneLine(resp.Header.Get(HeaderRequestID))), slog.Duration("elapsed", time.Since(start)))
	}
	if errors.Is(err, wire.ErrTooLarge) {
		return nil, true, &Error{Op: r.ep.op, StatusCode: resp.StatusCode, RequestID: wire.OneLine(resp.Header.Get(HeaderRequestID)), Err: ErrResponseTooLarge}
	}
	if err != nil {
		return nil, true, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, true, nil
}

// readFailure is a transport failure of a GET without an idempotency key
// (a query): [Retryable] reports it true even when the request went out.
type readFailure struct{ error }

func (e readFailure) Unwrap() error { return e.error }
