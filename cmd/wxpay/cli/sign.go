package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/refsign"
)

// maskedKey stands for the API key in every printed canonical string.
const maskedKey = "***"

// signResult is the output of sign.
type signResult struct {
	SignType  wxpay.SignType `json:"sign_type"`
	Canonical string         `json:"canonical"` // the string-to-sign, key shown as ***
	Sign      string         `json:"sign"`
	XML       string         `json:"xml,omitempty"` // the signed body, with -xml
	Notes     []string       `json:"notes,omitempty"`
}

func runSign(ctx context.Context, c *cmdEnv, args []string) int {
	if wantsV3(args, "curl", "timestamp", "nonce") {
		return runSignV3(ctx, c, args)
	}
	fs, cfgFile, js := c.flagSet("sign", "[-config file] [-json] [-xml] [file]", `
Sign reads a message (an XML body, or name=value lines, from file or stdin)
and prints the canonical string that is hashed, with the API key shown as
***, and the sign: uppercase hex MD5 or HMAC-SHA256, as WXPAY_SIGN_TYPE says.
A sign field in the input is ignored. With -xml it prints the signed XML body
instead. Values are signed exactly as given: no trimming, no escaping.`)
	asXML := fs.Bool("xml", false, "print the message as a signed XML body")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	s, err := c.loadSettings(*cfgFile)
	if err != nil {
		return c.usageErr("sign", "%v", err)
	}
	sg, err := s.signer()
	if err != nil {
		return c.usageErr("sign", "%v", err)
	}
	b, err := c.readInput(fs.Args())
	if err != nil {
		return c.usageErr("sign", "%v", err)
	}
	p, err := parseFields(b)
	if err != nil {
		return c.usageErr("sign", "%v", err)
	}
	res := signResult{SignType: sg.Type()}
	if _, ok := p["sign"]; ok {
		delete(p, "sign")
		res.Notes = append(res.Notes, "the input's sign field was ignored")
	}
	if st := p["sign_type"]; st != "" && wxpay.SignType(st) != sg.Type() {
		res.Notes = append(res.Notes, fmt.Sprintf("the message says sign_type=%s but %s is %s: WeChat will refuse it", truncate(st, 20), EnvSignType, sg.Type()))
	}
	if sg.Type() == wxpay.SignHMACSHA256 && p["sign_type"] == "" {
		res.Notes = append(res.Notes, "a request signed with HMAC-SHA256 must carry sign_type=HMAC-SHA256 (only notifications omit it)")
	}
	res.Canonical = refsign.Canonical(p, maskedKey)
	res.Sign = sg.Sign(p)
	if *asXML {
		p["sign"] = res.Sign
		x, err := wxpay.EncodeXML(p)
		if err != nil {
			return c.usageErr("sign", "cannot write the message as XML: %v", err)
		}
		res.XML = string(x)
	}
	switch {
	case *js:
		c.writeJSON(res)
	case *asXML:
		fmt.Fprintln(c.stdout, res.XML)
		for _, n := range res.Notes {
			fmt.Fprintln(c.stderr, "note:", n)
		}
	default:
		fmt.Fprintf(c.stdout, "sign type: %s\ncanonical: %s\nsign:      %s\n", res.SignType, res.Canonical, res.Sign)
		for _, n := range res.Notes {
			fmt.Fprintln(c.stdout, "note:", n)
		}
	}
	return ExitOK
}

// Checks of verify, as reported in verifyResult.Check.
const (
	checkMissingField = "missing field"
	checkSignType     = "sign type"
	checkLength       = "length"
	checkSignature    = "signature"
	checkResplit      = "re-split value"
	checkMerchant     = "merchant"
	checkFields       = "notification fields"
)

// verifyResult is the output of verify.
type verifyResult struct {
	OK        bool           `json:"ok"`
	SignType  wxpay.SignType `json:"sign_type"`          // configured
	Canonical string         `json:"canonical"`          // key shown as ***
	Sign      string         `json:"sign"`               // as received
	Expected  string         `json:"expected,omitempty"` // under the configured key and type
	Check     string         `json:"check,omitempty"`    // which check failed
	Problem   string         `json:"problem,omitempty"`  // what is wrong
	Cause     string         `json:"cause,omitempty"`    // the likely cause and the fix
}

