package apiv3

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// Verification failures. Every error from checking a signature of WeChat's
// (an answer, a notification, a certificate download) matches
// [ErrSignature] under errors.Is; the more specific sentinels below say
// why, and match as well. None of them carries key material, a signature
// or the signed string.
var (
	// ErrSignature means a message could not be proven to come from
	// WeChat: its signature headers are missing or malformed, its
	// timestamp is outside the window, its key is unknown, or the
	// signature does not match the message.
	ErrSignature = wire.NewError("apiv3: ", "signature verification failed")
	// ErrMissingSignature means one of Wechatpay-Serial,
	// Wechatpay-Signature, Wechatpay-Timestamp or Wechatpay-Nonce is
	// absent, empty or repeated. WeChat signs every 2xx answer: an
	// unsigned one is forged (or a proxy stripped the headers).
	ErrMissingSignature = wire.NewError("apiv3: ", "message is not signed")
	// ErrTimestamp means Wechatpay-Timestamp is not a decimal number of
	// seconds, or is more than five minutes away from the client's clock
	// in either direction (a replay, or a clock that needs fixing).
	ErrTimestamp = wire.NewError("apiv3: ", "Wechatpay-Timestamp outside the 5-minute window or malformed")
	// ErrSignatureProbe means the signature starts with
	// "WECHATPAY/SIGNTEST/": WeChat's probe that catches merchants who
	// never verify. It must be refused; for a notification, WeChat then
	// resends it correctly signed.
	ErrSignatureProbe = wire.NewError("apiv3: ", "WECHATPAY/SIGNTEST probe signature refused")
	// ErrUnknownSerial means Wechatpay-Serial names neither the
	// configured WeChat Pay public key nor a platform certificate the
	// client holds, even after the (rate-limited) refresh it may trigger.
	ErrUnknownSerial = wire.NewError("apiv3: ", "unknown Wechatpay-Serial")
)

// ErrJSON is matched (errors.Is) by every [*JSONError]: a body or a
// decrypted resource that the hardened decoder refused.
var ErrJSON = wire.NewError("apiv3: ", "malformed JSON")

// ErrResponseTooLarge is the cause (Error.Err) when an answer's body is
// longer than [MaxResponseBytes]: a misbehaving proxy, not WeChat.
var ErrResponseTooLarge = wire.NewError("apiv3: ", "response body too large")

// ErrCertificate means a downloaded platform certificate was refused: it
// does not parse, is not RSA, is outside its validity dates, or its serial
// does not match the serial_no WeChat gave it.
var ErrCertificate = wire.NewError("apiv3: ", "invalid platform certificate")

// ErrNoEncryptionKey means no WeChat key is available to encrypt
// sensitive fields under: no public key is configured and no valid
// platform certificate could be obtained.
var ErrNoEncryptionKey = wire.NewError("apiv3: ", "no WeChat key to encrypt sensitive fields")

// verifyError is a verification failure of a specific kind: it matches
// [ErrSignature] and its kind, and says why in one line.
type verifyError struct {
	kind error  // ErrMissingSignature, ErrTimestamp, ... or ErrSignature itself
	why  string // extra detail, never secret; may be empty
}

func (e *verifyError) Error() string { return "apiv3: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *verifyError) Text() string {
	if e.why == "" {
		return wire.Text(e.kind)
	}
	return wire.Text(e.kind) + ": " + e.why
}

func (e *verifyError) Is(target error) bool { return target == ErrSignature || target == e.kind }

// JSONError reports JSON that the hardened decoder refused (see
// [ErrJSON]): syntax errors, invalid UTF-8, nesting deeper than
// [MaxJSONDepth], duplicate keys, numbers that are not plain integers,
// bodies over [MaxJSONBytes], or a value of the wrong type for its field.
// It never quotes the input, which may hold personal data.
type JSONError struct {
	// Offset is the byte offset of the problem, or -1 when unknown.
	Offset int64
	// Reason says which rule the input breaks.
	Reason string
	// Err is encoding/json's error when it refused the value, else nil.
	Err error
}

// Error returns a line such as "apiv3: malformed JSON: duplicate key at offset 41".
func (e *JSONError) Error() string { return "apiv3: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *JSONError) Text() string {
	s := "malformed JSON: " + e.Reason
	if e.Offset >= 0 {
		s += " at offset " + strconv.FormatInt(e.Offset, 10)
	}
	return s
}

// Unwrap returns encoding/json's error, if any.
func (e *JSONError) Unwrap() error { return e.Err }

// Is makes every JSONError match [ErrJSON].
func (e *JSONError) Is(target error) bool { return target == ErrJSON }

// ErrorCode is the code of a WeChat error answer, such as "PARAM_ERROR".
// The constants are the documented codes; others arrive as they are.
type ErrorCode string

