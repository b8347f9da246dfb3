package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/cmd/wxpay/cli"
)

// Sign the fields of WeChat's own signing example with its published key:
// the canonical string shows the key as ***, and the sign is the one in
// WeChat's documentation (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3).
func ExampleRun_sign() {
	env := map[string]string{"WXPAY_API_KEY": "192006250b4c09247ec02edce69f6a2d"}
	msg := strings.NewReader(`appid=wxd930ea5d5a258f4f
mch_id=10000100
device_info=1000
body=test
nonce_str=ibuaiVcKdpRxkhJA
`)
	code := cli.Run(context.Background(), []string{"sign"}, func(k string) string { return env[k] }, msg, os.Stdout, os.Stderr)
	if code != cli.ExitOK {
		panic(code)
	}
	// Output:
	// sign type: MD5
	// canonical: appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=***
	// sign:      9A0A8659F005D6984697E2CA0A9CF3B7
}

// Verify a payment notification signed with HMAC-SHA256 (WeChat omits
// sign_type from notifications) while the merchant is configured for MD5:
// the tool names the check that failed and the fix.
func ExampleRun_verify() {
	env := map[string]string{"WXPAY_API_KEY": "192006250b4c09247ec02edce69f6a2d"}
	msg := strings.NewReader(`appid=wxd930ea5d5a258f4f
body=test
device_info=1000
mch_id=10000100
nonce_str=ibuaiVcKdpRxkhJA
sign=6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6
`)
	code := cli.Run(context.Background(), []string{"verify"}, func(k string) string { return env[k] }, msg, os.Stdout, os.Stderr)
	os.Stdout.WriteString("exit status " + string(rune('0'+code)) + "\n")
	// Output:
	// sign type: MD5 (configured)
	// canonical: appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=***
	// sign:      6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6
	// expected:  9A0A8659F005D6984697E2CA0A9CF3B7
	// FAILED (length): the sign has 64 hex digits: signed with HMAC-SHA256 while you configured MD5
	// likely cause: it verifies with HMAC-SHA256 under your key: set WXPAY_SIGN_TYPE=HMAC-SHA256 (WeChat signs a notification with the algorithm of the order, without sign_type)
	// exit status 1
}

// Decrypt the req_info of a refund notification, here the one published
// with its API key in https://studygolang.com/articles/11811 (kept in the
// repository's testdata): AES-256-ECB under the MD5 of the key, as WeChat
// encrypts it (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16).
// The input may also be the whole XML body WeChat POSTs.
func ExampleRun_decryptRefund() {
	env := map[string]string{"WXPAY_API_KEY": "ziR0QKsTUfMOuochC9RfCdmfHECorQAP"}
	code := cli.Run(context.Background(), []string{"decrypt-refund", "../../../testdata/notify/v5_req_info.txt"},
		func(k string) string { return env[k] }, nil, os.Stdout, os.Stderr)
	fmt.Println("exit status", code)
	// Output:
	// out_refund_no=50fd012ed1b311e7af7800163e32c503
	// out_trade_no=4893e76d8c8b434cb64e9cd536338e33
	// refund_account=REFUND_SOURCE_RECHARGE_FUNDS
	// refund_fee=6
	// refund_id=50000404922017112502468056157
	// refund_recv_accout=支付用户零钱
	// refund_request_source=API
	// refund_status=SUCCESS
	// settlement_refund_fee=6
	// settlement_total_fee=6
	// success_time=2017-11-25 15:36:17
	// total_fee=6
	// transaction_id=4200000015201711256947025404
	// exit status 0
}

// exampleMerchant is the merchant of the examples (WeChat's signing
// example's appid, mch_id and key) and its settings as the environment
// gives them to the command.
var exampleMerchant = wxpay.Config{AppID: "wxd930ea5d5a258f4f", MchID: "10000100", APIKey: "192006250b4c09247ec02edce69f6a2d"}

