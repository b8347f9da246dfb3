package apiv3_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// exampleClient is a merchant's client with the public test keys of
// testdata/v3 (the merchant key of wechatpay-java, WeChat's documentation
// key playing the WeChat Pay public key), for the examples of what a
// client does on its own, without WeChat. A real merchant loads
// apiclient_key.pem and pub_key.pem.
func exampleClient(now time.Time) *apiv3.Client {
	read := func(name string) []byte {
		b, err := os.ReadFile("../testdata/v3/" + name)
		if err != nil {
			log.Fatal(err)
		}
		return b
	}
	c, err := apiv3.NewClient(apiv3.Config{
		MchID:            "1230000109",
		MerchantSerialNo: "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
		PrivateKey:       read("k-wj.pem"),
		APIv3Key:         "0123456789abcdefghijABCDEFGHIJ01",
		PublicKeyID:      "PUB_KEY_ID_0114232134912410000000000000",
		PublicKey:        read("k-off.pub.pem"),
	}, apiv3.WithClock(func() time.Time { return now }))
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// Mount the handler at notify_url; fn sees only verified, decrypted
// notifications, and WeChat gets 204 only once fn returned nil. The
// notifications come from wxpaytest, paid with Pay; here its first
// delivery is dated ten minutes back, as a replay would be, and refused
// without reaching fn; the retry is taken. (Speed makes the fake's
// 15-second retry interval 15 milliseconds.)
func ExampleClient_NotificationHandler() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wxd678efh567hg6787", MchID: "1230000109", APIKey: "192006250b4c09247ec02edce69f6a2d",
		APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", Speed: 1000,
	})
	defer wx.Close()
	c, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	handler := c.NotificationHandler(func(ctx context.Context, n *apiv3.Notification) error {
		if n.EventType != "TRANSACTION.SUCCESS" {
			return nil // acknowledge events this application does not act on
		}
		var tx struct {
			MchID      string `json:"mchid"`
			OutTradeNo string `json:"out_trade_no"`
			Amount     struct {
				Total int64 `json:"total"`
			} `json:"amount"`
		}
		if err := n.Decode(&tx); err != nil {
			return err
		}
		// Check mchid and the amount against the stored order, then mark
		// it paid once (idempotently) before returning nil.
		fmt.Println("paid:", tx.OutTradeNo, tx.Amount.Total, "fen")
		return nil
	})
	shop := httptest.NewServer(handler) // http.Handle("/wxpay/notify", handler) in a real server
	defer shop.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.PrepayNative(ctx, apiv3.PrepayRequest{
		Description: "自助售货机-可乐", OutTradeNo: "1217752501201407033233368018", NotifyURL: shop.URL, Amount: apiv3.Amount{Total: 100},
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = wx.Pay(wxpaytest.PayOptions{OutTradeNo: "1217752501201407033233368018", V3Fault: func(attempt int) wxpaytest.Fault {
		return wxpaytest.Fault{V3StaleTimestamp: attempt == 1}
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
	// paid: 1217752501201407033233368018 100 fen
	// attempt 1: 401 {"code":"FAIL","message":"signature verification failed"}
	// attempt 2: 204
}

// ParseNotification is the parse layer alone, for an application that
// writes its own answer. The first delivery of wxpaytest's notification
// is a signature probe here (WeChat's WECHATPAY/SIGNTEST/ signatures,
// which a merchant must refuse); the retry is genuine.
func ExampleClient_ParseNotification() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wxd678efh567hg6787", MchID: "1230000109", APIKey: "192006250b4c09247ec02edce69f6a2d",
		APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", Speed: 1000, Now: func() time.Time { return exampleNow },
	})
	defer wx.Close()
	c, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := c.ParseNotification(r)
		if err != nil {
			// A body that is not the one WeChat signed is refused before
			// it is parsed.
			fmt.Println("probe refused:", errors.Is(err, apiv3.ErrSignatureProbe), errors.Is(err, apiv3.ErrSignature))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var tx struct {
			OutTradeNo string `json:"out_trade_no"`
			TradeState string `json:"trade_state"`
		}
		if err := n.Decode(&tx); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		fmt.Println(n.EventType, n.CreateTime.UTC().Format(time.RFC3339))
		fmt.Println(tx.OutTradeNo, tx.TradeState)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer shop.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.PrepayNative(ctx, apiv3.PrepayRequest{
		Description: "自助售货机-可乐", OutTradeNo: "1217752501201407033233368018", NotifyURL: shop.URL, Amount: apiv3.Amount{Total: 100},
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = wx.Pay(wxpaytest.PayOptions{OutTradeNo: "1217752501201407033233368018", V3Fault: func(attempt int) wxpaytest.Fault {
		return wxpaytest.Fault{V3Probe: attempt == 1}
	}})
	if err != nil {
		log.Fatal(err)
	}
	if err := wx.WaitAcked(ctx, "1217752501201407033233368018"); err != nil {
		fmt.Println(err)
	}
	// Output:
	// probe refused: true true
	// TRANSACTION.SUCCESS 2026-01-02T07:04:05Z
	// 1217752501201407033233368018 SUCCESS
}

// Encrypt the sensitive fields of one request under one WeChat key and
// send its serial in the Wechatpay-Serial header of that request.
func ExampleClient_EncryptSensitive() {
	c := exampleClient(time.Unix(1767337446, 0))
	serial, fields, err := c.EncryptSensitive(context.Background(), "张三", "13800138000")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("Wechatpay-Serial:", serial)
	fmt.Println(len(fields), "fields of", len(fields[0]), "base64 characters")
	// Output:
	// Wechatpay-Serial: PUB_KEY_ID_0114232134912410000000000000
	// 2 fields of 344 base64 characters
}

// Decrypt a field WeChat encrypted to the merchant (the published
// wechatpay-java vector, under its merchant key).
func ExampleClient_DecryptSensitive() {
	c := exampleClient(time.Unix(1767337446, 0))
	s, err := c.DecryptSensitive("Qqsluo7R1IZyAqdkm/jBzwXDP5VndCwwFbRA+yILFTYciZzrRChQIQ7SKuI2k3YSR5auB3ZspdjR1WPB3PTCKe6BCFx3NnaPWhSwonYTmW8ZseXjkbcYSbKL5O/6dr6Zftg3t2A2FUd97acjM1fr2EIvIvRieQ3Hl8qVkDBY9520wm1rzvePUnxQWN70RZiBcqr7O7Gb0gU3l7FkvoUFSbY44HgDJetmVow3yGIV3Tcd45o2MNQ+5F1qvjIjb3/6dkGKce4/kNTYraUMO6o6kfFXlfg+bFRIiz8hiUpbToWdu7g0R5Hq0/YIE5vw/5Ms4gbk2HIQIfOLkY8sEPjYHA==")
	fmt.Println(s, err)
	_, err = c.DecryptSensitive("MTIzNA==")
	fmt.Println(err)
	// Output:
	// plaintext <nil>
	// apiv3: cannot decrypt sensitive field
}

// ParseNotificationBody takes a notification already read, for example
// from a queue that stored the headers and the exact body on receipt.
func ExampleClient_ParseNotificationBody() {
	wx := wxpaytest.NewServer(wxpaytest.Config{AppID: "wxd678efh567hg6787", MchID: "1230000109",
		APIKey: "192006250b4c09247ec02edce69f6a2d", APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"})
	defer wx.Close()
	c, err := apiv3.NewClient(wx.APIv3Config(), wx.APIv3Options()...)
	if err != nil {
		log.Fatal(err)
	}
	type message struct {
		header http.Header
		body   []byte
	}
	queue := make(chan message, 1)
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		queue <- message{r.Header.Clone(), body} // stored on receipt, processed later
		w.WriteHeader(http.StatusNoContent)
	}))
	defer shop.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.PrepayNative(ctx, apiv3.PrepayRequest{
		Description: "自助售货机-可乐", OutTradeNo: "1217752501201407033233368018", NotifyURL: shop.URL, Amount: apiv3.Amount{Total: 100},
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := wx.Pay(wxpaytest.PayOptions{OutTradeNo: "1217752501201407033233368018"}); err != nil {
		log.Fatal(err)
	}

	m := <-queue
	n, err := c.ParseNotificationBody(ctx, m.header, m.body)
	if err != nil {
		log.Fatal(err)
	}
	var tx struct {
		OutTradeNo string `json:"out_trade_no"`
		TradeState string `json:"trade_state"`
	}
	if err := n.Decode(&tx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n.EventType, tx.OutTradeNo, tx.TradeState)

	// The same body with one byte changed no longer verifies.
	m.body[10] ^= 1
	_, err = c.ParseNotificationBody(ctx, m.header, m.body)
	fmt.Println(errors.Is(err, apiv3.ErrSignature))
	// Output:
	// TRANSACTION.SUCCESS 1217752501201407033233368018 SUCCESS
	// true
}
