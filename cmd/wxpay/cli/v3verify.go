package cli

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/internal/wire"
)

// Checks of verify -v3, as reported in verifyV3Result.Check.
const (
	checkV3Headers   = "headers"
	checkV3Probe     = "probe signature"
	checkV3SigType   = "signature type"
	checkV3Timestamp = "timestamp"
	checkV3Serial    = "serial"
	checkV3Signature = "signature"
	checkV3Decrypt   = "decrypt"
	checkV3Fields    = "notification fields"
	checkV3Merchant  = "merchant"
)

// verifyV3Result is the output of verify -v3.
type verifyV3Result struct {
	OK        bool     `json:"ok"`
	Kind      string   `json:"kind"`             // "notification" or "answer"
	Serial    string   `json:"serial,omitempty"` // Wechatpay-Serial, when well-formed
	Key       string   `json:"key,omitempty"`    // the configured key it names
	Timestamp string   `json:"timestamp,omitempty"`
	CheckedAt int64    `json:"checked_at"` // the Unix time the window was checked against
	Message   string   `json:"message"`    // the signed string, the body abbreviated
	Check     string   `json:"check,omitempty"`
	Problem   string   `json:"problem,omitempty"`
	Cause     string   `json:"cause,omitempty"`
	EventType string   `json:"event_type,omitempty"`
	Plaintext string   `json:"plaintext,omitempty"` // the opened resource, with -decrypt
	Notes     []string `json:"notes,omitempty"`
}

