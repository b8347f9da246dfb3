package wxpay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strconv"
	"strings"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// Verification failures. They are returned as they are (or wrapped with %w),
// so callers branch with errors.Is. None of them carries key material or the
// string that was signed.
var (
	// ErrMissingSign means the message has no sign field, or an empty one.
	ErrMissingSign = wire.NewError("wxpay: ", "message is not signed")
	// ErrSignature means the sign does not match the message: it was
	// computed with another key, the message changed after signing, or the
	// sign is not hex of the configured algorithm's length.
	ErrSignature = wire.NewError("wxpay: ", "signature mismatch")
	// ErrSignType means the message's sign_type names an algorithm other
	// than the configured one. wxpay never lets a message pick a weaker
	// algorithm than the merchant chose (no downgrade).
	ErrSignType = wire.NewError("wxpay: ", "sign_type not allowed")
	// ErrMerchant means a verified message names another appid or mch_id
	// than the client's: it is genuine, but not meant for this merchant.
	ErrMerchant = wire.NewError("wxpay: ", "appid or mch_id does not match")
)

// ErrAmount means an amount field is not a canonical non-negative integer.
var ErrAmount = wire.NewError("wxpay: ", "malformed amount")

// ErrMissingField is the cause in a [FieldError] for a required field that
// is absent or empty.
var ErrMissingField = wire.NewError("wxpay: ", "required field missing")

// ErrDecrypt means the req_info of a refund notification could not be
// decrypted: it is not base64, not a whole number of AES blocks, or its
// padding is wrong, which is what a wrong key or a tampered ciphertext
// produces. Every such failure returns this one error, so that nothing
// about the plaintext leaks through which check failed.
var ErrDecrypt = wire.NewError("wxpay: ", "cannot decrypt req_info")

// ErrResponseTooLarge is the cause (Error.Err) when an answer's body is
// longer than 1 MiB. Real answers are a few kilobytes, so such a body is
// a misbehaving proxy or gateway, not WeChat; it is not read further.
var ErrResponseTooLarge = wire.NewError("wxpay: ", "response body exceeds 1 MiB")

// ErrAmbiguousValue means a correctly signed message has a value that holds
// "&name=" where name is a field of the same message, so the signed string
// can be cut into fields in more than one way; see [Signer.Verify]. It
// also matches [ErrSignature] under errors.Is, so code that treats a bad
// signature as a forgery treats this one the same way.
var ErrAmbiguousValue error = &ambiguousError{}

type ambiguousError struct{}

func (*ambiguousError) Error() string {
	return "wxpay: a field value embeds another field of the message"
}

// Is makes errors.Is(ErrAmbiguousValue, ErrSignature) true.
func (*ambiguousError) Is(target error) bool { return target == ErrSignature }

// ErrXML is matched (errors.Is) by every [XMLError]: input [DecodeXML]
// refused.
var ErrXML = wire.NewError("wxpay: ", "malformed XML")

// ErrorCode is WeChat's err_code: why a call with result_code=FAIL failed.
// The constants below are the documented codes; WeChat may send others,
// which arrive as they are.
type ErrorCode string

