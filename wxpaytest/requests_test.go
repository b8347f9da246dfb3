package wxpaytest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// with returns a valid unifiedorder request with fields changed; an empty
// value removes a field.
func with(changes wxpay.Params) wxpay.Params {
	p := orderFields("bad-1")
	for k, v := range changes {
		if v == "" {
			delete(p, k)
		} else {
			p[k] = v
		}
	}
	return p
}

// Every malformed request gets WeChat's protocol-layer answer:
// return_code FAIL and a return_msg, nothing else, unsigned; and it
// creates nothing.
func TestBadRequests(t *testing.T) {
	s := wxpaytest.NewServer(testConfig())
	defer s.Close()
	md5 := func(p wxpay.Params) []byte { return signed(t, p, testKey, wxpay.SignMD5) }
	tests := []struct {
		name    string
		path    string
		body    []byte
		wantMsg string
	}{
		{"empty body", "/pay/unifiedorder", nil, "post数据为空"},
		{"not XML", "/pay/unifiedorder", []byte("hello"), "XML格式错误"},
		{"DOCTYPE", "/pay/unifiedorder", []byte(`<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><a>&x;</a></xml>`), "XML格式错误"},
		{"duplicate field", "/pay/unifiedorder", []byte("<xml><total_fee>1</total_fee><total_fee>2</total_fee></xml>"), "XML格式错误"},
		{"oversized", "/pay/unifiedorder", []byte("<xml><a>" + strings.Repeat("x", 70<<10) + "</a></xml>"), "XML格式错误"},
		{"no sign", "/pay/unifiedorder", func() []byte {
			b, _ := wxpay.EncodeXML(wxpay.Params{"appid": testAppID, "mch_id": testMchID, "nonce_str": "n"})
			return b
		}(), "缺少参数sign"},
		{"wrong key", "/pay/unifiedorder", signed(t, orderFields("bad-1"), "00000000000000000000000000000000", wxpay.SignMD5), "签名错误"},
		{"tampered after signing", "/pay/unifiedorder", []byte(strings.Replace(string(md5(orderFields("bad-1"))), "<total_fee>100<", "<total_fee>1<", 1)), "签名错误"},
		{"HMAC sign for an MD5 merchant", "/pay/unifiedorder", signed(t, with(wxpay.Params{"sign_type": "HMAC-SHA256"}), testKey, wxpay.SignHMACSHA256), "签名错误"},
		{"unknown sign_type", "/pay/unifiedorder", md5(with(wxpay.Params{"sign_type": "SHA1"})), "sign_type参数格式错误"},
		{"other mch_id", "/pay/unifiedorder", md5(with(wxpay.Params{"mch_id": "10000101"})), "商户号mch_id或sub_mch_id不存在"},
		{"long nonce_str", "/pay/unifiedorder", md5(with(wxpay.Params{"nonce_str": strings.Repeat("n", 33)})), "nonce_str参数长度有误"},
		{"no body", "/pay/unifiedorder", md5(with(wxpay.Params{"body": ""})), "缺少参数body"},
		{"no out_trade_no", "/pay/unifiedorder", md5(with(wxpay.Params{"out_trade_no": ""})), "缺少参数out_trade_no"},
		{"no total_fee", "/pay/unifiedorder", md5(with(wxpay.Params{"total_fee": ""})), "缺少参数total_fee"},
		{"no spbill_create_ip", "/pay/unifiedorder", md5(with(wxpay.Params{"spbill_create_ip": ""})), "缺少参数spbill_create_ip"},
		{"no notify_url", "/pay/unifiedorder", md5(with(wxpay.Params{"notify_url": ""})), "缺少参数notify_url"},
		{"no trade_type", "/pay/unifiedorder", md5(with(wxpay.Params{"trade_type": ""})), "缺少参数trade_type"},
		{"out_trade_no of 33", "/pay/unifiedorder", md5(with(wxpay.Params{"out_trade_no": strings.Repeat("1", 33)})), "out_trade_no参数格式错误"},
		{"out_trade_no charset", "/pay/unifiedorder", md5(with(wxpay.Params{"out_trade_no": "a#b"})), "out_trade_no参数格式错误"},
		{"out_trade_no space", "/pay/unifiedorder", md5(with(wxpay.Params{"out_trade_no": "a b"})), "out_trade_no参数格式错误"},
		{"total_fee 0", "/pay/unifiedorder", md5(with(wxpay.Params{"total_fee": "0"})), "invalid total_fee"},
		{"total_fee negative", "/pay/unifiedorder", md5(with(wxpay.Params{"total_fee": "-1"})), "invalid total_fee"},
		{"total_fee yuan", "/pay/unifiedorder", md5(with(wxpay.Params{"total_fee": "1.00"})), "invalid total_fee"},
		{"total_fee leading zero", "/pay/unifiedorder", md5(with(wxpay.Params{"total_fee": "0100"})), "invalid total_fee"},
		{"total_fee overflow", "/pay/unifiedorder", md5(with(wxpay.Params{"total_fee": "99999999999999999999"})), "invalid total_fee"},
		{"spbill_create_ip", "/pay/unifiedorder", md5(with(wxpay.Params{"spbill_create_ip": "localhost"})), "invalid spbill_create_ip"},
		{"notify_url relative", "/pay/unifiedorder", md5(with(wxpay.Params{"notify_url": "/notify"})), "invalid notify_url"},
		{"notify_url query", "/pay/unifiedorder", md5(with(wxpay.Params{"notify_url": "https://example.com/notify?id=1"})), "invalid notify_url"},
		{"notify_url scheme", "/pay/unifiedorder", md5(with(wxpay.Params{"notify_url": "ftp://example.com/notify"})), "invalid notify_url"},
		{"trade_type", "/pay/unifiedorder", md5(with(wxpay.Params{"trade_type": "MICROPAY"})), "invalid trade_type"},
		{"JSAPI without openid", "/pay/unifiedorder", md5(with(wxpay.Params{"openid": ""})), "JSAPI支付必须传openid"},
		{"NATIVE without product_id", "/pay/unifiedorder", md5(with(wxpay.Params{"trade_type": "NATIVE", "openid": ""})), "NATIVE支付必须传product_id"},
		{"body too long", "/pay/unifiedorder", md5(with(wxpay.Params{"body": strings.Repeat("测", 43)})), "body参数长度有误"},
		{"fee_type", "/pay/unifiedorder", md5(with(wxpay.Params{"fee_type": "USD"})), "fee_type参数格式错误"},
		{"time_expire format", "/pay/unifiedorder", md5(with(wxpay.Params{"time_expire": "2026-03-01 10:00"})), "time_expire时间格式错误"},
		{"time_expire past", "/pay/unifiedorder", md5(with(wxpay.Params{"time_expire": "20200101000000"})), "time_expire时间过短"},
		{"time_start format", "/pay/unifiedorder", md5(with(wxpay.Params{"time_start": "yesterday"})), "time_start时间格式错误"},
		{"orderquery without a number", "/pay/orderquery", md5(nil), "缺少参数out_trade_no"},
		{"orderquery bad number", "/pay/orderquery", md5(wxpay.Params{"out_trade_no": "a#b"}), "out_trade_no参数格式错误"},
		{"closeorder without a number", "/pay/closeorder", md5(nil), "缺少参数out_trade_no"},
		{"closeorder bad number", "/pay/closeorder", md5(wxpay.Params{"out_trade_no": strings.Repeat("x", 40)}), "out_trade_no参数格式错误"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := post(t, s, tt.path, tt.body)
			assert.Equal(t, wxpay.Params{"return_code": "FAIL", "return_msg": tt.wantMsg}, p)
			assert.Empty(t, s.Orders(), "a refused request creates nothing")
		})
	}

	t.Run("GET", func(t *testing.T) {
		resp, err := s.Client().Get(s.URL + "/pay/unifiedorder")
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		p, err := wxpay.DecodeXML(b)
		require.NoError(t, err)
		assert.Equal(t, wxpay.Params{"return_code": "FAIL", "return_msg": "请使用post方法"}, p)
	})
	t.Run("unknown path", func(t *testing.T) {
		resp, err := s.Client().Post(s.URL+"/pay/refund", "text/xml", strings.NewReader("<xml/>"))
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	})
}

