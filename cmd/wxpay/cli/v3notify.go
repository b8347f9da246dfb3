package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/internal/v3wire"
	"github.com/wxpay-go/wxpay/internal/wire"
)

// Faults notify -v3 can inject, to check that a notify handler refuses
// what WeChat's verifier rules say it must. With a fault the command
// succeeds when the handler refused the notification.
var v3Faults = map[string]string{
	"probe":          "a WECHATPAY/SIGNTEST/ signature probe (a real event deliberately signed wrong)",
	"tampered":       "the body changed after signing (a byte of the ciphertext)",
	"stale":          "correctly signed 10 minutes ago, outside the 5-minute window (a replay)",
	"wrong-key":      "signed by a throwaway RSA key instead of the WeChat Pay key",
	"unknown-serial": "Wechatpay-Serial naming a public key id the merchant does not have",
	"wrong-apiv3-key": "correctly signed, the resource encrypted under a throwaway APIv3 key " +
		"(signature passes, decryption fails)",
}

// v3FaultNames is the fault names in a fixed order, for messages.
func v3FaultNames() string { return strings.Join(sortedKeys(v3Faults), ", ") }

// v3RefundEvents maps a v3 refund_status to its event_type and summary.
var v3RefundEvents = map[string][2]string{
	"SUCCESS":  {"REFUND.SUCCESS", "退款成功"},
	"ABNORMAL": {"REFUND.ABNORMAL", "退款异常"},
	"CLOSED":   {"REFUND.CLOSED", "退款关闭"},
}

// v3Sender is the WeChat side of a v3 notification: the WeChat Pay
// private key and the Wechatpay-Serial that names its public half.
type v3Sender struct {
	key    *rsa.PrivateKey
	serial string
	from   string // which setting gave the serial, for messages
}

// v3WeChatSender loads the WeChat Pay private key of
// WXPAY_V3_WECHATPAY_KEY_FILE and picks the serial: WXPAY_V3_PUBKEY_ID
// (public-key mode), or the serial of the certificate of
// WXPAY_V3_PLATFORM_CERT_FILE that holds the key's public half. by is
// "pubkey", "cert" or "" (the public key when configured). A configured
// public key or certificate that is not the private key's half is
// refused: the merchant's handler, configured with it, would refuse every
// notification.
func (s *settings) v3WeChatSender(by string) (*v3Sender, error) {
	if s.V3.WeChatPayKeyFile == "" {
		return nil, fmt.Errorf("%s is not set: notify -v3 signs as WeChat does, with WeChat Pay's private key, which only a fake has (wxpay fake -v3 writes it and prints the setting)", EnvV3WeChatPayKeyFile)
	}
	b, err := readPEMFile(EnvV3WeChatPayKeyFile, s.V3.WeChatPayKeyFile)
	if err != nil {
		return nil, err
	}
	key, err := apiv3.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", EnvV3WeChatPayKeyFile, libErr(err))
	}
	snd := &v3Sender{key: key}
	usePub := by == "pubkey" || by == "" && s.V3.PubKeyID != ""
	if usePub {
		switch {
		case s.V3.PubKeyID == "":
			return nil, fmt.Errorf("-sign-with pubkey needs %s (the PUB_KEY_ID_… the merchant's handler trusts)", EnvV3PubKeyID)
		case !pubKeyIDPattern.MatchString(s.V3.PubKeyID):
			return nil, fmt.Errorf("%s must be %s followed by digits; %s", EnvV3PubKeyID, apiv3.PublicKeyIDPrefix, notShown)
		}
		if s.V3.PubKeyFile != "" {
			pb, err := readPEMFile(EnvV3PubKeyFile, s.V3.PubKeyFile)
			if err != nil {
				return nil, err
			}
			pub, err := apiv3.ParsePublicKey(pb)
			if err != nil {
				return nil, fmt.Errorf("%s: %s", EnvV3PubKeyFile, strings.ReplaceAll(libErr(err), "PublicKey", "the file"))
			}
			if !pub.Equal(&key.PublicKey) {
				return nil, fmt.Errorf("%s is not the public half of %s: a handler trusting that public key refuses every notification signed with this key (give -fault wrong-key to send such a one on purpose)", EnvV3PubKeyFile, EnvV3WeChatPayKeyFile)
			}
		}
		snd.serial, snd.from = s.V3.PubKeyID, EnvV3PubKeyID
		return snd, nil
	}
	if s.V3.PlatformCertFile == "" {
		return nil, fmt.Errorf("no Wechatpay-Serial to send: set %s (public-key mode) or %s (a platform certificate of the WeChat Pay key)", EnvV3PubKeyID, EnvV3PlatformCertFile)
	}
	cb, err := readPEMFile(EnvV3PlatformCertFile, s.V3.PlatformCertFile)
	if err != nil {
		return nil, err
	}
	certs, err := parseCertificates(cb)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", EnvV3PlatformCertFile, err)
	}
	for _, c := range certs {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && pub.Equal(&key.PublicKey) {
			snd.serial, snd.from = wire.Serial(c), EnvV3PlatformCertFile
			return snd, nil
		}
	}
	return nil, fmt.Errorf("no certificate of %s holds the public half of %s: the handler would find no key for the serial", EnvV3PlatformCertFile, EnvV3WeChatPayKeyFile)
}

