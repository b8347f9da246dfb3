package app

// This file adapts WeChat Pay API v3 (package apiv3: JSON, RSA request
// signatures, AES-GCM notifications) to the shop's Payments and Refunder
// interfaces, as wechat.go adapts v2. The shop above it is the same code
// path on both generations: only these adapters, and the classification
// of their errors in upstream.go, know which one is in use.

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/examples/shop"
)

// wechatPayV3 is the v3 payment adapter; appID is the mini-program's,
// which signs wx.requestPayment's arguments.
type wechatPayV3 struct {
	c     *apiv3.Client
	appID string
}

var _ shop.Payments = wechatPayV3{}

// Prepay calls the JSAPI prepay endpoint (mini-program payment). The same
// request under the same out_trade_no is answered with the same prepay_id.
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012525167
func (p wechatPayV3) Prepay(ctx context.Context, r shop.PrepayRequest) (string, error) {
	res, err := p.c.PrepayJSAPI(ctx, apiv3.PrepayRequest{
		Description: r.Body,
		OutTradeNo:  r.OutTradeNo,
		TimeExpire:  r.TimeExpire,
		Amount:      apiv3.Amount{Total: r.TotalFen},
		Payer:       &apiv3.Payer{OpenID: r.OpenID},
		SceneInfo:   &apiv3.SceneInfo{PayerClientIP: r.ClientIP},
	})
	if err != nil {
		return "", payErrV3("transactions/jsapi", err)
	}
	return res.PrepayID, nil
}

// PayParams signs the wx.requestPayment arguments with the merchant's
// private key (signType RSA).
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/development/generate-turitup-signature-verification/mini-transfer-payment-signature.html
func (p wechatPayV3) PayParams(prepayID string) (any, error) {
	return p.c.JSAPIPayParams(p.appID, prepayID)
}

// Query asks for the order by out_trade_no. WeChat's v3 query has no
// counterpart of v2's refundquery by out_trade_no, so a REFUND answer
// is read as paid, from the transaction the answer carries, with no
// list of refunds.
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/apis/mini-program-payment/query-by-out-trade-no.html
func (p wechatPayV3) Query(ctx context.Context, outTradeNo string) (shop.QueryState, *shop.Payment, error) {
	t, err := p.c.QueryByOutTradeNo(ctx, outTradeNo)
	var we *apiv3.Error
	if errors.As(err, &we) && (we.Code == apiv3.ErrCodeOrderNotExist || we.Code == "ORDERNOTEXIST") && we.Verified {
		return shop.QueryNotFound, nil, nil
	}
	if err != nil {
		return 0, nil, upstreamErr("transactions/out-trade-no", err)
	}
	state, err := queryStateV3(t.TradeState)
	if err != nil || state != shop.QueryPaid {
		return state, nil, err
	}
	return state, &shop.Payment{
		OutTradeNo:    t.OutTradeNo,
		TransactionID: t.TransactionID,
		TotalFen:      t.Amount.Total,
		Paid:          true,
		TimeEnd:       t.SuccessTime,
	}, nil
}

// queryStateV3 maps every v3 trade_state to what the shop does with it,
// as queryState does v2's: the names are the same but for REVOKED, which
// v3 does not have for JSAPI orders. An unknown state is an error, never
// a guess.
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/apis/mini-program-payment/query-by-out-trade-no.html
func queryStateV3(ts apiv3.TradeState) (shop.QueryState, error) {
	switch ts {
	case apiv3.TradeSuccess, apiv3.TradeRefund:
		return shop.QueryPaid, nil
	case apiv3.TradeNotPay, apiv3.TradeUserPaying, apiv3.TradePayError:
		return shop.QueryNotPaid, nil
	case apiv3.TradeClosed, apiv3.TradeRevoked:
		return shop.QueryClosed, nil
	}
	return 0, fmt.Errorf("transactions/out-trade-no: trade_state %q is not one this server knows", ts)
}

// Close closes the order. Closing a closed order is not an error here
// (WeChat answers ORDER_CLOSED, or 204 again); a paid one is
// shop.ErrWeChatPaid.
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_4_3.shtml
func (p wechatPayV3) Close(ctx context.Context, outTradeNo string) error {
	err := p.c.CloseOrder(ctx, outTradeNo)
	if errors.Is(payErrV3("transactions/close", err), shop.ErrWeChatClosed) {
		return nil
	}
	return payErrV3("transactions/close", err)
}

