package wxpaytest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/wire"
)

// orderRoutes are the order endpoints.
var orderRoutes = []route{
	{path: EndpointUnifiedOrder, proto: protoV2, sandbox: true, v2: (*Fake).unifiedOrder},
	{path: EndpointOrderQuery, proto: protoV2, sandbox: true, v2: (*Fake).orderQuery},
	{path: EndpointCloseOrder, proto: protoV2, sandbox: true, v2: (*Fake).closeOrder},
}

// Order states, as orderquery's trade_state reports them.
const (
	StateNotPay  = wxpay.TradeStateNotPay
	StateSuccess = wxpay.TradeStateSuccess
	StateClosed  = wxpay.TradeStateClosed
	// StateRefund is a paid order with at least one refund.
	StateRefund = wxpay.TradeStateRefund
	// StateUserPaying is a micropay order whose payer has not confirmed
	// yet; StatePayError one the payer declined; StateRevoked one
	// reversed.
	StateUserPaying = wxpay.TradeStateUserPaying
	StatePayError   = wxpay.TradeStatePayError
	StateRevoked    = wxpay.TradeStateRevoked
)

// PrepayLife is how long WeChat keeps a prepay_id valid, in the fake's
// time: after it a payment needs a new unifiedorder call (with the same
// parameters, which returns a fresh prepay_id for the same order).
const PrepayLife = 2 * time.Hour

// CloseDelay is how long after creation an order can first be closed:
// WeChat refuses closeorder within 5 minutes of unifiedorder.
const CloseDelay = 5 * time.Minute

// Order is a snapshot of an order the fake holds. Times are on the fake's
// clock ([Fake.Now]).
type Order struct {
	// OutTradeNo is the merchant's order number, the order's key.
	OutTradeNo string
	// TransactionID is WeChat's order number (transaction_id), set once
	// paid.
	TransactionID string
	// PrepayID is the current prepay_id (a new one is issued after
	// [PrepayLife]).
	PrepayID string
	// State is the trade_state orderquery reports: StateNotPay,
	// StateSuccess, StateClosed (an unpaid order past its time_expire is
	// StateClosed too), StateRefund once refunded, and for micropay
	// StateUserPaying, StatePayError or StateRevoked.
	State wxpay.TradeState
	// TradeType is the request's trade_type (JSAPI, NATIVE, APP, MWEB),
	// or MICROPAY for an order paid with a payment code.
	TradeType wxpay.TradeType
	// TotalFee is the order's amount in fen (分).
	TotalFee int64
	// NotifyURL is where the payment notification goes: the request's
	// notify_url.
	NotifyURL string
	// OpenID is the payer: the order's openid, or a fake user's for
	// other trade types.
	OpenID string
	// Attach is the request's attach, echoed in orderquery and the
	// notification.
	Attach string
	// SignType is the algorithm of the unifiedorder request, which signs
	// the notification.
	SignType wxpay.SignType
	// Coupons are the coupons the payment used, set once paid with
	// coupons.
	Coupons []wxpay.Coupon
	// CreatedAt is when unifiedorder (or micropay) created the order.
	CreatedAt time.Time
	// PaidAt is when the payer paid; zero unless paid.
	PaidAt time.Time
	// TimeExpire is the order's time_expire; zero when it had none.
	TimeExpire time.Time
	// Request is the verified unifiedorder request as received, sign
	// included; nil for an order placed through API v3.
	Request wxpay.Params
	// APIv3 reports that the order was placed through API v3 (a v3
	// prepay endpoint): its payment notification is then v3's, and its
	// paySign RSA.
	APIv3 bool
	// V3Request is the JSON body of the v3 prepay request as received;
	// nil for an order placed through v2.
	V3Request []byte
}

type order struct {
	Order
	prepayAt time.Time // when PrepayID was issued
	note     *notice   // the payment notification
	payOpts  PayOptions
	refunds  []*refund // oldest first
	micro    *microState
	// v3 orders: the prepay endpoint and its request, decoded and
	// written again (what a re-entry must match).
	v3ep     Endpoint
	v3canon  []byte
	deviceID string // scene_info.device_id
	desc     string // description
}

// deviceInfo is the order's device: v2's device_info, v3's
// scene_info.device_id.
func (o *order) deviceInfo() string {
	if o.APIv3 {
		return o.deviceID
	}
	return o.Request["device_info"]
}