// Documented codes of v3 error answers. See
// https://pay.weixin.qq.com/wiki/doc/apiv3/Share/error_code.shtml and the
// error table of each endpoint.
const (
	ErrCodeParamError        ErrorCode = "PARAM_ERROR"        // 400: a parameter is malformed; fix it (Detail names it)
	ErrCodeInvalidRequest    ErrorCode = "INVALID_REQUEST"    // 400: the request breaks a rule (headers, re-entry with other parameters)
	ErrCodeSignError         ErrorCode = "SIGN_ERROR"         // 401: WeChat refused our signature (key, serial, clock)
	ErrCodeNoAuth            ErrorCode = "NO_AUTH"            // 403: the merchant lacks permission
	ErrCodeTradeError        ErrorCode = "TRADE_ERROR"        // 403: the trade was refused
	ErrCodeRuleLimit         ErrorCode = "RULELIMIT"          // 403: a business rule forbids it
	ErrCodeNotEnough         ErrorCode = "NOTENOUGH"          // 403: insufficient balance
	ErrCodeOutTradeNoUsed    ErrorCode = "OUT_TRADE_NO_USED"  // 403: out_trade_no already used with other parameters
	ErrCodeOrderClosed       ErrorCode = "ORDER_CLOSED"       // 400: the order is closed; place a new one
	ErrCodeOrderNotExist     ErrorCode = "ORDER_NOT_EXIST"    // 404: no such order
	ErrCodeUserPaying        ErrorCode = "USERPAYING"         // 202: the user is entering the password; query again
	ErrCodeRateLimitExceeded ErrorCode = "RATELIMIT_EXCEEDED" // 429: too many calls; back off and retry with the same parameters
	ErrCodeSystemError       ErrorCode = "SYSTEM_ERROR"       // 500: WeChat failed; retry with the same parameters
	ErrCodeServiceUnavail    ErrorCode = "SERVICE_UNAVAILABLE"
)

// retryable lists the codes whose documented remedy is "call again with
// the same parameters".
func (c ErrorCode) retryable() bool {
	switch c {
	case ErrCodeSystemError, "SYSTEMERROR", ErrCodeServiceUnavail, ErrCodeRateLimitExceeded, "RATE_LIMITED",
		ErrCodeUserPaying, "BANK_ERROR", "FREQUENCY_LIMITED":
		return true
	}
	return false
}

// ErrorDetail is the optional detail of an error answer: which part of
// the request WeChat objects to.
type ErrorDetail struct {
	// Field is a JSON Pointer into the body ("/amount/currency") or the
	// name of a path or query parameter.
	Field string `json:"field"`
	// Value is the value WeChat objected to, as WeChat echoes it.
	Value any `json:"value"`
	// Issue says what is wrong with it.
	Issue string `json:"issue"`
	// Location is where the field is: "body", "query", "path",
	// "authorization" ...
	Location string `json:"location"`
	// SignInformation is set on a 401 SIGN_ERROR: what WeChat rebuilt
	// from the request and checked the signature against. Compare it
	// with what was sent (the URL and the length of the signed string);
	// it holds no secret.
	SignInformation *SignInformation `json:"sign_information"`
}

// SignInformation is WeChat's account of a request whose signature it
// refused, from the detail of a SIGN_ERROR answer.
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/partner/development/verify-signature-faq/http-header-authorization-error.html
type SignInformation struct {
	Method               string `json:"method"`
	URL                  string `json:"url"`
	SignMessageLength    int64  `json:"sign_message_length"`
	TruncatedSignMessage string `json:"truncated_sign_message"`
}

