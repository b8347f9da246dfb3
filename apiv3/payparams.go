package apiv3

import (
	"strconv"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// SignTypeRSA is the signType of v3 pay parameters: RSA-SHA256 with the
// merchant API private key. (MD5 and HMAC-SHA256 are API v2's; a v3
// prepay_id signed that way fails with 支付验证签名失败.)
const SignTypeRSA = "RSA"

// JSAPIPayParams are the arguments of wx.requestPayment (mini-programs)
// and WeixinJSBridge.invoke("getBrandWCPayRequest", …) (official-account
// pages) for a v3 prepay_id. Marshal it to JSON and hand it to the page:
// the JSON names are exactly the ones the front end expects.
// wx.requestPayment takes no appId argument, but paySign covers it, so it
// is included and harmless.
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/development/generate-turitup-signature-verification/mini-transfer-payment-signature.html,
// https://developers.weixin.qq.com/miniprogram/dev/api/payment/wx.requestPayment.html
type JSAPIPayParams struct {
	AppID     string `json:"appId"`     // the appid the order was placed with
	TimeStamp string `json:"timeStamp"` // Unix seconds, as a string
	NonceStr  string `json:"nonceStr"`  // a fresh random string of 32 letters and digits
	Package   string `json:"package"`   // "prepay_id=" + the prepay_id
	SignType  string `json:"signType"`  // always "RSA"
	PaySign   string `json:"paySign"`   // RSA-SHA256 over appId, timeStamp, nonceStr and package
}

// AppPayParams are the fields of the WeChat OpenSDK's PayReq for an
// in-app payment. The JSON names are the lower-case wire names; the
// native SDKs call them appId, partnerId, prepayId, packageValue,
// nonceStr, timeStamp and sign.
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/development/generate-turitup-signature-verification/app-transfer-payment-signature.html,
// https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter5_1_6.shtml
type AppPayParams struct {
	AppID     string `json:"appid"`     // the open-platform app's appid
	PartnerID string `json:"partnerid"` // the merchant number (mchid)
	PrepayID  string `json:"prepayid"`  // from PrepayApp
	Package   string `json:"package"`   // always "Sign=WXPay"
	NonceStr  string `json:"noncestr"`  // a fresh random string of 32 letters and digits
	TimeStamp string `json:"timestamp"` // Unix seconds, as a string
	Sign      string `json:"sign"`      // RSA-SHA256 over appid, timestamp, noncestr and prepayid
}

// JSAPIPayParams signs the front-end payment arguments for a prepay_id
// of [Client.PrepayJSAPI]: paySign is RSA-SHA256 with the merchant API
// private key over the four lines
//
//	appId\ntimeStamp\nnonceStr\npackage\n
//
// appID is the appid the order was placed with; empty means
// Config.AppID. It does no I/O and is safe for concurrent use.
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/development/generate-turitup-signature-verification/mini-transfer-payment-signature.html
func (c *Client) JSAPIPayParams(appID, prepayID string) (*JSAPIPayParams, error) {
	appID, nonce, ts, err := c.payParamsInputs("jsapi payparams", appID, prepayID)
	if err != nil {
		return nil, err
	}
	return c.jsapiPayParams(appID, prepayID, nonce, ts)
}

// jsapiPayParams signs with the nonce and timestamp given, so that the
// published vectors can be reproduced.
func (c *Client) jsapiPayParams(appID, prepayID, nonce, ts string) (*JSAPIPayParams, error) {
	p := &JSAPIPayParams{AppID: appID, TimeStamp: ts, NonceStr: nonce, Package: "prepay_id=" + prepayID, SignType: SignTypeRSA}
	sig, err := c.signMessage(payMessage(p.AppID, p.TimeStamp, p.NonceStr, p.Package))
	if err != nil {
		return nil, &opError{"jsapi payparams", err}
	}
	p.PaySign = sig
	return p, nil
}

// AppPayParams signs the in-app payment arguments for a prepay_id of
// [Client.PrepayApp]: sign is RSA-SHA256 with the merchant API private
// key over the four lines
//
//	appid\ntimestamp\nnoncestr\nprepayid\n
//
// with the bare prepay_id on the fourth line (not "prepay_id=…" as for
// JSAPI: mixing the two up is the most common cause of 支付验证签名失败).
// appID is the app's appid; empty means Config.AppID. It does no I/O and
// is safe for concurrent use.
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/development/generate-turitup-signature-verification/app-transfer-payment-signature.html
func (c *Client) AppPayParams(appID, prepayID string) (*AppPayParams, error) {
	appID, nonce, ts, err := c.payParamsInputs("app payparams", appID, prepayID)
	if err != nil {
		return nil, err
	}
	return c.appPayParams(appID, prepayID, nonce, ts)
}

func (c *Client) appPayParams(appID, prepayID, nonce, ts string) (*AppPayParams, error) {
	p := &AppPayParams{AppID: appID, PartnerID: c.mchID, PrepayID: prepayID, Package: "Sign=WXPay", NonceStr: nonce, TimeStamp: ts}
	sig, err := c.signMessage(payMessage(p.AppID, p.TimeStamp, p.NonceStr, p.PrepayID))
	if err != nil {
		return nil, &opError{"app payparams", err}
	}
	p.Sign = sig
	return p, nil
}

// payMessage is the string both pay parameters sign: four lines, each
// ending in '\n'.
func payMessage(appID, ts, nonce, fourth string) []byte {
	b := make([]byte, 0, len(appID)+len(ts)+len(nonce)+len(fourth)+4)
	for _, s := range [...]string{appID, ts, nonce, fourth} {
		b = append(b, s...)
		b = append(b, '\n')
	}
	return b
}

// payParamsInputs checks appID and prepayID and draws the nonce and
// timestamp. Every value is one line of the signed string, so a line
// break (or anything but WeChat's alphabet) in one would let it forge
// another line: prepay_ids are letters and digits, appids letters,
// digits and '_'.
func (c *Client) payParamsInputs(op, appID, prepayID string) (string, string, string, error) {
	if appID == "" {
		appID = c.appID
	}
	if appID == "" {
		return "", "", "", &RequestError{Op: op, Field: "appid", Reason: "is required: set Config.AppID or pass the order's appid"}
	}
	if err := checkAppID(op, "appid", appID); err != nil {
		return "", "", "", err
	}
	if prepayID == "" {
		return "", "", "", &RequestError{Op: op, Field: "prepay_id", Reason: "is required"}
	}
	if len(prepayID) > 64 {
		return "", "", "", &RequestError{Op: op, Field: "prepay_id", Reason: "is longer than 64 bytes"}
	}
	for i := 0; i < len(prepayID); i++ {
		ch := prepayID[i]
		if !('0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || ch == '_' || ch == '-') {
			return "", "", "", &RequestError{Op: op, Field: "prepay_id", Reason: "may hold only letters, digits, '_' and '-' (as WeChat's prepay_ids do)"}
		}
	}
	nonce, err := wire.Nonce(c.rand)
	if err != nil {
		return "", "", "", &opError{op, &signError{err}}
	}
	return appID, nonce, strconv.FormatInt(c.now().Unix(), 10), nil
}
