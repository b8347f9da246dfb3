package wxpay

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/internal/refsign"
)

// refundQueryAnswer is an order with two refunds, the second with two
// coupons, the first coupon's type left out as WeChat sometimes does.
func refundQueryAnswer() Params {
	return okAnswer(Params{
		"transaction_id": "1217752501201407033233368018", "out_trade_no": "1217752501201407033233368018",
		"total_fee": "500", "cash_fee": "500", "fee_type": "CNY", "refund_count": "2",
		"out_refund_no_0": "r0", "refund_id_0": "2008450740201411110000174436", "refund_fee_0": "100",
		"refund_status_0": "SUCCESS", "refund_channel_0": "ORIGINAL", "refund_recv_accout_0": "支付用户的零钱",
		"refund_account_0": "REFUND_SOURCE_UNSETTLED_FUNDS", "refund_success_time_0": "2016-07-25 15:26:26",
		"out_refund_no_1": "r1", "refund_id_1": "2008450740201411110000174437", "refund_fee_1": "300",
		"refund_status_1": "PROCESSING", "coupon_refund_fee_1": "30", "coupon_refund_count_1": "2",
		"coupon_refund_id_1_0": "c10", "coupon_refund_fee_1_0": "10",
		"coupon_refund_id_1_1": "c11", "coupon_refund_fee_1_1": "20", "coupon_type_1_1": "NO_CASH",
	})
}

func TestRefundQueryGoldenAndParse(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithRand(&seqReader{}))
	got := make(chan Params, 1)
	mux.HandleFunc("/pay/refundquery", fakeWeChat(t, func(Params) Params { return refundQueryAnswer() }, got))
	r, err := c.RefundQuery(context.Background(), &RefundQueryRequest{
		OutTradeNo: "1217752501201407033233368018", Offset: 10, Extra: Params{"sub_mch_id": "1900000109"},
	})
	require.NoError(t, err)
	want := map[string]string{
		"appid": testAppID, "mch_id": testMchID, "nonce_str": firstSeqNonce, "sign_type": "MD5",
		"out_trade_no": "1217752501201407033233368018", "offset": "10", "sub_mch_id": "1900000109",
	}
	want["sign"] = refsign.Sign(want, testKey, "MD5")
	assert.Equal(t, Params(want), <-got)

	assert.EqualValues(t, 500, r.TotalFee)
	require.Len(t, r.Refunds, 2)
	assert.Equal(t, RefundInfo{
		OutRefundNo: "r0", RefundID: "2008450740201411110000174436", RefundFee: 100, Status: RefundSuccess,
		Channel: "ORIGINAL", Account: "REFUND_SOURCE_UNSETTLED_FUNDS", RecvAccount: "支付用户的零钱",
		SuccessTime: time.Date(2016, 7, 25, 15, 26, 26, 0, beijing),
	}, r.Refunds[0])
	assert.Equal(t, RefundProcessing, r.Refunds[1].Status)
	assert.Equal(t, NullFen{30, true}, r.Refunds[1].CouponRefundFee)
	assert.Equal(t, []CouponRefund{{ID: "c10", Fee: 10}, {ID: "c11", Type: CouponNoCash, Fee: 20}}, r.Refunds[1].Coupons)
	assert.Empty(t, r.Unparsed)
}

func TestRefundQuerySendsOnlyTheFirstNumber(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	got := make(chan Params, 1)
	mux.HandleFunc("/pay/refundquery", fakeWeChat(t, func(Params) Params { return refundQueryAnswer() }, got))
	_, err := c.RefundQuery(context.Background(), &RefundQueryRequest{
		OutRefundNo: "r1", TransactionID: "1217752501201407033233368018", OutTradeNo: "1217752501201407033233368018",
	})
	require.NoError(t, err)
	req := <-got
	assert.Equal(t, "r1", req["out_refund_no"])
	assert.NotContains(t, req, "transaction_id")
	assert.NotContains(t, req, "out_trade_no")
	assert.NotContains(t, req, "offset")
}

func TestRefundQueryValidation(t *testing.T) {
	t.Parallel()
	c, _, ts := setup(t)
	for _, tc := range []struct {
		field string
		req   *RefundQueryRequest
	}{
		{"request", nil},
		{"out_refund_no", &RefundQueryRequest{}},
		{"refund_id", &RefundQueryRequest{RefundID: "20084507-40"}},
		{"out_refund_no", &RefundQueryRequest{OutRefundNo: strings.Repeat("r", 65)}},
		{"transaction_id", &RefundQueryRequest{TransactionID: "x y"}},
		{"out_trade_no", &RefundQueryRequest{OutTradeNo: "o#1"}},
		{"offset", &RefundQueryRequest{OutTradeNo: "o1", Offset: -10}},
		{"offset", &RefundQueryRequest{OutTradeNo: "o1", Extra: Params{"offset": "10"}}},
		{"transaction_id", &RefundQueryRequest{OutTradeNo: "o1", Extra: Params{"transaction_id": "1"}}},
	} {
		_, err := c.RefundQuery(context.Background(), tc.req)
		var re *RequestError
		require.ErrorAs(t, err, &re, tc.field)
		assert.Equal(t, tc.field, re.Field)
	}
	assert.EqualValues(t, 0, ts.Hits.Load())
}

