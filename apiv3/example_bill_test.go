package apiv3_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/apiv3"
)

// stand-in WeChat for the refund and bill examples: every JSON answer is
// signed with the WeChat Pay public key's private half (the documentation
// key, testdata/v3/k-off.pem); paths under /v3/billdownload/ answer
// unsigned, as WeChat serves bill files. A real server also checks the
// request's signature; the package's own tests do.
type exampleWeChat struct {
	*httptest.Server
	json map[string]func(body []byte) (int, string) // "METHOD /path" → answer
	raw  map[string][]byte                          // bill files by path
}

func newExampleWeChat() *exampleWeChat {
	blk, _ := pem.Decode(mustRead("k-off.pem"))
	key, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		panic(err)
	}
	e := &exampleWeChat{json: map[string]func([]byte) (int, string){}, raw: map[string][]byte{}}
	e.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if f, ok := e.raw[r.URL.Path]; ok {
			_, _ = w.Write(f)
			return
		}
		status, out := 404, `{"code":"NOT_FOUND","message":"no route"}`
		if h := e.json[r.Method+" "+r.URL.Path]; h != nil {
			status, out = h(body)
		}
		ts := strconv.FormatInt(exampleNow.Unix(), 10)
		d := sha256.Sum256([]byte(ts + "\nexample-nonce\n" + out + "\n"))
		sig, _ := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
		w.Header().Set("Wechatpay-Serial", "PUB_KEY_ID_0114232134912410000000000000")
		w.Header().Set("Wechatpay-Timestamp", ts)
		w.Header().Set("Wechatpay-Nonce", "example-nonce")
		w.Header().Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(sig))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, out)
	}))
	return e
}

// client is the merchant's client of e, on the public key.
func (e *exampleWeChat) client() *apiv3.Client {
	c, err := apiv3.NewClient(apiv3.Config{
		MchID:            "1230000109",
		MerchantSerialNo: "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
		PrivateKey:       mustRead("k-wj.pem"),
		APIv3Key:         exampleAPIv3Key,
		PublicKeyID:      "PUB_KEY_ID_0114232134912410000000000000",
		PublicKey:        mustRead("k-off.pub.pem"),
	}, apiv3.WithBaseURL(e.URL), apiv3.WithHTTPClient(e.Client()), apiv3.WithClock(func() time.Time { return exampleNow }))
	if err != nil {
		panic(err)
	}
	return c
}

const exampleBill = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n" +
	"`2026-01-01 10:20:30,`wx2421b1c4370ec43b,`1230000109,`0,`,`4200000001202601011234567890,`T20260101001,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`SUCCESS,`OTHERS,`CNY,`12.34,`0.00,`0,`0,`0.00,`0.00,`,`,`coffee,`,`0.07,`0.60%,`12.34,`0.00,`\r\n" +
	"总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n" +
	"`1,`12.34,`0.00,`0.00,`0.07,`12.34,`0.00\r\n"

