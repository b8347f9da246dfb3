package wxpaytest

import (
	"encoding/json"
	"net"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/v3wire"
	"github.com/wxpay-go/wxpay/internal/wire"
)

// API v3 endpoints: JSON, signed in the Authorization header, answered
// with the Wechatpay-* signature headers. Served with Config.APIv3Key.
const (
	// EndpointV3PrepayJSAPI places a JSAPI or mini-program order (POST):
	// https://pay.weixin.qq.com/doc/v3/merchant/4012525167
	EndpointV3PrepayJSAPI Endpoint = "/v3/pay/transactions/jsapi"
	// EndpointV3PrepayApp places an APP order (POST):
	// https://pay.weixin.qq.com/doc/v3/merchant/4012525167
	EndpointV3PrepayApp Endpoint = "/v3/pay/transactions/app"
	// EndpointV3PrepayH5 places an H5 order (POST), trade_type MWEB:
	// https://pay.weixin.qq.com/doc/v3/merchant/4012525167
	EndpointV3PrepayH5 Endpoint = "/v3/pay/transactions/h5"
	// EndpointV3PrepayNative places a Native (QR code) order (POST):
	// https://pay.weixin.qq.com/doc/v3/merchant/4012525167
	EndpointV3PrepayNative Endpoint = "/v3/pay/transactions/native"
	// EndpointV3QueryByTransactionID reads an order by WeChat's number
	// (GET, ?mchid= required):
	// https://pay.weixin.qq.com/doc/v3/merchant/4012556352
	EndpointV3QueryByTransactionID Endpoint = "/v3/pay/transactions/id/{transaction_id}"
	// EndpointV3QueryByOutTradeNo reads an order by the merchant's
	// number (GET, ?mchid= required):
	// https://pay.weixin.qq.com/docs/merchant/apis/mini-program-payment/query-by-out-trade-no.html
	EndpointV3QueryByOutTradeNo Endpoint = "/v3/pay/transactions/out-trade-no/{out_trade_no}"
	// EndpointV3CloseOrder closes an unpaid order (POST, 204):
	// https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_4_3.shtml
	EndpointV3CloseOrder Endpoint = "/v3/pay/transactions/out-trade-no/{out_trade_no}/close"
	// EndpointV3Certificates lists the platform certificates, each
	// encrypted under the APIv3 key (GET):
	// https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay5_0.shtml
	EndpointV3Certificates Endpoint = "/v3/certificates"
)

// v3Routes are the API v3 rows of the endpoint table.
var v3Routes = []route{
	{path: EndpointV3PrepayJSAPI, method: http.MethodPost, proto: protoV3, v3: v3Prepay(EndpointV3PrepayJSAPI, wxpay.TradeJSAPI)},
	{path: EndpointV3PrepayApp, method: http.MethodPost, proto: protoV3, v3: v3Prepay(EndpointV3PrepayApp, wxpay.TradeApp)},
	{path: EndpointV3PrepayH5, method: http.MethodPost, proto: protoV3, v3: v3Prepay(EndpointV3PrepayH5, wxpay.TradeMWeb)},
	{path: EndpointV3PrepayNative, method: http.MethodPost, proto: protoV3, v3: v3Prepay(EndpointV3PrepayNative, wxpay.TradeNative)},
	{path: EndpointV3QueryByTransactionID, method: http.MethodGet, proto: protoV3, v3: (*Fake).v3QueryByID},
	{path: EndpointV3QueryByOutTradeNo, method: http.MethodGet, proto: protoV3, v3: (*Fake).v3QueryByNo},
	{path: EndpointV3CloseOrder, method: http.MethodPost, proto: protoV3, v3: (*Fake).v3Close},
	{path: EndpointV3Certificates, method: http.MethodGet, proto: protoV3, v3: (*Fake).v3Certificates},
}

