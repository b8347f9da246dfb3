package wxpaytest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

const testAPIv3Key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"

// v3Config is testConfig with API v3 on.
func v3Config(signer wxpaytest.V3Signer) wxpaytest.Config {
	cfg := testConfig()
	cfg.APIv3Key = testAPIv3Key
	cfg.V3Signer = signer
	return cfg
}

func newV3(t testing.TB, cfg wxpaytest.Config) (*wxpaytest.Server, *apiv3.Client) {
	t.Helper()
	s := wxpaytest.NewServer(cfg)
	t.Cleanup(s.Close)
	c, err := apiv3.NewClient(s.APIv3Config(), s.APIv3Options()...)
	require.NoError(t, err)
	return s, c
}

// paymentSink is a merchant's notify_url served by apiv3's NotifyHandler:
// it records each payment it accepted.
type paymentSink struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []*apiv3.PaymentNotification
	ch  chan *apiv3.PaymentNotification
}

func newPaymentSink(t testing.TB, c *apiv3.Client) *paymentSink {
	p := &paymentSink{ch: make(chan *apiv3.PaymentNotification, 16)}
	p.srv = httptest.NewServer(c.NotifyHandler(func(_ context.Context, n *apiv3.PaymentNotification) error {
		p.mu.Lock()
		p.got = append(p.got, n)
		p.mu.Unlock()
		p.ch <- n
		return nil
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func v3JSAPIOrder(outTradeNo, notifyURL string) apiv3.PrepayRequest {
	return apiv3.PrepayRequest{
		Description: "Image形象店-深圳腾大-QQ公仔",
		OutTradeNo:  outTradeNo,
		NotifyURL:   notifyURL,
		Amount:      apiv3.Amount{Total: 100},
		Payer:       &apiv3.Payer{OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
	}
}

// payOverHTTP plays wx.requestPayment with the v3 pay parameters.
func payOverHTTP(t testing.TB, s *wxpaytest.Server, p *apiv3.JSAPIPayParams) (int, map[string]string) {
	t.Helper()
	b, err := json.Marshal(p)
	require.NoError(t, err)
	resp, err := s.Client().Post(s.URL+"/wxpaytest/pay", "application/json", strings.NewReader(string(b)))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// The v3 core in each signing mode: prepay, query, pay with the RSA
// paySign over HTTP, the notification verified and decrypted by apiv3,
// query again.
func TestV3PrepayPayQuery(t *testing.T) {
	for _, signer := range []wxpaytest.V3Signer{wxpaytest.V3SignPublicKey, wxpaytest.V3SignCertificate, wxpaytest.V3SignBoth} {
		t.Run(signer.String(), func(t *testing.T) {
			s, c := newV3(t, v3Config(signer))
			sink := newPaymentSink(t, c)
			ctx := ctxT(t)

			pr, err := c.PrepayJSAPI(ctx, v3JSAPIOrder("v3order001", sink.srv.URL))
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(pr.PrepayID, "wx"), pr.PrepayID)
			again, err := c.PrepayJSAPI(ctx, v3JSAPIOrder("v3order001", sink.srv.URL))
			require.NoError(t, err)
			assert.Equal(t, pr.PrepayID, again.PrepayID, "re-entry with the same parameters")

			tx, err := c.QueryByOutTradeNo(ctx, "v3order001")
			require.NoError(t, err)
			assert.Equal(t, apiv3.TradeState("NOTPAY"), tx.TradeState)
			assert.Equal(t, int64(100), tx.Amount.Total)

			pp, err := c.JSAPIPayParams("", pr.PrepayID)
			require.NoError(t, err)
			bad := *pp
			bad.NonceStr = "X" + bad.NonceStr[1:]
			if bad.NonceStr == pp.NonceStr {
				bad.NonceStr = "Y" + bad.NonceStr[1:]
			}
			st, out := payOverHTTP(t, s, &bad)
			assert.Equal(t, http.StatusBadRequest, st)
			assert.Equal(t, "paySign is wrong", out["error"])
			st, out = payOverHTTP(t, s, pp)
			require.Equal(t, http.StatusOK, st, out)

			n := <-sink.ch
			assert.Equal(t, "v3order001", n.Transaction.OutTradeNo)
			assert.Equal(t, out["transaction_id"], n.Transaction.TransactionID)
			assert.Equal(t, int64(100), n.Transaction.Amount.Total)
			require.NoError(t, s.WaitAcked(ctx, "v3order001"))
			ds := s.Deliveries("v3order001")
			require.NotEmpty(t, ds)
			assert.Equal(t, http.StatusNoContent, ds[0].StatusCode)
			assert.True(t, ds[0].Acked)
			assert.NotEmpty(t, ds[0].Header.Get("Wechatpay-Signature"))

			tx, err = c.QueryByOutTradeNo(ctx, "v3order001")
			require.NoError(t, err)
			assert.Equal(t, apiv3.TradeSuccess, tx.TradeState)
			tx2, err := c.QueryByTransactionID(ctx, tx.TransactionID)
			require.NoError(t, err)
			assert.Equal(t, "v3order001", tx2.OutTradeNo)

			_, err = c.PrepayJSAPI(ctx, v3JSAPIOrder("v3order001", sink.srv.URL))
			var we *apiv3.Error
			require.ErrorAs(t, err, &we)
			assert.Equal(t, apiv3.ErrCodeOrderPaid, we.Code)
			assert.True(t, we.Verified, "an error answer to a verified request is signed")
		})
	}
}

func TestV3PrepayKinds(t *testing.T) {
	_, c := newV3(t, v3Config(wxpaytest.V3SignPublicKey))
	ctx := ctxT(t)
	req := v3JSAPIOrder("v3kinds01", "https://example.com/notify")
	req.Payer = nil
	app, err := c.PrepayApp(ctx, req)
	require.NoError(t, err)
	assert.NotEmpty(t, app.PrepayID)
	req.OutTradeNo = "v3kinds02"
	nat, err := c.PrepayNative(ctx, req)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(nat.CodeURL, "weixin://wxpay/bizpayurl?pr="), nat.CodeURL)
	req.OutTradeNo = "v3kinds03"
	req.SceneInfo = &apiv3.SceneInfo{PayerClientIP: "203.0.113.7", H5Info: &apiv3.H5Info{Type: apiv3.H5Wap}}
	h5, err := c.PrepayH5(ctx, req)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(h5.H5URL, "https://wx.tenpay.com/"), h5.H5URL)

	// The same out_trade_no through another endpoint, or with another
	// amount, is WeChat's re-entry error.
	req.SceneInfo = nil
	req.OutTradeNo = "v3kinds01"
	_, err = c.PrepayNative(ctx, req)
	var we *apiv3.Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, apiv3.ErrCodeInvalidRequest, we.Code)
	assert.Equal(t, http.StatusBadRequest, we.StatusCode)
	req.Amount.Total = 101
	_, err = c.PrepayApp(ctx, req)
	require.ErrorAs(t, err, &we)
	assert.Equal(t, apiv3.ErrCodeInvalidRequest, we.Code)
}

func TestV3Close(t *testing.T) {
	s, c := newV3(t, v3Config(wxpaytest.V3SignPublicKey))
	ctx := ctxT(t)
	_, err := c.PrepayJSAPI(ctx, v3JSAPIOrder("v3close01", "https://example.com/notify"))
	require.NoError(t, err)
	require.NoError(t, c.CloseOrder(ctx, "v3close01"))
	o, ok := s.Order("v3close01")
	require.True(t, ok)
	assert.Equal(t, wxpaytest.StateClosed, o.State)
	tx, err := c.QueryByOutTradeNo(ctx, "v3close01")
	require.NoError(t, err)
	assert.Equal(t, apiv3.TradeState("CLOSED"), tx.TradeState)

	var we *apiv3.Error
	err = c.CloseOrder(ctx, "v3close01")
	require.ErrorAs(t, err, &we)
	assert.Equal(t, apiv3.ErrCodeOrderClosed, we.Code)
	err = c.CloseOrder(ctx, "v3nosuch1")
	require.ErrorAs(t, err, &we)
	assert.Equal(t, apiv3.ErrCodeOrderNotExist, we.Code)
	assert.Equal(t, http.StatusNotFound, we.StatusCode)
	_, err = c.QueryByOutTradeNo(ctx, "v3nosuch1")
	require.ErrorAs(t, err, &we)
	assert.Equal(t, apiv3.ErrCodeOrderNotExist, we.Code)
}

// One order book: an order placed on v2 is read on v3, and the reverse.
func TestV3SharesOrdersWithV2(t *testing.T) {
	s, c := newV3(t, v3Config(wxpaytest.V3SignPublicKey))
	ctx := ctxT(t)
	v2 := newClient(t, s, wxpay.SignMD5, "https://example.com/v2notify")
	_, err := v2.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
		Body: "v2 order", OutTradeNo: "placedOnV2", TotalFee: 300, SpbillCreateIP: "127.0.0.1",
		TradeType: wxpay.TradeJSAPI, OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
	})
	require.NoError(t, err)
	tx, err := c.QueryByOutTradeNo(ctx, "placedOnV2")
	require.NoError(t, err)
	assert.Equal(t, int64(300), tx.Amount.Total)
	assert.Equal(t, apiv3.TradeState("NOTPAY"), tx.TradeState)

	// Re-placing it on v3 is another request for the same number.
	_, err = c.PrepayJSAPI(ctx, v3JSAPIOrder("placedOnV2", "https://example.com/notify"))
	var we *apiv3.Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, apiv3.ErrCodeInvalidRequest, we.Code)

	_, err = c.PrepayJSAPI(ctx, v3JSAPIOrder("placedOnV3", "https://example.com/notify"))
	require.NoError(t, err)
	q, err := v2.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: "placedOnV3"})
	require.NoError(t, err)
	assert.Equal(t, wxpay.TradeStateNotPay, q.TradeState)
	o, _ := s.Order("placedOnV3")
	assert.True(t, o.APIv3)
	o, _ = s.Order("placedOnV2")
	assert.False(t, o.APIv3)
}

