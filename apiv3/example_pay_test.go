package apiv3_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// A mini-program checkout: place the order for the payer's openid, then
// sign the arguments of wx.requestPayment and hand them to the page. The
// payment examples run against wxpaytest, a fake WeChat Pay that checks
// every request's signature and signs its answers; its clock is fixed
// here so that the printed timestamp is.
func ExampleClient_PrepayJSAPI() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wxd678efh567hg6787", MchID: "1230000109", APIKey: "192006250b4c09247ec02edce69f6a2d",
		APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", Now: func() time.Time { return exampleNow },
	})
	defer wx.Close()
	cfg := wx.APIv3Config() // the merchant's keys, as the merchant platform hands them out
	cfg.NotifyURL = "https://merchant.example/wxpay/v3/notify"
	c, err := apiv3.NewClient(cfg, wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}

	order, err := c.PrepayJSAPI(context.Background(), apiv3.PrepayRequest{
		Description: "Image形象店-深圳腾大-QQ公仔",
		OutTradeNo:  "1217752501201407033233368018",
		Amount:      apiv3.Amount{Total: 100}, // fen: 1.00 yuan
		Payer:       &apiv3.Payer{OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
	})
	if err != nil {
		log.Fatal(err)
	}
	got, _ := wx.Order("1217752501201407033233368018")
	fmt.Println("WeChat got:", string(got.V3Request))
	params, err := c.JSAPIPayParams("", order.PrepayID) // "" = Config.AppID
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(params.AppID, params.TimeStamp, params.Package == "prepay_id="+order.PrepayID, params.SignType, len(params.PaySign) > 0)
	// Output:
	// WeChat got: {"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://merchant.example/wxpay/v3/notify","amount":{"total":100},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}
	// wxd678efh567hg6787 1767337445 true RSA true
}

// An in-app checkout: the app's appid (here given per request) and the
// fields of the OpenSDK's PayReq. The fake serves one appid, so the app's
// is its AppID.
func ExampleClient_PrepayApp() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wx8888888888888888", MchID: "1230000109", APIKey: "192006250b4c09247ec02edce69f6a2d",
		APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb",
	})
	defer wx.Close()
	c, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	order, err := c.PrepayApp(context.Background(), apiv3.PrepayRequest{
		AppID: "wx8888888888888888", Description: "会员月卡", OutTradeNo: "APP20260102150405", Amount: apiv3.Amount{Total: 1500},
		NotifyURL: "https://merchant.example/wxpay/v3/notify",
	})
	if err != nil {
		log.Fatal(err)
	}
	req, err := c.AppPayParams("wx8888888888888888", order.PrepayID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(req.AppID, req.PartnerID, req.PrepayID == order.PrepayID, req.Package)
	// Output:
	// wx8888888888888888 1230000109 true Sign=WXPay
}