// NotifyHandler verifies v3 payment notifications (WeChat's signature,
// then AES-256-GCM under the APIv3 key, then the merchant, appid and
// trade_state) and answers 204 only when fn returned nil. A v2 XML body
// has none of v3's signature headers and is refused (401, FAIL), so a
// message of the other generation never reaches fn.
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012791861
func (p wechatPayV3) NotifyHandler(fn func(ctx context.Context, pm shop.Payment) error) http.Handler {
	return p.c.NotifyHandler(func(ctx context.Context, n *apiv3.PaymentNotification) error {
		t := n.Transaction
		return fn(ctx, shop.Payment{
			OutTradeNo:    t.OutTradeNo,
			TransactionID: t.TransactionID,
			TotalFen:      t.Amount.Total,
			Paid:          true, // v3 notifies successful payments only
			TimeEnd:       t.SuccessTime,
		})
	})
}

// payErrV3 turns the v3 answers that change what the shop does into the
// shop's sentinels, as payErr does v2's: ORDERPAID and ORDER_CLOSED, when
// WeChat signed them (an unsigned error body may be a proxy's).
func payErrV3(op string, err error) error {
	var we *apiv3.Error
	if errors.As(err, &we) && we.Verified {
		switch we.Code {
		case apiv3.ErrCodeOrderPaid:
			return shop.ErrWeChatPaid
		case apiv3.ErrCodeOrderClosed:
			return shop.ErrWeChatClosed
		}
	}
	return upstreamErr(op, err)
}

// wechatRefundsV3 is the v3 refund adapter. v3 refunds need no client
// certificate: the merchant's private key signs them like every request.
type wechatRefundsV3 struct {
	c         *apiv3.Client
	notifyURL string
}

var _ shop.Refunder = wechatRefundsV3{}

// Refund calls the refund endpoint; like v2's adapter, only a refusal is
// final, and every unclear outcome may be sent again under the same
// out_refund_no.
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_9.shtml
func (p wechatRefundsV3) Refund(ctx context.Context, r shop.RefundRequest) (string, error) {
	res, err := p.c.Refund(ctx, &apiv3.RefundRequest{
		TransactionID: r.TransactionID,
		OutTradeNo:    r.OutTradeNo,
		OutRefundNo:   r.OutRefundNo,
		Reason:        r.Reason,
		NotifyURL:     p.notifyURL,
		Amount:        apiv3.RefundAmount{Refund: r.RefundFen, Total: r.TotalFen},
	})
	if err == nil {
		return res.RefundID, nil
	}
	ue := upstreamErr("refunds", err).(*shop.UpstreamError)
	if ue.Kind == shop.UpstreamRefused {
		return "", fmt.Errorf("%w: %w", shop.ErrRefundRefused, ue)
	}
	return "", fmt.Errorf("%w: %w", shop.ErrRefundRetry, ue)
}

// RefundNotifyHandler verifies v3 refund notifications. Unlike v2's,
// they are signed by WeChat and sealed with AES-GCM, so no refundquery
// is needed to trust them. Their states are written as v2 names them
// (CLOSED is REFUNDCLOSE, ABNORMAL is CHANGE), so that the shop settles
// a refund of either generation in one way.
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_11.shtml
func (p wechatRefundsV3) RefundNotifyHandler(fn func(ctx context.Context, r shop.RefundResult) error) http.Handler {
	return p.c.RefundNotifyHandler(func(ctx context.Context, n *apiv3.RefundNotification) error {
		return fn(ctx, shop.RefundResult{
			OutTradeNo:  n.OutTradeNo,
			OutRefundNo: n.OutRefundNo,
			RefundID:    n.RefundID,
			RefundFen:   n.Amount.Refund,
			Status:      refundStatusV3(n.Status),
			SuccessTime: n.SuccessTime,
		})
	})
}

// refundStatusV3 writes a v3 refund status under its v2 name.
func refundStatusV3(s apiv3.RefundStatus) string {
	switch s {
	case apiv3.RefundClosed:
		return "REFUNDCLOSE"
	case apiv3.RefundAbnormal:
		return "CHANGE"
	}
	return string(s) // SUCCESS, PROCESSING
}
