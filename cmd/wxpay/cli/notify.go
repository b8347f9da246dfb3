package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/wire"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// maxReply bounds how much of a notify URL's reply is read.
const maxReply = 64 << 10

// beijing is UTC+8, the zone of every v2 time.
var beijing = time.FixedZone("CST", 8*3600)

// attempt is one delivery of a notification.
type attempt struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	Status  int       `json:"status,omitempty"` // HTTP status; 0 when no answer came
	Reply   string    `json:"reply,omitempty"`  // the reply body, cut at 1 KiB
	Error   string    `json:"error,omitempty"`
	Acked   bool      `json:"acked"` // v2: HTTP 2xx and return_code SUCCESS; v3: HTTP 2xx
}

// notifyResult is the output of notify.
type notifyResult struct {
	OK  bool   `json:"ok"`            // the exit status is 0
	API string `json:"api,omitempty"` // "v3" for notify -v3
	// Acked is true when a reply acknowledged the notification (v3
	// only; in v2 it is OK). With -fault, OK is the opposite of Acked.
	Acked       bool      `json:"acked,omitempty"`
	Kind        string    `json:"kind"` // "payment" or "refund"
	URL         string    `json:"url"`
	OutTradeNo  string    `json:"out_trade_no"`
	OutRefundNo string    `json:"out_refund_no,omitempty"`
	ID          string    `json:"id,omitempty"`         // v3: the notification's id
	EventType   string    `json:"event_type,omitempty"` // v3: TRANSACTION.SUCCESS, REFUND.SUCCESS, ...
	Serial      string    `json:"serial,omitempty"`     // v3: the Wechatpay-Serial sent
	Fault       string    `json:"fault,omitempty"`      // v3: the -fault injected
	Attempts    []attempt `json:"attempts"`
}

// paramsFlag collects repeated -set name=value flags.
type paramsFlag wxpay.Params

func (p paramsFlag) String() string { return "" }
func (p paramsFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || !wire.ValidName(k) {
		return errors.New("want name=value")
	}
	p[k] = v
	return nil
}

