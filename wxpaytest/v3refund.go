package wxpaytest

import (
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/wire"
)

// API v3 refund endpoints.
const (
	// EndpointV3Refund refunds a paid order (POST), by transaction_id or
	// out_trade_no; out_refund_no makes it idempotent:
	// https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_9.shtml
	EndpointV3Refund Endpoint = "/v3/refund/domestic/refunds"
	// EndpointV3RefundQuery reads a refund by out_refund_no (GET):
	// https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_10.shtml
	EndpointV3RefundQuery Endpoint = "/v3/refund/domestic/refunds/{out_refund_no}"
	// EndpointV3AbnormalRefund sends an ABNORMAL refund again, to the
	// payer's or the merchant's bank card (POST):
	// https://pay.weixin.qq.com/docs/merchant/apis/refund/refunds/create-abnormal-refund.html
	EndpointV3AbnormalRefund Endpoint = "/v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund"
)

func init() {
	v3Routes = append(v3Routes,
		route{path: EndpointV3Refund, method: http.MethodPost, proto: protoV3, v3: (*Fake).v3Refund},
		route{path: EndpointV3RefundQuery, method: http.MethodGet, proto: protoV3, v3: (*Fake).v3RefundQuery},
		route{path: EndpointV3AbnormalRefund, method: http.MethodPost, proto: protoV3, v3: (*Fake).v3AbnormalRefund},
	)
}

// v3RefundRequest is the body of the refund endpoint as WeChat defines
// it.
type v3RefundRequest struct {
	TransactionID string `json:"transaction_id,omitempty"`
	OutTradeNo    string `json:"out_trade_no,omitempty"`
	OutRefundNo   string `json:"out_refund_no"`
	Reason        string `json:"reason,omitempty"`
	NotifyURL     string `json:"notify_url,omitempty"`
	FundsAccount  string `json:"funds_account,omitempty"`
	Amount        *struct {
		Refund   *int64 `json:"refund"`
		Total    *int64 `json:"total"`
		Currency string `json:"currency"`
		From     []struct {
			Account string `json:"account"`
			Amount  *int64 `json:"amount"`
		} `json:"from,omitempty"`
	} `json:"amount"`
	GoodsDetail []struct {
		MerchantGoodsID  string `json:"merchant_goods_id"`
		WechatpayGoodsID string `json:"wechatpay_goods_id,omitempty"`
		GoodsName        string `json:"goods_name,omitempty"`
		UnitPrice        *int64 `json:"unit_price"`
		RefundAmount     *int64 `json:"refund_amount"`
		RefundQuantity   *int64 `json:"refund_quantity"`
	} `json:"goods_detail,omitempty"`
}

func checkV3Refund(p *v3RefundRequest) (v3Answer, bool) {
	req := func(field string) (v3Answer, bool) { return v3Param(field, "body", "参数必填"), false }
	bad := func(field, issue string) (v3Answer, bool) { return v3Param(field, "body", issue), false }
	switch {
	case p.TransactionID == "" && p.OutTradeNo == "":
		return req("/out_trade_no")
	case p.OutRefundNo == "":
		return req("/out_refund_no")
	case p.Amount == nil:
		return req("/amount")
	case p.Amount.Refund == nil:
		return req("/amount/refund")
	case p.Amount.Total == nil:
		return req("/amount/total")
	case p.Amount.Currency == "":
		return req("/amount/currency")
	}
	switch {
	case p.TransactionID != "" && (len(p.TransactionID) > 32 || !isAlnum(p.TransactionID)):
		return bad("/transaction_id", "格式错误")
	case p.OutTradeNo != "" && !validOutTradeNo(p.OutTradeNo):
		return bad("/out_trade_no", "格式错误")
	case !validOutRefundNo(p.OutRefundNo):
		return bad("/out_refund_no", "须为1至64位数字、字母或_-|*@")
	case utf8.RuneCountInString(p.Reason) > 80:
		return bad("/reason", "长度超过80")
	case p.NotifyURL != "" && (len(p.NotifyURL) > 255 || !validNotifyURL(p.NotifyURL)):
		return bad("/notify_url", "须为不带参数的http(s)绝对地址，长度不超过255")
	case p.FundsAccount != "" && p.FundsAccount != "AVAILABLE":
		return bad("/funds_account", "取值须为AVAILABLE")
	case *p.Amount.Total <= 0:
		return bad("/amount/total", "须为正整数（单位分）")
	case *p.Amount.Refund <= 0 || *p.Amount.Refund > *p.Amount.Total:
		return bad("/amount/refund", "须为正整数，且不超过原订单金额")
	case p.Amount.Currency != "CNY":
		return bad("/amount/currency", "Currency code is invalid")
	}
	if len(p.Amount.From) > 0 {
		var sum int64
		for _, fr := range p.Amount.From {
			if fr.Account != "AVAILABLE" && fr.Account != "UNAVAILABLE" {
				return bad("/amount/from/account", "取值须为AVAILABLE或UNAVAILABLE")
			}
			if fr.Amount == nil || *fr.Amount <= 0 {
				return bad("/amount/from/amount", "须为正整数")
			}
			// Each share is at most the refund, and the sum stops growing
			// past it: int64 amounts could otherwise wrap back to it.
			if *fr.Amount > *p.Amount.Refund-sum {
				return bad("/amount/from", "出资金额之和须等于退款金额")
			}
			sum += *fr.Amount
		}
		if sum != *p.Amount.Refund {
			return bad("/amount/from", "出资金额之和须等于退款金额")
		}
	}
	for _, g := range p.GoodsDetail {
		switch {
		case g.MerchantGoodsID == "":
			return req("/goods_detail/merchant_goods_id")
		case g.UnitPrice == nil || *g.UnitPrice < 0, g.RefundAmount == nil || *g.RefundAmount < 0,
			g.RefundQuantity == nil || *g.RefundQuantity < 1:
			return bad("/goods_detail", "金额或数量有误")
		}
	}
	return v3Answer{}, true
}

