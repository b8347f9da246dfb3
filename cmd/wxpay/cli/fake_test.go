package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/wire"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// lockedBuffer is a bytes.Buffer safe for the fake's concurrent logging.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fakeSession runs "wxpay fake" in-process, typing on its stdin and
// reading its stdout line by line.
type fakeSession struct {
	t      *testing.T
	in     *io.PipeWriter
	out    *bufio.Reader
	stderr *lockedBuffer
	done   chan int
	cancel context.CancelFunc
}

func startFake(t *testing.T, env map[string]string, args ...string) *fakeSession {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	s := &fakeSession{t: t, in: inW, out: bufio.NewReader(outR), stderr: &lockedBuffer{}, done: make(chan int, 1), cancel: cancel}
	go func() {
		code := Run(ctx, append([]string{"fake", "-addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, inR, outW, s.stderr)
		outW.Close()
		s.done <- code
	}()
	t.Cleanup(func() {
		cancel()
		inW.Close()
		go io.Copy(io.Discard, outR) // let Run finish writing
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			t.Error("fake did not stop")
		}
		noSecrets(t, s.stderr.String())
	})
	return s
}

func (s *fakeSession) line() string {
	s.t.Helper()
	l, err := s.out.ReadString('\n')
	require.NoError(s.t, err, "stderr: %s", s.stderr.String())
	noSecrets(s.t, l)
	return l
}

func (s *fakeSession) send(cmd string) {
	s.t.Helper()
	_, err := fmt.Fprintln(s.in, cmd)
	require.NoError(s.t, err)
}

func (s *fakeSession) reply(cmd string) fakeReply {
	s.t.Helper()
	s.send(cmd)
	var r fakeReply
	require.NoError(s.t, json.Unmarshal([]byte(s.line()), &r))
	return r
}

func TestFakePayFromTerminal(t *testing.T) {
	t.Parallel()
	s := startFake(t, nil, "-json", "-speed", "60")
	var banner fakeBanner
	require.NoError(t, json.Unmarshal([]byte(s.line()), &banner))
	assert.ElementsMatch(t, []string{EnvAppID, EnvMchID, EnvAPIKey, EnvAppSecret}, banner.Generated)
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, banner.URL)
	assert.Regexp(t, `^wx[0-9a-f]{16}$`, banner.Settings[EnvAppID])
	assert.Len(t, banner.Settings[EnvAPIKey], 32)
	assert.Equal(t, "HMAC-SHA256", banner.Settings[EnvSignType], "the example server's default")

	cfg := wxpay.Config{AppID: banner.Settings[EnvAppID], MchID: banner.Settings[EnvMchID], APIKey: banner.Settings[EnvAPIKey],
		SignType: wxpay.SignType(banner.Settings[EnvSignType])}
	m := newMerchantServer(t, cfg)
	cl, err := wxpay.NewClient(cfg, wxpay.WithBaseURL(banner.URL))
	require.NoError(t, err)
	_, err = cl.UnifiedOrder(context.Background(), &wxpay.UnifiedOrderRequest{
		Body: "test", OutTradeNo: "CLI-1", TotalFee: 888, SpbillCreateIP: "127.0.0.1",
		NotifyURL: m.URL + "/notify", TradeType: wxpay.TradeJSAPI, OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
	})
	require.NoError(t, err)

	r := s.reply("pay CLI-1")
	require.True(t, r.OK, r.Error)
	assert.Equal(t, "CLI-1", r.OutTradeNo)
	assert.Equal(t, int64(888), r.TotalFee)
	assert.Equal(t, m.URL+"/notify", r.NotifyURL)

	require.Eventually(t, func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.payments) == 1
	}, 5*time.Second, 10*time.Millisecond)
	m.mu.Lock()
	assert.Equal(t, r.TransactionID, m.payments[0].TransactionID)
	assert.Equal(t, int64(888), m.payments[0].TotalFee)
	m.mu.Unlock()

	r = s.reply("orders")
	require.True(t, r.OK)
	require.Len(t, r.Orders, 1)
	assert.Equal(t, fakeOrder{"CLI-1", "SUCCESS", 888, "JSAPI", m.URL + "/notify"}, r.Orders[0])

	require.Eventually(t, func() bool {
		r = s.reply("deliveries CLI-1")
		return len(r.Deliveries) > 0 && r.Deliveries[0].Acked
	}, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, 200, r.Deliveries[0].Status)

	// Paying over HTTP, as a mini-program's wx.requestPayment would.
	uo, err := cl.UnifiedOrder(context.Background(), &wxpay.UnifiedOrderRequest{
		Body: "test", OutTradeNo: "CLI-2", TotalFee: 5, SpbillCreateIP: "127.0.0.1",
		NotifyURL: m.URL + "/notify", TradeType: wxpay.TradeJSAPI, OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
	})
	require.NoError(t, err)
	jp, err := cl.JSAPIParams(uo.PrepayID)
	require.NoError(t, err)
	js, err := json.Marshal(jp)
	require.NoError(t, err)
	resp, err := http.Post(banner.URL+"/wxpaytest/pay", "application/json", bytes.NewReader(js))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.payments) == 2
	}, 5*time.Second, 10*time.Millisecond)

	// A refund through the library, settled from the terminal: the fake
	// sends the encrypted refund notification to the merchant.
	certFile, keyFile := certPair(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	rcl, err := wxpay.NewClient(cfg, wxpay.WithBaseURL(banner.URL), wxpay.WithClientCertificateFiles(certFile, keyFile))
	require.NoError(t, err)
	_, err = rcl.Refund(context.Background(), &wxpay.RefundRequest{
		OutTradeNo: "CLI-1", OutRefundNo: "CLI-1-R1", TotalFee: 888, RefundFee: 88, NotifyURL: m.URL + "/refund-notify",
	})
	require.NoError(t, err)
	r = s.reply("refunds CLI-1")
	require.True(t, r.OK, r.Error)
	require.Len(t, r.Refunds, 1)
	assert.Equal(t, wxpaytest.RefundProcessing, r.Refunds[0].Status)
	r = s.reply("settle CLI-1-R1")
	require.True(t, r.OK, r.Error)
	assert.Equal(t, wxpaytest.RefundSuccess, r.Refunds[0].Status)
	require.Eventually(t, func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.refunds) == 1
	}, 5*time.Second, 10*time.Millisecond)
	m.mu.Lock()
	assert.Equal(t, "CLI-1-R1", m.refunds[0].OutRefundNo)
	assert.Equal(t, int64(88), m.refunds[0].RefundFee)
	m.mu.Unlock()
	require.Eventually(t, func() bool {
		r = s.reply("refund-deliveries CLI-1-R1")
		return len(r.Deliveries) > 0 && r.Deliveries[0].Acked
	}, 5*time.Second, 20*time.Millisecond)

	for cmd, want := range map[string]string{
		"settle CLI-1-R1": "settled",
		"settle NOPE":     "no such refund",
		"pay CLI-1":       "already paid",
		"pay NOPE":        "no such order",
		"pay":             "takes 1 argument",
		"frobnicate":      "unknown command",
		"orders CLI1":     "takes 0 argument",
	} {
		r = s.reply(cmd)
		assert.False(t, r.OK, cmd)
		assert.Contains(t, r.Error, want, cmd)
	}
	s.send("quit")
	select {
	case code := <-s.done:
		s.done <- code
		assert.Equal(t, ExitOK, code)
	case <-time.After(10 * time.Second):
		t.Fatal("quit did not stop the fake")
	}
}

