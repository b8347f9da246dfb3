package wxpay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// endpoint is one v2 API: the name that errors and logs use, and its path,
// appended to the base URL (which may carry a prefix such as /sandboxnew).
// Each endpoint's file declares its own.
type endpoint struct {
	op   string
	path string
	// cert: the call must carry the merchant's API client certificate
	// (the /secapi paths and the fund-flow bill). Without one configured
	// the call is refused before any I/O.
	cert bool
	// sign forces the signature algorithm whatever Config.SignType says:
	// WeChat accepts only HMAC-SHA256 for the fund-flow bill.
	sign SignType
	// key names the request's idempotency key (out_refund_no,
	// out_trade_no): a transport failure after which the request may
	// have reached WeChat is reported as an [*OutcomeUnknownError] that
	// names it, since retrying with the same key is what makes a retry
	// safe.
	key string
}

// errNoErrCode is the cause when result_code is FAIL but WeChat named no
// err_code, so that the error still says what happened.
var errNoErrCode = wire.NewError("wxpay: ", "result_code FAIL without err_code")

// RequestError reports a request that wxpay refused to send because a
// field breaks one of WeChat's rules. No network call was made, so it is
// always safe to fix the field and call again. The offending value is not
// repeated in the message, since it may be personal data (an openid, an
// IP address).
type RequestError struct {
	// Op is the endpoint, such as "unifiedorder".
	Op string
	// Field is the wire name of the field, such as "out_trade_no".
	Field string
	// Reason says which rule the field breaks.
	Reason string
}

