package wxpaytest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// A checkout on API v3 against the fake: the shop places a JSAPI order,
// the user pays with the RSA paySign (checked by the fake), the shop's
// apiv3 NotifyHandler receives the verified, decrypted notification, and
// a query reads the order paid. The fake mints the merchant's key pair
// and WeChat Pay's; APIv3Config hands the client what a merchant
// platform would.
func Example_apiV3() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID:    "wxd930ea5d5a258f4f",
		MchID:    "10000100",
		APIKey:   "192006250b4c09247ec02edce69f6a2d",
		APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", // turns v3 on
	})
	defer wx.Close()
	pay, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	paid := make(chan string, 1)
	shop := httptest.NewServer(pay.NotifyHandler(func(_ context.Context, n *apiv3.PaymentNotification) error {
		paid <- fmt.Sprintf("notified: %s paid %d fen", n.Transaction.OutTradeNo, n.Transaction.Amount.Total)
		return nil
	}))
	defer shop.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	order, err := pay.PrepayJSAPI(ctx, apiv3.PrepayRequest{
		Description: "T-shirt", OutTradeNo: "order-v3-1", NotifyURL: shop.URL,
		Amount: apiv3.Amount{Total: 8800}, Payer: &apiv3.Payer{OpenID: "oUser1"},
	})
	if err != nil {
		log.Fatal(err)
	}
	// The mini-program calls wx.requestPayment with these; the fake's
	// /wxpaytest/pay plays the user confirming.
	params, err := pay.JSAPIPayParams("", order.PrepayID)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := json.Marshal(params)
	resp, err := wx.Client().Post(wx.URL+"/wxpaytest/pay", "application/json", bytes.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("pay:", resp.StatusCode)
	fmt.Println(<-paid)

	t, err := pay.QueryByOutTradeNo(ctx, "order-v3-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("query:", t.TradeState)
	// Output:
	// pay: 200
	// notified: order-v3-1 paid 8800 fen
	// query: SUCCESS
}
