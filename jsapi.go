package wxpay

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// JSAPIParams are the arguments of wx.requestPayment (mini-programs) and
// WeixinJSBridge.invoke("getBrandWCPayRequest", …) (official-account
// pages). Marshal it to JSON and hand it to the page as it is: the JSON
// names are exactly the ones the front end expects. wx.requestPayment
// takes no appId argument, but the signature covers it, so it is included
// and harmless.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=7_7&index=6
type JSAPIParams struct {
	AppID     string   `json:"appId"`     // the appid the order was placed with
	TimeStamp string   `json:"timeStamp"` // Unix seconds, as a string
	NonceStr  string   `json:"nonceStr"`  // a fresh random string
	Package   string   `json:"package"`   // "prepay_id=" + the prepay_id
	SignType  SignType `json:"signType"`  // "MD5" or "HMAC-SHA256", as configured
	PaySign   string   `json:"paySign"`   // the signature over the five fields above
}

// JSAPIParams signs the front-end payment arguments for a prepay_id from
// [Client.UnifiedOrder] with TradeJSAPI. The signature covers appId,
// nonceStr, package, signType and timeStamp; signType is the client's
// configured sign type, which WeChat requires to equal the one the order
// was placed with. It does no I/O. It is safe for concurrent use.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=7_7&index=6
func (c *Client) JSAPIParams(prepayID string) (*JSAPIParams, error) {
	nonce, ts, err := c.nonceAndTime(prepayID)
	if err != nil {
		return nil, err
	}
	return jsapiParams(c.signer, c.cfg.AppID, prepayID, nonce, ts), nil
}

// jsapiParams builds and signs JSAPIParams from explicit inputs, so the
// official vectors can be checked with their own nonce and time.
func jsapiParams(s *Signer, appID, prepayID, nonce, ts string) *JSAPIParams {
	j := &JSAPIParams{
		AppID:     appID,
		TimeStamp: ts,
		NonceStr:  nonce,
		Package:   "prepay_id=" + prepayID,
		SignType:  s.Type(),
	}
	j.PaySign = s.Sign(Params{
		"appId":     j.AppID,
		"timeStamp": j.TimeStamp,
		"nonceStr":  j.NonceStr,
		"package":   j.Package,
		"signType":  string(j.SignType),
	})
	return j
}

// AppPayParams are the fields of the WeChat mobile SDK's PayReq for an
// in-app payment (TradeApp). The JSON names are the lowercase wire names
// the signature covers; the native SDKs call them appId, partnerId,
// prepayId, packageValue, nonceStr, timeStamp and sign.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/app/app.php?chapter=9_12
type AppPayParams struct {
	AppID     string `json:"appid"`     // the open-platform app's appid
	PartnerID string `json:"partnerid"` // the merchant number (mch_id)
	PrepayID  string `json:"prepayid"`  // from UnifiedOrderResponse.PrepayID
	Package   string `json:"package"`   // always "Sign=WXPay"
	NonceStr  string `json:"noncestr"`  // a fresh random string
	TimeStamp string `json:"timestamp"` // Unix seconds, as a string
	Sign      string `json:"sign"`      // the signature over the six fields above
}

// AppPayParams signs the in-app payment arguments for a prepay_id from
// [Client.UnifiedOrder] with TradeApp. The signature uses the configured
// sign type (it must match the order's) over appid, noncestr, package,
// partnerid, prepayid and timestamp; unlike JSAPI, no sign type is passed
// to the app. It does no I/O. It is safe for concurrent use.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/app/app.php?chapter=9_12
func (c *Client) AppPayParams(prepayID string) (*AppPayParams, error) {
	nonce, ts, err := c.nonceAndTime(prepayID)
	if err != nil {
		return nil, err
	}
	return appPayParams(c.signer, c.cfg.AppID, c.cfg.MchID, prepayID, nonce, ts), nil
}