// body is what the payer sees the order as: v2's body, v3's
// description.
func (o *order) body() string {
	if o.APIv3 {
		return o.desc
	}
	return o.Request["body"]
}

// orderBook is the orders domain: every order by its three numbers,
// and the payment codes micropay charges. Its lock is taken before the
// refunds' (a refund reads and marks its order) and before the
// notifier's.
type orderBook struct {
	mu       sync.Mutex
	byNo     map[string]*order // by out_trade_no
	byPrepay map[string]*order
	byTxn    map[string]*order
	payCodes map[string]*payCode // by auth_code
}

func newOrderBook() *orderBook {
	return &orderBook{
		byNo:     make(map[string]*order),
		byPrepay: make(map[string]*order),
		byTxn:    make(map[string]*order),
		payCodes: make(map[string]*payCode),
	}
}

// findLocked looks an order up by transaction_id, which wins, or
// out_trade_no.
func (b *orderBook) findLocked(txn, otn string) *order {
	if txn != "" {
		return b.byTxn[txn]
	}
	return b.byNo[otn]
}

// orderByNo is the order with this out_trade_no, or nil.
func (f *Fake) orderByNo(outTradeNo string) *order {
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	return f.orders.byNo[outTradeNo]
}

// Order endpoints: POST, XML.
const (
	// EndpointUnifiedOrder places an order:
	// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_1
	EndpointUnifiedOrder Endpoint = "/pay/unifiedorder"
	// EndpointOrderQuery reads one:
	// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_2
	EndpointOrderQuery Endpoint = "/pay/orderquery"
	// EndpointCloseOrder closes an unpaid one:
	// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_3
	EndpointCloseOrder Endpoint = "/pay/closeorder"
)

func (o *order) snapshot() Order {
	s := o.Order
	s.Coupons = slices.Clone(o.Coupons)
	s.Request = maps.Clone(o.Request)
	s.V3Request = slices.Clone(o.V3Request)
	return s
}

// snapshotAt is the order as it reads at now: its state then, and no
// PaidAt while a micropay payer has not (or never) confirmed.
func (o *order) snapshotAt(now time.Time) Order {
	s := o.snapshot()
	s.State = o.state(now)
	switch s.State {
	case StateUserPaying, StatePayError:
		s.PaidAt = time.Time{}
	}
	return s
}

// state is the order's trade_state at now: an unpaid order past its
// time_expire can no longer be paid, and reads as closed.
func (o *order) state(now time.Time) wxpay.TradeState {
	if o.State == StateUserPaying && o.micro != nil && !now.Before(o.PaidAt) {
		// The payer confirmed (or declined) on the phone meanwhile.
		if o.micro.decline {
			return StatePayError
		}
		return StateSuccess
	}
	if o.State == StateNotPay && !o.TimeExpire.IsZero() && !now.Before(o.TimeExpire) {
		return StateClosed
	}
	return o.State
}

// Order returns a snapshot of the order with this out_trade_no, and
// whether the fake knows it.
func (f *Fake) Order(outTradeNo string) (Order, bool) {
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	o, ok := f.orders.byNo[outTradeNo]
	if !ok {
		return Order{}, false
	}
	return o.snapshotAt(f.Now()), true
}

// Orders returns snapshots of every order, in no particular order.
func (f *Fake) Orders() []Order {
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	now := f.Now()
	out := make([]Order, 0, len(f.orders.byNo))
	for _, o := range f.orders.byNo {
		out = append(out, o.snapshotAt(now))
	}
	return out
}

// beijing is UTC+8, the zone of every WeChat Pay timestamp.
var beijing = time.FixedZone("CST", 8*3600)

const wxTime = "20060102150405"

// randDigits returns n random decimal digits.
func randDigits(n int) string { return wire.MustRandString(wire.Digits, n) }

// randAlnum returns n random characters of [0-9A-Za-z].
func randAlnum(n int) string { return wire.MustRandString(wire.Alnum, n) }

// newPrepayID mints a prepay_id shaped like WeChat's: "wx", the time, and
// 20 more characters (36 in all).
func (f *Fake) newPrepayID(now time.Time) string {
	return fmt.Sprintf("wx%s%s%06d", now.In(beijing).Format(wxTime), randDigits(14), f.seq.Add(1)%1000000)
}

