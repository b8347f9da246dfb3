package wxpay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/internal/refsign"
)

func openFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "bill", name))
	require.NoError(t, err)
	return b
}

func TestBillReaderTradeFixture(t *testing.T) {
	t.Parallel()
	br, err := NewBillReader(bytes.NewReader(openFixture(t, "trade_all_20240501.csv")))
	require.NoError(t, err)
	assert.Len(t, br.Columns(), 27)
	assert.Equal(t, "交易时间", br.Columns()[0])
	var rows []TradeBillRow
	for {
		row, err := br.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		tr, err := row.Trade()
		require.NoError(t, err)
		rows = append(rows, tr)
	}
	require.Len(t, rows, 4)
	assert.Equal(t, TradeBillRow{
		TradeTime: time.Date(2024, 5, 1, 11, 3, 10, 0, beijing), AppID: "wxd930ea5d5a258f4f", MchID: "10000100",
		SubMchID: "0", TransactionID: "4200002222202405010000000002", OutTradeNo: "20240501110300-0002",
		OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6p", TradeType: TradeNative, TradeState: "SUCCESS", BankType: "OTHERS",
		FeeType: FeeCNY, SettlementTotalFee: 9000, CouponFee: 1000, RefundID: "0", OutRefundNo: "0",
		Body: "测试商品,大号", Attach: "batch=7", ServiceFee: 54, Rate: "0.60%", TotalFee: 10000,
	}, rows[1])
	assert.Equal(t, TradeStateRefund, rows[2].TradeState)
	assert.EqualValues(t, 1, rows[2].RefundFee)
	assert.EqualValues(t, 1, rows[2].RequestedRefundFee)
	assert.Equal(t, "ORIGINAL", rows[2].RefundType)
	assert.EqualValues(t, 2550, rows[3].TotalFee)

	sum, err := br.Summary().TradeSummary()
	require.NoError(t, err)
	assert.Equal(t, TradeBillSummary{Trades: 4, SettlementTotalFee: 11551, RefundFee: 1, ServiceFee: 69,
		TotalFee: 12551, RequestedRefundFee: 1}, sum)
	assert.EqualValues(t, br.Rows(), sum.Trades)
	var settle, fees, total, refunds int64
	for _, r := range rows {
		settle += r.SettlementTotalFee
		fees += r.ServiceFee
		total += r.TotalFee
		refunds += r.RefundFee
	}
	assert.Equal(t, []int64{sum.SettlementTotalFee, sum.ServiceFee, sum.TotalFee, sum.RefundFee}, []int64{settle, fees, total, refunds})
	_, err = br.Next()
	assert.Equal(t, io.EOF, err, "EOF is sticky")
}

func TestBillReaderFundFlowFixture(t *testing.T) {
	t.Parallel()
	br, err := NewBillReader(bytes.NewReader(openFixture(t, "fundflow_basic_20240501.csv")))
	require.NoError(t, err)
	var rows []FundFlowRow
	for {
		row, err := br.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		f, err := row.FundFlow()
		require.NoError(t, err)
		rows = append(rows, f)
	}
	require.Len(t, rows, 3)
	assert.Equal(t, FundFlowRow{
		Time: time.Date(2024, 5, 1, 18, 30, 0, 0, beijing), BizTransactionID: "50000408202405010000000001",
		FlowID: "50000408202405010000000001", BizName: "退款", BizType: "退款", FlowType: "支出", Amount: 2000,
		Balance: 7940, Applicant: "1900000109", Remark: "缺省", VoucherNo: "20240501091200-0001-r1",
	}, rows[2])
	sum, err := br.Summary().FundFlowSummary()
	require.NoError(t, err)
	assert.Equal(t, FundFlowSummary{Flows: 3, IncomeCount: 1, Income: 10000, ExpenseCount: 2, Expense: 2060}, sum)
}

