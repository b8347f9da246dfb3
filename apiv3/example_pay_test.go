package apiv3_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
)

// payWeChat is a stand-in WeChat Pay for the payment examples. Like
// WeChat it checks each request's Authorization header against the
// merchant's public key (answering 401 SIGN_ERROR, unsigned, when it
// fails), and signs every answer with the WeChat Pay public key's private
// half (the documentation key, testdata/v3/k-off.pem).
type payWeChat struct {
	*httptest.Server
	routes map[string]func(body []byte) (int, string) // "METHOD /path" → answer
}

func newPayWeChat() *payWeChat {
	blk, _ := pem.Decode(mustRead("k-off.pem"))
	wechatKey, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		panic(err)
	}
	merchant := &mustKey("k-wj.pem").PublicKey
	p := &payWeChat{routes: map[string]func([]byte) (int, string){}}
	p.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !payCheckAuth(merchant, r, body) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"code":"SIGN_ERROR","message":"签名错误"}`)
			return
		}
		status, out := 404, `{"code":"NOT_FOUND","message":"no route"}`
		if h := p.routes[r.Method+" "+r.URL.Path]; h != nil {
			status, out = h(body)
		}
		ts := strconv.FormatInt(exampleNow.Unix(), 10)
		d := sha256.Sum256([]byte(ts + "\nexample-nonce\n" + out + "\n"))
		sig, _ := rsa.SignPKCS1v15(nil, wechatKey, crypto.SHA256, d[:])
		w.Header().Set("Wechatpay-Serial", "PUB_KEY_ID_0114232134912410000000000000")
		w.Header().Set("Wechatpay-Timestamp", ts)
		w.Header().Set("Wechatpay-Nonce", "example-nonce")
		w.Header().Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(sig))
		if out != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, out)
	}))
	return p
}

// payCheckAuth verifies a request's signature as WeChat does.
func payCheckAuth(pub *rsa.PublicKey, r *http.Request, body []byte) bool {
	a, ok := strings.CutPrefix(r.Header.Get("Authorization"), "WECHATPAY2-SHA256-RSA2048 ")
	if !ok {
		return false
	}
	items := map[string]string{}
	for _, kv := range strings.Split(a, ",") {
		k, v, _ := strings.Cut(kv, "=")
		items[k] = strings.Trim(v, `"`)
	}
	msg := r.Method + "\n" + r.URL.RequestURI() + "\n" + items["timestamp"] + "\n" + items["nonce_str"] + "\n" + string(body) + "\n"
	sig, err := base64.StdEncoding.DecodeString(items["signature"])
	d := sha256.Sum256([]byte(msg))
	return err == nil && items["mchid"] == "1230000109" && rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) == nil
}

// client is the merchant of the examples: on the WeChat Pay public key,
// with the mini-program's appid and the notify_url as defaults.
func (p *payWeChat) client() *apiv3.Client {
	c, err := apiv3.NewClient(apiv3.Config{
		MchID:            "1230000109",
		AppID:            "wxd678efh567hg6787",
		NotifyURL:        "https://merchant.example/wxpay/v3/notify",
		MerchantSerialNo: "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
		PrivateKey:       mustRead("k-wj.pem"),
		APIv3Key:         exampleAPIv3Key,
		PublicKeyID:      "PUB_KEY_ID_0114232134912410000000000000",
		PublicKey:        mustRead("k-off.pub.pem"),
	}, apiv3.WithBaseURL(p.URL), apiv3.WithHTTPClient(p.Client()), apiv3.WithClock(func() time.Time { return exampleNow }))
	if err != nil {
		panic(err)
	}
	return c
}

