package wxpay

import (
	"context"
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// TradeType is trade_type: how the payer pays.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_1
type TradeType string

// Trade types. The first four are what [Client.UnifiedOrder] accepts; a
// mini-program pays with TradeJSAPI.
const (
	TradeJSAPI    TradeType = "JSAPI"    // official-account page or mini-program; needs OpenID
	TradeNative   TradeType = "NATIVE"   // QR code scanned by the payer; needs ProductID
	TradeApp      TradeType = "APP"      // native mobile app through the WeChat SDK
	TradeMWeb     TradeType = "MWEB"     // H5 page in a mobile browser outside WeChat; needs SceneInfo
	TradeMicropay TradeType = "MICROPAY" // payment-code (付款码) payment; only seen in query results
)

// UnifiedOrderRequest is an order to create with [Client.UnifiedOrder].
// Zero values (empty strings, zero times, false) are left out of the
// request, which is how v2 expresses "not given".
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_1
type UnifiedOrderRequest struct {
	// Body is the goods description shown to the payer, such as
	// "腾讯充值中心-QQ会员充值". Required, at most 128 bytes, without ",`"
	// or a line break (the trade bill prints it as it is, and those are
	// its separators).
	Body string
	// Detail is the optional goods detail as a JSON string (cost_price,
	// receipt_id, goods_detail[]); it is sent exactly as given.
	Detail string
	// Attach is echoed back in queries and notifications; at most 127
	// bytes, without '&' or '=' (an echoed value holding them could be
	// re-split into other fields of the signed message), ",`" or a line
	// break (the trade bill's separators). Use it for your own routing
	// data, not for secrets.
	Attach string
	// OutTradeNo is your order number: 1 to 32 characters of
	// [0-9A-Za-z_-|*@], unique per merchant. It is the idempotency key:
	// after an unclear failure, retry with the same OutTradeNo and the
	// same fields, never with a new number. Required.
	OutTradeNo string
	// FeeType is the ISO 4217 currency; empty means CNY.
	FeeType FeeType
	// TotalFee is the amount in fen (分, 1/100 yuan). Required, > 0.
	TotalFee int64
	// SpbillCreateIP is the payer's IPv4 or IPv6 address (for MWEB it must
	// be the user's real address). Required.
	SpbillCreateIP string
	// TimeStart is when the order was created (time_start). It is sent
	// as yyyyMMddHHmmss in Beijing time (UTC+8), so any time zone may be
	// used here. Zero means not sent.
	TimeStart time.Time
	// TimeExpire is when the order stops being payable (time_expire),
	// sent like TimeStart; zero means not sent (a prepay_id lives 2
	// hours). WeChat advises at least a minute (older pages: five) after
	// the order is placed. When both are set it must be after TimeStart.
	TimeExpire time.Time
	// GoodsTag is the coupon tag configured in the merchant platform.
	GoodsTag string
	// NotifyURL is where WeChat posts the payment notification. Empty
	// means Config.NotifyURL; one of the two is required. It must be an
	// absolute http(s) URL without a query string.
	NotifyURL string
	// TradeType selects the payment flow. Required.
	TradeType TradeType
	// ProductID is your product identifier; required for TradeNative.
	ProductID string
	// LimitPay set to "no_credit" refuses credit cards.
	LimitPay string
	// OpenID is the payer's openid under Config.AppID; required for
	// TradeJSAPI.
	OpenID string
	// DeviceInfo is the terminal identifier; "WEB" for PC web and JSAPI.
	// It is echoed like Attach, so it may not hold '&', '=', ",`" or a
	// line break either.
	DeviceInfo string
	// Receipt asks WeChat to offer the payer an electronic invoice
	// (receipt=Y).
	Receipt bool
	// ProfitSharing marks the order for later profit sharing
	// (profit_sharing=Y).
	ProfitSharing bool
	// SceneInfo is the scene description as a JSON string; required for
	// TradeMWeb, for example {"h5_info":{"type":"Wap","wap_url":"https://…","wap_name":"…"}}.
	SceneInfo string
	// Version "1.0" enables single-product discounts; notifications then
	// carry promotion_detail.
	Version string
	// Extra adds fields wxpay does not model. It may not name a field
	// set above or one wxpay sets itself (appid, mch_id, nonce_str, sign,
	// sign_type); such a request is refused with a [*RequestError].
	Extra Params
}

// UnifiedOrderResponse is WeChat's answer to a successful unifiedorder:
// the prepayment to hand to the payer.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_1
type UnifiedOrderResponse struct {
	// PrepayID identifies the prepayment for 2 hours. Pass it to
	// [Client.JSAPIParams] or [Client.AppPayParams].
	PrepayID string
	// TradeType echoes the request's trade type.
	TradeType TradeType
	// CodeURL is the QR-code content for TradeNative (valid 2 hours).
	CodeURL string
	// MWebURL is the page to open for TradeMWeb (valid 5 minutes).
	MWebURL string
	// Raw holds every non-empty field of the answer, all covered by its
	// verified signature, including ones wxpay does not model.
	Raw Params
}

var epUnifiedOrder = endpoint{op: "unifiedorder", path: "/pay/unifiedorder"}

// UnifiedOrder places an order (统一下单) and returns its prepay_id.
//
// The request is validated first; a bad field yields a [*RequestError]
// without any network call. WeChat's answer is verified (signature,
// appid, mch_id) before it is used.
//
// A FAIL answer is an [*Error]: check [Error.Retryable], and
// [ErrCodeOrderPaid] (the order is already paid; do not charge again) or
// [ErrCodeOrderClosed] (place a new order under a new OutTradeNo). A
// transport error (a timeout, a reset connection) leaves the outcome
// unknown: call again with the same fields, or use [Client.OrderQuery],
// never a new OutTradeNo. Calling again with identical fields is safe:
// WeChat returns the same order.
//
// It is safe for concurrent use.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_1
func (c *Client) UnifiedOrder(ctx context.Context, req *UnifiedOrderRequest) (*UnifiedOrderResponse, error) {
	r, err := c.unifiedOrderRequest(req)
	if err != nil {
		return nil, err
	}
	resp, err := c.call(ctx, r)
	if err != nil {
		return nil, err
	}
	return parseUnifiedOrder(resp)
}

// parseUnifiedOrder maps verified answer fields to the response.
func parseUnifiedOrder(p Params) (*UnifiedOrderResponse, error) {
	if p["prepay_id"] == "" {
		return nil, &opError{epUnifiedOrder.op, fieldErr("prepay_id", ErrMissingField)}
	}
	return &UnifiedOrderResponse{
		PrepayID:  p["prepay_id"],
		TradeType: TradeType(p["trade_type"]),
		CodeURL:   p["code_url"],
		MWebURL:   p["mweb_url"],
		Raw:       p,
	}, nil
}

// unifiedOrderRequest validates req and lists its wire fields, without
// the ones the request path adds.
func (c *Client) unifiedOrderRequest(r *UnifiedOrderRequest) (*request, error) {
	q := newRequest(epUnifiedOrder)
	if r == nil {
		return nil, q.bad("request", "is nil")
	}
	order := orderFields{
		body: r.Body, attach: r.Attach, detail: r.Detail, sceneInfo: r.SceneInfo, deviceInfo: r.DeviceInfo,
		outTradeNo: r.OutTradeNo, totalFee: r.TotalFee, feeType: r.FeeType, ip: r.SpbillCreateIP,
		goodsTag: r.GoodsTag, limitPay: r.LimitPay, timeStart: r.TimeStart, timeExpire: r.TimeExpire,
	}
	if err := checkOrder(q, order); err != nil {
		return nil, err
	}
	switch r.TradeType {
	case TradeJSAPI:
		if r.OpenID == "" {
			return nil, q.bad("openid", "is required for trade type JSAPI")
		}
	case TradeNative:
		if r.ProductID == "" {
			return nil, q.bad("product_id", "is required for trade type NATIVE")
		}
	case TradeMWeb:
		if r.SceneInfo == "" {
			return nil, q.bad("scene_info", "is required for trade type MWEB")
		}
	case TradeApp:
	case "":
		return nil, q.bad("trade_type", "is required")
	default:
		return nil, q.bad("trade_type", "must be JSAPI, NATIVE, APP or MWEB")
	}
	if len(r.ProductID) > 32 {
		return nil, q.bad("product_id", "is longer than 32 bytes")
	}
	// Config.NotifyURL was checked by NewClient; only an override needs
	// checking here.
	notify := r.NotifyURL
	if notify == "" {
		notify = c.cfg.NotifyURL
	} else if checkNotifyURL(notify) != nil {
		return nil, q.bad("notify_url", "must be an absolute http(s) URL of at most 256 bytes without query")
	}
	if notify == "" {
		return nil, q.bad("notify_url", "is required (set it in the request or in Config.NotifyURL)")
	}

	order.set(q)
	q.set("notify_url", notify)
	q.set("trade_type", string(r.TradeType))
	q.set("product_id", r.ProductID)
	q.set("openid", r.OpenID)
	q.set("receipt", yes(r.Receipt))
	q.set("profit_sharing", yes(r.ProfitSharing))
	q.set("version", r.Version)
	if err := q.extra(r.Extra); err != nil {
		return nil, err
	}
	return q, nil
}

// yes writes a v2 flag: "Y" when set, otherwise not sent.
func yes(b bool) string {
	if b {
		return "Y"
	}
	return ""
}

// wireTime reports whether t fits yyyyMMddHHmmss with a plausible year.
func wireTime(t time.Time) bool {
	y := t.In(beijing).Year()
	return y >= 2000 && y <= 9999
}

// validIP accepts a plain IPv4 or IPv6 address, without zone or port.
func validIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}

