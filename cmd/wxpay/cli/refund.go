package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/wxpay-go/wxpay"
)

// decryptResult is the output of decrypt-refund.
type decryptResult struct {
	OK      bool              `json:"ok"`
	Fields  map[string]string `json:"fields,omitempty"`
	Outer   map[string]string `json:"outer,omitempty"`
	Problem string            `json:"problem,omitempty"`
	Cause   string            `json:"cause,omitempty"`
}

func runDecryptRefund(_ context.Context, c *cmdEnv, args []string) int {
	fs, cfgFile, js := c.flagSet("decrypt-refund", "[-config file] [-json] [file]", `
Decrypt-refund reads a refund notification (the XML body WeChat POSTs, or
just its req_info, from file or stdin), decrypts req_info with the API key
(AES-256-ECB under the MD5 of the key, as WeChat does) and prints the refund's
fields. The outer appid and mch_id must match WXPAY_APPID and WXPAY_MCHID when
they are set. Exit status 1 when it cannot be decrypted or a field the merchant
acts on is missing.`)
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	s, err := c.loadSettings(*cfgFile)
	if err != nil {
		return c.usageErr("decrypt-refund", "%v", err)
	}
	if _, err := s.signer(); err != nil {
		return c.usageErr("decrypt-refund", "%v", err)
	}
	b, err := c.readInput(fs.Args())
	if err != nil {
		return c.usageErr("decrypt-refund", "%v", err)
	}
	res, code := decryptRefund(s, b)
	if code == ExitUsage {
		return c.usageErr("decrypt-refund", "%s", res.Problem)
	}
	if *js {
		c.writeJSON(res)
		return code
	}
	if !res.OK {
		fmt.Fprintf(c.stdout, "FAILED: %s\n", res.Problem)
		if res.Cause != "" {
			fmt.Fprintf(c.stdout, "likely cause: %s\n", res.Cause)
		}
		return code
	}
	for _, k := range sortedKeys(res.Fields) {
		fmt.Fprintf(c.stdout, "%s=%s\n", k, res.Fields[k])
	}
	return code
}

func decryptRefund(s *settings, b []byte) (decryptResult, int) {
	var outer wxpay.Params
	t := bytes.TrimSpace(b)
	if len(t) > 0 && t[0] == '<' {
		p, err := wxpay.DecodeXML(t)
		if err != nil {
			return decryptResult{Problem: "the input is not a v2 XML message: " + err.Error()}, ExitUsage
		}
		if p["req_info"] == "" {
			return decryptResult{Problem: "the message has no req_info: it is not a refund notification (payment notifications are checked with wxpay verify)"}, ExitFail
		}
		outer = p
	} else {
		if len(t) == 0 {
			return decryptResult{Problem: "empty input: give the refund notification body or its req_info"}, ExitUsage
		}
		// Only req_info was given: wrap it in the outer message WeChat
		// sends, addressed to the configured merchant.
		outer = wxpay.Params{"return_code": "SUCCESS", "appid": s.AppID, "mch_id": s.MchID, "req_info": string(t)}
	}
	cfg := wxpay.Config{AppID: orDefault(s.AppID, outer["appid"]), MchID: orDefault(s.MchID, outer["mch_id"]), APIKey: keyOf(s), SignType: s.SignType}
	// The merchant is only a routing check of the unsigned outer message;
	// without one configured or in the message, any placeholder works.
	cfg.AppID = orDefault(cfg.AppID, "wx0000000000000000")
	cfg.MchID = orDefault(cfg.MchID, "0")
	if outer["appid"] == "" {
		outer["appid"] = cfg.AppID
	}
	if outer["mch_id"] == "" {
		outer["mch_id"] = cfg.MchID
	}
	cl, err := wxpay.NewClient(cfg)
	if err != nil {
		return decryptResult{Problem: "settings: " + err.Error()}, ExitUsage
	}
	body, err := wxpay.EncodeXML(outer)
	if err != nil {
		return decryptResult{Problem: "cannot re-encode the message: " + err.Error()}, ExitUsage
	}
	n, err := cl.ParseRefundNotification(body)
	if err != nil {
		res := decryptResult{Problem: err.Error()}
		var fe *wxpay.FieldError
		var we *wxpay.Error
		switch {
		case errors.Is(err, wxpay.ErrDecrypt):
			res.Problem = "cannot decrypt req_info"
			res.Cause = fmt.Sprintf("%s is not the key of the merchant that refunded (it is the APIv2 key, %s), or req_info was cut or changed on the way (copy it whole, without line breaks)", EnvAPIKey, redact(keyOf(s)))
		case errors.Is(err, wxpay.ErrMerchant):
			res.Problem = fmt.Sprintf("the notification is for appid %q, mch_id %q, not the configured merchant", truncate(outer["appid"], 32), truncate(outer["mch_id"], 32))
			res.Cause = "a refund of another merchant or app, or a settings mix-up"
		case errors.As(err, &fe):
			res.Problem = fmt.Sprintf("req_info decrypted, but its %s is missing or malformed (%v)", fe.Field, fe.Err)
			res.Cause = "WeChat always sends transaction_id, out_trade_no, refund_id, out_refund_no, total_fee, refund_fee and refund_status"
		case errors.As(err, &we) && we.ReturnCode == "FAIL":
			res.Problem = "the notification has return_code FAIL: it carries no refund"
		case errors.Is(err, wxpay.ErrXML):
			res.Cause = "req_info decrypted to something that is not WeChat's flat <root> document"
		}
		return res, ExitFail
	}
	res := decryptResult{OK: true, Fields: n.Raw, Outer: map[string]string{}}
	for k, v := range n.Outer {
		res.Outer[k] = v
	}
	return res, ExitOK
}
