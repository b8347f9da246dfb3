package wxpay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

func ExampleNewClient() {
	c, err := wxpay.NewClient(wxpay.Config{
		AppID:     "wxd930ea5d5a258f4f",
		MchID:     "10000100",
		APIKey:    "192006250b4c09247ec02edce69f6a2d", // load it from a secret store
		SignType:  wxpay.SignHMACSHA256,
		NotifyURL: "https://example.com/wxpay/notify",
	}, wxpay.WithFailover(wxpay.BackupBaseURL))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.AppID(), c.MchID(), c.Signer().Type())
	// Output: wxd930ea5d5a258f4f 10000100 HMAC-SHA256
}

func ExampleClient_UnifiedOrder() {
	cfg := wxpay.Config{
		AppID:     "wxd930ea5d5a258f4f",
		MchID:     "10000100",
		APIKey:    "192006250b4c09247ec02edce69f6a2d",
		NotifyURL: "https://example.com/wxpay/notify",
	}
	// wxpaytest plays WeChat so the example runs offline: it checks the
	// request as WeChat does and answers with a signed prepay_id. In
	// production, leave out WithBaseURL.
	wx := wxpaytest.NewServer(wxpaytest.Config{AppID: cfg.AppID, MchID: cfg.MchID, APIKey: cfg.APIKey})
	defer wx.Close()

	c, err := wxpay.NewClient(cfg, wxpay.WithBaseURL(wx.URL))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
		Body:           "腾讯充值中心-QQ会员充值",
		OutTradeNo:     "20150806125346",
		TotalFee:       888, // fen: 8.88 yuan
		SpbillCreateIP: "123.12.12.123",
		TradeType:      wxpay.TradeJSAPI,
		OpenID:         "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
	})
	if err != nil {
		log.Fatal(err)
	}
	// The prepay_id is valid for 2 hours: hand it to JSAPIParams for
	// wx.requestPayment. Placing the same order again (same fields)
	// returns the same one.
	p, err := c.JSAPIParams(resp.PrepayID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.TradeType, p.Package == "prepay_id="+resp.PrepayID)
	// Output: JSAPI true
}

func ExampleClient_OrderQuery() {
	cfg := wxpay.Config{
		AppID:     "wxd930ea5d5a258f4f",
		MchID:     "10000100",
		APIKey:    "192006250b4c09247ec02edce69f6a2d",
		NotifyURL: "https://example.com/wxpay/notify",
	}
	// wxpaytest plays WeChat so the example runs offline; here an order
	// is placed and paid first. In production, leave out WithBaseURL.
	wx := wxpaytest.NewServer(wxpaytest.Config{AppID: cfg.AppID, MchID: cfg.MchID, APIKey: cfg.APIKey})
	defer wx.Close()
	c, err := wxpay.NewClient(cfg, wxpay.WithBaseURL(wx.URL))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
		Body: "腾讯充值中心-QQ会员充值", OutTradeNo: "20150806125346", TotalFee: 888,
		SpbillCreateIP: "123.12.12.123", TradeType: wxpay.TradeJSAPI, OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
	}); err != nil {
		log.Fatal(err)
	}
	if _, err := wx.Pay(wxpaytest.PayOptions{OutTradeNo: "20150806125346", NoNotify: true}); err != nil {
		log.Fatal(err)
	}

	// An order WeChat does not know arrives as an *wxpay.Error with Code
	// wxpay.ErrCodeOrderNotExist; a transport error leaves the state
	// unknown, so ask again later.
	r, err := c.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: "20150806125346"})
	if err != nil {
		log.Fatal(err)
	}
	switch r.TradeState {
	case wxpay.TradeStateSuccess:
		// Compare TotalFee with the stored order before fulfilling it,
		// and keep TransactionID for refunds.
		fmt.Println("paid", r.TotalFee, "fen by", r.OpenID)
	case wxpay.TradeStateNotPay:
		fmt.Println("not paid: wait for the notification, or close the order")
	case wxpay.TradeStateUserPaying, wxpay.TradeStateAccept:
		fmt.Println("payment in progress: query again shortly")
	case wxpay.TradeStateClosed, wxpay.TradeStateRevoked, wxpay.TradeStatePayError:
		fmt.Println("will not be paid: place a new order under a new number")
	default: // TradeStateRefund, or a state added later
		fmt.Println(r.TradeState, r.TradeStateDesc)
	}
	// Output: paid 888 fen by oUpF8uMuAJO_M2pxb1Q9zNjWeS6o
}

