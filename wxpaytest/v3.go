package wxpaytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxpay-go/wxpay/internal/v3wire"
	"github.com/wxpay-go/wxpay/internal/wire"
)

// v3Call is a v3 request whose headers and Authorization passed: what a
// v3 handler reads.
type v3Call struct {
	r     *http.Request
	body  []byte
	query url.Values
	// serial is the request's Wechatpay-Serial header: which WeChat key
	// the merchant expects the answer signed with (V3SignBoth).
	serial string
}

// v3Answer is what a v3 handler decided: a status and a JSON body, or
// WeChat's error object.
type v3Answer struct {
	status int
	body   []byte // JSON; nil for 204
	// An error answer: code, message and optional detail.
	code    string
	message string
	detail  any
	// biz is the numeric business code Request-ID ends with (0 when
	// none applies).
	biz int
	// file is a bill file, sent unsigned as it is (gzip: compressed).
	file []byte
	gzip bool
}

// v3OK is a 200 answer with v as its JSON body.
func v3OK(v any) v3Answer {
	b, err := json.Marshal(v)
	if err != nil {
		// Every answer the fake writes is its own structs of strings
		// and numbers, which always encode.
		panic("wxpaytest: cannot encode a v3 answer: " + err.Error())
	}
	return v3Answer{status: http.StatusOK, body: b}
}

// v3Error is WeChat's error object with the HTTP status WeChat gives the
// code (see [v3Status]).
func v3Error(code, message string) v3Answer {
	return v3Answer{status: v3Status(code), code: code, message: message}
}

// v3Param is a 400 PARAM_ERROR naming the field (a JSON pointer into the
// body, or the name of a path or query parameter) and the issue.
func v3Param(field, location, issue string) v3Answer {
	a := v3Error("PARAM_ERROR", "参数错误")
	a.detail = map[string]string{"field": field, "location": location, "issue": issue}
	a.biz = 268435461 // 参数非法
	return a
}

