package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/miniprogram"
)

// TestClassify: the errors no fake answer produces (a request refused
// before sending, an untrusted certificate, a refused connection, a
// timeout) get their kind, however deeply wrapped.
func TestClassify(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tt := range []struct {
		name string
		err  error
		kind shop.UpstreamKind
	}{
		{"request refused before sending", &wxpay.RequestError{Op: "unifiedorder", Field: "spbill_create_ip", Reason: "bad"}, shop.UpstreamRefused},
		{"untrusted certificate", fmt.Errorf("wxpay: unifiedorder: %w", x509.UnknownAuthorityError{}), shop.UpstreamRefused},
		{"wrong host name", fmt.Errorf("wrapped: %w", x509.HostnameError{Host: "api.mch.weixin.qq.com"}), shop.UpstreamRefused},
		{"client certificate refused", fmt.Errorf("x: %w", wxpay.ErrCertificateRefused), shop.UpstreamRefused},
		{"answer not verified", fmt.Errorf("x: %w", wxpay.ErrSignature), shop.UpstreamRefused},
		{"another merchant's answer", fmt.Errorf("x: %w", wxpay.ErrMerchant), shop.UpstreamRefused},
		{"connection refused", fmt.Errorf("x: %w", dial), shop.UpstreamUnavailable},
		{"timeout after connecting", fmt.Errorf("x: %w", context.DeadlineExceeded), shop.UpstreamUnknown},
		{"outcome unknown on a key, whatever its cause", &wxpay.OutcomeUnknownError{Op: "refund", Key: "out_refund_no", Err: dial}, shop.UpstreamUnknown},
		{"FAIL answer", &wxpay.Error{Op: "refund", ReturnCode: "SUCCESS", Code: wxpay.ErrCodeNotEnough}, shop.UpstreamRefused},
		{"busy", &wxpay.Error{Op: "unifiedorder", ReturnCode: "SUCCESS", Code: wxpay.ErrCodeSystemError}, shop.UpstreamUnavailable},
		{"gateway 404", &wxpay.Error{Op: "unifiedorder", StatusCode: 404, Err: wxpay.ErrXML}, shop.UpstreamUnknown},
		{"mini-program refusal", &miniprogram.Error{Op: "code2session", StatusCode: 200, Code: miniprogram.CodeInvalidAppID}, shop.UpstreamRefused},
		{"mini-program rate limit", &miniprogram.Error{Op: "code2session", StatusCode: 200, Code: miniprogram.CodeRateLimited}, shop.UpstreamUnavailable},
		{"unclassified", errors.New("something else"), shop.UpstreamUnknown},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := upstreamErr("op", tt.err)
			var ue *shop.UpstreamError
			if !errors.As(err, &ue) || ue.Kind != tt.kind {
				t.Fatalf("%v: kind %+v; want %d", tt.err, ue, tt.kind)
			}
			if !errors.Is(err, tt.err) {
				t.Error("the cause is not kept for errors.Is")
			}
		})
	}
	if upstreamErr("op", nil) != nil {
		t.Error("nil is not kept nil")
	}
}

// TestClassifyReasonIsSafe: a code that is not shaped like WeChat's
// documented ones is not echoed to the client.
func TestClassifyReasonIsSafe(t *testing.T) {
	err := upstreamErr("unifiedorder", &wxpay.Error{Op: "unifiedorder", ReturnCode: "SUCCESS", Code: "<script>alert(1)</script>"})
	e := shop.UpstreamAPIError("payment", "", err)
	if e.Code != shop.CodeUpstreamRefused || e.Message != "WeChat refused the payment (WeChat error code); repeating the same request will fail the same way" {
		t.Fatalf("%+v", e)
	}
}