func TestParseYuan(t *testing.T) {
	t.Parallel()
	good := map[string]int64{
		"0": 0, "0.01": 1, "0.1": 10, "0.0": 0, "100.00": 10000, "1": 100, "-3.5": -350, "-0.01": -1,
		"999999999999999.99": 99999999999999999,
	}
	for s, want := range good {
		n, err := parseYuan(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, n, s)
	}
	for _, s := range []string{"", "-", ".", "1.", ".5", "01", "00.10", "1.234", "+1", "1e2", " 1", "1 ", "1,00",
		"１", "0x10", "--1", "1.-1", "NaN", "1000000000000000", "¥1.00", "1.0.0"} {
		_, err := parseYuan(s)
		assert.ErrorIs(t, err, ErrAmount, "%q", s)
	}
}

const tHeader = "交易时间,商户订单号,订单金额\n"

func TestBillReaderBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, bill string
		line       int
	}{
		{"empty", "", 1},
		{"header quoted", "`a,`b\n", 1},
		{"header empty name", "a,,b\n", 1},
		{"no summary", tHeader + "`2024-05-01 09:00:00,`o1,`1.00\n", 2},
		{"summary header only", tHeader + "`2024-05-01 09:00:00,`o1,`1.00\n总交易单数\n", 3},
		{"short row", tHeader + "`2024-05-01 09:00:00,`o1\n", 2},
		{"long row", tHeader + "`2024-05-01 09:00:00,`o1,`1.00,`x\n", 2},
		{"two summary headers", tHeader + "总交易单数\n总交易单数\n", 3},
		{"after summary", tHeader + "总交易单数\n`1\n`2\n", 4},
		{"summary row short", tHeader + "总交易单数,订单总金额\n`1\n", 3},
		{"line too long", tHeader + "`" + strings.Repeat("x", MaxBillLine+1) + "\n", 2},
	} {
		br, err := NewBillReader(strings.NewReader(tc.bill))
		for err == nil {
			_, err = br.Next()
		}
		require.NotEqual(t, io.EOF, err, tc.name)
		var be *BillError
		require.ErrorAs(t, err, &be, tc.name)
		assert.Equal(t, tc.line, be.Line, tc.name)
		assert.True(t, errors.Is(err, ErrBillFormat) || errors.Is(err, io.ErrUnexpectedEOF), tc.name)
		assert.True(t, strings.HasPrefix(err.Error(), "wxpay: bill line "), err.Error())
	}

	// Typed views refuse malformed values with the line and column.
	br, err := NewBillReader(strings.NewReader(tHeader + "`2024-05-01 09:00:00,`o1,`1.001\n`2024-13-01 09:00:00,`o2,`1.00\n总交易单数\n`x\n"))
	require.NoError(t, err)
	row, err := br.Next()
	require.NoError(t, err)
	_, err = row.Trade()
	var be *BillError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, BillError{Line: 2, Column: "订单金额", Err: ErrAmount}, *be)
	assert.Equal(t, "wxpay: bill line 2, column 订单金额: malformed amount", err.Error())
	row, err = br.Next()
	require.NoError(t, err)
	_, err = row.Trade()
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "交易时间", be.Column)
	_, err = row.Fen("退款金额")
	require.ErrorAs(t, err, &be)
	_, err = br.Next()
	require.Equal(t, io.EOF, err)
	_, err = br.Summary().TradeSummary()
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "总交易单数", be.Column)
}

func TestBillReaderBOMAndBlankLines(t *testing.T) {
	t.Parallel()
	br, err := NewBillReader(strings.NewReader("\xef\xbb\xbf" + tHeader + "`2024-05-01 09:00:00,`o1,`1.00\r\n\r\n总交易单数\r\n`1"))
	require.NoError(t, err)
	assert.Equal(t, "交易时间", br.Columns()[0])
	row, err := br.Next()
	require.NoError(t, err)
	v, ok := row.Get("商户订单号")
	assert.True(t, ok)
	assert.Equal(t, "o1", v)
	_, err = br.Next()
	require.Equal(t, io.EOF, err)
	assert.Equal(t, []string{"1"}, br.Summary().Values())
}

