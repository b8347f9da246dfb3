package wxpaytest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// /wxpaytest/pay refuses what WeChat's server refuses, and pays nothing.
func TestPayEndpointRefusals(t *testing.T) {
	s := wxpaytest.NewServer(testConfig())
	defer s.Close()
	c := newClient(t, s, "", "https://example.com/notify")
	resp, err := c.UnifiedOrder(ctxT(t), jsapiOrder("u-1", 100))
	require.NoError(t, err)
	good, err := c.JSAPIParams(resp.PrepayID)
	require.NoError(t, err)
	hmacClient, err := wxpay.NewClient(wxpay.Config{AppID: testAppID, MchID: testMchID, APIKey: testKey, SignType: wxpay.SignHMACSHA256})
	require.NoError(t, err)
	hmacParams, err := hmacClient.JSAPIParams(resp.PrepayID)
	require.NoError(t, err)
	otherKey, err := wxpay.NewClient(wxpay.Config{AppID: testAppID, MchID: testMchID, APIKey: strings.Repeat("k", 32)})
	require.NoError(t, err)
	forged, err := otherKey.JSAPIParams(resp.PrepayID)
	require.NoError(t, err)

	tests := []struct {
		name   string
		in     wxpay.JSAPIParams
		status int
	}{
		{"other appId", func() wxpay.JSAPIParams { p := *good; p.AppID = "wx0000000000000000"; return p }(), http.StatusBadRequest},
		{"timeStamp not seconds", func() wxpay.JSAPIParams { p := *good; p.TimeStamp = "1.5"; return p }(), http.StatusBadRequest},
		{"no nonceStr", func() wxpay.JSAPIParams { p := *good; p.NonceStr = ""; return p }(), http.StatusBadRequest},
		{"package shape", func() wxpay.JSAPIParams { p := *good; p.Package = resp.PrepayID; return p }(), http.StatusBadRequest},
		{"no paySign", func() wxpay.JSAPIParams { p := *good; p.PaySign = ""; return p }(), http.StatusBadRequest},
		{"HMAC for an MD5 order", *hmacParams, http.StatusBadRequest},
		{"signed with another key", *forged, http.StatusBadRequest},
		{"changed after signing", func() wxpay.JSAPIParams { p := *good; p.TimeStamp += "0"; return p }(), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := postJSON(t, s.URL+"/wxpaytest/pay", tt.in)
			assert.Equal(t, tt.status, status)
			assert.NotEmpty(t, out["error"])
			assert.True(t, strings.HasPrefix(out["err_msg"], "requestPayment:fail"), out["err_msg"])
			o, _ := s.Order("u-1")
			assert.Equal(t, wxpaytest.StateNotPay, o.State)
		})
	}

	// A well-signed package for an unknown prepay_id.
	unknown, err := c.JSAPIParams("wx000000000000000000000000000000000")
	require.NoError(t, err)
	status, _ := postJSON(t, s.URL+"/wxpaytest/pay", unknown)
	assert.Equal(t, http.StatusNotFound, status)

	resp2, err := http.Get(s.URL + "/wxpaytest/pay")
	require.NoError(t, err)
	resp2.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp2.StatusCode)

	status, out := postJSON(t, s.URL+"/wxpaytest/pay", good)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "requestPayment:ok", out["err_msg"])
}

// The TLS variant works with its own client, as httptest's does.
func TestTLSServer(t *testing.T) {
	s := wxpaytest.NewTLSServer(testConfig())
	defer s.Close()
	require.True(t, strings.HasPrefix(s.URL, "https://"))
	c := newClient(t, s, "", "https://example.com/notify")
	resp, err := c.UnifiedOrder(ctxT(t), jsapiOrder("tls-1", 1))
	require.NoError(t, err)
	assert.NotEmpty(t, resp.PrepayID)
	_, err = http.Get(s.URL + "/pay/unifiedorder")
	assert.Error(t, err, "the default client does not trust httptest's certificate")
}
