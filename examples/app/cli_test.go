package app_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxpay-go/wxpay/cmd/wxpay/cli"
	"github.com/wxpay-go/wxpay/examples/api"
	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/examples/client"
	"github.com/wxpay-go/wxpay/examples/shop"
)

// fakeCLI is `wxpay fake -json` running in-process: its stdin takes the
// terminal commands and each stdout line is one JSON object.
type fakeCLI struct {
	URL   string
	in    *io.PipeWriter
	lines chan string
	done  chan int
}

func startFakeCLI(t *testing.T, env map[string]string) *fakeCLI {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var stderr syncBuf
	f := &fakeCLI{in: inW, lines: make(chan string, 16), done: make(chan int, 1)}
	go func() {
		code := cli.Run(ctx, []string{"fake", "-json", "-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, inR, outW, &stderr)
		outW.Close()
		f.done <- code
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
		close(f.lines)
	}()
	t.Cleanup(func() {
		cancel()
		inW.Close()
		select {
		case code := <-f.done:
			if code != cli.ExitOK {
				t.Errorf("wxpay fake exited %d", code)
			}
		case <-time.After(10 * time.Second):
			t.Error("wxpay fake did not stop")
		}
		if strings.Contains(stderr.String(), env["WXPAY_API_KEY"]) {
			t.Error("wxpay fake printed the API key on stderr")
		}
		if t.Failed() {
			t.Logf("wxpay fake stderr:\n%s", stderr.String())
		}
	})
	var banner struct {
		URL       string            `json:"url"`
		Settings  map[string]string `json:"settings"`
		Generated []string          `json:"generated"`
	}
	line := f.next(t)
	if err := json.Unmarshal([]byte(line), &banner); err != nil || banner.URL == "" {
		t.Fatalf("wxpay fake's first line %q: %v", line, err)
	}
	if strings.Contains(line, env["WXPAY_API_KEY"]) || strings.Contains(line, env["WX_APP_SECRET"]) || len(banner.Generated) != 0 {
		t.Fatalf("wxpay fake's banner shows a secret from the environment, or made one up: %s", line)
	}
	if banner.Settings["WXPAY_MCHID"] != env["WXPAY_MCHID"] || banner.Settings["WXPAY_SIGN_TYPE"] != env["WXPAY_SIGN_TYPE"] {
		t.Fatalf("wxpay fake's settings %v", banner.Settings)
	}
	f.URL = banner.URL
	return f
}

func (f *fakeCLI) next(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-f.lines:
		if !ok {
			t.Fatal("wxpay fake ended its output")
		}
		return l
	case <-time.After(15 * time.Second):
		t.Fatal("wxpay fake printed nothing for 15 seconds")
	}
	return ""
}

// command types a command on the fake's terminal and returns its reply.
func (f *fakeCLI) command(t *testing.T, cmd string, reply any) {
	t.Helper()
	if _, err := io.WriteString(f.in, cmd+"\n"); err != nil {
		t.Fatal(err)
	}
	line := f.next(t)
	if err := json.Unmarshal([]byte(line), reply); err != nil {
		t.Fatalf("%s: %q: %v", cmd, line, err)
	}
}

// writeCertificate writes a self-signed certificate and its key, such as
// the merchant platform's apiclient_cert.pem and apiclient_key.pem.
func writeCertificate(t *testing.T, dir, mchID string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: mchID},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "apiclient_cert.pem"), filepath.Join(dir, "apiclient_key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestCLIRoundTrip runs the wxpay command in-process: `wxpay fake` plays
// WeChat for the example server in real mode (WXPAY_BASE_URL), an order is
// paid from the fake's terminal and refunded, and `wxpay notify` then
// sends the server's notify routes a repeated notification (acknowledged,
// no second effect), one with a wrong amount (changes no order) and a
// refund notification WeChat cannot confirm (refused).
func TestCLIRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	settings := map[string]string{
		"WXPAY_APPID":     "wx1234567890abcdef",
		"WXPAY_MCHID":     "1900000109",
		"WXPAY_API_KEY":   "k" + randomString(31),
		"WXPAY_SIGN_TYPE": "HMAC-SHA256", // the example server signs with it
		"WX_APP_SECRET":   randomString(32),
	}
	sec := &secrets{}
	sec.add("the API key", settings["WXPAY_API_KEY"])
	sec.add("the AppSecret", settings["WX_APP_SECRET"])
	cliErrorsKeepSecrets(t, dir, settings, sec)
	fake := startFakeCLI(t, settings)

	// The server's address is chosen first: its notify_url names it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	certFile, keyFile := writeCertificate(t, dir, settings["WXPAY_MCHID"])
	serverEnv := map[string]string{
		"PUBLIC_URL":      "http://" + addr,
		"WXPAY_BASE_URL":  fake.URL,
		"JWT_SECRET":      testJWTSecret,
		"ADMIN_TOKEN":     "admin-" + randomString(40),
		"WXPAY_CERT_FILE": certFile,
		"WXPAY_KEY_FILE":  keyFile,
	}
	for k, v := range settings {
		serverEnv[k] = v
	}
	sec.add("ADMIN_TOKEN", serverEnv["ADMIN_TOKEN"])
	sec.add("JWT_SECRET", testJWTSecret)
	dbPath := filepath.Join(dir, "shop.db")
	cfg, err := app.ParseConfig([]string{"-addr", addr, "-db", dbPath}, env(serverEnv))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuf
	s, err := app.Start(ctx, cfg, &logs)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		for _, line := range strings.Split(logs.String(), "\n") {
			if found := sec.find(line, ""); len(found) > 0 {
				t.Errorf("log line contains %v: %.200s", found, line)
			}
		}
		if t.Failed() || os.Getenv("SHOW_SERVER_LOG") != "" {
			t.Logf("server log:\n%s", logs.String())
		}
	}()
	if s.Fake != nil || !strings.Contains(logs.String(), "SHARED FAKE") {
		t.Fatal("not in real mode against the fake, or no warning about WXPAY_BASE_URL")
	}
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	state := func() string {
		var b strings.Builder
		for _, q := range []string{
			`SELECT COALESCE(group_concat(id || ':' || status || ':' || COALESCE(transaction_id, ''), ','), '') FROM orders`,
			`SELECT COALESCE(group_concat(transaction_id || ':' || source, ','), '') FROM payments`,
			`SELECT COALESCE(group_concat(out_refund_no || ':' || status, ','), '') FROM refunds`,
		} {
			var v string
			if err := db.QueryRow(q).Scan(&v); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, v)
		}
		return b.String()
	}

	// A buyer logs in (the fake hands out the wx.login code), orders and
	// gets the payment from the server, which asked the fake's unifiedorder.
	var login struct{ Code string }
	if err := (&client.Client{Base: fake.URL}).Do(ctx, "POST", "/wxpaytest/login", nil, map[string]string{}, &login); err != nil {
		t.Fatal(err)
	}
	buyer := &client.Client{Base: s.URL}
	if _, err := buyer.Login(ctx, login.Code); err != nil {
		t.Fatal(err)
	}
	sec.add("the buyer's JWT", buyer.Token)
	o, err := buyer.CreateOrder(ctx, []shop.Item{{GoodsID: 101, Count: 2}}, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := buyer.Pay(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}

	// Paid from the fake's terminal: the fake notifies the server.
	var paid struct {
		OK            bool   `json:"ok"`
		TransactionID string `json:"transaction_id"`
		TotalFee      int64  `json:"total_fee"`
		NotifyURL     string `json:"notify_url"`
		Error         string `json:"error"`
	}
	fake.command(t, "pay "+p.OutTradeNo, &paid)
	if !paid.OK || paid.TotalFee != 3600 || paid.NotifyURL != s.URL+"/orders/pay/notify" {
		t.Fatalf("pay: %+v", paid)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(state(), paid.TransactionID+":notify") {
		if time.Now().After(deadline) {
			t.Fatalf("the fake's notification did not pay the order:\n%s", state())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got, err := buyer.Order(ctx, o.ID); err != nil || got.Status != shop.StatusPaid {
		t.Fatalf("order after payment: %+v, %v", got, err)
	}

	notify := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := cli.Run(ctx, append([]string{"notify", "-json"}, args...), func(k string) string { return settings[k] }, nil, &out, &errb)
		if strings.Contains(out.String()+errb.String(), settings["WXPAY_API_KEY"]) {
			t.Errorf("wxpay notify printed the API key")
		}
		return code, out.String()
	}
	before := state()
	// The same notification again, as WeChat repeats it: acknowledged,
	// no second effect.
	code, out := notify("-out-trade-no", p.OutTradeNo, "-total-fee", "3600", "-transaction-id", paid.TransactionID, s.URL+"/orders/pay/notify")
	var res struct {
		OK       bool `json:"ok"`
		Attempts []struct {
			Acked bool `json:"acked"`
		} `json:"attempts"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != cli.ExitOK || !res.OK || len(res.Attempts) != 1 || !res.Attempts[0].Acked {
		t.Fatalf("repeated notification: exit %d, %s", code, out)
	}
	if after := state(); after != before {
		t.Errorf("a repeated notification changed the state:\n%s\n%s", before, after)
	}
	// A genuine-looking notification with the wrong amount: acknowledged
	// (WeChat sending it again cannot help), recorded for a person, and no
	// order changes.
	code, out = notify("-out-trade-no", p.OutTradeNo, "-total-fee", "1", s.URL+"/orders/pay/notify")
	if code != cli.ExitOK {
		t.Fatalf("wrong-amount notification: exit %d, %s", code, out)
	}
	if after := state(); after != before {
		t.Errorf("a wrong amount changed the state:\n%s\n%s", before, after)
	}
	var anomalies int
	db.QueryRow(`SELECT COUNT(*) FROM anomalies WHERE kind = 'amount_mismatch'`).Scan(&anomalies)
	if anomalies != 1 {
		t.Errorf("%d amount_mismatch anomalies, want 1", anomalies)
	}
	// A notification signed with another key is refused (exit 1).
	wrongKey := map[string]string{}
	for k, v := range settings {
		wrongKey[k] = v
	}
	wrongKey["WXPAY_API_KEY"] = "w" + randomString(31)
	var out2 bytes.Buffer
	if code := cli.Run(ctx, []string{"notify", "-json", "-out-trade-no", p.OutTradeNo, "-total-fee", "3600", s.URL + "/orders/pay/notify"},
		func(k string) string { return wrongKey[k] }, nil, &out2, io.Discard); code != cli.ExitFail {
		t.Errorf("notification under another key: exit %d, %s", code, out2.String())
	}

	// A refund over the real-mode path: client certificate files, the
	// fake's refund endpoint, and the refund notification the fake sends
	// once "settle" ends the refund, confirmed with refundquery.
	admin := &client.Client{Base: s.URL, Token: serverEnv["ADMIN_TOKEN"]}
	var r shop.Refund
	if err := admin.Do(ctx, "POST", fmt.Sprintf("/orders/%d/refund", o.ID), http.Header{"Idempotency-Key": {"rt-1"}},
		api.RefundRequest{AmountFen: 1000}, &r); err != nil {
		t.Fatal(err)
	}
	var refunds struct {
		OK      bool `json:"ok"`
		Refunds []struct {
			OutRefundNo string `json:"out_refund_no"`
			RefundFee   int64  `json:"refund_fee"`
			Status      string `json:"status"`
		} `json:"refunds"`
	}
	fake.command(t, "refunds "+p.OutTradeNo, &refunds)
	if !refunds.OK || len(refunds.Refunds) != 1 || refunds.Refunds[0].OutRefundNo != r.OutRefundNo || refunds.Refunds[0].RefundFee != 1000 {
		t.Fatalf("the fake's refunds: %+v; the server's %+v", refunds, r)
	}
	fake.command(t, "settle "+r.OutRefundNo, &refunds)
	if !refunds.OK {
		t.Fatalf("settle: %+v", refunds)
	}
	deadline = time.Now().Add(15 * time.Second)
	for !strings.Contains(state(), r.OutRefundNo+":success") {
		if time.Now().After(deadline) {
			t.Fatalf("the refund notification did not settle the refund:\n%s", state())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A refund notification WeChat's refundquery does not back (made up
	// by notify: its refund_id is not WeChat's, and it says the settled
	// refund was closed) is refused and changes nothing.
	before = state()
	code, out = notify("-refund", "-out-trade-no", p.OutTradeNo, "-transaction-id", paid.TransactionID, "-total-fee", "3600", "-out-refund-no", r.OutRefundNo,
		"-refund-fee", "1000", "-refund-status", "REFUNDCLOSE", s.URL+"/orders/refund/notify")
	if code != cli.ExitFail {
		t.Errorf("unconfirmable refund notification: exit %d, %s", code, out)
	}
	if after := state(); after != before {
		t.Errorf("an unconfirmed refund notification changed the state:\n%s\n%s", before, after)
	}
	for _, text := range []string{out} {
		if found := sec.find(text, ""); len(found) > 0 {
			t.Errorf("notify output contains %v", found)
		}
	}
	var ae *client.Error
	if err := buyer.Do(ctx, "POST", fmt.Sprintf("/orders/%d/refund", o.ID), http.Header{"Idempotency-Key": {"rt-2"}},
		api.RefundRequest{AmountFen: 1}, nil); !errors.As(err, &ae) || ae.Status != 401 {
		t.Errorf("refund with the buyer's JWT: %v, want 401", err)
	}
}

// cliErrorsKeepSecrets runs the CLI's commands that read -config on
// malformed files holding the test secrets (a swapped line, a secret as a
// name, a line without "=", a secret in a setting printed by value) and
// fails if stdout or stderr shows one: the secret scan covers the CLI's
// error output, not only its successes.
func cliErrorsKeepSecrets(t *testing.T, dir string, settings map[string]string, sec *secrets) {
	t.Helper()
	key, appSecret := settings["WXPAY_API_KEY"], settings["WX_APP_SECRET"]
	files := map[string]string{
		"swapped":            "WXPAY_MCHID=1900000109\n" + key + "=WXPAY_API_KEY\n",
		"secret as a name":   appSecret + "=1\n",
		"no equals sign":     key + "\n",
		"quoted and swapped": `"` + appSecret + `"=WX_APP_SECRET` + "\n",
		"key in sign type":   "WXPAY_SIGN_TYPE=" + key + "\nWXPAY_API_KEY=" + key + "\n",
		"key in appid":       "WXPAY_APPID=" + key + "\nWXPAY_MCHID=1900000109\n",
		"secret in mch_id":   "WXPAY_MCHID=" + appSecret + "\n",
		"key in cert path":   "WXPAY_CERT_FILE=" + key + "\nWXPAY_KEY_FILE=" + appSecret + "\nWXPAY_MCHID=1900000109\n",
	}
	commands := [][]string{
		{"doctor", "-offline"},
		{"fake", "-addr", "127.0.0.1:0"},
		{"sign"},
		{"notify", "-out-trade-no", "O-1", "-total-fee", "1", "http://127.0.0.1:1/notify"},
	}
	for name, content := range files {
		cfg := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".env")
		if err := os.WriteFile(cfg, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range commands {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var out, errb bytes.Buffer
			code := cli.Run(ctx, append([]string{args[0], "-config", cfg}, args[1:]...), func(string) string { return "" },
				strings.NewReader("quit\n"), &out, &errb)
			cancel()
			if found := sec.find(out.String()+errb.String(), ""); len(found) > 0 {
				t.Errorf("wxpay %s -config (%s) printed %v (exit %d)", args[0], name, found, code)
			}
			// Only doctor reads the certificate paths; the others may run.
			if code == cli.ExitOK && args[0] != "doctor" && name != "key in cert path" {
				t.Errorf("wxpay %s accepted the malformed config (%s)", args[0], name)
			}
		}
	}
}

func randomString(n int) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
