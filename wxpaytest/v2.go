package wxpaytest

import (
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/wxpay-go/wxpay"
)

// maxRequest bounds what the fake reads of a request body; WeChat's own
// messages are a few kilobytes.
const maxRequest = 64 << 10

// Protocol-layer return_msg wordings (return_code FAIL), which WeChat sends
// unsigned. Only post数据为空 and 签名错误 are attested in WeChat's pages and
// merchants' reports; the others follow their pattern.
const (
	msgPostEmpty = "post数据为空"
	msgXML       = "XML格式错误"
	msgSign      = "签名错误"
	msgMethod    = "请使用post方法"
	msgMchID     = "商户号mch_id或sub_mch_id不存在"
	// msgCertNotMatch answers a valid certificate of another merchant,
	// as merchants report it.
	msgCertNotMatch = "certificate not match"
	// msgFundFlowSignType answers a fund-flow request not signed with
	// HMAC-SHA256; WeChat's wording is not published.
	msgFundFlowSignType = "sign_type参数错误，仅支持HMAC-SHA256"
)

// answer is what a v2 handler decided: a protocol failure (failMsg, with
// failExtra such as downloadbill's error_code), business fields to sign
// and send, or a bill.
type answer struct {
	failMsg   string
	failExtra wxpay.Params
	fields    wxpay.Params
	unsigned  bool   // fields are sent without a sign (getsignkey)
	bill      []byte // a bill's text; sent as it is
	gzip      bool   // compress bill (tar_type=GZIP)
}

func protocolFail(msg string) answer { return answer{failMsg: msg} }

func (f *Fake) bizOK(extra wxpay.Params) answer {
	p := wxpay.Params{
		"return_code": "SUCCESS",
		"return_msg":  "OK",
		"appid":       f.cfg.AppID,
		"mch_id":      f.cfg.MchID,
		"nonce_str":   randAlnum(16),
		"result_code": "SUCCESS",
	}
	maps.Copy(p, extra)
	return answer{fields: p}
}

func (f *Fake) bizFail(code wxpay.ErrorCode, des string) answer {
	if des == "" {
		des = defaultDes(code)
	}
	a := f.bizOK(nil)
	a.fields["result_code"] = "FAIL"
	a.fields["err_code"] = string(code)
	a.fields["err_code_des"] = des
	return a
}

// signing is how one request must be signed and its answer is signed:
// the merchant's key and algorithm, or the sandbox's.
type signing struct {
	key     string
	st      wxpay.SignType
	signMsg string // return_msg of a request signed wrongly
}

func (f *Fake) prodSigning() signing {
	return signing{key: f.key, st: f.signType, signMsg: msgSign}
}

// servePay answers the v2 XML endpoints.
func (f *Fake) servePay(w http.ResponseWriter, r *http.Request, ep Endpoint, sig signing) {
	notMatch := false
	if certEndpoint(ep) {
		// WeChat's gateway judges the certificate before anything else.
		c := f.checkClientCert(r)
		if writeCertRefusal(w, c) {
			return
		}
		notMatch = c == certNotMatch
	}
	fl, faulty := f.takeFault(ep)
	if faulty {
		f.wait(r, fl.Delay)
	}
	var a answer
	switch {
	case r.Method != http.MethodPost:
		a = protocolFail(msgMethod)
	default:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
		switch {
		case err != nil:
			a = protocolFail(msgXML)
		case len(body) == 0:
			a = protocolFail(msgPostEmpty)
		case notMatch:
			a = protocolFail(msgCertNotMatch)
		default:
			if faulty && !fl.Processed && !fl.WrongKey && (hasAnswerFault(fl) || fl.Recall) {
				if fl.Recall && !hasAnswerFault(fl) {
					a = f.recallAnswer(ep, body, sig)
				}
				break // the fault replaces the answer; nothing happens
			}
			a = f.handleV2(ep, body, sig)
			if faulty && fl.Recall && ep == EndpointReverse && a.fields["result_code"] == "SUCCESS" {
				a.fields["recall"] = "Y" // reversed, but WeChat asks for another call
			}
		}
	}
	if faulty {
		if writeTransportFault(w, fl) {
			return
		}
		switch {
		case fl.ErrCode != "":
			a = f.bizFail(fl.ErrCode, fl.ErrCodeDes)
		case fl.ReturnMsg != "":
			a = protocolFail(fl.ReturnMsg)
		}
	}
	if a.failMsg != "" {
		f.log.Info("wxpaytest: refused", "endpoint", string(ep), "return_msg", a.failMsg)
	}
	f.writeV2(w, a, sig, faulty && fl.WrongKey)
}

