package wxpaytest

import (
	"io"
	"net/http"

	"github.com/wxpay-go/wxpay"
)

// sandboxRoutes is getsignkey; every v2 row with sandbox set is served
// under the prefixes too (see newRouteIndex).
var sandboxRoutes = []route{
	{path: EndpointGetSignKey, aliases: []string{"/xdc/apiv2getsignkey/sign/getsignkey"}, proto: protoRaw, sandboxOnly: true, serve: (*Fake).serveGetSignKey},
}

// Sandbox path prefixes of WeChat's two sandbox generations, served with
// Config.Sandbox.
const (
	SandboxPrefix    = "/sandboxnew"
	SandboxPrefixXDC = "/xdc/apiv2sandbox"
)

// msgSandboxSign is the sandbox's answer to a request not signed with the
// sandbox key, as merchants report it.
const msgSandboxSign = "沙箱验证签名失败，请确认沙箱签名key是否正确(通过getsignkey调用生成)"

// SandboxKey returns the sandbox_signkey that getsignkey hands out, for
// tests that sign sandbox requests by hand; "" unless Config.Sandbox. Like
// the API key it is a secret of the merchant's, never printed by the fake.
func (f *Fake) SandboxKey() string { return f.sandboxKey }

// EndpointGetSignKey is the sandbox's getsignkey (either generation's
// path), served with Config.Sandbox:
// https://pay.weixin.qq.com/wiki/doc/api/tools/sp_coupon.php?chapter=23_1
const EndpointGetSignKey Endpoint = "/sandboxnew/pay/getsignkey"

// serveGetSignKey answers getsignkey: mch_id and nonce_str signed with MD5
// under the production key; the answer, unsigned, carries the sandbox key.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/tools/sp_coupon.php?chapter=23_1
func (f *Fake) serveGetSignKey(w http.ResponseWriter, r *http.Request) {
	fl, faulty := f.faults.take(EndpointGetSignKey)
	if faulty {
		f.wait(r, fl.Delay)
		if writeTransportFault(w, fl) {
			return
		}
		if fl.ReturnMsg != "" {
			f.writeV2(w, protocolFail(fl.ReturnMsg), signing{}, false)
			return
		}
	}
	a := f.getSignKey(r, w)
	f.writeV2(w, a, signing{}, false)
}

func (f *Fake) getSignKey(r *http.Request, w http.ResponseWriter) answer {
	if r.Method != http.MethodPost {
		return protocolFail(msgMethod)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
	if err != nil {
		return protocolFail(msgXML)
	}
	if len(body) == 0 {
		return protocolFail(msgPostEmpty)
	}
	p, err := wxpay.DecodeXML(body)
	if err != nil {
		return protocolFail(msgXML)
	}
	switch {
	case p["mch_id"] == "" || p["nonce_str"] == "" || p["sign"] == "":
		return protocolFail("缺少参数")
	case p["mch_id"] != f.cfg.MchID:
		return protocolFail(msgMchID)
	case p["sign_type"] != "" && p["sign_type"] != string(wxpay.SignMD5):
		return protocolFail(msgSign)
	case !signOK(p, f.key, wxpay.SignMD5):
		return protocolFail(msgSign)
	}
	return answer{unsigned: true, fields: wxpay.Params{
		"return_code":     "SUCCESS",
		"return_msg":      "ok",
		"mch_id":          f.cfg.MchID,
		"sandbox_signkey": f.sandboxKey,
	}}
}
