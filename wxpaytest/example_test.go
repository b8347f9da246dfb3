package wxpaytest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/miniprogram"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// A checkout test with the fake: the user logs in, the shop orders, the
// user pays, and the shop's notification handler marks the order paid.
// Nothing reaches WeChat.
func Example() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID:     "wxd930ea5d5a258f4f",
		MchID:     "10000100",
		APIKey:    "192006250b4c09247ec02edce69f6a2d",
		AppSecret: "0123456789abcdef0123456789abcdef",
		Speed:     1000, // WeChat's 15-second retry takes 15 ms
	})
	defer wx.Close()

	pay, err := wxpay.NewClient(wxpay.Config{
		AppID:  "wxd930ea5d5a258f4f",
		MchID:  "10000100",
		APIKey: "192006250b4c09247ec02edce69f6a2d",
	}, wxpay.WithBaseURL(wx.URL))
	if err != nil {
		log.Fatal(err)
	}
	// The shop under test: its notify_url marks orders paid.
	paid := make(chan string, 1)
	shop := httptest.NewServer(pay.NotifyHandler(func(_ context.Context, n *wxpay.Notification) error {
		paid <- fmt.Sprintf("%s paid %d fen", n.OutTradeNo, n.TotalFee)
		return nil
	}))
	defer shop.Close()

	mp, err := miniprogram.NewClient("wxd930ea5d5a258f4f", "0123456789abcdef0123456789abcdef",
		miniprogram.WithBaseURL(wx.URL))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// wx.login in the mini-program, code2session on the server.
	sess, err := mp.Code2Session(ctx, wx.LoginCode("oUser1"))
	if err != nil {
		log.Fatal(err)
	}
	order, err := pay.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
		Body: "T-shirt", OutTradeNo: "order-1", TotalFee: 8800,
		SpbillCreateIP: "127.0.0.1", TradeType: wxpay.TradeJSAPI, OpenID: sess.OpenID,
		NotifyURL: shop.URL + "/wxpay/notify",
	})
	if err != nil {
		log.Fatal(err)
	}
	// The user confirms wx.requestPayment.
	if _, err := wx.Pay(wxpaytest.PayOptions{PrepayID: order.PrepayID}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-paid)
	if err := wx.WaitAcked(ctx, "order-1"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("deliveries:", len(wx.Deliveries("order-1")))

	q, err := pay.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: "order-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("orderquery:", q.TradeState)
	// Output:
	// order-1 paid 8800 fen
	// deliveries: 1
	// orderquery: SUCCESS
}