// Without Config.APIv3Key the v3 paths are 404, saying why.
func TestV3OffIs404(t *testing.T) {
	s := wxpaytest.NewServer(testConfig())
	defer s.Close()
	resp, err := s.Client().Get(s.URL + "/v3/pay/transactions/out-trade-no/abcdef?mchid=" + testMchID)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, string(b), "Config.APIv3Key")
	assert.Panics(t, func() { s.V3PublicKeyID() })
	assert.Error(t, s.RotateV3Certificate())
}

// A v3 order restored into a new fake (a restart) keeps its generation:
// re-entry with its request gives its prepay_id, and paying it sends a
// v3 notification.
func TestV3RestoreOrder(t *testing.T) {
	s2, c2 := newV3(t, v3Config(wxpaytest.V3SignPublicKey))
	sink := newPaymentSink(t, c2)
	s1, c1 := newV3(t, v3Config(wxpaytest.V3SignPublicKey))
	ctx := ctxT(t)
	_, err := c1.PrepayJSAPI(ctx, v3JSAPIOrder("restore001", sink.srv.URL))
	require.NoError(t, err)
	o, ok := s1.Order("restore001")
	require.True(t, ok)

	require.NoError(t, s2.RestoreOrder(o))
	pr, err := c2.PrepayJSAPI(ctx, v3JSAPIOrder("restore001", sink.srv.URL))
	require.NoError(t, err)
	assert.Equal(t, o.PrepayID, pr.PrepayID)
	_, err = c2.PrepayJSAPI(ctx, v3JSAPIOrder("restore001", "https://example.com/other"))
	require.Error(t, err, "another notify_url is another request")
	_, err = s2.Pay(wxpaytest.PayOptions{OutTradeNo: "restore001"})
	require.NoError(t, err)
	n := <-sink.ch
	assert.Equal(t, "restore001", n.Transaction.OutTradeNo)
}

