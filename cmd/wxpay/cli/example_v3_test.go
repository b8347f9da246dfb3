package cli_test

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/cmd/wxpay/cli"
)

// Sign WeChat Pay's published v3 JSAPI request example with its
// documentation key (https://pay.weixin.qq.com/doc/v3/merchant/4012365336),
// at the example's time and nonce: the Authorization header carries the
// signature printed there. The body is signed exactly as given, here on
// stdin ("-").
func ExampleRun_signV3() {
	env := map[string]string{
		"WXPAY_MCHID":     "1230000109",
		"WXPAY_KEY_FILE":  "../../../testdata/v3/k-off.pem",
		"WXPAY_V3_SERIAL": "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",
	}
	body := `{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}`
	code := cli.Run(context.Background(), []string{"sign", "-v3", "-timestamp", "1554208460", "-nonce", "593BEC0C930BF1AFEB40B4A08C8FB242",
		"POST", "https://api.mch.weixin.qq.com/v3/pay/transactions/jsapi", "-"},
		func(k string) string { return env[k] }, strings.NewReader(body), os.Stdout, os.Stderr)
	fmt.Println("exit status", code)
	// Output:
	// Authorization: WECHATPAY2-SHA256-RSA2048 mchid="1230000109",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",signature="gEuexJ547PHFV77TQ6eiE4tphVYfWfUe1Wc2dBmVnoMYU2rl/M4zhw+b3vBhuMw6AC7pteNkryLA7UWU2h+umo0OdSuuLm1++O3NckQPCSfm6dypsjn4GYm84KMqXWFrhFmyxEwIdEJDr3w1UYfxOcu55OQupfLkrt/ZzuOspnliJFrPzGQFUk7lGqMMtpz3EfbDUNxnVsHblORg3hVmuYNmbGWnS2ovU30Y2Q+iKFDxzkaXBk8LTy6HzvxizRo6Q+J4SVM7O0hKXfgo1QdI68kpzNULb3EVBXlhTyPUzhkHzzLxECL1qHl3HH2hEv8++C+4wBlsagF3j/O6PABojA==",timestamp="1554208460",serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"
	// exit status 0
}

// Verify and open a v3 payment notification (a public-key-mode vector
// signed with WeChat Pay's documentation key, see testdata/v3/PROVENANCE.md),
// its headers given with -H and its body on stdin. It was captured long
// ago, so -at checks the 5-minute window at the time it was sent; the
// plaintext is the resource opened under the APIv3 key.
func ExampleRun_verifyV3() {
	var v struct {
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	b, _ := os.ReadFile("../../../testdata/v3/notify-v5.json")
	if err := json.Unmarshal(b, &v); err != nil {
		panic(err)
	}
	env := map[string]string{
		"WXPAY_MCHID":          "1230000109",
		"WXPAY_APIV3_KEY":      "0123456789abcdefghijABCDEFGHIJ01",
		"WXPAY_V3_PUBKEY_ID":   "PUB_KEY_ID_0114232134912410000000000000",
		"WXPAY_V3_PUBKEY_FILE": "../../../testdata/v3/k-off.pub.pem",
	}
	args := []string{"verify", "-decrypt", "-at", "1767337446"}
	for _, name := range []string{"Wechatpay-Serial", "Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce"} {
		args = append(args, "-H", name+": "+v.Headers[name])
	}
	code := cli.Run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(v.Body), os.Stdout, os.Stderr)
	fmt.Println("exit status", code)
	// Output:
	// kind:      notification
	// serial:    PUB_KEY_ID_0114232134912410000000000000 (the WeChat Pay public key (WXPAY_V3_PUBKEY_ID))
	// message:   1767337446\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n<909-byte body>\n
	// OK: the signature matches
	// event:     TRANSACTION.SUCCESS
	// note: the 5-minute window was checked against -at, not the current time
	// {"mchid":"1230000109","appid":"wxd678efh567hg6787","out_trade_no":"1217752501201407033233368018","transaction_id":"4200000000000000000000000001","trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"OTHERS","attach":"","success_time":"2026-01-02T15:04:05+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}
	// exit status 0
}

