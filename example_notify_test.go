package wxpay_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay"
)

func ExampleClient_NotifyHandler() {
	client, err := wxpay.NewClient(wxpay.Config{
		AppID:  "wxd930ea5d5a258f4f",
		MchID:  "10000100",
		APIKey: "192006250b4c09247ec02edce69f6a2d",
	})
	if err != nil {
		panic(err)
	}

	// In a real server: mux.Handle("POST /wxpay/notify", handler).
	handler := client.NotifyHandler(func(ctx context.Context, n *wxpay.Notification) error {
		// A real fn looks the order up by n.OutTradeNo, returns nil at
		// once if it is already paid (WeChat redelivers), refuses to mark
		// it paid unless n.Paid() and n.TotalFee equals the stored amount,
		// and returns nil only after the update is committed.
		fmt.Printf("order %s paid=%t total_fee=%d fen\n", n.OutTradeNo, n.Paid(), n.TotalFee)
		return nil
	})

	// What WeChat would POST, signed here with the merchant's own key.
	fields := wxpay.Params{
		"return_code":    "SUCCESS",
		"result_code":    "SUCCESS",
		"appid":          "wxd930ea5d5a258f4f",
		"mch_id":         "10000100",
		"nonce_str":      "ibuaiVcKdpRxkhJA",
		"openid":         "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
		"trade_type":     "JSAPI",
		"bank_type":      "CMC",
		"total_fee":      "100",
		"cash_fee":       "100",
		"transaction_id": "1004400740201409030005092168",
		"out_trade_no":   "1409811653",
		"time_end":       "20141030133525",
	}
	fields["sign"] = client.Signer().Sign(fields)
	body, err := wxpay.EncodeXML(fields)
	if err != nil {
		panic(err)
	}

	w := httptest.NewRecorder()
	handler.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/wxpay/notify", strings.NewReader(string(body))))
	fmt.Println(w.Code, w.Body.String())

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
// HTTP, such as a queue. The body is the S1 vector (protocol fact sheet
// §11): a payment with two coupons, signed with MD5.
func ExampleClient_ParseNotification() {
	client, err := wxpay.NewClient(wxpay.Config{
		AppID:  "wxd930ea5d5a258f4f",
		MchID:  "10000100",
		APIKey: "192006250b4c09247ec02edce69f6a2d",
	})
	if err != nil {
		panic(err)
	}
	body, err := os.ReadFile("testdata/notify/s1_md5.xml")
	if err != nil {
		panic(err)
	}

	n, err := client.ParseNotification(body)
	if err != nil {
		panic(err)
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