// FuzzBillReader: any input ends in rows and EOF or a typed error, never
// a panic; a malformed row (ErrBillRow) is skipped and reading goes on,
// within MaxBadBillRows and never past the input's lines; every other
// error is sticky; every row has the header's width; accepted amounts
// agree with exact decimal arithmetic.
func FuzzBillReader(f *testing.F) {
	f.Add(openFixture(f, "trade_all_20240501.csv"))
	f.Add(openFixture(f, "fundflow_basic_20240501.csv"))
	f.Add([]byte(tHeader + "`a,`b,`c,`d\n总\n`1\n"))
	f.Add([]byte("a\n`\n`\nb\n`,`\n"))
	f.Add([]byte(tBill("`2024-05-01 09:00:00,`o1,`茶,`1.00", "`2024-05-01 09:01:00,`o2,`T恤,`XL,`1.00", "`x\ny,`z")))
	f.Fuzz(func(t *testing.T, b []byte) {
		br, err := NewBillReader(bytes.NewReader(b))
		if err != nil {
			var be *BillError
			if !errors.As(err, &be) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		lines := bytes.Count(b, []byte("\n")) + 1
		for calls := 1; ; calls++ {
			if calls > lines+1 {
				t.Fatalf("%d calls to Next on %d lines", calls, lines)
			}
			row, err := br.Next()
			if err == io.EOF {
				if br.Summary() == nil {
					t.Fatal("EOF without summary")
				}
				return
			}
			if errors.Is(err, ErrBillRow) {
				var be *BillError
				if !errors.As(err, &be) || br.BadRows() > MaxBadBillRows || be.Line < 2 {
					t.Fatalf("bad row error %v after %d bad rows", err, br.BadRows())
				}
				continue
			}
			if err != nil {
				var be *BillError
				if !errors.As(err, &be) {
					t.Fatalf("untyped error %v", err)
				}
				if _, again := br.Next(); again != err {
					t.Fatalf("error %v not sticky: then %v", err, again)
				}
				return
			}
			if len(row.Values()) != len(br.Columns()) {
				t.Fatalf("row of %d values, header of %d", len(row.Values()), len(br.Columns()))
			}
			for _, col := range br.Columns() {
				if n, err := row.Fen(col); err == nil {
					v, _ := row.Get(col)
					checkYuan(t, v, n)
				}
			}
			_, _ = row.Trade()
			_, _ = row.FundFlow()
		}
	})
}

// checkYuan holds parseYuan to math/big's exact decimal reading.
func checkYuan(t *testing.T, s string, fen int64) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("accepted %q, which is not a decimal", s)
	}
	r.Mul(r, big.NewRat(100, 1))
	if !r.IsInt() || r.Num().Int64() != fen || !r.Num().IsInt64() {
		t.Fatalf("%q parsed as %d fen, exact value %s", s, fen, r.RatString())
	}
}

func FuzzParseYuan(f *testing.F) {
	for _, s := range []string{"0.01", "100.00", "-3.5", "1e2", "01", "1.", "999999999999999.99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseYuan(s)
		if err != nil {
			return
		}
		checkYuan(t, s, n)
	})
}

// gzipped compresses b.
func gzipped(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// billHandler checks a bill request as WeChat would (signature in the
// algorithm WeChat demands for it, GZIP asked for) and answers body.
func billHandler(t *testing.T, wantSign string, body []byte, got chan<- Params) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		req, err := DecodeXML(b)
		if err != nil {
			t.Errorf("bad request: %v", err)
			return
		}
		if req["sign_type"] != wantSign || req["sign"] != refsign.Sign(req, testKey, wantSign) {
			t.Errorf("bill request not signed with %s: sign_type=%q", wantSign, req["sign_type"])
		}
		if got != nil {
			got <- req
		}
		_, _ = w.Write(body)
	}
}