// v3Status is the HTTP status WeChat answers an error code with.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/Share/error_code.shtml
func v3Status(code string) int {
	switch code {
	case "PARAM_ERROR", "INVALID_REQUEST", "ORDER_CLOSED", "APPID_MCHID_NOT_MATCH", "MCH_NOT_EXISTS",
		"NO_STATEMENT_EXIST", "STATEMENT_CREATING", "ORDERNOTEXIST_OR_NOTREFUND":
		return http.StatusBadRequest
	case "SIGN_ERROR":
		return http.StatusUnauthorized
	case "NO_AUTH", "TRADE_ERROR", "RULELIMIT", "NOTENOUGH", "NOT_ENOUGH", "OUT_TRADE_NO_USED", "ORDERPAID",
		"USER_ACCOUNT_ABNORMAL", "ACCOUNTERROR":
		return http.StatusForbidden
	case "ORDER_NOT_EXIST", "ORDERNOTEXIST", "RESOURCE_NOT_EXISTS", "NOT_FOUND":
		return http.StatusNotFound
	case "FREQUENCY_LIMITED", "RATELIMIT_EXCEEDED", "RATE_LIMITED":
		return http.StatusTooManyRequests
	case "USERPAYING":
		return http.StatusAccepted
	case "SERVICE_UNAVAILABLE":
		return http.StatusServiceUnavailable
	case "BANKERROR":
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError // SYSTEM_ERROR, SYSTEMERROR, OPENID_MISMATCH and the unknown
}

// v3Messages are WeChat's wordings for the codes a fault injects
// without its own.
var v3Messages = map[string]string{
	"SYSTEM_ERROR":        "系统错误",
	"SYSTEMERROR":         "系统错误",
	"FREQUENCY_LIMITED":   "频率超限",
	"RATELIMIT_EXCEEDED":  "请求频率超过限制",
	"SERVICE_UNAVAILABLE": "服务不可用",
	"NOTENOUGH":           "余额不足",
	"NOT_ENOUGH":          "基本账户余额不足，请充值后重新发起",
	"ORDERPAID":           "该订单已支付",
	"ORDER_NOT_EXIST":     "订单不存在",
	"ORDER_CLOSED":        "订单已关闭",
	"NO_AUTH":             "商户无权限",
	"PARAM_ERROR":         "参数错误",
	"INVALID_REQUEST":     "无效请求",
	"SIGN_ERROR":          "签名错误",
}

// The SIGN_ERROR wordings WeChat answers a refused Authorization with.
const (
	msgV3AuthFormat = "Http头Authorization值格式错误,请参考《微信支付商户REST API签名规则》"
	msgV3Sign       = "错误的签名,验签失败"
	msgV3Timestamp  = "Http头Authorization中的timestamp与发起请求的时间不得超过5分钟"
	msgV3Serial     = "商户证书序列号有误。请使用签名私钥匹配的证书序列号"
	msgV3MchID      = "Http头Authorization中的mchid与商户号不匹配"
	msgV3Headers    = "Http头缺少Accept或User-Agent"
)

// v3Window is how far a request's timestamp may be from the fake's
// clock, either way.
const v3Window = 5 * time.Minute

// serveV3 is the v3 pipeline, written once for every v3 row: an
// injected fault's delay, then the method, the bounded body, the
// headers WeChat requires, the Authorization header (WeChat signs no
// answer to a request it could not verify), then the row's handler; an
// injected fault replaces or follows the answer.
func (f *Fake) serveV3(w http.ResponseWriter, r *http.Request, rt *route) {
	fl, faulty := f.faults.take(rt.path)
	if faulty {
		f.wait(r, fl.Delay)
	}
	c, a, ok := f.checkV3(w, r, rt)
	if ok {
		switch {
		case faulty && !fl.Processed && !fl.WrongKey && (fl.ErrCode != "" || fl.HTML || fl.Drop):
			// The fault replaces the answer; nothing happens.
		default:
			a = rt.v3(f, c)
		}
	}
	if faulty {
		if writeTransportFault(w, fl) {
			return
		}
		if fl.ErrCode != "" {
			code := string(fl.ErrCode)
			msg := fl.ErrCodeDes
			if msg == "" {
				msg = v3Messages[code]
			}
			if msg == "" {
				msg = code
			}
			a = v3Error(code, msg)
			if fl.HTTPStatus != 0 {
				a.status = fl.HTTPStatus
			}
		}
	} else {
		fl = Fault{}
	}
	if a.status == 0 {
		// A handler always answers; only a fault of v2's kind (ReturnMsg,
		// MiniErrCode) that replaced nothing on v3 leaves none: answer as
		// WeChat does when it fails.
		a = v3Error("SYSTEM_ERROR", "系统错误")
	}
	if a.code != "" {
		f.log.Info("wxpaytest: v3 refused", "endpoint", string(rt.path), "status", a.status, "code", a.code, "message", a.message)
	}
	serial := ""
	if c != nil {
		serial = c.serial
	}
	f.writeV3(w, a, ok && !fl.Unsigned, serial, fl)
}

// checkV3 checks what every v3 request needs, in WeChat's order, and
// returns the call, or the refusal (unsigned: WeChat signs only what it
// verified).
func (f *Fake) checkV3(w http.ResponseWriter, r *http.Request, rt *route) (*v3Call, v3Answer, bool) {
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		a := v3Error("INVALID_REQUEST", "请求方法错误，"+string(rt.path)+"只支持"+rt.method)
		a.status = http.StatusMethodNotAllowed
		return nil, a, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			a := v3Error("INVALID_REQUEST", "请求体过大")
			a.status = http.StatusRequestEntityTooLarge
			return nil, a, false
		}
		return nil, v3Error("INVALID_REQUEST", "无法读取请求体"), false
	}
	if a, ok := checkV3Headers(r, body); !ok {
		return nil, a, false
	}
	if a, ok := f.checkV3Auth(r, body); !ok {
		return nil, a, false
	}
	return &v3Call{r: r, body: body, query: r.URL.Query(), serial: r.Header.Get("Wechatpay-Serial")}, v3Answer{}, true
}

// checkV3Headers applies WeChat's header rules: User-Agent and Accept
// are required, Accept must admit JSON, a body is JSON, and a GET has no
// body.
//
// WeChat Pay docs: https://pay.weixin.qq.com/docs/merchant/development/interface-rules/basic-rules.html
func checkV3Headers(r *http.Request, body []byte) (v3Answer, bool) {
	accept := r.Header.Get("Accept")
	if r.Header.Get("User-Agent") == "" || accept == "" {
		return v3Error("INVALID_REQUEST", msgV3Headers), false
	}
	okAccept := false
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && (mt == "application/json" || mt == "*/*" || mt == "application/*") {
			okAccept = true
		}
	}
	if !okAccept {
		return v3Error("INVALID_REQUEST", "Http头Accept须为application/json"), false
	}
	switch {
	case r.Method == http.MethodGet && len(body) > 0:
		return v3Error("INVALID_REQUEST", "GET请求不能带请求体"), false
	case len(body) > 0:
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return v3Error("INVALID_REQUEST", "Http头Content-Type值须为application/json"), false
		}
	}
	return v3Answer{}, true
}