// rfc3339 is how v3 writes times: RFC 3339 in Beijing time.
const rfc3339 = "2006-01-02T15:04:05+08:00"

func v3Time(t time.Time) string { return t.In(beijing).Format(rfc3339) }

// v3PrepayRequest is the body of the prepay endpoints as WeChat defines
// it: a field not listed here is refused.
type v3PrepayRequest struct {
	AppID         string   `json:"appid"`
	MchID         string   `json:"mchid"`
	Description   string   `json:"description"`
	OutTradeNo    string   `json:"out_trade_no"`
	TimeExpire    string   `json:"time_expire,omitempty"`
	Attach        string   `json:"attach,omitempty"`
	NotifyURL     string   `json:"notify_url"`
	GoodsTag      string   `json:"goods_tag,omitempty"`
	SupportFapiao *bool    `json:"support_fapiao,omitempty"`
	LimitPay      []string `json:"limit_pay,omitempty"`
	Amount        *struct {
		Total    *int64 `json:"total"`
		Currency string `json:"currency,omitempty"`
	} `json:"amount"`
	Payer *struct {
		OpenID string `json:"openid"`
	} `json:"payer,omitempty"`
	Detail *struct {
		CostPrice   *int64 `json:"cost_price,omitempty"`
		InvoiceID   string `json:"invoice_id,omitempty"`
		GoodsDetail []struct {
			MerchantGoodsID  string `json:"merchant_goods_id"`
			WechatpayGoodsID string `json:"wechatpay_goods_id,omitempty"`
			GoodsName        string `json:"goods_name,omitempty"`
			Quantity         *int64 `json:"quantity"`
			UnitPrice        *int64 `json:"unit_price"`
		} `json:"goods_detail,omitempty"`
	} `json:"detail,omitempty"`
	SceneInfo *struct {
		PayerClientIP string `json:"payer_client_ip"`
		DeviceID      string `json:"device_id,omitempty"`
		StoreInfo     *struct {
			ID       string `json:"id"`
			Name     string `json:"name,omitempty"`
			AreaCode string `json:"area_code,omitempty"`
			Address  string `json:"address,omitempty"`
		} `json:"store_info,omitempty"`
		H5Info *struct {
			Type        string `json:"type"`
			AppName     string `json:"app_name,omitempty"`
			AppURL      string `json:"app_url,omitempty"`
			BundleID    string `json:"bundle_id,omitempty"`
			PackageName string `json:"package_name,omitempty"`
		} `json:"h5_info,omitempty"`
	} `json:"scene_info,omitempty"`
	SettleInfo *struct {
		ProfitSharing *bool `json:"profit_sharing,omitempty"`
	} `json:"settle_info,omitempty"`
}

// validV3OutTradeNo is v3's rule for out_trade_no: 6 to 32 of digits,
// letters and _-|*.
func validV3OutTradeNo(s string) bool {
	if len(s) < 6 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-' || c == '|' || c == '*') {
			return false
		}
	}
	return true
}