func runNotify(ctx context.Context, c *cmdEnv, args []string) int {
	if wantsV3(args, "fault", "sign-with", "amount", "id") {
		return runNotifyV3(ctx, c, args) // flags only the v3 form has imply it
	}
	fs, cfgFile, js := c.flagSet("notify", "[flags] -out-trade-no N -total-fee FEN URL", `
Notify sends URL the notification WeChat sends when an order is paid,
signed with the merchant's key and sign type (without sign_type, as WeChat
does), and prints the reply. With -refund it sends a refund notification
instead, its req_info encrypted as WeChat encrypts it. With -retry it repeats
on WeChat's schedule (15s, 15s, 30s, 3m, ... 24h4m in all; divided by -speed)
until the reply is SUCCESS. -v3 sends an API v3 notification instead (see
"wxpay notify -v3 -h").

With a real key this forges payments: URL must be on loopback (localhost,
127.0.0.1, ::1) unless -allow-remote is given. Exit status 1 when no reply
acknowledged the notification.`)
	outTradeNo := fs.String("out-trade-no", "", "the order's out_trade_no (required)")
	totalFee := fs.Int64("total-fee", -1, "the order's amount in fen (required)")
	txID := fs.String("transaction-id", "", "transaction_id (default: a random one; repeat one to replay a delivery as WeChat does)")
	openID := fs.String("openid", "", "the payer's openid (default: a random one)")
	tradeType := fs.String("trade-type", "JSAPI", "trade_type")
	attach := fs.String("attach", "", "attach, echoed from the order")
	result := fs.String("result", "SUCCESS", "result_code of a payment notification: SUCCESS or FAIL")
	refund := fs.Bool("refund", false, "send a refund notification")
	outRefundNo := fs.String("out-refund-no", "", "out_refund_no of a refund notification (required with -refund)")
	refundFee := fs.Int64("refund-fee", -1, "refund_fee in fen (default: -total-fee)")
	refundStatus := fs.String("refund-status", "SUCCESS", "refund_status: SUCCESS, CHANGE or REFUNDCLOSE")
	extra := paramsFlag{}
	fs.Var(extra, "set", "set a `name=value` field of the notification, or of req_info with -refund (repeatable; an empty value removes the field)")
	allowRemote := fs.Bool("allow-remote", false, "allow a URL outside loopback (with a real key this forges payments)")
	retry := fs.Bool("retry", false, "repeat on WeChat's schedule until the reply is SUCCESS")
	speed := fs.Float64("speed", 1, "divide the retry schedule by this factor")
	timeout := fs.Duration("timeout", 5*time.Second, "time allowed for each reply")
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
		return c.usageErr("notify", "refusing to send to %s, which is not loopback: with a real key this forges payments. Pass -allow-remote if that is what you mean", target.Hostname())
	}
	switch {
	case *outTradeNo == "":
		return c.usageErr("notify", "-out-trade-no is required")
	case *totalFee < 0:
		return c.usageErr("notify", "-total-fee (in fen) is required")
	case *speed <= 0:
		return c.usageErr("notify", "-speed must be positive")
	case *refund && *outRefundNo == "":
		return c.usageErr("notify", "-out-refund-no is required with -refund")
	case *result != "SUCCESS" && *result != "FAIL":
		return c.usageErr("notify", "-result must be SUCCESS or FAIL")
	case *refundStatus != string(wxpay.RefundSuccess) && *refundStatus != string(wxpay.RefundChange) && *refundStatus != string(wxpay.RefundClosed):
		return c.usageErr("notify", "-refund-status must be SUCCESS, CHANGE or REFUNDCLOSE")
	}
	s, err := c.loadSettings(*cfgFile)
	if err != nil {
		return c.usageErr("notify", "%v", err)
	}
	if _, err := s.signer(); err != nil {
		return c.usageErr("notify", "%v", err)
	}
	if s.AppID == "" || s.MchID == "" {
		return c.usageErr("notify", "%s and %s must be set: the notification names the merchant", EnvAppID, EnvMchID)
	}
	if *txID == "" {
		*txID = "4200" + randDigits(24)
	}
	now := time.Now().In(beijing)
	var body []byte
	kind := "payment"
	if *refund {
		kind = "refund"
		rf := *refundFee
		if rf < 0 {
			rf = *totalFee
		}
		inner := wxpay.Params{
			"transaction_id":        *txID,
			"out_trade_no":          *outTradeNo,
			"refund_id":             "50000" + randDigits(24),
			"out_refund_no":         *outRefundNo,
			"total_fee":             strconv.FormatInt(*totalFee, 10),
			"settlement_total_fee":  strconv.FormatInt(*totalFee, 10),
			"refund_fee":            strconv.FormatInt(rf, 10),
			"settlement_refund_fee": strconv.FormatInt(rf, 10),
			"refund_status":         *refundStatus,
			"refund_recv_accout":    "支付用户零钱",
			"refund_account":        wxpay.RefundFromUnsettled,
			"refund_request_source": "API",
		}
		if *refundStatus == "SUCCESS" {
			inner["success_time"] = now.Format("2006-01-02 15:04:05")
		}
		setFields(inner, wxpay.Params(extra))
		if body, err = wxpaytest.RefundNotificationBody(s.fakeConfig(), inner); err != nil {
			return c.usageErr("notify", "%v", err)
		}
	} else {
		if *openID == "" {
			*openID = "o" + randAlnum(27)
		}
		fields := wxpay.Params{
			"out_trade_no":   *outTradeNo,
			"transaction_id": *txID,
			"total_fee":      strconv.FormatInt(*totalFee, 10),
			"cash_fee":       strconv.FormatInt(*totalFee, 10),
			"fee_type":       "CNY",
			"openid":         *openID,
			"is_subscribe":   "N",
			"trade_type":     *tradeType,
			"bank_type":      "OTHERS",
			"time_end":       now.Format("20060102150405"),
			"attach":         *attach,
			"result_code":    *result,
		}
		if *result == "FAIL" {
			fields["err_code"] = "SYSTEMERROR"
			fields["err_code_des"] = "系统错误"
		}
		setFields(fields, wxpay.Params(extra))
		for k, v := range fields {
			if v == "" {
				delete(fields, k) // an empty element would not be signed anyway
			}
		}
		body, err = wxpaytest.NotificationBody(s.fakeConfig(), fields)
		if err != nil {
			return c.usageErr("notify", "%v", err)
		}
	}
	hc := notifyClient(*allowRemote, *timeout)
	defer hc.CloseIdleConnections()
	res := notifyResult{Kind: kind, URL: redactURL(target), OutTradeNo: *outTradeNo}
	res.Attempts, res.OK = c.deliverOnSchedule(ctx, *retry, *speed, *js, printAttempt, func() (attempt, error) {
		return deliver(ctx, hc, target.String(), body), nil
	})
	if *js {
		c.writeJSON(res)
	} else if !res.OK {
		fmt.Fprintln(c.stdout, "not acknowledged: WeChat would deliver again later")
	}
	if !res.OK {
		return ExitFail
	}
	return ExitOK
}

