package wxpaytest_test

import (
	"context"
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