// checkOutTradeNo applies WeChat's out_trade_no rule: 1 to 32 characters
// from [0-9A-Za-z_-|*@].
func checkOutTradeNo(q *request, s string) error { return checkNo(q, "out_trade_no", s, 32) }

// orderFields are the fields an order shares between the endpoints that
// create one (unifiedorder, micropay): checked by checkOrder and written
// by set, once for both.
type orderFields struct {
	body, attach, detail, sceneInfo, deviceInfo string
	outTradeNo                                  string
	totalFee                                    int64
	feeType                                     FeeType
	ip                                          string
	goodsTag, limitPay                          string
	timeStart, timeExpire                       time.Time
}

// set lists the shared fields in q, the empty ones too (see
// [request.set]).
func (f *orderFields) set(q *request) {
	q.set("body", f.body)
	q.set("detail", f.detail)
	q.set("attach", f.attach)
	q.set("out_trade_no", f.outTradeNo)
	q.set("total_fee", strconv.FormatInt(f.totalFee, 10))
	q.set("fee_type", string(f.feeType))
	q.set("spbill_create_ip", f.ip)
	q.set("goods_tag", f.goodsTag)
	q.set("limit_pay", f.limitPay)
	q.set("time_start", formatOptTime(f.timeStart))
	q.set("time_expire", formatOptTime(f.timeExpire))
	q.set("device_info", f.deviceInfo)
	q.set("scene_info", f.sceneInfo)
}