func TestFakeUsesConfiguredMerchant(t *testing.T) {
	t.Parallel()
	s := startFake(t, docEnv(EnvSignType, "HMAC-SHA256", EnvAppSecret, testAppSecret))
	var banner strings.Builder
	for !strings.Contains(banner.String(), "quit") {
		banner.WriteString(s.line())
	}
	text := banner.String()
	assert.Contains(t, text, "fake WeChat Pay listening on http://127.0.0.1:")
	assert.Contains(t, text, "WXPAY_APPID="+docAppID+"   # from environment")
	assert.Contains(t, text, "WXPAY_API_KEY=*** (32 characters)   # from environment")
	assert.Contains(t, text, "WX_APP_SECRET=*** (32 characters)   # from environment")
	assert.Contains(t, text, "WXPAY_SIGN_TYPE=HMAC-SHA256")
	s.send("help")
	assert.Contains(t, s.line(), "commands:")
	s.send("orders")
	for l := s.line(); !strings.Contains(l, "no orders yet"); l = s.line() {
	}
	// Interrupting (the context) stops it too.
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code
		assert.Equal(t, ExitOK, code)
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not stop the fake")
	}
}

// -write-config hands the fake's settings to the other commands: notify
// signs with the fake's generated key.
func TestFakeWriteConfig(t *testing.T) {
	t.Parallel()
	cfgFile := filepath.Join(t.TempDir(), "fake.env")
	s := startFake(t, nil, "-json", "-write-config", cfgFile)
	var banner fakeBanner
	require.NoError(t, json.Unmarshal([]byte(s.line()), &banner))
	info, err := os.Stat(cfgFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	m := newMerchantServer(t, wxpay.Config{AppID: banner.Settings[EnvAppID], MchID: banner.Settings[EnvMchID], APIKey: banner.Settings[EnvAPIKey],
		SignType: wxpay.SignType(banner.Settings[EnvSignType])})
	code, out, errOut := run(t, nil, "", "notify", "-config", cfgFile, "-out-trade-no", "W-1", "-total-fee", "1", m.URL+"/notify")
	require.Equal(t, ExitOK, code, out+errOut)
	assert.NotContains(t, out+errOut, banner.Settings[EnvAPIKey])

	// An existing file is never overwritten.
	code, _, errOut = run(t, nil, "", "fake", "-addr", "127.0.0.1:0", "-write-config", cfgFile)
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errOut, "file exists")
}

func TestFakeErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	code, _, errOut := run(t, nil, "", "fake", "-addr", ln.Addr().String())
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errOut, "address already in use")

	for _, tt := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"-speed", "-1"}, "-speed must be positive"},
		{nil, []string{"extra"}, "unexpected argument"},
		{map[string]string{EnvAPIKey: "short"}, nil, "has 5 characters"},
		{map[string]string{EnvSignType: "SHA1"}, nil, "must be MD5 or HMAC-SHA256"},
	} {
		code, _, errOut := run(t, tt.env, "", append([]string{"fake", "-addr", "127.0.0.1:0"}, tt.args...)...)
		assert.Equal(t, ExitUsage, code, tt.want)
		assert.Contains(t, errOut, tt.want)
	}
}

func TestPrintFakeReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    fakeReply
		want string
	}{
		{fakeReply{Command: "pay", Error: "wxpaytest: no such order"}, "pay: wxpaytest: no such order\n"},
		{fakeReply{Command: "pay", OK: true, OutTradeNo: "O", TransactionID: "42", TotalFee: 7, NotifyURL: "http://127.0.0.1/n"},
			"paid O: transaction_id 42, total_fee 7; notifying http://127.0.0.1/n\n"},
		{fakeReply{Command: "orders", OK: true}, "no orders yet\n"},
		{fakeReply{Command: "orders", OK: true, Orders: []fakeOrder{{"O", "SUCCESS", 7, "JSAPI", "http://127.0.0.1/n"}}},
			"O  SUCCESS  7 fen  JSAPI  http://127.0.0.1/n\n"},
		{fakeReply{Command: "refunds", OK: true, OutTradeNo: "O"}, "no refunds of O\n"},
		{fakeReply{Command: "settle", OK: true, Refunds: []fakeRefund{{"R", "5000", "SUCCESS", 3, "http://127.0.0.1/r"}}},
			"R  5000  SUCCESS  3 fen  http://127.0.0.1/r\n"},
		{fakeReply{Command: "deliveries", OK: true}, "no notification attempts\n"},
		{fakeReply{Command: "refund-deliveries", OK: true, Deliveries: []fakeDeliveryJS{
			{Attempt: 1, Copy: 1, Error: "connection refused"},
			{Attempt: 2, Copy: 1, Status: 200, Acked: true, Reply: "<xml/>"},
		}}, "attempt 1 (copy 1): no reply: connection refused\nattempt 2 (copy 1): HTTP 200, acknowledged: <xml/>\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		printFakeReply(&b, tt.r)
		assert.Equal(t, tt.want, b.String())
	}
}

