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

// serveV2 answers a v2 XML endpoint, checking what every v2 request
// needs in WeChat's order: the client certificate (the gateway judges it
// before anything else), the method, the body, then (in handleV2) the
// merchant, signature and appid; the row's handler sees only a verified
// request. An injected fault delays, replaces or follows the answer.
func (f *Fake) serveV2(w http.ResponseWriter, r *http.Request, s served) {
	rt, sig := s.route, s.sig
	notMatch := false
	if rt.cert {
		c := f.checkClientCert(r)
		if writeCertRefusal(w, c) {
			return
		}
		notMatch = c == certNotMatch
	}
	fl, faulty := f.faults.take(rt.path)
	if faulty {
		f.wait(r, fl.Delay)
	}
	recall := faulty && fl.Recall && rt.recall != nil
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
		case faulty && !fl.Processed && !fl.WrongKey && hasAnswerFault(fl):
			// The fault replaces the answer; nothing happens.
		case recall && !fl.Processed && !fl.WrongKey:
			a = f.handleV2(rt, rt.recall, body, sig) // recall=Y, nothing reversed
		default:
			a = f.handleV2(rt, rt.v2, body, sig)
			if recall && a.fields["result_code"] == "SUCCESS" {
				a.fields["recall"] = "Y" // done, but WeChat asks for another call
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
		f.log.Info("wxpaytest: refused", "endpoint", string(rt.path), "return_msg", a.failMsg)
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
// the row's imposed algorithm, merchant, signature, appid; then handler
// judges the endpoint's own fields and state.
func (f *Fake) handleV2(rt *route, handler func(*Fake, wxpay.Params) answer, body []byte, sig signing) answer {
	p, err := wxpay.DecodeXML(body)
	if err != nil {
		return protocolFail(msgXML)
	}
	if rt.sign != "" {
		// The endpoint accepts this algorithm only, whatever the
		// merchant's (the fund-flow bill: "目前仅支持HMAC-SHA256").
		if wxpay.SignType(p["sign_type"]) != rt.sign {
			return protocolFail("sign_type参数错误，仅支持" + string(rt.sign))
		}
		sig.st = rt.sign
	}
	if a, ok := f.checkCommon(p, sig); !ok {
		if rt.signMsg != "" && a.failMsg == msgSign {
			a.failMsg = rt.signMsg
		}
		return a
	}
	return handler(f, p)
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

// checkOrderIDs returns the return_msg for malformed order numbers
// (transaction_id, which wins, or out_trade_no), or "".
func checkOrderIDs(txn, otn string) string {
	switch {
	case txn == "" && otn == "":
		return "缺少参数out_trade_no"
	case txn == "" && !validOutTradeNo(otn):
		return "out_trade_no参数格式错误"
	case len(txn) > 32:
		return "transaction_id参数长度有误"
	}
	return ""
}

// checkPayment returns the return_msg for a malformed payment request
// (unifiedorder, micropay), or "": the required fields, then the fields
// both endpoints share, in WeChat's order.
func checkPayment(p wxpay.Params, required ...string) string {
	for _, k := range required {
		if p[k] == "" {
			return "缺少参数" + k
		}
	}
	switch {
	case len(p["body"]) > 128 || !utf8.ValidString(p["body"]):
		return "body参数长度有误"
	case len(p["attach"]) > 127:
		return "attach参数长度有误"
	case !validOutTradeNo(p["out_trade_no"]):
		return "out_trade_no参数格式错误"
	case p["fee_type"] != "" && p["fee_type"] != "CNY":
		return "fee_type参数格式错误"
	case net.ParseIP(p["spbill_create_ip"]) == nil:
		return "invalid spbill_create_ip"
	}
	return ""
}

// duplicateOrder is the answer to a payment request reusing an
// out_trade_no with other parameters (Config.DuplicateOrderCode).
func (f *Fake) duplicateOrder() answer {
	code := f.cfg.DuplicateOrderCode
	if code == "" {
		code = wxpay.ErrCodeInvalidRequest
	}
	return f.bizFail(code, "")
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
