package wxpaytest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// NotificationBody reproduces the published notification vectors S1 and
// S2 (../testdata/notify): the same fields and the same sign.
func TestNotificationBodyVectors(t *testing.T) {
	tests := []struct {
		file string
		st   wxpay.SignType
	}{
		{"s1_md5.xml", wxpay.SignMD5},
		{"s1_hmac.xml", wxpay.SignHMACSHA256},
		{"s2_hmac_sign_type.xml", wxpay.SignHMACSHA256},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "testdata", "notify", tt.file))
			require.NoError(t, err)
			want, err := wxpay.DecodeXML(raw)
			require.NoError(t, err)
			fields := wxpay.Params{}
			for k, v := range want {
				if k != "sign" {
					fields[k] = v
				}
			}
			cfg := wxpaytest.Config{AppID: want["appid"], MchID: want["mch_id"], APIKey: testKey, SignType: tt.st}
			body, err := wxpaytest.NotificationBody(cfg, fields)
			require.NoError(t, err)
			got, err := wxpay.DecodeXML(body)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

// A built notification passes the library's ParseNotification, and the
// defaults fill WeChat's protocol fields.
func TestNotificationBodyDefaults(t *testing.T) {
	for _, st := range []wxpay.SignType{"", wxpay.SignMD5, wxpay.SignHMACSHA256} {
		cfg := testConfig()
		cfg.SignType = st
		body, err := wxpaytest.NotificationBody(cfg, wxpay.Params{
			"out_trade_no": "o-1", "transaction_id": "4200000000202603010000000001",
			"total_fee": "100", "cash_fee": "100", "openid": "o1", "trade_type": "JSAPI",
			"bank_type": "OTHERS", "time_end": "20260301100000",
		})
		require.NoError(t, err)
		c, err := wxpay.NewClient(wxpay.Config{AppID: testAppID, MchID: testMchID, APIKey: testKey, SignType: st})
		require.NoError(t, err)
		n, err := c.ParseNotification(body)
		require.NoError(t, err, st)
		assert.True(t, n.Paid())
		assert.Equal(t, int64(100), n.TotalFee)
		p, err := wxpay.DecodeXML(body)
		require.NoError(t, err)
		assert.Len(t, p["nonce_str"], 32)
		assert.NotContains(t, p, "sign_type", "WeChat omits sign_type from notifications")
	}

	_, err := wxpaytest.NotificationBody(wxpaytest.Config{}, nil)
	assert.Error(t, err)
	_, err = wxpaytest.NotificationBody(wxpaytest.Config{APIKey: testKey, SignType: "SHA1"}, nil)
	assert.Error(t, err)
}
