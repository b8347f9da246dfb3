package wxpay_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// The merchant the fake plays WeChat for in these examples: the appid,
// mch_id and key of WeChat's signing example (安全规范).
var moreConfig = wxpaytest.Config{
	AppID:  "wxd930ea5d5a258f4f",
	MchID:  "10000100",
	APIKey: "192006250b4c09247ec02edce69f6a2d",
}

// morePaidOrder places an order of 88.00 through the fake and pays it,
// without a payment notification.
func morePaidOrder(ctx context.Context, wx *wxpaytest.Server, pay *wxpay.Client, outTradeNo string) {
	if _, err := pay.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
		Body: "T-shirt", OutTradeNo: outTradeNo, TotalFee: 8800,
		SpbillCreateIP: "127.0.0.1", TradeType: wxpay.TradeJSAPI, OpenID: "oUser1",
		NotifyURL: "https://shop.example/wxpay/notify",
	}); err != nil {
		log.Fatal(err)
	}
	if _, err := wx.Pay(wxpaytest.PayOptions{OutTradeNo: outTradeNo, NoNotify: true}); err != nil {
		log.Fatal(err)
	}
}

// The refund notify handler as it should be mounted: with its default
// confirmation by refundquery, so that the function runs only for a
// notification that refundquery (signed by WeChat) agrees with. A refund
// notification itself is unsigned and only AES-ECB encrypted. The fake
// plays WeChat: it refunds, then posts the encrypted notification to the
// shop's notify_url.
func ExampleClient_RefundNotifyHandler() {
	cfg := moreConfig
	cfg.RefundImmediately = true // no PROCESSING wait
	wx := wxpaytest.NewTLSServer(cfg)
	defer wx.Close()
	// The fake's URL, trust in its certificate, and the API certificate
	// (apiclient_cert.pem, apiclient_key.pem) it issued: one option.
	pay, err := wxpay.NewClient(wxpay.Config{AppID: cfg.AppID, MchID: cfg.MchID, APIKey: cfg.APIKey}, wx.ClientOption())
	if err != nil {
		log.Fatal(err)
	}

	// The shop's refund notify_url.
	refunded := make(chan *wxpay.RefundNotification, 1)
	shop := httptest.NewServer(pay.RefundNotifyHandler(func(_ context.Context, n *wxpay.RefundNotification) error {
		// Record the outcome durably (keyed on OutRefundNo) before
		// returning nil: nil answers SUCCESS and WeChat stops delivering.
		refunded <- n
		return nil
	}))
	defer shop.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	morePaidOrder(ctx, wx, pay, "order-1")
	if _, err := pay.Refund(ctx, &wxpay.RefundRequest{OutTradeNo: "order-1", OutRefundNo: "refund-1",
		TotalFee: 8800, RefundFee: 3000, NotifyURL: shop.URL + "/wxpay/refund-notify"}); err != nil {
		log.Fatal(err)
	}

	n := <-refunded
	fmt.Println(n.OutTradeNo, n.OutRefundNo, n.RefundStatus, n.RefundFee, "fen")
	fmt.Println("confirmed by refundquery:", n.Confirmed)
	if err := wx.WaitRefundAcked(ctx, "refund-1"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("deliveries:", len(wx.RefundDeliveries("refund-1")))
	// Output:
	// order-1 refund-1 SUCCESS 3000 fen
	// confirmed by refundquery: true
	// deliveries: 1
}

// Downloading a day's fund-flow bill of the basic account and reading it.
// WeChat requires the client certificate for it, and a request signed
// with HMAC-SHA256 whatever the merchant's algorithm (the client does
// that by itself). The fake's clock is fixed so that the bill's day is.
func ExampleClient_DownloadFundFlow() {
	cfg := moreConfig
	cfg.RefundImmediately = true
	day := time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	cfg.Now = func() time.Time { return day }
	wx := wxpaytest.NewTLSServer(cfg)
	defer wx.Close()
	pay, err := wxpay.NewClient(wxpay.Config{AppID: cfg.AppID, MchID: cfg.MchID, APIKey: cfg.APIKey}, // MD5 merchant
		wx.ClientOption())
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A payment of 88.00 and a refund of 30.00 that day.
	morePaidOrder(ctx, wx, pay, "order-1")
	if _, err := pay.Refund(ctx, &wxpay.RefundRequest{OutTradeNo: "order-1", OutRefundNo: "refund-1",
		TotalFee: 8800, RefundFee: 3000}); err != nil {
		log.Fatal(err)
	}

	// In production, write to a temporary file and parse it afterwards.
	var buf bytes.Buffer
	if _, err := pay.DownloadFundFlow(ctx, &wxpay.DownloadFundFlowRequest{
		BillDate: day.Format("20060102"), AccountType: wxpay.AccountBasic,
	}, &buf); err != nil {
		log.Fatal(err)
	}
	br, err := wxpay.NewBillReader(&buf)
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
		f, err := row.FundFlow()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(f.BizName, f.FlowType, f.Amount, "fen, balance", f.Balance)
	}
	sum, err := br.Summary().FundFlowSummary()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("income:", sum.Income, "expense:", sum.Expense)
	// Output:
	// 交易 收入 8800 fen, balance 8800
	// 扣除交易手续费 支出 53 fen, balance 8747
	// 退款 支出 3000 fen, balance 5747
	// income: 8800 expense: 3053
}

