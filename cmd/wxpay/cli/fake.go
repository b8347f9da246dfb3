package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/wire"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// fakeBanner is the first thing fake prints: where it listens and the
// settings to give the project under test.
type fakeBanner struct {
	URL      string            `json:"url"`
	Settings map[string]string `json:"settings"`
	// Generated names the settings the fake made up because they were not
	// set; they are throwaway values that sign nothing outside the fake,
	// so they are printed. Settings taken from the environment or -config
	// are secrets and are not.
	Generated []string `json:"generated"`
	// V3 is the API v3 part, with -v3.
	V3 *fakeV3Banner `json:"v3,omitempty"`
}

// fakeReply is the answer to a command typed on fake's stdin, in -json mode.
type fakeReply struct {
	Command       string           `json:"command"`
	OK            bool             `json:"ok"`
	Error         string           `json:"error,omitempty"`
	OutTradeNo    string           `json:"out_trade_no,omitempty"`
	TransactionID string           `json:"transaction_id,omitempty"`
	TotalFee      int64            `json:"total_fee,omitempty"`
	NotifyURL     string           `json:"notify_url,omitempty"`
	Orders        []fakeOrder      `json:"orders,omitempty"`
	Deliveries    []fakeDeliveryJS `json:"deliveries,omitempty"`
	Refunds       []fakeRefund     `json:"refunds,omitempty"`
	Serial        string           `json:"serial,omitempty"` // rotate-v3-cert: the new certificate's
}

type fakeRefund struct {
	OutRefundNo string             `json:"out_refund_no"`
	RefundID    string             `json:"refund_id"`
	Status      wxpay.RefundStatus `json:"status"`
	RefundFee   int64              `json:"refund_fee"`
	NotifyURL   string             `json:"notify_url,omitempty"`
}

type fakeOrder struct {
	OutTradeNo string           `json:"out_trade_no"`
	State      wxpay.TradeState `json:"state"`
	TotalFee   int64            `json:"total_fee"`
	TradeType  wxpay.TradeType  `json:"trade_type"`
	NotifyURL  string           `json:"notify_url"`
}

type fakeDeliveryJS struct {
	Attempt int    `json:"attempt"`
	Copy    int    `json:"copy"`
	Status  int    `json:"status"`
	Acked   bool   `json:"acked"`
	Reply   string `json:"reply,omitempty"`
	Error   string `json:"error,omitempty"`
}

const fakeHelp = `commands:
  pay <out_trade_no>         pay the order as its payer would; the fake then notifies its notify_url
  orders                     list the orders
  deliveries <out_trade_no>  list the notification attempts of an order and the replies
  refunds <out_trade_no>     list the refunds of an order
  settle <out_refund_no> [SUCCESS|REFUNDCLOSE|CHANGE]
                             end a PROCESSING refund now and send its refund notification
  refund-deliveries <out_refund_no>
                             list the refund notification attempts and the replies
  rotate-v3-cert             (-v3) mint a new platform certificate, sign with it from now on,
                             and rewrite wechatpay_cert.pem (the old one stays valid;
                             a restart forgets the new one, whose key is not saved)
  help                       this text
  quit                       stop the fake`