func hasAnswerFault(fl Fault) bool {
	return fl.ErrCode != "" || fl.ReturnMsg != "" || fl.HTML || fl.Drop
}

func (f *Fake) writeV2(w http.ResponseWriter, a answer, sig signing, wrong bool) {
	if a.bill != nil {
		writeBill(w, a)
		return
	}
	p := a.fields
	switch {
	case a.failMsg != "":
		p = wxpay.Params{"return_code": "FAIL", "return_msg": a.failMsg}
		maps.Copy(p, a.failExtra)
	case a.unsigned:
	default:
		key := sig.key
		if wrong {
			key = wrongKey(key)
		}
		p["sign"] = signParams(p, key, sig.st)
	}
	b, err := wxpay.EncodeXML(p)
	if err != nil {
		// Every field the fake writes is its own or came from a request
		// DecodeXML accepted, which EncodeXML can always write.
		http.Error(w, "wxpaytest: cannot encode answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write(b)
}

// handleV2 checks a v2 request as WeChat does, in WeChat's order: parse,
// merchant, signature, appid, then the endpoint's own fields and state.
func (f *Fake) handleV2(ep Endpoint, body []byte, sig signing) answer {
	p, err := wxpay.DecodeXML(body)
	if err != nil {
		return protocolFail(msgXML)
	}
	if ep == EndpointDownloadFundFlow {
		// The fund-flow bill accepts HMAC-SHA256 only, whatever the
		// merchant's algorithm ("目前仅支持HMAC-SHA256").
		if wxpay.SignType(p["sign_type"]) != wxpay.SignHMACSHA256 {
			return protocolFail(msgFundFlowSignType)
		}
		sig.st = wxpay.SignHMACSHA256
	}
	if a, ok := f.checkCommon(p, sig); !ok {
		if ep == EndpointDownloadBill && a.failMsg == msgSign {
			a.failMsg = "SIGN ERROR" // downloadbill's own wording
		}
		return a
	}
	switch ep {
	case EndpointUnifiedOrder:
		return f.unifiedOrder(p)
	case EndpointOrderQuery:
		return f.orderQuery(p)
	case EndpointCloseOrder:
		return f.closeOrder(p)
	case EndpointRefund:
		return f.refund(p)
	case EndpointRefundQuery:
		return f.refundQuery(p)
	case EndpointDownloadBill:
		return f.downloadBill(p)
	case EndpointDownloadFundFlow:
		return f.downloadFundFlow(p)
	case EndpointMicroPay:
		return f.microPay(p)
	default:
		return f.reverse(p)
	}
}

func (f *Fake) checkCommon(p wxpay.Params, sig signing) (answer, bool) {
	for _, k := range []string{"appid", "mch_id", "nonce_str", "sign"} {
		if p[k] == "" {
			return protocolFail("缺少参数" + k), false
		}
	}
	if p["mch_id"] != f.cfg.MchID {
		return protocolFail(msgMchID), false
	}
	if len(p["nonce_str"]) > 32 {
		return protocolFail("nonce_str参数长度有误"), false
	}
	st := wxpay.SignType(p["sign_type"])
	switch st {
	case "":
		st = wxpay.SignMD5 // WeChat's default when sign_type is absent
	case wxpay.SignMD5, wxpay.SignHMACSHA256:
	default:
		return protocolFail("sign_type参数格式错误"), false
	}
	// The merchant signs with one algorithm; a request naming (or
	// defaulting to) another is signed wrongly for this merchant.
	if st != sig.st || !signOK(p, sig.key, st) {
		return protocolFail(sig.signMsg), false
	}
	if p["appid"] != f.cfg.AppID {
		return f.bizFail(wxpay.ErrCodeAppIDMchIDNotMatch, ""), false
	}
	return answer{}, true
}

// validOutTradeNo is WeChat's rule: 1 to 32 characters of [0-9A-Za-z_-|*@].
func validOutTradeNo(s string) bool { return validNo(s, 32) }

// validNo reports whether s is 1 to max characters of [0-9A-Za-z_-|*@],
// WeChat's alphabet of merchant numbers.
func validNo(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c == '_' || c == '-' || c == '|' || c == '*' || c == '@':
		default:
			return false
		}
	}
	return true
}