func runVerifyV3(_ context.Context, c *cmdEnv, args []string) int {
	fs, cfgFile, js := c.flagSet("verify", "-v3 [-config file] [-json] [-headers file] [-H 'Name: value']... [-decrypt] [-at unix] [body-file|-]", `
Verify -v3 checks an API v3 answer or notification: its Wechatpay-Serial,
-Signature, -Timestamp and -Nonce headers (from -headers, a file of
"Name: value" lines such as curl -D writes, and from -H flags) against its body
(the file, or stdin), exactly as the library does: the four headers present
once each, not a WECHATPAY/SIGNTEST/ probe, the timestamp within 5 minutes,
the serial naming a configured WeChat key (WXPAY_V3_PUBKEY_ID with
WXPAY_V3_PUBKEY_FILE, or a certificate of WXPAY_V3_PLATFORM_CERT_FILE), and the
RSA-SHA256 signature over TIMESTAMP\nNONCE\nBODY\n. It prints either "OK" or
which check failed and the likely cause (a replay or a slow copy, an unknown
serial, a probe, the wrong key, a body changed on the way).

-decrypt also opens a verified notification's resource under WXPAY_APIV3_KEY
and prints the plaintext (it holds personal data: keep it out of tickets);
when WXPAY_MCHID is set, the plaintext must name it. -at checks the 5-minute
window against a given Unix time instead of now, for a message captured
earlier. A JSON body with -headers or -H is taken as v3 without -v3, and so
is an input holding the whole HTTP message (a status line "HTTP/1.1 200 OK" or
a request line "POST /notify HTTP/1.1", headers with Wechatpay-*, a blank line,
the body, as curl -i or a server log writes it; the body is the bytes after
the blank line, up to Content-Length when given).
Exit status 1 when a check fails.`)
	fs.Bool("v3", true, "verify an API v3 message (implied by -headers, -H, -decrypt, -at)")
	var hflags headerFlags
	fs.Var(&hflags, "H", "a header `Name: value` of the message (repeatable)")
	fs.Var(&hflags, "header", "the same as -H, as curl spells it")
	headerFile := fs.String("headers", "", "read the message's headers from `file` (Name: value lines)")
	decrypt := fs.Bool("decrypt", false, "open the notification's resource under WXPAY_APIV3_KEY and print it")
	at := fs.String("at", "", "check the timestamp window against this Unix `time` instead of now")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 1 {
		return c.usageErr("verify", "give at most one body file")
	}
	h := http.Header{}
	if *headerFile != "" {
		b, err := readBounded(*headerFile, maxHeaderFile)
		if err != nil {
			return c.usageErr("verify", "-headers: %v", err)
		}
		if h, err = parseHeaderLines(b); err != nil {
			return c.usageErr("verify", "%v", err)
		}
	}
	for i, line := range hflags {
		one, err := parseHeaderLines([]byte(line))
		if err != nil || len(one) != 1 {
			return c.usageErr("verify", "-H flag %d: want 'Name: value' (not shown: it may hold a secret)", i+1)
		}
		for k, vs := range one {
			h[k] = append(h[k], vs...)
		}
	}
	now := time.Now()
	if *at != "" {
		t, err := strconv.ParseInt(*at, 10, 64)
		if err != nil || t < 0 || len(*at) > 12 {
			return c.usageErr("verify", "-at must be Unix seconds")
		}
		now = time.Unix(t, 0)
	}
	var body []byte
	var err error
	if fs.NArg() == 0 || fs.Arg(0) == "-" {
		body, err = c.readBody("-")
	} else {
		body, err = c.readBody(fs.Arg(0))
	}
	if err != nil {
		return c.usageErr("verify", "%v", err)
	}
	if len(h) == 0 {
		// No -headers or -H: the input is the whole HTTP message, as
		// curl -i or a server log writes it.
		if !looksLikeHTTPMessage(body) {
			return c.usageErr("verify", "-v3 needs the message's headers: -headers file (curl -D file writes one), -H 'Wechatpay-Signature: …', or the whole HTTP message as the input (curl -i writes one)")
		}
		if h, body, err = parseHTTPMessage(body); err != nil {
			return c.usageErr("verify", "the HTTP message: %v", err)
		}
	}
	if !hasWechatpayHeader(h) && !wantsV3(args) {
		return c.usageErr("verify", "the headers carry no Wechatpay-* header: a v3 answer or notification has Wechatpay-Serial, -Signature, -Timestamp and -Nonce (a proxy or CDN may strip them); a v2 message needs no headers")
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && t[0] == '<' {
		return c.usageErr("verify", "the body is XML, an API v2 message: drop -v3, -headers and -H")
	}
	// Only now the keys: a message of the wrong generation is named as
	// such, not answered with the v3 settings it does not need.
	s, err := c.loadSettings(*cfgFile)
	if err != nil {
		return c.usageErr("verify", "%v", err)
	}
	keys, err := s.v3Verifiers()
	if err != nil {
		return c.usageErr("verify", "%v", err)
	}
	if *decrypt {
		if k := apiV3KeyOf(s); k == "" {
			return c.usageErr("verify", "-decrypt needs %s (the APIv3 key set in 商户平台 → 账户中心 → API安全)", EnvAPIv3Key)
		}
	}
	res := verifyV3(s, keys, h, body, now, *decrypt)
	if *at != "" {
		res.Notes = append(res.Notes, "the 5-minute window was checked against -at, not the current time")
	}
	if *js {
		c.writeJSON(res)
	} else {
		w := c.stdout
		fmt.Fprintf(w, "kind:      %s\n", res.Kind)
		if res.Serial != "" {
			key := res.Key
			if key == "" {
				key = "no configured key"
			}
			fmt.Fprintf(w, "serial:    %s (%s)\n", res.Serial, key)
		}
		fmt.Fprintf(w, "message:   %s\n", res.Message)
		if res.OK {
			fmt.Fprintln(w, "OK: the signature matches")
			if res.EventType != "" {
				fmt.Fprintf(w, "event:     %s\n", res.EventType)
			}
		} else {
			fmt.Fprintf(w, "FAILED (%s): %s\n", res.Check, res.Problem)
			if res.Cause != "" {
				fmt.Fprintf(w, "likely cause: %s\n", res.Cause)
			}
		}
		for _, n := range res.Notes {
			fmt.Fprintln(w, "note:", n)
		}
		if res.Plaintext != "" {
			fmt.Fprintln(w, res.Plaintext)
		}
	}
	if !res.OK {
		return ExitFail
	}
	return ExitOK
}

// readBounded reads at most max bytes of the file name.
func readBounded(name string, max int) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("longer than %d bytes", max)
	}
	return b, nil
}

