package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/wire"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// Statuses of a doctor check.
const (
	statusOK   = "ok"
	statusWarn = "warn" // worth knowing, not wrong
	statusFail = "fail"
	statusSkip = "skip" // not configured
)

// checkReply names the check of the notify URL's answer.
const checkReply = "notify reply"

// certWarning is how long before expiry a certificate is reported.
const certWarning = 30 * 24 * time.Hour

// check is one finding of doctor.
type check struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

// doctorResult is the output of doctor.
type doctorResult struct {
	OK     bool    `json:"ok"`
	Checks []check `json:"checks"`
}

var (
	appIDPattern = regexp.MustCompile(`^wx[0-9a-f]{16}$`)
	mchIDPattern = regexp.MustCompile(`^[0-9]+$`)
	hex32        = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

func runDoctor(ctx context.Context, c *cmdEnv, args []string) int {
	if wantsV3(args) {
		return runDoctorV3(ctx, c, args)
	}
	fs, cfgFile, js := c.flagSet("doctor", "[-config file] [-json] [-offline] [-timeout d]", `
Doctor checks the merchant settings and says in plain words what is wrong:
the appid (wx and 16 hex digits), mch_id (digits), API key (32 letters and
digits; shown as *** and its length only), sign type, AppSecret, the notify
URL (https, no query string; reachable, and answering WeChat's reply contract:
doctor POSTs a notification signed with a wrong key and expects return_code
FAIL, since a notify URL that answers SUCCESS to it accepts forged payments),
and the client certificate pair (the key matches the certificate, which is
issued to WXPAY_MCHID, valid, and does not expire within 30 days). The probe
names a made-up order (out_trade_no wxpaydoctor followed by digits) of 1 fen;
-offline skips it.

Each line says what it verified and what it could not: the appid, mch_id,
API key and AppSecret are checked for their format only, since only a call
signed with them tells whether WeChat accepts them, and doctor makes none.
A setting of the wrong shape is described, never printed. Exit status 1
when a check fails.`)
	offline := fs.Bool("offline", false, "do not contact the notify URL")
	timeout := fs.Duration("timeout", 10*time.Second, "time allowed for the notify URL's reply")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return c.usageErr("doctor", "unexpected argument %q", truncate(fs.Arg(0), 40))
	}
	s, err := c.loadSettings(*cfgFile)
	if err != nil {
		return c.usageErr("doctor", "%v", err)
	}
	return c.report(doctor(ctx, s, *offline, *timeout, time.Now()), *js, 17)
}

// report prints doctor's result as a table whose name column is width
// wide (or as JSON) and gives the exit status: both forms of doctor end
// this way.
func (c *cmdEnv) report(res doctorResult, js bool, width int) int {
	if js {
		c.writeJSON(res)
	} else {
		for _, ch := range res.Checks {
			fmt.Fprintf(c.stdout, "%-4s  %-*s %s\n", ch.Status, width, ch.Name, ch.Message)
		}
		if res.OK {
			fmt.Fprintln(c.stdout, "no problems found")
		} else {
			fmt.Fprintln(c.stdout, "problems found: fix the lines marked fail")
		}
	}
	if !res.OK {
		return ExitFail
	}
	return ExitOK
}