// The fake stays on loopback unless told: every spelling of "all
// interfaces" and every non-loopback address is refused before anything
// listens, with the flag that allows it named.
func TestFakeLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "name.invalid:0"} {
		t.Run(addr, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(t, nil, "", "fake", "-addr", addr)
			assert.Equal(t, ExitUsage, code)
			assert.Empty(t, out, "nothing was started, so no settings are printed")
			assert.Contains(t, errOut, "Pass -allow-remote if that is what you mean")
		})
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0"} {
		assert.NoError(t, wire.CheckLoopbackListen(context.Background(), "-addr", addr, net.DefaultResolver.LookupIPAddr), addr)
	}
	resolvesTo := func(ips ...string) func(context.Context, string) ([]net.IPAddr, error) {
		return func(context.Context, string) ([]net.IPAddr, error) {
			var out []net.IPAddr
			for _, ip := range ips {
				out = append(out, net.IPAddr{IP: net.ParseIP(ip)})
			}
			return out, nil
		}
	}
	assert.NoError(t, wire.CheckLoopbackListen(context.Background(), "-addr", "dev.test:80", resolvesTo("127.0.0.1", "::1")))
	err := wire.CheckLoopbackListen(context.Background(), "-addr", "dev.test:80", resolvesTo("127.0.0.1", "192.0.2.7"))
	require.Error(t, err, "one address off loopback is enough to expose it")
	assert.Contains(t, err.Error(), "resolves to 192.0.2.7, which is not loopback")
	assert.Error(t, wire.CheckLoopbackListen(context.Background(), "-addr", "dev.test:80", resolvesTo()))
}

// With -allow-remote the fake listens where it is told.
func TestFakeAllowRemote(t *testing.T) {
	t.Parallel()
	s := startFake(t, nil, "-json", "-addr", "0.0.0.0:0", "-allow-remote")
	var banner fakeBanner
	require.NoError(t, json.Unmarshal([]byte(s.line()), &banner))
	assert.True(t, strings.HasPrefix(banner.URL, "http://0.0.0.0:") || strings.HasPrefix(banner.URL, "http://[::]:"), banner.URL)
}

// A key from the environment is used, and said so on stderr by the name
// of its setting (never its value); a generated one is not warned about.
// With nothing configured the sign type is HMAC-SHA256, the example
// server's default.
func TestFakeSettingsWarnings(t *testing.T) {
	t.Parallel()
	s := startFake(t, docEnv(), "-json")
	var banner fakeBanner
	require.NoError(t, json.Unmarshal([]byte(s.line()), &banner))
	assert.Equal(t, "HMAC-SHA256", banner.Settings[EnvSignType], "the example server's default")
	assert.Eventually(t, func() bool {
		return strings.Contains(s.stderr.String(), "warning: signing with WXPAY_API_KEY from environment")
	}, 5*time.Second, 10*time.Millisecond)

	g := startFake(t, nil, "-json")
	require.NoError(t, json.Unmarshal([]byte(g.line()), &banner))
	assert.Equal(t, "HMAC-SHA256", banner.Settings[EnvSignType])
	assert.Contains(t, banner.Generated, EnvAPIKey)
	assert.NotContains(t, g.stderr.String(), "warning")

	// An appid or mch_id of the wrong shape is refused, not printed: it
	// may be a secret on the wrong line.
	code, out, errOut := run(t, docEnv(EnvAppID, otherKey), "", "fake", "-addr", "127.0.0.1:0")
	assert.Equal(t, ExitUsage, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "WXPAY_APPID (from environment, 32 characters) is not an appid")
	code, _, errOut = run(t, docEnv(EnvMchID, otherKey), "", "fake", "-addr", "127.0.0.1:0")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "is not a merchant number")
}
