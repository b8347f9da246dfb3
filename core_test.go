package wxpay

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewNonce(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		n, err := NewNonce()
		require.NoError(t, err)
		require.Len(t, n, NonceLen)
		for _, c := range n {
			require.True(t, c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9', "char %q", c)
		}
		require.False(t, seen[n], "repeated nonce")
		seen[n] = true
	}
}

func TestNonceFromReader(t *testing.T) {
	t.Parallel()
	// Bytes 0..61 map straight onto the alphabet; 248..255 are skipped
	// to avoid modulo bias.
	src := append(bytes.Repeat([]byte{255}, 10), []byte{0, 25, 26, 51, 52, 61, 62, 247}...)
	src = append(src, make([]byte, 200)...)
	n, err := newNonce(bytes.NewReader(src))
	require.NoError(t, err)
	assert.Equal(t, "AZaz09A9"+strings.Repeat("A", 24), n)

	_, err = newNonce(bytes.NewReader(nil))
	assert.Error(t, err)
	_, err = newNonce(bytes.NewReader(bytes.Repeat([]byte{250}, 4096)))
	assert.Error(t, err, "a source that only yields rejected bytes must not loop forever")
}

func TestParseFen(t *testing.T) {
	t.Parallel()
	good := map[string]int64{"0": 0, "1": 1, "100": 100, "999999999999999999": 999999999999999999}
	for s, want := range good {
		got, err := parseFen(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, got)
	}
	for _, s := range []string{"", "0100", "00", "+1", "-1", "1e2", "1.0", " 1", "1 ", "１", "0x10", "1000000000000000000", "1_000"} {
		_, err := parseFen(s)
		assert.ErrorIs(t, err, ErrAmount, "%q", s)
	}
}

func TestTimes(t *testing.T) {
	t.Parallel()
	tm, err := parseTime("20141030133525")
	require.NoError(t, err)
	assert.True(t, tm.Equal(time.Date(2014, 10, 30, 5, 35, 25, 0, time.UTC)), "UTC+8: %v", tm)
	assert.Equal(t, "20141030133525", formatTime(tm.UTC()))
	for _, s := range []string{"", "2014103013352", "201410301335250", "20141330133525", "2014-10-30 13:3"} {
		_, err := parseTime(s)
		assert.Error(t, err, s)
	}
}

func TestParseCoupons(t *testing.T) {
	t.Parallel()
	p := Params{"coupon_count": "5"}
	var want []Coupon
	for i := 0; i < 5; i++ {
		idx := string(rune('0' + i))
		p["coupon_id_"+idx] = "id" + idx
		p["coupon_fee_"+idx] = "1" + idx
		if i != 2 { // WeChat sometimes omits the type
			p["coupon_type_"+idx] = "CASH"
		}
		typ := CouponCash
		if i == 2 {
			typ = ""
		}
		want = append(want, Coupon{ID: "id" + idx, Type: typ, Fee: int64(10 + i)})
	}
	got, err := parseCoupons(p)
	require.NoError(t, err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}

	none, err := parseCoupons(Params{})
	assert.NoError(t, err)
	assert.Nil(t, none)

	bad := []struct {
		p     Params
		field string
	}{
		{Params{"coupon_count": "-1"}, "coupon_count"},
		{Params{"coupon_count": "1e9"}, "coupon_count"},
		// More coupons than fields is refused by the bound itself, before
		// any allocation: the error must name coupon_count, not a missing
		// coupon_id (which a loosened bound would reach after allocating).
		{Params{"coupon_count": "999999999999"}, "coupon_count"},
		{Params{"coupon_count": "3", "coupon_id_0": "x", "coupon_fee_0": "1"}, "coupon_id_1"},
		{Params{"coupon_count": "1", "coupon_fee_0": "1"}, "coupon_id_0"},
		{Params{"coupon_count": "1", "coupon_id_0": "x"}, "coupon_fee_0"},
		{Params{"coupon_count": "1", "coupon_id_0": "x", "coupon_fee_0": "01"}, "coupon_fee_0"},
	}
	for _, b := range bad {
		_, err := parseCoupons(b.p)
		var fe *FieldError
		if assert.True(t, errors.As(err, &fe), "%v", b.p) {
			assert.Equal(t, b.field, fe.Field, "%v", b.p)
		}
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err       *Error
		text      string
		retryable bool
	}{
		{&Error{Op: "unifiedorder", StatusCode: 200, ReturnCode: "SUCCESS", Code: ErrCodeOrderPaid, Message: "该订单已支付"},
			"wxpay: unifiedorder: ORDERPAID: 该订单已支付", false},
		{&Error{Op: "orderquery", ReturnCode: "SUCCESS", Code: ErrCodeSystemError, Message: "系统错误"},
			"wxpay: orderquery: SYSTEMERROR: 系统错误", true},
		{&Error{Op: "refund", Code: ErrCodeBizErrNeedRetry}, "wxpay: refund: BIZERR_NEED_RETRY", true},
		{&Error{Op: "unifiedorder", StatusCode: 200, ReturnCode: "FAIL", ReturnMsg: "签名错误\n"},
			"wxpay: unifiedorder: return_code FAIL: 签名错误 ", false},
		{&Error{Op: "unifiedorder", StatusCode: 502, Err: ErrXML}, "wxpay: unifiedorder: http status 502: malformed XML", true},
		{&Error{Op: "closeorder", StatusCode: 503}, "wxpay: closeorder: http status 503", true},
		{&Error{Op: "closeorder", StatusCode: 404}, "wxpay: closeorder: http status 404", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.text, tt.err.Error())
		assert.Equal(t, tt.retryable, tt.err.Retryable(), tt.text)
	}
	var e *Error
	wrapped := error(&Error{Op: "x", Err: ErrXML})
	assert.True(t, errors.As(wrapped, &e))
	assert.True(t, errors.Is(wrapped, ErrXML))
	long := (&Error{Op: "x", ReturnCode: "FAIL", ReturnMsg: strings.Repeat("a", 10000)}).Error()
	assert.Less(t, len(long), 400, "remote text is capped")
}