// Error returns a one-line description such as
// "wxpay: unifiedorder: invalid out_trade_no: is longer than 32 characters".
func (e *RequestError) Error() string { return "wxpay: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *RequestError) Text() string { return wire.RequestText(e.Op, e.Field, e.Reason) }

// opError names the endpoint in an error that is not a WeChat answer (a
// transport failure, a bad signature). It writes the cause by its
// [wire.Text], so the text reads "wxpay: unifiedorder: signature mismatch".
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return "wxpay: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *opError) Text() string { return e.op + ": " + wire.Text(e.err) }

func (e *opError) Unwrap() error { return e.err }

// reservedField reports the fields the request path fills in for every
// call; a caller-supplied value (through Extra) would be overwritten or
// break the signature, so it is refused instead.
func reservedField(name string) bool {
	switch name {
	case "appid", "mch_id", "nonce_str", "sign", "sign_type":
		return true
	}
	return false
}

// request collects the wire fields of one call. An endpoint lists each
// field its request type models once, with set, even when the value is
// empty: that list is both what is sent and what Extra may not override.
type request struct {
	ep      endpoint
	fields  []field
	modeled []string
}

func newRequest(ep endpoint) *request {
	return &request{ep: ep, fields: make([]field, 0, 24), modeled: make([]string, 0, 24)}
}

// set adds name=v to the request; an empty v is left out, which is how v2
// says "not given".
func (r *request) set(name, v string) {
	r.modeled = append(r.modeled, name)
	if v != "" {
		r.fields = append(r.fields, field{name, v})
	}
}

// bad returns a [*RequestError] for this request's endpoint.
func (r *request) bad(field, reason string) error {
	return &RequestError{Op: r.ep.op, Field: field, Reason: reason}
}

// extra adds fields wxpay does not model. It refuses names the library
// sets itself and names the request type models, so Extra can add a field
// but never silently change one that has its own struct field.
func (r *request) extra(extra Params) error {
	for k, v := range extra {
		if reservedField(k) {
			return r.bad(k, "is set by wxpay and cannot be given in Extra")
		}
		if slices.Contains(r.modeled, k) {
			return r.bad(k, "is a field of the request struct; set it there, not in Extra")
		}
		if !wire.ValidName(k) {
			return r.bad("Extra", "holds a name that is not a plain XML name")
		}
		if v != "" {
			r.fields = append(r.fields, field{k, v})
		}
	}
	return nil
}

// echoSafe refuses a value that WeChat echoes back in a signed message
// (attach in notifications and queries, device_info) when it holds '&' or
// '='. v2 signs values raw, joined with '&' and '=', so such a value
// could be cut differently by whoever reads the echo: with one genuine
// message whose attach they chose, they could build another with the same
// signature naming another order or amount. [Signer.Verify] refuses those
// forgeries too; not sending such values keeps genuine messages clear of
// that rule.
func (r *request) echoSafe(name, v string) error {
	if strings.ContainsAny(v, "&=") {
		return r.bad(name, "may not contain '&' or '=': WeChat echoes it in signed messages, where it could be re-split into other fields")
	}
	return nil
}

// encode completes r into a signed request body: it adds appid, mch_id, a
// fresh nonce_str and sign_type, sorts the fields once for both the sign
// and the XML, and signs.
//
// sign_type is always sent, even for MD5 (as Tencent's own SDK does), so
// that the algorithm of the answer's signature is never left to WeChat's
// default.
func (c *Client) encode(r *request) ([]byte, error) {
	return c.encodeWith(c.signer, r)
}

// encodeWith is encode with the signer chosen for this call (see
// [Client.signerFor]).
func (c *Client) encodeWith(s *Signer, r *request) ([]byte, error) {
	nonce, err := c.nonce()
	if err != nil {
		return nil, err
	}
	fs := append(r.fields,
		field{"appid", c.cfg.AppID},
		field{"mch_id", c.cfg.MchID},
		field{"nonce_str", nonce},
		field{"sign_type", string(s.Type())},
	)
	return s.encodeSigned(fs)
}

// call is the one request path of every endpoint: sign r, POST it to the
// endpoint's URL, and return the answer's fields once they are proven to
// come from WeChat, for this merchant, reporting success.
//
// The answer is verified before anything is read from it. Errors:
//   - transport failures, wrapped with %w (context errors stay matchable);
//   - *Error for an answer that is not a usable WeChat message (HTML page,
//     non-200 status, oversized body), for return_code FAIL and for
//     result_code FAIL;
//   - errors matching ErrMissingSign, ErrSignature, ErrSignType or
//     ErrMerchant when verification fails.
//
// With [WithFailover], a request that provably never reached the primary
// (see neverSent) is sent once more, byte for byte, to the backup.
func (c *Client) call(ctx context.Context, r *request) (Params, error) {
	op := r.ep.op
	hc, signer, err := c.route(ctx, r)
	if err != nil {
		return nil, err
	}
	body, err := c.encodeWith(signer, r)
	if err != nil {
		return nil, &opError{op, err}
	}
	status, resp, err := c.send(ctx, hc, r, body)
	if err != nil {
		return nil, err
	}
	p, err := c.parseResponseWith(signer, op, status, resp)
	if err != nil && r.ep.key != "" {
		return nil, r.afterSent(err)
	}
	return p, err
}

// afterSent classifies a failure that came after the request was sent, on
// an endpoint with an idempotency key. Only WeChat's own word is final: a
// verified result_code FAIL with its err_code, or a return_code FAIL
// refusing the request itself. Anything else (an answer that cannot be
// decoded, verified or attributed, a gateway's status page, an answer that
// does not echo what was asked) leaves the outcome unknown: WeChat may
// have refunded or charged, and only a retry under the same key tells,
// so it becomes an [*OutcomeUnknownError] rather than a failure a caller
// might answer with a new key.
func (r *request) afterSent(err error) error {
	var we *Error
	if errors.As(err, &we) && (we.Code != "" || (we.ReturnCode != "" && we.ReturnCode != "SUCCESS")) {
		we.key = r.ep.key
		return err
	}
	var oe *OutcomeUnknownError
	if errors.As(err, &oe) {
		return err
	}
	return &OutcomeUnknownError{Op: r.ep.op, Key: r.ep.key, Err: err}
}

// route picks the HTTP client and the signer of one call: the
// certificate-bearing client for certificate endpoints (refused with a
// [*RequestError] before any I/O when none is configured), and the
// signer the endpoint's rules and the sandbox impose.
func (c *Client) route(ctx context.Context, r *request) (*http.Client, *Signer, error) {
	hc := c.hc
	if r.ep.cert {
		if c.certHC == nil {
			return nil, nil, &RequestError{Op: r.ep.op, Field: "client certificate",
				Reason: "this endpoint requires the merchant's API certificate (apiclient_cert.pem and apiclient_key.pem); configure it with WithClientCertificate or WithClientCertificateFiles"}
		}
		hc = c.certHC
	}
	s, err := c.signerFor(ctx, r.ep.sign)
	if err != nil {
		return nil, nil, &opError{r.ep.op, err}
	}
	return hc, s, nil
}

// send POSTs body to the endpoint through [Client.open] and reads the
// answer, bounded by c.maxBytes. A failure while reading counts as one
// after the request reached WeChat.
func (c *Client) send(ctx context.Context, hc *http.Client, r *request, body []byte) (int, []byte, error) {
	start := time.Now()
	resp, err := c.open(ctx, hc, c.attemptTimeout(hc, wire.DefaultTimeout), r, body)
	if err != nil {
		return 0, nil, err
	}
	status, b, err := c.readAnswer(ctx, r.ep.op, start, resp)
	if err != nil {
		return 0, nil, c.transportErr(r, true, err)
	}
	return status, b, nil
}

// open is the one way a request of an endpoint goes out, for calls and
// bill downloads alike: POST body to the endpoint's URL, once more to
// the backup ([WithFailover]) when the primary was provably never
// reached (see neverSent) and the caller's context is still live, and
// wrap a transport error (see transportErr). The caller reads and closes
// the answer's body.
func (c *Client) open(ctx context.Context, hc *http.Client, timeout time.Duration, r *request, body []byte) (*http.Response, error) {
	resp, reached, err := c.do(ctx, hc, timeout, c.baseURL+c.prefix+r.ep.path, body)
	if err != nil && c.backup != "" && ctx.Err() == nil && !reached && neverSent(err) {
		c.logger().DebugContext(ctx, "wxpay: primary unreachable, failing over", "op", r.ep.op, "backup", c.backup, "error", err.Error())
		resp, reached, err = c.do(ctx, hc, timeout, c.backup+c.prefix+r.ep.path, body)
	}
	if err != nil {
		return nil, c.transportErr(r, reached, err)
	}
	return resp, nil
}

// transportErr names the endpoint in a failed exchange and, where a retry
// needs the same idempotency key to be safe, says so.
//
// reached reports that a connection was handed to the request, so its
// bytes may have been written whatever the error says.
func (c *Client) transportErr(r *request, reached bool, err error) error {
	if r.ep.cert && tlsRefused(err) {
		return &opError{r.ep.op, &certRefusedError{err}}
	}
	if r.ep.key != "" && (reached || !neverSent(err)) {
		return &OutcomeUnknownError{Op: r.ep.op, Key: r.ep.key, Err: err}
	}
	var we *Error
	if errors.As(err, &we) {
		return err // already names the endpoint
	}
	return &opError{r.ep.op, err}
}

// tlsRefused reports a TLS alert from the server: it aborted the
// handshake, so no request was processed. On a certificate endpoint that
// is nearly always the client certificate (missing, of another merchant,
// expired, or from a CA the server does not trust).
func tlsRefused(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "remote error"
}

// certRefusedError explains a TLS alert on a certificate endpoint.
type certRefusedError struct{ err error }

func (e *certRefusedError) Error() string {
	return "the server refused the TLS handshake, most likely the client certificate (check WithClientCertificate: apiclient_cert.pem and apiclient_key.pem of this mch_id): " +
		wire.Text(e.err)
}

func (e *certRefusedError) Unwrap() error { return e.err }

func (e *certRefusedError) Is(target error) bool { return target == ErrCertificateRefused }

// do sends one POST of body to url. reached reports that a connection
// was handed to the request (net/http's GotConn): from then on its bytes
// may have been written, so no error can prove it was never sent. A
// transport that does not report connections leaves reached false, and
// the error's type alone decides (see neverSent).
//
// A timeout above zero bounds the attempt, the reading of the answer's
// body included, as http.Client.Timeout would (see attemptTimeout).
func (c *Client) do(ctx context.Context, hc *http.Client, timeout time.Duration, url string, body []byte) (resp *http.Response, reached bool, err error) {
	cancel := context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, false, err
	}
	req.Header["Content-Type"] = []string{"text/xml; charset=utf-8"}
	resp, reached, err = wire.Do(hc, req)
	if err != nil {
		cancel()
		return nil, reached, err
	}
	resp.Body = &cancelOnClose{resp.Body, cancel}
	return resp, reached, nil
}