// Pointing a client at WeChat's sandbox (仿真测试系统). The client
// fetches the sandbox key once with getsignkey, then signs every call
// with it; here the fake plays the sandbox, and a payment code is charged
// under /xdc/apiv2sandbox, the generation that covers micropay.
func ExampleWithSandbox() {
	cfg := moreConfig
	cfg.Sandbox = true
	wx := wxpaytest.NewServer(cfg)
	defer wx.Close()
	pay, err := wxpay.NewClient(wxpay.Config{AppID: cfg.AppID, MchID: cfg.MchID, APIKey: cfg.APIKey},
		wxpay.WithBaseURL(wx.URL), // omit in production
		wxpay.WithSandbox(wxpay.SandboxPrefixXDC))
	if err != nil {
		log.Fatal(err)
	}
	r, err := pay.MicroPay(context.Background(), &wxpay.MicroPayRequest{
		AuthCode: wx.PaymentCode(wxpaytest.PaymentCodeOptions{}), Body: "coffee",
		OutTradeNo: "till-1", TotalFee: 1200, SpbillCreateIP: "127.0.0.1",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("paid", r.OutTradeNo, r.TotalFee, "fen")
	// Output: paid till-1 1200 fen
}

// A fixed clock and fixed "randomness" make the output reproducible;
// never do this outside tests. moreNonce is the random source that makes
// the client draw the nonce_str 5K8264ILTKCH16CQ2502SI8ZNMTM67VS.
func moreNonce() io.Reader {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 64) // the client reads 64 bytes at a time
	for i, c := range "5K8264ILTKCH16CQ2502SI8ZNMTM67VS" {
		b[i] = byte(bytes.IndexRune([]byte(alphabet), c))
	}
	return bytes.NewReader(b)
}

// The arguments of the mobile SDK's PayReq for an in-app payment, from the
// prepay_id of a unifiedorder with TradeApp. The app, not the server,
// then starts the payment.
func ExampleClient_AppPayParams() {
	c, err := wxpay.NewClient(wxpay.Config{AppID: moreConfig.AppID, MchID: moreConfig.MchID, APIKey: moreConfig.APIKey},
		wxpay.WithClock(func() time.Time { return time.Unix(1412000000, 0) }),
		wxpay.WithRand(moreNonce()))
	if err != nil {
		log.Fatal(err)
	}
	p, err := c.AppPayParams("wx201410272009395522657a690389285100")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.PartnerID, p.Package, p.TimeStamp, p.NonceStr)
	fmt.Println(p.Sign) // vector S3 in testdata/vectors_pay.json
	// Output:
	// 10000100 Sign=WXPay 1412000000 5K8264ILTKCH16CQ2502SI8ZNMTM67VS
	// 2919569F617B3B20A0A9E632811185FD
}

// The QR-code content of Native payment mode 1: one static code per
// product. Render it as a QR code; when a payer scans it, WeChat calls
// the merchant's scan callback with the product_id. (Vector S4 in
// testdata/vectors_pay.json is this URL with a 16-character nonce_str;
// the client always draws 32.)
func ExampleClient_NativeBizPayURL() {
	c, err := wxpay.NewClient(wxpay.Config{AppID: moreConfig.AppID, MchID: moreConfig.MchID, APIKey: moreConfig.APIKey},
		wxpay.WithClock(func() time.Time { return time.Unix(1414488825, 0) }),
		wxpay.WithRand(moreNonce()))
	if err != nil {
		log.Fatal(err)
	}
	u, err := c.NativeBizPayURL("88888")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u)
	// Output:
	// weixin://wxpay/bizpayurl?sign=9D1D490CBBF322C6C570375718106149&appid=wxd930ea5d5a258f4f&mch_id=10000100&product_id=88888&time_stamp=1414488825&nonce_str=5K8264ILTKCH16CQ2502SI8ZNMTM67VS
}
