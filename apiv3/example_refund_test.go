package apiv3_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// Refund part of an order. WeChat accepts it (usually PROCESSING); the
// outcome arrives as a notification. When the answer is lost, the error
// says to retry with the same out_refund_no, which WeChat refunds once.
// Here wxpaytest refunds on the first attempt but answers SYSTEM_ERROR,
// as when WeChat did the work and the answer was lost.
func ExampleClient_Refund() {
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
	if _, err := c.PrepayNative(ctx, apiv3.PrepayRequest{Description: "咖啡", OutTradeNo: "T20260102001",
		NotifyURL: "https://merchant.example/wxpay/v3/notify", Amount: apiv3.Amount{Total: 1234}}); err != nil {
		log.Fatal(err)
	}
	if _, err := wx.Pay(wxpaytest.PayOptions{OutTradeNo: "T20260102001", NoNotify: true}); err != nil { // the payer pays
		log.Fatal(err)
	}
	wx.Inject(wxpaytest.EndpointV3Refund, 1, wxpaytest.Fault{ErrCode: "SYSTEM_ERROR", ErrCodeDes: "系统超时", Processed: true})

	req := &apiv3.RefundRequest{
		OutTradeNo:  "T20260102001",
		OutRefundNo: "R20260102001", // stored with the refund before calling: the retry reuses it
		Reason:      "商品已售完",
		Amount:      apiv3.RefundAmount{Refund: 500, Total: 1234},
	}
	ref, err := c.Refund(ctx, req)
	var unknown *apiv3.OutcomeUnknownError
	if errors.As(err, &unknown) {
		var e *apiv3.Error // WeChat's own answer, when one came
		if errors.As(err, &e) {
			fmt.Println("outcome unknown:", e.StatusCode, e.Code, e.Message)
		}
		fmt.Println("retry with the same", unknown.Key) // the error says so too
		ref, err = c.Refund(ctx, req)                   // same request, same out_refund_no
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ref.Status, ref.Amount.Refund, "of", ref.Amount.Total, "fen")
	fmt.Println("refunds at WeChat:", len(wx.Refunds("T20260102001")))
	// Output:
	// outcome unknown: 500 SYSTEM_ERROR 系统超时
	// retry with the same out_refund_no
	// PROCESSING 500 of 1234 fen
	// refunds at WeChat: 1
}