// Send a v3 payment notification to a shop's apiv3 NotifyHandler, as
// WeChat does: the transaction encrypted under the APIv3 key, signed with
// WeChat Pay's private key (here wechatpay-go's published test key playing
// WeChat's; "wxpay fake -v3" writes its own), Wechatpay-Serial the public
// key id. The handler verifies, decrypts and checks it, and answers 204: a
// 2xx is v3's acknowledgement. Then a tampered copy, which the handler
// refuses (401): the command reports it not acknowledged and, since that
// is what a handler must do, succeeds.
func ExampleRun_notifyV3() {
	const dir = "../../../testdata/v3/"
	wechatKey, _ := os.ReadFile(dir + "k-wgo.pem")
	key, _ := apiv3.ParsePrivateKey(wechatKey)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	tmp, _ := os.MkdirTemp("", "notify-v3")
	defer os.RemoveAll(tmp)
	pubFile := filepath.Join(tmp, "pub_key.pem")
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	_ = os.WriteFile(pubFile, pubPEM, 0o644)

	merchantKey, _ := os.ReadFile(dir + "k-off.pem")
	shop, err := apiv3.NewClient(apiv3.Config{
		MchID: "1230000109", AppID: "wxd678efh567hg6787", MerchantSerialNo: "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",
		PrivateKey: merchantKey, APIv3Key: "0123456789abcdefghijABCDEFGHIJ01",
		PublicKeyID: "PUB_KEY_ID_0114232134912410000000000000", PublicKey: pubPEM,
	}, apiv3.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(shop.NotifyHandler(func(_ context.Context, n *apiv3.PaymentNotification) error {
		fmt.Printf("shop: order %s paid %d fen\n", n.Transaction.OutTradeNo, n.Transaction.Amount.Total)
		return nil
	}))
	defer srv.Close()

	env := map[string]string{
		"WXPAY_MCHID":                 "1230000109",
		"WXPAY_APPID":                 "wxd678efh567hg6787",
		"WXPAY_APIV3_KEY":             "0123456789abcdefghijABCDEFGHIJ01",
		"WXPAY_V3_PUBKEY_ID":          "PUB_KEY_ID_0114232134912410000000000000",
		"WXPAY_V3_PUBKEY_FILE":        pubFile,
		"WXPAY_V3_WECHATPAY_KEY_FILE": dir + "k-wgo.pem",
	}
	for _, extra := range [][]string{nil, {"-fault", "tampered"}} {
		args := append([]string{"notify", "-v3", "-out-trade-no", "ORDER-1", "-amount", "2599"}, extra...)
		code := cli.Run(context.Background(), append(args, srv.URL), func(k string) string { return env[k] }, nil, os.Stdout, os.Stderr)
		fmt.Println("exit status", code)
	}
	// Output:
	// shop: order ORDER-1 paid 2599 fen
	// attempt 1: HTTP 204, acknowledged (2xx)
	// exit status 0
	// attempt 1: HTTP 401, not acknowledged (not 2xx)
	//   reply: {"code":"FAIL","message":"signature verification failed"}
	// not acknowledged: the handler refused the body changed after signing (a byte of the ciphertext), as it must
	// exit status 0
}

// Run the fake with API v3 beside v2: it keeps its keys in a directory
// (minted on the first run, reloaded on the next), prints the settings as
// names and file paths, never a secret, and writes them all to
// DIR/wxpay.env. An apiv3 client configured from those files places an
// order with the fake, which pays it and sends the signed, encrypted
// notification to the shop's NotifyHandler; "wxpay doctor -v3" with the
// same file passes, the signed certificate download included.
func ExampleRun_fakeV3() {
	dir, _ := os.MkdirTemp("", "fake-v3")
	defer os.RemoveAll(dir)
	typed, typist := io.Pipe()
	printed, screen := io.Pipe()
	defer typist.Close()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	exit := make(chan int, 1)
	go func() {
		defer screen.Close()
		exit <- cli.Run(ctx, []string{"fake", "-json", "-addr", "127.0.0.1:0", "-v3", "-v3-dir", dir}, nil, typed, screen, io.Discard)
	}()
	lines := bufio.NewScanner(printed)
	lines.Scan()
	var banner struct {
		V3 struct {
			ConfigFile string            `json:"config_file"`
			Settings   map[string]string `json:"settings"`
		} `json:"v3"`
	}
	if err := json.Unmarshal(lines.Bytes(), &banner); err != nil {
		log.Fatal(err)
	}
	fmt.Println("WXPAY_APIV3_KEY:", banner.V3.Settings["WXPAY_APIV3_KEY"])
	fmt.Println("WXPAY_V3_PUBKEY_FILE:", filepath.Base(banner.V3.Settings["WXPAY_V3_PUBKEY_FILE"]))

	// The application reads its settings; here from wxpay.env.
	env := map[string]string{}
	b, _ := os.ReadFile(banner.V3.ConfigFile)
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	file := func(name string) []byte { b, _ := os.ReadFile(env[name]); return b }
	cfg := apiv3.Config{
		MchID: env["WXPAY_MCHID"], AppID: env["WXPAY_APPID"], MerchantSerialNo: env["WXPAY_V3_SERIAL"],
		PrivateKey: file("WXPAY_KEY_FILE"), APIv3Key: env["WXPAY_APIV3_KEY"],
		PublicKeyID: env["WXPAY_V3_PUBKEY_ID"], PublicKey: file("WXPAY_V3_PUBKEY_FILE"),
	}
	quiet := apiv3.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	notifier, err := apiv3.NewClient(cfg, quiet)
	if err != nil {
		log.Fatal(err)
	}
	paid := make(chan string, 1)
	shop := httptest.NewServer(notifier.NotifyHandler(func(_ context.Context, n *apiv3.PaymentNotification) error {
		paid <- fmt.Sprintf("shop: order %s paid %d fen", n.Transaction.OutTradeNo, n.Transaction.Amount.Total)
		return nil
	}))
	defer shop.Close()
	cfg.NotifyURL = shop.URL
	client, err := apiv3.NewClient(cfg, quiet, apiv3.WithBaseURL(env["WXPAY_BASE_URL"]))
	if err != nil {
		log.Fatal(err)
	}
	_, err = client.PrepayJSAPI(ctx, apiv3.PrepayRequest{
		Description: "T-shirt", OutTradeNo: "ORDER-8", Amount: apiv3.Amount{Total: 8800},
		Payer: &apiv3.Payer{OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(typist, "pay ORDER-8")
	lines.Scan() // the fake's reply to "pay"
	fmt.Println(<-paid)
	tx, err := client.QueryByOutTradeNo(ctx, "ORDER-8")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("query:", tx.TradeState)

	code := cli.Run(ctx, []string{"doctor", "-v3", "-config", banner.V3.ConfigFile}, nil, nil, io.Discard, os.Stderr)
	fmt.Println("doctor -v3 exit status", code)
	fmt.Fprintln(typist, "quit")
	fmt.Println("exit status", <-exit)
	// Output:
	// WXPAY_APIV3_KEY: *** (32 characters)
	// WXPAY_V3_PUBKEY_FILE: pub_key.pem
	// shop: order ORDER-8 paid 8800 fen
	// query: SUCCESS
	// doctor -v3 exit status 0
	// exit status 0
}

// Verify a whole HTTP message, as a server log or curl -i keeps it:
// Wechatpay-* headers and a JSON body make it v3 without -v3. Here the
// public-key-mode vector of testdata/v3 as the request that delivered it;
// -at checks the 5-minute window at the time it was sent.
func ExampleRun_verifyHTTPMessage() {
	var v struct {
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	b, _ := os.ReadFile("../../../testdata/v3/notify-v5.json")
	if err := json.Unmarshal(b, &v); err != nil {
		panic(err)
	}
	msg := "POST /wxpay/v3/notify HTTP/1.1\r\nContent-Type: application/json\r\n"
	for _, name := range []string{"Wechatpay-Serial", "Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce"} {
		msg += name + ": " + v.Headers[name] + "\r\n"
	}
	msg += "\r\n" + v.Body
	env := map[string]string{
		"WXPAY_V3_PUBKEY_ID":   "PUB_KEY_ID_0114232134912410000000000000",
		"WXPAY_V3_PUBKEY_FILE": "../../../testdata/v3/k-off.pub.pem",
	}
	code := cli.Run(context.Background(), []string{"verify", "-at", "1767337446"}, func(k string) string { return env[k] }, strings.NewReader(msg), os.Stdout, os.Stderr)
	fmt.Println("exit status", code)
	// Output:
	// kind:      notification
	// serial:    PUB_KEY_ID_0114232134912410000000000000 (the WeChat Pay public key (WXPAY_V3_PUBKEY_ID))
	// message:   1767337446\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n<909-byte body>\n
	// OK: the signature matches
	// event:     TRANSACTION.SUCCESS
	// note: a notification: -decrypt opens its resource under WXPAY_APIV3_KEY
	// note: the 5-minute window was checked against -at, not the current time
	// exit status 0
}