// parseFee reads a positive amount in fen written canonically.
func parseFee(s string) (int64, bool) {
	if s == "" || s[0] == '0' || len(s) > 15 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

func validNotifyURL(s string) bool {
	if len(s) > 256 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		u.RawQuery == "" && !u.ForceQuery && u.Fragment == "" && u.User == nil
}

func parseWXTime(s string) (time.Time, bool) {
	if len(s) != 14 {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(wxTime, s, beijing)
	return t, err == nil
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
	for _, k := range []string{"body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type"} {
		if p[k] == "" {
			return "缺少参数" + k
		}
	}
	switch {
	case len(p["body"]) > 128 || !utf8.ValidString(p["body"]):
		return "body参数长度有误"
	case len(p["attach"]) > 127:
		return "attach参数长度有误"
	case len(p["detail"]) > 6000:
		return "detail参数长度有误"
	case !validOutTradeNo(p["out_trade_no"]):
		return "out_trade_no参数格式错误"
	case p["fee_type"] != "" && p["fee_type"] != "CNY":
		return "fee_type参数格式错误"
	case net.ParseIP(p["spbill_create_ip"]) == nil:
		return "invalid spbill_create_ip"
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
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[p["out_trade_no"]]
	if ok {
		switch o.state(now) {
		case StateSuccess, StateRefund:
			return f.bizFail(wxpay.ErrCodeOrderPaid, "")
		case StateClosed:
			return f.bizFail(wxpay.ErrCodeOrderClosed, "")
		}
		if !sameOrder(o.Request, p) {
			code := f.cfg.DuplicateOrderCode
			if code == "" {
				code = wxpay.ErrCodeInvalidRequest
			}
			return f.bizFail(code, "")
		}
		o.Request = maps.Clone(p)
		o.TimeExpire = expire
		if now.Sub(o.prepayAt) >= PrepayLife {
			delete(f.byPrepay, o.PrepayID)
			o.PrepayID = f.newPrepayID(now)
			o.prepayAt = now
			f.byPrepay[o.PrepayID] = o
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
		f.orders[o.OutTradeNo] = o
		f.byPrepay[o.PrepayID] = o
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
	txn, otn := p["transaction_id"], p["out_trade_no"]
	switch {
	case txn == "" && otn == "":
		return protocolFail("缺少参数out_trade_no")
	case txn == "" && !validOutTradeNo(otn):
		return protocolFail("out_trade_no参数格式错误")
	case len(txn) > 32:
		return protocolFail("transaction_id参数长度有误")
	}
	now := f.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	var o *order
	if txn != "" { // transaction_id wins when both are sent
		o = f.byTxn[txn]
	} else {
		o = f.orders[otn]
	}
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
		"device_info":    o.Request["device_info"],
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
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orders[otn]
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

// defaultDes is WeChat's err_code_des for the codes the fake gives.
func defaultDes(code wxpay.ErrorCode) string {
	switch code {
	case wxpay.ErrCodeSystemError:
		return "系统错误"
	case wxpay.ErrCodeOrderPaid:
		return "该订单已支付"
	case wxpay.ErrCodeOrderClosed:
		return "该订单已关闭"
	case wxpay.ErrCodeOrderNotExist:
		return "订单不存在"
	case wxpay.ErrCodeOutTradeNoUsed:
		return "商户订单号重复"
	case wxpay.ErrCodeInvalidRequest:
		return "201 商户订单号重复"
	case wxpay.ErrCodeAppIDMchIDNotMatch:
		return "appid和mch_id不匹配"
	case wxpay.ErrCodeNoAuth:
		return "商户无此接口权限"
	case wxpay.ErrCodeNotEnough:
		return "余额不足"
	case wxpay.ErrCodeBankError:
		return "银行系统异常"
	case wxpay.ErrCodeTradeStateError:
		return "订单状态错误"
	case codeRefundFeeMismatch:
		return "订单金额或退款金额与之前请求不一致,请核实后再试"
	case codeTradeOverdue:
		return "订单已经超过退款期限"
	case codeRefundNotExist:
		return "退款订单查询失败"
	case codeBizErrNeedRetry:
		return "并发情况下，业务被拒绝，商户重试即可解决"
	case codeUserPaying:
		return "需要用户输入支付密码"
	case codeAuthCodeInvalid:
		return "请扫描微信支付授权码(以10/11/12/13/14/15为前缀的18位数字)"
	case codeOrderReversed:
		return "订单已撤销"
	case codeReverseExpire:
		return "订单已超过撤销期限"
	case codeTradeError:
		return "交易错误"
	case codeParamError:
		return "参数错误"
	case wxpay.ErrCodeFrequencyLimited:
		return "频率限制"
	}
	return string(code)
}