// A well-signed request naming another appid gets a signed business
// failure, as WeChat knows the merchant but not the pairing.
func TestOtherAppID(t *testing.T) {
	s := wxpaytest.NewServer(testConfig())
	defer s.Close()
	p := post(t, s, "/pay/unifiedorder", signed(t, with(wxpay.Params{"appid": "wx0000000000000000"}), testKey, wxpay.SignMD5))
	assert.Equal(t, "SUCCESS", p["return_code"])
	assert.Equal(t, "FAIL", p["result_code"])
	assert.Equal(t, "APPID_MCHID_NOT_MATCH", p["err_code"])
	requireSignedBy(t, p, testKey, wxpay.SignMD5)
	assert.Empty(t, s.Orders())
}

// An HMAC merchant's requests must say sign_type=HMAC-SHA256; the answers
// are HMAC-signed.
func TestHMACMerchant(t *testing.T) {
	cfg := testConfig()
	cfg.SignType = wxpay.SignHMACSHA256
	s := wxpaytest.NewServer(cfg)
	defer s.Close()

	// MD5, whether sign_type says so or is absent (WeChat's default).
	p := post(t, s, "/pay/unifiedorder", signed(t, orderFields("h-1"), testKey, wxpay.SignMD5))
	assert.Equal(t, "签名错误", p["return_msg"])
	p = post(t, s, "/pay/unifiedorder", signed(t, with(wxpay.Params{"sign_type": "MD5"}), testKey, wxpay.SignMD5))
	assert.Equal(t, "签名错误", p["return_msg"])
	// HMAC without sign_type is verified as MD5, WeChat's default, and fails.
	p = post(t, s, "/pay/unifiedorder", signed(t, orderFields("h-1"), testKey, wxpay.SignHMACSHA256))
	assert.Equal(t, "签名错误", p["return_msg"])

	req := orderFields("h-1")
	req["sign_type"] = "HMAC-SHA256"
	p = post(t, s, "/pay/unifiedorder", signed(t, req, testKey, wxpay.SignHMACSHA256))
	require.Equal(t, "SUCCESS", p["result_code"], p)
	assert.Len(t, p["sign"], 64)
	requireSignedBy(t, p, testKey, wxpay.SignHMACSHA256)
}