func runFake(ctx context.Context, c *cmdEnv, args []string) int {
	fs, cfgFile, js := c.flagSet("fake", "[-config file] [-json] [-addr host:port] [-speed n] [-v3 -v3-dir DIR [-v3-signer pubkey|cert|both]]", `
Fake runs wxpaytest, the fake WeChat Pay and mini-program login server, on
addr, for projects in any language. It prints its URL (use it as the WeChat
Pay and mini-program API base URL) and the merchant settings to configure:
those set in the environment or -config are used (and not printed); the
missing ones are generated and printed, since they are worthless outside the
fake. The sign type defaults to HMAC-SHA256 (the example server's default).

The fake listens on loopback only unless -allow-remote is given. A key or
AppSecret taken from the environment or -config is used with a warning on
stderr naming the setting: if it is a real merchant's, the fake signs
genuine-looking messages of that merchant.

Orders are paid from the terminal (type "pay <out_trade_no>"; "help" lists
the commands) or over HTTP: POST /wxpaytest/pay with the wx.requestPayment
arguments (JSON, as the server hands them to the mini-program) checks paySign
and pays, as the payer's phone would. Either way the fake then POSTs the
signed payment notification to the order's notify_url and repeats it on
WeChat's schedule (divided by -speed) until the reply is SUCCESS; attempts
are logged on stderr. Refunds placed through the fake stay PROCESSING for a
minute of fake time; "settle <out_refund_no>" ends one at once and sends its
refund notification. Over plain HTTP the refund endpoint asks for no client
certificate.

-write-config saves the settings (generated key included) for the -config
flag of notify, sign and verify. The fake runs until "quit" or interrupt
(end of input alone does not stop it). With -json every line printed on
stdout is one JSON object.

-v3 -v3-dir DIR serves API v3 beside v2, on the same URL and for the same
merchant (one order book). The fake keeps its keys in DIR (created with mode
0700): it mints, or loads when restarted with the same DIR, its WeChat Pay
private key (wechatpay_private_key.pem, mode 0600, for "wxpay notify -v3"
only), from which the public key pub_key.pem, its PUB_KEY_ID_… id and the
first platform certificate (wechatpay_cert.pem) derive, and the merchant API
key apiclient_key.pem (mode 0600) with a certificate apiclient_cert.pem issued
to WXPAY_MCHID, unless WXPAY_KEY_FILE names the merchant's own. A missing
WXPAY_APIV3_KEY is generated. It prints the v3 settings as names and file
paths, and every secret (v2's generated ones too) only as *** and its
length; it writes every setting, the generated secrets included (one from
the environment or -config is left out), to DIR/wxpay.env (mode 0600): give
it as -config to doctor -v3, sign -v3, notify -v3 and verify, and its values
to an apiv3 client. -v3-signer chooses what signs answers and notifications:
the WeChat Pay public key (default), the platform certificate, or both;
"rotate-v3-cert" on the terminal mints a new platform certificate.`)
	addr := fs.String("addr", "127.0.0.1:8090", "listen on `host:port` (port 0 picks a free one); loopback only unless -allow-remote")
	allowRemote := fs.Bool("allow-remote", false, "allow an -addr outside loopback (0.0.0.0, :port, [::], a host name that resolves elsewhere): anyone who reaches it can pay orders and read what the fake signs")
	speed := fs.Float64("speed", 1, "run the fake's clock (retry schedule, code and order lives) this many times faster")
	writeConfig := fs.String("write-config", "", "also write the settings, the generated ones included, to `file` (mode 0600) for -config of other commands")
	v3 := fs.Bool("v3", false, "serve API v3 beside v2 (needs -v3-dir)")
	v3Dir := fs.String("v3-dir", "", "keep the v3 keys in `dir` and write the client's files and wxpay.env there (implies -v3)")
	v3Signer := fs.String("v3-signer", "pubkey", "what signs v3 answers and notifications: pubkey, cert or both")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return c.usageErr("fake", "unexpected argument %q", truncate(fs.Arg(0), 40))
	}
	if *speed <= 0 {
		return c.usageErr("fake", "-speed must be positive")
	}
	if *v3 && *v3Dir == "" {
		return c.usageErr("fake", "-v3 needs -v3-dir DIR: the fake keeps its keys there and writes the files a client needs")
	}
	signerMode, okSigner := v3FakeSignerNames[*v3Signer]
	if !okSigner {
		return c.usageErr("fake", "-v3-signer must be pubkey, cert or both")
	}
	signerSet := false
	fs.Visit(func(f *flag.Flag) { signerSet = signerSet || f.Name == "v3-signer" })
	if signerSet && *v3Dir == "" {
		return c.usageErr("fake", "-v3-signer needs -v3 -v3-dir DIR")
	}
	if !*allowRemote {
		if err := wire.CheckLoopbackListen(ctx, "-addr", *addr, net.DefaultResolver.LookupIPAddr); err != nil {
			return c.usageErr("fake", "%v. Pass -allow-remote if that is what you mean", err)
		}
	}
	s, err := c.loadSettings(*cfgFile)
	if err != nil {
		return c.usageErr("fake", "%v", err)
	}
	var v3d *v3FakeDir
	savedGen := map[string]bool{}
	if *v3Dir != "" {
		if v3d, err = openV3FakeDir(*v3Dir); err != nil {
			return c.usageErr("fake", "%v", err)
		}
		for _, name := range v3d.applySaved(s) {
			savedGen[name] = true
		}
	}
	// The fake prints the settings it runs with, so a value of the wrong
	// shape (perhaps a secret on the wrong line) is refused, not printed.
	if s.AppID != "" && !appIDPattern.MatchString(s.AppID) {
		return c.usageErr("fake", "%s (from %s, %d characters) is not an appid: wx followed by 16 hex digits; %s", EnvAppID, orDefault(s.from[EnvAppID], "the -v3-dir's wxpay.env"), len(s.AppID), notShown)
	}
	if s.MchID != "" && (!mchIDPattern.MatchString(s.MchID) || len(s.MchID) > 32) {
		return c.usageErr("fake", "%s (from %s, %d characters) is not a merchant number: digits only; %s", EnvMchID, orDefault(s.from[EnvMchID], "the -v3-dir's wxpay.env"), len(s.MchID), notShown)
	}
	if s.SignType == "" {
		// The example server's default, so that the printed settings and
		// the server agree without either being configured.
		s.SignType = wxpay.SignHMACSHA256
	}
	banner := fakeBanner{Settings: map[string]string{}, Generated: []string{}}
	gen := func(name string, v *string, make func() string) {
		if *v == "" || savedGen[name] {
			if *v == "" {
				*v = make()
			}
			savedGen[name] = true
			banner.Generated = append(banner.Generated, name)
			banner.Settings[name] = *v
		} else if name == EnvAPIKey || name == EnvAppSecret {
			banner.Settings[name] = redact(*v)
		} else {
			banner.Settings[name] = *v
		}
	}
	gen(EnvAppID, &s.AppID, func() string { return "wx" + wire.MustRandString("0123456789abcdef", 16) })
	gen(EnvMchID, &s.MchID, func() string { return "1" + randDigits(9) })
	gen(EnvAPIKey, &s.APIKey, func() string { return randAlnum(32) })
	gen(EnvAppSecret, &s.AppSecret, func() string { return wire.MustRandString("0123456789abcdef", 32) })
	banner.Settings[EnvSignType] = string(s.signType())
	if _, err := s.signer(); err != nil {
		return c.usageErr("fake", "%v", err)
	}
	fcfg := wxpaytest.Config{
		AppID: s.AppID, MchID: s.MchID, APIKey: keyOf(s), SignType: s.SignType, AppSecret: s.AppSecret,
		Speed:  *speed,
		Logger: slog.New(slog.NewTextHandler(c.stderr, nil)),
	}
	if v3d != nil {
		if s.V3.APIv3Key == "" {
			s.V3.APIv3Key = randAlnum(32)
			savedGen[EnvAPIv3Key] = true
		}
		if k := apiV3KeyOf(s); len(k) != 32 {
			return c.usageErr("fake", "%s (from %s) has %d bytes; the APIv3 key has exactly 32 (unset it to have the fake generate one)", EnvAPIv3Key, orDefault(s.from[EnvAPIv3Key], "the -v3-dir's wxpay.env"), len(k))
		}
		if err := v3d.loadWeChatPayKey(); err != nil {
			return c.usageErr("fake", "%v", err)
		}
		if err := v3d.loadMerchant(s); err != nil {
			return c.usageErr("fake", "%v", err)
		}
		fcfg.APIv3Key, fcfg.MerchantSerialNo, fcfg.WeChatPayKey, fcfg.V3Signer = apiV3KeyOf(s), v3d.mchSerial, v3d.wechatPayKey, signerMode
		fcfg.MerchantPublicKey = v3d.mchCert
		if fcfg.MerchantPublicKey == nil {
			fcfg.MerchantPublicKey = v3d.mchPubPEM
		}
	}
	fake, err := wxpaytest.New(fcfg)
	if err != nil {
		return c.usageErr("fake", "%v", err)
	}
	defer fake.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(c.stderr, "wxpay fake: %v\n", err)
		return ExitFail
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !*allowRemote && (!ok || !wire.LoopbackIP(tcp.IP)) {
		// The name resolved to loopback a moment ago; what was bound
		// decides.
		ln.Close()
		return c.usageErr("fake", "refusing to listen on %s, which is not loopback. Pass -allow-remote if that is what you mean", ln.Addr())
	}
	for _, name := range []string{EnvAPIKey, EnvAppSecret, EnvAPIv3Key} {
		if src := s.from[name]; src != "" && (name != EnvAPIv3Key || v3d != nil) {
			fmt.Fprintf(c.stderr, "wxpay fake: warning: signing with %s from %s. If it is a real merchant's, the fake's answers and notifications are genuine-looking messages of that merchant; unset it to have the fake generate a throwaway one.\n", name, src)
		}
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		fake.Close() // stop notifications before the server goes
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	banner.URL = "http://" + ln.Addr().String()
	if v3d != nil {
		if banner.V3, err = v3d.startV3(fake, s, banner.URL, *v3Signer, savedGen); err != nil {
			fmt.Fprintf(c.stderr, "wxpay fake: %v\n", err)
			return ExitFail
		}
		// With -v3 no secret is printed, generated or not: they are in
		// wxpay.env, mode 0600.
		banner.Settings[EnvAPIKey], banner.Settings[EnvAppSecret] = redact(s.APIKey), redact(s.AppSecret)
	}
	if *writeConfig != "" {
		if err := writeSettings(*writeConfig, s); err != nil {
			fmt.Fprintf(c.stderr, "wxpay fake: %v\n", err)
			return ExitFail
		}
	}

	enc := json.NewEncoder(c.stdout)
	enc.SetEscapeHTML(false)
	if *js {
		_ = enc.Encode(banner)
	} else {
		printBanner(c.stdout, banner, s)
		if banner.V3 != nil {
			printV3Banner(c.stdout, banner.V3)
		}
	}

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(c.stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ExitOK
		case err := <-served:
			fmt.Fprintf(c.stderr, "wxpay fake: %v\n", err)
			return ExitFail
		case line, ok := <-lines:
			if !ok {
				lines = nil // end of input: keep serving until interrupted
				continue
			}
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			if f[0] == "quit" || f[0] == "exit" {
				return ExitOK
			}
			r := fakeCommand(fake, f)
			if r.Command == "rotate-v3-cert" {
				r = rotateV3(fake, v3d)
			}
			if *js {
				_ = enc.Encode(r)
			} else {
				printFakeReply(c.stdout, r)
			}
		}
	}
}