// v3Refund answers POST /v3/refund/domestic/refunds with WeChat's rules,
// over the refunds v2's refund also keeps: only a paid order, total its
// amount, refunds bounded by what is left (whichever generation made
// the earlier ones), at most MaxRefunds, and out_refund_no the
// idempotency key.
func (f *Fake) v3Refund(c *v3Call) v3Answer {
	var p v3RefundRequest
	if a, ok := decodeV3(c.body, &p); !ok {
		return a
	}
	if a, ok := checkV3Refund(&p); !ok {
		return a
	}
	total, fee := *p.Amount.Total, *p.Amount.Refund
	now := f.Now()
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	f.refunds.mu.Lock()
	defer f.refunds.mu.Unlock()
	o := f.orders.findLocked(p.TransactionID, p.OutTradeNo)
	if o == nil {
		return v3Error("RESOURCE_NOT_EXISTS", "订单不存在")
	}
	if prev := f.refunds.byNo[p.OutRefundNo]; prev != nil {
		switch {
		case prev.order != o:
			return v3Error("INVALID_REQUEST", "out_refund_no已被其他订单使用")
		case prev.TotalFee != total || prev.RefundFee != fee:
			a := v3Error("INVALID_REQUEST", "请求重入时，参数与首次请求时不一致")
			a.biz = 268498688
			return a
		}
		f.settleDueLocked(prev, now)
		return v3OK(f.v3RefundObject(prev))
	}
	switch o.state(now) {
	case StateSuccess, StateRefund:
	default:
		return v3Error("INVALID_REQUEST", "订单未支付，不能退款")
	}
	if total != o.TotalFee {
		return v3Error("INVALID_REQUEST", "订单金额与原订单金额不一致")
	}
	if now.Sub(o.PaidAt) > 365*24*time.Hour {
		return v3Error("INVALID_REQUEST", "订单已超过退款期限")
	}
	left := o.TotalFee - o.refundedLocked()
	switch {
	case fee > left:
		return v3Error("NOT_ENOUGH", "申请退款金额超过订单可退金额")
	case len(o.refunds) >= MaxRefunds:
		return v3Error("INVALID_REQUEST", "退款次数超过限制")
	}
	rf := &refund{
		Refund: Refund{
			OutRefundNo:   p.OutRefundNo,
			RefundID:      f.newRefundID(now),
			OutTradeNo:    o.OutTradeNo,
			TransactionID: o.TransactionID,
			TotalFee:      o.TotalFee,
			RefundFee:     fee,
			Status:        RefundProcessing,
			Account:       "REFUND_SOURCE_UNSETTLED_FUNDS",
			RecvAccount:   "支付用户零钱",
			NotifyURL:     p.NotifyURL,
			CreatedAt:     now,
			APIv3:         true,
			V3Request:     append([]byte(nil), c.body...),
		},
		order:   o,
		note:    newNotice(o.OutTradeNo, p.OutRefundNo),
		v3:      true,
		v3Funds: p.FundsAccount,
	}
	if p.FundsAccount == "AVAILABLE" {
		rf.Account = "REFUND_SOURCE_RECHARGE_FUNDS"
	}
	if rf.NotifyURL == "" {
		rf.NotifyURL = f.cfg.RefundNotifyURL
	}
	rf.note.url, rf.note.v3 = rf.NotifyURL, true
	f.notify.mu.Lock()
	rf.note.v3Fault = f.notify.refundFaults[rf.OutRefundNo]
	f.notify.mu.Unlock()
	rf.Coupons = o.couponShares(fee, fee == left)
	rf.CashRefundFee, rf.SettlementRefundFee = fee, fee
	for _, cp := range rf.Coupons {
		rf.CashRefundFee -= cp.Fee
		if cp.Type == wxpay.CouponNoCash {
			rf.SettlementRefundFee -= cp.Fee
		}
	}
	f.addRefundLocked(o, rf)
	f.startRefundLocked(rf, now)
	return v3OK(f.v3RefundObject(rf))
}

