package app

// This file classifies the libraries' errors into the shop's three kinds
// of upstream failure (refused, unavailable, outcome unknown). It is the
// only place that looks inside them: every WeChat call of wechat.go ends
// here, and the shop turns the kind into the client's answer in one
// place (shop.UpstreamAPIError).
//
// The checks are by behaviour, on a small set: an idempotency key whose
// outcome is unknown, a request refused before sending, an answer that
// failed verification, an answer error (anything with Retryable() and a
// definite code), a TLS verification failure, and the library's own
// "provably never sent". The v3 client's errors (package apiv3) have the
// same shape, and are one more case in answerOf and in the first switch.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"regexp"
	"strconv"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/miniprogram"
)

// upstreamErr classifies err, the failure of a WeChat call op, into a
// *shop.UpstreamError (nil stays nil).
func upstreamErr(op string, err error) error {
	if err == nil {
		return nil
	}
	ue := &shop.UpstreamError{Op: op, Err: err}
	ue.Kind, ue.Reason, ue.RetryAfter = classify(err)
	return ue
}

// retryabler is the behaviour every answer error of the libraries shares:
// *wxpay.Error, *miniprogram.Error (and the v3 client's error).
type retryabler interface {
	error
	Retryable() bool
}

// answer is what an answer error says, whatever its library.
type answer struct {
	// definite: WeChat itself answered with a refusal (a FAIL with its
	// code), not a gateway page or an unreadable body.
	definite bool
	// reason is the public code, such as "NOAUTH" or "errcode 40013".
	reason string
	// after is the wait WeChat's remedy asks for, or 0.
	after time.Duration
}

// publicCode is what a documented WeChat code looks like; anything else
// from the network is not echoed to clients.
var publicCode = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,39}$`)

// answerOf reads an answer error of one of the libraries.
func answerOf(err error) (answer, bool) {
	var we *wxpay.Error
	var me *miniprogram.Error
	var v3 *apiv3.Error
	switch {
	case errors.As(err, &v3):
		// A v3 error answer: a code is WeChat's refusal (a 401
		// SIGN_ERROR is never signed, and is still one); no code is a
		// gateway's page or an unreadable body.
		if v3.Code == "" {
			return answer{}, true
		}
		a := answer{definite: true, reason: "WeChat error code"}
		if publicCode.MatchString(string(v3.Code)) {
			a.reason = string(v3.Code)
		}
		if v3.Code == apiv3.ErrCodeRateLimitExceeded || v3.StatusCode == 429 {
			a.after = time.Minute
		}
		return a, true
	case errors.As(err, &we):
		switch {
		case we.Code != "":
			a := answer{definite: true, reason: "WeChat error code"}
			if publicCode.MatchString(string(we.Code)) {
				a.reason = string(we.Code)
			}
			if we.Code == wxpay.ErrCodeFrequencyLimited {
				a.after = time.Minute
			}
			return a, true
		case we.ReturnCode != "" && we.ReturnCode != "SUCCESS":
			// return_code FAIL: WeChat refused the request itself (its
			// signature, its parameters, the merchant). return_msg is not
			// signed, so it goes to the log only.
			return answer{definite: true, reason: "return_code FAIL"}, true
		}
		return answer{}, true
	case errors.As(err, &me):
		if me.Code != 0 {
			a := answer{definite: true, reason: "errcode " + strconv.Itoa(me.Code)}
			if me.Code == miniprogram.CodeRateLimited {
				a.after = time.Minute // "retry in the next minute"
			}
			return a, true
		}
		return answer{}, true
	}
	return answer{}, false
}

// classify is the decision itself; see the file comment. The order
// matters: an unknown outcome on an idempotency key wins over what its
// cause says, and a permanent failure is never read as a transient one.
func classify(err error) (kind shop.UpstreamKind, reason string, after time.Duration) {
	var unknown *wxpay.OutcomeUnknownError
	var bad *wxpay.RequestError
	var unknown3 *apiv3.OutcomeUnknownError
	var bad3 *apiv3.RequestError
	switch {
	case errors.As(err, &unknown), errors.As(err, &unknown3):
		return shop.UpstreamUnknown, "", 0
	case errors.As(err, &bad):
		return shop.UpstreamRefused, "the request was refused before it was sent: invalid " + bad.Field, 0
	case errors.As(err, &bad3):
		return shop.UpstreamRefused, "the request was refused before it was sent: invalid " + bad3.Field, 0
	case errors.Is(err, apiv3.ErrSignature), errors.Is(err, apiv3.ErrDecrypt), errors.Is(err, apiv3.ErrCertificate),
		errors.Is(err, apiv3.ErrNoEncryptionKey):
		return shop.UpstreamRefused, "WeChat's answer failed verification: check the WeChat Pay public key (or platform certificates) and the APIv3 key", 0
	case errors.Is(err, wxpay.ErrCertificateRefused):
		return shop.UpstreamRefused, "WeChat refused the merchant's API certificate", 0
	case errors.Is(err, wxpay.ErrSignature), errors.Is(err, wxpay.ErrMissingSign),
		errors.Is(err, wxpay.ErrSignType), errors.Is(err, wxpay.ErrMerchant):
		return shop.UpstreamRefused, "WeChat's answer failed verification: check the API key and the sign type", 0
	}
	var r retryabler
	if errors.As(err, &r) {
		a, _ := answerOf(err)
		switch {
		case r.Retryable():
			return shop.UpstreamUnavailable, a.reason, a.after
		case a.definite:
			return shop.UpstreamRefused, a.reason, 0
		}
		// An HTTP status page or a body that is not WeChat's: the
		// request may have been acted on.
		return shop.UpstreamUnknown, "", 0
	}
	if tlsVerification(err) {
		// Retrying cannot make an untrusted certificate trusted.
		return shop.UpstreamRefused, "WeChat's TLS certificate could not be verified", 0
	}
	if wxpay.Retryable(err) || apiv3.Retryable(err) {
		// Provably never sent (no such host, connection refused).
		return shop.UpstreamUnavailable, "WeChat could not be reached", 0
	}
	return shop.UpstreamUnknown, "", 0
}

// tlsVerification reports a failed verification of the server's
// certificate: permanent until someone fixes the trust store or the URL.
func tlsVerification(err error) bool {
	var (
		verif *tls.CertificateVerificationError
		auth  x509.UnknownAuthorityError
		host  x509.HostnameError
		inval x509.CertificateInvalidError
	)
	return errors.As(err, &verif) || errors.As(err, &auth) || errors.As(err, &host) || errors.As(err, &inval)
}
