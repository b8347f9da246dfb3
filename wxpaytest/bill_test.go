package wxpaytest_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// plainBill is the test's own reading of a bill, independent of the
// library's parser: the header's column names, each data row by column
// (backticks removed), the summary header and row.
type plainBill struct {
	cols    []string
	rows    []map[string]string
	sumCols []string
	sum     map[string]string
}

func readPlainBill(t *testing.T, text string) plainBill {
	t.Helper()
	require.True(t, strings.HasSuffix(text, "\r\n"), "lines end in CRLF")
	lines := strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n")
	require.GreaterOrEqual(t, len(lines), 3)
	var b plainBill
	b.cols = strings.Split(lines[0], ",")
	row := func(cols []string, line string) map[string]string {
		require.True(t, strings.HasPrefix(line, "`"), "every field is backtick-prefixed: %q", line)
		vals := strings.Split(line[1:], ",`")
		require.Len(t, vals, len(cols), "%q", line)
		m := map[string]string{}
		for i, c := range cols {
			m[c] = vals[i]
		}
		return m
	}
	for _, l := range lines[1 : len(lines)-2] {
		b.rows = append(b.rows, row(b.cols, l))
	}
	b.sumCols = strings.Split(lines[len(lines)-2], ",")
	b.sum = row(b.sumCols, lines[len(lines)-1])
	return b
}

// billFake has, on 2026-03-01 (UTC+8): a 100.00 JSAPI payment, a 2.50
// payment with a 0.50 NO_CASH coupon refunded 1.00, and a micropay of
// 0.01.
func billFake(t *testing.T) (*wxpaytest.Server, *wxpay.Client) {
	t.Helper()
	clk := newClock() // 2026-03-01 18:00 in UTC+8
	cfg := testConfig()
	cfg.Now = clk.Now
	cfg.RefundImmediately = true
	s, c := tlsFake(t, cfg)
	paidOrder(t, s, c, "bill-1", 10000)
	paidOrder(t, s, c, "bill-2", 250, wxpay.Coupon{ID: "cp", Type: wxpay.CouponNoCash, Fee: 50})
	_, err := c.Refund(ctxT(t), refundReq("bill-2", "bill-2-r", 250, 100))
	require.NoError(t, err)
	_, err = c.MicroPay(ctxT(t), &wxpay.MicroPayRequest{AuthCode: s.PaymentCode(wxpaytest.PaymentCodeOptions{}), Body: "till",
		OutTradeNo: "bill-3", TotalFee: 1, SpbillCreateIP: "127.0.0.1"})
	require.NoError(t, err)
	return s, c
}