// fakeConfig is the merchant as wxpaytest's notification builders take
// it.
func (s *settings) fakeConfig() wxpaytest.Config {
	return wxpaytest.Config{AppID: s.AppID, MchID: s.MchID, APIKey: keyOf(s), SignType: s.SignType}
}

// setFields applies -set overrides: an empty value removes the field.
func setFields(dst, set wxpay.Params) {
	for k, v := range set {
		if v == "" {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}

// deliverOnSchedule makes the delivery attempts of one notification, as
// WeChat does, for both generations: send makes one attempt (signing it
// afresh where the generation needs it); with retry, a failed attempt is
// made again after each wait of WeChat's schedule (divided by speed)
// until one is acknowledged, the schedule ends or ctx is done. Unless
// quiet (-json), each attempt is printed with show as it is made. A send
// error means the attempt could not be made (a notification that could
// not be signed): it ends the attempts, and the caller, which has it,
// reports it.
func (c *cmdEnv) deliverOnSchedule(ctx context.Context, retry bool, speed float64, quiet bool,
	show func(io.Writer, attempt), send func() (attempt, error)) (attempts []attempt, acked bool) {
	schedule := wxpaytest.NotifySchedule()
	for i := 0; ; i++ {
		a, err := send()
		if err != nil {
			return attempts, false
		}
		a.Attempt = i + 1
		attempts = append(attempts, a)
		if !quiet {
			show(c.stdout, a)
		}
		if a.Acked {
			return attempts, true
		}
		if !retry || i >= len(schedule) {
			return attempts, false
		}
		wait := time.Duration(float64(schedule[i]) / speed)
		if !quiet {
			fmt.Fprintf(c.stdout, "next attempt in %s\n", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			return attempts, false
		}
	}
}

func printAttempt(w io.Writer, a attempt) {
	switch {
	case a.Error != "":
		fmt.Fprintf(w, "attempt %d: no reply: %s\n", a.Attempt, a.Error)
		return
	case a.Acked:
		fmt.Fprintf(w, "attempt %d: HTTP %d, acknowledged (return_code SUCCESS)\n", a.Attempt, a.Status)
	default:
		fmt.Fprintf(w, "attempt %d: HTTP %d, not acknowledged\n", a.Attempt, a.Status)
	}
	fmt.Fprintf(w, "  reply: %s\n", a.Reply)
}

// deliver POSTs body once, as WeChat does, and reads the reply.
func deliver(ctx context.Context, hc *http.Client, target string, body []byte) attempt {
	a := attempt{At: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(string(body)))
	if err != nil {
		a.Error = err.Error()
		return a
	}
	req.Header.Set("Content-Type", "text/xml")
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
	if p, err := wxpay.DecodeXML(reply); err == nil && p["return_code"] == "SUCCESS" && resp.StatusCode/100 == 2 {
		a.Acked = true
	}
	return a
}

// notifyClient returns the HTTP client of notify and doctor: no proxy
// (the loopback rule applies to the server itself), no redirects (WeChat
// follows none), TLS verified, and unless allowRemote a dialer that
// refuses every address outside loopback, so that a name resolving
// elsewhere cannot slip through the check of the URL.
func notifyClient(allowRemote bool, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	if !allowRemote {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !wire.LoopbackIP(ip) {
				return fmt.Errorf("refusing to connect to %s: not loopback (pass -allow-remote)", host)
			}
			return nil
		}
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:       d.DialContext,
			TLSClientConfig:   &tls.Config{MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2: true,
		},
		CheckRedirect: wire.NoRedirect,
	}
}

// redactURL drops user info and the query from u for printing.
func redactURL(u *url.URL) string {
	v := *u
	v.User = nil
	v.RawQuery = ""
	v.Fragment = ""
	return v.String()
}

// scrubURL describes a transport error without the URL's user info or
// query, which *url.Error would print.
func scrubURL(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return fmt.Sprintf("%s %q: %v", ue.Op, redactURL(u), ue.Err)
		}
		return ue.Err.Error()
	}
	return err.Error()
}

// randAlnum and randDigits make the ids and keys notify and doctor invent.
func randAlnum(n int) string  { return wire.MustRandString(wire.Alnum, n) }
func randDigits(n int) string { return wire.MustRandString(wire.Digits, n) }

var _ flag.Value = paramsFlag{}