// cancelOnClose ends an attempt's deadline when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// attemptTimeout is the deadline of one attempt on hc: for the library's
// own HTTP clients (no [WithHTTPClient] or [WithCertificateHTTPClient]),
// limit, which is wire.DefaultTimeout for calls and [BillTimeout] for a
// bill; none for a caller's client, whose own Timeout applies.
func (c *Client) attemptTimeout(hc *http.Client, limit time.Duration) time.Duration {
	if (hc == c.hc && c.ownHC) || (hc == c.certHC && c.ownCert) {
		return limit
	}
	return 0
}

// readAnswer reads and closes the body of a small answer, bounded by
// c.maxBytes, and logs the call at Debug.
func (c *Client) readAnswer(ctx context.Context, op string, start time.Time, resp *http.Response) (int, []byte, error) {
	b, err := readBody(resp, c.maxBytes)
	resp.Body.Close()
	if log := c.logger(); log.Enabled(ctx, slog.LevelDebug) {
		log.DebugContext(ctx, "wxpay: call", "op", op, "url", resp.Request.URL.String(), "status", resp.StatusCode,
			"bytes", len(b), "elapsed", time.Since(start))
	}
	if errors.Is(err, wire.ErrTooLarge) {
		return 0, nil, &Error{Op: op, StatusCode: resp.StatusCode, Err: ErrResponseTooLarge}
	}
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// readBody reads an answer bounded by limit (see [wire.ReadBody]).
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	return wire.ReadBody(resp, limit)
}

