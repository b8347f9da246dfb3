package miniprogram

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// WeChat errcode values returned by the APIs in this package. They are the
// codes the official pages and common reports document; WeChat may return
// others, so treat the list as names for the frequent cases, not as a closed
// set. Compare them with [Error.Code].
//
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/server/API/user-login/api_code2session
const (
	// CodeSystemBusy (-1) means WeChat is busy; retry later.
	CodeSystemBusy = -1
	// CodeInvalidCredential (40001) means the AppSecret is wrong when
	// fetching a token, or the access_token is invalid or not the latest one
	// when calling an API with it.
	CodeInvalidCredential = 40001
	// CodeInvalidGrantType (40002) means grant_type was not client_credential.
	CodeInvalidGrantType = 40002
	// CodeInvalidAppID (40013) means the AppID is unknown.
	CodeInvalidAppID = 40013
	// CodeInvalidAccessToken (40014) means the access_token is malformed.
	CodeInvalidAccessToken = 40014
	// CodeInvalidCode (40029) means the js_code or phone code is invalid or
	// has expired (codes live about five minutes).
	CodeInvalidCode = 40029
	// CodeInvalidURL (40066) means the request path is wrong.
	CodeInvalidURL = 40066
	// CodeInvalidSecret (40125) means the AppSecret is wrong.
	CodeInvalidSecret = 40125
	// CodeCodeUsed (40163) means the code was already exchanged; codes are
	// single-use, so ask the mini program to call wx.login again.
	CodeCodeUsed = 40163
	// CodeIPNotAllowed (40164) means the caller's IP is not on the app's
	// IP whitelist.
	CodeIPNotAllowed = 40164
	// CodeHighRisk (40226) means WeChat blocked the login of a high-risk user.
	CodeHighRisk = 40226
	// CodeSecretFrozen (40243) means the AppSecret has been frozen.
	CodeSecretFrozen = 40243
	// CodeMissingAccessToken (41001) means the access_token parameter is missing.
	CodeMissingAccessToken = 41001
	// CodeMissingAppID (41002) means the appid parameter is missing.
	CodeMissingAppID = 41002
	// CodeMissingSecret (41004) means the secret parameter is missing.
	CodeMissingSecret = 41004
	// CodeMissingCode (41008) means the code parameter is missing.
	CodeMissingCode = 41008
	// CodeAccessTokenExpired (42001) means the access_token has expired.
	CodeAccessTokenExpired = 42001
	// CodeDailyQuotaExceeded (45009) means the API's daily call quota is used up.
	CodeDailyQuotaExceeded = 45009
	// CodeRateLimited (45011) means the per-minute quota is used up; retry
	// in the next minute.
	CodeRateLimited = 45011
	// CodeInvalidRequestFormat (47001) means the request body was not the
	// JSON WeChat expects.
	CodeInvalidRequestFormat = 47001
)

// Sentinel errors for local checks. They are usually wrapped with more
// context, so test for them with errors.Is, never with ==.
var (
	// ErrBadInput reports an argument that is empty or malformed before any
	// cryptography or network I/O happens: an empty code, a session key or iv
	// that is not base64 or does not decode to 16 bytes, an empty
	// encryptedData. Such errors come from the caller or the mini program,
	// not from WeChat.
	ErrBadInput = errors.New("miniprogram: invalid input")

	// ErrDecrypt reports encryptedData that does not decrypt to a JSON
	// object: wrong session key or iv, tampered ciphertext or bad padding.
	// [Client.DecryptData] returns this very value, unwrapped, for all of
	// these causes, through one code path with a constant-time padding
	// check, so that neither the error nor its text can serve as a padding
	// oracle.
	ErrDecrypt = errors.New("miniprogram: cannot decrypt data")

	// ErrWatermark reports decrypted data whose watermark.appid is missing
	// or differs from the client's AppID: the data was issued to another app.
	ErrWatermark = errors.New("miniprogram: watermark appid mismatch")

	// ErrIdentity reports decrypted user data whose openId is missing or
	// differs from the [Session] it was checked against (or whose unionId
	// differs from the session's, when both are present). Because the iv
	// comes from the client and AES-CBC has no MAC, whoever holds
	// encryptedData and iv can rewrite its first 16 plaintext bytes, which
	// is where the openId starts; see [Client.DecryptUserInfo].
	ErrIdentity = errors.New("miniprogram: decrypted data names another user")

	// ErrSignature reports rawData whose signature does not match.
	ErrSignature = errors.New("miniprogram: signature mismatch")

	// ErrInvalidResponse reports a WeChat response that could not be
	// understood: not JSON, too large, or missing required fields. It is
	// only ever returned inside an [*Error], which carries the HTTP status
	// and supplies the "miniprogram: <op>: " prefix, so its own text has
	// none.
	ErrInvalidResponse = errors.New("invalid response")
)

// Error is a failure reported by a WeChat API call: an errcode in the body,
// a non-2xx HTTP status, or a body this package could not understand. Use
// errors.As to get at it.
//
// The fields never contain the app secret, a session_key or an access
// token; Message is scrubbed of them in case WeChat ever echoes one.
type Error struct {
	// Op names the API that failed: "code2session", "token",
	// "stable_token" or "getuserphonenumber".
	Op string
	// StatusCode is the HTTP status of the response (usually 200, since
	// WeChat reports most failures in the body).
	StatusCode int
	// Code is WeChat's errcode, such as [CodeInvalidCode], or 0 when the
	// response carried none.
	Code int
	// Message is WeChat's errmsg, verbatim apart from secret scrubbing
	// and a 512-byte cap. [Error.Error] sanitises it further.
	Message string
	// Err is the cause when the response was malformed; it wraps
	// [ErrInvalidResponse]. It is nil for errcode and HTTP status failures.
	Err error
}

// Error returns a one-line description such as
// "miniprogram: code2session: errcode 40029: invalid code". Op and Message
// come from outside this package's control (Message is whatever WeChat
// sent), so in the text they are made safe for log lines: control
// characters, line and paragraph separators and bidirectional-text
// controls become spaces, invalid UTF-8 becomes U+FFFD, and each is cut to
// at most 256 bytes.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("miniprogram: ")
	b.WriteString(sanitize(e.Op))
	if e.StatusCode != 0 && (e.StatusCode < 200 || e.StatusCode > 299) {
		fmt.Fprintf(&b, ": http status %d", e.StatusCode)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, ": errcode %d", e.Code)
		if e.Message != "" {
			b.WriteString(": ")
			b.WriteString(sanitize(e.Message))
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// maxMessageLen caps each externally supplied part of [Error.Error], in
// bytes, before the "…" that marks a cut.
const maxMessageLen = 256

// sanitize makes s safe to embed in a one-line error or log message; see
// [Error.Error].
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp, unicode.Bidi_Control) {
			return ' '
		}
		return r
	}, s)
	return wire.Truncate(s, maxMessageLen)
}

// Unwrap returns the cause of a malformed-response error, so that
// errors.Is(err, ErrInvalidResponse) works.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether WeChat asked the caller to try again later:
// [CodeSystemBusy] or [CodeRateLimited]. Other codes will fail the same way
// when retried (for example, a used login code stays used). Back off before
// retrying; 45011 means wait for the next minute.
func (e *Error) Retryable() bool {
	return e.Code == CodeSystemBusy || e.Code == CodeRateLimited
}

// isTokenRejected reports whether code says the access token used for a
// call is no longer accepted, so a fresh token may succeed.
func isTokenRejected(code int) bool {
	return code == CodeInvalidCredential || code == CodeAccessTokenExpired || code == CodeInvalidAccessToken
}