func TestDownloadBill(t *testing.T) {
	t.Parallel()
	fixture := openFixture(t, "trade_all_20240501.csv")
	c, mux, _ := setup(t, WithRand(&seqReader{}))
	got := make(chan Params, 1)
	mux.HandleFunc("/pay/downloadbill", billHandler(t, "MD5", gzipped(t, fixture), got))
	var out bytes.Buffer
	n, err := c.DownloadBill(context.Background(), &DownloadBillRequest{BillDate: "20240501", BillType: BillAll}, &out)
	require.NoError(t, err)
	assert.EqualValues(t, len(fixture), n)
	assert.Equal(t, fixture, out.Bytes(), "written decompressed, byte for byte")
	want := map[string]string{"appid": testAppID, "mch_id": testMchID, "nonce_str": firstSeqNonce, "sign_type": "MD5",
		"bill_date": "20240501", "bill_type": "ALL", "tar_type": "GZIP"}
	want["sign"] = refsign.Sign(want, testKey, "MD5")
	assert.Equal(t, Params(want), <-got)
}

func TestDownloadBillPlainAnswer(t *testing.T) {
	t.Parallel()
	fixture := openFixture(t, "trade_all_20240501.csv")
	c, mux, _ := setup(t)
	mux.HandleFunc("/pay/downloadbill", billHandler(t, "MD5", fixture, nil))
	var out bytes.Buffer
	_, err := c.DownloadBill(context.Background(), &DownloadBillRequest{BillDate: "20240501"}, &out)
	require.NoError(t, err)
	assert.Equal(t, fixture, out.Bytes())
}

func TestDownloadBillFailures(t *testing.T) {
	t.Parallel()
	fail := func(msg string) string {
		return "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[" + msg + "]]></return_msg><error_code><![CDATA[20002]]></error_code></xml>"
	}
	for _, tc := range []struct {
		name   string
		status int
		body   []byte
		is     error
	}{
		{"No Bill Exist", 200, []byte(fail("No Bill Exist")), ErrNoBill},
		{"NO Bill Exist, as the doc prints it", 200, []byte(fail("NO Bill Exist")), ErrNoBill},
		{"gzipped FAIL", 200, gzipped(t, []byte(fail("No Bill Exist"))), ErrNoBill},
		{"leading space", 200, []byte("\n  " + fail("Bill Creating")), ErrBillCreating},
		{"fund flow code", 200, []byte("<xml><return_code>SUCCESS</return_code><result_code>FAIL</result_code><err_code>NO_BILL_EXIST</err_code></xml>"), ErrNoBill},
		{"XML reporting success", 200, []byte("<xml><return_code>SUCCESS</return_code></xml>"), ErrBillFormat},
		{"oversized XML", 200, []byte("<xml><return_msg>" + strings.Repeat("x", maxBillFailBytes) + "</return_msg></xml>"), ErrResponseTooLarge},
		{"gateway", 502, []byte("<html>bad gateway</html>"), nil},
		{"corrupt gzip", 200, gzipped(t, []byte("x"))[:12], io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, mux, _ := setup(t)
			mux.HandleFunc("/pay/downloadbill", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write(tc.body)
			})
			var out bytes.Buffer
			n, err := c.DownloadBill(context.Background(), &DownloadBillRequest{BillDate: "20240501"}, &out)
			if tc.is == io.ErrUnexpectedEOF {
				// Part of the bill may have been written: the doc says
				// to keep the output only on success.
				require.ErrorIs(t, err, tc.is)
				assertClean(t, err)
				return
			}
			var we *Error
			require.ErrorAs(t, err, &we)
			assert.Equal(t, "downloadbill", we.Op)
			assert.Equal(t, tc.status, we.StatusCode)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.Zero(t, n)
			assert.Zero(t, out.Len(), "nothing written")
			assertClean(t, err)
		})
	}
}