// TestRefundQueryStrictness: a refund index with a missing required field
// is an error, never a shorter list; coupon fields WeChat omits are not.
func TestRefundQueryStrictness(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var mu sync.Mutex
	var tweak func(Params)
	mux.HandleFunc("/pay/refundquery", fakeWeChat(t, func(Params) Params {
		a := refundQueryAnswer()
		mu.Lock()
		tweak(a)
		mu.Unlock()
		return a
	}, nil))
	set := func(f func(Params)) {
		mu.Lock()
		tweak = f
		mu.Unlock()
	}
	ask := &RefundQueryRequest{OutTradeNo: "1217752501201407033233368018"}
	for _, tc := range []struct {
		field string
		tweak func(Params)
	}{
		{"refund_count", func(a Params) { delete(a, "refund_count") }},
		{"refund_count", func(a Params) { a["refund_count"] = "02" }},
		{"refund_count", func(a Params) { a["refund_count"] = "1000000" }},
		{"refund_id_1", func(a Params) { delete(a, "refund_id_1") }},
		{"out_refund_no_0", func(a Params) { delete(a, "out_refund_no_0") }},
		{"refund_status_1", func(a Params) { delete(a, "refund_status_1") }},
		{"refund_fee_0", func(a Params) { a["refund_fee_0"] = "1.00" }},
		{"out_refund_no_2", func(a Params) { a["out_refund_no_2"] = "r2" }},
		{"out_refund_no_1", func(a Params) { a["refund_count"] = "1" }},
		{"coupon_refund_count_1", func(a Params) { a["coupon_refund_count_1"] = "99" }},
		{"total_fee", func(a Params) { a["total_fee"] = "-1" }},
		{"out_trade_no", func(a Params) { a["out_trade_no"] = "another" }},
	} {
		set(tc.tweak)
		_, err := c.RefundQuery(context.Background(), ask)
		var fe *FieldError
		require.ErrorAs(t, err, &fe, tc.field)
		assert.Equal(t, tc.field, fe.Field)
		assertClean(t, err)
	}
	// Lenient: a coupon without its id, a malformed time, a bad
	// informational amount.
	set(func(a Params) {
		delete(a, "coupon_refund_id_1_0")
		a["refund_success_time_0"] = "2016/07/25"
		a["cash_fee"] = "x"
	})
	r, err := c.RefundQuery(context.Background(), ask)
	require.NoError(t, err)
	assert.Nil(t, r.Refunds[1].Coupons)
	assert.True(t, r.Refunds[0].SuccessTime.IsZero())
	assert.ElementsMatch(t, []string{"cash_fee", "coupon_refund_count_1", "refund_success_time_0"}, r.Unparsed)

	// A query by refund number must return that refund.
	set(func(Params) {})
	_, err = c.RefundQuery(context.Background(), &RefundQueryRequest{OutRefundNo: "r9"})
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	_, err = c.RefundQuery(context.Background(), &RefundQueryRequest{RefundID: "2008450740201411110000174437"})
	require.NoError(t, err)
}

func TestRefundQueryErrorCodes(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var mu sync.Mutex
	code := ""
	mux.HandleFunc("/pay/refundquery", fakeWeChat(t, func(Params) Params {
		mu.Lock()
		defer mu.Unlock()
		return okAnswer(Params{"result_code": "FAIL", "err_code": code, "err_code_des": "x"})
	}, nil))
	for _, tc := range []struct {
		code      ErrorCode
		retryable bool
	}{
		{ErrCodeSystemError, true}, {ErrCodeRefundNotExist, false}, {ErrCodeInvalidTransactionID, false},
		{ErrCodeParamError, false}, {ErrCodeAppIDNotExist, false}, {ErrCodeMchIDNotExist, false},
		{ErrCodeRequirePostMethod, false}, {ErrCodeSignError, false}, {ErrCodeXMLFormatError, false},
		{ErrCodeInvalidRequest, false},
	} {
		mu.Lock()
		code = string(tc.code)
		mu.Unlock()
		_, err := c.RefundQuery(context.Background(), &RefundQueryRequest{OutRefundNo: "r1"})
		var we *Error
		require.ErrorAs(t, err, &we)
		assert.Equal(t, tc.code, we.Code)
		assert.Equal(t, tc.retryable, Retryable(err))
	}
}