func TestParseCouponsLegacyShape(t *testing.T) {
	t.Parallel()
	got, err := parseCoupons(Params{"coupon_count": "1", "coupon_fee": "20", "coupon_id": "A1", "coupon_type": "NO_CASH"})
	require.NoError(t, err)
	assert.Equal(t, []Coupon{{ID: "A1", Type: CouponNoCash, Fee: 20}}, got)
	got, err = parseCoupons(Params{"coupon_count": "1", "coupon_fee": "20", "coupon_fee_0": "15", "coupon_id": "A1"})
	require.NoError(t, err)
	assert.Equal(t, []Coupon{{ID: "A1", Fee: 15}}, got, "the indexed fee wins over the total")
	_, err = parseCoupons(Params{"coupon_count": "1", "coupon_id": "A1"})
	assert.ErrorIs(t, err, ErrMissingField)
	_, err = parseCoupons(Params{"coupon_count": "2", "coupon_id": "A1", "coupon_fee": "2"})
	assert.ErrorIs(t, err, ErrMissingField, "the unindexed shape describes one coupon only")
}

func TestNewClientRejectsNilOption(t *testing.T) {
	t.Parallel()
	_, err := NewClient(testConfig(), nil)
	assert.Error(t, err)
}

func TestFieldErrorText(t *testing.T) {
	t.Parallel()
	err := fieldErr("total_fee", ErrAmount)
	assert.Equal(t, "wxpay: field total_fee: malformed amount", err.Error())
	assert.ErrorIs(t, err, ErrAmount)
}

// A caller's http.Client is used for its transport but never modified,
// and redirects are never followed: a 307 would re-send the signed order
// to wherever it points.
func TestWithHTTPClientNoRedirect(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/pay/closeorder", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/elsewhere", func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	hc := srv.Client()
	require.Nil(t, hc.CheckRedirect)
	c, err := NewClient(testConfig(), WithHTTPClient(hc), WithBaseURL(srv.URL))
	require.NoError(t, err)
	err = c.CloseOrder(context.Background(), &CloseOrderRequest{OutTradeNo: "T1"})
	var we *Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, http.StatusTemporaryRedirect, we.StatusCode)
	assert.Zero(t, elsewhere.Load(), "redirect followed")
	assert.Nil(t, hc.CheckRedirect, "caller's client modified")
}

// WithRand sources need not be safe for concurrent use; the client
// serializes reads (the race detector checks this test).
func TestWithRandConcurrent(t *testing.T) {
	t.Parallel()
	c, err := NewClient(testConfig(),
		WithRand(bytes.NewReader(bytes.Repeat([]byte{1, 2, 3, 4}, 1<<14))))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				_, err := c.JSAPIParams("wx201410272009395522657a690389285100")
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
}
