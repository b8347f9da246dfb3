package wxpaytest

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/v3wire"
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
	check := f.checkPaySign
	if in.SignType == signTypeRSA {
		check = f.checkV3PaySign
	}
	if msg := check(&in); msg != "" {
		fail(http.StatusBadRequest, msg)
		return
	}
	// A v3 order is paid with an RSA paySign, a v2 order with the
	// merchant's v2 algorithm: WeChat refuses the mix.
	if o := f.orderByPrepay(strings.TrimPrefix(in.Package, "prepay_id=")); o != nil && o.APIv3 != (in.SignType == signTypeRSA) {
		if o.APIv3 {
			fail(http.StatusBadRequest, "signType must be RSA for an order placed through API v3")
		} else {
			fail(http.StatusBadRequest, "signType RSA is for orders placed through API v3")
		}
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

// signTypeRSA is the signType of v3's payment parameters.
const signTypeRSA wxpay.SignType = "RSA"

// orderByPrepay is the order with this prepay_id, or nil.
func (f *Fake) orderByPrepay(prepayID string) *order {
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	return f.orders.byPrepay[prepayID]
}

// checkV3PaySign checks the RSA paySign of v3's wx.requestPayment
// arguments: SHA256withRSA by the merchant's API key over
// appId\ntimeStamp\nnonceStr\npackage\n (signType is not signed).
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/development/generate-turitup-signature-verification/mini-transfer-payment-signature.html
func (f *Fake) checkV3PaySign(in *wxpay.JSAPIParams) string {
	if f.v3 == nil {
		return "signType RSA needs API v3 (Config.APIv3Key)"
	}
	appID := in.AppID
	if appID == "" {
		appID = f.cfg.AppID
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
	case in.PaySign == "":
		return "paySign missing"
	}
	if v3wire.Verify(f.v3.mchPub, v3wire.PayMessage(appID, in.TimeStamp, in.NonceStr, in.Package), in.PaySign) != nil {
		return "paySign is wrong"
	}
	return ""
}