// The fake answers in WeChat's shapes: every field the docs list for a
// successful unifiedorder and orderquery.
func TestAnswerShapes(t *testing.T) {
	s := wxpaytest.NewServer(testConfig())
	defer s.Close()
	req := orderFields("shape-1")
	req["device_info"] = "WEB"
	p := post(t, s, "/pay/unifiedorder", signed(t, req, testKey, wxpay.SignMD5))
	for _, k := range []string{"return_code", "return_msg", "appid", "mch_id", "nonce_str", "sign", "result_code", "prepay_id", "trade_type", "device_info"} {
		assert.NotEmpty(t, p[k], k)
	}
	assert.Len(t, p["prepay_id"], 36)
	assert.True(t, strings.HasPrefix(p["prepay_id"], "wx"))
	requireSignedBy(t, p, testKey, wxpay.SignMD5)

	q := post(t, s, "/pay/orderquery", signed(t, wxpay.Params{"out_trade_no": "shape-1"}, testKey, wxpay.SignMD5))
	assert.Equal(t, "NOTPAY", q["trade_state"])
	assert.NotContains(t, q, "total_fee", "details come only with SUCCESS")
	requireSignedBy(t, q, testKey, wxpay.SignMD5)

	_, err := s.Pay(wxpaytest.PayOptions{OutTradeNo: "shape-1", NoNotify: true})
	require.NoError(t, err)
	q = post(t, s, "/pay/orderquery", signed(t, wxpay.Params{"out_trade_no": "shape-1"}, testKey, wxpay.SignMD5))
	for _, k := range []string{"openid", "is_subscribe", "trade_type", "trade_state", "bank_type", "total_fee", "fee_type", "cash_fee", "transaction_id", "out_trade_no", "time_end", "trade_state_desc", "device_info"} {
		assert.NotEmpty(t, q[k], k)
	}
	assert.Len(t, q["transaction_id"], 28)
	requireSignedBy(t, q, testKey, wxpay.SignMD5)

	native := with(wxpay.Params{"trade_type": "NATIVE", "openid": "", "product_id": "p1", "out_trade_no": "n-1"})
	p = post(t, s, "/pay/unifiedorder", signed(t, native, testKey, wxpay.SignMD5))
	assert.True(t, strings.HasPrefix(p["code_url"], "weixin://wxpay/bizpayurl?pr="), p["code_url"])
	mweb := with(wxpay.Params{"trade_type": "MWEB", "openid": "", "out_trade_no": "m-1"})
	p = post(t, s, "/pay/unifiedorder", signed(t, mweb, testKey, wxpay.SignMD5))
	assert.True(t, strings.HasPrefix(p["mweb_url"], "https://wx.tenpay.com/"), p["mweb_url"])
}
