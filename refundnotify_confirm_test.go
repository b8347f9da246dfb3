package wxpay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// confirmPlain is a decrypted req_info for refund r1 of order o1.
func confirmPlain(outTradeNo, status string) []byte {
	return []byte("<root><transaction_id>4200002222202405010000000001</transaction_id><out_trade_no>" + outTradeNo +
		"</out_trade_no><refund_id>50000408202405010000000001</refund_id><out_refund_no>r1</out_refund_no>" +
		"<total_fee>500</total_fee><refund_fee>100</refund_fee><settlement_refund_fee>100</settlement_refund_fee>" +
		"<refund_status>" + status + "</refund_status><success_time>2024-05-01 14:20:00</success_time>" +
		"<refund_recv_accout>支付用户零钱</refund_recv_accout><refund_account>REFUND_SOURCE_UNSETTLED_FUNDS</refund_account>" +
		"<refund_request_source>API</refund_request_source></root>")
}

func confirmBody(t *testing.T, plain []byte) []byte {
	b, err := EncodeXML(Params{"return_code": "SUCCESS", "appid": testAppID, "mch_id": testMchID,
		"nonce_str": "TeqClE3i0mvn3DrK", "req_info": rnReqInfo(t, testKey, plain)})
	require.NoError(t, err)
	return b
}

func TestRefundNotifyConfirmWithRefundQuery(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var logMu sync.Mutex
	c, mux, ts := setup(t, WithLogger(slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))))
	var mu sync.Mutex
	answer := Params{}
	mux.HandleFunc("/pay/refundquery", fakeWeChat(t, func(req Params) Params {
		mu.Lock()
		defer mu.Unlock()
		if req["out_refund_no"] != "r1" {
			t.Errorf("confirmation asked about %v", req)
		}
		return okAnswer(answer)
	}, nil))
	queried := func(status string) Params {
		return Params{"transaction_id": "4200002222202405010000000001", "out_trade_no": "o1", "total_fee": "500",
			"refund_count": "1", "out_refund_no_0": "r1", "refund_id_0": "50000408202405010000000001",
			"refund_fee_0": "100", "refund_status_0": status}
	}
	var got []*RefundNotification
	var gotMu sync.Mutex
	fn := func(_ context.Context, n *RefundNotification) error {
		gotMu.Lock()
		got = append(got, n)
		gotMu.Unlock()
		return nil
	}
	// Confirmation is the default; the option forces it back on after
	// SkipRefundQuery. All three handlers must behave alike.
	handlers := map[string]http.Handler{
		"default":    c.RefundNotifyHandler(fn),
		"option":     c.RefundNotifyHandler(fn, ConfirmWithRefundQuery()),
		"re-enabled": c.RefundNotifyHandler(fn, SkipRefundQuery(), ConfirmWithRefundQuery()),
	}
	serve := func(h http.Handler, body []byte) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/refund", bytes.NewReader(body)))
		return w.Code
	}
	for hname, confirmed := range handlers {
		for _, tc := range []struct {
			name    string
			answer  Params
			plain   []byte
			status  int
			called  bool
			logText string
		}{
			{"agrees", queried("SUCCESS"), confirmPlain("o1", "SUCCESS"), 200, true, ""},
			{"spliced order number", queried("SUCCESS"), confirmPlain("o2", "SUCCESS"), 500, false, "out_trade_no differs"},
			{"state differs", queried("PROCESSING"), confirmPlain("o1", "SUCCESS"), 500, false, "refund_status differs"},
			{"unknown refund", Params{"result_code": "FAIL", "err_code": "REFUNDNOTEXIST"}, confirmPlain("o1", "SUCCESS"), 500, false, "REFUNDNOTEXIST"},
		} {
			mu.Lock()
			answer = tc.answer
			mu.Unlock()
			gotMu.Lock()
			got = nil
			gotMu.Unlock()
			assert.Equal(t, tc.status, serve(confirmed, confirmBody(t, tc.plain)), hname, tc.name)
			gotMu.Lock()
			assert.Equal(t, tc.called, len(got) == 1, hname, tc.name)
			if tc.called {
				assert.True(t, got[0].Confirmed)
			}
			gotMu.Unlock()
			logMu.Lock()
			assert.Contains(t, logs.String(), tc.logText, tc.name)
			logMu.Unlock()
		}
	}

	// With SkipRefundQuery nothing is queried and Confirmed stays false.
	before := ts.Hits.Load()
	got = nil
	assert.Equal(t, 200, serve(c.RefundNotifyHandler(fn, SkipRefundQuery()), confirmBody(t, confirmPlain("o2", "SUCCESS"))))
	require.Len(t, got, 1)
	assert.False(t, got[0].Confirmed)
	assert.Equal(t, before, ts.Hits.Load())
}

func TestConfirmRefundMismatchIsTyped(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/pay/refundquery", fakeWeChat(t, func(Params) Params {
		return okAnswer(Params{"transaction_id": "4200002222202405010000000001", "out_trade_no": "o1",
			"refund_count": "1", "out_refund_no_0": "r1", "refund_id_0": "other", "refund_fee_0": "100",
			"refund_status_0": "SUCCESS"})
	}, nil))
	n := &RefundNotification{TransactionID: "4200002222202405010000000001", OutTradeNo: "o1", OutRefundNo: "r1",
		RefundID: "50000408202405010000000001", RefundFee: 100, RefundStatus: RefundSuccess}
	err := c.confirmRefund(context.Background(), n)
	require.ErrorIs(t, err, ErrRefundUnconfirmed)
	assert.Contains(t, err.Error(), "refund_id")
	assert.False(t, n.Confirmed)
	assert.False(t, errors.Is(err, ErrSignature))
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
