package wxpay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/wxpay-go/wxpay"
)

func ExampleNewClient() {
	c, err := wxpay.NewClient(wxpay.Config{
		AppID:     "wxd930ea5d5a258f4f",
		MchID:     "10000100",
		APIKey:    "192006250b4c09247ec02edce69f6a2d", // load it from a secret store
		SignType:  wxpay.SignHMACSHA256,
		NotifyURL: "https://example.com/wxpay/notify",
	}, wxpay.WithFailover(wxpay.BackupBaseURL))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.AppID(), c.MchID(), c.Signer().Type())
	// Output: wxd930ea5d5a258f4f 10000100 HMAC-SHA256
}

func ExampleClient_UnifiedOrder() {
	cfg := wxpay.Config{
		AppID:     "wxd930ea5d5a258f4f",
		MchID:     "10000100",
		APIKey:    "192006250b4c09247ec02edce69f6a2d",
		NotifyURL: "https://example.com/wxpay/notify",
	}
	// An in-process server plays WeChat so the example runs offline: it
	// checks the request's signature and answers with a signed prepay_id.
	// In production, leave out WithBaseURL.
	srv := fakeWeChat(cfg, func(req wxpay.Params) wxpay.Params {
		return wxpay.Params{
			"result_code": "SUCCESS",
			"trade_type":  req["trade_type"],
			"prepay_id":   "wx201410272009395522657a690389285100",
		}
	})
	defer srv.Close()

	c, err := wxpay.NewClient(cfg, wxpay.WithBaseURL(srv.URL+"/sandbox"))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
		Body:           "腾讯充值中心-QQ会员充值",
		OutTradeNo:     "20150806125346",
		TotalFee:       888, // fen: 8.88 yuan
		SpbillCreateIP: "123.12.12.123",
		TradeType:      wxpay.TradeJSAPI,
		OpenID:         "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.PrepayID)
	// Output: wx201410272009395522657a690389285100
}

func ExampleClient_OrderQuery() {
	cfg := wxpay.Config{
		AppID:  "wxd930ea5d5a258f4f",
		MchID:  "10000100",
		APIKey: "192006250b4c09247ec02edce69f6a2d",
	}
	// An in-process server plays WeChat so the example runs offline: it
	// checks the request's signature and answers, signed, that the order
	// was paid. In production, leave out WithBaseURL.
	srv := fakeWeChat(cfg, func(req wxpay.Params) wxpay.Params {
		return wxpay.Params{
			"result_code":      "SUCCESS",
			"out_trade_no":     req["out_trade_no"],
			"trade_state":      "SUCCESS",
			"trade_state_desc": "支付成功",
			"transaction_id":   "1004400740201409030005092168",
			"trade_type":       "JSAPI",
			"openid":           "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
			"bank_type":        "CMC",
			"total_fee":        "888",
			"cash_fee":         "888",
			"time_end":         "20150806130102",
		}
	})
	defer srv.Close()

	c, err := wxpay.NewClient(cfg, wxpay.WithBaseURL(srv.URL+"/sandbox"))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// An order WeChat does not know arrives as an *wxpay.Error with Code
	// wxpay.ErrCodeOrderNotExist; a transport error leaves the state
	// unknown, so ask again later.
	r, err := c.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: "20150806125346"})
	if err != nil {
		log.Fatal(err)
	}
	switch r.TradeState {
	case wxpay.TradeStateSuccess:
		// Compare TotalFee with the stored order before fulfilling it.
		beijing := time.FixedZone("CST", 8*60*60)
		fmt.Println("paid", r.TotalFee, "fen at", r.TimeEnd.In(beijing).Format(time.DateTime), "as", r.TransactionID)
	case wxpay.TradeStateNotPay:
		fmt.Println("not paid: wait for the notification, or close the order")
	case wxpay.TradeStateUserPaying, wxpay.TradeStateAccept:
		fmt.Println("payment in progress: query again shortly")
	case wxpay.TradeStateClosed, wxpay.TradeStateRevoked, wxpay.TradeStatePayError:
		fmt.Println("will not be paid: place a new order under a new number")
	default: // TradeStateRefund, or a state added later
		fmt.Println(r.TradeState, r.TradeStateDesc)
	}
	// Output: paid 888 fen at 2015-08-06 13:01:02 as 1004400740201409030005092168
}