// newTransactionID mints a 28-digit transaction_id like WeChat's.
func (f *Fake) newTransactionID(now time.Time) string {
	return fmt.Sprintf("4200000%s%s%06d", now.In(beijing).Format("20060102"), randDigits(7), f.seq.Add(1)%1000000)
}

// sameOrder reports whether two unifiedorder requests place the same
// order. They may differ in the per-request fields, and in time_expire,
// which WeChat lets a re-entry update.
func sameOrder(a, b wxpay.Params) bool {
	a, b = maps.Clone(a), maps.Clone(b)
	for _, k := range []string{"nonce_str", "sign", "sign_type", "time_expire"} {
		delete(a, k)
		delete(b, k)
	}
	for k, v := range a {
		if v == "" {
			delete(a, k)
		}
	}
	for k, v := range b {
		if v == "" {
			delete(b, k)
		}
	}
	return maps.Equal(a, b)
}

// checkUnifiedOrder returns the return_msg for a malformed unifiedorder, or
// "".
func (f *Fake) checkUnifiedOrder(p wxpay.Params, now time.Time) string {
	if msg := checkPayment(p, "body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type"); msg != "" {
		return msg
	}
	switch {
	case len(p["detail"]) > 6000:
		return "detail参数长度有误"
	case !validNotifyURL(p["notify_url"]):
		return "invalid notify_url"
	}
	if _, ok := parseFee(p["total_fee"]); !ok {
		return "invalid total_fee"
	}
	switch wxpay.TradeType(p["trade_type"]) {
	case wxpay.TradeJSAPI:
		if p["openid"] == "" {
			return "JSAPI支付必须传openid"
		}
	case wxpay.TradeNative:
		if p["product_id"] == "" {
			return "NATIVE支付必须传product_id"
		}
	case wxpay.TradeApp, wxpay.TradeMWeb:
	default:
		return "invalid trade_type"
	}
	if s := p["time_start"]; s != "" {
		if _, ok := parseWXTime(s); !ok {
			return "time_start时间格式错误"
		}
	}
	if s := p["time_expire"]; s != "" {
		t, ok := parseWXTime(s)
		if !ok {
			return "time_expire时间格式错误"
		}
		if t.Sub(now) < time.Minute {
			return "time_expire时间过短"
		}
	}
	return ""
}

func (f *Fake) unifiedOrder(p wxpay.Params) answer {
	now := f.Now()
	if msg := f.checkUnifiedOrder(p, now); msg != "" {
		return protocolFail(msg)
	}
	fee, _ := parseFee(p["total_fee"])
	var expire time.Time
	if s := p["time_expire"]; s != "" {
		expire, _ = parseWXTime(s)
	}
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	o, ok := f.orders.byNo[p["out_trade_no"]]
	if ok {
		switch o.state(now) {
		case StateSuccess, StateRefund:
			return f.bizFail(wxpay.ErrCodeOrderPaid, "")
		case StateClosed:
			return f.bizFail(wxpay.ErrCodeOrderClosed, "")
		}
		if !sameOrder(o.Request, p) {
			return f.duplicateOrder()
		}
		o.Request = maps.Clone(p)
		o.TimeExpire = expire
		if now.Sub(o.prepayAt) >= PrepayLife {
			delete(f.orders.byPrepay, o.PrepayID)
			o.PrepayID = f.newPrepayID(now)
			o.prepayAt = now
			f.orders.byPrepay[o.PrepayID] = o
		}
	} else {
		o = &order{
			Order: Order{
				OutTradeNo: p["out_trade_no"],
				PrepayID:   f.newPrepayID(now),
				State:      StateNotPay,
				TradeType:  wxpay.TradeType(p["trade_type"]),
				TotalFee:   fee,
				NotifyURL:  p["notify_url"],
				OpenID:     p["openid"],
				Attach:     p["attach"],
				SignType:   f.signType,
				CreatedAt:  now,
				TimeExpire: expire,
				Request:    maps.Clone(p),
			},
			prepayAt: now,
			note:     newNotice(p["out_trade_no"], ""),
		}
		f.orders.byNo[o.OutTradeNo] = o
		f.orders.byPrepay[o.PrepayID] = o
	}
	extra := wxpay.Params{"prepay_id": o.PrepayID, "trade_type": string(o.TradeType), "device_info": p["device_info"]}
	switch o.TradeType {
	case wxpay.TradeNative:
		extra["code_url"] = "weixin://wxpay/bizpayurl?pr=" + o.PrepayID[len(o.PrepayID)-7:]
	case wxpay.TradeMWeb:
		extra["mweb_url"] = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=" + o.PrepayID + "&package=" + randDigits(10)
	}
	return f.bizOK(extra)
}

