package v3compat

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"

	"github.com/wxpay-go/wxpay/wxpaytest"
)

// The fake checked against the official SDK, not only against the
// library it serves: wechatpay-go v0.2.21 signs requests the fake
// accepts, verifies the fake's answers and notifications, and decrypts
// them. The merchant is k-wj (wechatpay-java's key), the fake's WeChat
// Pay key k-wgo (wechatpay-go's).
func fakeFor(t testing.TB, k keys, signer wxpaytest.V3Signer) *wxpaytest.Server {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.merchant.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	s := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wxd678efh567hg6787", MchID: mchID, APIKey: strings.Repeat("k", 32),
		APIv3Key: apiV3Key, MerchantSerialNo: merchantSerial,
		MerchantPublicKey: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		WeChatPayKey:      vector(t, "k-wgo.pem"),
		V3Signer:          signer,
	})
	t.Cleanup(s.Close)
	return s
}

const officialPrepay = `{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"%s","amount":{"total":100,"currency":"CNY"},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}`

func TestFakeWithOfficialClientPublicKey(t *testing.T) {
	k := loadKeys(t)
	s := fakeFor(t, k, wxpaytest.V3SignPublicKey)
	ctx := context.Background()
	if s.V3PublicKeyID() == "" || !strings.HasPrefix(s.V3PublicKeyID(), "PUB_KEY_ID_") {
		t.Fatalf("public key id %q", s.V3PublicKeyID())
	}
	pub, err := utils.LoadPublicKey(string(s.V3PublicKeyPEM()))
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&k.wechat.PublicKey) {
		t.Fatal("the fake's public key is not Config.WeChatPayKey's")
	}
	wgo, err := core.NewClient(ctx,
		option.WithWechatPayPublicKeyAuthCipher(mchID, merchantSerial, k.merchant, s.V3PublicKeyID(), pub),
		option.WithHTTPClient(s.Client()))
	if err != nil {
		t.Fatal(err)
	}

	// The official SDK's notify handler opens the fake's notification.
	got := make(chan map[string]any, 4)
	h := notify.NewNotifyHandler(apiV3Key, verifiers.NewSHA256WithRSAPubkeyVerifier(s.V3PublicKeyID(), *pub))
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var content map[string]any
		req, err := h.ParseNotifyRequest(r.Context(), r, &content)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if req.EventType != "TRANSACTION.SUCCESS" || req.Resource.AssociatedData != "transaction" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got <- content
		w.WriteHeader(http.StatusNoContent)
	}))
	defer sink.Close()

	// Its signed request is accepted, and its validator accepts the
	// signed answer (Post fails on either).
	res, err := wgo.Post(ctx, s.URL+"/v3/pay/transactions/jsapi", json.RawMessage(strings.Replace(officialPrepay, "%s", sink.URL, 1)))
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		PrepayID string `json:"prepay_id"`
	}
	b, _ := io.ReadAll(res.Response.Body)
	if err := json.Unmarshal(b, &pr); err != nil || pr.PrepayID == "" {
		t.Fatalf("prepay answer %s: %v", b, err)
	}
	if _, err := wgo.Get(ctx, s.URL+"/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid="+mchID); err != nil {
		t.Fatal(err)
	}
	// The 204 of close is signed too, and the official validator
	// accepts it.
	second := strings.Replace(strings.Replace(officialPrepay, "%s", sink.URL, 1), "1217752501201407033233368018", "closeme001", 1)
	if _, err := wgo.Post(ctx, s.URL+"/v3/pay/transactions/jsapi", json.RawMessage(second)); err != nil {
		t.Fatal(err)
	}
	res, err = wgo.Post(ctx, s.URL+"/v3/pay/transactions/out-trade-no/closeme001/close", map[string]string{"mchid": mchID})
	if err != nil {
		t.Fatal(err)
	}
	if res.Response.StatusCode != http.StatusNoContent {
		t.Fatalf("close answered %d", res.Response.StatusCode)
	}
	if _, err := s.Pay(wxpaytest.PayOptions{PrepayID: pr.PrepayID}); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if c["out_trade_no"] != "1217752501201407033233368018" || c["trade_state"] != "SUCCESS" || c["mchid"] != mchID {
			t.Fatalf("decrypted %v", c)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("wechatpay-go's notify handler did not accept the fake's notification")
	}
	if err := s.WaitAcked(ctx, "1217752501201407033233368018"); err != nil {
		t.Fatal(err)
	}

	// A refused request (wrong merchant key) is refused as WeChat does.
	wrong, err := core.NewClient(ctx,
		option.WithWechatPayPublicKeyAuthCipher(mchID, merchantSerial, k.wechat, s.V3PublicKeyID(), pub),
		option.WithHTTPClient(s.Client()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.Get(ctx, s.URL+"/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid="+mchID)
	var apiErr *core.APIError
	if !errorsAs(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Code != "SIGN_ERROR" {
		t.Fatalf("a request signed by another key: %v", err)
	}
}

func TestFakeWithOfficialClientCertificate(t *testing.T) {
	k := loadKeys(t)
	s := fakeFor(t, k, wxpaytest.V3SignCertificate)
	ctx := context.Background()
	certs := s.V3PlatformCertificates()
	cert, err := utils.LoadCertificate(string(certs[0]))
	if err != nil {
		t.Fatal(err)
	}
	wgo, err := core.NewClient(ctx,
		option.WithWechatPayAuthCipher(mchID, merchantSerial, k.merchant, []*x509.Certificate{cert}),
		option.WithHTTPClient(s.Client()))
	if err != nil {
		t.Fatal(err)
	}
	res, err := wgo.Get(ctx, s.URL+"/v3/certificates")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Data []struct {
			SerialNo           string `json:"serial_no"`
			EncryptCertificate struct {
				Nonce, AssociatedData, Ciphertext string
			} `json:"encrypt_certificate"`
		} `json:"data"`
	}
	b, _ := io.ReadAll(res.Response.Body)
	if err := json.Unmarshal(b, &a); err != nil || len(a.Data) != 1 {
		t.Fatalf("certificates %s: %v", b, err)
	}
	e := a.Data[0].EncryptCertificate
	plain, err := utils.DecryptAES256GCM(apiV3Key, "certificate", e.Nonce, e.Ciphertext)
	if err != nil {
		t.Fatal(err)
	}
	if plain != string(certs[0]) {
		t.Fatal("the decrypted certificate is not the fake's")
	}
	if a.Data[0].SerialNo != utils.GetCertificateSerialNumber(*cert) {
		t.Fatalf("serial_no %s, certificate %s", a.Data[0].SerialNo, utils.GetCertificateSerialNumber(*cert))
	}
}

func errorsAs(err error, target **core.APIError) bool { return errors.As(err, target) }
