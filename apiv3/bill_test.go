package apiv3

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wxpay-go/wxpay"
)

// sampleTradeBill is a trade bill in WeChat's documented layout (header,
// backtick-prefixed rows, summary header, summary row), the same for v2
// and v3.
const sampleTradeBill = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n" +
	"`2026-03-03 10:20:30,`wx2421b1c4370ec43b,`1230000109,`0,`,`4200000001202603031234567890,`T20260303001,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`SUCCESS,`OTHERS,`CNY,`1.00,`0.00,`0,`0,`0.00,`0.00,`,`,`coffee,`,`0.01,`0.60%,`1.00,`0.00,`\r\n" +
	"总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n" +
	"`1,`1.00,`0.00,`0.00,`0.01,`1.00,`0.00\r\n"

func sha1Hex(b []byte) string { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// billAnswerFor is the apply answer pointing at the fake's download path.
func billAnswerFor(rf *recordingFake, hash string) string {
	return `{"hash_type":"SHA1","hash_value":"` + hash + `","download_url":"` + rf.srv.URL + `/v3/billdownload/file?token=6XIv5TUPto7pByrTDvLyzNGmN8RlmQj"}`
}

func TestTradeBillGoldenRequest(t *testing.T) {
	clock := newFakeClock(fixedNow)
	rf := newRecordingFake(t, clock.Now)
	rf.route("GET /v3/bill/tradebill", func(*http.Request) (int, string) {
		return 200, billAnswerFor(rf, sha1Hex([]byte(sampleTradeBill)))
	})
	c := rfClient(t, rf, clock)
	b, err := c.TradeBill(context.Background(), &TradeBillRequest{BillDate: "2026-03-03", BillType: TradeBillSuccess, Gzip: true})
	if err != nil {
		t.Fatal(err)
	}
	got := rf.last(t)
	// The fake answered 200, so it verified the Authorization header
	// against the merchant's public key over exactly this request line.
	if got.method != "GET" || got.uri != "/v3/bill/tradebill?bill_date=2026-03-03&bill_type=SUCCESS&tar_type=GZIP" || len(got.body) != 0 {
		t.Fatalf("request = %s %s %q", got.method, got.uri, got.body)
	}
	if a, ok := parseAuthForTest(got.header.Get("Authorization")); !ok || a["mchid"] != fakeMchID || a["serial_no"] != fakeMchSerial {
		t.Fatalf("Authorization = %q", got.header.Get("Authorization"))
	}
	if got.header.Get("Content-Type") != "" {
		t.Errorf("a GET has no body, but Content-Type = %q", got.header.Get("Content-Type"))
	}
	want := Bill{HashType: "SHA1", HashValue: sha1Hex([]byte(sampleTradeBill)),
		DownloadURL: rf.srv.URL + "/v3/billdownload/file?token=6XIv5TUPto7pByrTDvLyzNGmN8RlmQj", Gzip: true}
	if *b != want {
		t.Fatalf("bill = %+v, want %+v", *b, want)
	}

	// The defaults send only the date.
	if _, err := c.TradeBill(context.Background(), &TradeBillRequest{BillDate: "2026-03-03"}); err != nil {
		t.Fatal(err)
	}
	if got := rf.last(t); got.uri != "/v3/bill/tradebill?bill_date=2026-03-03" {
		t.Fatalf("uri = %s", got.uri)
	}
}

func TestFundFlowBillGoldenRequest(t *testing.T) {
	clock := newFakeClock(fixedNow)
	rf := newRecordingFake(t, clock.Now)
	rf.route("GET /v3/bill/fundflowbill", func(*http.Request) (int, string) {
		return 200, billAnswerFor(rf, sha1Hex([]byte("x")))
	})
	c := rfClient(t, rf, clock)
	if _, err := c.FundFlowBill(context.Background(), &FundFlowBillRequest{BillDate: "2026-02-28", AccountType: FundFlowOperation}); err != nil {
		t.Fatal(err)
	}
	if got := rf.last(t); got.method != "GET" || got.uri != "/v3/bill/fundflowbill?account_type=OPERATION&bill_date=2026-02-28" {
		t.Fatalf("request = %s %s", got.method, got.uri)
	}
}

func TestBillRequestValidation(t *testing.T) {
	clock := newFakeClock(fixedNow)
	rf := newRecordingFake(t, clock.Now)
	c := rfClient(t, rf, clock)
	ctx := context.Background()
	cases := []struct {
		name  string
		call  func() error
		field string
	}{
		{"nil trade", func() error { _, err := c.TradeBill(ctx, nil); return err }, "request"},
		{"nil fund", func() error { _, err := c.FundFlowBill(ctx, nil); return err }, "request"},
		{"no date", func() error { _, err := c.TradeBill(ctx, &TradeBillRequest{}); return err }, "bill_date"},
		{"v2 date", func() error { _, err := c.TradeBill(ctx, &TradeBillRequest{BillDate: "20260303"}); return err }, "bill_date"},
		{"no such day", func() error { _, err := c.TradeBill(ctx, &TradeBillRequest{BillDate: "2026-02-30"}); return err }, "bill_date"},
		{"time", func() error {
			_, err := c.FundFlowBill(ctx, &FundFlowBillRequest{BillDate: "2026-02-03T00:00:00+08:00"})
			return err
		}, "bill_date"},
		{"bill type", func() error {
			_, err := c.TradeBill(ctx, &TradeBillRequest{BillDate: "2026-03-03", BillType: "all"})
			return err
		}, "bill_type"},
		{"v2 account", func() error {
			_, err := c.FundFlowBill(ctx, &FundFlowBillRequest{BillDate: "2026-03-03", AccountType: "Basic"})
			return err
		}, "account_type"},
		{"nil bill", func() error { _, err := c.OpenBill(ctx, nil); return err }, "bill"},
		{"bad hash", func() error {
			_, err := c.OpenBill(ctx, &Bill{HashType: "SHA1", HashValue: "abc", DownloadURL: rf.srv.URL + "/v3/billdownload/file"})
			return err
		}, "hash_value"},
		{"md5", func() error {
			_, err := c.OpenBill(ctx, &Bill{HashType: "MD5", HashValue: sha1Hex(nil), DownloadURL: rf.srv.URL + "/v3/billdownload/file"})
			return err
		}, "hash_value"},
		{"nil writer", func() error { _, err := c.DownloadBill(ctx, &Bill{}, nil); return err }, "writer"},
		{"no path", func() error { _, err := c.DownloadBillFile(ctx, &Bill{}, ""); return err }, "path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var re *RequestError
			if err := tc.call(); !errors.As(err, &re) || re.Field != tc.field {
				t.Fatalf("err = %v, want a RequestError on %s", err, tc.field)
			}
		})
	}
	if n := len(rf.recorded()); n != 0 {
		t.Fatalf("%d requests were sent for invalid input", n)
	}
}

