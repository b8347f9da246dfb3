package app

import (
	"testing"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/shop"
)

// TestQueryState: every trade_state orderquery documents has a deliberate
// meaning, and one it does not is an error rather than "not paid".
func TestQueryState(t *testing.T) {
	for ts, want := range map[wxpay.TradeState]shop.QueryState{
		wxpay.TradeStateSuccess:    shop.QueryPaid,
		wxpay.TradeStateRefund:     shop.QueryPaid,
		wxpay.TradeStateNotPay:     shop.QueryNotPaid,
		wxpay.TradeStateUserPaying: shop.QueryNotPaid,
		wxpay.TradeStateAccept:     shop.QueryNotPaid,
		wxpay.TradeStatePayError:   shop.QueryNotPaid,
		wxpay.TradeStateClosed:     shop.QueryClosed,
		wxpay.TradeStateRevoked:    shop.QueryClosed,
	} {
		if got, err := queryState(ts); err != nil || got != want {
			t.Errorf("queryState(%s) = %v, %v; want %v", ts, got, err, want)
		}
	}
	for _, ts := range []wxpay.TradeState{"", "PAID", "success", "REFUNDED"} {
		if _, err := queryState(ts); err == nil {
			t.Errorf("queryState(%q) accepted an unknown state", ts)
		}
	}
}
