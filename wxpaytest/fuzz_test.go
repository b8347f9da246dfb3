package wxpaytest_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// FuzzV2Request feeds arbitrary bytes to the v2 endpoints. Whatever the
// input, the fake answers a well-formed WeChat message: a FAIL with only
// return_code and return_msg, or a SUCCESS correctly signed; and only a
// SUCCESS/SUCCESS unifiedorder answer creates an order.
func FuzzV2Request(f *testing.F) {
	seed := func(p wxpay.Params) []byte { return signed(f, p, testKey, wxpay.SignMD5) }
	f.Add(uint8(0), seed(orderFields("fz-1")))
	f.Add(uint8(0), seed(with(wxpay.Params{"total_fee": "0"})))
	f.Add(uint8(1), seed(wxpay.Params{"out_trade_no": "fz-1"}))
	f.Add(uint8(2), seed(wxpay.Params{"out_trade_no": "fz-1"}))
	f.Add(uint8(0), []byte("<xml><appid>x</appid></xml>"))
	f.Add(uint8(0), []byte(`<!DOCTYPE xml><xml/>`))
	f.Add(uint8(1), []byte{})
	paths := []string{"/pay/unifiedorder", "/pay/orderquery", "/pay/closeorder"}
	verifier, err := wxpay.NewSigner(testKey, wxpay.SignMD5)
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		fake, err := wxpaytest.New(testConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer fake.Close()
		path := paths[int(which)%len(paths)]
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		p, err := wxpay.DecodeXML(rec.Body.Bytes())
		if err != nil {
			t.Fatalf("answer is not a WeChat message: %v: %q", err, rec.Body.Bytes())
		}
		switch p["return_code"] {
		case "FAIL":
			if len(p) != 2 || p["return_msg"] == "" {
				t.Fatalf("FAIL answer with other fields: %v", p)
			}
		case "SUCCESS":
			if err := verifier.Verify(p); err != nil {
				t.Fatalf("SUCCESS answer not signed: %v", err)
			}
		default:
			t.Fatalf("no return_code: %v", p)
		}
		created := path == "/pay/unifiedorder" && p["return_code"] == "SUCCESS" && p["result_code"] == "SUCCESS"
		if n := len(fake.Orders()); (n == 1) != created || n > 1 {
			t.Fatalf("%d orders after answer %v", n, p)
		}
	})
}

// FuzzPayEndpoint feeds arbitrary bytes to /wxpaytest/pay: it never
// panics, answers JSON, and pays nothing without the merchant's paySign.
func FuzzPayEndpoint(f *testing.F) {
	f.Add([]byte(`{"timeStamp":"1","nonceStr":"n","package":"prepay_id=wx1","signType":"MD5","paySign":"00"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Add([]byte(`{"appId":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fake, err := wxpaytest.New(testConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer fake.Close()
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/wxpaytest/pay", bytes.NewReader(body)))
		if rec.Code < 400 || rec.Code > 499 {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		if ct := rec.Header().Get("Content-Type"); ct == "" || !bytes.HasPrefix([]byte(ct), []byte("application/json")) {
			t.Fatalf("content type %q", ct)
		}
		if len(fake.Orders()) != 0 {
			t.Fatal("an order appeared")
		}
	})
}