func ExampleClient_CloseOrder() {
	cfg := wxpay.Config{
		AppID:  "wxd930ea5d5a258f4f",
		MchID:  "10000100",
		APIKey: "192006250b4c09247ec02edce69f6a2d",
	}
	// An in-process server plays WeChat so the example runs offline: it
	// checks the request's signature and answers, signed, that the payer
	// paid before the order could be closed. In production, leave out
	// WithBaseURL.
	srv := fakeWeChat(cfg, func(req wxpay.Params) wxpay.Params {
		return wxpay.Params{
			"result_code":  "FAIL",
			"err_code":     "ORDERPAID",
			"err_code_des": "订单已支付",
		}
	})
	defer srv.Close()

	c, err := wxpay.NewClient(cfg, wxpay.WithBaseURL(srv.URL+"/sandbox"))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = c.CloseOrder(ctx, &wxpay.CloseOrderRequest{OutTradeNo: "20150806125346"})
	var we *wxpay.Error
	switch {
	case err == nil:
		fmt.Println("closed: place a new order under a new number")
	case errors.As(err, &we) && we.Code == wxpay.ErrCodeOrderPaid:
		// Not a failure to retry: the payer paid meanwhile. Confirm with
		// OrderQuery and fulfil the order instead of closing it.
		fmt.Println(we.Code, "- treat the order as paid")
	case errors.As(err, &we) && we.Code == wxpay.ErrCodeOrderClosed:
		fmt.Println("already closed")
	case errors.As(err, &we) && we.Retryable():
		fmt.Println("call CloseOrder again")
	default:
		log.Fatal(err)
	}
	// Output: ORDERPAID - treat the order as paid
}

func ExampleClient_JSAPIParams() {
	c, err := wxpay.NewClient(wxpay.Config{
		AppID:  "wxd930ea5d5a258f4f",
		MchID:  "10000100",
		APIKey: "192006250b4c09247ec02edce69f6a2d",
	},
		// A fixed clock and all-zero "randomness" make the output
		// reproducible; never do this outside tests.
		wxpay.WithClock(func() time.Time { return time.Unix(1414488825, 0) }),
		wxpay.WithRand(bytes.NewReader(make([]byte, 64))),
	)
	if err != nil {
		log.Fatal(err)
	}
	p, err := c.JSAPIParams("wx201410272009395522657a690389285100")
	if err != nil {
		log.Fatal(err)
	}
	// Hand this JSON to wx.requestPayment in the mini-program.
	out, _ := json.MarshalIndent(p, "", "  ")
	fmt.Println(string(out))
	// Output:
	// {
	//   "appId": "wxd930ea5d5a258f4f",
	//   "timeStamp": "1414488825",
	//   "nonceStr": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	//   "package": "prepay_id=wx201410272009395522657a690389285100",
	//   "signType": "MD5",
	//   "paySign": "332CF3D8EA58C3599FB2B583B8F1E710"
	// }
}

// fakeWeChat starts an in-process server that plays WeChat Pay under the
// path prefix /sandbox, so that the examples run offline. It verifies each
// request with the merchant's key, then answers with the fields answer
// returns plus return_code, appid, mch_id and nonce_str, signed. In
// production there is no such server: leave out WithBaseURL.
func fakeWeChat(cfg wxpay.Config, answer func(req wxpay.Params) wxpay.Params) *httptest.Server {
	signer, err := wxpay.NewSigner(cfg.APIKey, cfg.SignType)
	if err != nil {
		panic(err)
	}
	return httptest.NewServer(http.StripPrefix("/sandbox", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		req, err := wxpay.DecodeXML(body)
		if err != nil || signer.Verify(req) != nil {
			_, _ = io.WriteString(w, "<xml><return_code>FAIL</return_code><return_msg>签名失败</return_msg></xml>")
			return
		}
		a := answer(req)
		a["return_code"] = "SUCCESS"
		a["appid"], a["mch_id"] = req["appid"], req["mch_id"]
		a["nonce_str"] = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
		a["sign"] = signer.Sign(a)
		out, _ := wxpay.EncodeXML(a)
		_, _ = w.Write(out)
	})))
}