func ExampleClient_CloseOrder() {
	cfg := wxpay.Config{
		AppID:     "wxd930ea5d5a258f4f",
		MchID:     "10000100",
		APIKey:    "192006250b4c09247ec02edce69f6a2d",
		NotifyURL: "https://example.com/wxpay/notify",
	}
	// wxpaytest plays WeChat so the example runs offline; here the payer
	// pays before the order can be closed. In production, leave out
	// WithBaseURL.
	wx := wxpaytest.NewServer(wxpaytest.Config{AppID: cfg.AppID, MchID: cfg.MchID, APIKey: cfg.APIKey})
	defer wx.Close()
	c, err := wxpay.NewClient(cfg, wxpay.WithBaseURL(wx.URL))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
		Body: "腾讯充值中心-QQ会员充值", OutTradeNo: "20150806125346", TotalFee: 888,
		SpbillCreateIP: "123.12.12.123", TradeType: wxpay.TradeJSAPI, OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
	}); err != nil {
		log.Fatal(err)
	}
	if _, err := wx.Pay(wxpaytest.PayOptions{OutTradeNo: "20150806125346", NoNotify: true}); err != nil {
		log.Fatal(err)
	}

	err = c.CloseOrder(ctx, &wxpay.CloseOrderRequest{OutTradeNo: "20150806125346"})
	var we *wxpay.Error
	switch {
	case err == nil:
		fmt.Println("closed: place a new order under a new number")
	case errors.As(err, &we) && we.Code == wxpay.ErrCodeOrderPaid:
		// Not a failure to retry: the payer paid meanwhile. Confirm with
		// OrderQuery and fulfil the order instead of closing it.
		fmt.Println(we.Code, "- treat the order as paid")
	case errors.As(err, &we) && we.Code == wxpay.ErrCodeOrderClosed:
		fmt.Println("already closed")
	case errors.As(err, &we) && we.Retryable():
		fmt.Println("call CloseOrder again")
	default:
		log.Fatal(err)
	}
	// Output: ORDERPAID - treat the order as paid
}

func ExampleClient_JSAPIParams() {
	c, err := wxpay.NewClient(wxpay.Config{
		AppID:  "wxd930ea5d5a258f4f",
		MchID:  "10000100",
		APIKey: "192006250b4c09247ec02edce69f6a2d",
	},
		// A fixed clock and all-zero "randomness" make the output
		// reproducible; never do this outside tests.
		wxpay.WithClock(func() time.Time { return time.Unix(1414488825, 0) }),
		wxpay.WithRand(bytes.NewReader(make([]byte, 64))),
	)
	if err != nil {
		log.Fatal(err)
	}
	p, err := c.JSAPIParams("wx201410272009395522657a690389285100")
	if err != nil {
		log.Fatal(err)
	}
	// Hand this JSON to wx.requestPayment in the mini-program.
	out, _ := json.MarshalIndent(p, "", "  ")
	fmt.Println(string(out))
	// Output:
	// {
	//   "appId": "wxd930ea5d5a258f4f",
	//   "timeStamp": "1414488825",
	//   "nonceStr": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	//   "package": "prepay_id=wx201410272009395522657a690389285100",
	//   "signType": "MD5",
	//   "paySign": "332CF3D8EA58C3599FB2B583B8F1E710"
	// }
}
