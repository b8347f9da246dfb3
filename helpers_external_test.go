package wxpay_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/refsign"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// The merchant of the external tests: the official signing example's
// appid, mch_id and key (WeChat Pay docs, 安全规范), which the published
// notification vectors in testdata/notify are signed with.
const (
	xAppID  = "wxd930ea5d5a258f4f"
	xMchID  = "10000100"
	xAPIKey = "192006250b4c09247ec02edce69f6a2d"
	xNotify = "https://shop.example.com/wxpay/notify"
)

func xConfig(st wxpay.SignType) wxpay.Config {
	return wxpay.Config{AppID: xAppID, MchID: xMchID, APIKey: xAPIKey, SignType: st, NotifyURL: xNotify}
}

func xClient(tb testing.TB, st wxpay.SignType, opts ...wxpay.Option) *wxpay.Client {
	tb.Helper()
	c, err := wxpay.NewClient(xConfig(st), opts...)
	require.NoError(tb, err)
	return c
}

// xS1 returns the fields of the published S1 notification, without sign.
func xS1(tb testing.TB) wxpay.Params {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "notify", "s1_md5.xml"))
	require.NoError(tb, err)
	p, err := wxpay.DecodeXML(b)
	require.NoError(tb, err)
	delete(p, "sign")
	return p
}

// xSigned signs p with the plain definition of the signature (never the
// signer under test) and encodes it.
func xSigned(tb testing.TB, st wxpay.SignType, p wxpay.Params) []byte {
	tb.Helper()
	q := xWith(p)
	q["sign"] = refsign.Sign(q, xAPIKey, string(st))
	b, err := wxpay.EncodeXML(q)
	require.NoError(tb, err)
	return b
}

// xWith returns a copy of p with the given name/value pairs set; a value
// of "\x00" deletes the field.
func xWith(p wxpay.Params, kv ...string) wxpay.Params {
	q := make(wxpay.Params, len(p)+len(kv)/2)
	for k, v := range p {
		q[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "\x00" {
			delete(q, kv[i])
		} else {
			q[kv[i]] = kv[i+1]
		}
	}
	return q
}

// xFake starts a fake WeChat (wxpaytest) for the test merchant, closed
// when the test ends; edit, if given, changes its configuration first.
func xFake(tb testing.TB, edit ...func(*wxpaytest.Config)) *wxpaytest.Server {
	tb.Helper()
	cfg := wxpaytest.Config{AppID: xAppID, MchID: xMchID, APIKey: xAPIKey}
	for _, e := range edit {
		e(&cfg)
	}
	wx := wxpaytest.NewServer(cfg)
	tb.Cleanup(wx.Close)
	return wx
}

// xOrder is a JSAPI order the fake accepts.
func xOrder(outTradeNo string) *wxpay.UnifiedOrderRequest {
	return &wxpay.UnifiedOrderRequest{
		Body: "腾讯充值中心-QQ会员充值", OutTradeNo: outTradeNo, TotalFee: 888,
		SpbillCreateIP: "123.12.12.123", TradeType: wxpay.TradeJSAPI, OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
	}
}

// xAssertClean checks the house rules every error follows: the wxpay:
// prefix, one line, never the API key.
func xAssertClean(tb testing.TB, err error) {
	tb.Helper()
	require.Error(tb, err)
	msg := err.Error()
	assert.NotContains(tb, msg, xAPIKey, "error text must never contain the API key")
	assert.True(tb, strings.HasPrefix(msg, "wxpay: "), "error %q lacks the wxpay: prefix", msg)
	assert.NotContains(tb, msg, "\n")
}
