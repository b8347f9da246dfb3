package app

import (
	"context"
	"fmt"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/shop"
)

// queryState maps every trade_state orderquery answers to what the shop
// does with it. A state this list does not know is an error, not a
// guess: reconciliation asks again later (and logs it), and GetOrder
// shows the stored state.
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_2
func queryState(ts wxpay.TradeState) (shop.QueryState, error) {
	switch ts {
	case wxpay.TradeStateSuccess:
		return shop.QueryPaid, nil
	case wxpay.TradeStateRefund:
		// 转入退款: paid, then (partly) refunded. Still paid, and the
		// refunds are WeChat's to tell (refundquery).
		return shop.QueryPaid, nil
	case wxpay.TradeStateNotPay, wxpay.TradeStateUserPaying, wxpay.TradeStateAccept:
		// Not paid yet, or the debit is under way: it may still be paid.
		return shop.QueryNotPaid, nil
	case wxpay.TradeStatePayError:
		// The payment failed (the bank refused, say). The out_trade_no is
		// not paid; it stays open until it expires and is closed with
		// closeorder, which answers ORDERPAID if a retry paid it.
		return shop.QueryNotPaid, nil
	case wxpay.TradeStateClosed, wxpay.TradeStateRevoked:
		return shop.QueryClosed, nil
	}
	return 0, fmt.Errorf("orderquery: trade_state %q is not one this server knows", ts)
}

// maxRefundPages bounds the refundquery pages read for one order: WeChat
// allows 50 refunds of a payment and answers 10 a page.
const maxRefundPages = 5

// queryResult turns an orderquery answer into the shop's view. A paid
// answer carries the payment; REFUND's answer carries none of its
// details (WeChat sends them only with SUCCESS), so they and the refunds
// WeChat made come from refundquery, which names the transaction_id,
// total_fee and every refund of the order.
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_5
func (p wechatPay) queryResult(ctx context.Context, res *wxpay.OrderQueryResponse) (shop.QueryState, *shop.Payment, error) {
	state, err := queryState(res.TradeState)
	if err != nil || state != shop.QueryPaid {
		return state, nil, err
	}
	pm := &shop.Payment{
		OutTradeNo:    res.OutTradeNo,
		TransactionID: res.TransactionID,
		TotalFen:      res.TotalFee,
		Paid:          true,
		TimeEnd:       res.TimeEnd,
	}
	if res.TradeState != wxpay.TradeStateRefund {
		return state, pm, nil
	}
	for page := range maxRefundPages {
		rq, err := p.c.RefundQuery(ctx, &wxpay.RefundQueryRequest{OutTradeNo: res.OutTradeNo, Offset: 10 * page})
		if err != nil {
			return 0, nil, fmt.Errorf("orderquery answered REFUND; refundquery: %w", err)
		}
		pm.TransactionID, pm.TotalFen = rq.TransactionID, rq.TotalFee
		for _, r := range rq.Refunds {
			pm.Refunds = append(pm.Refunds, shop.RefundResult{
				OutTradeNo: res.OutTradeNo, OutRefundNo: r.OutRefundNo, RefundID: r.RefundID,
				RefundFen: r.RefundFee, Status: string(r.Status), SuccessTime: r.SuccessTime,
			})
		}
		if len(rq.Refunds) < 10 || len(pm.Refunds) >= rq.TotalRefundCount {
			break
		}
	}
	return state, pm, nil
}