// bigRefundQuery is an answer with n refunds of m coupons each.
func bigRefundQuery(n, m int) Params {
	p := okAnswer(Params{"out_trade_no": "o1", "total_fee": "1000000", "refund_count": strconv.Itoa(n)})
	for i := range n {
		s := "_" + strconv.Itoa(i)
		p["out_refund_no"+s] = "r" + s
		p["refund_id"+s] = "id" + strconv.Itoa(i)
		p["refund_fee"+s] = "1"
		p["refund_status"+s] = "SUCCESS"
		p["coupon_refund_count"+s] = strconv.Itoa(m)
		for j := range m {
			sj := s + "_" + strconv.Itoa(j)
			p["coupon_refund_id"+sj] = "c" + sj
			p["coupon_refund_fee"+sj] = "1"
			p["coupon_type"+sj] = "CASH"
		}
	}
	return p
}

func TestRefundQueryAnyLength(t *testing.T) {
	t.Parallel()
	r, err := parseRefundQuery(bigRefundQuery(60, 7))
	require.NoError(t, err)
	require.Len(t, r.Refunds, 60)
	for i, ri := range r.Refunds {
		assert.Equal(t, "r_"+strconv.Itoa(i), ri.OutRefundNo)
		require.Len(t, ri.Coupons, 7)
		assert.Equal(t, "c_"+strconv.Itoa(i)+"_6", ri.Coupons[6].ID)
	}
}

// BenchmarkRefundQueryParse shows the parse is linear in the number of
// fields: ns/field stays flat from 30 to 3000 fields.
func BenchmarkRefundQueryParse(b *testing.B) {
	for _, n := range []int{2, 20, 200} {
		p := bigRefundQuery(n, 3)
		b.Run(strconv.Itoa(len(p))+"fields", func(b *testing.B) {
			b.ReportAllocs()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := parseRefundQuery(p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N)/float64(len(p)), "ns/field")
		})
	}
}

// BenchmarkRefundQueryFloor is the floor beside BenchmarkRefundQueryParse:
// building each field name the parser reads and looking it up, once per
// field, with nothing else. Its ns/field grows with the map's size the
// same way (cache misses), which is what the parser's growth is.
func BenchmarkRefundQueryFloor(b *testing.B) {
	for _, n := range []int{2, 20, 200} {
		p := bigRefundQuery(n, 3)
		names := make([]string, 0, len(p))
		for k := range p {
			names = append(names, k)
		}
		b.Run(strconv.Itoa(len(p))+"fields", func(b *testing.B) {
			b.ReportAllocs()
			start := time.Now()
			hits := 0
			for i := 0; i < b.N; i++ {
				for _, k := range names {
					if p[strings.Clone(k)] != "" {
						hits++
					}
				}
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N)/float64(len(p)), "ns/field")
			if hits == 0 {
				b.Fatal("no hits")
			}
		})
	}
}

// FuzzParseRefundQuery feeds arbitrary field sets (one name=value per
// line) to the parser: it must never panic, never allocate beyond the
// message's size, and a list it returns must be exactly what the fields
// say.
func FuzzParseRefundQuery(f *testing.F) {
	enc := func(p Params) string {
		var b strings.Builder
		for k, v := range p {
			b.WriteString(k + "=" + v + "\n")
		}
		return b.String()
	}
	f.Add(enc(refundQueryAnswer()))
	f.Add(enc(bigRefundQuery(3, 2)))
	f.Add("refund_count=1\nout_refund_no_0=a\nrefund_id_0=b\nrefund_fee_0=1\nrefund_status_0=X\ncoupon_refund_count_0=18446744073709551615\n")
	f.Add("refund_count=99999999999999999\n")
	f.Fuzz(func(t *testing.T, s string) {
		p := Params{}
		for _, line := range strings.Split(s, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				p[k] = v
			}
		}
		r, err := parseRefundQuery(p)
		if err != nil {
			return
		}
		n, err := parseFen(p["refund_count"])
		if err != nil || int64(len(r.Refunds)) != n {
			t.Fatalf("refund_count %q but %d refunds", p["refund_count"], len(r.Refunds))
		}
		coupons := 0
		for i, ri := range r.Refunds {
			sfx := "_" + strconv.Itoa(i)
			if ri.OutRefundNo != p["out_refund_no"+sfx] || ri.RefundID != p["refund_id"+sfx] || ri.OutRefundNo == "" {
				t.Fatalf("refund %d does not match its fields", i)
			}
			if fee, err := parseFen(p["refund_fee"+sfx]); err != nil || fee != ri.RefundFee {
				t.Fatalf("refund %d fee", i)
			}
			for j, c := range ri.Coupons {
				if c.ID != p["coupon_refund_id"+sfx+"_"+strconv.Itoa(j)] || c.ID == "" {
					t.Fatalf("coupon %d/%d does not match", i, j)
				}
			}
			coupons += len(ri.Coupons)
		}
		if coupons > len(p) {
			t.Fatalf("%d coupons from %d fields", coupons, len(p))
		}
	})
}