// v3RefundStatus is a refund's status as v3 names it.
func v3RefundStatus(s wxpay.RefundStatus) string {
	switch s {
	case RefundSuccess:
		return "SUCCESS"
	case RefundClosed:
		return "CLOSED"
	case RefundChange:
		return "ABNORMAL"
	}
	return "PROCESSING"
}

type v3RefundAmount struct {
	Total            int64          `json:"total"`
	Refund           int64          `json:"refund"`
	From             []v3RefundFrom `json:"from"`
	PayerTotal       int64          `json:"payer_total"`
	PayerRefund      int64          `json:"payer_refund"`
	SettlementRefund int64          `json:"settlement_refund"`
	SettlementTotal  int64          `json:"settlement_total"`
	DiscountRefund   int64          `json:"discount_refund"`
	Currency         string         `json:"currency"`
}

type v3RefundFrom struct {
	Account string `json:"account"`
	Amount  int64  `json:"amount"`
}

type v3RefundPromotion struct {
	PromotionID  string `json:"promotion_id"`
	Scope        string `json:"scope"`
	Type         string `json:"type"`
	Amount       int64  `json:"amount"`
	RefundAmount int64  `json:"refund_amount"`
}

// v3RefundObject is the Refund object of the refund endpoints' answers.
// The caller holds the refunds' lock.
func (f *Fake) v3RefundObject(rf *refund) any {
	o := rf.order
	funds := "UNSETTLED"
	if rf.v3Funds == "AVAILABLE" || rf.Account == "REFUND_SOURCE_RECHARGE_FUNDS" {
		funds = "AVAILABLE"
	}
	out := struct {
		RefundID            string              `json:"refund_id"`
		OutRefundNo         string              `json:"out_refund_no"`
		TransactionID       string              `json:"transaction_id"`
		OutTradeNo          string              `json:"out_trade_no"`
		Channel             string              `json:"channel"`
		UserReceivedAccount string              `json:"user_received_account"`
		SuccessTime         string              `json:"success_time,omitempty"`
		CreateTime          string              `json:"create_time"`
		Status              string              `json:"status"`
		FundsAccount        string              `json:"funds_account"`
		Amount              v3RefundAmount      `json:"amount"`
		PromotionDetail     []v3RefundPromotion `json:"promotion_detail"`
	}{
		RefundID: rf.RefundID, OutRefundNo: rf.OutRefundNo, TransactionID: rf.TransactionID, OutTradeNo: rf.OutTradeNo,
		Channel: "ORIGINAL", UserReceivedAccount: rf.RecvAccount, CreateTime: v3Time(rf.CreatedAt),
		Status: v3RefundStatus(rf.Status), FundsAccount: funds,
		Amount: v3RefundAmount{
			Total: rf.TotalFee, Refund: rf.RefundFee, From: []v3RefundFrom{}, PayerTotal: o.cashFee(), PayerRefund: rf.CashRefundFee,
			SettlementRefund: rf.SettlementRefundFee, SettlementTotal: o.settlementTotal(),
			DiscountRefund: rf.RefundFee - rf.CashRefundFee, Currency: "CNY",
		},
		PromotionDetail: []v3RefundPromotion{},
	}
	if !rf.SuccessTime.IsZero() {
		out.SuccessTime = v3Time(rf.SuccessTime)
	}
	for _, cp := range rf.Coupons {
		var whole int64
		for _, oc := range o.Coupons {
			if oc.ID == cp.ID {
				whole = oc.Fee
			}
		}
		out.PromotionDetail = append(out.PromotionDetail, v3RefundPromotion{
			PromotionID: cp.ID, Scope: "GLOBAL", Type: "COUPON", Amount: whole, RefundAmount: cp.Fee,
		})
	}
	return out
}

