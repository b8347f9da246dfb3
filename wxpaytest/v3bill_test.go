package wxpaytest_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

func TestV3Bills(t *testing.T) {
	clk := newClock() // 2026-03-01 18:00 in Beijing
	cfg := v3Config(wxpaytest.V3SignPublicKey)
	cfg.Now = clk.Now
	cfg.RefundImmediately = true
	s, c := newV3(t, cfg)
	ctx := ctxT(t)
	pr, err := c.PrepayJSAPI(ctx, v3JSAPIOrder("bill000001", "https://example.com/n"))
	require.NoError(t, err)
	o, err := s.Pay(wxpaytest.PayOptions{PrepayID: pr.PrepayID, NoNotify: true})
	require.NoError(t, err)
	_, err = c.Refund(ctx, &apiv3.RefundRequest{OutTradeNo: "bill000001", OutRefundNo: "billrefund1",
		Amount: apiv3.RefundAmount{Refund: 30, Total: 100, Currency: apiv3.CNY}})
	require.NoError(t, err)

	for _, gz := range []bool{false, true} {
		b, err := c.TradeBill(ctx, &apiv3.TradeBillRequest{BillDate: "2026-03-01", Gzip: gz})
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(b.DownloadURL, s.URL+"/v3/billdownload/file?token="), b.DownloadURL)
		var buf bytes.Buffer
		_, err = c.DownloadBill(ctx, b, &buf)
		require.NoError(t, err, "gzip %v", gz)
		sum := sha1.Sum(buf.Bytes())
		assert.Equal(t, hex.EncodeToString(sum[:]), strings.ToLower(b.HashValue), "the hash is of the decompressed file")
		text := buf.String()
		assert.Contains(t, text, "`"+o.TransactionID)
		assert.Contains(t, text, "`bill000001")
		assert.Contains(t, text, "`billrefund1")
		assert.Contains(t, text, "Image形象店")
	}

	ff, err := c.FundFlowBill(ctx, &apiv3.FundFlowBillRequest{BillDate: "2026-03-01"})
	require.NoError(t, err)
	var buf bytes.Buffer
	_, err = c.DownloadBill(ctx, ff, &buf)
	require.NoError(t, err)
	assert.Contains(t, buf.String(), o.TransactionID)

	var we *apiv3.Error
	_, err = c.TradeBill(ctx, &apiv3.TradeBillRequest{BillDate: "2026-02-27"})
	require.ErrorAs(t, err, &we)
	assert.Equal(t, apiv3.ErrCodeNoStatementExist, we.Code)
	assert.Equal(t, http.StatusBadRequest, we.StatusCode)

	// The download_url lives five minutes.
	b, err := c.TradeBill(ctx, &apiv3.TradeBillRequest{BillDate: "2026-03-01"})
	require.NoError(t, err)
	clk.Add(wxpaytest.BillURLLife + time.Second)
	_, err = c.DownloadBill(ctx, b, &buf)
	require.ErrorAs(t, err, &we)
	assert.Equal(t, apiv3.ErrCodeInvalidRequest, we.Code)

	// The download needs a signed request, and its answer is unsigned.
	clk.Add(-wxpaytest.BillURLLife - time.Second)
	b, err = c.TradeBill(ctx, &apiv3.TradeBillRequest{BillDate: "2026-03-01"})
	require.NoError(t, err)
	resp, err := s.Client().Get(b.DownloadURL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "no User-Agent, no Authorization")
	r := newV3Req(t, s.Fake, "GET", strings.TrimPrefix(b.DownloadURL, s.URL), nil)
	w := r.serve(s.Fake)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Empty(t, w.Header().Get("Wechatpay-Signature"))

	// Bill files kept for download are bounded: a client applying in a
	// loop is told to slow down, until the files expire.
	var limited bool
	for i := 0; i < 300 && !limited; i++ {
		_, err = c.TradeBill(ctx, &apiv3.TradeBillRequest{BillDate: "2026-03-01"})
		if errors.As(err, &we) && we.Code == apiv3.ErrCodeFrequencyLimited {
			limited = true
			assert.Equal(t, http.StatusTooManyRequests, we.StatusCode)
		}
	}
	assert.True(t, limited)
	clk.Add(wxpaytest.BillURLLife + time.Second)
	_, err = c.TradeBill(ctx, &apiv3.TradeBillRequest{BillDate: "2026-03-01"})
	assert.NoError(t, err)
}