// Testing a notification handler without any server.
func ExampleNotificationBody() {
	cfg := wxpaytest.Config{AppID: "wxd930ea5d5a258f4f", MchID: "10000100", APIKey: "192006250b4c09247ec02edce69f6a2d"}
	body, err := wxpaytest.NotificationBody(cfg, wxpay.Params{
		"out_trade_no":   "order-1",
		"transaction_id": "4200000000202603010000000001",
		"total_fee":      "8800",
		"cash_fee":       "8800",
		"openid":         "oUser1",
		"trade_type":     "JSAPI",
		"bank_type":      "OTHERS",
		"time_end":       "20260301100000",
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err := wxpay.NewClient(wxpay.Config{AppID: cfg.AppID, MchID: cfg.MchID, APIKey: cfg.APIKey})
	if err != nil {
		log.Fatal(err)
	}
	n, err := c.ParseNotification(body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n.OutTradeNo, n.TotalFee, n.Paid())
	// Output: order-1 8800 true
}

// Making the next unifiedorder fail as WeChat does when it is overloaded.
func ExampleFake_Inject() {
	wx := wxpaytest.NewServer(wxpaytest.Config{AppID: "wxd930ea5d5a258f4f", MchID: "10000100", APIKey: "192006250b4c09247ec02edce69f6a2d"})
	defer wx.Close()
	pay, err := wxpay.NewClient(wxpay.Config{
		AppID: "wxd930ea5d5a258f4f", MchID: "10000100", APIKey: "192006250b4c09247ec02edce69f6a2d",
		NotifyURL: "https://example.com/notify",
	}, wxpay.WithBaseURL(wx.URL))
	if err != nil {
		log.Fatal(err)
	}
	wx.Inject(wxpaytest.EndpointUnifiedOrder, 1, wxpaytest.Fault{ErrCode: wxpay.ErrCodeSystemError})
	req := &wxpay.UnifiedOrderRequest{
		Body: "T-shirt", OutTradeNo: "order-2", TotalFee: 8800,
		SpbillCreateIP: "127.0.0.1", TradeType: wxpay.TradeJSAPI, OpenID: "oUser1",
	}
	_, err = pay.UnifiedOrder(context.Background(), req)
	fmt.Println(err)
	_, err = pay.UnifiedOrder(context.Background(), req) // retried with the same fields
	fmt.Println(err)
	// Output:
	// wxpay: unifiedorder: SYSTEMERROR: 系统错误
	// <nil>
}

// A refund test with the fake over mutual TLS: the fake mints the
// merchant's API certificate, the shop refunds part of a paid order, a
// retry with the same out_refund_no is the same refund, and the refund
// notification reaches the shop's handler, decrypted.
func Example_refund() {
	wx := wxpaytest.NewTLSServer(wxpaytest.Config{
		AppID:             "wxd930ea5d5a258f4f",
		MchID:             "10000100",
		APIKey:            "192006250b4c09247ec02edce69f6a2d",
		RefundImmediately: true, // no PROCESSING wait
	})
	defer wx.Close()
	// One option: the fake's URL, a client trusting its certificate, and
	// the merchant's API certificate (apiclient_cert.pem, apiclient_key.pem)
	// the fake issued.
	pay, err := wxpay.NewClient(wxpay.Config{
		AppID:     "wxd930ea5d5a258f4f",
		MchID:     "10000100",
		APIKey:    "192006250b4c09247ec02edce69f6a2d",
		NotifyURL: "https://shop.example/wxpay/notify",
	}, wx.ClientOption())
	if err != nil {
		log.Fatal(err)
	}
	refunded := make(chan string, 1)
	shop := httptest.NewServer(pay.RefundNotifyHandler(func(_ context.Context, n *wxpay.RefundNotification) error {
		refunded <- fmt.Sprintf("notified: %s %s %d fen", n.OutRefundNo, n.RefundStatus, n.RefundFee)
		return nil
	}))
	defer shop.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A paid order of 88.00.
	if _, err := pay.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
		Body: "T-shirt", OutTradeNo: "order-1", TotalFee: 8800,
		SpbillCreateIP: "127.0.0.1", TradeType: wxpay.TradeJSAPI, OpenID: "oUser1",
	}); err != nil {
		log.Fatal(err)
	}
	if _, err := wx.Pay(wxpaytest.PayOptions{OutTradeNo: "order-1", NoNotify: true}); err != nil {
		log.Fatal(err)
	}

	req := &wxpay.RefundRequest{OutTradeNo: "order-1", OutRefundNo: "refund-1", TotalFee: 8800, RefundFee: 3000,
		NotifyURL: shop.URL + "/wxpay/refund-notify"}
	r, err := pay.Refund(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	again, err := pay.Refund(ctx, req) // as after a lost answer
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("refunded:", r.RefundFee, "fen; the retry is the same refund:", again.RefundID == r.RefundID)
	fmt.Println(<-refunded)

	q, err := pay.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: "order-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("orderquery:", q.TradeState, "refunds:", len(wx.Refunds("order-1")))
	// Output:
	// refunded: 3000 fen; the retry is the same refund: true
	// notified: refund-1 SUCCESS 3000 fen
	// orderquery: REFUND refunds: 1
}

// A till charging a payment code whose owner must first enter a password:
// micropay answers USERPAYING, and orderquery reports SUCCESS once the
// payer confirms on the phone (20 seconds later, on the fake's clock).
func ExampleFake_PaymentCode() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID:  "wxd930ea5d5a258f4f",
		MchID:  "10000100",
		APIKey: "192006250b4c09247ec02edce69f6a2d",
		Speed:  100, // 20 s pass in 0.2 s
	})
	defer wx.Close()
	pay, err := wxpay.NewClient(wxpay.Config{
		AppID:  "wxd930ea5d5a258f4f",
		MchID:  "10000100",
		APIKey: "192006250b4c09247ec02edce69f6a2d",
	}, wxpay.WithBaseURL(wx.URL))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	code := wx.PaymentCode(wxpaytest.PaymentCodeOptions{Confirm: 20 * time.Second})
	_, err = pay.MicroPay(ctx, &wxpay.MicroPayRequest{AuthCode: code, Body: "coffee", OutTradeNo: "till-1",
		TotalFee: 1200, SpbillCreateIP: "127.0.0.1"})
	var e *wxpay.Error
	if errors.As(err, &e) {
		fmt.Println("micropay:", e.Code)
	}
	for {
		q, err := pay.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: "till-1"})
		if err != nil {
			log.Fatal(err)
		}
		if q.TradeState != "USERPAYING" {
			fmt.Println("orderquery:", q.TradeState, q.Payment.TotalFee)
			break
		}
		time.Sleep(20 * time.Millisecond) // WeChat asks for ~10 s between queries
	}
	// Output:
	// micropay: USERPAYING
	// orderquery: SUCCESS 1200
}

