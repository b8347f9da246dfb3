package balancer_test

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wxpay-go/wxpay/examples/balancer"
)

// apiv3Key is a 32-byte APIv3 key, for these tests only.
var apiv3Key = []byte("0123456789abcdef0123456789abcdef")

// sealed is a v3 payment notification whose resource the standard
// library's AES-256-GCM seals under key, as WeChat does
// (https://pay.weixin.qq.com/doc/v3/merchant/4012791861: the nonce
// string's bytes are the IV, associated_data the AAD, and ciphertext is
// base64 of ciphertext and tag), with aad as associated_data; edit
// changes the resource first.
func sealed(t testing.TB, key []byte, plaintext, aad string, edit func(r map[string]string)) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := "fdasflkja484"
	r := map[string]string{
		"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "nonce": nonce, "associated_data": aad,
		"ciphertext": base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte(nonce), []byte(plaintext), []byte(aad))),
	}
	if edit != nil {
		edit(r)
	}
	b, err := json.Marshal(map[string]any{"id": "EV-2018022511223320873", "create_time": "2015-05-20T13:29:35+08:00",
		"resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功", "resource": r})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// v3Backend answers v3 notifications with status and body.
func v3Backend(t testing.TB, status int, body string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) //nolint:errcheck // the body is not needed
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestNotifyV3: with the APIv3 key, the balancer reads the out_trade_no
// sealed in a v3 notification; without it, or when the resource is not a
// sealed transaction under that key, the number is "" and the
// notification is still forwarded whole, for the instance to refuse.
func TestNotifyV3(t *testing.T) {
	const txn = `{"mchid":"1900000109","appid":"wx0123456789abcdef","out_trade_no":"ORDER-42","transaction_id":"4200000000000000000000000001","trade_state":"SUCCESS","amount":{"total":100}}`
	otherKey := []byte(strings.Repeat("k", 32))
	cases := map[string]struct {
		key  []byte
		body []byte
		want string
	}{
		"sealed":                  {apiv3Key, sealed(t, apiv3Key, txn, "transaction", nil), "ORDER-42"},
		"empty associated_data":   {apiv3Key, sealed(t, apiv3Key, txn, "", nil), "ORDER-42"},
		"associated_data changed": {apiv3Key, sealed(t, apiv3Key, txn, "transaction", func(r map[string]string) { r["associated_data"] = "" }), ""},
		"no key":                  {nil, sealed(t, apiv3Key, txn, "transaction", nil), ""},
		"16-byte key":             {apiv3Key[:16], sealed(t, apiv3Key, txn, "transaction", nil), ""},
		"other key":               {otherKey, sealed(t, apiv3Key, txn, "transaction", nil), ""},
		"tampered ciphertext": {apiv3Key, sealed(t, apiv3Key, txn, "transaction", func(r map[string]string) {
			b, _ := base64.StdEncoding.DecodeString(r["ciphertext"])
			b[0] ^= 1
			r["ciphertext"] = base64.StdEncoding.EncodeToString(b)
		}), ""},
		"other nonce":     {apiv3Key, sealed(t, apiv3Key, txn, "transaction", func(r map[string]string) { r["nonce"] = "fdasflkja485" }), ""},
		"short nonce":     {apiv3Key, sealed(t, apiv3Key, txn, "transaction", func(r map[string]string) { r["nonce"] = "short" }), ""},
		"other algorithm": {apiv3Key, sealed(t, apiv3Key, txn, "transaction", func(r map[string]string) { r["algorithm"] = "AEAD_AES_128_GCM" }), ""},
		"bad base64":      {apiv3Key, sealed(t, apiv3Key, txn, "transaction", func(r map[string]string) { r["ciphertext"] = "***" }), ""},
		"shorter than a tag": {apiv3Key, sealed(t, apiv3Key, txn, "transaction", func(r map[string]string) {
			r["ciphertext"] = base64.StdEncoding.EncodeToString([]byte("short"))
		}), ""},
		"plaintext not JSON": {apiv3Key, sealed(t, apiv3Key, "out_trade_no=ORDER-42", "transaction", nil), ""},
		"v2 XML":             {apiv3Key, []byte("<xml><out_trade_no>ORDER-42</out_trade_no></xml>"), ""},
		"empty":              {apiv3Key, nil, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got []byte
			a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ = io.ReadAll(r.Body)
				w.WriteHeader(http.StatusNoContent)
			}))
			defer a.Close()
			lb, err := balancer.New("", a.URL)
			if err != nil {
				t.Fatal(err)
			}
			lb.APIv3Key = tc.key
			var seen, notified []string
			lb.Notify = func(otn string, _ []byte) bool { seen = append(seen, otn); return true }
			lb.Notified = func(otn string, acked bool) {
				if acked {
					notified = append(notified, otn)
				}
			}
			w := httptest.NewRecorder()
			lb.ServeHTTP(w, httptest.NewRequest("POST", balancer.NotifyPathV3, strings.NewReader(string(tc.body))))
			if w.Code != http.StatusNoContent || string(got) != string(tc.body) {
				t.Errorf("status %d, forwarded %d of %d bytes", w.Code, len(got), len(tc.body))
			}
			if len(seen) != 1 || seen[0] != tc.want || len(notified) != 1 || notified[0] != tc.want {
				t.Errorf("Notify saw %q, Notified acked %q; want %q", seen, notified, tc.want)
			}
		})
	}
}