// writeSettings writes s as a -config file. It holds the API key, so it is
// created with mode 0600 and never overwrites an existing file.
func writeSettings(name string, s *settings) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "# merchant settings of a wxpay fake\n%s=%s\n%s=%s\n%s=%s\n%s=%s\n%s=%s\n",
		EnvAppID, s.AppID, EnvMchID, s.MchID, EnvAPIKey, keyOf(s), EnvSignType, s.signType(), EnvAppSecret, s.AppSecret)
	return f.Close()
}

func printBanner(w io.Writer, b fakeBanner, s *settings) {
	fmt.Fprintf(w, "fake WeChat Pay listening on %s\n", b.URL)
	fmt.Fprintf(w, "use it as the base URL of WeChat Pay (instead of %s) and of the mini-program API, with:\n", wxpay.BaseURL)
	gen := map[string]bool{}
	for _, g := range b.Generated {
		gen[g] = true
	}
	for _, name := range []string{EnvAppID, EnvMchID, EnvAPIKey, EnvSignType, EnvAppSecret} {
		note := ""
		switch {
		case gen[name] && b.V3 != nil && (name == EnvAPIKey || name == EnvAppSecret):
			note = "   # generated for this fake; not shown, in " + b.V3.ConfigFile
		case gen[name]:
			note = "   # generated for this fake"
		case s.from[name] != "":
			note = "   # from " + s.from[name]
		case name == EnvSignType:
			note = "   # wxpay fake's default, as the example server's"
		}
		fmt.Fprintf(w, "  %s=%s%s\n", name, b.Settings[name], note)
	}
	fmt.Fprintln(w, `pay an order: type "pay <out_trade_no>" here, or POST /wxpaytest/pay with the wx.requestPayment arguments`)
	fmt.Fprintln(w, fakeHelp)
}

