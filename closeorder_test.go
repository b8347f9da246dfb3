package wxpay

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCloseOrderGolden(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithRand(&seqReader{}))
	bodies := make(chan []byte, 1)
	mux.Handle("/pay/closeorder", captureBody(t, bodies, fakeWeChat(t, func(Params) Params {
		return okAnswer(Params{"result_msg": "OK"})
	}, nil)))
	require.NoError(t, c.CloseOrder(context.Background(), &CloseOrderRequest{OutTradeNo: "1217752501201407033233368018"}))
	body := <-bodies
	checkGolden(t, "closeorder_request", body)
	checkSentRequest(t, body, Params{"out_trade_no": "1217752501201407033233368018"})
}

func TestCloseOrderErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code      ErrorCode
		retryable bool
	}{
		{ErrCodeOrderPaid, false},
		{ErrCodeOrderClosed, false},
		{ErrCodeSystemError, true},
		{ErrCodeOrderNotExist, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.code), func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			mux.HandleFunc("/pay/closeorder", fakeWeChat(t, func(Params) Params {
				// closeorder explains failures in result_msg.
				return okAnswer(Params{"result_code": "FAIL", "err_code": string(tt.code), "result_msg": "说明"})
			}, nil))
			err := c.CloseOrder(context.Background(), &CloseOrderRequest{OutTradeNo: "1217752501201407033233368018"})
			assertClean(t, err)
			var we *Error
			require.ErrorAs(t, err, &we)
			assert.Equal(t, "closeorder", we.Op)
			assert.Equal(t, tt.code, we.Code)
			assert.Equal(t, "说明", we.Message)
			assert.Equal(t, tt.retryable, we.Retryable())
		})
	}
}

func TestCloseOrderValidation(t *testing.T) {
	t.Parallel()
	c, _, ts := setup(t)
	for _, no := range []string{"", strings.Repeat("1", 33), "a b", "订单"} {
		err := c.CloseOrder(context.Background(), &CloseOrderRequest{OutTradeNo: no})
		assertClean(t, err)
		var re *RequestError
		require.ErrorAs(t, err, &re, "%q", no)
		assert.Equal(t, "out_trade_no", re.Field)
		assert.Equal(t, "closeorder", re.Op)
	}
	assert.Zero(t, ts.Hits.Load())
}
