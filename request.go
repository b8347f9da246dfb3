package wxpay

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// Endpoint paths, appended to the base URL (which may carry a prefix such
// as /sandboxnew).
const (
	pathUnifiedOrder = "/pay/unifiedorder"
	pathOrderQuery   = "/pay/orderquery"
	pathCloseOrder   = "/pay/closeorder"
)

// ErrResponseTooLarge is the cause (Error.Err) when an answer's body is
// longer than 1 MiB. Real answers are a few kilobytes, so such a body is
// a misbehaving proxy or gateway, not WeChat; it is not read further.
var ErrResponseTooLarge = errors.New("wxpay: response body exceeds 1 MiB")

// errNoErrCode is the cause when result_code is FAIL but WeChat named no
// err_code, so that the error still says what happened.
var errNoErrCode = errors.New("wxpay: result_code FAIL without err_code")

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
func (e *RequestError) Error() string {
	return "wxpay: " + e.Op + ": invalid " + e.Field + ": " + e.Reason
}

// opError names the endpoint in an error that is not a WeChat answer (a
// transport failure, a bad signature). It drops the cause's own "wxpay: "
// prefix so the text reads "wxpay: unifiedorder: signature mismatch".
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string {
	return "wxpay: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "wxpay: ")
}

func (e *opError) Unwrap() error { return e.err }

// reservedFields are filled in by the request path for every call; a
// caller-supplied value (through an Extra map) would be overwritten or
// break the signature, so it is refused instead.
func reservedField(name string) bool {
	switch name {
	case "appid", "mch_id", "nonce_str", "sign", "sign_type":
		return true
	}
	return false
}

// addExtra copies extra into p. It refuses names the library sets itself
// and names the request struct models (modelled), so Extra can add fields
// wxpay does not model but never silently change one it does.
func addExtra(op string, p, extra Params, modelled func(string) bool) error {
	for k, v := range extra {
		if reservedField(k) {
			return &RequestError{Op: op, Field: k, Reason: "is set by wxpay and cannot be given in Extra"}
		}
		if _, dup := p[k]; dup || modelled(k) {
			return &RequestError{Op: op, Field: k, Reason: "is a field of the request struct; set it there, not in Extra"}
		}
		if !validName(k) {
			return &RequestError{Op: op, Field: "Extra", Reason: "holds a name that is not a plain XML name"}
		}
		p[k] = v
	}
	return nil
}

// encodeOwned completes q into a signed request body: it adds appid,
// mch_id, a fresh nonce_str and sign_type to q itself, signs and encodes.
// The endpoints build a fresh map per call and hand it over, so nothing
// is copied on the hot path.
//
// sign_type is always sent, even for MD5 (as Tencent's own SDK does), so
// that the algorithm of the answer's signature is never left to WeChat's
// default.
func (c *Client) encodeOwned(q Params) ([]byte, error) {
	nonce, err := c.nonce()
	if err != nil {
		return nil, err
	}
	q["appid"] = c.cfg.AppID
	q["mch_id"] = c.cfg.MchID
	q["nonce_str"] = nonce
	q["sign_type"] = string(c.signer.Type())
	q["sign"] = c.signer.Sign(q)
	return EncodeXML(q)
}

// call is the one request path of every endpoint: sign p, POST it to
// baseURL+path, and return the answer's fields once they are proven to
// come from WeChat, for this merchant, reporting success. call takes p
// over and adds the common fields to it; endpoints pass a fresh map.
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
func (c *Client) call(ctx context.Context, op, path string, p Params) (Params, error) {
	body, err := c.encodeOwned(p)
	if err != nil {
		return nil, &opError{op, err}
	}
	status, resp, err := c.post(ctx, op, c.baseURL+path, body)
	if err != nil && c.backup != "" && ctx.Err() == nil && neverSent(err) {
		c.log.DebugContext(ctx, "wxpay: primary unreachable, failing over", "op", op, "backup", c.backup, "error", err.Error())
		status, resp, err = c.post(ctx, op, c.backup+path, body)
	}
	if err != nil {
		var we *Error
		if errors.As(err, &we) {
			return nil, err // already names the endpoint
		}
		return nil, &opError{op, err}
	}
	return c.parseResponse(op, status, resp)
}

// post sends one request and reads the whole answer, bounded by
// c.maxBytes.
func (c *Client) post(ctx context.Context, op, url string, body []byte) (int, []byte, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header["Content-Type"] = []string{"text/xml; charset=utf-8"}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	b, err := wire.ReadAll(resp.Body, c.maxBytes)
	resp.Body.Close()
	if c.log.Enabled(ctx, slog.LevelDebug) {
		c.log.DebugContext(ctx, "wxpay: call", "op", op, "url", url, "status", resp.StatusCode,
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

// parseResponse turns an answer into verified fields or an error. It is
// separate from the transport so that it can be fuzzed on its own: it
// returns fields only if their signature verified with the client's key
// and they name the client's appid and mch_id.
func (c *Client) parseResponse(op string, status int, body []byte) (Params, error) {
	p, err := DecodeXML(body)
	if status != http.StatusOK {
		// A gateway or load balancer answered, or WeChat failed; nothing
		// in the body can be trusted, but a protocol FAIL is worth showing.
		e := &Error{Op: op, StatusCode: status}
		switch {
		case err != nil:
			e.Err = err
		case p["return_code"] != "" && p["return_code"] != "SUCCESS":
			e.ReturnCode, e.ReturnMsg = p["return_code"], p["return_msg"]
		}
		return nil, e
	}
	if err != nil {
		return nil, &Error{Op: op, StatusCode: status, Err: err}
	}
	switch rc := p["return_code"]; rc {
	case "SUCCESS":
	case "":
		return nil, &Error{Op: op, StatusCode: status, Err: fieldErr("return_code", ErrMissingField)}
	default:
		// Protocol failure: WeChat signs nothing here, so only these two
		// fields are reported.
		return nil, &Error{Op: op, StatusCode: status, ReturnCode: rc, ReturnMsg: p["return_msg"]}
	}
	if err := c.signer.Verify(p); err != nil {
		return nil, &opError{op, err}
	}
	if err := c.checkMerchant(p); err != nil {
		return nil, &opError{op, err}
	}
	dropEmpty(p)
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

// neverSent reports whether err proves that a request never reached the
// server, so that sending it elsewhere cannot make it take effect twice:
// the name did not resolve, the TCP connection was not established, or
// the TLS handshake failed (a handshake completes before any request byte
// is written). Anything else — a timeout after connecting, a canceled
// context, an HTTP status, a FAIL answer — may have reached WeChat and is
// never retried.
func neverSent(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	var (
		recErr   tls.RecordHeaderError
		verifErr *tls.CertificateVerificationError
		authErr  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		certErr  x509.CertificateInvalidError
	)
	if errors.As(err, &recErr) || errors.As(err, &verifErr) || errors.As(err, &authErr) ||
		errors.As(err, &hostErr) || errors.As(err, &certErr) {
		return true
	}
	// tls.AlertError is deliberately absent: under TLS 1.3 the server's
	// rejection of a client certificate arrives after the client has
	// finished its handshake and may already have written the request.
	//
	// net/http reports a handshake that timed out with an unexported
	// type; its text is the only handle.
	return strings.HasSuffix(err.Error(), "net/http: TLS handshake timeout")
}
