package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/apiv3"
)

// startFakeV3 starts "wxpay fake -json -v3 -v3-dir dir" in-process and
// returns the session and its banner.
func startFakeV3(t *testing.T, env map[string]string, dir string, args ...string) (*fakeSession, fakeBanner) {
	t.Helper()
	s := startFake(t, env, append([]string{"-json", "-v3", "-v3-dir", dir}, args...)...)
	line := s.line()
	var b fakeBanner
	require.NoError(t, json.Unmarshal([]byte(line), &b), line)
	require.NotNil(t, b.V3, line)
	return s, b
}

// fakeSettings reads the wxpay.env a fake -v3 wrote.
func fakeSettings(t *testing.T, dir string) map[string]string {
	t.Helper()
	vals, err := parseConfig(mustRead(t, filepath.Join(dir, v3FileSettings)))
	require.NoError(t, err)
	return vals
}

// apiv3ClientOf builds an apiv3 client from a fake's settings, as an
// application would from its configuration.
func apiv3ClientOf(t *testing.T, vals map[string]string, notifyURL string) *apiv3.Client {
	t.Helper()
	cl, err := apiv3.NewClient(apiv3.Config{
		MchID: vals[EnvMchID], AppID: vals[EnvAppID], NotifyURL: notifyURL,
		MerchantSerialNo: vals[EnvV3Serial], MerchantCertificate: mustRead(t, vals[EnvCertFile]), PrivateKey: mustRead(t, vals[EnvKeyFile]),
		APIv3Key: vals[EnvAPIv3Key], PublicKeyID: vals[EnvV3PubKeyID], PublicKey: mustRead(t, vals[EnvV3PubKeyFile]),
	}, apiv3.WithBaseURL(vals[EnvBaseURL]), apiv3.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	return cl
}

// paymentsHandler is a merchant's notify handler recording payments.
type paymentsHandler struct {
	mu  sync.Mutex
	got []*apiv3.PaymentNotification
	ch  chan string
}

func newPaymentsServer(t *testing.T, cl *apiv3.Client) (*paymentsHandler, *httptest.Server) {
	p := &paymentsHandler{ch: make(chan string, 16)}
	srv := httptest.NewServer(cl.NotifyHandler(func(_ context.Context, n *apiv3.PaymentNotification) error {
		p.mu.Lock()
		p.got = append(p.got, n)
		p.mu.Unlock()
		p.ch <- n.Transaction.OutTradeNo
		return nil
	}))
	t.Cleanup(srv.Close)
	return p, srv
}

func (p *paymentsHandler) wait(t *testing.T, outTradeNo string) {
	t.Helper()
	select {
	case got := <-p.ch:
		require.Equal(t, outTradeNo, got)
	case <-time.After(10 * time.Second):
		t.Fatalf("no payment notification of %s", outTradeNo)
	}
}

// The CLI's v3 round trip: the standalone fake with -v3; an apiv3 client
// configured from what it wrote places and queries orders; the fake pays
// one and its notification reaches the client's NotifyHandler; notify -v3
// with the same settings reaches it too, a tampered one is refused and
// reported not acknowledged; doctor -v3 against the running fake passes
// every check, the signed certificate download included. No secret is
// printed, and the private keys are files of mode 0600.
func TestFakeV3RoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fake")
	sess, banner := startFakeV3(t, nil, dir)
	vals := fakeSettings(t, dir)
	for _, name := range []string{EnvMchID, EnvAppID, EnvAPIv3Key, EnvKeyFile, EnvCertFile, EnvV3Serial, EnvV3PubKeyID, EnvV3PubKeyFile, EnvV3PlatformCertFile, EnvV3WeChatPayKeyFile, EnvBaseURL} {
		require.NotEmpty(t, vals[name], name)
	}
	assert.Equal(t, banner.URL, vals[EnvBaseURL])
	assert.Len(t, vals[EnvAPIv3Key], 32)
	assert.Regexp(t, `^PUB_KEY_ID_[0-9]{28}$`, vals[EnvV3PubKeyID])
	for name, v := range banner.V3.Settings {
		if name != EnvAPIv3Key {
			assert.Equal(t, vals[name], v, name)
		}
	}
	assert.Equal(t, "*** (32 characters)", banner.V3.Settings[EnvAPIv3Key])
	for _, f := range []string{v3FileWeChatPayKey, v3FileMchKey, v3FileSettings} {
		fi, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
	}
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	// Nothing the fake printed holds the APIv3 key or a line of a private key.
	secretLines := []string{vals[EnvAPIv3Key]}
	for _, f := range []string{v3FileWeChatPayKey, v3FileMchKey} {
		lines := strings.Split(string(mustRead(t, filepath.Join(dir, f))), "\n")
		secretLines = append(secretLines, lines[1], lines[len(lines)/2])
	}
	bannerJSON, _ := json.Marshal(banner)
	for _, sl := range secretLines {
		assert.NotContains(t, string(bannerJSON), sl)
	}

	// An apiv3 client from those settings: prepay, query, pay, notified.
	cl0 := apiv3ClientOf(t, vals, "https://shop.example.com/notify")
	pays, shop := newPaymentsServer(t, cl0)
	cl := apiv3ClientOf(t, vals, shop.URL+"/notify")
	ctx := context.Background()
	pr, err := cl.PrepayJSAPI(ctx, apiv3.PrepayRequest{Description: "cup", OutTradeNo: "RT-000001", Amount: apiv3.Amount{Total: 1500}, Payer: &apiv3.Payer{OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}})
	require.NoError(t, err)
	assert.NotEmpty(t, pr.PrepayID)
	tx, err := cl.QueryByOutTradeNo(ctx, "RT-000001")
	require.NoError(t, err)
	assert.Equal(t, apiv3.TradeState("NOTPAY"), tx.TradeState)
	r := sess.reply("pay RT-000001")
	require.True(t, r.OK, r.Error)
	pays.wait(t, "RT-000001")
	tx, err = cl.QueryByOutTradeNo(ctx, "RT-000001")
	require.NoError(t, err)
	assert.Equal(t, apiv3.TradeSuccess, tx.TradeState)

	// A refund through the client, settled from the fake's terminal,
	// notifies the client's RefundNotifyHandler; its query says SUCCESS.
	refunds := make(chan *apiv3.RefundNotification, 4)
	rsrv := httptest.NewServer(cl0.RefundNotifyHandler(func(_ context.Context, n *apiv3.RefundNotification) error {
		refunds <- n
		return nil
	}))
	defer rsrv.Close()
	rf, err := cl.Refund(ctx, &apiv3.RefundRequest{OutTradeNo: "RT-000001", OutRefundNo: "RTR-000001", NotifyURL: rsrv.URL, Amount: apiv3.RefundAmount{Refund: 500, Total: 1500}})
	require.NoError(t, err)
	assert.Equal(t, apiv3.RefundProcessing, rf.Status)
	r = sess.reply("settle RTR-000001")
	require.True(t, r.OK, r.Error)
	select {
	case n := <-refunds:
		assert.Equal(t, "RTR-000001", n.OutRefundNo)
		assert.Equal(t, apiv3.RefundSuccess, n.Status)
		assert.Equal(t, int64(500), n.Amount.Refund)
	case <-time.After(10 * time.Second):
		t.Fatal("no refund notification")
	}
	rf, err = cl.QueryRefund(ctx, "RTR-000001")
	require.NoError(t, err)
	assert.Equal(t, apiv3.RefundSuccess, rf.Status)

	// notify -v3 with the fake's settings file reaches the handler.
	cfg := filepath.Join(dir, v3FileSettings)
	code, out, errOut := run(t, nil, "", "notify", "-v3", "-config", cfg, "-out-trade-no", "RT-000002", "-amount", "990", shop.URL+"/notify")
	require.Equal(t, ExitOK, code, out+errOut)
	assert.Contains(t, out, "acknowledged (2xx)")
	pays.wait(t, "RT-000002")
	// A tampered one is refused, and the CLI says it was not acknowledged.
	code, out, errOut = run(t, nil, "", "notify", "-v3", "-json", "-config", cfg, "-fault", "tampered", "-out-trade-no", "RT-000003", "-amount", "1", shop.URL+"/notify")
	require.Equal(t, ExitOK, code, out+errOut)
	res := decodeNotifyResult(t, out)
	assert.False(t, res.Acked)
	assert.Equal(t, http.StatusUnauthorized, res.Attempts[0].Status)
	pays.mu.Lock()
	assert.Len(t, pays.got, 2, "the tampered notification never reached the application")
	pays.mu.Unlock()
	for _, sl := range secretLines {
		assert.NotContains(t, out+errOut, sl)
	}

	// doctor -v3 against the running fake: every check passes.
	code, out, errOut = run(t, nil, "", "doctor", "-v3", "-json", "-config", cfg)
	require.Equal(t, ExitOK, code, out+errOut)
	var dr doctorResult
	require.NoError(t, json.Unmarshal([]byte(out), &dr))
	assert.True(t, dr.OK)
	seen := map[string]string{}
	for _, ch := range dr.Checks {
		seen[ch.Name] = ch.Status
		assert.NotEqual(t, statusFail, ch.Status, "%s: %s", ch.Name, ch.Message)
	}
	assert.Equal(t, statusOK, seen[checkV3Download], "the certificate download was made and opened")
	assert.Equal(t, statusOK, seen[checkV3SerialNo], "the minted certificate holds the key and names the merchant")
	for _, sl := range secretLines {
		assert.NotContains(t, out+errOut, sl)
	}

	// sign -v3 with the same settings makes a request the fake accepts.
	code, out, errOut = run(t, nil, "", "sign", "-v3", "-json", "-config", cfg, "GET", "/v3/pay/transactions/out-trade-no/RT-000001?mchid="+vals[EnvMchID])
	require.Equal(t, ExitOK, code, out+errOut)
	var sr signV3Result
	require.NoError(t, json.Unmarshal([]byte(out), &sr))
	req, err := http.NewRequest(http.MethodGet, banner.URL+sr.URI, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", sr.Authorization)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "wxpay-test")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	// ... and its answer verifies with verify, from the headers and body.
	hf := ""
	for k, vs := range resp.Header {
		for _, v := range vs {
			hf += k + ": " + v + "\n"
		}
	}
	code, out, errOut = run(t, nil, "HTTP/1.1 200 OK\n"+hf+"\n"+string(body), "verify", "-config", cfg)
	require.Equal(t, ExitOK, code, out+errOut)
	assert.Contains(t, out, "OK: the signature matches")
}

// Restarted with the same directory, the fake keeps its keys, ids and
// merchant: a client configured from the first run still works.
func TestFakeV3Restart(t *testing.T) {
	dir := t.TempDir()
	sess, first := startFakeV3(t, nil, dir, "-v3-signer", "both")
	vals1 := fakeSettings(t, dir)
	assert.Equal(t, "both", first.V3.Signer)
	assert.ElementsMatch(t, []string{EnvV3WeChatPayKeyFile, EnvKeyFile, EnvCertFile, EnvAPIv3Key, EnvAppID, EnvMchID, EnvAPIKey, EnvAppSecret}, first.V3.Generated)
	key1 := mustRead(t, filepath.Join(dir, v3FileWeChatPayKey))
	sess.cancel()
	select {
	case code := <-sess.done:
		sess.done <- code // for the session's cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("the fake did not stop")
	}

	_, second := startFakeV3(t, nil, dir)
	vals2 := fakeSettings(t, dir)
	for _, name := range []string{EnvMchID, EnvAppID, EnvAPIKey, EnvAppSecret, EnvAPIv3Key, EnvV3Serial, EnvV3PubKeyID, EnvKeyFile, EnvV3WeChatPayKeyFile} {
		assert.Equal(t, vals1[name], vals2[name], name)
	}
	assert.Equal(t, key1, mustRead(t, filepath.Join(dir, v3FileWeChatPayKey)))
	assert.Equal(t, "*** (32 characters)", second.Settings[EnvAPIKey], "with -v3 no secret is printed")
	// The client of the first run (new URL only) works against the second.
	cl := apiv3ClientOf(t, with(vals1, EnvBaseURL, vals2[EnvBaseURL]), "https://shop.example.com/notify")
	_, err := cl.PrepayJSAPI(context.Background(), apiv3.PrepayRequest{Description: "cup", OutTradeNo: "RS-000001", Amount: apiv3.Amount{Total: 1}, Payer: &apiv3.Payer{OpenID: "o1"}})
	require.NoError(t, err)
	code, out, errOut := run(t, nil, "", "doctor", "-v3", "-config", filepath.Join(dir, v3FileSettings))
	assert.Equal(t, ExitOK, code, out+errOut)
}

// With the merchant's own key (WXPAY_KEY_FILE and its serial), the fake
// checks requests against it and mints none; settings from the
// environment are used, not printed, and not written to wxpay.env.
func TestFakeV3MerchantKey(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{EnvMchID: v1MchID, EnvKeyFile: v3Dir + "k-off.pem", EnvV3Serial: v1Serial, EnvAPIv3Key: v5APIv3Key}
	s, b := startFakeV3(t, env, dir, "-v3-signer", "cert")
	_ = s
	_, err := os.Stat(filepath.Join(dir, v3FileMchKey))
	assert.ErrorIs(t, err, os.ErrNotExist, "no merchant key minted")
	assert.Equal(t, v3Dir+"k-off.pem", b.V3.Settings[EnvKeyFile])
	assert.Equal(t, v1Serial, b.V3.Settings[EnvV3Serial])
	assert.NotContains(t, b.V3.Generated, EnvAPIv3Key)
	saved := string(mustRead(t, filepath.Join(dir, v3FileSettings)))
	assert.NotContains(t, saved, v5APIv3Key, "a configured secret is not copied to disk")
	assert.Contains(t, s.stderr.String(), "signing with WXPAY_APIV3_KEY from environment")
	// The settings plus the environment's APIv3 key make a working client.
	vals := fakeSettings(t, dir)
	vals[EnvAPIv3Key] = v5APIv3Key
	cl, err := apiv3.NewClient(apiv3.Config{
		MchID: v1MchID, AppID: vals[EnvAppID], NotifyURL: "https://shop.example.com/n", MerchantSerialNo: v1Serial,
		PrivateKey: mustRead(t, v3Dir+"k-off.pem"), APIv3Key: v5APIv3Key, PlatformCertificates: true,
	}, apiv3.WithBaseURL(vals[EnvBaseURL]), apiv3.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	_, err = cl.PrepayJSAPI(context.Background(), apiv3.PrepayRequest{Description: "cup", OutTradeNo: "MK-000001", Amount: apiv3.Amount{Total: 1}, Payer: &apiv3.Payer{OpenID: "o1"}})
	require.NoError(t, err, "an answer signed with the platform certificate verifies after the download")
	// notify -v3 -sign-with cert against the platform certificate file.
	code, out, errOut := run(t, with(env, EnvAppID, vals[EnvAppID], EnvV3WeChatPayKeyFile, vals[EnvV3WeChatPayKeyFile], EnvV3PlatformCertFile, vals[EnvV3PlatformCertFile]), "",
		"notify", "-v3", "-json", "-sign-with", "cert", "-out-trade-no", "MK-1", "-amount", "1", "http://127.0.0.1:1/notify")
	assert.Equal(t, ExitFail, code, errOut) // nothing listens there; the settings were accepted
	assert.NotEmpty(t, decodeNotifyResult(t, out).Serial)
}

// rotate-v3-cert mints a new platform certificate and rewrites the file.
func TestFakeV3Rotate(t *testing.T) {
	dir := t.TempDir()
	s, _ := startFakeV3(t, nil, dir, "-v3-signer", "cert")
	before, err := parseCertificates(mustRead(t, filepath.Join(dir, v3FilePlatformCert)))
	require.NoError(t, err)
	r := s.reply("rotate-v3-cert")
	require.True(t, r.OK, r.Error)
	after, err := parseCertificates(mustRead(t, filepath.Join(dir, v3FilePlatformCert)))
	require.NoError(t, err)
	require.Len(t, after, len(before)+1)
	assert.Equal(t, r.Serial, strings.ToUpper(after[0].SerialNumber.Text(16)))
	code, out, errOut := run(t, nil, "", "doctor", "-v3", "-config", filepath.Join(dir, v3FileSettings))
	assert.Equal(t, ExitOK, code, out+errOut)
}

// Bad -v3 flags and directories are refused before the fake starts.
func TestFakeV3Errors(t *testing.T) {
	file := writeFile(t, "f", "x")
	open := t.TempDir()
	require.NoError(t, os.Chmod(open, 0o777))
	badKey := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(badKey, v3FileWeChatPayKey), []byte("not a key"), 0o600))
	loose := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(loose, v3FileWeChatPayKey), mustRead(t, v3Dir+"k-wgo.pem"), 0o644))
	half := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(half, v3FileMchKey), mustRead(t, v3Dir+"k-wgo.pem"), 0o600))
	badEnv := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(badEnv, v3FileSettings), []byte("WXPAY_API_KEY\n"), 0o600))
	badAppID := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(badAppID, v3FileSettings), []byte("WXPAY_APPID="+otherKey+"\n"), 0o600))
	looseEnv := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(looseEnv, v3FileSettings), []byte("WXPAY_MCHID=1\n"), 0o644))
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"-v3 without dir", nil, []string{"-v3"}, "-v3 needs -v3-dir"},
		{"signer without -v3", nil, []string{"-v3-signer", "cert"}, "-v3-signer needs -v3 -v3-dir DIR"},
		{"bad signer", nil, []string{"-v3-dir", t.TempDir(), "-v3-signer", "rsa"}, "-v3-signer must be pubkey, cert or both"},
		{"dir is a file", nil, []string{"-v3-dir", file}, "-v3-dir"},
		{"world-writable dir", nil, []string{"-v3-dir", open}, "lets other users replace the keys"},
		{"bad WeChat Pay key", nil, []string{"-v3-dir", badKey}, "wechatpay_private_key.pem: not one PEM block"},
		{"readable WeChat Pay key", nil, []string{"-v3-dir", loose}, "chmod 600"},
		{"half a merchant pair", nil, []string{"-v3-dir", half}, "one of apiclient_key.pem and apiclient_cert.pem is missing"},
		{"bad wxpay.env", nil, []string{"-v3-dir", badEnv}, "wxpay.env"},
		{"secret as the saved appid", nil, []string{"-v3-dir", badAppID}, "WXPAY_APPID (from the -v3-dir's wxpay.env, 32 characters) is not an appid"},
		{"readable wxpay.env", nil, []string{"-v3-dir", looseEnv}, "chmod 600"},
		{"short APIv3 key", map[string]string{EnvAPIv3Key: v4APIv3Key}, []string{"-v3-dir", t.TempDir()}, "has 16 bytes"},
		{"merchant key without serial", map[string]string{EnvMchID: v1MchID, EnvKeyFile: v3Dir + "k-off.pem"}, []string{"-v3-dir", t.TempDir()}, "WXPAY_V3_SERIAL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.env, "", append([]string{"fake", "-addr", "127.0.0.1:0"}, tt.args...)...)
			assert.Equal(t, ExitUsage, code, out)
			assert.Contains(t, errOut, tt.want)
		})
	}
	// rotate-v3-cert without -v3 says so.
	s := startFake(t, nil, "-json")
	s.line()
	r := s.reply("rotate-v3-cert")
	assert.False(t, r.OK)
	assert.Contains(t, r.Error, "API v3 is off")
}