func (f *Fake) orderQuery(p wxpay.Params) answer {
	if msg := checkOrderIDs(p["transaction_id"], p["out_trade_no"]); msg != "" {
		return protocolFail(msg)
	}
	now := f.Now()
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	o := f.orders.findLocked(p["transaction_id"], p["out_trade_no"]) // transaction_id wins when both are sent
	if o == nil {
		return f.bizFail(wxpay.ErrCodeOrderNotExist, "")
	}
	st := o.state(now)
	extra := wxpay.Params{
		"out_trade_no":     o.OutTradeNo,
		"trade_state":      string(st),
		"trade_state_desc": tradeStateDesc(st),
	}
	if st == StateSuccess {
		maps.Copy(extra, o.paidFields())
	}
	return f.bizOK(extra)
}

func tradeStateDesc(st wxpay.TradeState) string {
	switch st {
	case StateSuccess:
		return "支付成功"
	case StateClosed:
		return "订单已关闭"
	case StateRefund:
		return "订单转入退款"
	case StateUserPaying:
		return "需要用户输入支付密码"
	case StatePayError:
		return "支付失败"
	case StateRevoked:
		return "订单已撤销"
	default:
		return "订单未支付"
	}
}

// paidFields are the payment details that orderquery and the notification
// share.
func (o *order) paidFields() wxpay.Params {
	p := wxpay.Params{
		"device_info":    o.deviceInfo(),
		"openid":         o.OpenID,
		"is_subscribe":   "N",
		"trade_type":     string(o.TradeType),
		"bank_type":      o.payOpts.bankType(),
		"total_fee":      strconv.FormatInt(o.TotalFee, 10),
		"fee_type":       "CNY",
		"transaction_id": o.TransactionID,
		"out_trade_no":   o.OutTradeNo,
		"attach":         o.Attach,
		"time_end":       o.PaidAt.In(beijing).Format(wxTime),
	}
	cash, settle := o.TotalFee, o.TotalFee
	if len(o.Coupons) > 0 {
		var sum int64
		for i, c := range o.Coupons {
			n := strconv.Itoa(i)
			p["coupon_id_"+n] = c.ID
			p["coupon_type_"+n] = string(c.Type)
			p["coupon_fee_"+n] = strconv.FormatInt(c.Fee, 10)
			sum += c.Fee
			if c.Type == wxpay.CouponNoCash {
				settle -= c.Fee
			}
		}
		cash -= sum
		p["coupon_fee"] = strconv.FormatInt(sum, 10)
		p["coupon_count"] = strconv.Itoa(len(o.Coupons))
		p["settlement_total_fee"] = strconv.FormatInt(settle, 10)
	}
	p["cash_fee"] = strconv.FormatInt(cash, 10)
	for k, v := range p {
		if v == "" {
			delete(p, k)
		}
	}
	return p
}

func (f *Fake) closeOrder(p wxpay.Params) answer {
	otn := p["out_trade_no"]
	switch {
	case otn == "":
		return protocolFail("缺少参数out_trade_no")
	case !validOutTradeNo(otn):
		return protocolFail("out_trade_no参数格式错误")
	}
	now := f.Now()
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	o := f.orders.byNo[otn]
	if o == nil {
		return f.bizFail(wxpay.ErrCodeOrderNotExist, "")
	}
	switch o.State {
	case StateSuccess, StateRefund:
		return f.bizFail(wxpay.ErrCodeOrderPaid, "")
	case StateClosed:
		return f.bizFail(wxpay.ErrCodeOrderClosed, "")
	}
	if now.Sub(o.CreatedAt) < CloseDelay {
		return f.bizFail(wxpay.ErrCodeTradeStateError, "订单创建5分钟内不能关闭")
	}
	o.State = StateClosed
	return f.bizOK(wxpay.Params{"result_msg": "OK"})
}