// checkV3Prepay returns the refusal of a malformed prepay request.
func (f *Fake) checkV3Prepay(p *v3PrepayRequest, tt wxpay.TradeType) (v3Answer, bool) {
	req := func(field string) (v3Answer, bool) { return v3Param(field, "body", "参数必填"), false }
	bad := func(field, issue string) (v3Answer, bool) { return v3Param(field, "body", issue), false }
	switch {
	case p.AppID == "":
		return req("/appid")
	case p.MchID == "":
		return req("/mchid")
	case p.Description == "":
		return req("/description")
	case p.OutTradeNo == "":
		return req("/out_trade_no")
	case p.NotifyURL == "":
		return req("/notify_url")
	case p.Amount == nil:
		return req("/amount")
	case p.Amount.Total == nil:
		return req("/amount/total")
	}
	switch {
	case p.MchID != f.cfg.MchID:
		return bad("/mchid", "mchid与Authorization中的商户号不一致")
	case utf8.RuneCountInString(p.Description) > 127:
		return bad("/description", "长度超过127")
	case !validV3OutTradeNo(p.OutTradeNo):
		return bad("/out_trade_no", "须为6至32位数字、字母或_-|*")
	case utf8.RuneCountInString(p.Attach) > 128:
		return bad("/attach", "长度超过128")
	case len(p.GoodsTag) > 32:
		return bad("/goods_tag", "长度超过32")
	case len(p.NotifyURL) > 255 || !validNotifyURL(p.NotifyURL):
		return bad("/notify_url", "须为不带参数的http(s)绝对地址，长度不超过255")
	case *p.Amount.Total <= 0 || *p.Amount.Total > 1e13:
		return bad("/amount/total", "须为正整数（单位分）")
	case p.Amount.Currency != "" && p.Amount.Currency != "CNY":
		return bad("/amount/currency", "Currency code is invalid")
	}
	if p.TimeExpire != "" {
		if _, err := time.Parse(time.RFC3339, p.TimeExpire); err != nil {
			return bad("/time_expire", "须为RFC3339格式，如2018-06-08T10:34:56+08:00")
		}
	}
	for _, lp := range p.LimitPay {
		switch lp {
		case "no_balance", "no_credit", "no_debit", "balance_only":
		default:
			return bad("/limit_pay", "取值不在范围内")
		}
	}
	if d := p.Detail; d != nil {
		for _, g := range d.GoodsDetail {
			switch {
			case g.MerchantGoodsID == "":
				return req("/detail/goods_detail/merchant_goods_id")
			case g.Quantity == nil || *g.Quantity < 1:
				return bad("/detail/goods_detail/quantity", "须为正整数")
			case g.UnitPrice == nil || *g.UnitPrice < 0:
				return bad("/detail/goods_detail/unit_price", "须为非负整数")
			}
		}
	}
	if s := p.SceneInfo; s != nil {
		if net.ParseIP(s.PayerClientIP) == nil {
			return bad("/scene_info/payer_client_ip", "须为用户的IPv4或IPv6地址")
		}
		if s.StoreInfo != nil && s.StoreInfo.ID == "" {
			return req("/scene_info/store_info/id")
		}
		if h := s.H5Info; h != nil {
			if tt != wxpay.TradeMWeb {
				return bad("/scene_info/h5_info", "仅H5支付可传")
			}
			switch h.Type {
			case "iOS", "Android", "Wap":
			default:
				return bad("/scene_info/h5_info/type", "须为iOS、Android或Wap")
			}
		}
	}
	switch tt {
	case wxpay.TradeJSAPI:
		if p.Payer == nil || p.Payer.OpenID == "" {
			a := v3Param("/payer/openid", "body", "JSAPI支付必须传openid")
			a.biz = 268501013
			return a, false
		}
	case wxpay.TradeMWeb:
		if p.SceneInfo == nil || p.SceneInfo.H5Info == nil {
			return req("/scene_info/h5_info")
		}
	}
	if p.Payer != nil && tt != wxpay.TradeJSAPI {
		a := v3Param("/payer", "body", "请求中含有未在API文档中定义的参数")
		a.biz = 270924358
		return a, false
	}
	if p.AppID != f.cfg.AppID {
		a := v3Error("APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
		a.biz = 268445527
		return a, false
	}
	return v3Answer{}, true
}

// v3Prepay is the handler of one prepay endpoint.
func v3Prepay(ep Endpoint, tt wxpay.TradeType) func(*Fake, *v3Call) v3Answer {
	return func(f *Fake, c *v3Call) v3Answer { return f.v3Prepay(c, ep, tt) }
}

// v3Prepay places (or re-enters) an order through a v3 prepay endpoint,
// in the one order book v2's unifiedorder also writes: the same
// out_trade_no with the same request gives the current prepay_id; with
// another request (or a v2 order's number), WeChat's re-entry error.
func (f *Fake) v3Prepay(c *v3Call, ep Endpoint, tt wxpay.TradeType) v3Answer {
	var p v3PrepayRequest
	if a, ok := decodeV3(c.body, &p); !ok {
		return a
	}
	if a, ok := f.checkV3Prepay(&p, tt); !ok {
		return a
	}
	canon, err := json.Marshal(&p)
	if err != nil {
		return v3Error("SYSTEM_ERROR", "系统错误")
	}
	now := f.Now()
	expire := time.Time{}
	if p.TimeExpire != "" {
		expire, _ = time.Parse(time.RFC3339, p.TimeExpire)
		// WeChat raises a time_expire under a minute away to a minute,
		// and clamps one past 90 days.
		if expire.Sub(now) < time.Minute {
			expire = now.Add(time.Minute)
		}
		if expire.Sub(now) > 90*24*time.Hour {
			expire = now.Add(90 * 24 * time.Hour)
		}
	}
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	o, ok := f.orders.byNo[p.OutTradeNo]
	if ok {
		switch o.state(now) {
		case StateSuccess, StateRefund:
			a := v3Error("ORDERPAID", "该订单已支付")
			a.biz = 268498689
			return a
		case StateClosed:
			a := v3Error("ORDER_CLOSED", "订单已关闭")
			a.biz = 268447914
			return a
		}
		if !o.APIv3 || o.v3ep != ep || string(o.v3canon) != string(canon) {
			if f.cfg.DuplicateOrderCode == wxpay.ErrCodeOutTradeNoUsed {
				return v3Error("OUT_TRADE_NO_USED", "商户订单号重复")
			}
			a := v3Error("INVALID_REQUEST", "请求重入时，参数与首次请求时不一致")
			a.biz = 268498688
			return a
		}
		if now.Sub(o.prepayAt) >= PrepayLife {
			delete(f.orders.byPrepay, o.PrepayID)
			o.PrepayID = f.newPrepayID(now)
			o.prepayAt = now
			f.orders.byPrepay[o.PrepayID] = o
		}
	} else {
		openID := ""
		if p.Payer != nil {
			openID = p.Payer.OpenID
		}
		o = &order{
			Order: Order{
				OutTradeNo: p.OutTradeNo,
				PrepayID:   f.newPrepayID(now),
				State:      StateNotPay,
				TradeType:  tt,
				TotalFee:   *p.Amount.Total,
				NotifyURL:  p.NotifyURL,
				OpenID:     openID,
				Attach:     p.Attach,
				SignType:   f.signType,
				CreatedAt:  now,
				TimeExpire: expire,
				APIv3:      true,
				V3Request:  append([]byte(nil), c.body...),
			},
			prepayAt: now,
			note:     newNotice(p.OutTradeNo, ""),
			v3ep:     ep,
			v3canon:  canon,
			desc:     p.Description,
		}
		if p.SceneInfo != nil {
			o.deviceID = p.SceneInfo.DeviceID
		}
		o.note.v3 = true
		f.orders.byNo[o.OutTradeNo] = o
		f.orders.byPrepay[o.PrepayID] = o
	}
	switch tt {
	case wxpay.TradeMWeb:
		return v3OK(map[string]string{"h5_url": "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=" + o.PrepayID + "&package=" + randDigits(10)})
	case wxpay.TradeNative:
		return v3OK(map[string]string{"code_url": "weixin://wxpay/bizpayurl?pr=" + o.PrepayID[len(o.PrepayID)-7:]})
	}
	return v3OK(map[string]string{"prepay_id": o.PrepayID})
}

// v3Transaction is the Transaction object of query answers and of the
// TRANSACTION.SUCCESS plaintext.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012791861
type v3Transaction struct {
	AppID           string        `json:"appid"`
	MchID           string        `json:"mchid"`
	OutTradeNo      string        `json:"out_trade_no"`
	TransactionID   string        `json:"transaction_id,omitempty"`
	TradeType       string        `json:"trade_type,omitempty"`
	TradeState      string        `json:"trade_state"`
	TradeStateDesc  string        `json:"trade_state_desc"`
	BankType        string        `json:"bank_type,omitempty"`
	Attach          string        `json:"attach"`
	SuccessTime     string        `json:"success_time,omitempty"`
	Payer           *v3Payer      `json:"payer,omitempty"`
	Amount          v3TxnAmount   `json:"amount"`
	SceneInfo       *v3SceneInfo  `json:"scene_info,omitempty"`
	PromotionDetail []v3Promotion `json:"promotion_detail,omitempty"`
}

type v3Payer struct {
	OpenID string `json:"openid"`
}

type v3TxnAmount struct {
	Total         int64  `json:"total"`
	PayerTotal    *int64 `json:"payer_total,omitempty"`
	Currency      string `json:"currency"`
	PayerCurrency string `json:"payer_currency"`
}

type v3SceneInfo struct {
	DeviceID string `json:"device_id"`
}

type v3Promotion struct {
	CouponID            string `json:"coupon_id"`
	Name                string `json:"name,omitempty"`
	Scope               string `json:"scope"`
	Type                string `json:"type"`
	Amount              int64  `json:"amount"`
	WechatpayContribute int64  `json:"wechatpay_contribute"`
	MerchantContribute  int64  `json:"merchant_contribute"`
	OtherContribute     int64  `json:"other_contribute"`
	Currency            string `json:"currency"`
}

// v3TransactionOf is o as v3 reports it at now. The caller holds the
// orders' lock.
func (f *Fake) v3TransactionOf(o *order, now time.Time) v3Transaction {
	st := o.state(now)
	t := v3Transaction{
		AppID:          f.cfg.AppID,
		MchID:          f.cfg.MchID,
		OutTradeNo:     o.OutTradeNo,
		TradeState:     string(st),
		TradeStateDesc: tradeStateDesc(st),
		Attach:         o.Attach,
		Amount:         v3TxnAmount{Total: o.TotalFee, Currency: "CNY", PayerCurrency: "CNY"},
	}
	if o.deviceInfo() != "" {
		t.SceneInfo = &v3SceneInfo{DeviceID: o.deviceInfo()}
	}
	if st == StateSuccess || st == StateRefund {
		cash := o.cashFee()
		t.TransactionID = o.TransactionID
		t.TradeType = string(o.TradeType)
		t.BankType = o.payOpts.bankType()
		t.SuccessTime = v3Time(o.PaidAt)
		t.Payer = &v3Payer{OpenID: o.OpenID}
		t.Amount.PayerTotal = &cash
		for _, c := range o.Coupons {
			typ := "CASH"
			if c.Type == wxpay.CouponNoCash {
				typ = "NOCASH"
			}
			t.PromotionDetail = append(t.PromotionDetail, v3Promotion{
				CouponID: c.ID, Scope: "GLOBAL", Type: typ, Amount: c.Fee, WechatpayContribute: c.Fee, Currency: "CNY",
			})
		}
	}
	return t
}

// v3QueryByNo answers GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=.
func (f *Fake) v3QueryByNo(c *v3Call) v3Answer {
	otn := c.r.PathValue("out_trade_no")
	if !validOutTradeNo(otn) {
		return v3Param("out_trade_no", "path", "格式错误")
	}
	return f.v3Query(c, func() *order { return f.orders.byNo[otn] })
}

// v3QueryByID answers GET /v3/pay/transactions/id/{transaction_id}?mchid=.
func (f *Fake) v3QueryByID(c *v3Call) v3Answer {
	id := c.r.PathValue("transaction_id")
	if len(id) > 32 || !isAlnum(id) {
		return v3Param("transaction_id", "path", "格式错误")
	}
	return f.v3Query(c, func() *order { return f.orders.byTxn[id] })
}

func (f *Fake) v3Query(c *v3Call, find func() *order) v3Answer {
	if a, ok := checkV3Query(c.query, []string{"mchid"}); !ok {
		return a
	}
	if c.query.Get("mchid") != f.cfg.MchID {
		a := v3Param("mchid", "query", "商户号和订单不匹配")
		a.biz = 268447843
		return a
	}
	now := f.Now()
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	o := find()
	if o == nil {
		a := v3Error("ORDER_NOT_EXIST", "订单不存在")
		a.biz = 268512771
		return a
	}
	return v3OK(f.v3TransactionOf(o, now))
}

// v3Close answers POST .../out-trade-no/{out_trade_no}/close with 204.
// Unlike v2's closeorder it does not refuse an order under 5 minutes
// old: v3's documentation only advises waiting.
func (f *Fake) v3Close(c *v3Call) v3Answer {
	otn := c.r.PathValue("out_trade_no")
	if !validOutTradeNo(otn) {
		return v3Param("out_trade_no", "path", "格式错误")
	}
	var p struct {
		MchID string `json:"mchid"`
	}
	if a, ok := decodeV3(c.body, &p); !ok {
		return a
	}
	switch {
	case p.MchID == "":
		return v3Param("/mchid", "body", "参数必填")
	case p.MchID != f.cfg.MchID:
		return v3Param("/mchid", "body", "mchid与Authorization中的商户号不一致")
	}
	now := f.Now()
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	o := f.orders.byNo[otn]
	if o == nil {
		a := v3Error("ORDER_NOT_EXIST", "订单不存在")
		a.biz = 268512771
		return a
	}
	switch o.state(now) {
	case StateSuccess, StateRefund:
		a := v3Error("ORDERPAID", "订单已支付")
		a.biz = 268449538
		return a
	case StateClosed:
		return v3Error("ORDER_CLOSED", "订单已关闭")
	case StateUserPaying, StatePayError, StateRevoked:
		a := v3Error("TRADE_ERROR", "只能撤销不能关单")
		a.biz = 268449641
		return a
	}
	o.State = StateClosed
	return v3Answer{status: http.StatusNoContent}
}

// v3Certificates answers GET /v3/certificates: every platform
// certificate, each sealed under the APIv3 key with associated_data
// "certificate" and a fresh nonce. It is served in every V3Signer mode
// (a merchant given the public key only gets an error from WeChat here;
// inject one with Fault{ErrCode: ...} to test that).
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay5_0.shtml
func (f *Fake) v3Certificates(c *v3Call) v3Answer {
	if a, ok := checkV3Query(c.query, nil, "algorithm_type"); !ok {
		return a
	}
	switch c.query.Get("algorithm_type") {
	case "", "RSA", "ALL", "SM2":
	default:
		return v3Param("algorithm_type", "query", "取值须为RSA、SM2或ALL")
	}
	k := f.v3
	k.mu.Lock()
	cs, err := k.certsLocked()
	cs = append([]*platformCert(nil), cs...)
	k.mu.Unlock()
	if err != nil {
		return v3Error("SYSTEM_ERROR", "系统错误")
	}
	type enc struct {
		Algorithm      string `json:"algorithm"`
		Nonce          string `json:"nonce"`
		AssociatedData string `json:"associated_data"`
		Ciphertext     string `json:"ciphertext"`
	}
	type item struct {
		SerialNo           string `json:"serial_no"`
		EffectiveTime      string `json:"effective_time"`
		ExpireTime         string `json:"expire_time"`
		EncryptCertificate enc    `json:"encrypt_certificate"`
	}
	out := struct {
		Data []item `json:"data"`
	}{}
	if c.query.Get("algorithm_type") == "SM2" {
		out.Data = []item{} // the fake has no SM2 certificates
		return v3OK(out)
	}
	for i := len(cs) - 1; i >= 0; i-- {
		pc := cs[i]
		nonce := randAlnum(12)
		ct, err := v3wire.Seal(k.apiKey, nonce, "certificate", pc.pem)
		if err != nil {
			return v3Error("SYSTEM_ERROR", "系统错误")
		}
		out.Data = append(out.Data, item{
			SerialNo:           pc.serial,
			EffectiveTime:      v3Time(pc.cert.NotBefore),
			ExpireTime:         v3Time(pc.cert.NotAfter),
			EncryptCertificate: enc{"AEAD_AES_256_GCM", nonce, "certificate", ct},
		})
	}
	return v3OK(out)
}

func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// v3NotificationBody builds the TRANSACTION.SUCCESS notification of a
// paid v3 order: the envelope, its resource the Transaction sealed under
// the APIv3 key (associated_data "transaction", a random nonce). The
// caller holds the orders' lock. It is signed at each delivery.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012791861
func (f *Fake) v3NotificationBody(o *order) []byte {
	plain, err := json.Marshal(f.v3TransactionOf(o, o.PaidAt))
	if err != nil {
		panic("wxpaytest: cannot encode a v3 notification: " + err.Error())
	}
	return f.v3Envelope("TRANSACTION.SUCCESS", "支付成功", "transaction", o.PaidAt, plain)
}

// v3Envelope seals plain into a notification of event.
func (f *Fake) v3Envelope(event, summary, originalType string, at time.Time, plain []byte) []byte {
	nonce := randAlnum(12)
	ct, err := v3wire.Seal(f.v3.apiKey, nonce, originalType, plain)
	if err != nil {
		panic("wxpaytest: cannot seal a v3 notification: " + err.Error()) // the key is 32 bytes, checked by New
	}
	env := struct {
		ID           string `json:"id"`
		CreateTime   string `json:"create_time"`
		ResourceType string `json:"resource_type"`
		EventType    string `json:"event_type"`
		Summary      string `json:"summary"`
		Resource     struct {
			OriginalType   string `json:"original_type"`
			Algorithm      string `json:"algorithm"`
			Ciphertext     string `json:"ciphertext"`
			AssociatedData string `json:"associated_data"`
			Nonce          string `json:"nonce"`
		} `json:"resource"`
	}{ID: newEventID(), CreateTime: v3Time(at), ResourceType: "encrypt-resource", EventType: event, Summary: summary}
	env.Resource.OriginalType = originalType
	env.Resource.Algorithm = "AEAD_AES_256_GCM"
	env.Resource.Ciphertext = ct
	env.Resource.AssociatedData = originalType
	env.Resource.Nonce = nonce
	b, err := json.Marshal(env)
	if err != nil {
		panic("wxpaytest: cannot encode a v3 notification: " + err.Error())
	}
	return b
}

// newEventID is a notification id shaped like WeChat's (a UUID).
func newEventID() string {
	h := wireHex(32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func wireHex(n int) string { return wire.MustRandString("0123456789abcdef", n) }

// v3NotifyHeaders signs body for one delivery with the key the
// configuration picks for notifications, bent by fl's signing faults.
func (f *Fake) v3NotifyHeaders(body []byte, fl Fault) (http.Header, error) {
	k, err := f.v3.notifyKey()
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Request-ID", newRequestID(0))
	if !fl.Unsigned {
		f.signV3(h, body, k, fl)
	}
	return h, nil
}

// tamperCiphertext alters one character of a notification's
// resource.ciphertext, keeping it valid base64, so that the body still
// parses (and, signed afterwards, verifies) but does not decrypt.
func tamperCiphertext(body []byte) []byte {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	res, _ := m["resource"].(map[string]any)
	ct, _ := res["ciphertext"].(string)
	if len(ct) < 2 {
		return body
	}
	b := []byte(ct)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	res["ciphertext"] = string(b)
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}