func TestDownloadBill(t *testing.T) {
	s, c := billFake(t)
	var buf bytes.Buffer
	_, err := c.DownloadBill(ctxT(t), &wxpay.DownloadBillRequest{BillDate: "20260301"}, &buf)
	require.NoError(t, err)

	// Our own reading.
	b := readPlainBill(t, buf.String())
	assert.Equal(t, "交易时间", b.cols[0])
	assert.Len(t, b.cols, 27)
	require.Len(t, b.rows, 4, "three payments and a refund")
	byState := map[string]int{}
	for _, r := range b.rows {
		byState[r["交易状态"]]++
		assert.Equal(t, testAppID, r["公众账号ID"])
		assert.Equal(t, "2026-03-01 18:00:00", r["交易时间"])
	}
	assert.Equal(t, map[string]int{"SUCCESS": 3, "REFUND": 1}, byState)
	assert.Equal(t, []string{"总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额", "订单总金额", "申请退款总金额"}, b.sumCols)
	// Settlement: 100.00 + 2.00 + 0.01; the refund's settlement share
	// is 0.80 (1.00 less 0.20 of the NO_CASH coupon); fees 0.6% of each
	// settlement amount rounded half up: 0.60 + 0.01 + 0.00.
	assert.Equal(t, map[string]string{
		"总交易单数": "4", "应结订单总金额": "102.01", "退款总金额": "0.80", "充值券退款总金额": "0.00",
		"手续费总金额": "0.61", "订单总金额": "102.51", "申请退款总金额": "1.00",
	}, b.sum)

	// The library's parser agrees.
	br, err := wxpay.NewBillReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	var trades []wxpay.TradeBillRow
	for {
		row, err := br.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		tr, err := row.Trade()
		require.NoError(t, err)
		trades = append(trades, tr)
	}
	require.Len(t, trades, 4)
	sum, err := br.Summary().TradeSummary()
	require.NoError(t, err)
	assert.Equal(t, int64(4), sum.Trades)
	assert.Equal(t, int64(10201), sum.SettlementTotalFee)
	for _, tr := range trades {
		if tr.OutTradeNo == "bill-2" && tr.TradeState == "REFUND" {
			assert.Equal(t, "bill-2-r", tr.OutRefundNo)
			assert.Equal(t, int64(100), tr.RequestedRefundFee)
			assert.Equal(t, int64(80), tr.RefundFee)
			assert.Equal(t, wxpay.RefundSuccess, tr.RefundStatus)
		}
		if tr.OutTradeNo == "bill-3" {
			assert.Equal(t, wxpay.TradeType("MICROPAY"), tr.TradeType)
		}
	}

	// SUCCESS and REFUND bills.
	buf.Reset()
	_, err = c.DownloadBill(ctxT(t), &wxpay.DownloadBillRequest{BillDate: "20260301", BillType: wxpay.BillSuccess}, &buf)
	require.NoError(t, err)
	b = readPlainBill(t, buf.String())
	assert.Len(t, b.cols, 20)
	assert.Len(t, b.rows, 3)
	buf.Reset()
	_, err = c.DownloadBill(ctxT(t), &wxpay.DownloadBillRequest{BillDate: "20260301", BillType: wxpay.BillRefund}, &buf)
	require.NoError(t, err)
	b = readPlainBill(t, buf.String())
	require.Len(t, b.rows, 1)
	assert.Equal(t, "2026-03-01 18:00:00", b.rows[0]["退款申请时间"])
	assert.Equal(t, "bill-2-r", b.rows[0]["商户退款单号"])

	// A day without trades: WeChat's XML FAIL, as the library's typed
	// error.
	buf.Reset()
	_, err = c.DownloadBill(ctxT(t), &wxpay.DownloadBillRequest{BillDate: "20260302"}, &buf)
	require.ErrorIs(t, err, wxpay.ErrNoBill)
	assert.Zero(t, buf.Len())
	_, err = c.DownloadBill(ctxT(t), &wxpay.DownloadBillRequest{BillDate: "20260301", BillType: wxpay.BillRechargeRefund}, &buf)
	require.ErrorIs(t, err, wxpay.ErrNoBill)

	// Wire level: plain and gzip, and the refusals.
	hc := certHTTPClient(t, s, nil, nil)
	url := s.URL + string(wxpaytest.EndpointDownloadBill)
	_, _, plain := call(t, hc, url, wire(t, wxpay.Params{"bill_date": "20260301", "bill_type": "ALL"}, testKey), testKey)
	_, _, zipped := call(t, hc, url, wire(t, wxpay.Params{"bill_date": "20260301", "tar_type": "GZIP"}, testKey), testKey)
	require.Equal(t, []byte{0x1f, 0x8b}, zipped[:2])
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	require.NoError(t, err)
	unzipped, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Equal(t, string(plain), string(unzipped))
	for _, tc := range []struct {
		p   wxpay.Params
		msg string
	}{
		{wxpay.Params{"bill_date": "20260302"}, "No Bill Exist"},
		{wxpay.Params{"bill_date": "20260301", "bill_type": "ODD"}, "invalid bill_type"},
		{wxpay.Params{"bill_date": "2026-03-01"}, "data format error"},
		{wxpay.Params{}, "missing parameter"},
	} {
		_, p, raw := call(t, hc, url, wire(t, tc.p, testKey), testKey)
		assert.Equal(t, wxpay.Params{"return_code": "FAIL", "return_msg": tc.msg}, p, "%s", raw)
	}
	_, p, _ := call(t, hc, url, wire(t, wxpay.Params{"bill_date": "20260301"}, wrongTestKey), testKey)
	assert.Equal(t, "SIGN ERROR", p["return_msg"])
}

const wrongTestKey = "00000000000000000000000000000000"