func runVerify(ctx context.Context, c *cmdEnv, args []string) int {
	if wantsV3(args, "H", "header", "headers", "decrypt", "at") {
		return runVerifyV3(ctx, c, args)
	}
	fs, cfgFile, js := c.flagSet("verify", "[-config file] [-json] [file]", `
Verify reads a signed message (an XML body, or name=value lines, from file or
stdin), prints the canonical string with the API key shown as ***, the sign it
carries and the sign expected, and either "OK" or exactly which check failed
and the likely cause: no sign, a sign_type other than WXPAY_SIGN_TYPE, a sign
of the other algorithm's length, a wrong key or changed field, a value that
re-splits into other fields (a possible forgery), another merchant's appid or
mch_id (when WXPAY_APPID and WXPAY_MCHID are set), or a payment notification
missing a field the merchant acts on. Exit status 1 when a check fails.

An HTTP message with Wechatpay-* headers (as curl -i or a server log writes
it: a status or request line, headers, a blank line, the JSON body) is an API
v3 answer or notification and is verified as "wxpay verify -v3" does, without
-v3; see "wxpay verify -v3 -h".`)
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	// The input decides between v2 and v3 before the v2 key is
	// required: a v3 merchant has none.
	b, err := c.readInput(fs.Args())
	if err != nil {
		return c.usageErr("verify", "%v", err)
	}
	if looksLikeHTTPMessage(b) {
		// An HTTP message with Wechatpay-* headers is v3: verify it as
		// such, from the bytes already read.
		c3 := *c
		c3.stdin = bytes.NewReader(b)
		return runVerifyV3(ctx, &c3, args)
	}
	s, err := c.loadSettings(*cfgFile)
	if err != nil {
		return c.usageErr("verify", "%v", err)
	}
	sg, err := s.signer()
	if err != nil {
		return c.usageErr("verify", "%v", err)
	}
	if t := strings.TrimLeft(string(b), " \t\r\n"); strings.HasPrefix(t, "{") {
		return c.usageErr("verify", "a JSON body is an API v3 message: give its Wechatpay-* headers with -headers file or -H 'Name: value', or the whole HTTP message (curl -i writes one)")
	}
	p, err := parseFields(b)
	if err != nil {
		return c.usageErr("verify", "%v", err)
	}
	res := verify(s, sg, p)
	if *js {
		c.writeJSON(res)
	} else {
		w := c.stdout
		fmt.Fprintf(w, "sign type: %s (configured)\ncanonical: %s\nsign:      %s\n", res.SignType, res.Canonical, res.Sign)
		if res.Expected != "" {
			fmt.Fprintf(w, "expected:  %s\n", res.Expected)
		}
		if res.OK {
			fmt.Fprintln(w, "OK: the sign matches")
		} else {
			fmt.Fprintf(w, "FAILED (%s): %s\n", res.Check, res.Problem)
			if res.Cause != "" {
				fmt.Fprintf(w, "likely cause: %s\n", res.Cause)
			}
		}
	}
	if !res.OK {
		return ExitFail
	}
	return ExitOK
}

// verify runs the checks in the order WeChat's rules apply them and stops
// at the first failure.
func verify(s *settings, sg *wxpay.Signer, p wxpay.Params) verifyResult {
	typ := sg.Type()
	res := verifyResult{SignType: typ, Canonical: refsign.Canonical(p, maskedKey), Sign: p["sign"], Expected: sg.Sign(p)}
	fail := func(check, problem, cause string) verifyResult {
		res.Check, res.Problem, res.Cause = check, problem, cause
		return res
	}
	got := p["sign"]
	if got == "" {
		cause := "WeChat signs every answer with return_code SUCCESS and every payment notification; check that the whole body was captured"
		switch {
		case p["req_info"] != "":
			cause = "this is a refund notification: refund notifications are not signed, their req_info is encrypted; use wxpay decrypt-refund"
		case p["return_code"] == "FAIL":
			cause = "answers with return_code FAIL are not signed; read return_msg"
		}
		return fail(checkMissingField, "the message has no sign", cause)
	}
	other := wxpay.SignMD5
	if typ == wxpay.SignMD5 {
		other = wxpay.SignHMACSHA256
	}
	otherSign := refsign.Sign(p, keyOf(s), string(other))
	if st := wxpay.SignType(p["sign_type"]); st != "" && st != typ {
		if st != wxpay.SignMD5 && st != wxpay.SignHMACSHA256 {
			return fail(checkSignType, fmt.Sprintf("sign_type %q is not a v2 algorithm", truncate(string(st), 20)),
				"v2 knows MD5 and HMAC-SHA256 only (APIv3's RSA messages are not v2)")
		}
		cause := fmt.Sprintf("if this merchant orders with %s, set %s=%s; wxpay never lets a message pick another algorithm than the one configured", st, EnvSignType, st)
		if otherSign == got {
			cause = fmt.Sprintf("the sign does verify with %s under your key: set %s=%s", st, EnvSignType, st)
		}
		return fail(checkSignType, fmt.Sprintf("the message says sign_type=%s while you configured %s", st, typ), cause)
	}
	want := len(res.Expected)
	if len(got) != want {
		if len(got) == len(otherSign) {
			cause := fmt.Sprintf("it does not verify with %s under your key either: the key differs too", other)
			if got == otherSign {
				cause = fmt.Sprintf("it verifies with %s under your key: set %s=%s (WeChat signs a notification with the algorithm of the order, without sign_type)", other, EnvSignType, other)
			}
			return fail(checkLength, fmt.Sprintf("the sign has %d hex digits: signed with %s while you configured %s", len(got), other, typ), cause)
		}
		return fail(checkLength, fmt.Sprintf("the sign has %d characters; %s signs have %d hex digits", len(got), typ, want),
			"the sign was cut or padded on the way (a column too short for 64 digits? whitespace around it?)")
	}
	err := sg.Verify(p)
	switch {
	case err == nil:
	case errors.Is(err, wxpay.ErrAmbiguousValue):
		name, field := resplit(p)
		return fail(checkResplit, fmt.Sprintf("the sign matches, but the value of %s holds \"&%s=\", so the signed string also reads as a message with another %s", field, name, name),
			"a genuine message whose value was chosen to re-split (attach is the usual carrier) can be replayed as a forgery naming another order or amount; wxpay refuses it. If this is your own message, keep '&name=' out of values")
	case strings.ToUpper(got) == res.Expected:
		return fail(checkSignature, "the sign is lowercase hex", "WeChat writes signs as uppercase hex; the signer forgot to upper-case it")
	default:
		return fail(checkSignature, "the sign does not match", mismatchCause(s, p, typ))
	}
	if s.AppID != "" || s.MchID != "" {
		for _, f := range [...]struct{ field, env, val string }{{"appid", EnvAppID, s.AppID}, {"mch_id", EnvMchID, s.MchID}} {
			if f.val == "" {
				continue
			}
			switch v := p[f.field]; {
			case v == "":
				return fail(checkMissingField, fmt.Sprintf("the message has no %s", f.field), "every signed v2 answer and notification names the merchant")
			case v != f.val:
				return fail(checkMerchant, fmt.Sprintf("the message is signed correctly but names %s %q, while %s is %q", f.field, truncate(v, 32), f.env, f.val),
					"a genuine message for another merchant or app (sharing the key across appids?), or a settings mix-up; wxpay refuses it with ErrMerchant")
			}
		}
	}
	if looksLikeNotification(p) {
		cl, err := wxpay.NewClient(wxpay.Config{AppID: orDefault(s.AppID, p["appid"]), MchID: orDefault(s.MchID, p["mch_id"]), APIKey: keyOf(s), SignType: typ})
		if err == nil {
			body, err := wxpay.EncodeXML(p)
			if err == nil {
				if _, err := cl.ParseNotification(body); err != nil {
					var fe *wxpay.FieldError
					if errors.As(err, &fe) {
						check := checkFields
						if errors.Is(err, wxpay.ErrMissingField) {
							check = checkMissingField
						}
						return fail(check, fmt.Sprintf("the notification's %s is missing or malformed (%v)", fe.Field, fe.Err),
							"WeChat always sends out_trade_no, transaction_id, total_fee (integer fen) and result_code; the message was built by hand or cut")
					}
				}
			}
		}
	}
	res.OK = true
	return res
}