// The text banner of fake -v3 prints the settings as lines a shell or a
// .env file takes: names with file paths and ids, the secrets as *** only.
func TestFakeV3TextBanner(t *testing.T) {
	dir := t.TempDir()
	s := startFake(t, nil, "-v3", "-v3-dir", dir)
	var lines []string
	for {
		l := s.line()
		lines = append(lines, l)
		if strings.HasPrefix(l, "  "+EnvV3WeChatPayKeyFile+"=") {
			break
		}
	}
	out := strings.Join(lines, "")
	vals := fakeSettings(t, dir)
	for _, name := range []string{EnvAPIKey, EnvAppSecret, EnvAPIv3Key} {
		assert.NotContains(t, out, vals[name], name)
		assert.Contains(t, out, "  "+name+"=*** (32 characters)", name)
	}
	for _, name := range []string{EnvKeyFile, EnvCertFile, EnvV3Serial, EnvV3PubKeyID, EnvV3PubKeyFile, EnvV3PlatformCertFile, EnvV3WeChatPayKeyFile, EnvBaseURL} {
		assert.Contains(t, out, "  "+name+"="+vals[name], name)
	}
	assert.Contains(t, out, "or use -config "+filepath.Join(dir, v3FileSettings))
	assert.Contains(t, out, EnvV3WeChatPayKeyFile+"="+filepath.Join(dir, v3FileWeChatPayKey)+"   # the fake's WeChat Pay private key: for wxpay notify -v3 only")
}

// Restarted with its own wxpay.env as -config, or with it sourced into
// the environment, the fake still knows those values for its own
// throwaways: no warning, and wxpay.env keeps them.
func TestFakeV3RestartWithOwnSettings(t *testing.T) {
	dir := t.TempDir()
	sess, _ := startFakeV3(t, nil, dir)
	vals := fakeSettings(t, dir)
	sess.cancel()
	code := <-sess.done
	sess.done <- code
	cfg := filepath.Join(dir, v3FileSettings)
	for _, env := range []map[string]string{nil, vals} {
		args := []string{}
		if env == nil {
			args = []string{"-config", cfg}
		}
		s, _ := startFakeV3(t, env, dir, args...)
		again := fakeSettings(t, dir)
		for _, name := range []string{EnvAPIKey, EnvAppSecret, EnvAPIv3Key, EnvMchID} {
			assert.Equal(t, vals[name], again[name], name)
		}
		assert.NotContains(t, s.stderr.String(), "warning")
		s.cancel()
		code := <-s.done
		s.done <- code
	}
}