func TestDownloadBillValidation(t *testing.T) {
	t.Parallel()
	c, _, ts := setup(t)
	for _, tc := range []struct {
		field string
		req   *DownloadBillRequest
	}{
		{"request", nil},
		{"bill_date", &DownloadBillRequest{}},
		{"bill_date", &DownloadBillRequest{BillDate: "2024-5-1"}},
		{"bill_date", &DownloadBillRequest{BillDate: "20240231"}},
		{"bill_type", &DownloadBillRequest{BillDate: "20240501", BillType: "all"}},
		{"tar_type", &DownloadBillRequest{BillDate: "20240501", Extra: Params{"tar_type": "ZIP"}}},
	} {
		_, err := c.DownloadBill(context.Background(), tc.req, io.Discard)
		var re *RequestError
		require.ErrorAs(t, err, &re, tc.field)
		assert.Equal(t, tc.field, re.Field)
	}
	_, err := c.DownloadBill(context.Background(), &DownloadBillRequest{BillDate: "20240501"}, nil)
	var re *RequestError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "writer", re.Field)
	_, err = c.DownloadFundFlow(context.Background(), &DownloadFundFlowRequest{BillDate: "20240501", AccountType: "basic"}, io.Discard)
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "account_type", re.Field)
	assert.EqualValues(t, 0, ts.Hits.Load())
}

// TestDownloadFundFlowHMAC: the fund-flow bill is signed with
// HMAC-SHA256 even by a client configured for MD5, and carries the client
// certificate.
func TestDownloadFundFlowHMAC(t *testing.T) {
	t.Parallel()
	fixture := openFixture(t, "fundflow_basic_20240501.csv")
	s := newMTLSServer(t, false)
	got := make(chan Params, 1)
	s.Mux.HandleFunc("/pay/downloadfundflow", billHandler(t, "HMAC-SHA256", gzipped(t, fixture), got))
	s.Mux.HandleFunc("/pay/downloadbill", billHandler(t, "MD5", fixture, nil))
	c := s.certClient(t, WithRand(&seqReader{}))
	require.Equal(t, SignMD5, c.Signer().Type())
	var out bytes.Buffer
	_, err := c.DownloadFundFlow(context.Background(), &DownloadFundFlowRequest{BillDate: "20240501", AccountType: AccountBasic}, &out)
	require.NoError(t, err)
	assert.Equal(t, fixture, out.Bytes())
	want := map[string]string{"appid": testAppID, "mch_id": testMchID, "nonce_str": firstSeqNonce, "sign_type": "HMAC-SHA256",
		"bill_date": "20240501", "account_type": "Basic", "tar_type": "GZIP"}
	want["sign"] = refsign.Sign(want, testKey, "HMAC-SHA256")
	assert.Equal(t, Params(want), <-got)
	assert.EqualValues(t, 1, s.withCert.Load())
	// The trade bill keeps the configured algorithm and needs no
	// certificate.
	_, err = c.DownloadBill(context.Background(), &DownloadBillRequest{BillDate: "20240501"}, io.Discard)
	require.NoError(t, err)
	assert.EqualValues(t, 1, s.withCert.Load())
}

// billGen streams a trade bill of about size bytes without holding it:
// the header, the same shape of row with a changing order number, then
// the summary.
type billGen struct {
	size, n int64
	row     int
	buf     []byte
	done    bool
}

func newBillGen(size int64) *billGen {
	return &billGen{size: size, buf: []byte("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n")}
}

