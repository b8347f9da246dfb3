package wxpay

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reverseServer answers every reverse with answer(n), n counting calls
// from 1.
func reverseServer(t *testing.T, answer func(n int32) Params) (*Client, *atomic.Int32) {
	t.Helper()
	s := newMTLSServer(t, true)
	var calls atomic.Int32
	s.Mux.HandleFunc("/secapi/pay/reverse", func(w http.ResponseWriter, r *http.Request) {
		writeSigned(t, w, testKey, SignMD5, okAnswer(answer(calls.Add(1))))
	})
	return s.certClient(t), &calls
}

// An answer that says recall=Y forever ends after the bound, with an
// error that says the order is unsettled; it made 532 calls in 3 s when
// the loop was the caller's and unbounded.
func TestReverseUntilDoneBounded(t *testing.T) {
	t.Parallel()
	c, calls := reverseServer(t, func(int32) Params { return Params{"recall": "Y"} })
	_, err := c.ReverseUntilDone(context.Background(), &ReverseRequest{OutTradeNo: "till-1"}, time.Millisecond)
	require.ErrorIs(t, err, ErrReverseIncomplete)
	assert.EqualValues(t, MaxReverseAttempts, calls.Load())

	// SYSTEMERROR forever: retryable, so retried, and bounded the same way.
	c, calls = reverseServer(t, func(int32) Params {
		return Params{"result_code": "FAIL", "err_code": "SYSTEMERROR", "err_code_des": "系统繁忙"}
	})
	_, err = c.ReverseUntilDone(context.Background(), &ReverseRequest{OutTradeNo: "till-1"}, time.Millisecond)
	require.ErrorIs(t, err, ErrReverseIncomplete)
	var we *Error
	require.ErrorAs(t, err, &we, "the last failure is kept")
	assert.Equal(t, ErrCodeSystemError, we.Code)
	assert.EqualValues(t, MaxReverseAttempts, calls.Load())
}

func TestReverseUntilDoneEnds(t *testing.T) {
	t.Parallel()
	// recall=Y twice, then N: three calls, the final answer returned.
	c, calls := reverseServer(t, func(n int32) Params {
		if n < 3 {
			return Params{"recall": "Y"}
		}
		return Params{"recall": "N"}
	})
	r, err := c.ReverseUntilDone(context.Background(), &ReverseRequest{OutTradeNo: "till-2"}, time.Millisecond)
	require.NoError(t, err)
	assert.False(t, r.Recall)
	assert.EqualValues(t, 3, calls.Load())

	// A final refusal ends at once.
	c, calls = reverseServer(t, func(int32) Params {
		return Params{"result_code": "FAIL", "err_code": "REVERSE_EXPIRE", "err_code_des": "订单已过期"}
	})
	_, err = c.ReverseUntilDone(context.Background(), &ReverseRequest{OutTradeNo: "till-3"}, time.Millisecond)
	var we *Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, ErrCodeReverseExpire, we.Code)
	assert.NotErrorIs(t, err, ErrReverseIncomplete)
	assert.EqualValues(t, 1, calls.Load())

	// A request refused before any I/O is not retried.
	_, err = c.ReverseUntilDone(context.Background(), nil, time.Millisecond)
	var re *RequestError
	require.ErrorAs(t, err, &re)
	assert.EqualValues(t, 1, calls.Load())
}

// A cancelled context ends the loop: during the pause, and before the
// first call.
func TestReverseUntilDoneHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	c, calls := reverseServer(t, func(n int32) Params { return Params{"recall": "Y"} })
	done := make(chan error, 1)
	go func() {
		_, err := c.ReverseUntilDone(ctx, &ReverseRequest{OutTradeNo: "till-4"}, time.Hour)
		done <- err
	}()
	// Cancelled while the loop waits out its hour-long pause.
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 10*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, ErrReverseIncomplete)
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled context did not end the loop")
	}
	assert.EqualValues(t, 1, calls.Load())

	before := calls.Load()
	_, err := c.ReverseUntilDone(ctx, &ReverseRequest{OutTradeNo: "till-4"}, time.Millisecond)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, before, calls.Load(), "no call on a context already done")
}