// v3RefundQuery answers GET /v3/refund/domestic/refunds/{out_refund_no}.
func (f *Fake) v3RefundQuery(c *v3Call) v3Answer {
	orn := c.r.PathValue("out_refund_no")
	if !validOutRefundNo(orn) {
		return v3Param("out_refund_no", "path", "格式错误")
	}
	if a, ok := checkV3Query(c.query, nil); !ok {
		return a
	}
	f.refunds.mu.Lock()
	defer f.refunds.mu.Unlock()
	rf := f.refunds.byNo[orn]
	if rf == nil {
		return v3Error("RESOURCE_NOT_EXISTS", "退款单不存在")
	}
	f.settleDueLocked(rf, f.Now())
	return v3OK(f.v3RefundObject(rf))
}

// v3AbnormalRefund answers POST .../{refund_id}/apply-abnormal-refund:
// an ABNORMAL refund goes out again (PROCESSING, then SUCCESS as any
// refund), to the payer's bank card (bank_account and real_name
// encrypted with RSA-OAEP under the WeChat key the Wechatpay-Serial
// header names) or the merchant's.
func (f *Fake) v3AbnormalRefund(c *v3Call) v3Answer {
	rid := c.r.PathValue("refund_id")
	if len(rid) > 32 || !isAlnum(rid) {
		return v3Param("refund_id", "path", "格式错误")
	}
	var p struct {
		OutRefundNo string `json:"out_refund_no"`
		Type        string `json:"type"`
		BankType    string `json:"bank_type,omitempty"`
		BankAccount string `json:"bank_account,omitempty"`
		RealName    string `json:"real_name,omitempty"`
	}
	if a, ok := decodeV3(c.body, &p); !ok {
		return a
	}
	switch {
	case p.OutRefundNo == "":
		return v3Param("/out_refund_no", "body", "参数必填")
	case p.Type == "":
		return v3Param("/type", "body", "参数必填")
	}
	switch p.Type {
	case "USER_BANK_CARD":
		if p.BankType == "" || p.BankAccount == "" || p.RealName == "" {
			return v3Param("/bank_account", "body", "退款至用户银行卡须传bank_type、bank_account与real_name")
		}
		key := f.v3.decryptionKey(c.serial)
		if key == nil {
			return v3Param("Wechatpay-Serial", "header", "敏感信息加密所用的证书序列号或公钥ID有误")
		}
		for _, ct := range []string{p.BankAccount, p.RealName} {
			if !oaepOpens(key, ct) {
				return v3Param("/bank_account", "body", "敏感信息解密失败")
			}
		}
	case "MERCHANT_BANK_CARD":
		if p.BankType != "" || p.BankAccount != "" || p.RealName != "" {
			return v3Param("/bank_account", "body", "退款至商户银行卡不传银行卡信息")
		}
	default:
		return v3Param("/type", "body", "取值须为USER_BANK_CARD或MERCHANT_BANK_CARD")
	}
	now := f.Now()
	f.refunds.mu.Lock()
	defer f.refunds.mu.Unlock()
	rf := f.refunds.byID[rid]
	if rf == nil || rf.OutRefundNo != p.OutRefundNo {
		return v3Error("RESOURCE_NOT_EXISTS", "退款单不存在")
	}
	f.settleDueLocked(rf, now)
	if rf.Status != RefundChange {
		return v3Error("INVALID_REQUEST", "退款单状态不是退款异常，无需处理")
	}
	rf.Status = RefundProcessing
	rf.RecvAccount = "用户银行卡"
	if p.Type == "MERCHANT_BANK_CARD" {
		rf.RecvAccount = "商户银行卡"
	}
	rf.note = newNotice(rf.OutTradeNo, rf.OutRefundNo)
	rf.note.url, rf.note.v3 = rf.NotifyURL, rf.v3
	f.notify.mu.Lock()
	rf.note.v3Fault = f.notify.refundFaults[rf.OutRefundNo]
	f.notify.mu.Unlock()
	f.startRefundLocked(rf, now)
	return v3OK(f.v3RefundObject(rf))
}