func (g *billGen) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		switch {
		case g.done:
			return 0, io.EOF
		case g.n >= g.size:
			g.buf = append(g.buf, "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n`1,`0.01,`0.00,`0.00,`0.00,`0.01,`0.00\r\n"...)
			g.done = true
		default:
			g.row++
			g.buf = append(g.buf, "`2024-05-01 09:12:45,`wxd930ea5d5a258f4f,`10000100,`0,`013467007045764,`42000022222024050100"...)
			g.buf = appendPadded(g.buf, g.row)
			g.buf = append(g.buf, ",`20240501091200-"...)
			g.buf = appendPadded(g.buf, g.row)
			g.buf = append(g.buf, ",`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`SUCCESS,`CMC,`CNY,`128.88,`0.00,`0,`0,`0.00,`0.00,`,`,`腾讯充值中心-QQ会员充值,`,`0.77,`0.60%,`128.88,`0.00,`\r\n"...)
		}
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	g.n += int64(n)
	if len(g.buf) == 0 {
		g.buf = g.buf[:0:cap(g.buf)]
		g.buf = g.buf[:0]
	}
	return n, nil
}

func appendPadded(b []byte, n int) []byte {
	var d [8]byte
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, d[:]...)
}

const benchBillSize = 100 << 20

// BenchmarkBillReader100MB streams a generated 100 MB trade bill through
// BillReader and the typed view. peak-heap-MB samples the live heap
// during the run: it stays flat whatever the bill's size.
func BenchmarkBillReader100MB(b *testing.B) {
	b.SetBytes(benchBillSize)
	b.ReportAllocs()
	var peak uint64
	var ms runtime.MemStats
	for i := 0; i < b.N; i++ {
		br, err := NewBillReader(newBillGen(benchBillSize))
		if err != nil {
			b.Fatal(err)
		}
		for {
			row, err := br.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if _, err := row.Trade(); err != nil {
				b.Fatal(err)
			}
			if br.Rows()%50000 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// BenchmarkBillFloor100MB is the standard-library floor of the same
// work: bufio.Scanner lines split at ",`" by strings.Split, no typing.
func BenchmarkBillFloor100MB(b *testing.B) {
	b.SetBytes(benchBillSize)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sc := bufio.NewScanner(newBillGen(benchBillSize))
		rows := 0
		for sc.Scan() {
			if f := strings.Split(sc.Text(), ",`"); len(f) > 1 {
				rows++
			}
		}
		if sc.Err() != nil || rows == 0 {
			b.Fatal(sc.Err())
		}
	}
}

// BenchmarkDownloadBill100MB streams a generated 100 MB bill from a
// loopback server through DownloadBill into a discarding writer.
// peak-heap-MB samples the live heap while the body streams: it stays at
// the size of the copy buffers, not the bill's.
func BenchmarkDownloadBill100MB(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.Copy(w, newBillGen(benchBillSize))
	}))
	defer srv.Close()
	cfg := Config{AppID: "wxd930ea5d5a258f4f", MchID: "10000100", APIKey: "192006250b4c09247ec02edce69f6a2d"}
	c, err := NewClient(cfg, WithBaseURL(srv.URL))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchBillSize)
	b.ReportAllocs()
	w := &peakWriter{}
	for i := 0; i < b.N; i++ {
		if _, err := c.DownloadBill(context.Background(), &DownloadBillRequest{BillDate: "20240501"}, w); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(w.peak)/(1<<20), "peak-heap-MB")
}

// peakWriter discards what it is given and samples the heap every 4 MB.
type peakWriter struct {
	n, peak uint64
	ms      runtime.MemStats
}

func (p *peakWriter) Write(b []byte) (int, error) {
	if p.n/(4<<20) != (p.n+uint64(len(b)))/(4<<20) {
		runtime.ReadMemStats(&p.ms)
		p.peak = max(p.peak, p.ms.HeapAlloc)
	}
	p.n += uint64(len(b))
	return len(b), nil
}