// A mini-program checkout: place the order for the payer's openid, then
// sign the arguments of wx.requestPayment and hand them to the page.
func ExampleClient_PrepayJSAPI() {
	wx := newPayWeChat()
	defer wx.Close()
	wx.routes["POST /v3/pay/transactions/jsapi"] = func(body []byte) (int, string) {
		fmt.Println("WeChat got:", string(body))
		return 200, `{"prepay_id":"wx201410272009395522657a690389285100"}`
	}
	c := wx.client()

	order, err := c.PrepayJSAPI(context.Background(), apiv3.PrepayRequest{
		Description: "Image形象店-深圳腾大-QQ公仔",
		OutTradeNo:  "1217752501201407033233368018",
		Amount:      apiv3.Amount{Total: 100}, // fen: 1.00 yuan
		Payer:       &apiv3.Payer{OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	params, err := c.JSAPIPayParams("", order.PrepayID) // "" = Config.AppID
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(params.AppID, params.TimeStamp, params.Package, params.SignType, len(params.PaySign) > 0)
	// Output:
	// WeChat got: {"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://merchant.example/wxpay/v3/notify","amount":{"total":100},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}
	// wxd678efh567hg6787 1767337445 prepay_id=wx201410272009395522657a690389285100 RSA true
}

// An in-app checkout: the app's appid (here given per request) and the
// fields of the OpenSDK's PayReq.
func ExampleClient_PrepayApp() {
	wx := newPayWeChat()
	defer wx.Close()
	wx.routes["POST /v3/pay/transactions/app"] = func([]byte) (int, string) {
		return 200, `{"prepay_id":"wx2016121516420242444321ca0631331346"}`
	}
	c := wx.client()
	order, err := c.PrepayApp(context.Background(), apiv3.PrepayRequest{
		AppID: "wx8888888888888888", Description: "会员月卡", OutTradeNo: "APP20260102150405", Amount: apiv3.Amount{Total: 1500},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	req, err := c.AppPayParams("wx8888888888888888", order.PrepayID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.AppID, req.PartnerID, req.PrepayID, req.Package)
	// Output:
	// wx8888888888888888 1230000109 wx2016121516420242444321ca0631331346 Sign=WXPay
}

// H5 payment from a mobile browser outside WeChat: send the browser to
// h5_url (valid five minutes).
func ExampleClient_PrepayH5() {
	wx := newPayWeChat()
	defer wx.Close()
	wx.routes["POST /v3/pay/transactions/h5"] = func([]byte) (int, string) {
		return 200, `{"h5_url":"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2916263004719461949c84457c735b0000&package=2150917749"}`
	}
	c := wx.client()
	order, err := c.PrepayH5(context.Background(), apiv3.PrepayRequest{
		Description: "会员月卡", OutTradeNo: "H520260102150405", Amount: apiv3.Amount{Total: 1500},
		SceneInfo: &apiv3.SceneInfo{PayerClientIP: "203.0.113.7", H5Info: &apiv3.H5Info{Type: apiv3.H5Wap}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.HasPrefix(order.H5URL, "https://wx.tenpay.com/"))

	// A missing H5 scene is caught before anything is sent.
	_, err = c.PrepayH5(context.Background(), apiv3.PrepayRequest{Description: "会员月卡", OutTradeNo: "H520260102150406", Amount: apiv3.Amount{Total: 1500}})
	fmt.Println(err)
	// Output:
	// true
	// apiv3: transactions/h5: invalid scene_info.h5_info: is required for H5 payments
}

// Native payment: render code_url as a QR code.
func ExampleClient_PrepayNative() {
	wx := newPayWeChat()
	defer wx.Close()
	wx.routes["POST /v3/pay/transactions/native"] = func([]byte) (int, string) {
		return 200, `{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}`
	}
	order, err := wx.client().PrepayNative(context.Background(), apiv3.PrepayRequest{
		Description: "自助售货机-可乐", OutTradeNo: "NATIVE202601020001", Amount: apiv3.Amount{Total: 300},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(order.CodeURL)
	// Output:
	// weixin://wxpay/bizpayurl?pr=p4lpSuKzz
}

// JSAPIPayParams marshals to the object wx.requestPayment takes.
func ExampleClient_JSAPIPayParams() {
	wx := newPayWeChat()
	defer wx.Close()
	params, err := wx.client().JSAPIPayParams("", "wx201410272009395522657a690389285100")
	if err != nil {
		fmt.Println(err)
		return
	}
	var fields map[string]string
	b, _ := json.Marshal(params)
	_ = json.Unmarshal(b, &fields)
	fmt.Println(fields["package"], fields["signType"], len(fields["nonceStr"]), fields["paySign"] != "")
	// Output:
	// prepay_id=wx201410272009395522657a690389285100 RSA 32 true
}

// AppPayParams fills the OpenSDK's PayReq.
func ExampleClient_AppPayParams() {
	wx := newPayWeChat()
	defer wx.Close()
	p, err := wx.client().AppPayParams("wx8888888888888888", "wx2016121516420242444321ca0631331346")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.PartnerID, p.Package, p.TimeStamp, len(p.NonceStr), p.Sign != "")
	// Output:
	// 1230000109 Sign=WXPay 1767337445 32 true
}

// Query an order by the merchant's number: the only query for an unpaid
// order.
func ExampleClient_QueryByOutTradeNo() {
	wx := newPayWeChat()
	defer wx.Close()
	wx.routes["GET /v3/pay/transactions/out-trade-no/1217752501201407033233368018"] = func([]byte) (int, string) {
		return 200, `{"appid":"wxd678efh567hg6787","mchid":"1230000109","out_trade_no":"1217752501201407033233368018","transaction_id":"4200000000000000000000000001","trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"支付成功","success_time":"2026-01-02T15:04:05+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":100,"payer_total":90,"currency":"CNY","payer_currency":"CNY"}}`
	}
	wx.routes["GET /v3/pay/transactions/out-trade-no/UNKNOWN0001"] = func([]byte) (int, string) {
		return 404, `{"code":"ORDER_NOT_EXIST","message":"订单不存在"}`
	}
	c := wx.client()
	t, err := c.QueryByOutTradeNo(context.Background(), "1217752501201407033233368018")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(t.TradeState, t.TradeState.Paid(), t.Amount.Total, t.Amount.PayerTotal, t.SuccessTime.UTC().Format(time.RFC3339))

	_, err = c.QueryByOutTradeNo(context.Background(), "UNKNOWN0001")
	var e *apiv3.Error
	fmt.Println(errors.As(err, &e) && e.Code == apiv3.ErrCodeOrderNotExist)
	// Output:
	// SUCCESS true 100 90 2026-01-02T07:04:05Z
	// true
}

// Query a paid order by WeChat's number.
func ExampleClient_QueryByTransactionID() {
	wx := newPayWeChat()
	defer wx.Close()
	wx.routes["GET /v3/pay/transactions/id/4200000000000000000000000001"] = func([]byte) (int, string) {
		return 200, `{"appid":"wxd678efh567hg6787","mchid":"1230000109","out_trade_no":"1217752501201407033233368018","transaction_id":"4200000000000000000000000001","trade_state":"REFUND","trade_state_desc":"转入退款","success_time":"2026-01-02T15:04:05+08:00","amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}`
	}
	t, err := wx.client().QueryByTransactionID(context.Background(), "4200000000000000000000000001")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(t.OutTradeNo, t.TradeState, t.TradeState.Paid())
	// Output:
	// 1217752501201407033233368018 REFUND true
}

// Close an abandoned order; a paid one cannot be closed.
func ExampleClient_CloseOrder() {
	wx := newPayWeChat()
	defer wx.Close()
	wx.routes["POST /v3/pay/transactions/out-trade-no/1217752501201407033233368018/close"] = func(body []byte) (int, string) {
		fmt.Println("WeChat got:", string(body))
		return 204, ""
	}
	wx.routes["POST /v3/pay/transactions/out-trade-no/PAID00000001/close"] = func([]byte) (int, string) {
		return 403, `{"code":"ORDERPAID","message":"该订单已支付"}`
	}
	c := wx.client()
	fmt.Println(c.CloseOrder(context.Background(), "1217752501201407033233368018"))
	err := c.CloseOrder(context.Background(), "PAID00000001")
	var e *apiv3.Error
	fmt.Println(errors.As(err, &e) && e.Code == apiv3.ErrCodeOrderPaid, apiv3.Retryable(err))
	// Output:
	// WeChat got: {"mchid":"1230000109"}
	// <nil>
	// true false
}

// Mount NotifyHandler at notify_url: fn sees only verified payments of
// this merchant and appid; WeChat gets 204 once fn returned nil.
func ExampleClient_NotifyHandler() {
	now := time.Unix(1767337446, 0)
	wx := newPayWeChat()
	defer wx.Close()
	c, err := apiv3.NewClient(apiv3.Config{
		MchID:            "1230000109",
		AppID:            "wxd678efh567hg6787",
		MerchantSerialNo: "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
		PrivateKey:       mustRead("k-wj.pem"),
		APIv3Key:         "0123456789abcdefghijABCDEFGHIJ01",
		PublicKeyID:      "PUB_KEY_ID_0114232134912410000000000000",
		PublicKey:        mustRead("k-off.pub.pem"),
	}, apiv3.WithClock(func() time.Time { return now }))
	if err != nil {
		fmt.Println(err)
		return
	}
	handler := c.NotifyHandler(func(ctx context.Context, n *apiv3.PaymentNotification) error {
		t := n.Transaction
		// Look the order up by t.OutTradeNo, check t.Amount.Total against
		// it, and mark it paid once (idempotently) before returning nil.
		fmt.Println("paid:", t.OutTradeNo, t.Amount.Total, "fen by", t.Payer.OpenID)
		return nil
	})
	// http.Handle("/wxpay/v3/notify", handler) in a real server.
	paid := `{"mchid":"1230000109","appid":"wxd678efh567hg6787","out_trade_no":"1217752501201407033233368018","transaction_id":"4200000000000000000000000001","trade_type":"JSAPI","trade_state":"SUCCESS","success_time":"2026-01-02T15:04:05+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}`
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, fakeWeChatNotification(now, paid))
	fmt.Println("answer:", w.Code)

	// A genuine notification of another merchant is refused; fn never runs.
	w = httptest.NewRecorder()
	handler.ServeHTTP(w, fakeWeChatNotification(now, strings.Replace(paid, "1230000109", "1900000109", 1)))
	fmt.Println("other merchant:", w.Code, w.Body.String())
	// Output:
	// paid: 1217752501201407033233368018 100 fen by oUpF8uMuAJO_M2pxb1Q9zNjWeS6o
	// answer: 204
	// other merchant: 400 {"code":"FAIL","message":"invalid notification"}
}
