package apiv3_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/miniprogram"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// The README's quick start on API v3: the same checkout as on v2, run
// against wxpaytest with APIv3Key set, which plays the mini-program login
// and WeChat Pay v3 for one merchant. checkout and markPaid below are the
// README's v3 ones, character for character (the root package's
// TestReadmeQuickStart holds them to it).
func Example_checkout() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wxd678efh567hg6787", MchID: "1230000109", APIKey: "192006250b4c09247ec02edce69f6a2d",
		AppSecret: "0123456789abcdef0123456789abcdef", APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb",
	})
	defer wx.Close()
	mux := http.NewServeMux()
	shop := httptest.NewServer(mux)
	defer shop.Close()

	cfg := wx.APIv3Config() // in production: the keys of the README's main
	cfg.NotifyURL = shop.URL + "/wxpay/v3/notify"
	client, err := apiv3.NewClient(cfg, wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	mp, err := miniprogram.NewClient("wxd678efh567hg6787", "0123456789abcdef0123456789abcdef", miniprogram.WithBaseURL(wx.URL))
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("POST /wxpay/v3/notify", client.NotifyHandler(markPaid))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pay, err := checkout(ctx, client, mp, wx.LoginCode("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"), "T20261127001", 1200)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pay.SignType, strings.HasPrefix(pay.Package, "prepay_id="))

	// The user confirms wx.requestPayment (the fake checks paySign);
	// WeChat notifies the shop.
	b, _ := json.Marshal(pay)
	resp, err := wx.Client().Post(wx.URL+"/wxpaytest/pay", "application/json", bytes.NewReader(b))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		log.Fatal("the fake refused the payment: ", resp.Status)
	}
	if err := wx.WaitAcked(ctx, "T20261127001"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("answer:", wx.Deliveries("T20261127001")[0].StatusCode)
	// Output:
	// RSA true
	// order T20261127001 paid: 1200 fen
	// answer: 204
}

// checkout turns a wx.login code into the arguments of wx.requestPayment
// for one order of fen (1/100 yuan).
func checkout(ctx context.Context, client *apiv3.Client, mp *miniprogram.Client,
	loginCode, orderNo string, fen int64) (*apiv3.JSAPIPayParams, error) {
	sess, err := mp.Code2Session(ctx, loginCode)
	if err != nil {
		return nil, err
	}
	order, err := client.PrepayJSAPI(ctx, apiv3.PrepayRequest{
		Description: "Tea - 1 cup",
		OutTradeNo:  orderNo, // your order number: retry with the same one, never a new one
		Amount:      apiv3.Amount{Total: fen},
		Payer:       &apiv3.Payer{OpenID: sess.OpenID},
	})
	if err != nil {
		return nil, err
	}
	return client.JSAPIPayParams("", order.PrepayID)
}

// markPaid is called once per verified payment of this merchant and
// appid, and WeChat repeats notifications: compare the amount with your
// order, mark it paid once, and return nil only after that is stored.
func markPaid(ctx context.Context, n *apiv3.PaymentNotification) error {
	t := n.Transaction
	fmt.Printf("order %s paid: %d fen\n", t.OutTradeNo, t.Amount.Total)
	return nil
}