// Refunds need the merchant's API certificate (mutual TLS), as at WeChat:
// the TLS fake issues one, trusts only its own, and answers a certificate
// of another merchant as WeChat's gateway does.
func ExampleNewTLSServer() {
	cfg := wxpay.Config{AppID: "wxd930ea5d5a258f4f", MchID: "10000100", APIKey: "192006250b4c09247ec02edce69f6a2d",
		NotifyURL: "https://shop.example/wxpay/notify"}
	wx := wxpaytest.NewTLSServer(wxpaytest.Config{AppID: cfg.AppID, MchID: cfg.MchID, APIKey: cfg.APIKey})
	defer wx.Close()
	// wx.ClientOption() connects a client to the fake: its URL, trust in
	// its server certificate (in production the system roots), and the
	// merchant's API certificate it issued. An option after it overrides
	// a part: here another merchant's certificate pair.
	pay, err := wxpay.NewClient(cfg, wx.ClientOption())
	if err != nil {
		log.Fatal(err)
	}
	certPEM, keyPEM, err := wx.OtherMerchantCertificate("1900000109")
	if err != nil {
		log.Fatal(err)
	}
	stranger, err := wxpay.NewClient(cfg, wx.ClientOption(), wxpay.WithClientCertificate(certPEM, keyPEM))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	if _, err := pay.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{Body: "T-shirt", OutTradeNo: "order-1", TotalFee: 8800,
		SpbillCreateIP: "127.0.0.1", TradeType: wxpay.TradeJSAPI, OpenID: "oUser1"}); err != nil {
		log.Fatal(err)
	}
	if _, err := wx.Pay(wxpaytest.PayOptions{OutTradeNo: "order-1", NoNotify: true}); err != nil {
		log.Fatal(err)
	}
	req := &wxpay.RefundRequest{OutTradeNo: "order-1", OutRefundNo: "refund-1", TotalFee: 8800, RefundFee: 8800}
	_, err = stranger.Refund(ctx, req)
	fmt.Println("another merchant's certificate:", err)
	r, err := pay.Refund(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("the merchant's certificate: refunded", r.RefundFee, "fen")
	// Output:
	// another merchant's certificate: wxpay: refund: return_code FAIL: certificate not match
	// the merchant's certificate: refunded 8800 fen
}
