package apiv3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// alterInTransit is an http.RoundTripper that rewrites the bill files
// its transport fetches, as a hostile network between the merchant and
// WeChat could: bills are not signed, only their hash_value vouches for
// them.
type alterInTransit struct {
	next  http.RoundTripper
	alter func([]byte) []byte
}

func (t alterInTransit) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil || !strings.HasPrefix(r.URL.Path, "/v3/billdownload/") {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(t.alter(b))), -1
	resp.Header.Del("Content-Length")
	return resp, nil
}

// A day's trade bill: apply, download into a file that appears only once
// its SHA-1 matched, then read the rows with the same reader as v2 bills.
// wxpaytest's bill lists the day's payments of its orders.
func ExampleClient_TradeBill() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wxd678efh567hg6787", MchID: "1230000109", APIKey: "192006250b4c09247ec02edce69f6a2d",
		APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", Now: func() time.Time { return exampleNow }, // 2026-01-02 15:04:05 in Beijing
	})
	defer wx.Close()
	c, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.PrepayNative(ctx, apiv3.PrepayRequest{Description: "coffee", OutTradeNo: "T20260102001",
		NotifyURL: "https://merchant.example/wxpay/v3/notify", Amount: apiv3.Amount{Total: 1234}}); err != nil {
		log.Fatal(err)
	}
	if _, err := wx.Pay(wxpaytest.PayOptions{OutTradeNo: "T20260102001", NoNotify: true}); err != nil { // the payer pays
		log.Fatal(err)
	}

	bill, err := c.TradeBill(ctx, &apiv3.TradeBillRequest{BillDate: "2026-01-02"})
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "bills")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "2026-01-02.csv")
	if _, err := c.DownloadBillFile(ctx, bill, path); err != nil {
		fmt.Println(err) // no file at path: nothing to act on
		return
	}
	f, _ := os.Open(path)
	defer f.Close()
	br, err := wxpay.NewBillReader(f)
	if err != nil {
		log.Fatal(err)
	}
	for {
		row, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		t, _ := row.Trade()
		fmt.Println(t.OutTradeNo, t.TradeState, t.SettlementTotalFee, "fen")
	}
	s, _ := br.Summary().TradeSummary()
	fmt.Println("trades:", s.Trades)

	// The same bill altered in transit is refused whole.
	hc := *wx.Client() // a copy: the fake's own client stays as it is
	hc.Transport = alterInTransit{hc.Transport, func(b []byte) []byte { return bytes.Replace(b, []byte("`12.34"), []byte("`99.34"), 1) }}
	altered, err := apiv3.NewClient(wx.APIv3Config(), append(wx.APIv3Options(), apiv3.WithHTTPClient(&hc))...)
	if err != nil {
		log.Fatal(err)
	}
	_, err = altered.DownloadBillFile(ctx, bill, filepath.Join(dir, "tampered.csv"))
	fmt.Println(err)
	_, statErr := os.Stat(filepath.Join(dir, "tampered.csv"))
	fmt.Println("file written:", statErr == nil)
	// Output:
	// T20260102001 SUCCESS 1234 fen
	// trades: 1
	// apiv3: billdownload: bill does not match its hash_value
	// file written: false
}

// A fund-flow bill, downloaded gzip-compressed and written to any
// io.Writer; DownloadBill returns nil only once the hash matched.
// wxpaytest's basic account shows each payment and its service fee.
func ExampleClient_FundFlowBill() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wxd678efh567hg6787", MchID: "1230000109", APIKey: "192006250b4c09247ec02edce69f6a2d",
		APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", Now: func() time.Time { return exampleNow },
	})
	defer wx.Close()
	c, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.PrepayNative(ctx, apiv3.PrepayRequest{Description: "coffee", OutTradeNo: "T20260102001",
		NotifyURL: "https://merchant.example/wxpay/v3/notify", Amount: apiv3.Amount{Total: 1234}}); err != nil {
		log.Fatal(err)
	}
	if _, err := wx.Pay(wxpaytest.PayOptions{OutTradeNo: "T20260102001", NoNotify: true}); err != nil { // the payer pays
		log.Fatal(err)
	}

	bill, err := c.FundFlowBill(ctx, &apiv3.FundFlowBillRequest{BillDate: "2026-01-02", Gzip: true})
	if err != nil {
		log.Fatal(err)
	}
	var buf strings.Builder
	n, err := c.DownloadBill(ctx, bill, &buf)
	fmt.Println(n == int64(buf.Len()), err)
	br, _ := wxpay.NewBillReader(strings.NewReader(buf.String()))
	for {
		row, err := br.Next()
		if err != nil {
			break // io.EOF after the last row
		}
		ff, err := row.FundFlow()
		fmt.Println(ff.BizName, ff.FlowType, ff.Amount, err)
	}
	// Output:
	// true <nil>
	// 交易 收入 1234 <nil>
	// 扣除交易手续费 支出 7 <nil>
}

// OpenBill streams a bill for callers that stage it themselves (a
// database transaction, an object store upload): the stream's last Read
// is io.EOF only when the bill matched its hash, so stage everything and
// commit only after a clean end. Here the bill is cut short in transit.
func ExampleClient_OpenBill() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wxd678efh567hg6787", MchID: "1230000109", APIKey: "192006250b4c09247ec02edce69f6a2d",
		APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", Now: func() time.Time { return exampleNow },
	})
	defer wx.Close()
	hc := *wx.Client() // a copy: the fake's own client stays as it is
	hc.Transport = alterInTransit{hc.Transport, func(b []byte) []byte { return b[:len(b)/2] }}
	c, err := apiv3.NewClient(wx.APIv3Config(), append(wx.APIv3Options(), apiv3.WithHTTPClient(&hc))...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.PrepayNative(ctx, apiv3.PrepayRequest{Description: "coffee", OutTradeNo: "T20260102001",
		NotifyURL: "https://merchant.example/wxpay/v3/notify", Amount: apiv3.Amount{Total: 1234}}); err != nil {
		log.Fatal(err)
	}
	if _, err := wx.Pay(wxpaytest.PayOptions{OutTradeNo: "T20260102001", NoNotify: true}); err != nil { // the payer pays
		log.Fatal(err)
	}
	bill, err := c.TradeBill(ctx, &apiv3.TradeBillRequest{BillDate: "2026-01-02"})
	if err != nil {
		log.Fatal(err)
	}

	s, err := c.OpenBill(ctx, bill)
	if err != nil {
		log.Fatal(err)
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