// checkV3Auth verifies the Authorization header as WeChat does: its
// format, the merchant, the merchant certificate's serial, the
// timestamp window, and the signature over the exact request-target and
// bytes received (crypto/rsa's check, which does not leak through its
// timing how much of a signature matched).
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012365336
func (f *Fake) checkV3Auth(r *http.Request, body []byte) (v3Answer, bool) {
	hs := r.Header.Values("Authorization")
	if len(hs) != 1 {
		return v3Error("SIGN_ERROR", msgV3AuthFormat), false
	}
	a, err := v3wire.ParseAuthorization(hs[0])
	if err != nil {
		return v3Error("SIGN_ERROR", msgV3AuthFormat), false
	}
	k := f.v3
	switch {
	case !eq(a.MchID, f.cfg.MchID):
		return v3Error("SIGN_ERROR", msgV3MchID), false
	case wire.NormSerial(a.SerialNo) != wire.NormSerial(k.mchSerial):
		return v3Error("SIGN_ERROR", msgV3Serial), false
	case len(a.NonceStr) > 64:
		return v3Error("SIGN_ERROR", msgV3AuthFormat), false
	}
	ts, ok := parseUnixSeconds(a.Timestamp)
	if !ok {
		return v3Error("SIGN_ERROR", msgV3AuthFormat), false
	}
	if d := f.Now().Sub(time.Unix(ts, 0)); d > v3Window || d < -v3Window {
		return v3Error("SIGN_ERROR", msgV3Timestamp), false
	}
	uri := r.RequestURI // the request-target as sent, which is what was signed
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	msg := v3wire.RequestMessage(r.Method, uri, a.Timestamp, a.NonceStr, body)
	if v3wire.Verify(k.mchPub, msg, a.Signature) != nil {
		e := v3Error("SIGN_ERROR", msgV3Sign)
		// What WeChat rebuilt, as its answer shows it (no secret in it:
		// the message is the request's own).
		shown := string(msg)
		if len(shown) > 256 {
			shown = shown[:256]
		}
		e.detail = map[string]any{
			"detail":   map[string]string{"issue": "sign not match"},
			"field":    "signature",
			"location": "authorization",
			"sign_information": map[string]any{
				"method":                 r.Method,
				"sign_message_length":    len(msg),
				"truncated_sign_message": strings.ToValidUTF8(shown, ""),
				"url":                    strings.ToValidUTF8(wire.Truncate(uri, 256), ""),
			},
		}
		e.biz = 268443699 // 签名错误
		return e, false
	}
	return v3Answer{}, true
}

