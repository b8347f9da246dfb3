package app

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/examples/shop"
)

// TestUpstreamV3: apiv3's typed errors get the kinds v2's get (refused,
// unavailable, outcome unknown), and ORDERPAID and ORDER_CLOSED become
// the shop's sentinels only when WeChat signed them.
func TestUpstreamV3(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tt := range []struct {
		name   string
		err    error
		kind   shop.UpstreamKind
		reason string
	}{
		{"request refused before sending", &apiv3.RequestError{Op: "transactions/jsapi", Field: "payer.openid", Reason: "is empty"}, shop.UpstreamRefused, "invalid payer.openid"},
		{"business error", &apiv3.Error{Op: "transactions/jsapi", StatusCode: 403, Code: apiv3.ErrCodeNoAuth, Verified: true}, shop.UpstreamRefused, "NO_AUTH"},
		{"our signature refused (never signed)", &apiv3.Error{Op: "transactions/jsapi", StatusCode: 401, Code: apiv3.ErrCodeSignError}, shop.UpstreamRefused, "SIGN_ERROR"},
		{"busy", &apiv3.Error{Op: "transactions/jsapi", StatusCode: 500, Code: apiv3.ErrCodeSystemError, Verified: true}, shop.UpstreamUnavailable, "SYSTEM_ERROR"},
		{"rate limited", &apiv3.Error{Op: "refunds", StatusCode: 429, Code: apiv3.ErrCodeRateLimitExceeded, Verified: true}, shop.UpstreamUnavailable, "RATELIMIT_EXCEEDED"},
		{"gateway page", &apiv3.Error{Op: "transactions/jsapi", StatusCode: 404, Err: apiv3.ErrJSON}, shop.UpstreamUnknown, ""},
		{"outcome unknown", &apiv3.OutcomeUnknownError{Op: "refunds", Key: "out_refund_no", Err: dial}, shop.UpstreamUnknown, ""},
		{"answer not verified", fmt.Errorf("x: %w", apiv3.ErrSignature), shop.UpstreamRefused, "verification"},
		{"notification key wrong", fmt.Errorf("x: %w", apiv3.ErrDecrypt), shop.UpstreamRefused, "verification"},
		{"connection refused", fmt.Errorf("x: %w", dial), shop.UpstreamUnavailable, "reached"},
		{"code not shaped like WeChat's", &apiv3.Error{Op: "refunds", StatusCode: 400, Code: "<b>x</b>", Verified: true}, shop.UpstreamRefused, "WeChat error code"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ue *shop.UpstreamError
			if err := upstreamErr("op", tt.err); !errors.As(err, &ue) || ue.Kind != tt.kind {
				t.Fatalf("kind %+v; want %d", ue, tt.kind)
			}
			if !errors.Is(ue, tt.err) {
				t.Error("the cause is not kept for errors.Is")
			}
			if tt.reason != "" && !strings.Contains(ue.Reason, tt.reason) {
				t.Errorf("reason %q, want it to say %q", ue.Reason, tt.reason)
			}
		})
	}
	paid := &apiv3.Error{Op: "transactions/close", StatusCode: 400, Code: apiv3.ErrCodeOrderPaid, Verified: true}
	closed := &apiv3.Error{Op: "transactions/jsapi", StatusCode: 400, Code: apiv3.ErrCodeOrderClosed, Verified: true}
	if err := payErrV3("transactions/close", paid); !errors.Is(err, shop.ErrWeChatPaid) {
		t.Errorf("signed ORDERPAID: %v", err)
	}
	if err := payErrV3("transactions/jsapi", closed); !errors.Is(err, shop.ErrWeChatClosed) {
		t.Errorf("signed ORDER_CLOSED: %v", err)
	}
	unsigned := *paid
	unsigned.Verified = false
	if err := payErrV3("transactions/close", &unsigned); errors.Is(err, shop.ErrWeChatPaid) {
		t.Error("an unsigned ORDERPAID (a proxy's page could say it) was taken for WeChat's word")
	}
	for st, want := range map[apiv3.RefundStatus]string{apiv3.RefundClosed: "REFUNDCLOSE", apiv3.RefundAbnormal: "CHANGE", apiv3.RefundSuccess: "SUCCESS", apiv3.RefundProcessing: "PROCESSING"} {
		if got := refundStatusV3(st); got != want {
			t.Errorf("refund status %s written %s, want %s", st, got, want)
		}
	}
	if _, err := queryStateV3("SOMETHING_NEW"); err == nil {
		t.Error("an unknown trade_state was not an error")
	}
}