func hasWechatpayHeader(h http.Header) bool {
	for k := range h {
		if strings.HasPrefix(k, "Wechatpay-") {
			return true
		}
	}
	return false
}

// signedMessage shows the string the signature covers with the body
// abbreviated to its length.
func signedMessage(h http.Header, body []byte) string {
	one := func(name string) string {
		vs := h.Values(name)
		if len(vs) != 1 || !printableASCII(vs[0], 128) {
			return "<" + name + "?>"
		}
		return vs[0]
	}
	return fmt.Sprintf("%s\\n%s\\n<%d-byte body>\\n", one(apiv3.HeaderTimestamp), one(apiv3.HeaderNonce), len(body))
}

func printableASCII(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// verifyV3 runs the library's checks and explains the first that fails.
func verifyV3(s *settings, keys []v3Key, h http.Header, body []byte, now time.Time, decrypt bool) verifyV3Result {
	res := verifyV3Result{Kind: "answer", CheckedAt: now.Unix(), Message: signedMessage(h, body)}
	var outer struct {
		EventType string          `json:"event_type"`
		Resource  json.RawMessage `json:"resource"`
	}
	if json.Unmarshal(body, &outer) == nil && outer.Resource != nil {
		res.Kind = "notification"
	}
	serial := ""
	if vs := h.Values(apiv3.HeaderSerial); len(vs) == 1 && printableASCII(vs[0], 64) && isToken(vs[0]) {
		serial = vs[0]
		res.Serial = serial
	}
	if ts := h.Values(apiv3.HeaderTimestamp); len(ts) == 1 && printableASCII(ts[0], 16) {
		res.Timestamp = ts[0]
	}
	lookup := func(serial string) (*rsa.PublicKey, error) {
		for _, k := range keys {
			if k.serial == serial || !strings.HasPrefix(serial, apiv3.PublicKeyIDPrefix) && k.cert != nil && wire.NormSerial(k.serial) == wire.NormSerial(serial) {
				return k.pub, nil
			}
		}
		return nil, apiv3.UnknownSerial("not configured")
	}
	for _, k := range keys {
		if pub, _ := lookup(serial); pub != nil && pub == k.pub {
			res.Key = k.desc
			if k.cert != nil {
				if why := certValidity(k.cert, now); why != "" {
					res.Notes = append(res.Notes, "that certificate is "+why)
				}
			}
			break
		}
	}
	fail := func(check, problem, cause string) verifyV3Result {
		res.Check, res.Problem, res.Cause = check, problem, cause
		return res
	}
	err := apiv3.VerifyMessage(h, body, now, lookup)
	switch {
	case err == nil:
	case errors.Is(err, apiv3.ErrMissingSignature):
		cause := "WeChat signs every 2xx answer and every notification: an unsigned one is forged, or a proxy or CDN stripped the Wechatpay-* headers (connect directly); a 401 answer to a badly signed request is never signed"
		return fail(checkV3Headers, missingHeader(h), cause)
	case errors.Is(err, apiv3.ErrSignatureProbe):
		return fail(checkV3Probe, "the signature starts with "+apiv3.ProbePrefix+": a WeChat signature probe",
			"WeChat sends real messages deliberately signed wrong to catch merchants who never verify; a notify handler must refuse it (4XX/5XX), and WeChat then sends the notification again, correctly signed. Never answer a probe with success: it carries a real event")
	case errors.Is(err, apiv3.ErrTimestamp):
		t, perr := strconv.ParseInt(res.Timestamp, 10, 64)
		if perr != nil {
			return fail(checkV3Timestamp, "Wechatpay-Timestamp is not decimal Unix seconds", "WeChat sends 10-digit Unix seconds; the header was edited or is not WeChat's")
		}
		age := now.Sub(time.Unix(t, 0)).Round(time.Second)
		if age > 0 {
			return fail(checkV3Timestamp, fmt.Sprintf("Wechatpay-Timestamp is %s old; at most 5 minutes are accepted", humanAge(age)),
				"a replay of an old message, or a message captured earlier (give -at with the Unix time it was received to check the rest), or this machine's clock is fast")
		}
		return fail(checkV3Timestamp, fmt.Sprintf("Wechatpay-Timestamp is %s in the future; at most 5 minutes are accepted", humanAge(-age)),
			"this machine's clock is slow (sync it with NTP), or the header was edited")
	case errors.Is(err, apiv3.ErrUnknownSerial):
		if serial == "" {
			return fail(checkV3Serial, "Wechatpay-Serial is malformed", "WeChat writes the hex serial of a platform certificate or a PUB_KEY_ID_… id")
		}
		return fail(checkV3Serial, fmt.Sprintf("Wechatpay-Serial %s names no configured key", serial), unknownSerialCause(serial, keys))
	case strings.Contains(err.Error(), apiv3.HeaderSignatureType):
		return fail(checkV3SigType, "Wechatpay-Signature-Type is not "+apiv3.AuthScheme,
			"a merchant set up for China's national algorithms (SM2) gets SM2 signatures, which the library does not verify")
	default:
		return fail(checkV3Signature, "the signature does not match", mismatchCauseV3(keys, h, body, now, serial, lookup))
	}
	if res.Kind == "answer" {
		if decrypt {
			res.Notes = append(res.Notes, "-decrypt: an answer has no resource to open (only notifications do)")
		}
		res.OK = true
		return res
	}
	res.EventType = outer.EventType
	if !decrypt {
		res.Notes = append(res.Notes, "a notification: -decrypt opens its resource under "+EnvAPIv3Key)
		res.OK = true
		return res
	}
	key := apiV3KeyOf(s)
	n, err := apiv3.OpenNotification(key, body)
	switch {
	case err == nil:
	case errors.Is(err, apiv3.ErrDecrypt):
		cause := fmt.Sprintf("%s (%s) is not the APIv3 key of this merchant, or the resource was changed after signing", EnvAPIv3Key, redact(key))
		switch {
		case len(key) != 32:
			cause = fmt.Sprintf("%s has %d bytes; the APIv3 key (AEAD_AES_256_GCM) has exactly 32, and a 16-byte key (AES-128, as some SDKs' test vectors use) is refused", EnvAPIv3Key, len(key))
		case s.APIKey != "" && key == s.APIKey:
			cause = fmt.Sprintf("%s equals %s: the APIv2 key is not the APIv3 key; both are set under 商户平台 → 账户中心 → API安全", EnvAPIv3Key, EnvAPIKey)
		}
		return fail(checkV3Decrypt, "the resource does not open under the APIv3 key", cause)
	case errors.Is(err, apiv3.ErrAlgorithm):
		return fail(checkV3Fields, "resource.algorithm is not AEAD_AES_256_GCM", "WeChat encrypts notifications with AEAD_AES_256_GCM only")
	default:
		return fail(checkV3Fields, "the notification is malformed: "+strings.TrimPrefix(err.Error(), "apiv3: "),
			"WeChat always sends id, create_time, event_type and resource {algorithm, ciphertext, nonce, associated_data}: the body was built by hand or cut")
	}
	var who struct {
		MchID   string `json:"mchid"`
		SpMchID string `json:"sp_mchid"`
	}
	_ = json.Unmarshal(n.Plaintext, &who)
	if mch := orDefault(who.MchID, who.SpMchID); s.MchID != "" && mch != "" && mch != s.MchID {
		res.Plaintext = string(n.Plaintext)
		return fail(checkV3Merchant, fmt.Sprintf("the notification is genuine but names mchid %q, while %s is %q", truncate(mch, 32), EnvMchID, s.MchID),
			"a notification for another merchant (a notify URL shared between merchants?); never act on it for this one")
	}
	res.Plaintext = string(n.Plaintext)
	res.OK = true
	return res
}

// missingHeader names the first of the four signature headers that is
// absent, empty or repeated.
func missingHeader(h http.Header) string {
	for _, name := range []string{apiv3.HeaderSignature, apiv3.HeaderSerial, apiv3.HeaderTimestamp, apiv3.HeaderNonce} {
		switch vs := h.Values(name); {
		case len(vs) == 0:
			return "the message has no " + name
		case len(vs) > 1:
			return name + " is given " + strconv.Itoa(len(vs)) + " times (two layers could read different ones)"
		case vs[0] == "":
			return name + " is empty"
		}
	}
	return "a signature header is missing"
}

// unknownSerialCause says what configuration a serial suggests.
func unknownSerialCause(serial string, keys []v3Key) string {
	var have []string
	hasPub, hasCert := false, false
	for _, k := range keys {
		have = append(have, k.serial)
		hasPub = hasPub || k.cert == nil
		hasCert = hasCert || k.cert != nil
	}
	configured := "the configured keys are " + strings.Join(have, ", ")
	switch {
	case strings.HasPrefix(serial, apiv3.PublicKeyIDPrefix) && !hasPub:
		return "a WeChat Pay public key id, and none is configured: set " + EnvV3PubKeyID + " and " + EnvV3PubKeyFile + " (商户平台 → API安全 → 微信支付公钥); " + configured
	case strings.HasPrefix(serial, apiv3.PublicKeyIDPrefix):
		return "another public key id than " + EnvV3PubKeyID + ": another merchant's message, or the key was replaced in the merchant platform; " + configured
	case !hasCert:
		return "a platform certificate serial, and no certificate is configured: the merchant is migrating to the public key (WeChat signs with both for a while); set " + EnvV3PlatformCertFile + " too; " + configured
	}
	return "a platform certificate not in " + EnvV3PlatformCertFile + ": WeChat rotated its certificate (download the new one with GET /v3/certificates), or another merchant's message; " + configured
}

// mismatchCauseV3 tries the mistakes that break a signature that should
// match, each through the library's verifier, and names the first that
// explains it.
func mismatchCauseV3(keys []v3Key, h http.Header, body []byte, now time.Time, serial string, lookup func(string) (*rsa.PublicKey, error)) string {
	verifies := func(b []byte, look func(string) (*rsa.PublicKey, error)) bool {
		return apiv3.VerifyMessage(h, b, now, look) == nil
	}
	for _, k := range keys {
		if pub, _ := lookup(serial); pub == k.pub {
			continue
		}
		if verifies(body, func(string) (*rsa.PublicKey, error) { return k.pub, nil }) {
			return fmt.Sprintf("it verifies under %s, not under the key Wechatpay-Serial names: the headers were edited, or headers and body come from different messages", k.desc)
		}
	}
	var variants []struct {
		b    []byte
		what string
	}
	add := func(b []byte, what string) {
		if !bytes.Equal(b, body) {
			variants = append(variants, struct {
				b    []byte
				what string
			}{b, what})
		}
	}
	add(bytes.TrimRight(body, "\r\n"), "the body file ends with a newline the signature does not cover (an editor or echo added it): give the exact bytes received (curl -o file)")
	add(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")), "the body's line ends were changed to CRLF on the way (a Windows editor or a git setting): give the exact bytes received")
	var compact bytes.Buffer
	if json.Compact(&compact, body) == nil {
		add(compact.Bytes(), "the body was re-formatted (pretty-printed or re-indented JSON): WeChat signs the exact bytes it sent; take them before any JSON parsing")
	}
	for _, v := range variants {
		if verifies(v.b, lookup) {
			return v.what
		}
	}
	return "the key of that serial did not make this signature (another merchant's pub_key.pem, an old certificate), or the body or the timestamp or nonce changed after signing (a proxy re-encoding the body, a hand edit); verify the raw bytes as received"
}

// humanAge writes a duration as people read a message's age: seconds and
// minutes as Go does, whole days beyond two.
func humanAge(d time.Duration) string {
	if d >= 48*time.Hour {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + " days"
	}
	return d.String()
}