// UnmarshalJSON reads a detail object. WeChat nests the issue of a
// SIGN_ERROR one level down ({"detail":{"issue":"sign not match"}}); it
// is lifted into Issue.
func (d *ErrorDetail) UnmarshalJSON(b []byte) error {
	type plain ErrorDetail // no methods: breaks the recursion
	var v struct {
		plain
		Nested *struct {
			Issue string `json:"issue"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*d = ErrorDetail(v.plain)
	if d.Issue == "" && v.Nested != nil {
		d.Issue = v.Nested.Issue
	}
	return nil
}

// Error is an error answer of WeChat Pay (an HTTP status other than 2xx),
// or an answer that could not be used at all. Retrieve it with errors.As:
//
//	var e *apiv3.Error
//	if errors.As(err, &e) && e.Code == apiv3.ErrCodeOrderNotExist { ... }
//
// Verified says whether the answer carried a valid WeChat signature. WeChat
// signs an error answer only when it accepted the request's signature (a
// 401 SIGN_ERROR is never signed); an unsigned answer may come from a
// gateway or proxy, so its text is for logs, not decisions.
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/development/interface-rules/basic-rules.html
type Error struct {
	// Op is the endpoint, such as "certificates".
	Op string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Code and Message are WeChat's code and explanation; empty when the
	// body was not a WeChat error object.
	Code    ErrorCode
	Message string
	// Detail is WeChat's detail object, nil when absent.
	Detail *ErrorDetail
	// RequestID is the Request-ID header: quote it to WeChat support.
	RequestID string
	// Verified reports that the answer's signature was checked and valid.
	Verified bool
	// Err is the cause when the answer could not be read as a WeChat
	// error object (an HTML page from a gateway, an oversized body).
	Err error

	// key is the endpoint's idempotency key (out_refund_no), named in
	// the text of a retryable error so the retry reuses it.
	key string
}

// Error returns a one-line summary such as
// "apiv3: refunds: http 403: NOTENOUGH: 余额不足 (request-id 08F…)".
// It never contains key material.
func (e *Error) Error() string { return "apiv3: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *Error) Text() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString("http ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(wire.OneLine(string(e.Code)))
		if e.Message != "" {
			b.WriteString(": ")
			b.WriteString(wire.OneLine(e.Message))
		}
		if d := e.Detail; d != nil && (d.Field != "" || d.Issue != "") {
			b.WriteString(" [")
			b.WriteString(wire.OneLine(d.Field))
			if d.Issue != "" {
				b.WriteString(": ")
				b.WriteString(wire.OneLine(d.Issue))
			}
			b.WriteString("]")
		}
	} else if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(wire.Text(e.Err))
	} else if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" ")
		b.WriteString(t)
	}
	if e.Code == ErrCodeSignError {
		b.WriteString(" (WeChat refused the request's signature: check MerchantSerialNo, the private key and the clock)")
	}
	if !e.Verified && e.Code != "" {
		b.WriteString(" (unsigned answer)")
	}
	if e.RequestID != "" {
		b.WriteString(" (request-id ")
		b.WriteString(wire.OneLine(e.RequestID))
		b.WriteString(")")
	}
	if e.key != "" && e.Retryable() {
		b.WriteString(wire.RetryHint(e.key))
	}
	return b.String()
}

// Unwrap returns the cause, if any, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether calling again with the same parameters may
// succeed: the codes WeChat documents as transient (SYSTEM_ERROR,
// RATELIMIT_EXCEEDED, USERPAYING, ...), and 429 and 5xx answers. A retry
// must reuse the same out_trade_no or out_refund_no, which is what makes
// it safe.
func (e *Error) Retryable() bool {
	if e.Code != "" && e.Code.retryable() {
		return true
	}
	return e.StatusCode == http.StatusTooManyRequests || (e.StatusCode >= 500 && e.StatusCode <= 599)
}

// RequestError reports a request that apiv3 refused to send because a
// field breaks one of WeChat's rules. No network call was made, so it is
// always safe to fix the field and call again. The offending value is not
// repeated, since it may be personal data.
type RequestError struct {
	// Op is the endpoint, such as "certificates".
	Op string
	// Field is the wire name of the field.
	Field string
	// Reason says which rule the field breaks.
	Reason string
}

// Error returns a line such as "apiv3: refunds: invalid out_refund_no: is empty".
func (e *RequestError) Error() string { return "apiv3: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *RequestError) Text() string { return wire.RequestText(e.Op, e.Field, e.Reason) }

// OutcomeUnknownError reports a call whose request may have reached WeChat
// but whose answer was lost or unusable: a timeout after the connection
// was made, a 5xx or 429 answer without a verifiable body, a signed answer
// whose signature failed. WeChat may or may not have acted on it. The safe
// remedy is to call again with the same idempotency key (Key names it:
// out_trade_no, out_refund_no) and the same parameters, or to query by it
// first: WeChat acts on a key once. Never retry under a new key; that can
// charge or refund twice.
type OutcomeUnknownError struct {
	// Op is the endpoint.
	Op string
	// Key is the wire name of the idempotency key to reuse.
	Key string
	// Err is the cause; context errors and [*Error] stay matchable.
	Err error
}

// Error says what failed and how to retry safely; never a secret.
func (e *OutcomeUnknownError) Error() string { return "apiv3: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *OutcomeUnknownError) Text() string { return wire.OutcomeUnknownText(e.Op, e.Key, e.Err) }

// Unwrap returns the cause.
func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// Retryable reports whether err is worth retrying with exactly the same
// request, idempotency key included: an [*OutcomeUnknownError], an
// [*Error] whose [Error.Retryable] is true, an answer carrying WeChat's
// signature probe ([ErrSignatureProbe]: WeChat answers correctly signed
// again), a transport failure that provably never reached WeChat, or
// any transport failure of a query (a read changes nothing at WeChat). A
// [*RequestError], a definite error answer, any other signature failure
// on a call without an idempotency key, or the caller's own cancellation
// is not.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var oe *OutcomeUnknownError
	if errors.As(err, &oe) {
		return true
	}
	var we *Error
	if errors.As(err, &we) {
		return we.Retryable()
	}
	if errors.Is(err, ErrSignatureProbe) {
		return true
	}
	var re *RequestError
	if errors.As(err, &re) || errors.Is(err, context.Canceled) || errors.Is(err, ErrSignature) {
		return false
	}
	var rf readFailure
	return errors.As(err, &rf) || wire.NeverSent(err)
}

// opError names the endpoint in an error that is not a WeChat answer (a
// transport failure, a bad signature), dropping the cause's own prefix so
// the text reads "apiv3: certificates: signature verification failed".
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return "apiv3: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *opError) Text() string { return e.op + ": " + wire.Text(e.err) }

func (e *opError) Unwrap() error { return e.err }
