package wxpaytest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/wxpay-go/wxpay"
)

// ErrRestore is matched (errors.Is) by every refusal of [Fake.RestoreOrder]
// and [Fake.RestoreRefund].
var ErrRestore = errors.New("wxpaytest: cannot restore")

// RestoreOrder gives a new Fake an order an earlier one held (of either
// generation: an Order with APIv3 set, and its V3Request, is restored
// as a v3 order, which needs Config.APIv3Key), so that a
// program keeping its own record of what WeChat knows (a server in fake
// mode, restarting on its database while the fake's memory is gone) can
// go on paying an unpaid order with its prepay_id, and refunding a paid
// one, as against WeChat, which never forgets.
//
// o is taken as a snapshot like those [Fake.Order] returns: OutTradeNo,
// TotalFee and State are required; State is StateNotPay (PrepayID
// required: the payer pays with it), StateSuccess or StateRefund
// (TransactionID required), or StateClosed. TradeType "" is JSAPI,
// SignType "" the fake's, CreatedAt and (for a paid order) PaidAt zero
// are now. The prepay_id's [PrepayLife] starts again now. The order has
// no refunds: restore them with [Fake.RestoreRefund]. Request may be nil;
// a unifiedorder for the same out_trade_no is then answered as a
// duplicate with other parameters, since nothing is known to compare it
// with.
//
// It refuses, changing nothing, an order the fake already knows (by
// out_trade_no, prepay_id or transaction_id), a malformed one, and any
// order once the fake is closed; every refusal matches [ErrRestore].
func (f *Fake) RestoreOrder(o Order) error {
	now := f.Now()
	if err := checkRestoredOrder(&o); err != nil {
		return err
	}
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	switch {
	case f.notify.isClosed():
		return fmt.Errorf("%w: the fake is closed", ErrRestore)
	case f.orders.byNo[o.OutTradeNo] != nil:
		return fmt.Errorf("%w: out_trade_no %s is known already", ErrRestore, o.OutTradeNo)
	case o.PrepayID != "" && f.orders.byPrepay[o.PrepayID] != nil:
		return fmt.Errorf("%w: prepay_id %s is known already", ErrRestore, o.PrepayID)
	case o.TransactionID != "" && f.orders.byTxn[o.TransactionID] != nil:
		return fmt.Errorf("%w: transaction_id %s is known already", ErrRestore, o.TransactionID)
	}
	if o.TradeType == "" {
		o.TradeType = wxpay.TradeJSAPI
	}
	if o.SignType == "" {
		o.SignType = f.signType
	}
	if o.CreatedAt.IsZero() {
		o.CreatedAt = now
	}
	if (o.State == StateSuccess || o.State == StateRefund) && o.PaidAt.IsZero() {
		o.PaidAt = now
	}
	if o.State == StateRefund {
		// Refunded is what its restored refunds make it; until then it
		// reads as paid.
		o.State = StateSuccess
	}
	o.Coupons = nil
	o.Request = maps.Clone(o.Request)
	in := &order{Order: o, prepayAt: now, note: newNotice(o.OutTradeNo, "")}
	if o.APIv3 {
		if err := f.restoreV3Order(in); err != nil {
			return err
		}
	}
	f.orders.byNo[o.OutTradeNo] = in
	if o.PrepayID != "" {
		f.orders.byPrepay[o.PrepayID] = in
	}
	if o.TransactionID != "" {
		f.orders.byTxn[o.TransactionID] = in
	}
	return nil
}

func checkRestoredOrder(o *Order) error {
	bad := func(why string) error { return fmt.Errorf("%w: order %q: %s", ErrRestore, o.OutTradeNo, why) }
	switch {
	case !validOutTradeNo(o.OutTradeNo):
		return bad("out_trade_no must be 1 to 32 of WeChat's characters")
	case o.TotalFee <= 0:
		return bad("total_fee must be positive")
	case o.PrepayID != "" && !validNo(o.PrepayID, 64):
		return bad("malformed prepay_id")
	case o.TransactionID != "" && !validNo(o.TransactionID, 32):
		return bad("malformed transaction_id")
	case o.NotifyURL != "" && !validNotifyURL(o.NotifyURL):
		return bad("notify_url must be an absolute http(s) URL without query")
	case o.SignType != "" && o.SignType != wxpay.SignMD5 && o.SignType != wxpay.SignHMACSHA256:
		return bad("sign type must be MD5 or HMAC-SHA256")
	}
	switch o.TradeType {
	case "", wxpay.TradeJSAPI, wxpay.TradeNative, wxpay.TradeApp, wxpay.TradeMWeb:
	default:
		return bad("trade type must be JSAPI, NATIVE, APP or MWEB")
	}
	switch o.State {
	case StateNotPay:
		if o.PrepayID == "" {
			return bad("an unpaid order needs its prepay_id")
		}
		if o.TransactionID != "" {
			return bad("an unpaid order has no transaction_id")
		}
	case StateSuccess, StateRefund:
		if o.TransactionID == "" {
			return bad("a paid order needs its transaction_id")
		}
	case StateClosed:
	default:
		return bad("state must be NOTPAY, SUCCESS, REFUND or CLOSED")
	}
	return nil
}

