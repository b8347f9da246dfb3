package wxpay_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// exampleWeChat starts a fake WeChat Pay over TLS for the examples' merchant
// and returns a client of that merchant: it trusts the fake's server
// certificate and carries the API certificate the fake issued, which the
// certificate endpoints (refund, reverse) require as WeChat's do.
func exampleWeChat() (*wxpaytest.Server, *wxpay.Client) {
	s := wxpaytest.NewTLSServer(wxpaytest.Config{AppID: xAppID, MchID: xMchID, APIKey: xAPIKey})
	// In production: wxpay.WithClientCertificateFiles("apiclient_cert.pem", "apiclient_key.pem")
	// instead of the fake's one option.
	c, err := wxpay.NewClient(xConfig(wxpay.SignMD5), s.ClientOption())
	if err != nil {
		log.Fatal(err)
	}
	return s, c
}

// examplePaidOrder places an order of fee fen and has the fake's payer pay
// it. The payment notification is not sent: the examples' notify_url is
// not a server they run.
func examplePaidOrder(s *wxpaytest.Server, c *wxpay.Client, outTradeNo string, fee int64) {
	_, err := c.UnifiedOrder(context.Background(), &wxpay.UnifiedOrderRequest{
		Body: "咖啡", OutTradeNo: outTradeNo, TotalFee: fee, SpbillCreateIP: "14.23.150.211",
		TradeType: wxpay.TradeJSAPI, OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.Pay(wxpaytest.PayOptions{OutTradeNo: outTradeNo, NoNotify: true}); err != nil {
		log.Fatal(err)
	}
}

// Refund a paid order in full. out_refund_no is the idempotency key: when
// the outcome is unclear (SYSTEMERROR, BIZERR_NEED_RETRY, a lost answer),
// the same request is sent again, never a new number. Here WeChat accepts
// the first attempt but its answer says SYSTEMERROR; the retry answers
// the same refund, and the money goes back once.
func ExampleClient_Refund() {
	s, c := exampleWeChat()
	defer s.Close()
	examplePaidOrder(s, c, "20240501091200-0001", 100)
	s.Inject(wxpaytest.EndpointRefund, 1, wxpaytest.Fault{ErrCode: wxpay.ErrCodeSystemError, Processed: true})

	req := &wxpay.RefundRequest{
		OutTradeNo:  "20240501091200-0001",
		OutRefundNo: "20240501091200-0001-r1", // stored before the first attempt
		TotalFee:    100,
		RefundFee:   100,
	}
	var (
		r   *wxpay.RefundResponse
		err error
	)
	for attempt := 1; ; attempt++ {
		r, err = c.Refund(context.Background(), req)
		if err == nil || !wxpay.Retryable(err) || attempt == 3 {
			break
		}
		fmt.Println("retrying:", err)
		time.Sleep(10 * time.Millisecond) // back off for longer in production
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("accepted refund", r.OutRefundNo, "of", r.RefundFee, "fen")
	fmt.Println("refunds at WeChat:", len(s.Refunds("20240501091200-0001")))
	// Output:
	// retrying: wxpay: refund: SYSTEMERROR: 系统错误 (retryable: call again with the same out_refund_no)
	// accepted refund 20240501091200-0001-r1 of 100 fen
	// refunds at WeChat: 1
}

// List an order's refunds and their states.
func ExampleClient_RefundQuery() {
	s, c := exampleWeChat()
	defer s.Close()
	ctx := context.Background()
	examplePaidOrder(s, c, "20240501091200-0002", 500)
	for _, rf := range []struct {
		no  string
		fee int64
	}{{"r1", 100}, {"r2", 300}} {
		_, err := c.Refund(ctx, &wxpay.RefundRequest{OutTradeNo: "20240501091200-0002", OutRefundNo: rf.no, TotalFee: 500, RefundFee: rf.fee})
		if err != nil {
			log.Fatal(err)
		}
	}
	// WeChat pays r1 out; r2 is still PROCESSING (for a minute, in the fake).
	if err := s.SettleRefund("r1", wxpay.RefundSuccess); err != nil {
		log.Fatal(err)
	}

	r, err := c.RefundQuery(ctx, &wxpay.RefundQueryRequest{OutTradeNo: "20240501091200-0002"})
	if err != nil {
		log.Fatal(err)
	}
	for _, ri := range r.Refunds {
		fmt.Println(ri.OutRefundNo, ri.RefundFee, ri.Status)
	}
	// Output:
	// r1 100 SUCCESS
	// r2 300 PROCESSING
}

// Download a day's trade bill and read it row by row. The bill streams
// through: neither the download nor the reader holds it whole.
func ExampleClient_DownloadBill() {
	s, c := exampleWeChat()
	defer s.Close()
	examplePaidOrder(s, c, "20240501091200-0001", 1)
	examplePaidOrder(s, c, "20240501110300-0002", 10000)
	// Bills are by day in China Standard Time (UTC+8); in production,
	// yesterday's is ready from about 10:00.
	day := s.Now().In(time.FixedZone("CST", 8*3600)).Format("20060102")

	// In production, write to a temporary file and parse it afterwards.
	var buf bytes.Buffer
	_, err := c.DownloadBill(context.Background(), &wxpay.DownloadBillRequest{BillDate: day}, &buf)
	if errors.Is(err, wxpay.ErrNoBill) {
		fmt.Println("no trades that day")
		return
	}
	if err != nil {
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
		if errors.Is(err, wxpay.ErrBillRow) {
			log.Print(err) // one malformed row: reconcile it by hand, read on
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		t, err := row.Trade()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(t.OutTradeNo, t.TradeState, t.TotalFee, "fen")
	}
	sum, err := br.Summary().TradeSummary()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("trades:", sum.Trades, "total:", sum.TotalFee, "fen")
	// Output:
	// 20240501091200-0001 SUCCESS 1 fen
	// 20240501110300-0002 SUCCESS 10000 fen
	// trades: 2 total: 10001 fen
}

// chargeAtTill charges a payment code the way WeChat asks: when the payer
// must confirm on the phone (USERPAYING) or the result is unknown
// (SYSTEMERROR, a lost answer), poll the order; if it has not succeeded
// by the deadline, reverse it so it cannot complete later. Every wait
// ends with ctx, and the reversal is bounded (ReverseUntilDone). It
// returns "paid" with the transaction_id, or "reversed".
func chargeAtTill(ctx context.Context, c *wxpay.Client, req *wxpay.MicroPayRequest, poll, wait time.Duration) (outcome, transactionID string, err error) {
	r, err := c.MicroPay(ctx, req)
	if err == nil {
		return "paid", r.TransactionID, nil
	}
	var we *wxpay.Error
	unclear := errors.As(err, &we) && (we.Code == wxpay.ErrCodeUserPaying || we.Code == wxpay.ErrCodeSystemError || we.Code == wxpay.ErrCodeBankError)
	var oe *wxpay.OutcomeUnknownError
	if !unclear && !errors.As(err, &oe) {
		return "", "", err // final: AUTH_CODE_INVALID, NOTENOUGH, ...
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return "", "", ctx.Err() // the caller gave up; the order may still be open
		case <-tick.C:
		}
		q, err := c.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: req.OutTradeNo})
		if err == nil && q.TradeState == wxpay.TradeStateSuccess {
			return "paid", q.TransactionID, nil
		}
		if err == nil && q.TradeState != wxpay.TradeStateUserPaying {
			break // PAYERROR, CLOSED, ...: no point waiting
		}
	}
	// At most MaxReverseAttempts calls, a pause between them, and none
	// once ctx is done.
	if _, err := c.ReverseUntilDone(ctx, &wxpay.ReverseRequest{OutTradeNo: req.OutTradeNo}, poll); err != nil {
		return "", "", err
	}
	return "reversed", "", nil
}

// Charge a payment code at the till, handling USERPAYING with the
// query-then-reverse loop WeChat documents. The first payer confirms on
// the phone quickly; the second walks away.
func ExampleClient_MicroPay() {
	s, c := exampleWeChat()
	defer s.Close()
	codes := map[string]string{
		"till7-A": s.PaymentCode(wxpaytest.PaymentCodeOptions{Confirm: 10 * time.Millisecond}),
		"till7-B": s.PaymentCode(wxpaytest.PaymentCodeOptions{Confirm: time.Hour}),
	}
	// WeChat's pace is a poll every 10 s for up to 45 s; shortened here.
	poll, wait := 5*time.Millisecond, 500*time.Millisecond
	for _, no := range []string{"till7-A", "till7-B"} {
		outcome, txn, err := chargeAtTill(context.Background(), c, &wxpay.MicroPayRequest{
			AuthCode: codes[no], Body: "门店收银", OutTradeNo: no, TotalFee: 2550, SpbillCreateIP: "14.23.150.211",
		}, poll, wait)
		if err != nil {
			log.Fatal(err)
		}
		o, _ := s.Order(no)
		if outcome == "paid" && txn != o.TransactionID {
			log.Fatalf("paid as %s, but WeChat's order is %s", txn, o.TransactionID)
		}
		fmt.Println(no, outcome, "- at WeChat:", o.State)
	}
	// Output:
	// till7-A paid - at WeChat: SUCCESS
	// till7-B reversed - at WeChat: REVOKED
}
