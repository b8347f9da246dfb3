package wxpaytest_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay/internal/v3wire"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// The fake's checks against WeChat's published vectors, not only against
// the client it serves (testdata/v3, see its PROVENANCE.md).
func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/v3/" + name)
	require.NoError(t, err)
	return b
}

// The documentation's JSAPI request, signed by the documentation key,
// passes the fake's Authorization check at the documented time.
func TestV3FakeAcceptsOfficialRequestVector(t *testing.T) {
	at := time.Unix(1554208460, 0)
	f, err := wxpaytest.New(wxpaytest.Config{
		AppID: "wxd678efh567hg6787", MchID: "1230000109", APIKey: testKey, APIv3Key: testAPIv3Key,
		MerchantSerialNo: "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C", MerchantPublicKey: readVector(t, "k-off.pub.pem"),
		Now: func() time.Time { return at },
	})
	require.NoError(t, err)
	defer f.Close()
	body := `{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}`
	const sig = "gEuexJ547PHFV77TQ6eiE4tphVYfWfUe1Wc2dBmVnoMYU2rl/M4zhw+b3vBhuMw6AC7pteNkryLA7UWU2h+umo0OdSuuLm1++O3NckQPCSfm6dypsjn4GYm84KMqXWFrhFmyxEwIdEJDr3w1UYfxOcu55OQupfLkrt/ZzuOspnliJFrPzGQFUk7lGqMMtpz3EfbDUNxnVsHblORg3hVmuYNmbGWnS2ovU30Y2Q+iKFDxzkaXBk8LTy6HzvxizRo6Q+J4SVM7O0hKXfgo1QdI68kpzNULb3EVBXlhTyPUzhkHzzLxECL1qHl3HH2hEv8++C+4wBlsagF3j/O6PABojA=="
	auth := v3wire.Authorization{MchID: "1230000109", NonceStr: "593BEC0C930BF1AFEB40B4A08C8FB242", Timestamp: "1554208460",
		SerialNo: "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C", Signature: sig}
	r := &v3Req{method: "POST", uri: "/v3/pay/transactions/jsapi", body: []byte(body), header: http.Header{}}
	r.header.Set("Accept", "application/json")
	r.header.Set("User-Agent", "doc-example")
	r.header.Set("Content-Type", "application/json")
	r.header.Set("Authorization", auth.Header())
	w := r.serve(f)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `"prepay_id":"wx`)

	// One byte of the body changed: the same signature is refused.
	r.body = []byte(strings.Replace(body, `"total":100`, `"total":101`, 1))
	w = r.serve(f)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
}

// The official mini-program paySign test data passes the fake's paySign
// check.
func TestV3FakeAcceptsOfficialPaySignVector(t *testing.T) {
	at := time.Unix(1554208460, 0)
	s := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wx2421b1c4370ec43b", MchID: "1230000109", APIKey: testKey, APIv3Key: testAPIv3Key,
		MerchantSerialNo: "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C", MerchantPublicKey: readVector(t, "k-off.pub.pem"),
		Now: func() time.Time { return at },
	})
	defer s.Close()
	require.NoError(t, s.RestoreOrder(wxpaytest.Order{
		OutTradeNo: "vector000001", PrepayID: "wx201410272009395522657a690389285100", State: wxpaytest.StateNotPay,
		TotalFee: 1, NotifyURL: "https://example.com/n", APIv3: true,
	}))
	s.DropNotifications("vector000001")
	p := &v3PayParams{
		TimeStamp: "1554208460", NonceStr: "593BEC0C930BF1AFEB40B4A08C8FB242",
		Package: "prepay_id=wx201410272009395522657a690389285100", SignType: "RSA",
		PaySign: "mI35pfNEQV6777ke/1T+LJLQDNTm7yeoUJH+j/adPGhmCCi0PbgkvYQTRcXH0uibcLVtvFLdGLpmoYO9FV6lBBsTAjuhh5YOvQi0e2g3e0yytitiNET9FEuqM0pjnKfRW4K6LIZDdbWJv9KhZUx3DrJa5TL7OJ7VdADVivxVySIlPVKjGwuCXzuXSJes0UcILgWQUMyha5/3nYofuHtS7r+KYyMuxD+oJ9VM1Qdxk4UIG59CP5Y3wtYIFybyF3bdu1caHTRRX+DLyMXyYA/IrTmiW01c4RPjpHBX5Dk1sZyY1zVsWNsvMHr2e1NTWtBxKJ+qk5N61J7caYoepHFaxw==",
	}
	bad := *p
	bad.TimeStamp = "1554208461"
	st, out := payOverHTTPRaw(t, s, &bad)
	assert.Equal(t, http.StatusBadRequest, st, out)
	st, out = payOverHTTPRaw(t, s, p)
	assert.Equal(t, http.StatusOK, st, out)
}

// v3PayParams is wx.requestPayment's arguments as a mini-program sends
// them (no appId).
type v3PayParams struct {
	TimeStamp string `json:"timeStamp"`
	NonceStr  string `json:"nonceStr"`
	Package   string `json:"package"`
	SignType  string `json:"signType"`
	PaySign   string `json:"paySign"`
}

// The fake's answers, signed with Config.WeChatPayKey = the
// documentation key, verify under the published public key.
func TestV3FakeSignsWithConfiguredKey(t *testing.T) {
	cfg := v3Config(wxpaytest.V3SignPublicKey)
	cfg.WeChatPayKey = readVector(t, "k-off.pem")
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	assert.Equal(t, strings.TrimSpace(string(readVector(t, "k-off.pub.pem"))), strings.TrimSpace(string(s.V3PublicKeyPEM())))
	r := newV3Req(t, s.Fake, "GET", "/v3/pay/transactions/out-trade-no/nosuch0001?mchid="+testMchID, nil)
	w := r.serve(s.Fake)
	require.Equal(t, http.StatusNotFound, w.Code)
	h := w.Header()
	msg := v3wire.AnswerMessage(h.Get("Wechatpay-Timestamp"), h.Get("Wechatpay-Nonce"), w.Body.Bytes())
	assert.NoError(t, verifyWithPEM(t, readVector(t, "k-off.pub.pem"), msg, h.Get("Wechatpay-Signature")))
	assert.Equal(t, s.V3PublicKeyID(), h.Get("Wechatpay-Serial"))
}

func payOverHTTPRaw(t testing.TB, s *wxpaytest.Server, v any) (int, map[string]string) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	resp, err := s.Client().Post(s.URL+"/wxpaytest/pay", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func verifyWithPEM(t testing.TB, pubPEM, msg []byte, sig string) error {
	t.Helper()
	block, _ := pem.Decode(pubPEM)
	require.NotNil(t, block)
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	require.NoError(t, err)
	return v3wire.Verify(k.(*rsa.PublicKey), msg, sig)
}