func exampleEnv(extra ...string) func(string) string {
	env := map[string]string{
		"WXPAY_APPID": exampleMerchant.AppID, "WXPAY_MCHID": exampleMerchant.MchID, "WXPAY_API_KEY": exampleMerchant.APIKey,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return func(k string) string { return env[k] }
}

// exampleShop is the merchant's server on loopback: the library's
// NotifyHandler at /notify.
func exampleShop() *httptest.Server {
	pay, err := wxpay.NewClient(exampleMerchant, wxpay.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		log.Fatal(err)
	}
	return httptest.NewServer(pay.NotifyHandler(func(_ context.Context, n *wxpay.Notification) error {
		fmt.Println("shop: order", n.OutTradeNo, "paid", n.TotalFee, "fen")
		return nil // recorded durably before SUCCESS, in a real shop
	}))
}

// Send a merchant's notify handler the payment notification WeChat would
// send, signed with the merchant's key; the handler acknowledges it. Add
// -retry to repeat on WeChat's schedule until it does.
func ExampleRun_notify() {
	shop := exampleShop()
	defer shop.Close()
	code := cli.Run(context.Background(), []string{"notify", "-out-trade-no", "ORDER-1", "-total-fee", "2599", shop.URL + "/notify"},
		exampleEnv(), nil, os.Stdout, os.Stderr)
	fmt.Println("exit status", code)
	// Output:
	// shop: order ORDER-1 paid 2599 fen
	// attempt 1: HTTP 200, acknowledged (return_code SUCCESS)
	//   reply: <xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>
	// exit status 0
}

// Check a merchant's settings and its notify URL: doctor sends the URL a
// notification signed with a wrong key, which a correct handler refuses.
// (The shop's port and the time its reply took vary from run to run; the
// example replaces them.)
func ExampleRun_doctor() {
	shop := exampleShop()
	defer shop.Close()
	var out strings.Builder
	code := cli.Run(context.Background(), []string{"doctor"},
		exampleEnv("WXPAY_NOTIFY_URL", shop.URL+"/notify"), nil, &out, os.Stderr)
	stable := strings.ReplaceAll(out.String(), shop.URL, "http://127.0.0.1:PORT")
	stable = regexp.MustCompile(`, [0-9][0-9.a-zµ]*\)`).ReplaceAllString(stable, ")")
	fmt.Print(stable)
	fmt.Println("exit status", code)
	// Output:
	// ok    WXPAY_APPID       wxd930ea5d5a258f4f (format only; a real check needs a signed call)
	// ok    WXPAY_MCHID       10000100 (format only; a real check needs a signed call)
	// ok    WXPAY_API_KEY     *** (32 characters), letters and digits (format only; a real check needs a signed call)
	// ok    WXPAY_SIGN_TYPE   not set: MD5, WeChat's default (your server must sign with the same)
	// skip  WX_APP_SECRET     not set (needed only for mini-program login)
	// warn  WXPAY_NOTIFY_URL  http://127.0.0.1:PORT/notify uses http: WeChat requires https, except over a dedicated line
	// warn  WXPAY_NOTIFY_URL  http://127.0.0.1:PORT/notify is on loopback: WeChat cannot reach it (fine with wxpay fake)
	// ok    notify reply      reachable; refused a notification signed with a wrong key with return_code FAIL (HTTP 400); not checked: that it accepts a genuine one, which doctor never sends
	// skip  certificate       WXPAY_CERT_FILE and WXPAY_KEY_FILE not set (needed only for refunds, reverse and fund-flow bills)
	// no problems found
	// exit status 0
}

// Run the fake WeChat Pay for a project in any language: it prints its URL
// and the settings to configure (with -json, one object a line), pays an
// order typed on its input, and notifies the order's notify_url as WeChat
// would. Here a Go shop plays the project; its settings come from the
// environment, so the fake prints the key only as ***.
func ExampleRun_fake() {
	paid := make(chan string, 1)
	// The fake signs with HMAC-SHA256 unless WXPAY_SIGN_TYPE says
	// otherwise (the example server's default too).
	merchant := exampleMerchant
	merchant.SignType = wxpay.SignHMACSHA256
	pay, err := wxpay.NewClient(merchant, wxpay.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		log.Fatal(err)
	}
	shop := httptest.NewServer(pay.NotifyHandler(func(_ context.Context, n *wxpay.Notification) error {
		paid <- fmt.Sprintf("shop: order %s paid %d fen", n.OutTradeNo, n.TotalFee)
		return nil
	}))
	defer shop.Close()

	typed, typist := io.Pipe()   // the terminal's keyboard
	printed, screen := io.Pipe() // and its screen
	defer typist.Close()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	exit := make(chan int, 1)
	go func() {
		defer screen.Close()
		exit <- cli.Run(ctx, []string{"fake", "-json", "-addr", "127.0.0.1:0"}, exampleEnv(), typed, screen, io.Discard)
	}()
	lines := bufio.NewScanner(printed)
	next := func(v any) {
		if !lines.Scan() {
			log.Fatal("the fake stopped")
		}
		if err := json.Unmarshal(lines.Bytes(), v); err != nil {
			log.Fatal(err)
		}
	}

	var banner struct {
		URL      string            `json:"url"`
		Settings map[string]string `json:"settings"`
	}
	next(&banner)
	fmt.Println("WXPAY_API_KEY:", banner.Settings["WXPAY_API_KEY"], "URL on loopback:", strings.HasPrefix(banner.URL, "http://127.0.0.1:"))
	fmt.Println("WXPAY_SIGN_TYPE:", banner.Settings["WXPAY_SIGN_TYPE"])

	// The shop places an order with the fake as its WeChat Pay.
	shopPay, err := wxpay.NewClient(merchant, wxpay.WithBaseURL(banner.URL))
	if err != nil {
		log.Fatal(err)
	}
	_, err = shopPay.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
		Body: "T-shirt", OutTradeNo: "ORDER-7", TotalFee: 8800, SpbillCreateIP: "127.0.0.1",
		TradeType: wxpay.TradeNative, ProductID: "tshirt", NotifyURL: shop.URL + "/notify",
	})
	if err != nil {
		log.Fatal(err)
	}

	var reply struct {
		OK         bool   `json:"ok"`
		OutTradeNo string `json:"out_trade_no"`
		TotalFee   int64  `json:"total_fee"`
		Orders     []struct {
			OutTradeNo string `json:"out_trade_no"`
			State      string `json:"state"`
		} `json:"orders"`
	}
	fmt.Fprintln(typist, "pay ORDER-7")
	next(&reply)
	fmt.Println("pay:", reply.OK, reply.OutTradeNo, reply.TotalFee)
	fmt.Println(<-paid)
	fmt.Fprintln(typist, "orders")
	next(&reply)
	fmt.Println("orders:", reply.Orders[0].OutTradeNo, reply.Orders[0].State)
	fmt.Fprintln(typist, "quit")
	fmt.Println("exit status", <-exit)
	// Output:
	// WXPAY_API_KEY: *** (32 characters) URL on loopback: true
	// WXPAY_SIGN_TYPE: HMAC-SHA256
	// pay: true ORDER-7 8800
	// shop: order ORDER-7 paid 8800 fen
	// orders: ORDER-7 SUCCESS
	// exit status 0
}