// parseResponse turns an answer into verified fields or an error. It is
// separate from the transport so that it can be fuzzed on its own: it
// returns fields only if their signature verified with the client's key
// and they name the client's appid and mch_id.
func (c *Client) parseResponse(op string, status int, body []byte) (Params, error) {
	return c.parseResponseWith(c.signer, op, status, body)
}

// parseResponseWith is parseResponse verifying with s, the signer of the
// call (the sandbox key in sandbox mode).
func (c *Client) parseResponseWith(s *Signer, op string, status int, body []byte) (Params, error) {
	if status != http.StatusOK {
		// A gateway or load balancer answered, or WeChat failed; nothing
		// in the body can be trusted, but a protocol FAIL is worth showing.
		e := &Error{Op: op, StatusCode: status}
		p, err := DecodeXML(body)
		switch {
		case err != nil:
			e.Err = err
		case p["return_code"] != "" && p["return_code"] != "SUCCESS":
			e.ReturnCode, e.ReturnMsg = p["return_code"], p["return_msg"]
		}
		return nil, e
	}
	p, err := c.openMessageWith(s, op, status, body)
	if err != nil {
		return nil, err
	}
	switch p["result_code"] {
	case "SUCCESS":
		return p, nil
	case "":
		return nil, &Error{Op: op, StatusCode: status, ReturnCode: "SUCCESS", ReturnMsg: p["return_msg"],
			Err: fieldErr("result_code", ErrMissingField)}
	}
	e := &Error{
		Op:         op,
		StatusCode: status,
		ReturnCode: "SUCCESS",
		ReturnMsg:  p["return_msg"],
		Code:       ErrorCode(p["err_code"]),
		Message:    p["err_code_des"],
	}
	if e.Message == "" {
		e.Message = p["result_msg"] // closeorder explains itself here
	}
	if e.Code == "" {
		e.Err = errNoErrCode
	}
	return nil, e
}

