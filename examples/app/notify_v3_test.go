package app_test

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/shop"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// v3Signer signs v3 notifications as WeChat does (the format of
// https://pay.weixin.qq.com/doc/v3/merchant/4012791861): a JSON envelope
// whose resource is sealed with AES-256-GCM under the APIv3 key, and the
// Wechatpay-* headers carrying SHA256withRSA over
// "timestamp\nnonce\nbody\n" by the WeChat Pay key.
type v3Signer struct {
	key      *rsa.PrivateKey
	serial   string // Wechatpay-Serial: the public key id
	apiV3Key string
	now      func() time.Time
}

func parseRSAKey(t *testing.T, p []byte) *rsa.PrivateKey {
	t.Helper()
	blk, _ := pem.Decode(p)
	if blk == nil {
		t.Fatal("no PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

// seal is the envelope of plaintext, sealed under key.
func (s v3Signer) seal(t *testing.T, key, eventType, originalType, plaintext string) []byte {
	t.Helper()
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	gcm, _ := cipher.NewGCM(block)
	nonce := strings.ToLower(rand.Text()[:12])
	ct := gcm.Seal(nil, []byte(nonce), []byte(plaintext), []byte(originalType))
	b, _ := json.Marshal(map[string]any{
		"id": "EV-" + rand.Text()[:16], "create_time": s.now().In(time.FixedZone("CST", 8*3600)).Format(time.RFC3339),
		"resource_type": "encrypt-resource", "event_type": eventType, "summary": "支付成功",
		"resource": map[string]string{"original_type": originalType, "algorithm": "AEAD_AES_256_GCM",
			"ciphertext": base64.StdEncoding.EncodeToString(ct), "associated_data": originalType, "nonce": nonce},
	})
	return b
}

// headers signs body at time at with key k.
func (s v3Signer) headers(t *testing.T, k *rsa.PrivateKey, at time.Time, body []byte) http.Header {
	t.Helper()
	ts, nonce := strconv.FormatInt(at.Unix(), 10), rand.Text()
	sum := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + string(body) + "\n"))
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(sig))
	h.Set("Wechatpay-Serial", s.serial)
	h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
	return h
}

// transaction is the plaintext of a payment of fen to outTradeNo.
func transaction(appID, mchID, outTradeNo, txn string, fen int64) string {
	return fmt.Sprintf(`{"appid":%q,"mchid":%q,"out_trade_no":%q,"transaction_id":%q,"trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"OTHERS","attach":"","success_time":"2026-12-08T10:00:00+08:00","payer":{"openid":"oUser"},"amount":{"total":%d,"payer_total":%d,"currency":"CNY","payer_currency":"CNY"}}`,
		appID, mchID, outTradeNo, txn, fen, fen)
}