func appPayParams(s *Signer, appID, mchID, prepayID, nonce, ts string) *AppPayParams {
	a := &AppPayParams{
		AppID:     appID,
		PartnerID: mchID,
		PrepayID:  prepayID,
		Package:   "Sign=WXPay",
		NonceStr:  nonce,
		TimeStamp: ts,
	}
	a.Sign = s.Sign(Params{
		"appid":     a.AppID,
		"partnerid": a.PartnerID,
		"prepayid":  a.PrepayID,
		"package":   a.Package,
		"noncestr":  a.NonceStr,
		"timestamp": a.TimeStamp,
	})
	return a
}

// NativeBizPayURL returns the QR-code content for Native payment mode 1
// (扫码支付模式一): a static code per product. When a payer scans it,
// WeChat calls the scan callback configured in the merchant platform with
// the product_id, and the merchant then places the order. Most merchants
// want mode 2 instead: [Client.UnifiedOrder] with TradeNative returns a
// per-order CodeURL.
//
// productID is your product identifier: 1 to 32 bytes of UTF-8 without
// '&', '=' or control characters (those could reshape the signed string,
// which joins fields with '&' and '='). The result has the
// form weixin://wxpay/bizpayurl?sign=…&appid=…&mch_id=…&product_id=…&time_stamp=…&nonce_str=…,
// signed over appid, mch_id, nonce_str, product_id and time_stamp. It does
// no I/O. It is safe for concurrent use.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/native.php?chapter=6_4
func (c *Client) NativeBizPayURL(productID string) (string, error) {
	if !validProductID(productID) {
		return "", &RequestError{Op: "bizpayurl", Field: "product_id", Reason: "must be 1 to 32 bytes of UTF-8 without '&', '=' or control characters"}
	}
	nonce, err := c.nonce()
	if err != nil {
		return "", err
	}
	ts := strconv.FormatInt(c.now().Unix(), 10)
	return bizPayURL(c.signer, c.cfg.AppID, c.cfg.MchID, productID, nonce, ts), nil
}

func bizPayURL(s *Signer, appID, mchID, productID, nonce, ts string) string {
	sign := s.Sign(Params{
		"appid":      appID,
		"mch_id":     mchID,
		"time_stamp": ts,
		"nonce_str":  nonce,
		"product_id": productID,
	})
	// The field order is the one WeChat documents; values are escaped so
	// that URL syntax in a product_id ('/', '+', spaces) survives.
	return "weixin://wxpay/bizpayurl?sign=" + sign +
		"&appid=" + url.QueryEscape(appID) +
		"&mch_id=" + url.QueryEscape(mchID) +
		"&product_id=" + url.QueryEscape(productID) +
		"&time_stamp=" + ts +
		"&nonce_str=" + nonce
}

// nonceAndTime validates a prepay_id and draws the nonce and timestamp of
// a set of front-end payment arguments.
func (c *Client) nonceAndTime(prepayID string) (nonce, ts string, err error) {
	if prepayID == "" {
		return "", "", &RequestError{Op: "payparams", Field: "prepay_id", Reason: "is required"}
	}
	if len(prepayID) > 64 {
		return "", "", &RequestError{Op: "payparams", Field: "prepay_id", Reason: "is longer than 64 bytes"}
	}
	if strings.ContainsAny(prepayID, "&=") {
		// It is signed inside package=prepay_id=..., where these would
		// reshape the signed string; WeChat's prepay_ids never hold them.
		return "", "", &RequestError{Op: "payparams", Field: "prepay_id", Reason: "may not contain '&' or '='"}
	}
	if nonce, err = c.nonce(); err != nil {
		return "", "", err
	}
	return nonce, strconv.FormatInt(c.now().Unix(), 10), nil
}

// validProductID accepts what WeChat allows for product_id (String(32))
// except '&', '=' and control characters: a caller-chosen id holding them
// could reshape the canonical string this package signs for it.
func validProductID(s string) bool {
	if s == "" || len(s) > 32 || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '&' || c == '=' || c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