// jsonSets collects repeated -set path=value flags of notify -v3.
type jsonSets []jsonSet

type jsonSet struct {
	path []string
	raw  json.RawMessage // nil: remove the field
}

// setPathRE is the shape of a -set path: lower-case JSON field names
// joined by dots, at most three deep (amount.payer_total).
var setPathRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}(\.[a-z][a-z0-9_]{0,39}){0,2}$`)

func (j *jsonSets) String() string { return fmt.Sprintf("%d fields", len(*j)) }

// Set parses "path=value": the value is taken as JSON when it is JSON
// (90, true, {"a":1}, "\"123\"" for a string of digits), as a string
// otherwise; an empty value removes the field.
func (j *jsonSets) Set(s string) error {
	path, val, ok := strings.Cut(s, "=")
	if !ok || !setPathRE.MatchString(path) {
		return errors.New("want path=value, the path lower-case JSON names joined by dots (amount.payer_total=90)")
	}
	if len(val) > 4096 {
		return errors.New("the value is longer than 4096 bytes")
	}
	js := jsonSet{path: strings.Split(path, ".")}
	switch {
	case val == "":
	case json.Valid([]byte(val)):
		js.raw = json.RawMessage(val)
	default:
		b, err := json.Marshal(val)
		if err != nil {
			return errors.New("the value is not valid UTF-8")
		}
		js.raw = b
	}
	*j = append(*j, js)
	return nil
}

// apply writes the sets into m, creating objects on the way; a path
// through a value that is not an object is an error.
func (j jsonSets) apply(m map[string]any) error {
	for _, s := range j {
		cur := m
		for i, name := range s.path[:len(s.path)-1] {
			next, ok := cur[name].(map[string]any)
			if !ok {
				if _, exists := cur[name]; exists {
					return fmt.Errorf("-set %s: %s is not an object", strings.Join(s.path, "."), strings.Join(s.path[:i+1], "."))
				}
				next = map[string]any{}
				cur[name] = next
			}
			cur = next
		}
		last := s.path[len(s.path)-1]
		if s.raw == nil {
			delete(cur, last)
		} else {
			cur[last] = s.raw
		}
	}
	return nil
}

func runNotifyV3(ctx context.Context, c *cmdEnv, args []string) int {
	fs, cfgFile, js := c.flagSet("notify", "-v3 [flags] -out-trade-no N -amount FEN URL", `