// parseUnixSeconds reads a timestamp of 1 to 12 decimal digits.
func parseUnixSeconds(s string) (int64, bool) {
	if s == "" || len(s) > 12 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// writeV3 writes a, signed with the Wechatpay-* headers when signed (the
// request was verified), under the key the configuration picks for a
// request whose Wechatpay-Serial is reqSerial; fl's signing faults bend
// the headers.
func (f *Fake) writeV3(w http.ResponseWriter, a v3Answer, signed bool, reqSerial string, fl Fault) {
	h := w.Header()
	h.Set("Request-ID", newRequestID(a.biz))
	if a.file != nil {
		writeV3File(w, a)
		return
	}
	body := a.body
	if a.code != "" {
		e := struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Detail  any    `json:"detail,omitempty"`
		}{a.code, a.message, a.detail}
		b, err := json.Marshal(e)
		if err != nil {
			b = []byte(`{"code":"SYSTEM_ERROR","message":"系统错误"}`)
		}
		body = b
	}
	if signed {
		k, err := f.v3.answerKey(reqSerial)
		if err != nil {
			http.Error(w, "wxpaytest: cannot sign: "+err.Error(), http.StatusInternalServerError)
			return
		}
		f.signV3(h, body, k, fl)
	}
	if a.status == http.StatusNoContent {
		w.WriteHeader(a.status)
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(a.status)
	_, _ = w.Write(body)
}

// signV3 sets the Wechatpay-* headers of body signed with k, as WeChat
// signs answers and notifications: over timestamp, nonce and the exact
// body. The faults of fl sign with another key, mark the signature as a
// probe, name an unknown serial, or date it out of the window.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay4_1.shtml
func (f *Fake) signV3(h http.Header, body []byte, k v3SigningKey, fl Fault) {
	now := f.Now()
	if fl.V3StaleTimestamp {
		now = now.Add(-2 * v3Window)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	nonce := randAlnum(32)
	key := k.key
	if fl.WrongKey {
		key = f.v3.wrongKey()
	}
	sig, err := v3wire.Sign(key, v3wire.AnswerMessage(ts, nonce, body))
	if err != nil {
		panic("wxpaytest: RSA signing failed: " + err.Error()) // only with a broken key, which New refuses
	}
	if fl.V3Probe {
		sig = v3wire.ProbePrefix + sig
	}
	serial := k.serial
	if fl.V3UnknownSerial {
		serial = randHexSerial()
	}
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Serial", serial)
	h.Set("Wechatpay-Signature-Type", v3wire.Scheme)
}

// newRequestID mints a Request-ID shaped like WeChat's: hex, then '-'
// and the numeric business code (0 when none).
func newRequestID(biz int) string {
	return strings.ToUpper(wire.MustRandString("0123456789abcdef", 38)) + "-" + strconv.Itoa(biz)
}

// writeV3File writes a bill file: unsigned, as WeChat sends downloads.
func writeV3File(w http.ResponseWriter, a v3Answer) {
	if a.gzip {
		w.Header().Set("Content-Type", "application/x-gzip")
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.file)
}

// serveV3Unknown answers a /v3/ path the fake does not serve as WeChat
// answers one: 404 with its error object.
func serveV3Unknown(w http.ResponseWriter, why string) {
	b, _ := json.Marshal(map[string]string{"code": "NOT_FOUND", "message": why})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Request-ID", newRequestID(0))
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(b)
}

// maxJSONDepth bounds the nesting of a request body.
const maxJSONDepth = 16

// decodeV3 decodes a request body into v as WeChat reads one: UTF-8 of 1
// to 3 bytes a character, no null, no key twice in an object, no key
// the API does not define (v's fields), each of its type. A refusal is
// a 400 PARAM_ERROR naming the field.
func decodeV3(body []byte, v any) (v3Answer, bool) {
	if len(bytes.TrimSpace(body)) == 0 {
		return v3Param("body", "body", "请求体为空"), false
	}
	if !utf8.Valid(body) {
		return v3Param("body", "body", "请求体不是UTF-8编码"), false
	}
	for _, c := range body {
		if c >= 0xF0 {
			return v3Param("body", "body", "请求中含有4字节的UTF-8字符（如emoji），不支持"), false
		}
	}
	if a, ok := checkJSONShape(body); !ok {
		return a, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return v3Param(jsonPointer(te.Field), "body", "类型错误，应为"+te.Type.Kind().String()), false
		}
		if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
			a := v3Param(strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`), "body", "请求中含有未在API文档中定义的参数")
			a.message = "请求中含有未在API文档中定义的参数"
			a.biz = 270924358 // 含有非法的额外参数
			return a, false
		}
		return v3Param("body", "body", "请求体不是合法的JSON"), false
	}
	return v3Answer{}, true
}

// checkJSONShape walks body's tokens: one JSON value, no null, no
// repeated key in an object, nesting bounded.
func checkJSONShape(body []byte) (v3Answer, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]bool
		path   string
		key    string // the key whose value comes next (objects)
		expect bool   // an object expects a key (or '}') next
		index  int    // the next element's index (arrays)
	}
	var stack []frame
	bad := func(field, issue string) (v3Answer, bool) { return v3Param(field, "body", issue), false }
	// done marks the value just ended in its container.
	done := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].expect = true
			} else {
				stack[n-1].index++
			}
		}
	}
	values := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return bad("body", "请求体不是合法的JSON")
		}
		path := ""
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			if top.object && top.expect {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:n-1]
					done()
					continue
				}
				k, _ := tok.(string) // the decoder yields only a string here
				if top.keys[k] {
					return bad(top.path+"/"+k, "参数重复")
				}
				top.keys[k] = true
				top.key, top.expect = k, false
				continue
			}
			if top.object {
				path = top.path + "/" + top.key
			} else {
				path = top.path + "/" + strconv.Itoa(top.index)
			}
		} else {
			values++
			if values > 1 {
				return bad("body", "请求体含有多余的内容")
			}
		}
		switch d := tok.(type) {
		case json.Delim:
			switch d {
			case '{', '[':
				if len(stack) >= maxJSONDepth {
					return bad(path, "嵌套过深")
				}
				stack = append(stack, frame{object: d == '{', keys: map[string]bool{}, path: path, expect: d == '{'})
				continue
			case ']':
				stack = stack[:len(stack)-1]
			}
		case nil:
			return bad(path, "参数不允许为null")
		}
		done()
	}
	return v3Answer{}, true
}

// jsonPointer turns encoding/json's dotted field path into a JSON
// pointer ("amount.total" → "/amount/total").
func jsonPointer(field string) string {
	if field == "" {
		return "body"
	}
	return "/" + strings.ReplaceAll(field, ".", "/")
}

// checkV3Query checks a GET's query: exactly the parameters in allowed
// (required ones first, named in required), each at most once.
func checkV3Query(q url.Values, required []string, optional ...string) (v3Answer, bool) {
	for k, vs := range q {
		known := false
		for _, n := range append(required, optional...) {
			known = known || n == k
		}
		if !known {
			a := v3Param(k, "query", "请求中含有未在API文档中定义的参数")
			a.biz = 270924358
			return a, false
		}
		if len(vs) != 1 {
			return v3Param(k, "query", "参数重复"), false
		}
	}
	for _, k := range required {
		if q.Get(k) == "" {
			return v3Param(k, "query", "参数必填"), false
		}
	}
	return v3Answer{}, true
}