// Documented err_code values of the v2 API. See the error tables of each
// endpoint, for example
// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_1 (unifiedorder).
const (
	ErrCodeSystemError          ErrorCode = "SYSTEMERROR"           // WeChat's side failed; retry with the same parameters
	ErrCodeBizErrNeedRetry      ErrorCode = "BIZERR_NEED_RETRY"     // refund rejected under concurrency; retry with the same out_refund_no
	ErrCodeBankError            ErrorCode = "BANKERROR"             // the bank failed; query the order, then retry
	ErrCodeUserPaying           ErrorCode = "USERPAYING"            // micropay waits for the user's password; poll orderquery
	ErrCodeFrequencyLimited     ErrorCode = "FREQUENCY_LIMITED"     // too many calls; retry more slowly
	ErrCodeInvalidRequest       ErrorCode = "INVALID_REQUEST"       // parameters break a rule, e.g. a re-entered order changed
	ErrCodeNoAuth               ErrorCode = "NOAUTH"                // the merchant lacks permission for this call
	ErrCodeNotEnough            ErrorCode = "NOTENOUGH"             // insufficient balance
	ErrCodeOrderPaid            ErrorCode = "ORDERPAID"             // the order is already paid; do not charge again
	ErrCodeOrderClosed          ErrorCode = "ORDERCLOSED"           // the order is closed; place a new one
	ErrCodeOrderNotExist        ErrorCode = "ORDERNOTEXIST"         // no such order (or it was never paid)
	ErrCodeOutTradeNoUsed       ErrorCode = "OUT_TRADE_NO_USED"     // out_trade_no already used with other parameters
	ErrCodeTradeStateError      ErrorCode = "TRADE_STATE_ERROR"     // the order's state does not allow this call
	ErrCodeAppIDNotExist        ErrorCode = "APPID_NOT_EXIST"       // unknown appid
	ErrCodeMchIDNotExist        ErrorCode = "MCHID_NOT_EXIST"       // unknown mch_id
	ErrCodeAppIDMchIDNotMatch   ErrorCode = "APPID_MCHID_NOT_MATCH" // appid not bound to mch_id
	ErrCodeLackParams           ErrorCode = "LACK_PARAMS"           // a required parameter is missing
	ErrCodeParamError           ErrorCode = "PARAM_ERROR"           // a parameter is malformed
	ErrCodeSignError            ErrorCode = "SIGNERROR"             // WeChat rejected our signature (wrong key or type)
	ErrCodeXMLFormatError       ErrorCode = "XML_FORMAT_ERROR"      // WeChat could not parse our XML
	ErrCodeRequirePostMethod    ErrorCode = "REQUIRE_POST_METHOD"   // the request was not a POST
	ErrCodePostDataEmpty        ErrorCode = "POST_DATA_EMPTY"       // the request body was empty
	ErrCodeNotUTF8              ErrorCode = "NOT_UTF8"              // the request was not UTF-8
	ErrCodeTradeOverdue         ErrorCode = "TRADE_OVERDUE"         // the order is over a year old; refund by other means
	ErrCodeError                ErrorCode = "ERROR"                 // generic refund failure; read the description
	ErrCodeUserAccountAbnormal  ErrorCode = "USER_ACCOUNT_ABNORMAL" // the payer's account is closed
	ErrCodeInvalidReqTooMuch    ErrorCode = "INVALID_REQ_TOO_MUCH"  // too many bad requests; fix them, wait a minute
	ErrCodeInvalidTransactionID ErrorCode = "INVALID_TRANSACTIONID" // malformed transaction_id
	ErrCodeRefundNotExist       ErrorCode = "REFUNDNOTEXIST"        // no such refund
	ErrCodeAuthCodeInvalid      ErrorCode = "AUTH_CODE_INVALID"     // micropay: not a payment code
	ErrCodeTradeError           ErrorCode = "TRADE_ERROR"           // micropay: the trade was refused
	ErrCodeRefundFeeMismatch    ErrorCode = "REFUND_FEE_MISMATCH"   // refund: total_fee is not the order's, or a reused out_refund_no has other amounts (merchant reports; not in WeChat's table)
	ErrCodeReverseExpire        ErrorCode = "REVERSE_EXPIRE"        // reverse: the order is too old to reverse (merchant reports; not in WeChat's table)
	ErrCodeBillCreating         ErrorCode = "BILL_CREATING"         // fund-flow bill not ready yet; fetch after 10:00
	ErrCodeNoBillExist          ErrorCode = "NO_BILL_EXIST"         // fund-flow bill: nothing for that date
)

// retryable lists the codes whose documented remedy is "call again with the
// same parameters" (the error tables' 解决方案 column).
func (c ErrorCode) retryable() bool {
	switch c {
	case ErrCodeSystemError, ErrCodeBizErrNeedRetry, ErrCodeBankError,
		ErrCodeUserPaying, ErrCodeFrequencyLimited:
		return true
	}
	return false
}