// decryptionKey is the private key of the WeChat key the serial names
// (the public key id or a platform certificate's serial), or nil.
func (k *v3Keys) decryptionKey(serial string) *rsa.PrivateKey {
	if serial == "" {
		return nil
	}
	if serial == k.pubKeyID {
		return k.wxKey
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	cs, err := k.certsLocked()
	if err != nil {
		return nil
	}
	for _, pc := range cs {
		if wire.NormSerial(pc.serial) == wire.NormSerial(serial) {
			return pc.key
		}
	}
	return nil
}

// oaepOpens reports whether ct is base64 RSAES-OAEP (SHA-1) under key,
// as sensitive fields are encrypted.
//
// WeChat Pay docs: https://pay.wechatpay.cn/doc/v3/partner/4013059053
func oaepOpens(key *rsa.PrivateKey, ct string) bool {
	raw, err := base64.StdEncoding.DecodeString(ct)
	if err != nil {
		return false
	}
	_, err = rsa.DecryptOAEP(sha1.New(), nil, key, raw, nil)
	return err == nil
}

// v3RefundNotificationBody builds the REFUND.* notification of a
// settled v3 refund, sealed with associated_data "refund". The caller
// holds the refunds' lock; only what is fixed of rf's order is read.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_11.shtml
func (f *Fake) v3RefundNotificationBody(rf *refund) []byte {
	st := v3RefundStatus(rf.Status)
	plain := struct {
		MchID               string `json:"mchid"`
		OutTradeNo          string `json:"out_trade_no"`
		TransactionID       string `json:"transaction_id"`
		OutRefundNo         string `json:"out_refund_no"`
		RefundID            string `json:"refund_id"`
		RefundStatus        string `json:"refund_status"`
		SuccessTime         string `json:"success_time,omitempty"`
		UserReceivedAccount string `json:"user_received_account"`
		Amount              struct {
			Total       int64 `json:"total"`
			Refund      int64 `json:"refund"`
			PayerTotal  int64 `json:"payer_total"`
			PayerRefund int64 `json:"payer_refund"`
		} `json:"amount"`
	}{MchID: f.cfg.MchID, OutTradeNo: rf.OutTradeNo, TransactionID: rf.TransactionID, OutRefundNo: rf.OutRefundNo,
		RefundID: rf.RefundID, RefundStatus: st, UserReceivedAccount: rf.RecvAccount}
	if !rf.SuccessTime.IsZero() {
		plain.SuccessTime = v3Time(rf.SuccessTime)
	}
	plain.Amount.Total, plain.Amount.Refund = rf.TotalFee, rf.RefundFee
	plain.Amount.PayerTotal, plain.Amount.PayerRefund = rf.order.cashFee(), rf.CashRefundFee
	b, err := json.Marshal(plain)
	if err != nil {
		panic("wxpaytest: cannot encode a v3 refund notification: " + err.Error())
	}
	summary := map[string]string{"SUCCESS": "退款成功", "ABNORMAL": "退款异常", "CLOSED": "退款关闭"}[st]
	at := rf.SuccessTime
	if at.IsZero() {
		at = f.Now()
	}
	return f.v3Envelope("REFUND."+st, summary, "refund", at, b)
}

// V3RefundNotifyFault bends the delivery attempts of the API v3 refund
// notification of the refund with this out_refund_no, as
// [PayOptions.V3Fault] does a payment's: call it before the refund is
// requested (or before it settles). fn returns the zero Fault for a
// genuine attempt; nil removes it.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_11.shtml
func (f *Fake) V3RefundNotifyFault(outRefundNo string, fn func(attempt int) Fault) {
	f.refunds.mu.Lock()
	defer f.refunds.mu.Unlock()
	f.notify.mu.Lock()
	defer f.notify.mu.Unlock()
	if fn == nil {
		delete(f.notify.refundFaults, outRefundNo)
	} else {
		f.notify.refundFaults[outRefundNo] = fn
	}
	if rf := f.refunds.byNo[outRefundNo]; rf != nil {
		rf.note.v3Fault = fn
	}
}