// A malformed v3 configuration fails New, saying what is wrong, and
// never quoting a key.
func TestV3ConfigErrors(t *testing.T) {
	keyPEM := func() []byte {
		f, err := wxpaytest.New(v3Config(wxpaytest.V3SignPublicKey))
		require.NoError(t, err)
		defer f.Close()
		_, k := f.V3MerchantKey()
		return k
	}()
	for name, tc := range map[string]struct {
		bend func(*wxpaytest.Config)
		want string
	}{
		"short APIv3Key":    {func(c *wxpaytest.Config) { c.APIv3Key = "short" }, "32 bytes"},
		"v3 fields, no key": {func(c *wxpaytest.Config) { c.APIv3Key = ""; c.MerchantSerialNo = "AB" }, "APIv3Key"},
		"serial, no key":    {func(c *wxpaytest.Config) { c.MerchantSerialNo = "AB" }, "MerchantPublicKey"},
		"key is private":    {func(c *wxpaytest.Config) { c.MerchantPublicKey = keyPEM }, "CERTIFICATE or PUBLIC KEY"},
		"not PEM":           {func(c *wxpaytest.Config) { c.MerchantPublicKey = []byte("x") }, "one PEM block"},
		"bad WeChatPayKey": {func(c *wxpaytest.Config) {
			c.WeChatPayKey = []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
		}, "WeChatPayKey"},
		"signer": {func(c *wxpaytest.Config) { c.V3Signer = 7 }, "V3Signer"},
	} {
		cfg := v3Config(wxpaytest.V3SignPublicKey)
		tc.bend(&cfg)
		_, err := wxpaytest.New(cfg)
		if assert.Error(t, err, name) {
			assert.Contains(t, err.Error(), tc.want, name)
			assert.NotContains(t, err.Error(), testAPIv3Key, name)
		}
	}
	// The same WeChatPayKey gives the same public key id and first
	// certificate: a restarted fake keeps what clients trust.
	a, err := wxpaytest.New(v3Config(wxpaytest.V3SignCertificate))
	require.NoError(t, err)
	defer a.Close()
	cfg := v3Config(wxpaytest.V3SignCertificate)
	cfg.WeChatPayKey = keyPEM
	b1, err := wxpaytest.New(cfg)
	require.NoError(t, err)
	defer b1.Close()
	b2, err := wxpaytest.New(cfg)
	require.NoError(t, err)
	defer b2.Close()
	assert.Equal(t, b1.V3PublicKeyID(), b2.V3PublicKeyID())
	assert.Equal(t, b1.V3PlatformCertificates(), b2.V3PlatformCertificates())
	assert.NotEqual(t, a.V3PublicKeyID(), b1.V3PublicKeyID())
}

// Neither the APIv3 key nor the WeChat Pay private key shows through fmt
// or slog, in the Config or the fake, nor in the fake's logs of v3
// traffic.
func TestV3NoSecretsPrinted(t *testing.T) {
	var logs bytes.Buffer
	cfg := v3Config(wxpaytest.V3SignPublicKey)
	cfg.WeChatPayKey = readVector(t, "k-off.pem")
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	s, c := newV3(t, cfg)
	_, err := c.QueryByOutTradeNo(ctxT(t), "nosuch0001") // a logged refusal
	require.Error(t, err)
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&out, verb+"\n", cfg)
		fmt.Fprintf(&out, verb+"\n", s.Fake)
		fmt.Fprintf(&out, verb+"\n", struct{ C wxpaytest.Config }{cfg})
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "cfg", cfg, "fake", s.Fake)
	keyLine := strings.Split(string(readVector(t, "k-off.pem")), "\n")[1]
	for _, b := range [][]byte{out.Bytes(), logs.Bytes()} {
		assert.NotContains(t, string(b), testAPIv3Key)
		assert.NotContains(t, string(b), keyLine)
	}
	assert.Contains(t, logs.String(), "ORDER_NOT_EXIST")
}