// FuzzStreamBill feeds arbitrary answers to the bill streamer: it never
// panics, a FAIL answer is an *Error with nothing written, and anything
// else is copied through unchanged (or decompressed, for gzip). What was
// streamed then reads as a bill the way a caller reads it, skipping
// malformed rows: the reading ends, within the bounds readStreamedBill
// checks, so one bad row never costs the rest of a downloaded bill.
func FuzzStreamBill(f *testing.F) {
	f.Add([]byte("<xml><return_code>FAIL</return_code><return_msg>No Bill Exist</return_msg></xml>"))
	f.Add(openFixture(f, "trade_all_20240501.csv"))
	f.Add(gzipped(f, []byte("a,b\n`1,`2\n")))
	f.Add([]byte("\xef\xbb\xbf  <"))
	f.Add([]byte{0x1f, 0x8b, 0})
	f.Add([]byte(tBill("`2024-05-01 09:00:00,`o1,`茶,`1.00", "`2024-05-01 09:01:00,`o2,`T恤,`XL,`1.00", "`2024-05-01 09:02:00,`o3,`咖啡,`2.00")))
	// A small cap keeps the mutator's gzip bombs (a thousandfold each)
	// fast, and puts the cap itself under test.
	old := maxBillSize
	maxBillSize = 1 << 20
	f.Cleanup(func() { maxBillSize = old })
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 64<<10 {
			return // the mutator's giant inputs test nothing a 64 KiB one does not
		}
		resp := &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(body))}
		var out bytes.Buffer
		n, err := streamBill("downloadbill", resp, &out)
		if int64(out.Len()) != n {
			t.Fatalf("reported %d bytes, wrote %d", n, out.Len())
		}
		if n > maxBillSize+1 || (n > maxBillSize) != errors.Is(err, ErrBillTooLarge) {
			t.Fatalf("wrote %d bytes past the cap of %d (err %v)", n, maxBillSize, err)
		}
		var we *Error
		if errors.As(err, &we) && out.Len() != 0 {
			t.Fatal("wrote part of a FAIL answer")
		}
		gz := len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b
		if err == nil && !gz && !bytes.Equal(out.Bytes(), body) {
			t.Fatal("plain bill not copied unchanged")
		}
		if err == nil {
			readStreamedBill(t, out.Bytes())
		}
		if err == nil && !gz && bytes.HasPrefix(bytes.TrimLeft(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), " \t\r\n"), []byte("<")) {
			if len(body) < 512 {
				t.Fatal("XML answer streamed as a bill")
			}
		}
	})
}

// tBill is a trade bill of the layout's first columns and the given rows,
// with a summary that counts them all.
func tBill(rows ...string) string {
	return "交易时间,商户订单号,商品名称,订单金额\n" + strings.Join(rows, "\n") + "\n总交易单数,订单总金额\n`" + strconv.Itoa(len(rows)) + ",`0.00\n"
}

// One goods name holding the field separator (or a line break) breaks
// its own row only: the reader reports that row, with its line, and
// reads the rest of the day; the summary still counts the row.
func TestBillReaderSkipsBadRow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		bad     string
		badRows int
		lines   []int
	}{
		{"field separator in the goods name", "`2024-05-01 09:01:00,`o2,`T恤,`XL,`1.00", 1, []int{3}},
		{"line break in the goods name", "`2024-05-01 09:01:00,`o2,`T恤\nXL,`1.00", 2, []int{3, 4}},
		{"line break before a backtick", "`2024-05-01 09:01:00,`o2,`T恤\n`XL,`1.00", 2, []int{3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bill := tBill("`2024-05-01 09:00:00,`o1,`茶,`1.00", tc.bad, "`2024-05-01 09:02:00,`o3,`咖啡,`2.00")
			br, err := NewBillReader(strings.NewReader(bill))
			require.NoError(t, err)
			var got []string
			var badLines []int
			for {
				row, err := br.Next()
				if err == io.EOF {
					break
				}
				if errors.Is(err, ErrBillRow) {
					var be *BillError
					require.ErrorAs(t, err, &be)
					assert.ErrorIs(t, err, ErrBillFormat, "still a format error for code that checks that")
					assert.NotContains(t, err.Error(), "T恤", "the value is never quoted")
					badLines = append(badLines, be.Line)
					continue
				}
				require.NoError(t, err)
				v, _ := row.Get("商户订单号")
				got = append(got, v)
			}
			assert.Equal(t, []string{"o1", "o3"}, got, "the rows after the bad one are read")
			assert.Equal(t, tc.lines, badLines)
			assert.Equal(t, 2, br.Rows())
			assert.Equal(t, tc.badRows, br.BadRows())
			require.NotNil(t, br.Summary(), "the totals line is still read")
			sum, err := br.Summary().TradeSummary()
			require.NoError(t, err)
			assert.EqualValues(t, 3, sum.Trades)
		})
	}
}