// keyOf returns the API key; it exists so that every use of the secret is
// easy to find.
func keyOf(s *settings) string { return s.APIKey }

func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// looksLikeNotification reports whether p has the shape of a payment
// notification rather than of an API answer.
func looksLikeNotification(p wxpay.Params) bool {
	if p["trade_state"] != "" || p["prepay_id"] != "" || p["refund_id"] != "" || p["err_code"] != "" {
		return false
	}
	return p["transaction_id"] != "" || (p["time_end"] != "" && p["bank_type"] != "")
}

// mismatchCause tries the signing mistakes developers make, each on the
// message under the configured key, and names the first that reproduces
// the sign; otherwise it lists the usual causes.
func mismatchCause(s *settings, p wxpay.Params, typ wxpay.SignType) string {
	got := p["sign"]
	key := keyOf(s)
	try := func(q map[string]string) bool { return refsign.Sign(q, key, string(typ)) == got }
	trimmed := map[string]string{}
	changed := false
	for k, v := range p {
		trimmed[k] = strings.TrimSpace(v)
		changed = changed || trimmed[k] != v
	}
	if changed && try(trimmed) {
		return "the signer trimmed whitespace around values (as WeChat's Java SDK does) but a value here has leading or trailing spaces; sign and send values without surrounding whitespace"
	}
	if p["sign_type"] != "" {
		q := clone(p)
		delete(q, "sign_type")
		if try(q) {
			return "the signer left sign_type out of the signed string; when present it must be signed like any other field"
		}
	}
	// Keys sorted case-insensitively: the mistake of sorting appId after
	// another field.
	if refsignFold(p, key, string(typ)) == got {
		return "the signer sorted the names ignoring case; WeChat sorts by byte, so uppercase letters come first"
	}
	return fmt.Sprintf("the key differs from the one that signed (the APIv2 key is set under 账户中心 → API安全; %s is %s), or a field changed after signing: a value re-encoded by a proxy, a field added or dropped, an XML entity decoded differently", EnvAPIKey, redact(key))
}

func clone(p wxpay.Params) wxpay.Params {
	q := make(wxpay.Params, len(p))
	for k, v := range p {
		q[k] = v
	}
	return q
}

// resplit finds the field whose value holds "&name=" for a signed name.
func resplit(p wxpay.Params) (name, field string) {
	for _, k := range sortedKeys(p) {
		v := p[k]
		if k == "sign" || v == "" {
			continue
		}
		for _, n := range sortedKeys(p) {
			if n != "sign" && p[n] != "" && strings.Contains(v, "&"+n+"=") {
				return n, k
			}
		}
	}
	return "?", "?"
}