Notify -v3 sends URL the API v3 notification WeChat sends when an order is
paid (TRANSACTION.SUCCESS), or with -refund a refund notification
(REFUND.SUCCESS, or -refund-status ABNORMAL or CLOSED), as WeChat builds it:
the transaction or refund as JSON, encrypted with AEAD_AES_256_GCM under the
APIv3 key (WXPAY_APIV3_KEY), in an envelope signed over
TIMESTAMP\nNONCE\nBODY\n with WeChat Pay's private key
(WXPAY_V3_WECHATPAY_KEY_FILE, which only a fake has: "wxpay fake -v3" writes
it), Wechatpay-Serial being WXPAY_V3_PUBKEY_ID or the serial of the
certificate of WXPAY_V3_PLATFORM_CERT_FILE holding that key. The plaintext
names WXPAY_MCHID and WXPAY_APPID. A reply is an acknowledgement when its
HTTP status is 2xx, whatever the body (v3's rule). With -retry it repeats on
WeChat's schedule (15s, 15s, 30s, 3m, ... 24h4m in all; divided by -speed)
until one is, each delivery freshly signed with the same body.

-fault sends a notification the handler must refuse, one of
`+v3FaultNames()+`;
the exit status is then 0 when the handler refused it and 1 when it
acknowledged it (a handler that accepts forgeries).

With real keys this forges payments: URL must be on loopback (localhost,
127.0.0.1, ::1) unless -allow-remote is given. Exit status 1 when no reply
acknowledged the notification.`)
	fs.Bool("v3", true, "send an API v3 notification (the flag selects this form)")
	outTradeNo := fs.String("out-trade-no", "", "the order's out_trade_no (required)")
	var total int64 = -1
	fs.Int64Var(&total, "amount", -1, "the order's amount.total in fen (required; -total-fee is the same flag)")
	fs.Int64Var(&total, "total-fee", -1, "the same as -amount")
	txID := fs.String("transaction-id", "", "transaction_id (default: a random one)")
	notifID := fs.String("id", "", "the notification's id (default: a random one; repeat one to replay a delivery as WeChat does)")
	openID := fs.String("openid", "", "payer.openid (default: a random one)")
	tradeType := fs.String("trade-type", "JSAPI", "trade_type: JSAPI, NATIVE, APP, MWEB, MICROPAY or FACEPAY")
	attach := fs.String("attach", "", "attach, echoed from the order")
	refund := fs.Bool("refund", false, "send a refund notification")
	outRefundNo := fs.String("out-refund-no", "", "out_refund_no of a refund notification (required with -refund)")
	refundFee := fs.Int64("refund-fee", -1, "amount.refund in fen (default: -amount)")
	refundStatus := fs.String("refund-status", "SUCCESS", "refund_status: SUCCESS, ABNORMAL or CLOSED (the event is REFUND.<status>)")
	var sets jsonSets
	fs.Var(&sets, "set", "set a `path=value` field of the plaintext (amount.payer_total=90; JSON values as JSON, others as strings; empty removes; repeatable)")
	signWith := fs.String("sign-with", "", "the Wechatpay-Serial to send: pubkey (WXPAY_V3_PUBKEY_ID) or cert (WXPAY_V3_PLATFORM_CERT_FILE); default pubkey when set")
	fault := fs.String("fault", "", "send a notification the handler must refuse: "+v3FaultNames())
	allowRemote := fs.Bool("allow-remote", false, "allow a URL outside loopback (with real keys this forges payments)")
	retry := fs.Bool("retry", false, "repeat on WeChat's schedule until a reply is 2xx")
	speed := fs.Float64("speed", 1, "divide the retry schedule by this factor")
	timeout := fs.Duration("timeout", 5*time.Second, "time allowed for each reply (WeChat waits 5s)")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return c.usageErr("notify", "give exactly one URL")
	}
	target, err := url.Parse(fs.Arg(0))
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return c.usageErr("notify", "URL must be an absolute http or https URL")
	}
	if !*allowRemote && !wire.LoopbackHost(target.Hostname()) {
		return c.usageErr("notify", "refusing to send to %s, which is not loopback: with real keys this forges payments. Pass -allow-remote if that is what you mean", target.Hostname())
	}
	_, knownFault := v3Faults[*fault]
	switch {
	case *outTradeNo == "" || len(*outTradeNo) > 32:
		return c.usageErr("notify", "-out-trade-no is required, at most 32 characters")
	case total <= 0:
		return c.usageErr("notify", "-amount (in fen, positive) is required: WeChat notifies paid orders only")
	case *speed <= 0:
		return c.usageErr("notify", "-speed must be positive")
	case *timeout <= 0 || *timeout > time.Minute:
		return c.usageErr("notify", "-timeout must be positive and at most 1m (WeChat waits 5s)")
	case *refund && *outRefundNo == "":
		return c.usageErr("notify", "-out-refund-no is required with -refund")
	case *refund && v3RefundEvents[*refundStatus][0] == "":
		return c.usageErr("notify", "-refund-status must be SUCCESS, ABNORMAL or CLOSED with -v3 (v2's CHANGE is ABNORMAL, REFUNDCLOSE is CLOSED)")
	case *refundFee != -1 && (*refundFee <= 0 || *refundFee > total):
		return c.usageErr("notify", "-refund-fee must be positive and at most -amount")
	case *signWith != "" && *signWith != "pubkey" && *signWith != "cert":
		return c.usageErr("notify", "-sign-with must be pubkey or cert")
	case *fault != "" && !knownFault:
		return c.usageErr("notify", "-fault must be one of %s", v3FaultNames())
	case *fault != "" && *retry:
		return c.usageErr("notify", "-fault and -retry together: a refused fault would be repeated for a day; send it once")
	case *tradeType != "JSAPI" && *tradeType != "NATIVE" && *tradeType != "APP" && *tradeType != "MWEB" && *tradeType != "MICROPAY" && *tradeType != "FACEPAY":
		return c.usageErr("notify", "-trade-type must be JSAPI, NATIVE, APP, MWEB, MICROPAY or FACEPAY")
	}
	for _, f := range []struct{ name, v string }{{"-transaction-id", *txID}, {"-id", *notifID}, {"-openid", *openID}, {"-out-refund-no", *outRefundNo}, {"-attach", *attach}} {
		if len(f.v) > 128 || !jsonString(f.v) {
			return c.usageErr("notify", "%s must be at most 128 bytes of UTF-8 text", f.name)
		}
	}
	s, err := c.loadSettings(*cfgFile)
	if err != nil {
		return c.usageErr("notify", "%v", err)
	}
	switch {
	case s.MchID == "" || s.AppID == "":
		return c.usageErr("notify", "%s and %s must be set: the notification names the merchant and the app (the handler checks both)", EnvMchID, EnvAppID)
	case !mchIDPattern.MatchString(s.MchID) || len(s.MchID) > 32:
		return c.usageErr("notify", "%s must be the merchant number, digits only; %s", EnvMchID, notShown)
	case len(s.AppID) > 32 || !printableASCII(s.AppID, 32):
		return c.usageErr("notify", "%s must be an appid (wx and 16 hex digits); %s", EnvAppID, notShown)
	case apiV3KeyOf(s) == "":
		return c.usageErr("notify", "%s is not set: the resource is encrypted under the APIv3 key", EnvAPIv3Key)
	case len(apiV3KeyOf(s)) != 32:
		return c.usageErr("notify", "%s has %d bytes; the APIv3 key (AEAD_AES_256_GCM) has exactly 32", EnvAPIv3Key, len(apiV3KeyOf(s)))
	}
	snd, err := s.v3WeChatSender(*signWith)
	if err != nil {
		return c.usageErr("notify", "%v", err)
	}

	now := time.Now().In(beijing)
	if *txID == "" {
		*txID = "4200" + randDigits(24)
	}
	if *notifID == "" {
		*notifID = randUUID()
	}
	var plain map[string]any
	eventType, summary, originalType := apiv3.EventTransactionSuccess, "支付成功", "transaction"
	kind := "payment"
	if *refund {
		kind, originalType = "refund", "refund"
		ev := v3RefundEvents[*refundStatus]
		eventType, summary = ev[0], ev[1]
		rf := *refundFee
		if rf < 0 {
			rf = total
		}
		plain = map[string]any{
			"mchid":                 s.MchID,
			"out_trade_no":          *outTradeNo,
			"transaction_id":        *txID,
			"out_refund_no":         *outRefundNo,
			"refund_id":             "50000" + randDigits(24),
			"refund_status":         *refundStatus,
			"user_received_account": "支付用户零钱",
			"amount":                map[string]any{"total": total, "refund": rf, "payer_total": total, "payer_refund": rf},
		}
		if *refundStatus == "SUCCESS" {
			plain["success_time"] = now.Format(time.RFC3339)
		}
	} else {
		if *openID == "" {
			*openID = "o" + randAlnum(27)
		}
		plain = map[string]any{
			"mchid":            s.MchID,
			"appid":            s.AppID,
			"out_trade_no":     *outTradeNo,
			"transaction_id":   *txID,
			"trade_type":       *tradeType,
			"trade_state":      "SUCCESS",
			"trade_state_desc": "支付成功",
			"bank_type":        "OTHERS",
			"attach":           *attach,
			"success_time":     now.Format(time.RFC3339),
			"payer":            map[string]any{"openid": *openID},
			"amount":           map[string]any{"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"},
		}
	}
	if err := sets.apply(plain); err != nil {
		return c.usageErr("notify", "%v", err)
	}
	pt, err := json.Marshal(plain)
	if err != nil {
		return c.usageErr("notify", "%v", err)
	}
	aeadKey := apiV3KeyOf(s)
	if *fault == "wrong-apiv3-key" {
		aeadKey = randAlnum(32)
	}
	body, err := v3NotificationBody(aeadKey, *notifID, now, eventType, summary, originalType, pt)
	if err != nil {
		return c.usageErr("notify", "%v", err)
	}

	hc := notifyClient(*allowRemote, *timeout)
	defer hc.CloseIdleConnections()
	res := notifyResult{API: "v3", Kind: kind, URL: redactURL(target), OutTradeNo: *outTradeNo,
		ID: *notifID, EventType: eventType, Serial: snd.serial, Fault: *fault}
	if *refund {
		res.OutRefundNo = *outRefundNo
	}
	var signErr error
	res.Attempts, res.Acked = c.deliverOnSchedule(ctx, *retry, *speed, *js, printAttemptV3, func() (attempt, error) {
		h, sent, err := signV3Notification(snd, body, time.Now(), *fault)
		if err != nil {
			signErr = err
			return attempt{}, err
		}
		return deliverV3(ctx, hc, target.String(), h, sent), nil
	})
	if signErr != nil {
		fmt.Fprintf(c.stderr, "wxpay notify: signing failed: %v\n", signErr)
		return ExitFail
	}
	res.OK = res.Acked != (*fault != "")
	if *js {
		c.writeJSON(res)
	} else {
		switch {
		case *fault != "" && res.Acked:
			fmt.Fprintf(c.stdout, "FAILED: the handler acknowledged a notification it must refuse (%s): it would act on a forged or unverified event\n", v3Faults[*fault])
		case *fault != "":
			fmt.Fprintf(c.stdout, "not acknowledged: the handler refused %s, as it must\n", v3Faults[*fault])
		case !res.Acked:
			fmt.Fprintln(c.stdout, "not acknowledged: WeChat would deliver again later")
		}
	}
	if !res.OK {
		return ExitFail
	}
	return ExitOK
}

// jsonString reports whether s is text JSON can carry as is: valid UTF-8
// without control characters.
func jsonString(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// v3NotificationBody builds the envelope of a notification: the
// plaintext sealed with AEAD_AES_256_GCM under key, with a 12-character
// nonce and original_type as associated_data, as WeChat does.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012791861,
// https://pay.weixin.qq.com/wiki/doc/apiv3_partner/wechatpay/wechatpay4_2.shtml
func v3NotificationBody(key, id string, created time.Time, eventType, summary, originalType string, plaintext []byte) ([]byte, error) {
	if len(key) != 32 {
		return nil, errors.New("the APIv3 key must have 32 bytes")
	}
	nonce := randAlnum(12)
	ct, err := v3wire.Seal([]byte(key), nonce, originalType, plaintext)
	if err != nil {
		return nil, err
	}
	type resource struct {
		OriginalType   string `json:"original_type"`
		Algorithm      string `json:"algorithm"`
		Ciphertext     string `json:"ciphertext"`
		AssociatedData string `json:"associated_data"`
		Nonce          string `json:"nonce"`
	}
	env := struct {
		ID           string   `json:"id"`
		CreateTime   string   `json:"create_time"`
		ResourceType string   `json:"resource_type"`
		EventType    string   `json:"event_type"`
		Summary      string   `json:"summary"`
		Resource     resource `json:"resource"`
	}{id, created.Format(time.RFC3339), apiv3.ResourceTypeEncrypted, eventType, summary,
		resource{originalType, apiv3.AlgorithmAEADAES256GCM, ct, originalType, nonce}}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(env); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// signV3Notification returns the headers WeChat sends with body at now,
// signed over TIMESTAMP\nNONCE\nBODY\n, and the body to send (changed
// after signing for the tampered fault).
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay4_1.shtml
func signV3Notification(snd *v3Sender, body []byte, now time.Time, fault string) (http.Header, []byte, error) {
	key, serial := snd.key, snd.serial
	switch fault {
	case "stale":
		now = now.Add(-10 * time.Minute)
	case "wrong-key":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, err
		}
		key = k
	case "unknown-serial":
		serial = apiv3.PublicKeyIDPrefix + randDigits(28)
		if serial == snd.serial {
			serial += "0"
		}
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	nonce := randAlnum(32)
	sigText, err := v3wire.Sign(key, v3wire.AnswerMessage(ts, nonce, body))
	if err != nil {
		return nil, nil, err
	}
	sent := body
	switch fault {
	case "probe":
		sigText = apiv3.ProbePrefix + sigText
	case "tampered":
		sent = tamperCiphertext(body)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Request-ID", randUUID())
	h.Set(apiv3.HeaderSerial, serial)
	h.Set(apiv3.HeaderSignature, sigText)
	h.Set(apiv3.HeaderSignatureType, apiv3.AuthScheme)
	h.Set(apiv3.HeaderTimestamp, ts)
	h.Set(apiv3.HeaderNonce, nonce)
	return h, sent, nil
}

// tamperCiphertext returns body with one character of its ciphertext
// changed to another base64 character, so that it still decodes.
func tamperCiphertext(body []byte) []byte {
	out := bytes.Clone(body)
	i := bytes.Index(out, []byte(`"ciphertext":"`))
	if i < 0 {
		return append(out, ' ')
	}
	i += len(`"ciphertext":"`)
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out
}