// Error is a FAIL answer from WeChat Pay, or an answer that could not be
// used at all. Retrieve it with errors.As:
//
//	var e *wxpay.Error
//	if errors.As(err, &e) && e.Code == wxpay.ErrCodeOrderPaid { ... }
//
// WeChat reports failure on two layers: ReturnCode FAIL means the request
// itself was refused (bad signature, malformed XML) and nothing else is
// set; ReturnCode SUCCESS with a Code means the call was understood but
// the business operation failed.
type Error struct {
	// Op is the endpoint, such as "unifiedorder".
	Op string
	// StatusCode is the HTTP status of the answer (200 for every answer
	// WeChat itself gives; 0 when the error did not come from HTTP).
	StatusCode int
	// ReturnCode and ReturnMsg are the protocol layer. A FAIL answer is
	// not signed, so ReturnMsg is WeChat's word only as far as the
	// connection is trusted; use it for logs, not decisions.
	ReturnCode string // "SUCCESS" or "FAIL"
	ReturnMsg  string // return_msg, such as "签名错误"
	// Code and Message are err_code and err_code_des, set when
	// result_code is FAIL.
	Code    ErrorCode // err_code, such as ErrCodeOrderPaid
	Message string    // err_code_des, WeChat's explanation of Code
	// Err is the cause when the answer could not be read as a WeChat
	// message (for example an HTML error page from a gateway), or a
	// sentinel that classifies a FAIL answer ([ErrNoBill],
	// [ErrBillCreating]).
	Err error

	// key is the idempotency key of the endpoint (out_refund_no), named
	// in the text of a retryable error so the retry reuses it.
	key string
}

// Error returns a one-line summary such as
// "wxpay: unifiedorder: ORDERPAID: 该订单已支付". It never contains key
// material.
func (e *Error) Error() string { return "wxpay: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *Error) Text() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	switch {
	case e.Code != "":
		b.WriteString(wire.OneLine(string(e.Code)))
		if e.Message != "" {
			b.WriteString(": ")
			b.WriteString(wire.OneLine(e.Message))
		}
	case e.ReturnCode != "" && e.ReturnCode != "SUCCESS":
		b.WriteString("return_code ")
		b.WriteString(wire.OneLine(e.ReturnCode))
		if e.ReturnMsg != "" {
			b.WriteString(": ")
			b.WriteString(wire.OneLine(e.ReturnMsg))
		}
	case e.Err != nil:
		if e.StatusCode != 0 {
			b.WriteString("http status ")
			b.WriteString(strconv.Itoa(e.StatusCode))
			b.WriteString(": ")
		}
		// The cause is usually one of ours; its text without the prefix
		// keeps "wxpay: op: ..." to one prefix.
		b.WriteString(wire.Text(e.Err))
	case e.StatusCode != 0:
		b.WriteString("http status ")
		b.WriteString(strconv.Itoa(e.StatusCode))
	default:
		b.WriteString("result_code FAIL")
	}
	if e.key != "" && e.Retryable() {
		b.WriteString(wire.RetryHint(e.key))
	}
	return b.String()
}

// Unwrap returns the cause, if any, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether calling again with the same parameters may
// succeed: the codes WeChat documents as transient (SYSTEMERROR,
// BIZERR_NEED_RETRY, BANKERROR, USERPAYING, FREQUENCY_LIMITED) and HTTP
// 5xx answers from a gateway. A retry must reuse the same out_trade_no or
// out_refund_no, which is what makes it safe.
func (e *Error) Retryable() bool {
	if e.Code != "" {
		return e.Code.retryable()
	}
	return e.StatusCode >= 500 && e.StatusCode <= 599
}

// OutcomeUnknownError reports a call whose request may have reached WeChat
// but whose answer was lost: a timeout after the connection was made, a
// connection reset, a cancelled context. WeChat may or may not have acted
// on it. For the endpoints with an idempotency key ([Client.Refund],
// [Client.MicroPay], [Client.Reverse]) the safe remedy is to call again
// with the same key (Key names it: out_refund_no, out_trade_no) and the
// same parameters: WeChat acts on a key once, and answers a repeat with the
// outcome of the first. Never retry under a new key: that can refund or
// charge twice.
type OutcomeUnknownError struct {
	// Op is the endpoint, such as "refund".
	Op string
	// Key is the wire name of the idempotency key to reuse.
	Key string
	// Err is the transport error; context errors stay matchable.
	Err error
}

// Error says what failed and how to retry safely; never a secret.
func (e *OutcomeUnknownError) Error() string { return "wxpay: " + e.Text() }