func doctor(ctx context.Context, s *settings, offline bool, timeout time.Duration, now time.Time) doctorResult {
	var res doctorResult
	add := func(name, status, format string, a ...any) {
		res.Checks = append(res.Checks, check{name, status, fmt.Sprintf(format, a...)})
	}
	switch {
	case s.AppID == "":
		add(EnvAppID, statusFail, "not set")
	case appIDPattern.MatchString(s.AppID):
		add(EnvAppID, statusOK, "%s (format only; a real check needs a signed call)", s.AppID)
	case strings.HasPrefix(s.AppID, "wx") && len(s.AppID) == 18 && appIDPattern.MatchString(strings.ToLower(s.AppID)):
		add(EnvAppID, statusFail, "has uppercase hex digits; WeChat's appids are lowercase (copy it again from the mini-program's settings)")
	default:
		add(EnvAppID, statusFail, "%d characters, not an appid: wx followed by 16 hex digits (a mini-program's is under 开发管理 → 开发设置); %s", len(s.AppID), notShown)
	}
	switch {
	case s.MchID == "":
		add(EnvMchID, statusFail, "not set")
	case !mchIDPattern.MatchString(s.MchID) || len(s.MchID) > 32:
		add(EnvMchID, statusFail, "%d characters, not a merchant number: mch_id is digits only; %s", len(s.MchID), notShown)
	case len(s.MchID) < 8 || len(s.MchID) > 10:
		add(EnvMchID, statusWarn, "%s has %d digits; merchant numbers usually have 10 (older ones 8)", s.MchID, len(s.MchID))
	default:
		add(EnvMchID, statusOK, "%s (format only; a real check needs a signed call)", s.MchID)
	}
	if msg := keyProblem(s.APIKey, true); msg != "" {
		add(EnvAPIKey, statusFail, "%s: %s", redact(s.APIKey), msg)
	} else {
		add(EnvAPIKey, statusOK, "%s, letters and digits (format only; a real check needs a signed call)", redact(s.APIKey))
	}
	switch st := string(s.SignType); st {
	case "":
		add(EnvSignType, statusOK, "not set: MD5, WeChat's default (your server must sign with the same)")
	case string(wxpay.SignMD5), string(wxpay.SignHMACSHA256):
		add(EnvSignType, statusOK, "%s (your server must sign with the same)", st)
	default:
		hint := "it must be MD5 or HMAC-SHA256"
		if norm := strings.ToUpper(strings.ReplaceAll(st, "_", "-")); norm == "HMAC-SHA256" || norm == "MD5" {
			hint = "write it exactly " + norm
		}
		add(EnvSignType, statusFail, "%s; %s", hint, notShown)
	}
	switch {
	case s.AppSecret == "":
		add(EnvAppSecret, statusSkip, "not set (needed only for mini-program login)")
	case len(s.AppSecret) != 32:
		add(EnvAppSecret, statusFail, "%s: an AppSecret has 32 characters", redact(s.AppSecret))
	case !hex32.MatchString(s.AppSecret):
		add(EnvAppSecret, statusWarn, "%s, but not all lowercase hex digits as WeChat issues them", redact(s.AppSecret))
	default:
		add(EnvAppSecret, statusOK, "%s, hex digits (format only; a real check needs a code2session call)", redact(s.AppSecret))
	}
	res.Checks = append(res.Checks, checkNotifyURL(ctx, s, offline, timeout)...)
	res.Checks = append(res.Checks, checkCert(s, now)...)
	res.OK = true
	for _, ch := range res.Checks {
		if ch.Status == statusFail {
			res.OK = false
		}
	}
	return res
}

func checkNotifyURL(ctx context.Context, s *settings, offline bool, timeout time.Duration) []check {
	const name = EnvNotifyURL
	if s.NotifyURL == "" {
		return []check{{name, statusSkip, "not set: set it to the notify_url your server gives unifiedorder to check it"}}
	}
	u, err := url.Parse(s.NotifyURL)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return []check{{name, statusFail, "not an absolute URL"}}
	}
	var out []check
	add := func(status, format string, a ...any) {
		out = append(out, check{name, status, fmt.Sprintf(format, a...)})
	}
	shown := redactURL(u)
	bad := false
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http":
		add(statusWarn, "%s uses http: WeChat requires https, except over a dedicated line", shown)
	default:
		add(statusFail, "scheme %q: WeChat posts to https URLs", truncate(u.Scheme, 10))
		bad = true
	}
	if u.RawQuery != "" || u.ForceQuery {
		add(statusFail, "%s has a query string: WeChat requires a notify_url without parameters (put the order in the body, which carries out_trade_no)", shown)
		bad = true
	}
	if u.Fragment != "" || u.User != nil {
		add(statusFail, "%s has user info or a fragment, which WeChat cannot use", shown)
		bad = true
	}
	if len(s.NotifyURL) > 256 {
		add(statusFail, "%d characters: notify_url is at most 256", len(s.NotifyURL))
		bad = true
	}
	if wire.LoopbackHost(u.Hostname()) {
		add(statusWarn, "%s is on loopback: WeChat cannot reach it (fine with wxpay fake)", shown)
	}
	if bad || offline {
		if !bad {
			out = append(out, check{checkReply, statusSkip, "not contacted (-offline)"})
		}
		return out
	}
	out = append(out, probeNotify(ctx, s, u, timeout))
	return out
}

