package apiv3

import (
	"context"
	"net/http"
	"net/netip"
	"time"
	"unicode/utf8"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// The prepay endpoints (下单). Each places an order under out_trade_no;
// calling again with identical parameters returns the same prepay_id or
// URL, so an ambiguous failure says to retry with the same out_trade_no.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012525167
var (
	epPrepayJSAPI  = endpoint{op: "transactions/jsapi", method: http.MethodPost, path: "/v3/pay/transactions/jsapi", key: "out_trade_no"}
	epPrepayApp    = endpoint{op: "transactions/app", method: http.MethodPost, path: "/v3/pay/transactions/app", key: "out_trade_no"}
	epPrepayH5     = endpoint{op: "transactions/h5", method: http.MethodPost, path: "/v3/pay/transactions/h5", key: "out_trade_no"}
	epPrepayNative = endpoint{op: "transactions/native", method: http.MethodPost, path: "/v3/pay/transactions/native", key: "out_trade_no"}
)

// PrepayRequest is an order to place with [Client.PrepayJSAPI],
// [Client.PrepayApp], [Client.PrepayH5] or [Client.PrepayNative]. Every
// field is checked before anything is sent; a field that breaks one of
// WeChat's rules is a [*RequestError] naming it.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012525167
type PrepayRequest struct {
	// AppID is the appid to place the order under; empty means
	// Config.AppID. For a mini-program it is the mini-program's appid,
	// for JSAPI the official account's, for APP the open-platform app's.
	AppID string
	// Description is what the payer sees in their bill (description),
	// required, at most 127 characters.
	Description string
	// OutTradeNo is the merchant's order number (out_trade_no): 6 to 32
	// of digits, letters and _-|*, unique per merchant. Retrying under
	// the same number is safe; a new number is a new order.
	OutTradeNo string
	// TimeExpire is when the order stops accepting payment
	// (time_expire); zero means WeChat's default (7 days). It is sent in
	// UTC+8 to the second.
	TimeExpire time.Time
	// Attach is echoed in the query answer and the notification
	// (attach), at most 128 characters; the payer never sees it.
	Attach string
	// NotifyURL is where WeChat posts the payment notification
	// (notify_url); empty means Config.NotifyURL. One of the two is
	// required.
	NotifyURL string
	// GoodsTag is the coupon tag (goods_tag), at most 32 bytes.
	GoodsTag string
	// SupportFapiao asks for an electronic invoice (support_fapiao).
	SupportFapiao bool
	// Amount is the order amount: Total in fen (required, positive),
	// Currency (empty means CNY).
	Amount Amount
	// Payer is the payer (payer.openid): required by PrepayJSAPI, and
	// refused by the others, which have no payer field.
	Payer *Payer
	// Detail is the optional goods detail (detail).
	Detail *OrderDetail
	// SceneInfo is the payment scene (scene_info); required by
	// PrepayH5, with PayerClientIP and H5Info.
	SceneInfo *SceneInfo
	// SettleInfo carries settle_info.profit_sharing, which must be true
	// to share the payment's profit later.
	SettleInfo *SettleInfo
}

// OrderDetail is the goods detail of an order (detail), for single-item
// coupons.
type OrderDetail struct {
	// CostPrice is the order's original price in fen (cost_price);
	// 0 omits it.
	CostPrice int64 `json:"cost_price,omitempty"`
	// InvoiceID is the merchant's receipt id (invoice_id).
	InvoiceID string `json:"invoice_id,omitempty"`
	// Goods lists the items (goods_detail).
	Goods []GoodsDetail `json:"goods_detail,omitempty"`
}

// GoodsDetail is one item of [OrderDetail].
type GoodsDetail struct {
	// MerchantGoodsID is the merchant's item id (merchant_goods_id),
	// required.
	MerchantGoodsID string `json:"merchant_goods_id"`
	// WechatpayGoodsID is WeChat's item id (wechatpay_goods_id).
	WechatpayGoodsID string `json:"wechatpay_goods_id,omitempty"`
	// GoodsName is the item's name (goods_name).
	GoodsName string `json:"goods_name,omitempty"`
	// Quantity is how many (quantity), at least 1.
	Quantity int64 `json:"quantity"`
	// UnitPrice is the price of one in fen (unit_price).
	UnitPrice int64 `json:"unit_price"`
}

// SceneInfo is where the payment happens (scene_info).
type SceneInfo struct {
	// PayerClientIP is the payer's IP address (payer_client_ip),
	// required when SceneInfo is given: IPv4 or IPv6.
	PayerClientIP string `json:"payer_client_ip"`
	// DeviceID is the merchant's device or till id (device_id).
	DeviceID string `json:"device_id,omitempty"`
	// StoreInfo is the merchant's store (store_info).
	StoreInfo *StoreInfo `json:"store_info,omitempty"`
	// H5Info describes the page or app that started an H5 payment
	// (h5_info); required by PrepayH5, refused by the others.
	H5Info *H5Info `json:"h5_info,omitempty"`
}

// StoreInfo is the merchant's store of [SceneInfo].
type StoreInfo struct {
	ID       string `json:"id"`                  // the store's id, required
	Name     string `json:"name,omitempty"`      // its name
	AreaCode string `json:"area_code,omitempty"` // its area code
	Address  string `json:"address,omitempty"`   // its address
}

// H5 scene types of [H5Info].Type.
const (
	H5IOS     = "iOS"
	H5Android = "Android"
	H5Wap     = "Wap"
)

// H5Info describes the scene of an H5 payment (scene_info.h5_info).
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012525153
type H5Info struct {
	// Type is the scene: [H5IOS], [H5Android] or [H5Wap]; required.
	Type string `json:"type"`
	// AppName is the app's name (app_name).
	AppName string `json:"app_name,omitempty"`
	// AppURL is the site's URL (app_url).
	AppURL string `json:"app_url,omitempty"`
	// BundleID is the iOS bundle id (bundle_id).
	BundleID string `json:"bundle_id,omitempty"`
	// PackageName is the Android package name (package_name).
	PackageName string `json:"package_name,omitempty"`
}

// SettleInfo is settle_info.
type SettleInfo struct {
	// ProfitSharing must be true for an order whose profit is shared
	// later (profit_sharing).
	ProfitSharing bool `json:"profit_sharing"`
}

// prepayBody is the JSON sent, in the field order of WeChat's examples.
type prepayBody struct {
	AppID         string       `json:"appid"`
	MchID         string       `json:"mchid"`
	Description   string       `json:"description"`
	OutTradeNo    string       `json:"out_trade_no"`
	TimeExpire    *jsonTime    `json:"time_expire,omitempty"`
	Attach        string       `json:"attach,omitempty"`
	NotifyURL     string       `json:"notify_url"`
	GoodsTag      string       `json:"goods_tag,omitempty"`
	SupportFapiao bool         `json:"support_fapiao,omitempty"`
	Amount        Amount       `json:"amount"`
	Payer         *Payer       `json:"payer,omitempty"`
	Detail        *OrderDetail `json:"detail,omitempty"`
	SceneInfo     *SceneInfo   `json:"scene_info,omitempty"`
	SettleInfo    *SettleInfo  `json:"settle_info,omitempty"`
}

// PrepayResponse is the answer of [Client.PrepayJSAPI] and
// [Client.PrepayApp]. The prepay_id is valid for two hours; hand it to
// [Client.JSAPIPayParams] or [Client.AppPayParams].
type PrepayResponse struct {
	// PrepayID is the prepay session id ("wx201410272009395522657a690389285100").
	PrepayID string `json:"prepay_id"`
}

// H5PrepayResponse is the answer of [Client.PrepayH5].
type H5PrepayResponse struct {
	// H5URL is the page to send the payer's browser to, valid for five
	// minutes; append "&redirect_url=" and an escaped URL to come back.
	H5URL string `json:"h5_url"`
}

// NativePrepayResponse is the answer of [Client.PrepayNative].
type NativePrepayResponse struct {
	// CodeURL is the text to render as a QR code ("weixin://wxpay/…"),
	// valid for two hours.
	CodeURL string `json:"code_url"`
}

// PrepayJSAPI places an order paid inside WeChat: in a mini-program
// (wx.requestPayment) or an official-account page (JSAPI). req.Payer must
// carry the payer's openid under the order's appid. Pass the answer's
// PrepayID to [Client.JSAPIPayParams] for the front end.
//
// An ambiguous failure is an [*OutcomeUnknownError]: call again with the
// same OutTradeNo and parameters, which WeChat answers with the same
// prepay_id.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012525167
func (c *Client) PrepayJSAPI(ctx context.Context, req PrepayRequest) (*PrepayResponse, error) {
	return prepayFor(c, ctx, epPrepayJSAPI, &req, "prepay_id", func(out *PrepayResponse) string { return out.PrepayID })
}

// PrepayApp places an order paid in a mobile app through the WeChat
// OpenSDK. Pass the answer's PrepayID to [Client.AppPayParams] for the
// app.
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/products/in-app-payment/apilist.html
func (c *Client) PrepayApp(ctx context.Context, req PrepayRequest) (*PrepayResponse, error) {
	return prepayFor(c, ctx, epPrepayApp, &req, "prepay_id", func(out *PrepayResponse) string { return out.PrepayID })
}

// PrepayH5 places an order paid from a mobile browser outside WeChat.
// req.SceneInfo must carry PayerClientIP and H5Info. Send the payer's
// browser to the answer's H5URL.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012525153
func (c *Client) PrepayH5(ctx context.Context, req PrepayRequest) (*H5PrepayResponse, error) {
	return prepayFor(c, ctx, epPrepayH5, &req, "h5_url", func(out *H5PrepayResponse) string { return out.H5URL })
}

// PrepayNative places an order paid by scanning a QR code: render the
// answer's CodeURL as one.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012525095
func (c *Client) PrepayNative(ctx context.Context, req PrepayRequest) (*NativePrepayResponse, error) {
	return prepayFor(c, ctx, epPrepayNative, &req, "code_url", func(out *NativePrepayResponse) string { return out.CodeURL })
}

// prepayFor places the order at ep and decodes WeChat's answer into a T,
// which must carry the one field the caller needs (its wire name need,
// read by got): an answer without it is [unusablePrepay].
func prepayFor[T any](c *Client, ctx context.Context, ep endpoint, req *PrepayRequest, need string, got func(*T) string) (*T, error) {
	var out T
	if err := c.prepay(ctx, ep, req, &out); err != nil {
		return nil, err
	}
	if got(&out) == "" {
		return nil, unusablePrepay(ep, "answer lacks "+need)
	}
	return &out, nil
}

// unusablePrepay is the error for a signed answer that lacks what the
// caller needs: WeChat processed the request, so the order may exist and
// the outcome is unknown (retry with the same out_trade_no, as for any
// unusable answer), never a definite failure that invites a new number.
func unusablePrepay(ep endpoint, reason string) error {
	return &OutcomeUnknownError{Op: ep.op, Key: ep.key, Err: &opError{ep.op, &JSONError{Offset: -1, Reason: reason}}}
}

// prepay validates req for ep, builds the body and sends it through the
// one request path.
func (c *Client) prepay(ctx context.Context, ep endpoint, req *PrepayRequest, out any) error {
	body, err := c.prepayBody(ep, req)
	if err != nil {
		return err
	}
	r, err := newRequest(ep, nil, nil, body)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, r, out)
	return err
}

