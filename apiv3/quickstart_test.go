package apiv3_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/miniprogram"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// The README's quick start on API v3: the same checkout as on v2, run
// against stand-ins (wxpaytest for the mini-program login, a signed v3
// WeChat for the order, a sealed and signed notification). checkout and
// markPaid below are the README's v3 ones, character for character (the
// root package's TestReadmeQuickStart holds them to it).
func Example_checkout() {
	const appID = "wxd678efh567hg6787"
	login := wxpaytest.NewServer(wxpaytest.Config{
		AppID: appID, MchID: "1230000109", APIKey: "192006250b4c09247ec02edce69f6a2d",
		AppSecret: "0123456789abcdef0123456789abcdef",
	})
	defer login.Close()
	wx := newPayWeChat()
	defer wx.Close()
	wx.routes["POST /v3/pay/transactions/jsapi"] = func([]byte) (int, string) {
		return 200, `{"prepay_id":"wx201410272009395522657a690389285100"}`
	}

	client, err := apiv3.NewClient(apiv3.Config{
		MchID:            "1230000109",
		AppID:            appID,
		MerchantSerialNo: "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
		PrivateKey:       mustRead("k-wj.pem"),
		APIv3Key:         "0123456789abcdefghijABCDEFGHIJ01",
		PublicKeyID:      "PUB_KEY_ID_0114232134912410000000000000",
		PublicKey:        mustRead("k-off.pub.pem"),
		NotifyURL:        "https://shop.example.com/wxpay/v3/notify",
	}, apiv3.WithBaseURL(wx.URL), apiv3.WithHTTPClient(wx.Client()), apiv3.WithClock(func() time.Time { return exampleNow }))
	if err != nil {
		panic(err)
	}
	mp, err := miniprogram.NewClient(appID, "0123456789abcdef0123456789abcdef", miniprogram.WithBaseURL(login.URL))
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	pay, err := checkout(ctx, client, mp, login.LoginCode(""), "T20261127001", 1200)
	if err != nil {
		panic(err)
	}
	fmt.Println(pay.SignType, strings.HasPrefix(pay.Package, "prepay_id="))

	// The user confirms wx.requestPayment; WeChat notifies the shop.
	w := httptest.NewRecorder()
	client.NotifyHandler(markPaid).ServeHTTP(w, fakeWeChatNotification(exampleNow,
		`{"mchid":"1230000109","appid":"wxd678efh567hg6787","out_trade_no":"T20261127001","transaction_id":"4200000000000000000000000001","trade_type":"JSAPI","trade_state":"SUCCESS","success_time":"2026-01-02T15:04:05+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":1200,"payer_total":1200,"currency":"CNY","payer_currency":"CNY"}}`))
	fmt.Println("answer:", w.Code)
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