// checkOrder applies WeChat's rules to the fields every new order has,
// before any I/O.
func checkOrder(q *request, f orderFields) error {
	switch {
	case f.body == "":
		return q.bad("body", "is required")
	case len(f.body) > 128:
		return q.bad("body", "is longer than 128 bytes")
	case len(f.attach) > 127:
		return q.bad("attach", "is longer than 127 bytes")
	case f.totalFee <= 0:
		return q.bad("total_fee", "must be a positive number of fen")
	case f.ip == "":
		return q.bad("spbill_create_ip", "is required")
	case !validIP(f.ip):
		return q.bad("spbill_create_ip", "is not an IPv4 or IPv6 address")
	case f.detail != "" && !json.Valid([]byte(f.detail)):
		return q.bad("detail", "is not valid JSON")
	case f.sceneInfo != "" && !json.Valid([]byte(f.sceneInfo)):
		return q.bad("scene_info", "is not valid JSON")
	case !f.timeStart.IsZero() && !wireTime(f.timeStart):
		return q.bad("time_start", "is outside the years 2000 to 9999")
	case !f.timeExpire.IsZero() && !wireTime(f.timeExpire):
		return q.bad("time_expire", "is outside the years 2000 to 9999")
	case !f.timeStart.IsZero() && !f.timeExpire.IsZero() &&
		!f.timeExpire.Truncate(time.Second).After(f.timeStart.Truncate(time.Second)):
		// Compared at the wire's one-second resolution.
		return q.bad("time_expire", "is not after time_start")
	}
	if err := q.echoSafe("attach", f.attach); err != nil {
		return err
	}
	if err := q.echoSafe("device_info", f.deviceInfo); err != nil {
		return err
	}
	for _, v := range [...]struct{ name, v string }{{"body", f.body}, {"attach", f.attach}, {"device_info", f.deviceInfo}} {
		if err := billSafe(q, v.name, v.v); err != nil {
			return err
		}
	}
	return checkOutTradeNo(q, f.outTradeNo)
}

// billSafe refuses a value that the day's trade bill prints as it is
// (商品名称 body, 商户数据包 attach, 设备号 device_info; out_trade_no's
// alphabet keeps it safe already) when it holds the bill's structure:
// the field separator ",`" or a line break. Such a value splits its row
// into the wrong number of fields, and a reader that trusts the layout
// loses the row or, worse, the rest of the day.
//
// WeChat Pay docs (bill layout): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_6
func billSafe(q *request, name, v string) error {
	if strings.Contains(v, ",`") || strings.ContainsAny(v, "\r\n") {
		return q.bad(name, "may not contain \",`\" or a line break: the trade bill prints it as it is, and they are the bill's field and row separators")
	}
	return nil
}