// prepayBody checks req against WeChat's rules for ep and returns the
// body to send. Nothing is sent when it fails.
func (c *Client) prepayBody(ep endpoint, req *PrepayRequest) (*prepayBody, error) {
	op := ep.op
	bad := func(field, reason string) error { return &RequestError{Op: op, Field: field, Reason: reason} }
	b := &prepayBody{
		AppID: req.AppID, MchID: c.mchID, Description: req.Description, OutTradeNo: req.OutTradeNo,
		Attach: req.Attach, NotifyURL: req.NotifyURL, GoodsTag: req.GoodsTag, SupportFapiao: req.SupportFapiao,
		Amount: req.Amount, Payer: req.Payer, Detail: req.Detail, SceneInfo: req.SceneInfo, SettleInfo: req.SettleInfo,
	}
	if b.AppID == "" {
		b.AppID = c.appID
	}
	if b.NotifyURL == "" {
		b.NotifyURL = c.notify
	}
	switch {
	case b.AppID == "":
		return nil, bad("appid", "is required: set Config.AppID or PrepayRequest.AppID")
	case b.Description == "":
		return nil, bad("description", "is required (what the payer sees in the bill)")
	case utf8.RuneCountInString(b.Description) > 127:
		return nil, bad("description", "is longer than 127 characters")
	case utf8.RuneCountInString(b.Attach) > 128:
		return nil, bad("attach", "is longer than 128 characters")
	case len(b.GoodsTag) > 32:
		return nil, bad("goods_tag", "is longer than 32 bytes")
	case b.NotifyURL == "":
		return nil, bad("notify_url", "is required: set Config.NotifyURL or PrepayRequest.NotifyURL")
	}
	if err := checkAppID(op, "appid", b.AppID); err != nil {
		return nil, err
	}
	if err := checkOutTradeNo(op, b.OutTradeNo); err != nil {
		return nil, err
	}
	if why := checkNotifyURL(b.NotifyURL); why != "" {
		return nil, bad("notify_url", why)
	}
	for _, f := range [...]struct{ name, v string }{{"description", b.Description}, {"attach", b.Attach}, {"goods_tag", b.GoodsTag}} {
		if !utf8.ValidString(f.v) {
			return nil, bad(f.name, "is not valid UTF-8")
		}
	}
	if !req.TimeExpire.IsZero() {
		if y := req.TimeExpire.Year(); y < 2000 || y > 9999 {
			return nil, bad("time_expire", "is outside the years 2000 to 9999")
		}
		t := jsonTime(req.TimeExpire)
		b.TimeExpire = &t
	}
	if err := b.Amount.check(op, "amount"); err != nil {
		return nil, err
	}
	if ep == epPrepayJSAPI {
		if b.Payer == nil || b.Payer.OpenID == "" {
			return nil, bad("payer.openid", "is required for JSAPI and mini-program payments (the payer's openid under the appid)")
		}
		if len(b.Payer.OpenID) > 128 {
			return nil, bad("payer.openid", "is longer than 128 bytes")
		}
	} else if b.Payer != nil {
		return nil, bad("payer", "is only sent by PrepayJSAPI")
	}
	if d := b.Detail; d != nil {
		if d.CostPrice < 0 {
			return nil, bad("detail.cost_price", "is negative")
		}
		for _, g := range d.Goods {
			switch {
			case g.MerchantGoodsID == "":
				return nil, bad("detail.goods_detail.merchant_goods_id", "is required")
			case g.Quantity < 1:
				return nil, bad("detail.goods_detail.quantity", "must be at least 1")
			case g.UnitPrice < 0:
				return nil, bad("detail.goods_detail.unit_price", "is negative")
			}
		}
	}
	if ep == epPrepayH5 && (b.SceneInfo == nil || b.SceneInfo.H5Info == nil) {
		return nil, bad("scene_info.h5_info", "is required for H5 payments")
	}
	if s := b.SceneInfo; s != nil {
		if _, err := netip.ParseAddr(s.PayerClientIP); err != nil {
			return nil, bad("scene_info.payer_client_ip", "must be the payer's IPv4 or IPv6 address")
		}
		if s.StoreInfo != nil && s.StoreInfo.ID == "" {
			return nil, bad("scene_info.store_info.id", "is required")
		}
		if h := s.H5Info; h != nil {
			if ep != epPrepayH5 {
				return nil, bad("scene_info.h5_info", "is only sent by PrepayH5")
			}
			if h.Type != H5IOS && h.Type != H5Android && h.Type != H5Wap {
				return nil, bad("scene_info.h5_info.type", "must be iOS, Android or Wap")
			}
		}
	}
	return b, nil
}

// checkOutTradeNo applies WeChat's rule for out_trade_no: 6 to 32 of
// digits, letters and _-|*. The number is a path segment of the query and
// close endpoints, so nothing else may reach it.
func checkOutTradeNo(op, s string) error {
	if s == "" {
		return &RequestError{Op: op, Field: "out_trade_no", Reason: "is required"}
	}
	if len(s) < 6 || len(s) > 32 {
		return &RequestError{Op: op, Field: "out_trade_no", Reason: "must be 6 to 32 characters"}
	}
	if !wire.OfAlnum(s, "_-|*") {
		return &RequestError{Op: op, Field: "out_trade_no", Reason: "may hold only digits, letters and _-|*"}
	}
	return nil
}