// RestoreRefund gives a new Fake a refund an earlier one accepted, for an
// order restored with [Fake.RestoreOrder], so that what is left to refund
// stays right and a refund still PROCESSING ends: like a fresh one, it
// succeeds after Config.RefundDelay (at once with
// Config.RefundImmediately) and its notification goes to NotifyURL
// (Config.RefundNotifyURL when empty).
//
// OutRefundNo, OutTradeNo (or TransactionID), RefundFee and Status
// (RefundProcessing, RefundSuccess, RefundClosed or RefundChange) are
// required; RefundID "" mints one, CreatedAt zero is now. It refuses,
// changing nothing, a refund the fake knows, one of an unknown or unpaid
// order, one that would refund more than was paid or make more than
// [MaxRefunds], and a malformed one; every refusal matches [ErrRestore].
func (f *Fake) RestoreRefund(r Refund) error {
	now := f.Now()
	bad := func(why string) error { return fmt.Errorf("%w: refund %q: %s", ErrRestore, r.OutRefundNo, why) }
	switch {
	case !validOutRefundNo(r.OutRefundNo):
		return bad("out_refund_no must be 1 to 64 of WeChat's characters")
	case r.RefundFee <= 0:
		return bad("refund_fee must be positive")
	case r.RefundID != "" && !validNo(r.RefundID, 32):
		return bad("malformed refund_id")
	case r.NotifyURL != "" && !validNotifyURL(r.NotifyURL):
		return bad("notify_url must be an absolute http(s) URL without query")
	}
	switch r.Status {
	case RefundProcessing, RefundSuccess, RefundClosed, RefundChange:
	default:
		return bad("status must be PROCESSING, SUCCESS, REFUNDCLOSE or CHANGE")
	}
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	f.refunds.mu.Lock()
	defer f.refunds.mu.Unlock()
	if f.notify.isClosed() {
		return bad("the fake is closed")
	}
	o := f.orders.findLocked(r.TransactionID, r.OutTradeNo)
	switch {
	case o == nil:
		return bad("no such order")
	case r.OutTradeNo != "" && o.OutTradeNo != r.OutTradeNo, r.TransactionID != "" && o.TransactionID != r.TransactionID:
		return bad("out_trade_no and transaction_id name different orders")
	case o.State != StateSuccess && o.State != StateRefund:
		return bad("the order is not paid")
	case f.refunds.byNo[r.OutRefundNo] != nil:
		return bad("out_refund_no is known already")
	case r.RefundID != "" && f.refunds.byID[r.RefundID] != nil:
		return bad("refund_id is known already")
	case len(o.refunds) >= MaxRefunds:
		return bad("the order has MaxRefunds refunds already")
	case r.Status != RefundClosed && r.RefundFee > o.TotalFee-o.refundedLocked():
		return bad("it would refund more than was paid")
	}
	rf := &refund{Refund: r, order: o, note: newNotice(o.OutTradeNo, r.OutRefundNo)}
	if r.APIv3 {
		if f.v3 == nil {
			return bad("a v3 refund needs Config.APIv3Key")
		}
		rf.v3, rf.note.v3 = true, true
		rf.V3Request = append([]byte(nil), r.V3Request...)
	}
	rf.OutTradeNo, rf.TransactionID, rf.TotalFee = o.OutTradeNo, o.TransactionID, o.TotalFee
	if rf.RefundID == "" {
		rf.RefundID = f.newRefundID(now)
	}
	if rf.CreatedAt.IsZero() {
		rf.CreatedAt = now
	}
	if rf.Status == RefundSuccess && rf.SuccessTime.IsZero() {
		rf.SuccessTime = now
	}
	if rf.Account == "" {
		rf.Account = "REFUND_SOURCE_UNSETTLED_FUNDS"
	}
	if rf.RecvAccount == "" {
		rf.RecvAccount = "支付用户零钱"
	}
	if rf.NotifyURL == "" {
		rf.NotifyURL = f.cfg.RefundNotifyURL
	}
	rf.note.url = rf.NotifyURL
	rf.Coupons = nil
	rf.CashRefundFee, rf.SettlementRefundFee = rf.RefundFee, rf.RefundFee
	rf.Request = maps.Clone(r.Request)
	f.addRefundLocked(o, rf)
	if rf.Status == RefundProcessing {
		f.startRefundLocked(rf, now)
	}
	return nil
}

// restoreV3Order gives a restored v3 order what re-entry, bills and the
// notification read: the generation, and from Order.V3Request the
// prepay endpoint's request as the fake compares it.
func (f *Fake) restoreV3Order(o *order) error {
	if f.v3 == nil {
		return fmt.Errorf("%w: order %q: a v3 order needs Config.APIv3Key", ErrRestore, o.OutTradeNo)
	}
	o.note.v3 = true
	o.V3Request = append([]byte(nil), o.V3Request...)
	o.v3ep = map[wxpay.TradeType]Endpoint{wxpay.TradeJSAPI: EndpointV3PrepayJSAPI, wxpay.TradeApp: EndpointV3PrepayApp,
		wxpay.TradeMWeb: EndpointV3PrepayH5, wxpay.TradeNative: EndpointV3PrepayNative}[o.TradeType]
	if len(o.V3Request) == 0 {
		return nil // re-entry then reads as another request
	}
	var p v3PrepayRequest
	if _, ok := decodeV3(o.V3Request, &p); !ok {
		return fmt.Errorf("%w: order %q: V3Request is not a prepay request", ErrRestore, o.OutTradeNo)
	}
	canon, err := json.Marshal(&p)
	if err != nil {
		return fmt.Errorf("%w: order %q: %v", ErrRestore, o.OutTradeNo, err)
	}
	o.v3canon, o.desc = canon, p.Description
	if p.SceneInfo != nil {
		o.deviceID = p.SceneInfo.DeviceID
	}
	return nil
}
