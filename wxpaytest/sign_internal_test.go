package wxpaytest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
)

// The fake signs with internal/refsign, not wxpay.Signer, so that a bug shared
// by the library and its fake cannot hide. Here that code is held to the
// published vectors (see ../testdata/README.md for their provenance).
func TestSignVectors(t *testing.T) {
	var file struct {
		Vectors []struct {
			ID       string            `json:"id"`
			Key      string            `json:"key"`
			SignType string            `json:"sign_type"`
			Params   map[string]string `json:"params"`
			Sign     string            `json:"sign"`
		} `json:"vectors"`
	}
	readJSON(t, "sign_vectors.json", &file)
	require.NotEmpty(t, file.Vectors)
	for _, v := range file.Vectors {
		t.Run(v.ID, func(t *testing.T) {
			st := wxpay.SignType(v.SignType)
			assert.Equal(t, v.Sign, signParams(v.Params, v.Key, st))
			p := map[string]string{"sign": v.Sign}
			for k, x := range v.Params {
				p[k] = x
			}
			assert.True(t, signOK(p, v.Key, st))
			p["sign"] = wrongKey(v.Sign)
			assert.False(t, signOK(p, v.Key, st))
		})
	}
}

// The /wxpaytest/pay endpoint accepts the official paySign examples and
// refuses them altered.
func TestPaySignVectors(t *testing.T) {
	var file struct {
		JSAPI []struct {
			ID        string `json:"id"`
			Key       string `json:"key"`
			AppID     string `json:"appId"`
			NonceStr  string `json:"nonceStr"`
			PrepayID  string `json:"prepay_id"`
			SignType  string `json:"signType"`
			TimeStamp string `json:"timeStamp"`
			PaySign   string `json:"paySign"`
		} `json:"jsapi"`
	}
	readJSON(t, "vectors_pay.json", &file)
	require.NotEmpty(t, file.JSAPI)
	for _, v := range file.JSAPI {
		t.Run(v.ID, func(t *testing.T) {
			f, err := New(Config{AppID: v.AppID, MchID: "10000100", APIKey: v.Key, SignType: wxpay.SignType(v.SignType)})
			require.NoError(t, err)
			defer f.Close()
			in := wxpay.JSAPIParams{
				AppID: v.AppID, TimeStamp: v.TimeStamp, NonceStr: v.NonceStr,
				Package: "prepay_id=" + v.PrepayID, SignType: wxpay.SignType(v.SignType), PaySign: v.PaySign,
			}
			assert.Empty(t, f.checkPaySign(&in))
			in.AppID = "" // wx.requestPayment passes none; the merchant's is signed
			assert.Empty(t, f.checkPaySign(&in))
			for name, mutate := range map[string]func(*wxpay.JSAPIParams){
				"timeStamp": func(p *wxpay.JSAPIParams) { p.TimeStamp += "1" },
				"nonceStr":  func(p *wxpay.JSAPIParams) { p.NonceStr += "x" },
				"package":   func(p *wxpay.JSAPIParams) { p.Package += "0" },
				"paySign":   func(p *wxpay.JSAPIParams) { p.PaySign = wrongKey(p.PaySign) },
			} {
				bad := in
				mutate(&bad)
				assert.NotEmpty(t, f.checkPaySign(&bad), name)
			}
		})
	}
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}