// Text is Error without the package prefix (see [wire.Text]).
func (e *OutcomeUnknownError) Text() string { return wire.OutcomeUnknownText(e.Op, e.Key, e.Err) }

// Unwrap returns the transport error.
func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// Retryable reports whether err is worth retrying with exactly the same
// request, idempotency key included: an [*Error] whose
// [Error.Retryable] is true (SYSTEMERROR, BIZERR_NEED_RETRY, ...), an
// [*OutcomeUnknownError] (whatever its cause: the request may have taken
// effect, and only a retry under the same key tells), or a transport
// failure that provably never reached WeChat and may pass on the next try
// (a name that did not resolve, a refused or timed-out connection). A
// [*RequestError], a FAIL answer with a definite code, a signature
// failure, the caller's own cancellation of a call without an idempotency
// key, and a TLS failure no retry can cure (the server's certificate is
// from an unknown authority, names another host or has expired; the
// server refused the client certificate, [ErrCertificateRefused]) are not
// retryable: they fail the same way every time, so a retry loop would
// spin until someone fixes the configuration.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if permanentTLS(err) {
		// Checked first: a handshake fails before any request byte is
		// written, so no outcome can be pending behind it.
		return false
	}
	var oe *OutcomeUnknownError
	if errors.As(err, &oe) {
		// Whatever its cause, even the caller's own cancellation or an
		// answer that could not be used: the request may have taken
		// effect, and only a retry with the same key tells.
		return true
	}
	var we *Error
	if errors.As(err, &we) {
		return we.Retryable()
	}
	var re *RequestError
	if errors.As(err, &re) || errors.Is(err, context.Canceled) {
		return false
	}
	return neverSent(err)
}

// permanentTLS reports a TLS failure that repeats on every try until the
// configuration changes: the server's certificate chain does not verify
// (unknown authority, expired or not yet valid, wrong host, a constraint
// or algorithm the verifier refuses, no system roots), or the server
// refused our client certificate. Transient handshake failures (a
// timeout, a reset) are not among them.
func permanentTLS(err error) bool {
	var (
		verifErr   *tls.CertificateVerificationError
		authErr    x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		rootsErr   x509.SystemRootsError
		algErr     x509.InsecureAlgorithmError
		critErr    x509.UnhandledCriticalExtension
	)
	return errors.As(err, &verifErr) || errors.As(err, &authErr) || errors.As(err, &hostErr) ||
		errors.As(err, &invalidErr) || errors.As(err, &rootsErr) || errors.As(err, &algErr) ||
		errors.As(err, &critErr) || errors.Is(err, ErrCertificateRefused)
}

// Bill download failures, matched with errors.Is on the [*Error] that
// [Client.DownloadBill] and [Client.DownloadFundFlow] return.
var (
	// ErrNoBill means WeChat has no bill for that date and type: no
	// trade happened, or the date is older than WeChat keeps bills.
	// WeChat says "No Bill Exist" (its page prints "NO Bill Exist"), or
	// NO_BILL_EXIST for the fund flow.
	ErrNoBill = wire.NewError("wxpay: ", "no bill exists for that date")
	// ErrBillCreating means the bill is still being generated; bills are
	// ready from about 10:00 (UTC+8) the next day.
	ErrBillCreating = wire.NewError("wxpay: ", "bill is still being created")
)

// ErrCertificateRefused matches the error of a certificate endpoint
// ([Client.Refund], [Client.Reverse], [Client.DownloadFundFlow]) whose TLS
// handshake the server aborted: nearly always the client certificate is
// wrong (another merchant's, expired, or not issued by WeChat). No request
// was processed.
var ErrCertificateRefused = wire.NewError("wxpay: ", "server refused the client certificate")

// ErrBillFormat is the cause of a [*BillError]: a bill that does not have
// WeChat's shape (a row with the wrong number of columns, a field without
// its backtick, an over-long line, a malformed amount).
var ErrBillFormat = wire.NewError("wxpay: ", "malformed bill")

// ErrRefundUnconfirmed means a refund notification disagrees with what
// refundquery says about the same refund (see [ConfirmWithRefundQuery]):
// it was replayed, spliced or forged, or the refund changed since.
var ErrRefundUnconfirmed = wire.NewError("wxpay: ", "refund notification not confirmed by refundquery")
