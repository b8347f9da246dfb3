package wxpaytest

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/wxpay-go/wxpay"
)

// userPayRoutes is the fake's endpoint that plays the payer confirming
// wx.requestPayment.
var userPayRoutes = []route{
	{path: "/wxpaytest/pay", proto: protoRaw, serve: (*Fake).serveUserPay},
}

// serveUserPay answers POST /wxpaytest/pay: the wx.requestPayment
// arguments, checked as WeChat's server checks them, then paid as Fake.Pay
// pays.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=7_7&index=6
func (f *Fake) serveUserPay(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		writeJSON(w, status, map[string]string{"error": msg, "err_msg": "requestPayment:fail " + msg})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, "POST only")
		return
	}
	var in wxpay.JSAPIParams
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	if err := dec.Decode(&in); err != nil {
		fail(http.StatusBadRequest, "body must be the wx.requestPayment arguments as JSON")
		return
	}
	if msg := f.checkPaySign(&in); msg != "" {
		fail(http.StatusBadRequest, msg)
		return
	}
	o, err := f.Pay(PayOptions{PrepayID: strings.TrimPrefix(in.Package, "prepay_id=")})
	switch {
	case errors.Is(err, ErrNoOrder):
		fail(http.StatusNotFound, "no order has this prepay_id")
		return
	case errors.Is(err, ErrOrderPaid), errors.Is(err, ErrOrderClosed), errors.Is(err, ErrPrepayExpired):
		fail(http.StatusConflict, strings.TrimPrefix(err.Error(), "wxpaytest: "))
		return
	case err != nil:
		fail(http.StatusServiceUnavailable, strings.TrimPrefix(err.Error(), "wxpaytest: "))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"result":         "SUCCESS",
		"err_msg":        "requestPayment:ok",
		"out_trade_no":   o.OutTradeNo,
		"transaction_id": o.TransactionID,
	})
}

// checkPaySign checks the five signed wx.requestPayment fields and returns
// why they are refused, or "".
func (f *Fake) checkPaySign(in *wxpay.JSAPIParams) string {
	appID := in.AppID
	if appID == "" {
		appID = f.cfg.AppID // wx.requestPayment takes none: the mini-program's own
	}
	switch {
	case appID != f.cfg.AppID:
		return "appId is not the merchant's appid"
	case in.TimeStamp == "" || len(in.TimeStamp) > 32 || strings.Trim(in.TimeStamp, "0123456789") != "":
		return "timeStamp must be Unix seconds as a string"
	case in.NonceStr == "" || len(in.NonceStr) > 32:
		return "nonceStr must be 1 to 32 characters"
	case !strings.HasPrefix(in.Package, "prepay_id=") || len(in.Package) == len("prepay_id="):
		return "package must be prepay_id=<prepay_id>"
	case in.SignType != f.signType:
		return "signType must be the order's sign type"
	case in.PaySign == "":
		return "paySign missing"
	}
	p := map[string]string{
		"appId":     appID,
		"timeStamp": in.TimeStamp,
		"nonceStr":  in.NonceStr,
		"package":   in.Package,
		"signType":  string(in.SignType),
		"sign":      in.PaySign,
	}
	if !signOK(p, f.key, f.signType) {
		return "paySign is wrong"
	}
	return ""
}