// TestNotifyV3Acked: a v3 notification is acknowledged by 200 or 204 with
// no body or a code other than FAIL; a FAIL body or any other status is
// not, and v2's XML SUCCESS means nothing on v3's route.
func TestNotifyV3Acked(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   bool
	}{
		{204, "", true},
		{200, "", true},
		{200, `{"code":"SUCCESS","message":"成功"}`, true},
		{200, `{"code":"FAIL","message":"processing failed"}`, false},
		{400, `{"code":"FAIL","message":"invalid notification"}`, false},
		{500, "", false},
		{200, "<xml><return_code>SUCCESS</return_code></xml>", false},
	} {
		lb, err := balancer.New("", v3Backend(t, tc.status, tc.body).URL)
		if err != nil {
			t.Fatal(err)
		}
		lb.APIv3Key = apiv3Key
		var acks []bool
		lb.Notified = func(_ string, acked bool) { acks = append(acks, acked) }
		w := httptest.NewRecorder()
		lb.ServeHTTP(w, httptest.NewRequest("POST", balancer.NotifyPathV3, strings.NewReader("{}")))
		if len(acks) != 1 || acks[0] != tc.want {
			t.Errorf("%d %q: acked %v, want %v", tc.status, tc.body, acks, tc.want)
		}
		if w.Code != tc.status || w.Body.String() != tc.body {
			t.Errorf("%d %q: client got %d %q", tc.status, tc.body, w.Code, w.Body.String())
		}
	}
}

// FuzzNotifyV3: whatever a v3 notification's body holds, with the key
// set, the balancer forwards it whole (or drops it when the hook says
// so) and never fails itself.
func FuzzNotifyV3(f *testing.F) {
	f.Add(sealed(f, apiv3Key, `{"out_trade_no":"A1"}`, "transaction", nil))
	f.Add(sealed(f, apiv3Key, `{"out_trade_no":"DROP"}`, "transaction", nil))
	f.Add([]byte(`{"resource":{"algorithm":"AEAD_AES_256_GCM","nonce":"","ciphertext":""}}`))
	f.Add([]byte("\x00\xff{"))
	var got []byte
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer a.Close()
	lb, err := balancer.New("", a.URL)
	if err != nil {
		f.Fatal(err)
	}
	lb.APIv3Key = apiv3Key
	lb.Notify = func(otn string, _ []byte) bool { return otn != "DROP" }
	f.Fuzz(func(t *testing.T, body []byte) {
		got = nil
		w := httptest.NewRecorder()
		lb.ServeHTTP(w, httptest.NewRequest("POST", balancer.NotifyPathV3, strings.NewReader(string(body))))
		switch w.Code {
		case http.StatusNoContent:
			if string(got) != string(body) {
				t.Fatalf("forwarded %q, want %q", got, body)
			}
		case http.StatusServiceUnavailable: // dropped
		default:
			t.Fatalf("status %d", w.Code)
		}
	})
}