// TestBadNotificationsV3 posts to the v3 notify route what must change
// nothing (forged, replayed late, sealed under another key, another
// merchant's, v2's XML, over the cap) and the genuine ones that are
// recorded as anomalies, then v3's genuine JSON to v2's route, which
// refuses it: each route takes its own generation's messages only.
func TestBadNotificationsV3(t *testing.T) {
	// Its subject is v3's wire format: it runs on v3 in both runs of the
	// suite (the v2 one and TestE2EV3's), never skipped.
	h := newHarnessOn(t, testTiming, "v3")
	o, p := h.placeAndPrepay(h.user())
	cfg := h.s.FakeConfig
	s := v3Signer{key: parseRSAKey(t, cfg.WeChatPayKey), serial: h.s.Fake.V3PublicKeyID(), apiV3Key: cfg.APIv3Key, now: h.s.Fake.Now}
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := strings.Repeat("x", 32)
	h.sec.add("the forger's APIv3 key", otherKey)
	good := func(otn string, fen int64, mch string) []byte {
		return s.seal(t, s.apiV3Key, "TRANSACTION.SUCCESS", "transaction", transaction(cfg.AppID, mch, otn, "4200000000202612080000000001", fen))
	}
	v2Body, err := wxpaytest.NotificationBody(cfg, wxpay.Params{
		"out_trade_no": p.OutTradeNo, "transaction_id": "4200000000202612080000000002", "total_fee": fmt.Sprint(o.TotalFen),
		"cash_fee": fmt.Sprint(o.TotalFen), "openid": "oUser", "trade_type": "JSAPI", "bank_type": "OTHERS", "time_end": "20261208120000",
	})
	if err != nil {
		t.Fatal(err)
	}
	body := good(p.OutTradeNo, o.TotalFen, cfg.MchID)
	tests := []struct {
		name, path string
		body       []byte
		header     http.Header
		status     int
		anomaly    string
	}{
		{"forged signature", "/orders/pay/v3/notify", body, s.headers(t, forger, s.now(), body), 401, ""},
		{"replayed ten minutes late", "/orders/pay/v3/notify", body, s.headers(t, s.key, s.now().Add(-10*time.Minute), body), 401, ""},
		{"unsigned", "/orders/pay/v3/notify", body, http.Header{"Content-Type": {"application/json"}}, 401, ""},
		{"sealed under another APIv3 key", "/orders/pay/v3/notify", nil, nil, 400, ""},
		{"another merchant's payment", "/orders/pay/v3/notify", good(p.OutTradeNo, o.TotalFen, "1900000999"), nil, 400, ""},
		{"a refund event on the payment route", "/orders/pay/v3/notify",
			s.seal(t, s.apiV3Key, "REFUND.SUCCESS", "refund", `{"mchid":"`+cfg.MchID+`"}`), nil, 400, ""},
		{"malformed JSON", "/orders/pay/v3/notify", []byte(`{"id":`), nil, 400, ""},
		{"over the cap", "/orders/pay/v3/notify", []byte(`{"pad":"` + strings.Repeat("a", 2<<20) + `"}`), nil, 413, ""},
		{"v2 XML on the v3 route", "/orders/pay/v3/notify", v2Body, http.Header{"Content-Type": {"text/xml"}}, 401, ""},
		{"v3 JSON on the v2 route", "/orders/pay/notify", body, s.headers(t, s.key, s.now(), body), 400, ""},
		{"unknown order", "/orders/pay/v3/notify", good("NoSuchOrder0000000000000000000001", o.TotalFen, cfg.MchID), nil, 204, "unknown_order"},
		{"wrong amount", "/orders/pay/v3/notify", good(p.OutTradeNo, 1, cfg.MchID), nil, 204, "amount_mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.body == nil { // sealed under another key, signed genuinely
				tt.body = s.seal(t, otherKey, "TRANSACTION.SUCCESS", "transaction", transaction(cfg.AppID, cfg.MchID, p.OutTradeNo, "4200000000202612080000000003", o.TotalFen))
			}
			if tt.header == nil {
				tt.header = s.headers(t, s.key, s.now(), tt.body)
			}
			anomalies := h.count(`SELECT COUNT(*) FROM anomalies`)
			before := h.stateOf(false)
			req, _ := http.NewRequest("POST", h.s.URL+tt.path, strings.NewReader(string(tt.body)))
			req.Header = tt.header
			resp, err := h.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			want := anomalies
			if tt.anomaly != "" {
				want++
				if n := h.count(`SELECT COUNT(*) FROM anomalies WHERE kind = $1`, tt.anomaly); n != 1 {
					t.Errorf("%d %s anomalies recorded, want 1", n, tt.anomaly)
				}
			}
			if n := h.count(`SELECT COUNT(*) FROM anomalies`); n != want {
				t.Errorf("%d anomalies, want %d", n, want)
			}
			if after := h.stateOf(false); after != before {
				t.Errorf("state changed:\nbefore %s\nafter  %s", before, after)
			}
			if st := h.orderStatus(o.ID); st != shop.StatusUnpaid {
				t.Errorf("order %s, want unpaid", st)
			}
		})
	}
	// The genuine one, last: it pays the order, once.
	req, _ := http.NewRequest("POST", h.s.URL+"/orders/pay/v3/notify", strings.NewReader(string(body)))
	req.Header = s.headers(t, s.key, s.now(), body)
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || h.orderStatus(o.ID) != shop.StatusPaid {
		t.Errorf("the genuine notification: status %d, order %s; want 204 and paid", resp.StatusCode, h.orderStatus(o.ID))
	}
}