// openMessage is the one verification path of every signed message from
// WeChat, answers and notifications alike. It decodes body and returns its
// fields only once they are proven to be WeChat's and this merchant's:
//
//   - a body that is not a v2 message, lacks return_code or reports
//     return_code FAIL is an [*Error] (status is the HTTP status of an
//     answer, 0 for a notification);
//   - a failed signature check or another merchant's message is the
//     verification error, wrapped to name op.
//
// Empty fields, which no signature covers, are dropped from the result.
func (c *Client) openMessage(op string, status int, body []byte) (Params, error) {
	return c.openMessageWith(c.signer, op, status, body)
}

// openMessageWith is openMessage verifying with s.
func (c *Client) openMessageWith(s *Signer, op string, status int, body []byte) (Params, error) {
	// Decoded and verified in one pass over the sorted fields; the
	// verdict waits until the protocol layer has been looked at, since a
	// FAIL message carries no sign.
	p, verifyErr, err := s.decodeVerify(body)
	if err != nil {
		return nil, &Error{Op: op, StatusCode: status, Err: err}
	}
	if err := protocolLayer(op, status, p); err != nil {
		return nil, err
	}
	if verifyErr != nil {
		return nil, &opError{op, explainSign(s, p, verifyErr)}
	}
	if err := c.checkMerchant(p); err != nil {
		return nil, &opError{op, err}
	}
	dropEmpty(p)
	return p, nil
}

// protocolLayer applies return_code: a message whose return_code is FAIL
// carries no business data and no sign, and is reported as an [*Error];
// so is one without return_code, which no genuine message lacks.
func protocolLayer(op string, status int, p Params) error {
	switch rc := p["return_code"]; rc {
	case "SUCCESS":
		return nil
	case "":
		return &Error{Op: op, StatusCode: status, Err: fieldErr("return_code", ErrMissingField)}
	default:
		// WeChat signs nothing here, so only these two fields are
		// reported.
		return &Error{Op: op, StatusCode: status, ReturnCode: rc, ReturnMsg: p["return_msg"]}
	}
}

// signTypeMismatch explains an [ErrSignature] whose sign has the length of
// the other algorithm: by far the most common cause of a refused
// notification is a merchant configured for one algorithm while WeChat
// signs with the other (the algorithm of a notification follows the
// order's sign_type).
type signTypeMismatch struct {
	got, configured SignType
}

func (e *signTypeMismatch) Error() string { return "wxpay: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *signTypeMismatch) Text() string {
	return "signature mismatch: the sign is " + string(e.got) + "-length, but the client is configured for " +
		string(e.configured) + " (the message was probably signed with " + string(e.got) + ")"
}

func (e *signTypeMismatch) Is(target error) bool { return target == ErrSignature }

// explainSign returns err, or a [signTypeMismatch] when err is a signature
// mismatch and the sign has the other algorithm's length. The check looks
// at the length only, never at the key.
func explainSign(s *Signer, p Params, err error) error {
	if !errors.Is(err, ErrSignature) || errors.Is(err, ErrAmbiguousValue) {
		return err
	}
	for _, t := range [...]SignType{SignMD5, SignHMACSHA256} {
		if t != s.Type() && len(p["sign"]) == t.signLen() {
			return &signTypeMismatch{got: t, configured: s.Type()}
		}
	}
	return err
}

// neverSent reports whether err proves that a request never reached the
// server, so that sending it elsewhere cannot make it take effect twice.
// The rules are shared with apiv3; see [wire.NeverSent].
func neverSent(err error) bool { return wire.NeverSent(err) }

// signerFor returns the signer of one call: in sandbox mode the sandbox
// key (fetched on first use), else the signer forced by the endpoint's
// rules (HMAC-SHA256 for the fund-flow bill) or the configured one.
func (c *Client) signerFor(ctx context.Context, forced SignType) (*Signer, error) {
	if c.sandboxSigner != nil {
		return c.sandboxSigner(ctx)
	}
	if forced == SignHMACSHA256 {
		return c.hmac, nil
	}
	return c.signer, nil
}