func TestDownloadFundFlow(t *testing.T) {
	s, c := billFake(t)
	var buf bytes.Buffer
	// The client's sign type is MD5; the library signs this call with
	// HMAC-SHA256, the only algorithm the endpoint takes.
	_, err := c.DownloadFundFlow(ctxT(t), &wxpay.DownloadFundFlowRequest{BillDate: "20260301", AccountType: wxpay.AccountBasic}, &buf)
	require.NoError(t, err)
	b := readPlainBill(t, buf.String())
	assert.Equal(t, []string{"记账时间", "微信支付业务单号", "资金流水单号", "业务名称", "业务类型", "收支类型", "收支金额(元)",
		"账户结余(元)", "资金变更提交申请人", "备注", "业务凭证号"}, b.cols)
	// Three payments, two non-zero fees (0.60, 0.01), one refund (0.80).
	require.Len(t, b.rows, 6)
	assert.Equal(t, map[string]string{"资金流水总笔数": "6", "收入笔数": "3", "收入金额": "102.01", "支出笔数": "3", "支出金额": "1.41"}, b.sum)

	br, err := wxpay.NewBillReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	var last wxpay.FundFlowRow
	for {
		row, err := br.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		last, err = row.FundFlow()
		require.NoError(t, err)
	}
	assert.Equal(t, int64(10201-141), last.Balance, "the balance after the day's flows")

	_, err = c.DownloadFundFlow(ctxT(t), &wxpay.DownloadFundFlowRequest{BillDate: "20260301", AccountType: wxpay.AccountFees}, &buf)
	require.ErrorIs(t, err, wxpay.ErrNoBill)

	url := s.URL + string(wxpaytest.EndpointDownloadFundFlow)
	certPEM, keyPEM, err := s.ClientCertificate()
	require.NoError(t, err)
	hc := certHTTPClient(t, s, certPEM, keyPEM)
	// MD5, or HMAC without naming it, is refused whatever the merchant's
	// algorithm.
	for _, p := range []wxpay.Params{
		{"bill_date": "20260301", "account_type": "Basic"},
		{"bill_date": "20260301", "account_type": "Basic", "sign_type": "MD5"},
	} {
		_, got, _ := call(t, hc, url, wire(t, p, testKey), testKey)
		assert.Equal(t, "FAIL", got["return_code"])
		assert.Contains(t, got["return_msg"], "HMAC-SHA256")
	}
	st, _, raw := call(t, hc, url, wire(t, wxpay.Params{"bill_date": "20260301", "account_type": "Basic", "sign_type": "HMAC-SHA256"}, testKey), testKey)
	assert.Equal(t, http.StatusOK, st)
	assert.Equal(t, buf.String()[:10], string(raw[:10]))
	_, got, _ := call(t, hc, url, wire(t, wxpay.Params{"bill_date": "20260301", "account_type": "Other", "sign_type": "HMAC-SHA256"}, testKey), testKey)
	assert.Equal(t, "PARAM_ERROR", got["error_code"])

	// The certificate is required.
	st, _, raw = call(t, certHTTPClient(t, s, nil, nil), url,
		wire(t, wxpay.Params{"bill_date": "20260301", "account_type": "Basic", "sign_type": "HMAC-SHA256"}, testKey), testKey)
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Contains(t, string(raw), "No required SSL certificate was sent")
	plain := newClient(t, s, "", "")
	_, err = plain.DownloadFundFlow(ctxT(t), &wxpay.DownloadFundFlowRequest{BillDate: "20260301", AccountType: wxpay.AccountBasic}, io.Discard)
	var reqErr *wxpay.RequestError
	require.ErrorAs(t, err, &reqErr)
}

func TestBillUsesBeijingDay(t *testing.T) {
	// 2026-03-01 17:00 UTC is 2026-03-02 01:00 in UTC+8.
	clk := newClock()
	clk.Add(7 * time.Hour)
	cfg := testConfig()
	cfg.Now = clk.Now
	s, c := tlsFake(t, cfg)
	paidOrder(t, s, c, "day-1", 100)
	_, err := c.DownloadBill(ctxT(t), &wxpay.DownloadBillRequest{BillDate: "20260301"}, io.Discard)
	require.ErrorIs(t, err, wxpay.ErrNoBill)
	_, err = c.DownloadBill(ctxT(t), &wxpay.DownloadBillRequest{BillDate: "20260302"}, io.Discard)
	require.NoError(t, err)
}