func TestBillErrorCodes(t *testing.T) {
	cases := []struct {
		status    int
		body      string
		code      ErrorCode
		retryable bool
	}{
		{400, `{"code":"NO_STATEMENT_EXIST","message":"账单文件不存在"}`, ErrCodeNoStatementExist, false},
		{400, `{"code":"STATEMENT_CREATING","message":"账单生成中"}`, ErrCodeStatementCreating, false},
		{400, `{"code":"PARAM_ERROR","message":"参数错误","detail":{"field":"bill_date","issue":"too old","location":"query"}}`, ErrCodeParamError, false},
		{400, `{"code":"INVALID_REQUEST","message":"请求不合法"}`, ErrCodeInvalidRequest, false},
		{429, `{"code":"FREQUENCY_LIMITED","message":"频率超限"}`, "FREQUENCY_LIMITED", true},
		{500, `{"code":"SYSTEM_ERROR","message":"系统错误"}`, ErrCodeSystemError, true},
	}
	for _, tc := range cases {
		t.Run(string(tc.code), func(t *testing.T) {
			clock := newFakeClock(fixedNow)
			rf := newRecordingFake(t, clock.Now)
			rf.route("GET /v3/bill/tradebill", func(*http.Request) (int, string) { return tc.status, tc.body })
			c := rfClient(t, rf, clock)
			_, err := c.TradeBill(context.Background(), &TradeBillRequest{BillDate: "2026-03-03"})
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.code || e.StatusCode != tc.status || !e.Verified {
				t.Fatalf("err = %v, want a verified %d %s", err, tc.status, tc.code)
			}
			if Retryable(err) != tc.retryable {
				t.Fatalf("Retryable = %v", !tc.retryable)
			}
		})
	}
	t.Run("SIGN_ERROR", func(t *testing.T) {
		// WeChat's own refusal of our signature is unsigned; a client
		// with another merchant serial provokes it from the fake.
		clock := newFakeClock(fixedNow)
		rf := newRecordingFake(t, clock.Now)
		cfg := baseConfig(t)
		cfg.MerchantSerialNo = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"
		c := clientFor(t, rf.fakeWeChat, cfg, clock)
		_, err := c.TradeBill(context.Background(), &TradeBillRequest{BillDate: "2026-03-03"})
		var e *Error
		if !errors.As(err, &e) || e.Code != ErrCodeSignError || e.StatusCode != 401 || e.Verified || Retryable(err) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestBillAnswerRefused(t *testing.T) {
	for _, body := range []string{
		`{"hash_type":"MD5","hash_value":"0123456789abcdef0123456789abcdef","download_url":"https://x/"}`,
		`{"hash_type":"SHA1","hash_value":"0123","download_url":"https://x/"}`,
		`{"hash_type":"SHA1","hash_value":"` + sha1Hex(nil) + `"}`,
		`{"hash_type":"SHA1","hash_value":"` + strings.Repeat("g", 40) + `","download_url":"https://x/"}`,
	} {
		clock := newFakeClock(fixedNow)
		rf := newRecordingFake(t, clock.Now)
		rf.route("GET /v3/bill/tradebill", func(*http.Request) (int, string) { return 200, body })
		c := rfClient(t, rf, clock)
		if _, err := c.TradeBill(context.Background(), &TradeBillRequest{BillDate: "2026-03-03"}); !errors.Is(err, ErrBillAnswer) {
			t.Errorf("%s: err = %v, want ErrBillAnswer", body, err)
		}
	}
}

// billFixture is a fake serving file (unsigned) under the URL of a bill
// whose hash is hash.
func billFixture(t *testing.T, file []byte, hash string, gz bool) (*recordingFake, *Client, *Bill) {
	t.Helper()
	clock := newFakeClock(fixedNow)
	rf := newRecordingFake(t, clock.Now)
	rf.setRaw("/v3/billdownload/file", file)
	c := rfClient(t, rf, clock)
	return rf, c, &Bill{HashType: "SHA1", HashValue: hash, DownloadURL: rf.srv.URL + "/v3/billdownload/file?token=abc%2Bdef", Gzip: gz}
}

func TestDownloadBillRows(t *testing.T) {
	for _, gz := range []bool{false, true} {
		file := []byte(sampleTradeBill)
		if gz {
			file = gzipBytes(t, file)
		}
		rf, c, b := billFixture(t, file, sha1Hex([]byte(sampleTradeBill)), gz)
		path := filepath.Join(t.TempDir(), "bill.csv")
		n, err := c.DownloadBillFile(context.Background(), b, path)
		if err != nil || n != int64(len(sampleTradeBill)) {
			t.Fatalf("gzip %v: n = %d, err = %v", gz, n, err)
		}
		got := rf.last(t)
		if got.method != "GET" || got.uri != "/v3/billdownload/file?token=abc%2Bdef" || got.header.Get("Authorization") == "" {
			t.Fatalf("download request = %s %s", got.method, got.uri)
		}
		// The rows are read by the v2 reader: the layout is the same.
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		br, err := wxpay.NewBillReader(f)
		if err != nil {
			t.Fatal(err)
		}
		row, err := br.Next()
		if err != nil {
			t.Fatal(err)
		}
		tr, err := row.Trade()
		if err != nil || tr.OutTradeNo != "T20260303001" || tr.SettlementTotalFee != 100 {
			t.Fatalf("row = %+v, %v", tr, err)
		}
		if _, err := br.Next(); err != io.EOF {
			t.Fatalf("after the last row: %v", err)
		}
		f.Close()
	}
}

func TestDownloadBillHashMismatch(t *testing.T) {
	// A bill one digit off (a refund amount changed in transit, or a
	// replaced file): the hash of the original does not match.
	forged := strings.Replace(sampleTradeBill, "`1.00,`0.00,`0,`0", "`9.00,`0.00,`0,`0", 1)
	for _, gz := range []bool{false, true} {
		file := []byte(forged)
		if gz {
			file = gzipBytes(t, file)
		}
		_, c, b := billFixture(t, file, sha1Hex([]byte(sampleTradeBill)), gz)
		dir := t.TempDir()
		path := filepath.Join(dir, "bill.csv")
		if _, err := c.DownloadBillFile(context.Background(), b, path); !errors.Is(err, ErrBillHash) {
			t.Fatalf("gzip %v: err = %v, want ErrBillHash", gz, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("a refused bill left %d files (%s)", len(ents), ents[0].Name())
		}
		var buf bytes.Buffer
		if _, err := c.DownloadBill(context.Background(), b, &buf); !errors.Is(err, ErrBillHash) {
			t.Fatalf("DownloadBill: err = %v", err)
		}
		// The stream hands out every byte, then ends with the hash
		// error instead of io.EOF: a reader that stops at io.EOF never
		// sees a successful end.
		s, err := c.OpenBill(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		all, err := io.ReadAll(s)
		s.Close()
		if !errors.Is(err, ErrBillHash) || string(all) != forged {
			t.Fatalf("ReadAll: %d bytes, err = %v", len(all), err)
		}
		// A row reader over the stream sees the rows, but its end is
		// the hash error, never io.EOF with a summary.
		s, _ = c.OpenBill(context.Background(), b)
		br, err := wxpay.NewBillReader(s)
		if err != nil {
			t.Fatal(err)
		}
		for {
			_, err = br.Next()
			if err != nil {
				break
			}
		}
		s.Close()
		if !errors.Is(err, ErrBillHash) {
			t.Fatalf("BillReader ended with %v, want ErrBillHash", err)
		}
	}
}

func TestDownloadBillTruncated(t *testing.T) {
	z := gzipBytes(t, []byte(sampleTradeBill))
	for _, cut := range []int{5, len(z) / 2, len(z) - 4} {
		_, c, b := billFixture(t, z[:cut], sha1Hex([]byte(sampleTradeBill)), true)
		var buf bytes.Buffer
		_, err := c.DownloadBill(context.Background(), b, &buf)
		if err == nil || errors.Is(err, io.EOF) {
			t.Fatalf("cut at %d: err = %v", cut, err)
		}
	}
	// A plain bill cut short fails its hash.
	_, c, b := billFixture(t, []byte(sampleTradeBill[:100]), sha1Hex([]byte(sampleTradeBill)), false)
	if _, err := c.DownloadBill(context.Background(), b, io.Discard); !errors.Is(err, ErrBillHash) {
		t.Fatalf("err = %v", err)
	}
	// Asked for gzip, served plain.
	_, c, b = billFixture(t, []byte(sampleTradeBill), sha1Hex([]byte(sampleTradeBill)), true)
	if _, err := c.DownloadBill(context.Background(), b, io.Discard); !errors.Is(err, ErrBillFormat) {
		t.Fatalf("err = %v", err)
	}
}

// setBillCaps lowers the caps for one test.
func setBillCaps(t *testing.T, plain, compressed int64) {
	t.Helper()
	p, c := maxBillBytes, maxBillCompressedBytes
	maxBillBytes, maxBillCompressedBytes = plain, compressed
	t.Cleanup(func() { maxBillBytes, maxBillCompressedBytes = p, c })
}

// gzipBomb is n gzip members of 1 MiB of zeros each: a valid
// multi-member gzip file (which gzip.Reader reads whole) of about n KiB
// that expands to n MiB.
func gzipBomb(t testing.TB, n int) []byte {
	member := gzipBytes(t, make([]byte, 1<<20))
	return bytes.Repeat(member, n)
}

func TestDownloadBillCaps(t *testing.T) {
	setBillCaps(t, 1<<20, 1<<20)
	big := bytes.Repeat([]byte("`x,`y\r\n"), (2<<20)/7)
	t.Run("plain over the cap", func(t *testing.T) {
		_, c, b := billFixture(t, big, sha1Hex(big), false)
		dir := t.TempDir()
		if _, err := c.DownloadBillFile(context.Background(), b, filepath.Join(dir, "b")); !errors.Is(err, ErrBillTooLarge) {
			t.Fatalf("err = %v", err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatal("a refused bill left a file")
		}
	})
	t.Run("gzip bomb", func(t *testing.T) {
		bomb := gzipBomb(t, 64)
		_, c, b := billFixture(t, bomb, sha1Hex(nil), true)
		n, err := c.DownloadBill(context.Background(), b, io.Discard)
		if !errors.Is(err, ErrBillTooLarge) || n > 1<<20 {
			t.Fatalf("n = %d, err = %v", n, err)
		}
	})
	t.Run("compressed stream over its cap", func(t *testing.T) {
		// Random-looking data does not compress: the wire cap trips
		// before the decompressed one.
		setBillCaps(t, 8<<20, 256<<10)
		noise := make([]byte, 512<<10)
		x := uint32(1)
		for i := range noise {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			noise[i] = byte(x)
		}
		_, c, b := billFixture(t, gzipBytes(t, noise), sha1Hex(noise), true)
		if _, err := c.DownloadBill(context.Background(), b, io.Discard); !errors.Is(err, ErrBillTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestBillBombBoundedMemory measures what a gzip bomb costs: every byte
// allocated by the process while a 1 GiB bomb (1 MiB on the wire) is
// refused at a 64 MiB cap. Total allocation bounds peak heap growth from
// above, whatever the garbage collector did in between.
func TestBillBombBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 64 MiB")
	}
	setBillCaps(t, 64<<20, MaxBillCompressedBytes)
	bomb := gzipBomb(t, 1024)
	_, c, b := billFixture(t, bomb, sha1Hex(nil), true)
	// Warm the connection and the certificate-free client path.
	if _, err := c.DownloadBill(context.Background(), &Bill{HashType: "SHA1", HashValue: sha1Hex(nil), DownloadURL: b.DownloadURL + "&x=1", Gzip: true}, io.Discard); !errors.Is(err, ErrBillTooLarge) {
		t.Fatalf("warm-up: %v", err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n, err := c.DownloadBill(context.Background(), b, io.Discard)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrBillTooLarge) {
		t.Fatalf("err = %v", err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("1 GiB gzip bomb (%d KiB on the wire) refused after %d MiB: %d KiB allocated (%.4f of the bytes inflated)",
		len(bomb)>>10, n>>20, alloc>>10, float64(alloc)/float64(n))
	if alloc > 8<<20 {
		t.Fatalf("refusing a bomb allocated %d bytes", alloc)
	}
}

func TestBillURLOffHost(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	rf, c, b := billFixture(t, []byte(sampleTradeBill), sha1Hex([]byte(sampleTradeBill)), false)
	host := strings.TrimPrefix(rf.srv.URL, "https://")
	for _, u := range []string{
		other.URL + "/v3/billdownload/file?token=x",                       // another host (port)
		"https://api.mch.weixin.qq.com.evil.example/v3/billdownload/file", // a look-alike
		"http://" + host + "/v3/billdownload/file",                        // plain HTTP to the right host
		"https://user:pw@" + host + "/v3/billdownload/file",               // credentials
		"//" + host + "/v3/billdownload/file",                             // scheme-relative
		"/v3/billdownload/file",                                           // relative
		"https://" + host + "/v3/billdownload/file#frag",
		"",
	} {
		b.DownloadURL = u
		if _, err := c.DownloadBill(context.Background(), b, io.Discard); !errors.Is(err, ErrBillURL) {
			t.Errorf("%q: err = %v, want ErrBillURL", u, err)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("%d requests went to another host", n)
	}
	if n := len(rf.recorded()); n != 0 {
		t.Fatalf("%d requests were sent for refused URLs", n)
	}
}

func TestBillDownloadErrorAnswer(t *testing.T) {
	clock := newFakeClock(fixedNow)
	rf := newRecordingFake(t, clock.Now)
	rf.route("GET /v3/billdownload/file", func(*http.Request) (int, string) {
		return 400, `{"code":"INVALID_REQUEST","message":"token expired"}`
	})
	c := rfClient(t, rf, clock)
	b := &Bill{HashType: "SHA1", HashValue: sha1Hex(nil), DownloadURL: rf.srv.URL + "/v3/billdownload/file?token=old"}
	var e *Error
	if _, err := c.DownloadBill(context.Background(), b, io.Discard); !errors.As(err, &e) || e.Code != ErrCodeInvalidRequest || !e.Verified {
		t.Fatalf("err = %v", err)
	}
	// A forged signature on the error answer is refused as such.
	rf.setHook(func(h http.Header, body []byte) (http.Header, []byte) {
		h.Set(HeaderSignature, "AAAA"+h.Get(HeaderSignature)[4:])
		return h, body
	})
	if _, err := c.DownloadBill(context.Background(), b, io.Discard); !errors.Is(err, ErrSignature) {
		t.Fatalf("forged error answer: %v", err)
	}
}

// FuzzBillStream feeds arbitrary bytes to the download reader, plain and
// gzip: it must never panic, never read past its caps, and end with
// io.EOF only when the bytes it handed out hash to the expected value.
func FuzzBillStream(f *testing.F) {
	f.Add([]byte(sampleTradeBill), false, true)
	f.Add(gzipBytes(f, []byte(sampleTradeBill)), true, true)
	f.Add(gzipBytes(f, []byte(sampleTradeBill))[:20], true, false)
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, true, false)
	f.Fuzz(func(t *testing.T, data []byte, gz, hashOfData bool) {
		want := sha1.Sum([]byte("something else"))
		if hashOfData {
			want = sha1.Sum(data)
		}
		s, err := newBillStream(io.NopCloser(bytes.NewReader(data)), gz, want[:])
		if err != nil {
			return
		}
		out, err := io.ReadAll(io.LimitReader(s, maxBillBytes+1))
		if int64(len(out)) > maxBillBytes {
			t.Fatalf("read %d bytes past the cap", len(out))
		}
		ok := err == nil // ReadAll's nil is the stream's io.EOF
		if ok != (sha1.Sum(out) == want) {
			t.Fatalf("EOF %v but hash match %v (err %v)", ok, !ok, err)
		}
	})
}

// FuzzBillAnswer checks the bill-apply answer after decoding: any JSON
// gives a usable bill or ErrBillAnswer / ErrJSON, never a panic, and a
// usable bill has a 40-digit hex hash.
func FuzzBillAnswer(f *testing.F) {
	f.Add([]byte(`{"hash_type":"SHA1","hash_value":"` + sha1Hex(nil) + `","download_url":"https://api.mch.weixin.qq.com/v3/billdownload/file?token=x"}`))
	f.Add([]byte(`{"hash_type":"SHA1","hash_value":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var a billAnswer
		if err := decodeJSON(body, &a); err != nil {
			if !errors.Is(err, ErrJSON) {
				t.Fatalf("decode error %v is not ErrJSON", err)
			}
			return
		}
		b, err := a.bill("tradebill", false)
		if err != nil {
			if !errors.Is(err, ErrBillAnswer) {
				t.Fatal(err)
			}
			return
		}
		if _, err := hex.DecodeString(b.HashValue); err != nil || len(b.HashValue) != 40 || b.DownloadURL == "" {
			t.Fatalf("accepted %+v", b)
		}
	})
}

// TestBillURLHosts: the base URL's host and the failover host are the
// client's WeChat; the host compares case-insensitively, the port and
// scheme exactly.
func TestBillURLHosts(t *testing.T) {
	c, err := NewClient(baseConfig(t), WithBaseURL("https://api.mch.weixin.qq.com"), WithFailover(BackupBaseURL))
	if err != nil {
		t.Fatal(err)
	}
	for u, ok := range map[string]bool{
		"https://api.mch.weixin.qq.com/v3/billdownload/file?token=x":      true,
		"https://API.MCH.WEIXIN.QQ.COM/v3/billdownload/file?token=x":      true,
		"https://api2.mch.weixin.qq.com/v3/billdownload/file?token=x":     true,
		"https://api.mch.weixin.qq.com:8443/v3/billdownload/file":         false,
		"http://api.mch.weixin.qq.com/v3/billdownload/file":               false,
		"https://pay.weixin.qq.com/v3/billdownload/file":                  false,
		"https://api.mch.weixin.qq.com@evil.example/v3/billdownload/file": false,
		"https://evil.example/https://api.mch.weixin.qq.com/v3/":          false,
	} {
		_, err := c.billURL(u)
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrBillURL)) {
			t.Errorf("%s: err = %v, want accepted %v", u, err, ok)
		}
	}
}
