package wxpay

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/internal/refsign"
)

const tSandboxKey = "sandbox0key0000000000000000000ab" // 32 characters, like WeChat's

// sandboxFake answers getsignkey (checking it is MD5 under the production
// key, as WeChat's sandbox requires) and micropay (checking it is MD5
// under the sandbox key).
func sandboxFake(t *testing.T, mux *http.ServeMux, keyPath, prefix string, fetches *atomic.Int64) {
	mux.HandleFunc(keyPath, func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		b, _ := io.ReadAll(r.Body)
		req, err := DecodeXML(b)
		if err != nil {
			t.Errorf("getsignkey request: %v", err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if req["sign"] != refsign.Sign(req, testKey, "MD5") || req["mch_id"] != testMchID || len(req) != 3 {
			t.Errorf("getsignkey request: %v", req)
		}
		_, _ = io.WriteString(w, "<xml><return_code>SUCCESS</return_code><return_msg>ok</return_msg><mch_id>"+testMchID+
			"</mch_id><sandbox_signkey>"+tSandboxKey+"</sandbox_signkey></xml>")
	})
	mux.HandleFunc(prefix+"/pay/micropay", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		req, err := DecodeXML(b)
		if err != nil {
			t.Errorf("sandbox request: %v", err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if req["sign_type"] != "MD5" || req["sign"] != refsign.Sign(req, tSandboxKey, "MD5") {
			t.Errorf("sandbox request not MD5 under the sandbox key: sign_type=%q", req["sign_type"])
		}
		writeSigned(t, w, tSandboxKey, SignMD5, microPayOK(req))
	})
}

func TestSandbox(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ prefix, keyPath string }{
		{SandboxPrefix, "/sandboxnew/pay/getsignkey"},
		{SandboxPrefixXDC, "/xdc/apiv2getsignkey/sign/getsignkey"},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			ts := newTestServer(t)
			var fetches atomic.Int64
			sandboxFake(t, ts.Mux, tc.keyPath, tc.prefix, &fetches)
			cfg := testConfig()
			cfg.SignType = SignHMACSHA256 // the sandbox is MD5 whatever this says
			c, err := NewClient(cfg, WithBaseURL(ts.URL), WithSandbox(tc.prefix))
			require.NoError(t, err)
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := c.MicroPay(context.Background(), validMicroPay())
					assert.NoError(t, err)
				}()
			}
			wg.Wait()
			assert.EqualValues(t, 1, fetches.Load(), "the sandbox key is fetched once")
		})
	}
}

func TestSandboxVerifiesWithSandboxKey(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var fetches atomic.Int64
	sandboxFake(t, ts.Mux, "/sandboxnew/pay/getsignkey", "/elsewhere", &fetches)
	// An answer signed with the production key is not the sandbox's.
	ts.Mux.HandleFunc("/sandboxnew/pay/micropay", func(w http.ResponseWriter, r *http.Request) {
		writeSigned(t, w, testKey, SignMD5, microPayOK(Params{"total_fee": "2550", "out_trade_no": "20240501164500-0003"}))
	})
	c, err := NewClient(testConfig(), WithBaseURL(ts.URL), WithSandbox(SandboxPrefix))
	require.NoError(t, err)
	_, err = c.MicroPay(context.Background(), validMicroPay())
	assert.ErrorIs(t, err, ErrSignature)
}

func TestSandboxKeyFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, body string }{
		{"FAIL", "<xml><return_code>FAIL</return_code><return_msg>签名错误</return_msg></xml>"},
		{"no key", "<xml><return_code>SUCCESS</return_code></xml>"},
		{"short key", "<xml><return_code>SUCCESS</return_code><sandbox_signkey>abc</sandbox_signkey></xml>"},
		{"other merchant", "<xml><return_code>SUCCESS</return_code><mch_id>1</mch_id><sandbox_signkey>" + tSandboxKey + "</sandbox_signkey></xml>"},
		{"not XML", "<html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, mux, ts := setup(t, WithSandbox(SandboxPrefixXDC))
			mux.HandleFunc("/xdc/apiv2getsignkey/sign/getsignkey", rawAnswer(200, tc.body))
			for i := 0; i < 2; i++ {
				_, err := c.MicroPay(context.Background(), validMicroPay())
				require.Error(t, err)
				assert.Contains(t, err.Error(), "getsignkey")
				assert.NotContains(t, err.Error(), tSandboxKey)
				assertClean(t, err)
			}
			assert.EqualValues(t, 2, ts.Hits.Load(), "a failed fetch is not cached, and nothing else is sent")
		})
	}
	for _, p := range []string{"", "sandboxnew", "/sandboxnew/", "/a?b"} {
		_, err := NewClient(testConfig(), WithSandbox(p))
		assert.Error(t, err, p)
	}
}