func fakeCommand(f *wxpaytest.Fake, args []string) fakeReply {
	r := fakeReply{Command: args[0]}
	need := func(n int) bool {
		if len(args) != n+1 {
			r.Error = fmt.Sprintf("%s takes %d argument(s); type help", args[0], n)
			return false
		}
		return true
	}
	switch args[0] {
	case "pay":
		if !need(1) {
			return r
		}
		o, err := f.Pay(wxpaytest.PayOptions{OutTradeNo: args[1]})
		if err != nil {
			r.Error = err.Error()
			if errors.Is(err, wxpaytest.ErrNoOrder) {
				r.Error += " (place it with unifiedorder first; type orders to list them)"
			}
			return r
		}
		r.OK, r.OutTradeNo, r.TransactionID, r.TotalFee, r.NotifyURL = true, o.OutTradeNo, o.TransactionID, o.TotalFee, o.NotifyURL
	case "orders":
		if !need(0) {
			return r
		}
		for _, o := range f.Orders() {
			r.Orders = append(r.Orders, fakeOrder{o.OutTradeNo, o.State, o.TotalFee, o.TradeType, o.NotifyURL})
		}
		r.OK = true
	case "deliveries":
		if !need(1) {
			return r
		}
		r.Deliveries = deliveriesJS(f.Deliveries(args[1]))
		r.OK, r.OutTradeNo = true, args[1]
	case "refunds":
		if !need(1) {
			return r
		}
		for _, rf := range f.Refunds(args[1]) {
			r.Refunds = append(r.Refunds, fakeRefund{rf.OutRefundNo, rf.RefundID, rf.Status, rf.RefundFee, rf.NotifyURL})
		}
		r.OK, r.OutTradeNo = true, args[1]
	case "settle":
		if len(args) == 2 {
			args = append(args, string(wxpay.RefundSuccess))
		}
		if !need(2) {
			return r
		}
		if err := f.SettleRefund(args[1], wxpay.RefundStatus(args[2])); err != nil {
			r.Error = err.Error()
			return r
		}
		rf, _ := f.Refund(args[1])
		r.OK, r.OutTradeNo = true, rf.OutTradeNo
		r.Refunds = []fakeRefund{{rf.OutRefundNo, rf.RefundID, rf.Status, rf.RefundFee, rf.NotifyURL}}
	case "refund-deliveries":
		if !need(1) {
			return r
		}
		r.Deliveries = deliveriesJS(f.RefundDeliveries(args[1]))
		r.OK = true
	case "help", "rotate-v3-cert":
		r.OK = true // rotate-v3-cert is run by rotateV3, which needs the directory
	default:
		r.Error = fmt.Sprintf("unknown command %q; type help", truncate(args[0], 40))
	}
	return r
}

