package wxpaytest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
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

// FuzzMoneyEndpoints feeds arbitrary bytes to the refund, bill, micropay,
// reverse and sandbox endpoints of a fake holding one paid order of 100
// fen. Whatever the input, the answer is a bill (for the bill endpoints),
// a FAIL with only return_code, return_msg and, for bills, error_code, or
// a SUCCESS correctly signed (getsignkey's: unsigned, with the sandbox
// key); a refund appears only with a SUCCESS/SUCCESS refund answer, and
// the order's refunds never exceed what was paid.
func FuzzMoneyEndpoints(f *testing.F) {
	seed := func(p wxpay.Params) []byte { return signed(f, p, testKey, wxpay.SignMD5) }
	refund := wxpay.Params{"out_trade_no": "fz-paid", "out_refund_no": "r1", "total_fee": "100", "refund_fee": "60"}
	f.Add(uint8(0), seed(refund))
	f.Add(uint8(0), seed(with(wxpay.Params{"out_refund_no": "r1", "refund_fee": "101"})))
	f.Add(uint8(1), seed(wxpay.Params{"out_trade_no": "fz-paid", "offset": "0"}))
	f.Add(uint8(1), seed(wxpay.Params{"out_refund_no": "r1"}))
	f.Add(uint8(2), seed(wxpay.Params{"bill_date": "20260301", "bill_type": "ALL"}))
	f.Add(uint8(3), signed(f, wxpay.Params{"bill_date": "20260301", "account_type": "Basic", "sign_type": "HMAC-SHA256"}, testKey, wxpay.SignHMACSHA256))
	f.Add(uint8(4), seed(wxpay.Params{"auth_code": "134567890123456789", "body": "b", "out_trade_no": "fz-m", "total_fee": "1", "spbill_create_ip": "127.0.0.1"}))
	f.Add(uint8(5), seed(wxpay.Params{"out_trade_no": "fz-paid"}))
	f.Add(uint8(6), []byte(`<xml><mch_id>10000100</mch_id><nonce_str>ibuaiVcKdpRxkhJA</nonce_str><sign>3BE08E133DAD6BD5D30EC69B26CCAEE2</sign></xml>`))
	f.Add(uint8(0), []byte(`<!DOCTYPE xml><xml/>`))
	paths := []string{"/secapi/pay/refund", "/pay/refundquery", "/pay/downloadbill", "/pay/downloadfundflow",
		"/pay/micropay", "/secapi/pay/reverse", "/sandboxnew/pay/getsignkey", "/sandboxnew/pay/micropay"}
	verifier, err := wxpay.NewSigner(testKey, wxpay.SignMD5)
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		cfg := testConfig()
		cfg.Sandbox = true
		cfg.RefundImmediately = true
		cfg.Now = newClock().Now
		fake, err := wxpaytest.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer fake.Close()
		order := signed(t, orderFields("fz-paid"), testKey, wxpay.SignMD5)
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/pay/unifiedorder", bytes.NewReader(order)))
		if _, err := fake.Pay(wxpaytest.PayOptions{OutTradeNo: "fz-paid", NoNotify: true}); err != nil {
			t.Fatal(err)
		}

		path := paths[int(which)%len(paths)]
		rec = httptest.NewRecorder()
		fake.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		out := rec.Body.Bytes()
		isBill := path == "/pay/downloadbill" || path == "/pay/downloadfundflow"
		if isBill && (bytes.HasPrefix(out, []byte("交易时间,")) || bytes.HasPrefix(out, []byte("记账时间,")) || bytes.HasPrefix(out, []byte{0x1f, 0x8b})) {
			return
		}
		p, err := wxpay.DecodeXML(out)
		if err != nil {
			t.Fatalf("answer is not a WeChat message: %v: %q", err, out)
		}
		switch p["return_code"] {
		case "FAIL":
			extra := 0
			if isBill && p["error_code"] != "" {
				extra = 1
			}
			if len(p) != 2+extra || p["return_msg"] == "" {
				t.Fatalf("FAIL answer with other fields: %v", p)
			}
		case "SUCCESS":
			var err error
			switch path {
			case "/pay/downloadbill", "/pay/downloadfundflow":
				t.Fatalf("a bill endpoint answered SUCCESS in XML: %v", p)
			case "/sandboxnew/pay/getsignkey":
				if p["sandbox_signkey"] != fake.SandboxKey() || p["sign"] != "" {
					t.Fatalf("getsignkey answer %v", p)
				}
			case "/sandboxnew/pay/micropay":
				sb, _ := wxpay.NewSigner(fake.SandboxKey(), wxpay.SignMD5)
				err = sb.Verify(p)
			default:
				err = verifier.Verify(p)
			}
			if err != nil {
				t.Fatalf("SUCCESS answer not signed: %v", err)
			}
		default:
			t.Fatalf("no return_code: %v", p)
		}
		refunds := fake.Refunds("fz-paid")
		made := path == "/secapi/pay/refund" && p["return_code"] == "SUCCESS" && p["result_code"] == "SUCCESS"
		if (len(refunds) == 1) != made || len(refunds) > 1 {
			t.Fatalf("%d refunds after answer %v", len(refunds), p)
		}
		for _, r := range refunds {
			if r.RefundFee <= 0 || r.RefundFee > 100 {
				t.Fatalf("refund of %d fen on an order of 100", r.RefundFee)
			}
		}
	})
}

// FuzzMintEndpoints feeds arbitrary bytes to /wxpaytest/login and
// /wxpaytest/phonecode: they never panic, answer JSON, and mint a code
// (200 with code and openid) or refuse (4xx with an error), nothing else.
func FuzzMintEndpoints(f *testing.F) {
	f.Add(false, []byte(`{"openid":"oX"}`))
	f.Add(true, []byte(`{"openid":"oX","phone":"13800138000"}`))
	f.Add(true, []byte(`{"phone":"+1 5551234567"}`))
	f.Add(true, []byte(`{"phone":"+ 1"}`))
	f.Add(false, []byte(`[`))
	f.Add(true, []byte(``))
	f.Fuzz(func(t *testing.T, phone bool, body []byte) {
		fake, err := wxpaytest.New(testConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer fake.Close()
		path := "/wxpaytest/login"
		if phone {
			path = "/wxpaytest/phonecode"
		}
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("content type %q", ct)
		}
		var out map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("answer %q: %v", rec.Body.Bytes(), err)
		}
		switch {
		case rec.Code == http.StatusOK:
			if out["code"] == "" || out["openid"] == "" || out["error"] != "" {
				t.Fatalf("200 with %v", out)
			}
		case rec.Code == http.StatusBadRequest:
			if out["error"] == "" || out["code"] != "" {
				t.Fatalf("400 with %v", out)
			}
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}