// probeNotify POSTs a notification that no correct handler may accept:
// well-formed, addressed to the merchant, but signed with a random key.
// WeChat's reply contract then calls for return_code FAIL (any reply other
// than SUCCESS makes WeChat retry); SUCCESS means the handler does not
// verify signatures, so anyone can forge a payment.
func probeNotify(ctx context.Context, s *settings, u *url.URL, timeout time.Duration) check {
	const name = checkReply
	fields := wxpay.Params{
		"out_trade_no":   "wxpaydoctor" + randDigits(8),
		"transaction_id": "4200" + randDigits(24),
		"total_fee":      "1",
		"cash_fee":       "1",
		"openid":         "o" + randAlnum(27),
		"trade_type":     "JSAPI",
		"bank_type":      "OTHERS",
		"time_end":       time.Now().In(beijing).Format("20060102150405"),
	}
	appID, mchID := orDefault(s.AppID, "wx0000000000000000"), orDefault(s.MchID, "0")
	wrongKey := randAlnum(32)
	for wrongKey == s.APIKey {
		wrongKey = randAlnum(32)
	}
	body, err := wxpaytest.NotificationBody(wxpaytest.Config{AppID: appID, MchID: mchID, APIKey: wrongKey, SignType: s.SignType}, fields)
	if err != nil {
		return check{name, statusFail, "cannot build the probe: " + err.Error()}
	}
	hc := notifyClient(true, timeout)
	defer hc.CloseIdleConnections()
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(string(body)))
	if err != nil {
		return check{name, statusFail, err.Error()}
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := hc.Do(req)
	if err != nil {
		return check{name, statusFail, "not reachable: " + scrubURL(err)}
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	took := time.Since(start).Round(time.Millisecond)
	if resp.StatusCode/100 == 3 {
		return check{name, statusFail, fmt.Sprintf("answers HTTP %d (a redirect): WeChat does not follow redirects; give the final URL", resp.StatusCode)}
	}
	p, xerr := wxpay.DecodeXML(reply)
	switch {
	case xerr == nil && p["return_code"] == "SUCCESS":
		return check{name, statusFail, fmt.Sprintf("answered SUCCESS (HTTP %d) to a notification signed with a wrong key: the handler does not verify signatures, so anyone can forge a payment", resp.StatusCode)}
	case xerr == nil && p["return_code"] == "FAIL":
		return check{name, statusOK, fmt.Sprintf("reachable; refused a notification signed with a wrong key with return_code FAIL (HTTP %d, %s); not checked: that it accepts a genuine one, which doctor never sends", resp.StatusCode, took)}
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		return check{name, statusFail, fmt.Sprintf("answers HTTP %d: nothing takes POSTs at this path", resp.StatusCode)}
	default:
		return check{name, statusWarn, fmt.Sprintf("reachable and refused the forged notification (HTTP %d, %s), but the reply is not WeChat's <xml><return_code>FAIL</return_code>…</xml>; WeChat only needs it not to be SUCCESS", resp.StatusCode, took)}
	}
}

func checkCert(s *settings, now time.Time) []check {
	const name = "certificate"
	switch {
	case s.CertFile == "" && s.KeyFile == "":
		return []check{{name, statusSkip, fmt.Sprintf("%s and %s not set (needed only for refunds, reverse and fund-flow bills)", EnvCertFile, EnvKeyFile)}}
	case s.CertFile == "" || s.KeyFile == "":
		return []check{{name, statusFail, fmt.Sprintf("set both %s and %s, or neither", EnvCertFile, EnvKeyFile)}}
	}
	certPEM, keyPEM, err := wire.ReadKeyPair(s.CertFile, s.KeyFile)
	var leaf *x509.Certificate
	if err == nil {
		_, leaf, err = wire.LoadKeyPair(certPEM, keyPEM)
	}
	if err != nil {
		msg := fileErr(err)
		if strings.Contains(msg, "does not match") {
			msg = "the private key does not belong to the certificate: " + msg
		}
		return []check{{name, statusFail, msg}}
	}
	who := leaf.Subject.CommonName
	until := leaf.NotAfter.UTC().Format(time.DateOnly)
	switch {
	case now.Before(leaf.NotBefore):
		return []check{{name, statusFail, fmt.Sprintf("%q is not valid before %s", who, leaf.NotBefore.UTC().Format(time.DateOnly))}}
	case now.After(leaf.NotAfter):
		return []check{{name, statusFail, fmt.Sprintf("%q expired on %s: download a new one in the merchant platform (账户中心 → API安全)", who, until)}}
	case leaf.NotAfter.Sub(now) < certWarning:
		return []check{{name, statusFail, fmt.Sprintf("%q expires on %s, in %d days: renew it now", who, until, int(leaf.NotAfter.Sub(now).Hours()/24))}}
	}
	// WeChat issues the merchant's API certificate to the mch_id: its
	// subject's common name is the merchant number, and WeChat refuses
	// another merchant's certificate at the handshake.
	switch {
	case s.MchID == "":
		return []check{{name, statusFail, fmt.Sprintf("cannot tell whose certificate %q is: %s is not set (the certificate's common name must be the mch_id)", who, EnvMchID)}}
	case who != s.MchID:
		return []check{{name, statusFail, fmt.Sprintf("issued to %q, not to %s %s: the API certificate's common name is the mch_id it belongs to; WeChat refuses another merchant's certificate (download this merchant's in 账户中心 → API安全)", who, EnvMchID, s.MchID)}}
	}
	// The library loads the pair on its own terms too (PEM files, a
	// transport it can present the certificate on): what a refund will do.
	if _, err := wxpay.NewClient(wxpay.Config{AppID: "wx0000000000000000", MchID: "0", APIKey: strings.Repeat("0", 32)},
		wxpay.WithClientCertificateFiles(s.CertFile, s.KeyFile)); err != nil {
		return []check{{name, statusFail, "the library refuses the pair: " + fileErr(err)}}
	}
	return []check{{name, statusOK, fmt.Sprintf("key matches the certificate of mch_id %q, valid until %s (not checked: that WeChat issued it; only a refund or reverse call tells)", who, until)}}
}

// notShown ends the message about a malformed setting: its value is not
// printed, because a value of the wrong shape may be a secret on the
// wrong line.
const notShown = "the value is not shown (a value of the wrong shape may be a secret on the wrong line)"

// fileErr describes a failure to read a certificate file without quoting
// the path unless it looks like a certificate file's name: a path setting
// that holds something else may hold a secret.
func fileErr(err error) string {
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) && !certPathRE.MatchString(pe.Path) {
		msg = strings.ReplaceAll(msg, pe.Path, "(a path that is not a certificate file name; not shown)")
	}
	return msg
}

// certPathRE is the shape of a path shown in messages: a file name
// ending in a certificate extension.
var certPathRE = regexp.MustCompile(`(?i)\.(pem|crt|cer|key)$`)
