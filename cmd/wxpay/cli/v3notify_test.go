package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/apiv3"
)

// The v3 notify tests play WeChat with wechatpay-go's published test key
// (k-wgo.pem, whose certificate wgo-cert-D7CE59D1F522D701.pem holds its
// public half) and the merchant with the documentation key k-off.pem.
const v3AppID = "wxd678efh567hg6787"

// v3Merchant is a merchant's server with the apiv3 handlers at /notify
// and /refund-notify, recording what they accept and every request.
type v3MerchantServer struct {
	*httptest.Server
	mu       sync.Mutex
	payments []*apiv3.PaymentNotification
	refunds  []*apiv3.RefundNotification
	raw      []capturedRequest
	fail     atomic.Int32 // the next fail deliveries are answered 500
}

type capturedRequest struct {
	header http.Header
	body   []byte
}

func newV3MerchantServer(t *testing.T, pubKeyFile string) *v3MerchantServer {
	t.Helper()
	cl, err := apiv3.NewClient(apiv3.Config{
		MchID: v1MchID, AppID: v3AppID, MerchantSerialNo: v1Serial, PrivateKey: mustRead(t, v3Dir+"k-off.pem"),
		APIv3Key: v5APIv3Key, PublicKeyID: v5PubKeyID, PublicKey: mustRead(t, pubKeyFile),
	}, apiv3.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	m := &v3MerchantServer{}
	fails := func() error {
		if m.fail.Add(-1) >= 0 {
			return errors.New("database down")
		}
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/notify", cl.NotifyHandler(func(_ context.Context, n *apiv3.PaymentNotification) error {
		if err := fails(); err != nil {
			return err
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		m.payments = append(m.payments, n)
		return nil
	}))
	mux.Handle("/refund-notify", cl.RefundNotifyHandler(func(_ context.Context, n *apiv3.RefundNotification) error {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.refunds = append(m.refunds, n)
		return nil
	}))
	// /accept-all acknowledges anything: the handler a -fault must catch.
	mux.HandleFunc("/accept-all", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		m.mu.Lock()
		m.raw = append(m.raw, capturedRequest{r.Header.Clone(), b})
		m.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"code":"FAIL","message":"a 200 is an acknowledgement whatever the body"}`)
	})
	m.Server = httptest.NewServer(mux)
	t.Cleanup(m.Close)
	return m
}

func (m *v3MerchantServer) snapshot() ([]*apiv3.PaymentNotification, []*apiv3.RefundNotification, []capturedRequest) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*apiv3.PaymentNotification(nil), m.payments...), append([]*apiv3.RefundNotification(nil), m.refunds...), append([]capturedRequest(nil), m.raw...)
}

// v3NotifyEnv is the settings of notify -v3 against newV3MerchantServer.
func v3NotifyEnv(t *testing.T, kv ...string) (map[string]string, string) {
	t.Helper()
	pub := writePublicKey(t, v3Dir+"k-wgo.pem")
	env := map[string]string{
		EnvMchID: v1MchID, EnvAppID: v3AppID, EnvAPIv3Key: v5APIv3Key,
		EnvV3PubKeyID: v5PubKeyID, EnvV3PubKeyFile: pub, EnvV3WeChatPayKeyFile: v3Dir + "k-wgo.pem",
	}
	return with(env, kv...), pub
}

func decodeNotifyResult(t *testing.T, out string) notifyResult {
	t.Helper()
	var res notifyResult
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	return res
}

// A payment notification reaches the apiv3 NotifyHandler, which verifies,
// decrypts and checks it; 204 is an acknowledgement.
func TestNotifyV3Payment(t *testing.T) {
	t.Parallel()
	env, pub := v3NotifyEnv(t)
	m := newV3MerchantServer(t, pub)
	code, out, errOut := run(t, env, "", "notify", "-v3", "-out-trade-no", "ORDER-V3", "-amount", "2599", "-attach", "gift",
		"-openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "-set", "amount.payer_total=2500", m.URL+"/notify")
	require.Equal(t, ExitOK, code, out+errOut)
	assert.Contains(t, out, "attempt 1: HTTP 204, acknowledged (2xx)")
	pays, _, _ := m.snapshot()
	require.Len(t, pays, 1)
	tx := pays[0].Transaction
	assert.Equal(t, "ORDER-V3", tx.OutTradeNo)
	assert.Equal(t, int64(2599), tx.Amount.Total)
	assert.Equal(t, int64(2500), tx.Amount.PayerTotal, "-set reaches the plaintext")
	assert.Equal(t, "gift", tx.Attach)
	assert.Equal(t, v1MchID, tx.MchID)
	assert.Equal(t, v3AppID, tx.AppID)
	assert.Equal(t, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", tx.Payer.OpenID)
	assert.Len(t, tx.TransactionID, 28)
	assert.False(t, tx.SuccessTime.IsZero())
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, pays[0].ID)
}

// JSON output names the event, the serial and each attempt; the same -id
// and -transaction-id replay a delivery, as WeChat redelivers.
func TestNotifyV3JSONAndReplay(t *testing.T) {
	t.Parallel()
	env, pub := v3NotifyEnv(t)
	m := newV3MerchantServer(t, pub)
	args := []string{"notify", "-v3", "-json", "-id", "EV-2018022511223320873", "-transaction-id", "4200000000000000000000000001",
		"-out-trade-no", "O-2", "-total-fee", "100", m.URL + "/notify"}
	for i := 0; i < 2; i++ {
		code, out, errOut := run(t, env, "", args...)
		require.Equal(t, ExitOK, code, out+errOut)
		res := decodeNotifyResult(t, out)
		assert.True(t, res.OK)
		assert.True(t, res.Acked)
		assert.Equal(t, "v3", res.API)
		assert.Equal(t, apiv3.EventTransactionSuccess, res.EventType)
		assert.Equal(t, v5PubKeyID, res.Serial)
		require.Len(t, res.Attempts, 1)
		assert.Equal(t, http.StatusNoContent, res.Attempts[0].Status)
	}
	pays, _, _ := m.snapshot()
	require.Len(t, pays, 2)
	assert.Equal(t, pays[0].ID, pays[1].ID)
	assert.Equal(t, pays[0].Transaction.TransactionID, pays[1].Transaction.TransactionID)
}

// Refund notifications of each status reach the RefundNotifyHandler.
func TestNotifyV3Refund(t *testing.T) {
	t.Parallel()
	env, pub := v3NotifyEnv(t)
	m := newV3MerchantServer(t, pub)
	for i, st := range []string{"SUCCESS", "ABNORMAL", "CLOSED"} {
		code, out, errOut := run(t, env, "", "notify", "-v3", "-json", "-refund", "-refund-status", st,
			"-out-trade-no", "O-3", "-amount", "1000", "-out-refund-no", "R-"+st, "-refund-fee", "300", m.URL+"/refund-notify")
		require.Equal(t, ExitOK, code, out+errOut)
		res := decodeNotifyResult(t, out)
		assert.Equal(t, "refund", res.Kind)
		assert.Equal(t, "REFUND."+st, res.EventType)
		assert.Equal(t, "R-"+st, res.OutRefundNo)
		_, refunds, _ := m.snapshot()
		require.Len(t, refunds, i+1)
		r := refunds[i]
		assert.Equal(t, apiv3.RefundStatus(st), r.Status)
		assert.Equal(t, "R-"+st, r.OutRefundNo)
		assert.Equal(t, "O-3", r.OutTradeNo)
		assert.Equal(t, int64(300), r.Amount.Refund)
		assert.Equal(t, int64(1000), r.Amount.Total)
		assert.Equal(t, st == "SUCCESS", !r.SuccessTime.IsZero())
	}
	// A refund sent to the payment URL is genuine but refused there.
	code, out, _ := run(t, env, "", "notify", "-v3", "-refund", "-out-trade-no", "O-3", "-amount", "1000", "-out-refund-no", "R-X", m.URL+"/notify")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, out, "HTTP 400, not acknowledged")
}

// Every fault is refused by the library's handler (the command then
// succeeds) and acknowledged by a handler that checks nothing (the
// command then fails, saying so). Nothing reaches the application.
func TestNotifyV3Faults(t *testing.T) {
	t.Parallel()
	env, pub := v3NotifyEnv(t)
	m := newV3MerchantServer(t, pub)
	wantStatus := map[string]int{"probe": 401, "tampered": 401, "stale": 401, "wrong-key": 401, "unknown-serial": 401, "wrong-apiv3-key": 400}
	require.Len(t, wantStatus, len(v3Faults))
	for fault, status := range wantStatus {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(t, env, "", "notify", "-v3", "-json", "-fault", fault, "-out-trade-no", "F-1", "-amount", "1", m.URL+"/notify")
			require.Equal(t, ExitOK, code, out+errOut)
			res := decodeNotifyResult(t, out)
			assert.True(t, res.OK)
			assert.False(t, res.Acked)
			assert.Equal(t, fault, res.Fault)
			require.Len(t, res.Attempts, 1)
			assert.Equal(t, status, res.Attempts[0].Status)

			code, out, _ = run(t, env, "", "notify", "-v3", "-fault", fault, "-out-trade-no", "F-1", "-amount", "1", m.URL+"/notify")
			assert.Equal(t, ExitOK, code)
			assert.Contains(t, out, "not acknowledged: the handler refused")

			code, out, _ = run(t, env, "", "notify", "-v3", "-fault", fault, "-out-trade-no", "F-1", "-amount", "1", m.URL+"/accept-all")
			assert.Equal(t, ExitFail, code)
			assert.Contains(t, out, "FAILED: the handler acknowledged a notification it must refuse")
		})
	}
	t.Cleanup(func() {
		pays, _, _ := m.snapshot()
		assert.Empty(t, pays, "no fault reaches the application")
	})
}

// What notify -v3 sends is what WeChat sends: the headers of §7.1, and a
// message "wxpay verify" accepts, under the public key and, with
// -sign-with cert, under the platform certificate holding the key.
func TestNotifyV3VerifiesAsSent(t *testing.T) {
	t.Parallel()
	certFile := v3Dir + "wgo-cert-" + wgoSerial + ".pem"
	env, pub := v3NotifyEnv(t, EnvV3PlatformCertFile, certFile)
	m := newV3MerchantServer(t, pub)
	for _, by := range []string{"pubkey", "cert"} {
		code, out, errOut := run(t, env, "", "notify", "-v3", "-sign-with", by, "-out-trade-no", "O-4", "-amount", "5", m.URL+"/accept-all")
		require.Equal(t, ExitOK, code, out+errOut)
	}
	_, _, raw := m.snapshot()
	require.Len(t, raw, 2)
	for i, want := range []string{v5PubKeyID, wgoSerial} {
		h := raw[i].header
		assert.Equal(t, want, h.Get("Wechatpay-Serial"))
		assert.Equal(t, "application/json", h.Get("Content-Type"))
		assert.Equal(t, apiv3.AuthScheme, h.Get("Wechatpay-Signature-Type"))
		assert.NotEmpty(t, h.Get("Request-ID"))
		assert.Regexp(t, `^[0-9]{10}$`, h.Get("Wechatpay-Timestamp"))
		args := []string{"verify", "-decrypt", "-json"}
		for _, name := range []string{"Wechatpay-Serial", "Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce"} {
			args = append(args, "-H", name+": "+h.Get(name))
		}
		code, out, errOut := run(t, with(env, EnvV3WeChatPayKeyFile, ""), string(raw[i].body), args...)
		require.Equal(t, ExitOK, code, out+errOut)
		var vr verifyV3Result
		require.NoError(t, json.Unmarshal([]byte(out), &vr))
		assert.Equal(t, "notification", vr.Kind)
		assert.Contains(t, vr.Plaintext, `"out_trade_no":"O-4"`)
		var env struct {
			Resource struct {
				AssociatedData string `json:"associated_data"`
				OriginalType   string `json:"original_type"`
				Nonce          string `json:"nonce"`
			} `json:"resource"`
			ResourceType string `json:"resource_type"`
		}
		require.NoError(t, json.Unmarshal(raw[i].body, &env))
		assert.Equal(t, "transaction", env.Resource.AssociatedData)
		assert.Equal(t, "transaction", env.Resource.OriginalType)
		assert.Len(t, env.Resource.Nonce, 12)
		assert.Equal(t, "encrypt-resource", env.ResourceType)
	}
}

// A failing handler (500) is not an acknowledgement; -retry repeats on
// the schedule, each delivery freshly signed, until a 2xx.
func TestNotifyV3Retry(t *testing.T) {
	t.Parallel()
	env, pub := v3NotifyEnv(t)
	m := newV3MerchantServer(t, pub)
	m.fail.Store(1)
	code, out, _ := run(t, env, "", "notify", "-v3", "-out-trade-no", "O-5", "-amount", "1", m.URL+"/notify")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, out, "HTTP 500, not acknowledged")
	assert.Contains(t, out, "not acknowledged: WeChat would deliver again later")

	m.fail.Store(2)
	code, out, errOut := run(t, env, "", "notify", "-v3", "-json", "-retry", "-speed", "1000", "-out-trade-no", "O-5", "-amount", "1", m.URL+"/notify")
	require.Equal(t, ExitOK, code, out+errOut)
	res := decodeNotifyResult(t, out)
	require.Len(t, res.Attempts, 3)
	assert.Equal(t, []int{500, 500, 204}, []int{res.Attempts[0].Status, res.Attempts[1].Status, res.Attempts[2].Status})
	pays, _, _ := m.snapshot()
	require.Len(t, pays, 1)
}

// Bad flags and settings are refused before anything is sent, naming the
// flag or setting and never quoting a value.
func TestNotifyV3Usage(t *testing.T) {
	t.Parallel()
	env, _ := v3NotifyEnv(t)
	other := writePublicKey(t, v3Dir+"k-off.pem")
	ok := []string{"-out-trade-no", "O", "-amount", "1", "http://127.0.0.1:1/notify"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"remote host", env, []string{"-out-trade-no", "O", "-amount", "1", "https://merchant.example.com/notify"}, "not loopback"},
		{"no URL", env, []string{"-out-trade-no", "O", "-amount", "1"}, "give exactly one URL"},
		{"no amount", env, []string{"-out-trade-no", "O", "http://127.0.0.1/"}, "-amount (in fen, positive) is required"},
		{"zero amount", env, []string{"-out-trade-no", "O", "-amount", "0", "http://127.0.0.1/"}, "-amount (in fen, positive)"},
		{"long out_trade_no", env, []string{"-out-trade-no", strings.Repeat("1", 33), "-amount", "1", "http://127.0.0.1/"}, "at most 32"},
		{"v2 refund status", env, append([]string{"-refund", "-out-refund-no", "R", "-refund-status", "REFUNDCLOSE"}, ok...), "REFUNDCLOSE is CLOSED"},
		{"refund above amount", env, append([]string{"-refund", "-out-refund-no", "R", "-refund-fee", "2"}, ok...), "-refund-fee must be positive and at most -amount"},
		{"refund without out_refund_no", env, append([]string{"-refund"}, ok...), "-out-refund-no is required"},
		{"bad fault", env, append([]string{"-fault", "evil"}, ok...), "-fault must be one of probe"},
		{"fault and retry", env, append([]string{"-fault", "probe", "-retry"}, ok...), "-fault and -retry together"},
		{"bad sign-with", env, append([]string{"-sign-with", "both"}, ok...), "-sign-with must be pubkey or cert"},
		{"bad trade type", env, append([]string{"-trade-type", "jsapi"}, ok...), "-trade-type must be"},
		{"control character", env, append([]string{"-attach", "a\nb"}, ok...), "-attach must be at most 128 bytes of UTF-8 text"},
		{"bad -set path", env, append([]string{"-set", "Amount.Total=1"}, ok...), "want path=value"},
		{"-set without =", env, append([]string{"-set", "attach"}, ok...), "want path=value"},
		{"-set through a string", env, append([]string{"-set", "attach.x=1"}, ok...), "-set attach.x: attach is not an object"},
		{"bad speed", env, append([]string{"-speed", "-1"}, ok...), "-speed must be positive"},
		{"bad timeout", env, append([]string{"-timeout", "-1s"}, ok...), "-timeout must be positive"},
		{"long timeout", env, append([]string{"-timeout", "2h"}, ok...), "at most 1m"},
		{"no APIv3 key", with(env, EnvAPIv3Key, ""), ok, "WXPAY_APIV3_KEY is not set"},
		{"16-byte APIv3 key", with(env, EnvAPIv3Key, v4APIv3Key), ok, "has 16 bytes"},
		{"no appid", with(env, EnvAppID, ""), ok, "WXPAY_MCHID and WXPAY_APPID must be set"},
		{"bad mchid", with(env, EnvMchID, "12ab"), ok, "WXPAY_MCHID must be the merchant number"},
		{"no WeChat key", with(env, EnvV3WeChatPayKeyFile, ""), ok, "WXPAY_V3_WECHATPAY_KEY_FILE is not set"},
		{"WeChat key missing", with(env, EnvV3WeChatPayKeyFile, "/nonexistent/k.pem"), ok, "WXPAY_V3_WECHATPAY_KEY_FILE"},
		{"WeChat key is a certificate", with(env, EnvV3WeChatPayKeyFile, v3Dir+"wgo-cert-"+wgoSerial+".pem"), ok, "WXPAY_V3_WECHATPAY_KEY_FILE"},
		{"public key of another key", with(env, EnvV3PubKeyFile, other), ok, "is not the public half of WXPAY_V3_WECHATPAY_KEY_FILE"},
		{"bad pubkey id", with(env, EnvV3PubKeyID, "PUB_KEY_ID_x y"), ok, "WXPAY_V3_PUBKEY_ID must be"},
		{"no serial at all", with(env, EnvV3PubKeyID, "", EnvV3PubKeyFile, ""), ok, "no Wechatpay-Serial to send"},
		{"cert without cert file", env, append([]string{"-sign-with", "cert"}, ok...), "no Wechatpay-Serial to send"},
		{"pubkey without id", with(env, EnvV3PubKeyID, "", EnvV3PlatformCertFile, v3Dir+"wgo-cert-"+wgoSerial+".pem"), append([]string{"-sign-with", "pubkey"}, ok...), "-sign-with pubkey needs WXPAY_V3_PUBKEY_ID"},
		{"cert of another key", with(env, EnvV3WeChatPayKeyFile, v3Dir+"k-off.pem", EnvV3PubKeyID, "", EnvV3PlatformCertFile, v3Dir+"wgo-cert-"+wgoSerial+".pem"), ok, "no certificate of WXPAY_V3_PLATFORM_CERT_FILE holds the public half"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(t, tt.env, "", append([]string{"notify", "-v3"}, tt.args...)...)
			assert.Equal(t, ExitUsage, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tt.want)
		})
	}
}

func TestJSONSets(t *testing.T) {
	t.Parallel()
	good := []struct {
		in   string
		path string
		raw  string
	}{
		{"attach=gift", "attach", `"gift"`},
		{"amount.payer_total=90", "amount.payer_total", `90`},
		{`attach="123"`, "attach", `"123"`},
		{"payer.openid=", "payer.openid", ``},
		{`promotion_detail=[{"amount":1}]`, "promotion_detail", `[{"amount":1}]`},
		{"attach=a=b", "attach", `"a=b"`},
		{"attach=你好", "attach", `"你好"`},
	}
	for _, g := range good {
		var j jsonSets
		require.NoError(t, j.Set(g.in), g.in)
		require.Len(t, j, 1)
		assert.Equal(t, g.path, strings.Join(j[0].path, "."), g.in)
		assert.Equal(t, g.raw, string(j[0].raw), g.in)
	}
	for _, bad := range []string{"", "=1", "attach", "Attach=1", "a.b.c.d=1", "a..b=1", ".a=1", "1a=1", "a-b=1", "attach=" + strings.Repeat("x", 4097)} {
		var j jsonSets
		assert.Error(t, j.Set(bad), "%.40q", bad)
		assert.Empty(t, j)
	}
	// apply creates objects on the way and removes with an empty value.
	var j jsonSets
	require.NoError(t, j.Set("scene_info.device_id=013467007045764"))
	require.NoError(t, j.Set("attach="))
	m := map[string]any{"attach": "x"}
	require.NoError(t, j.apply(m))
	b, err := json.Marshal(m)
	require.NoError(t, err)
	assert.JSONEq(t, `{"scene_info":{"device_id":"013467007045764"}}`, string(b))
}

// The WeChat Pay private key never shows in any output, even when a
// setting is wrong.
func TestNotifyV3NoKeyInOutput(t *testing.T) {
	t.Parallel()
	env, _ := v3NotifyEnv(t)
	b, err := os.ReadFile(v3Dir + "k-wgo.pem")
	require.NoError(t, err)
	for _, args := range [][]string{
		{"-out-trade-no", "O", "-amount", "1", "http://127.0.0.1:1/notify"},
		{"-h"},
	} {
		_, out, errOut := run(t, env, "", append([]string{"notify", "-v3"}, args...)...)
		for _, line := range strings.Split(string(b), "\n")[1:5] {
			assert.NotContains(t, out+errOut, line)
		}
	}
}

// FuzzJSONSets holds the -set parser of notify -v3 to its rules: no
// panic; on success the path has the documented shape and the value is
// valid JSON (or nil, removing the field), and applying it to a
// plaintext either fails with an error or leaves JSON that encodes.
func FuzzJSONSets(f *testing.F) {
	f.Add("amount.payer_total=90")
	f.Add(`attach="123"`)
	f.Add("payer.openid=")
	f.Add("a.b.c=[1,{\"x\":null}]")
	f.Add("attach.x=1")
	f.Add("=")
	f.Fuzz(func(t *testing.T, in string) {
		var j jsonSets
		if err := j.Set(in); err != nil {
			if len(j) != 0 {
				t.Fatal("a refused flag was kept")
			}
			return
		}
		if len(j) != 1 || !setPathRE.MatchString(strings.Join(j[0].path, ".")) {
			t.Fatalf("bad path %q", j[0].path)
		}
		if j[0].raw != nil && !json.Valid(j[0].raw) {
			t.Fatalf("not JSON: %q", j[0].raw)
		}
		m := map[string]any{"attach": "x", "amount": map[string]any{"total": 1}}
		if err := j.apply(m); err != nil {
			return
		}
		if _, err := json.Marshal(m); err != nil {
			t.Fatalf("the plaintext no longer encodes: %v", err)
		}
	})
}