// A day's trade bill: apply, download into a file that appears only once
// its SHA-1 matched, then read the rows with the same reader as v2 bills.
func ExampleClient_TradeBill() {
	wc := newExampleWeChat()
	defer wc.Close()
	sum := sha1.Sum([]byte(exampleBill))
	wc.raw["/v3/billdownload/file"] = []byte(exampleBill)
	wc.json["GET /v3/bill/tradebill"] = func([]byte) (int, string) {
		return 200, `{"hash_type":"SHA1","hash_value":"` + hex.EncodeToString(sum[:]) +
			`","download_url":"` + wc.URL + `/v3/billdownload/file?token=6XIv5TUPto7pByrTDvLyzNGmN8RlmQj"}`
	}
	c := wc.client()
	ctx := context.Background()

	bill, err := c.TradeBill(ctx, &apiv3.TradeBillRequest{BillDate: "2026-01-01"})
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "bills")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "2026-01-01.csv")
	if _, err := c.DownloadBillFile(ctx, bill, path); err != nil {
		fmt.Println(err) // no file at path: nothing to act on
		return
	}
	f, _ := os.Open(path)
	defer f.Close()
	br, err := wxpay.NewBillReader(f)
	if err != nil {
		fmt.Println(err)
		return
	}
	for {
		row, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		t, _ := row.Trade()
		fmt.Println(t.OutTradeNo, t.TradeState, t.SettlementTotalFee, "fen")
	}
	s, _ := br.Summary().TradeSummary()
	fmt.Println("trades:", s.Trades)

	// The same bill altered in transit is refused whole.
	wc.raw["/v3/billdownload/file"] = []byte(strings.Replace(exampleBill, "`12.34,`0.00,`0", "`99.34,`0.00,`0", 1))
	_, err = c.DownloadBillFile(ctx, bill, filepath.Join(dir, "tampered.csv"))
	fmt.Println(err)
	_, statErr := os.Stat(filepath.Join(dir, "tampered.csv"))
	fmt.Println("file written:", statErr == nil)
	// Output:
	// T20260101001 SUCCESS 1234 fen
	// trades: 1
	// apiv3: billdownload: bill does not match its hash_value
	// file written: false
}

// A fund-flow bill, downloaded gzip-compressed and written to any
// io.Writer; DownloadBill returns nil only once the hash matched.
func ExampleClient_FundFlowBill() {
	wc := newExampleWeChat()
	defer wc.Close()
	const flow = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号\r\n" +
		"`2026-01-01 10:20:30,`4200000001202601011234567890,`1900000109201901011234567890,`交易,`交易,`收入,`12.34,`12.34,`system,`,`T20260101001\r\n" +
		"资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\r\n" +
		"`1,`1,`12.34,`0,`0.00\r\n"
	sum := sha1.Sum([]byte(flow))
	wc.raw["/v3/billdownload/file"] = gzipped(flow)
	wc.json["GET /v3/bill/fundflowbill"] = func([]byte) (int, string) {
		return 200, `{"hash_type":"SHA1","hash_value":"` + hex.EncodeToString(sum[:]) +
			`","download_url":"` + wc.URL + `/v3/billdownload/file?token=flow"}`
	}
	c := wc.client()
	bill, err := c.FundFlowBill(context.Background(), &apiv3.FundFlowBillRequest{BillDate: "2026-01-01", Gzip: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	var buf strings.Builder
	n, err := c.DownloadBill(context.Background(), bill, &buf)
	fmt.Println(n == int64(len(flow)), err)
	br, _ := wxpay.NewBillReader(strings.NewReader(buf.String()))
	row, _ := br.Next()
	ff, err := row.FundFlow()
	fmt.Println(ff.BizTransactionID, ff.Amount, err)
	// Output:
	// true <nil>
	// 4200000001202601011234567890 1234 <nil>
}

// gzipped compresses s as WeChat does for tar_type GZIP.
func gzipped(s string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(s))
	_ = zw.Close()
	return buf.Bytes()
}

// OpenBill streams a bill for callers that stage it themselves (a
// database transaction, an object store upload): the stream's last Read
// is io.EOF only when the bill matched its hash, so stage everything and
// commit only after a clean end.
func ExampleClient_OpenBill() {
	wc := newExampleWeChat()
	defer wc.Close()
	sum := sha1.Sum([]byte(exampleBill))
	wc.raw["/v3/billdownload/file"] = []byte(exampleBill[:200]) // cut short in transit
	c := wc.client()
	bill := &apiv3.Bill{HashType: "SHA1", HashValue: hex.EncodeToString(sum[:]), DownloadURL: wc.URL + "/v3/billdownload/file?token=t"}

	s, err := c.OpenBill(context.Background(), bill)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	var staged bytes.Buffer // stands for an uncommitted transaction
	_, err = io.Copy(&staged, s)
	if err != nil {
		fmt.Println("roll back:", err)
		return
	}
	fmt.Println("commit", staged.Len(), "bytes")
	// Output:
	// roll back: apiv3: billdownload: bill does not match its hash_value
}
