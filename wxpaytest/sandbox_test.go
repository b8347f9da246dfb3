package wxpaytest_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/refsign"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

func TestSandboxGetSignKey(t *testing.T) {
	cfg := testConfig()
	cfg.Sandbox = true
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	require.Len(t, s.SandboxKey(), 32)
	require.NotEqual(t, testKey, s.SandboxKey())

	// S5 (../testdata/README.md): the getsignkey request of mch_id
	// 10000100, nonce_str ibuaiVcKdpRxkhJA under the signing doc's key,
	// signed with MD5, whose sign was computed outside this repository.
	s5 := []byte(`<xml><mch_id>10000100</mch_id><nonce_str>ibuaiVcKdpRxkhJA</nonce_str><sign>3BE08E133DAD6BD5D30EC69B26CCAEE2</sign></xml>`)
	for _, path := range []string{"/sandboxnew/pay/getsignkey", "/xdc/apiv2getsignkey/sign/getsignkey"} {
		p := post(t, s, path, s5)
		assert.Equal(t, wxpay.Params{"return_code": "SUCCESS", "return_msg": "ok", "mch_id": testMchID, "sandbox_signkey": s.SandboxKey()}, p,
			"unsigned, as WeChat's")
	}
	bad := []byte(`<xml><mch_id>10000100</mch_id><nonce_str>ibuaiVcKdpRxkhJA</nonce_str><sign>3BE08E133DAD6BD5D30EC69B26CCAEE3</sign></xml>`)
	assert.Equal(t, "FAIL", post(t, s, "/sandboxnew/pay/getsignkey", bad)["return_code"])
	hmacSigned := wire(t, wxpay.Params{"sign_type": "HMAC-SHA256"}, testKey)
	assert.Equal(t, "FAIL", post(t, s, "/sandboxnew/pay/getsignkey", hmacSigned)["return_code"], "MD5 only")

	// Sandbox paths take the sandbox key, and only it.
	order := orderFields("sb-1")
	p := post(t, s, "/sandboxnew/pay/unifiedorder", wire(t, order, s.SandboxKey()))
	require.Equal(t, "SUCCESS", p["result_code"], p)
	assert.Equal(t, refsign.Sign(p, s.SandboxKey(), "MD5"), p["sign"])
	p = post(t, s, "/sandboxnew/pay/unifiedorder", wire(t, orderFields("sb-2"), testKey))
	assert.Equal(t, wxpay.Params{"return_code": "FAIL", "return_msg": "沙箱验证签名失败，请确认沙箱签名key是否正确(通过getsignkey调用生成)"}, p)
	p = post(t, s, "/pay/unifiedorder", wire(t, orderFields("sb-3"), s.SandboxKey()))
	assert.Equal(t, "签名错误", p["return_msg"], "production paths keep the API key")

	// Without Config.Sandbox there is no sandbox.
	prod := wxpaytest.NewServer(testConfig())
	defer prod.Close()
	resp, err := prod.Client().Post(prod.URL+"/sandboxnew/pay/getsignkey", "text/xml", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Empty(t, prod.SandboxKey())
}

func TestSandboxThroughLibrary(t *testing.T) {
	for _, prefix := range []string{wxpay.SandboxPrefix, wxpay.SandboxPrefixXDC} {
		t.Run(prefix, func(t *testing.T) {
			cfg := testConfig()
			cfg.Sandbox = true
			cfg.SignType = wxpay.SignHMACSHA256 // the sandbox still wants MD5
			s := wxpaytest.NewServer(cfg)
			defer s.Close()
			c, err := wxpay.NewClient(wxpay.Config{AppID: testAppID, MchID: testMchID, APIKey: testKey, SignType: wxpay.SignHMACSHA256,
				NotifyURL: "https://example.com/notify"}, wxpay.WithBaseURL(s.URL), wxpay.WithHTTPClient(s.Client()), wxpay.WithSandbox(prefix))
			require.NoError(t, err)
			_, err = c.UnifiedOrder(ctxT(t), jsapiOrder("sbl-1", 101))
			require.NoError(t, err)
			_, err = s.Pay(wxpaytest.PayOptions{OutTradeNo: "sbl-1", NoNotify: true})
			require.NoError(t, err)
			q, err := c.OrderQuery(ctxT(t), &wxpay.OrderQueryRequest{OutTradeNo: "sbl-1"})
			require.NoError(t, err)
			assert.Equal(t, wxpay.TradeStateSuccess, q.TradeState)
		})
	}
}
