package wxpay_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

func ExampleClient_NotifyHandler() {
	cfg := wxpay.Config{
		AppID:  "wxd930ea5d5a258f4f",
		MchID:  "10000100",
		APIKey: "192006250b4c09247ec02edce69f6a2d",
	}
	// wxpaytest plays WeChat so the example runs offline: it takes the
	// order, lets the payer pay, and POSTs the signed notification to the
	// order's notify_url. In production, leave out WithBaseURL.
	wx := wxpaytest.NewServer(wxpaytest.Config{AppID: cfg.AppID, MchID: cfg.MchID, APIKey: cfg.APIKey})
	defer wx.Close()
	client, err := wxpay.NewClient(cfg, wxpay.WithBaseURL(wx.URL))
	if err != nil {
		log.Fatal(err)
	}

	handler := client.NotifyHandler(func(ctx context.Context, n *wxpay.Notification) error {
		// A real fn looks the order up by n.OutTradeNo, returns nil at
		// once if it is already paid (WeChat redelivers), refuses to mark
		// it paid unless n.Paid() and n.TotalFee equals the stored amount,
		// and returns nil only after the update is committed.
		fmt.Printf("order %s paid=%t total_fee=%d fen\n", n.OutTradeNo, n.Paid(), n.TotalFee)
		return nil
	})
	// In a real server: mux.Handle("POST /wxpay/notify", handler).
	shop := httptest.NewServer(handler)
	defer shop.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	order, err := client.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
		Body: "腾讯充值中心-QQ会员充值", OutTradeNo: "1409811653", TotalFee: 100,
		SpbillCreateIP: "123.12.12.123", TradeType: wxpay.TradeJSAPI, OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
		NotifyURL: shop.URL + "/wxpay/notify",
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := wx.Pay(wxpaytest.PayOptions{PrepayID: order.PrepayID}); err != nil {
		log.Fatal(err)
	}
	if err := wx.WaitAcked(ctx, "1409811653"); err != nil {
		log.Fatal(err)
	}
	d := wx.Deliveries("1409811653")[0]
	fmt.Println(d.StatusCode, string(d.Reply))

	// Output:
	// order 1409811653 paid=true total_fee=100 fen
	// 200 <xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>
}

func ExampleClient_ParseRefundNotification() {
	// The S6 vector: the official sample refund, encrypted under the key
	// derived from this (public, test-only) API key.
	client, err := wxpay.NewClient(wxpay.Config{
		AppID:  "wxd930ea5d5a258f4f",
		MchID:  "10000100",
		APIKey: "exposed_your_key_here_have_risks",
	})
	if err != nil {
		panic(err)
	}
	reqInfo, err := os.ReadFile("testdata/notify/s6_req_info.txt")
	if err != nil {
		panic(err)
	}
	body := `<xml><return_code>SUCCESS</return_code><appid>wxd930ea5d5a258f4f</appid>` +
		`<mch_id>10000100</mch_id><nonce_str>TeqClE3i0mvn3DrK</nonce_str>` +
		`<req_info>` + string(reqInfo) + `</req_info></xml>`

	n, err := client.ParseRefundNotification([]byte(body))
	if err != nil {
		panic(err)
	}
	fmt.Println(n.OutRefundNo, n.RefundStatus, n.RefundFee, n.SuccessTime.Format("2006-01-02 15:04:05 -07:00"))

	// Output:
	// 131811191610442717309 SUCCESS 3960 2018-11-19 16:24:13 +08:00
}

// ParseNotification serves notifications that arrive by other routes than
// HTTP, such as a queue. The body here is made by wxpaytest, signed as
// WeChat signs it: a payment with two coupons.
func ExampleClient_ParseNotification() {
	cfg := wxpay.Config{
		AppID:  "wxd930ea5d5a258f4f",
		MchID:  "10000100",
		APIKey: "192006250b4c09247ec02edce69f6a2d",
	}
	client, err := wxpay.NewClient(cfg)
	if err != nil {
		log.Fatal(err)
	}
	body, err := wxpaytest.NotificationBody(wxpaytest.Config{AppID: cfg.AppID, MchID: cfg.MchID, APIKey: cfg.APIKey}, wxpay.Params{
		"out_trade_no": "1409811653", "transaction_id": "1004400740201409030005092168",
		"total_fee": "100", "cash_fee": "80", "coupon_fee": "20", "coupon_count": "2",
		"coupon_id_0": "10000", "coupon_type_0": "CASH", "coupon_fee_0": "10",
		"coupon_id_1": "10001", "coupon_type_1": "NO_CASH", "coupon_fee_1": "10",
		"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "trade_type": "JSAPI", "bank_type": "CMC",
		"time_end": "20141030133525",
	})
	if err != nil {
		log.Fatal(err)
	}

	n, err := client.ParseNotification(body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n.OutTradeNo, n.Paid(), n.TotalFee, n.TimeEnd.Format(time.RFC3339))
	// Informational amounts may be absent from a genuine notification.
	if n.CashFee.Valid {
		fmt.Println("cash", n.CashFee.Fen)
	}
	for _, c := range n.Coupons {
		fmt.Println(c.ID, c.Type, c.Fee)
	}

	// One changed amount, and the signature no longer holds.
	_, err = client.ParseNotification([]byte(strings.Replace(string(body), "<total_fee>100<", "<total_fee>1<", 1)))
	fmt.Println(errors.Is(err, wxpay.ErrSignature))

	// Output:
	// 1409811653 true 100 2014-10-30T13:35:25+08:00
	// cash 80
	// 10000 CASH 10
	// 10001 NO_CASH 10
	// true
}