func deliveriesJS(ds []wxpaytest.Delivery) []fakeDeliveryJS {
	var out []fakeDeliveryJS
	for _, d := range ds {
		e := ""
		if d.Err != nil {
			e = d.Err.Error()
		}
		out = append(out, fakeDeliveryJS{d.Attempt, d.Copy, d.StatusCode, d.Acked, truncate(string(d.Reply), 1024), e})
	}
	return out
}

func printFakeReply(w io.Writer, r fakeReply) {
	if !r.OK {
		fmt.Fprintf(w, "%s: %s\n", r.Command, r.Error)
		return
	}
	switch r.Command {
	case "pay":
		fmt.Fprintf(w, "paid %s: transaction_id %s, total_fee %d; notifying %s\n", r.OutTradeNo, r.TransactionID, r.TotalFee, r.NotifyURL)
	case "orders":
		if len(r.Orders) == 0 {
			fmt.Fprintln(w, "no orders yet")
		}
		for _, o := range r.Orders {
			fmt.Fprintf(w, "%s  %s  %d fen  %s  %s\n", o.OutTradeNo, o.State, o.TotalFee, o.TradeType, o.NotifyURL)
		}
	case "refunds", "settle":
		if len(r.Refunds) == 0 {
			fmt.Fprintf(w, "no refunds of %s\n", r.OutTradeNo)
		}
		for _, rf := range r.Refunds {
			fmt.Fprintf(w, "%s  %s  %s  %d fen  %s\n", rf.OutRefundNo, rf.RefundID, rf.Status, rf.RefundFee, rf.NotifyURL)
		}
	case "deliveries", "refund-deliveries":
		if len(r.Deliveries) == 0 {
			fmt.Fprintln(w, "no notification attempts")
		}
		for _, d := range r.Deliveries {
			state := "not acknowledged"
			if d.Acked {
				state = "acknowledged"
			}
			if d.Error != "" {
				fmt.Fprintf(w, "attempt %d (copy %d): no reply: %s\n", d.Attempt, d.Copy, d.Error)
				continue
			}
			fmt.Fprintf(w, "attempt %d (copy %d): HTTP %d, %s: %s\n", d.Attempt, d.Copy, d.Status, state, d.Reply)
		}
	case "help":
		fmt.Fprintln(w, fakeHelp)
	case "rotate-v3-cert":
		fmt.Fprintf(w, "signing with platform certificate %s from now on; %s rewritten\n", r.Serial, v3FilePlatformCert)
	}
}
