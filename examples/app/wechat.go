package app

// This file is the only one that speaks the wxpay and miniprogram APIs: it
// adapts them to the shop's small Payments and Login interfaces. Their
// errors are classified in upstream.go.

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/miniprogram"
)

type wechatPay struct{ c *wxpay.Client }

var _ shop.Payments = wechatPay{}

// Prepay calls unifiedorder for a JSAPI (mini-program) payment.
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_1
func (p wechatPay) Prepay(ctx context.Context, r shop.PrepayRequest) (string, error) {
	res, err := p.c.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
		Body:           r.Body,
		OutTradeNo:     r.OutTradeNo,
		TotalFee:       r.TotalFen,
		SpbillCreateIP: r.ClientIP,
		TimeStart:      r.TimeStart,
		TimeExpire:     r.TimeExpire,
		TradeType:      wxpay.TradeJSAPI,
		OpenID:         r.OpenID,
	})
	if err != nil {
		return "", payErr("unifiedorder", err)
	}
	return res.PrepayID, nil
}

// PayParams signs the wx.requestPayment arguments.
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=7_7&index=6
func (p wechatPay) PayParams(prepayID string) (any, error) {
	return p.c.JSAPIParams(prepayID)
}

// Query calls orderquery.
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_2
func (p wechatPay) Query(ctx context.Context, outTradeNo string) (shop.QueryState, *shop.Payment, error) {
	res, err := p.c.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: outTradeNo})
	var we *wxpay.Error
	if errors.As(err, &we) && we.Code == wxpay.ErrCodeOrderNotExist {
		return shop.QueryNotFound, nil, nil
	}
	if err != nil {
		return 0, nil, upstreamErr("orderquery", err)
	}
	return p.queryResult(ctx, res)
}

// Close calls closeorder.
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_3
func (p wechatPay) Close(ctx context.Context, outTradeNo string) error {
	err := p.c.CloseOrder(ctx, &wxpay.CloseOrderRequest{OutTradeNo: outTradeNo})
	var we *wxpay.Error
	if errors.As(err, &we) && we.Code == wxpay.ErrCodeOrderClosed {
		return nil
	}
	return payErr("closeorder", err)
}

// NotifyHandler verifies payment notifications and acknowledges them when
// fn returns nil.
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7
func (p wechatPay) NotifyHandler(fn func(ctx context.Context, pm shop.Payment) error) http.Handler {
	return p.c.NotifyHandler(func(ctx context.Context, n *wxpay.Notification) error {
		return fn(ctx, shop.Payment{
			OutTradeNo:    n.OutTradeNo,
			TransactionID: n.TransactionID,
			TotalFen:      n.TotalFee,
			Paid:          n.Paid(),
			TimeEnd:       n.TimeEnd,
		})
	})
}

// payErr turns WeChat's answers that change what the shop does into the
// shop's sentinels, and classifies every other failure.
func payErr(op string, err error) error {
	var we *wxpay.Error
	if errors.As(err, &we) {
		switch we.Code {
		case wxpay.ErrCodeOrderPaid:
			return shop.ErrWeChatPaid
		case wxpay.ErrCodeOrderClosed:
			return shop.ErrWeChatClosed
		}
	}
	return upstreamErr(op, err)
}

type wechatLogin struct{ c *miniprogram.Client }

var _ shop.Login = wechatLogin{}

// OpenID calls code2session and keeps only the openid: the session key is
// dropped here and so never stored, logged or returned.
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/server/API/user-login/api_code2session
func (l wechatLogin) OpenID(ctx context.Context, code string) (string, error) {
	sess, err := l.c.Code2Session(ctx, code)
	var me *miniprogram.Error
	if errors.As(err, &me) && (me.Code == miniprogram.CodeInvalidCode || me.Code == miniprogram.CodeCodeUsed) {
		return "", shop.ErrBadCode
	}
	if err != nil {
		return "", upstreamErr("code2session", err)
	}
	return sess.OpenID, nil
}

// wechatRefunds adapts the wxpay refund API to the shop's Refunder. Its
// client holds the merchant's client certificate, which refunds require.
type wechatRefunds struct {
	c         *wxpay.Client
	notifyURL string // where WeChat sends refund notifications
}

var _ shop.Refunder = wechatRefunds{}

// Refund calls the refund endpoint. WeChat refunds one out_refund_no once,
// so every error that leaves the outcome open is one to retry with the
// same out_refund_no, and only what classify calls refused (WeChat's
// definite refusals, a request wxpay refused to send) is final
// (shop.ErrRefundRefused); anything else may be sent again at once
// (shop.ErrRefundRetry).
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_4
func (p wechatRefunds) Refund(ctx context.Context, r shop.RefundRequest) (string, error) {
	res, err := p.c.Refund(ctx, &wxpay.RefundRequest{
		TransactionID: r.TransactionID,
		OutTradeNo:    r.OutTradeNo,
		OutRefundNo:   r.OutRefundNo,
		TotalFee:      r.TotalFen,
		RefundFee:     r.RefundFen,
		RefundDesc:    r.Reason,
		NotifyURL:     p.notifyURL,
	})
	if err == nil {
		return res.RefundID, nil
	}
	ue := upstreamErr("refund", err).(*shop.UpstreamError)
	switch ue.Kind {
	case shop.UpstreamRefused:
		return "", fmt.Errorf("%w: %w", shop.ErrRefundRefused, ue)
	default:
		// Unavailable or unknown: the same out_refund_no may be sent
		// again at once (WeChat refunds it once); if every try stays
		// unclear, the refund stays pending.
		return "", fmt.Errorf("%w: %w", shop.ErrRefundRetry, ue)
	}
}

// RefundNotifyHandler decrypts refund notifications and confirms each one
// with refundquery before fn sees it: refund notifications are not
// signed, and AES-ECB lets a relay replay or splice a genuine req_info.
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16
func (p wechatRefunds) RefundNotifyHandler(fn func(ctx context.Context, r shop.RefundResult) error) http.Handler {
	return p.c.RefundNotifyHandler(func(ctx context.Context, n *wxpay.RefundNotification) error {
		if !n.Confirmed {
			return errors.New("refund notification not confirmed with refundquery")
		}
		return fn(ctx, shop.RefundResult{
			OutTradeNo:  n.OutTradeNo,
			OutRefundNo: n.OutRefundNo,
			RefundID:    n.RefundID,
			RefundFen:   n.RefundFee,
			Status:      string(n.RefundStatus),
			SuccessTime: n.SuccessTime,
		})
	}, wxpay.ConfirmWithRefundQuery())
}