// deliverV3 POSTs one v3 notification and reads the reply: 2xx is an
// acknowledgement, whatever the body ({"code":"FAIL"} under a 200 too, as
// WeChat counts it).
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_3_5.shtml
func deliverV3(ctx context.Context, hc *http.Client, target string, h http.Header, body []byte) attempt {
	a := attempt{At: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		a.Error = err.Error()
		return a
	}
	req.Header = h
	resp, err := hc.Do(req)
	if err != nil {
		a.Error = scrubURL(err)
		return a
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	a.Status = resp.StatusCode
	a.Reply = truncate(strings.TrimSpace(string(reply)), 1024)
	if err != nil {
		a.Error = "reading the reply: " + err.Error()
		return a
	}
	a.Acked = resp.StatusCode/100 == 2
	return a
}

func printAttemptV3(w io.Writer, a attempt) {
	switch {
	case a.Error != "" && a.Status == 0:
		fmt.Fprintf(w, "attempt %d: no reply: %s\n", a.Attempt, a.Error)
		return
	case a.Acked:
		fmt.Fprintf(w, "attempt %d: HTTP %d, acknowledged (2xx)\n", a.Attempt, a.Status)
	default:
		fmt.Fprintf(w, "attempt %d: HTTP %d, not acknowledged (not 2xx)\n", a.Attempt, a.Status)
	}
	if a.Reply != "" {
		fmt.Fprintf(w, "  reply: %s\n", a.Reply)
	}
}

// randUUID returns a random version-4 UUID, the shape of WeChat's
// notification ids and Request-IDs.
func randUUID() string {
	h := randHex(32)
	b := []byte(h)
	b[12] = '4'
	b[16] = "89ab"[strings.IndexByte("0123456789abcdef", b[16])%4]
	return string(b[:8]) + "-" + string(b[8:12]) + "-" + string(b[12:16]) + "-" + string(b[16:20]) + "-" + string(b[20:])
}

func randHex(n int) string { return wire.MustRandString("0123456789abcdef", n) }