// H5 payment from a mobile browser outside WeChat: send the browser to
// h5_url (valid five minutes).
func ExampleClient_PrepayH5() {
	wx := wxpaytest.NewServer(wxpaytest.Config{AppID: "wxd678efh567hg6787", MchID: "1230000109",
		APIKey: "192006250b4c09247ec02edce69f6a2d", APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"})
	defer wx.Close()
	c, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	order, err := c.PrepayH5(context.Background(), apiv3.PrepayRequest{
		Description: "会员月卡", OutTradeNo: "H520260102150405", Amount: apiv3.Amount{Total: 1500}, NotifyURL: "https://merchant.example/wxpay/v3/notify",
		SceneInfo: &apiv3.SceneInfo{PayerClientIP: "203.0.113.7", H5Info: &apiv3.H5Info{Type: apiv3.H5Wap}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(order.H5URL, "https://wx.tenpay.com/"))

	// A missing H5 scene is caught before anything is sent.
	_, err = c.PrepayH5(context.Background(), apiv3.PrepayRequest{Description: "会员月卡", OutTradeNo: "H520260102150406",
		Amount: apiv3.Amount{Total: 1500}, NotifyURL: "https://merchant.example/wxpay/v3/notify"})
	fmt.Println(err)
	// Output:
	// true
	// apiv3: transactions/h5: invalid scene_info.h5_info: is required for H5 payments
}

// Native payment: render code_url as a QR code.
func ExampleClient_PrepayNative() {
	wx := wxpaytest.NewServer(wxpaytest.Config{AppID: "wxd678efh567hg6787", MchID: "1230000109",
		APIKey: "192006250b4c09247ec02edce69f6a2d", APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"})
	defer wx.Close()
	c, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	order, err := c.PrepayNative(context.Background(), apiv3.PrepayRequest{
		Description: "自助售货机-可乐", OutTradeNo: "NATIVE202601020001", Amount: apiv3.Amount{Total: 300},
		NotifyURL: "https://merchant.example/wxpay/v3/notify",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(order.CodeURL, "weixin://wxpay/bizpayurl?pr="))
	// Output:
	// true
}

// JSAPIPayParams marshals to the object wx.requestPayment takes; the
// fake's /wxpaytest/pay takes that object too and checks its paySign
// with the merchant's public key, as WeChat does when the user confirms.
func ExampleClient_JSAPIPayParams() {
	wx := wxpaytest.NewServer(wxpaytest.Config{AppID: "wxd678efh567hg6787", MchID: "1230000109",
		APIKey: "192006250b4c09247ec02edce69f6a2d", APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"})
	defer wx.Close()
	c, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	shop := httptest.NewServer(c.NotifyHandler(func(context.Context, *apiv3.PaymentNotification) error { return nil }))
	defer shop.Close()
	order, err := c.PrepayJSAPI(context.Background(), apiv3.PrepayRequest{
		Description: "Tea - 1 cup", OutTradeNo: "T20260102001", NotifyURL: shop.URL,
		Amount: apiv3.Amount{Total: 1200}, Payer: &apiv3.Payer{OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
	})
	if err != nil {
		log.Fatal(err)
	}
	params, err := c.JSAPIPayParams("", order.PrepayID)
	if err != nil {
		log.Fatal(err)
	}
	b, _ := json.Marshal(params) // what the page hands wx.requestPayment
	var fields map[string]string
	_ = json.Unmarshal(b, &fields)
	fmt.Println(strings.HasPrefix(fields["package"], "prepay_id="), fields["signType"], len(fields["nonceStr"]), fields["paySign"] != "")

	resp, err := wx.Client().Post(wx.URL+"/wxpaytest/pay", "application/json", bytes.NewReader(b))
	if err != nil {
		log.Fatal(err)
	}
	var res struct {
		ErrMsg string `json:"err_msg"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, res.ErrMsg)
	// Output:
	// true RSA 32 true
	// 200 requestPayment:ok
}

// AppPayParams fills the OpenSDK's PayReq.
func ExampleClient_AppPayParams() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wx8888888888888888", MchID: "1230000109", APIKey: "192006250b4c09247ec02edce69f6a2d",
		APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", Now: func() time.Time { return exampleNow },
	})
	defer wx.Close()
	c, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	order, err := c.PrepayApp(context.Background(), apiv3.PrepayRequest{
		Description: "会员月卡", OutTradeNo: "APP20260102150405", Amount: apiv3.Amount{Total: 1500},
		NotifyURL: "https://merchant.example/wxpay/v3/notify",
	})
	if err != nil {
		log.Fatal(err)
	}
	p, err := c.AppPayParams("wx8888888888888888", order.PrepayID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.PartnerID, p.Package, p.TimeStamp, len(p.NonceStr), p.Sign != "")
	// Output:
	// 1230000109 Sign=WXPay 1767337445 32 true
}

// Query an order by the merchant's number: the only query for an unpaid
// order. Here the payer paid 90 fen of 100, a 10-fen coupon the rest.
func ExampleClient_QueryByOutTradeNo() {
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
	_, err = c.PrepayJSAPI(ctx, apiv3.PrepayRequest{
		Description: "Tea - 1 cup", OutTradeNo: "1217752501201407033233368018", NotifyURL: "https://merchant.example/wxpay/v3/notify",
		Amount: apiv3.Amount{Total: 100}, Payer: &apiv3.Payer{OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = wx.Pay(wxpaytest.PayOptions{OutTradeNo: "1217752501201407033233368018",
		Coupons: []wxpay.Coupon{{ID: "10000", Fee: 10}}, NoNotify: true})
	if err != nil {
		log.Fatal(err)
	}

	t, err := c.QueryByOutTradeNo(ctx, "1217752501201407033233368018")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.TradeState, t.TradeState.Paid(), t.Amount.Total, t.Amount.PayerTotal, t.SuccessTime.UTC().Format(time.RFC3339))

	_, err = c.QueryByOutTradeNo(ctx, "UNKNOWN0001")
	var e *apiv3.Error
	fmt.Println(errors.As(err, &e) && e.Code == apiv3.ErrCodeOrderNotExist)
	// Output:
	// SUCCESS true 100 90 2026-01-02T07:04:05Z
	// true
}

// Query a paid order by WeChat's number; once refunded it reads REFUND,
// and is still paid.
func ExampleClient_QueryByTransactionID() {
	wx := wxpaytest.NewServer(wxpaytest.Config{AppID: "wxd678efh567hg6787", MchID: "1230000109",
		APIKey: "192006250b4c09247ec02edce69f6a2d", APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"})
	defer wx.Close()
	c, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	_, err = c.PrepayNative(ctx, apiv3.PrepayRequest{Description: "自助售货机-可乐", OutTradeNo: "1217752501201407033233368018",
		NotifyURL: "https://merchant.example/wxpay/v3/notify", Amount: apiv3.Amount{Total: 100}})
	if err != nil {
		log.Fatal(err)
	}
	paid, err := wx.Pay(wxpaytest.PayOptions{OutTradeNo: "1217752501201407033233368018", NoNotify: true})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Refund(ctx, &apiv3.RefundRequest{TransactionID: paid.TransactionID, OutRefundNo: "R1", Amount: apiv3.RefundAmount{Refund: 100, Total: 100}})
	if err != nil {
		log.Fatal(err)
	}

	t, err := c.QueryByTransactionID(ctx, paid.TransactionID) // WeChat's number, from the notification or a query
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.OutTradeNo, t.TradeState, t.TradeState.Paid())
	// Output:
	// 1217752501201407033233368018 REFUND true
}

// Close an abandoned order; a paid one cannot be closed.
func ExampleClient_CloseOrder() {
	wx := wxpaytest.NewServer(wxpaytest.Config{AppID: "wxd678efh567hg6787", MchID: "1230000109",
		APIKey: "192006250b4c09247ec02edce69f6a2d", APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"})
	defer wx.Close()
	c, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for _, no := range []string{"1217752501201407033233368018", "PAID00000001"} {
		if _, err := c.PrepayNative(ctx, apiv3.PrepayRequest{Description: "自助售货机-可乐", OutTradeNo: no,
			NotifyURL: "https://merchant.example/wxpay/v3/notify", Amount: apiv3.Amount{Total: 300}}); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := wx.Pay(wxpaytest.PayOptions{OutTradeNo: "PAID00000001", NoNotify: true}); err != nil {
		log.Fatal(err)
	}

	fmt.Println(c.CloseOrder(ctx, "1217752501201407033233368018"))
	t, _ := c.QueryByOutTradeNo(ctx, "1217752501201407033233368018")
	fmt.Println(t.TradeState)
	err = c.CloseOrder(ctx, "PAID00000001")
	var e *apiv3.Error
	fmt.Println(errors.As(err, &e) && e.Code == apiv3.ErrCodeOrderPaid, apiv3.Retryable(err))
	// Output:
	// <nil>
	// CLOSED
	// true false
}

// Mount NotifyHandler at notify_url: fn sees only verified payments of
// this merchant and appid; WeChat gets 204 once fn returned nil. Here the
// first delivery is signed with another key than WeChat Pay's, as a
// forger's would be: it is refused without reaching fn, and WeChat's
// genuine retry is taken. (Speed makes the fake's 15-second retry
// interval 15 milliseconds.)
func ExampleClient_NotifyHandler() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wxd678efh567hg6787", MchID: "1230000109", APIKey: "192006250b4c09247ec02edce69f6a2d",
		APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", Speed: 1000,
	})
	defer wx.Close()
	c, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	handler := c.NotifyHandler(func(ctx context.Context, n *apiv3.PaymentNotification) error {
		t := n.Transaction
		// Look the order up by t.OutTradeNo, check t.Amount.Total against
		// it, and mark it paid once (idempotently) before returning nil.
		fmt.Println("paid:", t.OutTradeNo, t.Amount.Total, "fen by", t.Payer.OpenID)
		return nil
	})
	shop := httptest.NewServer(handler) // http.Handle("/wxpay/v3/notify", handler) in a real server
	defer shop.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	order, err := c.PrepayJSAPI(ctx, apiv3.PrepayRequest{
		Description: "Tea - 1 cup", OutTradeNo: "1217752501201407033233368018", NotifyURL: shop.URL,
		Amount: apiv3.Amount{Total: 100}, Payer: &apiv3.Payer{OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = wx.Pay(wxpaytest.PayOptions{PrepayID: order.PrepayID, V3Fault: func(attempt int) wxpaytest.Fault {
		return wxpaytest.Fault{WrongKey: attempt == 1}
	}})
	if err != nil {
		log.Fatal(err)
	}
	if err := wx.WaitAcked(ctx, "1217752501201407033233368018"); err != nil {
		log.Fatal(err)
	}
	for _, d := range wx.Deliveries("1217752501201407033233368018") {
		fmt.Println(strings.TrimSpace(fmt.Sprintf("attempt %d: %d %s", d.Attempt, d.StatusCode, d.Reply)))
	}
	// Output:
	// paid: 1217752501201407033233368018 100 fen by oUpF8uMuAJO_M2pxb1Q9zNjWeS6o
	// attempt 1: 401 {"code":"FAIL","message":"signature verification failed"}
	// attempt 2: 204
}