// Query a refund by out_refund_no: safe to repeat, and how to learn the
// outcome of a refund whose answer was lost.
func ExampleClient_QueryRefund() {
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
	if _, err := c.PrepayNative(ctx, apiv3.PrepayRequest{Description: "咖啡", OutTradeNo: "T20260102001",
		NotifyURL: "https://merchant.example/wxpay/v3/notify", Amount: apiv3.Amount{Total: 1234}}); err != nil {
		log.Fatal(err)
	}
	if _, err := wx.Pay(wxpaytest.PayOptions{OutTradeNo: "T20260102001", NoNotify: true}); err != nil { // the payer pays
		log.Fatal(err)
	}
	if _, err := c.Refund(ctx, &apiv3.RefundRequest{OutTradeNo: "T20260102001", OutRefundNo: "R20260102001", Amount: apiv3.RefundAmount{Refund: 500, Total: 1234}}); err != nil {
		log.Fatal(err)
	}
	_ = wx.SettleRefund("R20260102001", wxpaytest.RefundSuccess) // WeChat pays it out

	ref, err := c.QueryRefund(ctx, "R20260102001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ref.Status, ref.SuccessTime.UTC().Format(time.RFC3339), ref.UserReceivedAccount)

	_, err = c.QueryRefund(ctx, "R-UNKNOWN")
	var e *apiv3.Error
	fmt.Println(errors.As(err, &e) && e.Code == apiv3.ErrCodeResourceNotExists)
	// Output:
	// SUCCESS 2026-01-02T07:04:05Z 支付用户零钱
	// true
}

// A refund ABNORMAL (the payer's card was closed) is sent to another card
// of the payer. The card number and name are encrypted under WeChat's key
// before they leave; the request names that key in Wechatpay-Serial, and
// wxpaytest accepts it only if that key opens both.
func ExampleClient_ApplyAbnormalRefund() {
	wx := wxpaytest.NewServer(wxpaytest.Config{AppID: "wxd678efh567hg6787", MchID: "1230000109",
		APIKey: "192006250b4c09247ec02edce69f6a2d", APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"})
	defer wx.Close()
	c, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.PrepayNative(ctx, apiv3.PrepayRequest{Description: "咖啡", OutTradeNo: "T20260102001",
		NotifyURL: "https://merchant.example/wxpay/v3/notify", Amount: apiv3.Amount{Total: 1234}}); err != nil {
		log.Fatal(err)
	}
	if _, err := wx.Pay(wxpaytest.PayOptions{OutTradeNo: "T20260102001", NoNotify: true}); err != nil { // the payer pays
		log.Fatal(err)
	}
	first, err := c.Refund(ctx, &apiv3.RefundRequest{OutTradeNo: "T20260102001", OutRefundNo: "R20260102001", Amount: apiv3.RefundAmount{Refund: 500, Total: 1234}})
	if err != nil {
		log.Fatal(err)
	}
	_ = wx.SettleRefund("R20260102001", wxpaytest.RefundChange) // the payer's card was closed: ABNORMAL

	req := &apiv3.AbnormalRefundRequest{
		RefundID:    first.RefundID,
		OutRefundNo: "R20260102001",
		Type:        apiv3.AbnormalToUserBankCard,
		BankType:    "ICBC_DEBIT",
		BankAccount: "6222021234567890123",
		RealName:    "张三",
	}
	ref, err := c.ApplyAbnormalRefund(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ref.Status, ref.UserReceivedAccount)
	fmt.Println(strings.Replace(fmt.Sprint(req), first.RefundID, "<refund_id>", 1)) // personal data never prints
	// Output:
	// PROCESSING 用户银行卡
	// apiv3.AbnormalRefundRequest{RefundID:<refund_id> OutRefundNo:R20260102001 Type:USER_BANK_CARD BankType:ICBC_DEBIT BankAccount:REDACTED RealName:REDACTED}
}

// Mount RefundNotifyHandler at the refund notify_url. fn sees only a
// verified refund of this merchant; the handler answers 204 once fn
// returned nil, and a FAIL answer (so WeChat retries) otherwise. Here
// wxpaytest's first delivery carries a resource that does not decrypt
// under the APIv3 key: it never reaches fn, and the retry does. (Speed
// makes the fake's 15-second retry interval 15 milliseconds.)
func ExampleClient_RefundNotifyHandler() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wxd678efh567hg6787", MchID: "1230000109", APIKey: "192006250b4c09247ec02edce69f6a2d",
		APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", Speed: 1000,
	})
	defer wx.Close()
	c, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	h := c.RefundNotifyHandler(func(ctx context.Context, n *apiv3.RefundNotification) error {
		// Record idempotently by OutRefundNo and Status, after checking
		// Amount.Refund against the stored refund.
		fmt.Println("refund", n.OutRefundNo, n.Status, n.Amount.Refund, "fen")
		return nil
	})
	shop := httptest.NewServer(h)
	defer shop.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.PrepayNative(ctx, apiv3.PrepayRequest{Description: "咖啡", OutTradeNo: "T20260102001",
		NotifyURL: "https://merchant.example/wxpay/v3/notify", Amount: apiv3.Amount{Total: 1234}}); err != nil {
		log.Fatal(err)
	}
	if _, err := wx.Pay(wxpaytest.PayOptions{OutTradeNo: "T20260102001", NoNotify: true}); err != nil { // the payer pays
		log.Fatal(err)
	}
	wx.V3RefundNotifyFault("R20260102001", func(attempt int) wxpaytest.Fault {
		return wxpaytest.Fault{V3TamperCiphertext: attempt == 1}
	})
	_, err = c.Refund(ctx, &apiv3.RefundRequest{
		OutTradeNo: "T20260102001", OutRefundNo: "R20260102001", NotifyURL: shop.URL,
		Amount: apiv3.RefundAmount{Refund: 500, Total: 1234},
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = wx.SettleRefund("R20260102001", wxpaytest.RefundSuccess)
	if err := wx.WaitRefundAcked(ctx, "R20260102001"); err != nil {
		log.Fatal(err)
	}
	for _, d := range wx.RefundDeliveries("R20260102001") {
		fmt.Println(strings.TrimSpace(fmt.Sprintf("attempt %d: %d %s", d.Attempt, d.StatusCode, d.Reply)))
	}
	// Output:
	// refund R20260102001 SUCCESS 500 fen
	// attempt 1: 400 {"code":"FAIL","message":"invalid notification"}
	// attempt 2: 204
}
