package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/wire"
)

// merchantServer is a merchant's server on loopback with the library's
// notify handlers at /notify and /refund-notify, recording what they
// accept.
type merchantServer struct {
	*httptest.Server
	mu       sync.Mutex
	payments []*wxpay.Notification
	refunds  []*wxpay.RefundNotification
}

func newMerchantServer(t *testing.T, cfg wxpay.Config) *merchantServer {
	t.Helper()
	cl, err := wxpay.NewClient(cfg, wxpay.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	m := &merchantServer{}
	mux := http.NewServeMux()
	mux.Handle("/notify", cl.NotifyHandler(func(_ context.Context, n *wxpay.Notification) error {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.payments = append(m.payments, n)
		return nil
	}))
	mux.Handle("/refund-notify", cl.RefundNotifyHandler(func(_ context.Context, n *wxpay.RefundNotification) error {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.refunds = append(m.refunds, n)
		return nil
	}, wxpay.SkipRefundQuery())) // the notifications notify forges have no refund behind them to query
	m.Server = httptest.NewServer(mux)
	t.Cleanup(m.Close)
	return m
}

func TestNotifyPayment(t *testing.T) {
	t.Parallel()
	for _, st := range []wxpay.SignType{wxpay.SignMD5, wxpay.SignHMACSHA256} {
		t.Run(string(st), func(t *testing.T) {
			t.Parallel()
			m := newMerchantServer(t, wxpay.Config{AppID: docAppID, MchID: docMchID, APIKey: docKey, SignType: st})
			code, out, errOut := run(t, docEnv(EnvSignType, string(st)), "", "notify",
				"-out-trade-no", "ORDER-1", "-total-fee", "2599", "-attach", "gift", "-set", "coupon_fee=0", m.URL+"/notify")
			require.Equal(t, ExitOK, code, out+errOut)
			assert.Contains(t, out, "attempt 1: HTTP 200, acknowledged (return_code SUCCESS)")
			m.mu.Lock()
			defer m.mu.Unlock()
			require.Len(t, m.payments, 1)
			n := m.payments[0]
			assert.Equal(t, "ORDER-1", n.OutTradeNo)
			assert.Equal(t, int64(2599), n.TotalFee)
			assert.Equal(t, "gift", n.Attach)
			assert.True(t, n.Paid())
			assert.Len(t, n.TransactionID, 28)
			assert.Empty(t, n.Raw["sign_type"], "WeChat's notifications carry no sign_type")
			assert.Len(t, n.Raw["sign"], map[wxpay.SignType]int{wxpay.SignMD5: 32, wxpay.SignHMACSHA256: 64}[st])
			assert.Equal(t, "0", n.Raw["coupon_fee"])
		})
	}
}

func TestNotifyFailedPayment(t *testing.T) {
	t.Parallel()
	m := newMerchantServer(t, wxpay.Config{AppID: docAppID, MchID: docMchID, APIKey: docKey})
	code, out, errOut := run(t, docEnv(), "", "notify", "-result", "FAIL", "-set", "bank_type=", "-out-trade-no", "F-1", "-total-fee", "5", m.URL+"/notify")
	require.Equal(t, ExitOK, code, out+errOut)
	m.mu.Lock()
	defer m.mu.Unlock()
	require.Len(t, m.payments, 1)
	n := m.payments[0]
	assert.False(t, n.Paid())
	assert.Equal(t, wxpay.ErrCodeSystemError, n.ErrCode)
	_, hasBank := n.Raw["bank_type"]
	assert.False(t, hasBank, "-set name= removes the field")
}

func TestNotifyRefund(t *testing.T) {
	t.Parallel()
	m := newMerchantServer(t, wxpay.Config{AppID: docAppID, MchID: docMchID, APIKey: docKey})
	code, out, errOut := run(t, docEnv(), "", "notify", "-json", "-refund",
		"-out-trade-no", "ORDER-2", "-total-fee", "1000", "-out-refund-no", "R-1", "-refund-fee", "300", m.URL+"/refund-notify")
	require.Equal(t, ExitOK, code, out+errOut)
	var res notifyResult
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.True(t, res.OK)
	assert.Equal(t, "refund", res.Kind)
	require.Len(t, res.Attempts, 1)
	m.mu.Lock()
	defer m.mu.Unlock()
	require.Len(t, m.refunds, 1)
	n := m.refunds[0]
	assert.Equal(t, "ORDER-2", n.OutTradeNo)
	assert.Equal(t, "R-1", n.OutRefundNo)
	assert.Equal(t, int64(1000), n.TotalFee)
	assert.Equal(t, int64(300), n.RefundFee)
	assert.Equal(t, wxpay.RefundSuccess, n.RefundStatus)
	assert.False(t, n.SuccessTime.IsZero())
}

// The refund notification notify sends decrypts with decrypt-refund.
func TestNotifyRefundDecrypts(t *testing.T) {
	t.Parallel()
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body.Store(string(b))
		io.WriteString(w, "<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>")
	}))
	defer srv.Close()
	code, _, _ := run(t, docEnv(), "", "notify", "-refund", "-out-trade-no", "O", "-total-fee", "5", "-out-refund-no", "R", "-refund-status", "CHANGE", srv.URL)
	require.Equal(t, ExitOK, code)
	code, out, _ := run(t, docEnv(), body.Load().(string), "decrypt-refund", "-json")
	require.Equal(t, ExitOK, code)
	var res decryptResult
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, "CHANGE", res.Fields["refund_status"])
	assert.Equal(t, "R", res.Fields["out_refund_no"])
	assert.Empty(t, res.Fields["success_time"])
}

func TestNotifyRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[db down]]></return_msg></xml>")
			return
		}
		io.WriteString(w, "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>")
	}))
	defer srv.Close()
	// 15 s and 15 s at speed 1500 are 10 ms each.
	code, out, errOut := run(t, docEnv(), "", "notify", "-json", "-retry", "-speed", "1500", "-out-trade-no", "O", "-total-fee", "1", srv.URL)
	require.Equal(t, ExitOK, code, out+errOut)
	var res notifyResult
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Len(t, res.Attempts, 3)
	assert.Equal(t, 500, res.Attempts[0].Status)
	assert.False(t, res.Attempts[0].Acked)
	assert.Contains(t, res.Attempts[0].Reply, "db down")
	assert.True(t, res.Attempts[2].Acked)
	assert.GreaterOrEqual(t, res.Attempts[1].At.Sub(res.Attempts[0].At), 10*time.Millisecond)
}

func TestNotifyNotAcknowledged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"FAIL", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<xml><return_code>FAIL</return_code></xml>")
		}, "HTTP 200, not acknowledged"},
		{"SUCCESS with 500", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			io.WriteString(w, "<xml><return_code>SUCCESS</return_code></xml>")
		}, "HTTP 500, not acknowledged"},
		{"JSON-quoted SUCCESS", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `"<xml><return_code>SUCCESS</return_code></xml>"`)
		}, "not acknowledged"},
		{"plain success", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "success") }, "not acknowledged"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }, "HTTP 302, not acknowledged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			code, out, _ := run(t, docEnv(), "", "notify", "-out-trade-no", "O", "-total-fee", "1", srv.URL)
			assert.Equal(t, ExitFail, code)
			assert.Contains(t, out, tt.want)
			assert.Contains(t, out, "not acknowledged: WeChat would deliver again later")
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		code, out, _ := run(t, docEnv(), "", "notify", "-out-trade-no", "O", "-total-fee", "1", url)
		assert.Equal(t, ExitFail, code)
		assert.Contains(t, out, "attempt 1: no reply")
	})
}

func TestNotifyRetryStopsWithContext(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<xml><return_code>FAIL</return_code></xml>")
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	code, out, _ := runCtx(t, ctx, docEnv(), "", "notify", "-retry", "-out-trade-no", "O", "-total-fee", "1", srv.URL)
	assert.Equal(t, ExitFail, code)
	assert.Less(t, time.Since(start), 5*time.Second, "the 15 s wait must end with the context")
	assert.Contains(t, out, "next attempt in 15s")
	assert.NotContains(t, out, "attempt 2:")
}

func TestNotifyUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"remote host", docEnv(), []string{"-out-trade-no", "O", "-total-fee", "1", "https://merchant.example.com/notify"}, "not loopback: with a real key this forges payments"},
		{"remote IP", docEnv(), []string{"-out-trade-no", "O", "-total-fee", "1", "http://10.0.0.1/notify"}, "not loopback"},
		{"no URL", docEnv(), []string{"-out-trade-no", "O", "-total-fee", "1"}, "give exactly one URL"},
		{"not a URL", docEnv(), []string{"-out-trade-no", "O", "-total-fee", "1", "localhost/notify"}, "absolute http or https URL"},
		{"no out_trade_no", docEnv(), []string{"-total-fee", "1", "http://127.0.0.1/"}, "-out-trade-no is required"},
		{"no total_fee", docEnv(), []string{"-out-trade-no", "O", "http://127.0.0.1/"}, "-total-fee (in fen) is required"},
		{"refund without out_refund_no", docEnv(), []string{"-refund", "-out-trade-no", "O", "-total-fee", "1", "http://127.0.0.1/"}, "-out-refund-no is required"},
		{"bad result", docEnv(), []string{"-result", "OK", "-out-trade-no", "O", "-total-fee", "1", "http://127.0.0.1/"}, "-result must be"},
		{"bad refund status", docEnv(), []string{"-refund", "-refund-status", "DONE", "-out-refund-no", "R", "-out-trade-no", "O", "-total-fee", "1", "http://127.0.0.1/"}, "-refund-status must be"},
		{"bad -set", docEnv(), []string{"-set", "no-equals", "-out-trade-no", "O", "-total-fee", "1", "http://127.0.0.1/"}, "want name=value"},
		{"bad speed", docEnv(), []string{"-speed", "0", "-out-trade-no", "O", "-total-fee", "1", "http://127.0.0.1/"}, "-speed must be positive"},
		{"missing key", docEnv(EnvAPIKey, ""), []string{"-out-trade-no", "O", "-total-fee", "1", "http://127.0.0.1/"}, "WXPAY_API_KEY is not set"},
		{"missing appid", docEnv(EnvAppID, ""), []string{"-out-trade-no", "O", "-total-fee", "1", "http://127.0.0.1/"}, "WXPAY_APPID and WXPAY_MCHID must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(t, tt.env, "", append([]string{"notify"}, tt.args...)...)
			assert.Equal(t, ExitUsage, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tt.want)
		})
	}
}

// Without -allow-remote, the dialer itself refuses a non-loopback address,
// whatever name led to it; the refusal happens before any packet is sent.
func TestNotifyClientRefusesRemoteAddress(t *testing.T) {
	t.Parallel()
	hc := notifyClient(false, time.Second)
	_, err := hc.Post("http://192.0.2.1/notify", "text/xml", strings.NewReader("<xml/>"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not loopback")
}

func TestIsLoopbackHost(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true,
		"localhost.example.com": false, "10.0.0.1": false, "0.0.0.0": false, "example.com": false, "": false,
	} {
		assert.Equal(t, want, wire.LoopbackHost(host), host)
	}
}
