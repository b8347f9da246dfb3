package wxpaytest_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// A path the fake does not serve is a 404 that says so: on a v2 path in
// v2's shape (return_code FAIL), which a v2 client reads as a refusal,
// never as another endpoint's answer; elsewhere a line of text.
func TestUnknownPath(t *testing.T) {
	s := wxpaytest.NewServer(testConfig())
	defer s.Close()
	bare := testConfig()
	bare.AppSecret = ""
	noSecret := wxpaytest.NewServer(bare)
	defer noSecret.Close()

	for _, tc := range []struct {
		name   string
		srv    *wxpaytest.Server
		method string
		path   string
		xml    bool
		says   string
	}{
		{"v2 path", s, http.MethodPost, "/pay/refund", true, "no endpoint at /pay/refund"},
		{"v2 path, GET", s, http.MethodGet, "/pay/reverse", true, "no endpoint at /pay/reverse"},
		{"certificate path", s, http.MethodPost, "/secapi/pay/refundquery", true, "no endpoint at /secapi/pay/refundquery"},
		{"near miss", s, http.MethodPost, "/pay/unifiedorder/", true, "no endpoint at /pay/unifiedorder/"},
		{"sandbox without Config.Sandbox", s, http.MethodPost, "/sandboxnew/pay/unifiedorder", true, "Config.Sandbox"},
		{"getsignkey without Config.Sandbox", s, http.MethodPost, "/xdc/apiv2getsignkey/sign/getsignkey", true, "Config.Sandbox"},
		{"unknown sandbox path", s, http.MethodPost, "/sandboxnew/pay/refund", true, "no endpoint at /sandboxnew/pay/refund"},
		{"other path", s, http.MethodGet, "/sns/unknown", false, "no endpoint at /sns/unknown"},
		{"root", s, http.MethodGet, "/", false, "no endpoint at /"},
		{"login without Config.AppSecret", noSecret, http.MethodGet, "/sns/jscode2session", false, "Config.AppSecret"},
		{"long v2 path, quoted bounded", s, http.MethodPost, "/pay/" + strings.Repeat("x", 10000), true, "/pay/xxx"},
		{"long other path, quoted bounded", s, http.MethodGet, "/" + strings.Repeat("y", 10000), false, "/yyy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, tc.srv.URL+tc.path, strings.NewReader("<xml/>"))
			require.NoError(t, err)
			resp, err := tc.srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Less(t, len(b), 512, "the answer quotes a bounded part of the path")
			if !tc.xml {
				assert.Contains(t, string(b), tc.says)
				return
			}
			p, err := wxpay.DecodeXML(b)
			require.NoError(t, err, string(b))
			assert.Equal(t, "FAIL", p["return_code"])
			assert.Contains(t, p["return_msg"], tc.says)
			assert.Len(t, p, 2, "no sign, no business fields")
		})
	}
}

// A v2 client pointed at a path the fake lacks gets an error, not
// another endpoint's answer.
func TestUnknownPathThroughLibrary(t *testing.T) {
	s := wxpaytest.NewServer(testConfig())
	defer s.Close()
	c, err := wxpay.NewClient(wxpay.Config{AppID: testAppID, MchID: testMchID, APIKey: testKey}, wxpay.WithBaseURL(s.URL+"/nowhere"))
	require.NoError(t, err)
	_, err = c.OrderQuery(context.Background(), &wxpay.OrderQueryRequest{OutTradeNo: "o-1"})
	require.Error(t, err)
	assert.Empty(t, s.Orders())
}