// Skipping is bounded: past MaxBadBillRows the file is not a bill, and
// the error is sticky. A malformed summary stays fatal too.
func TestBillReaderBadRowsBounded(t *testing.T) {
	t.Parallel()
	rows := make([]string, MaxBadBillRows+5)
	for i := range rows {
		rows[i] = "`2024-05-01 09:00:00,`o,`a,`b,`1.00"
	}
	br, err := NewBillReader(strings.NewReader(tBill(rows...)))
	require.NoError(t, err)
	var calls int
	for err == nil || errors.Is(err, ErrBillRow) {
		_, err = br.Next()
		calls++
		require.Less(t, calls, len(rows)+5, "the reader must end")
	}
	require.ErrorIs(t, err, ErrBillFormat)
	assert.NotErrorIs(t, err, ErrBillRow)
	assert.Contains(t, err.Error(), "more than MaxBadBillRows")
	assert.Equal(t, MaxBadBillRows+1, calls)
	_, again := br.Next()
	assert.Equal(t, err, again, "sticky")

	br, err = NewBillReader(strings.NewReader("交易时间,商户订单号\n`2024-05-01 09:00:00,`o1\n总交易单数,订单总金额\n`1\n"))
	require.NoError(t, err)
	_, err = br.Next()
	require.NoError(t, err)
	_, err = br.Next()
	require.ErrorIs(t, err, ErrBillFormat)
	assert.NotErrorIs(t, err, ErrBillRow, "a malformed summary is the bill's fault, not a row's")
	_, again = br.Next()
	assert.Equal(t, err, again)
}

// readStreamedBill reads a streamed bill as a reconciliation job does,
// skipping rows that fail with ErrBillRow, and checks the reader's
// bounds: it ends within one call per line; good and bad rows together
// never exceed the lines; bad rows stay within MaxBadBillRows; every
// other error is typed and sticky.
func readStreamedBill(t *testing.T, b []byte) {
	t.Helper()
	br, err := NewBillReader(bytes.NewReader(b))
	if err != nil {
		return
	}
	lines := bytes.Count(b, []byte("\n")) + 1
	for calls := 1; ; calls++ {
		if calls > lines+1 {
			t.Fatalf("%d calls to Next on %d lines", calls, lines)
		}
		_, err := br.Next()
		switch {
		case err == nil:
		case errors.Is(err, ErrBillRow):
			if br.BadRows() > MaxBadBillRows {
				t.Fatalf("%d bad rows skipped, cap %d", br.BadRows(), MaxBadBillRows)
			}
		case err == io.EOF:
			if br.Rows()+br.BadRows() > lines {
				t.Fatalf("%d rows from %d lines", br.Rows()+br.BadRows(), lines)
			}
			return
		default:
			var be *BillError
			if !errors.As(err, &be) {
				t.Fatalf("untyped error %v", err)
			}
			if _, again := br.Next(); again != err {
				t.Fatalf("error %v not sticky", err)
			}
			return
		}
	}
}
