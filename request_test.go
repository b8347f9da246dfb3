package wxpay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// timeoutErr mimics net/http's unexported TLS handshake timeout error.
type timeoutErr struct{}

func (timeoutErr) Error() string { return "net/http: TLS handshake timeout" }
func (timeoutErr) Timeout() bool { return true }

func TestNeverSent(t *testing.T) {
	t.Parallel()
	post := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://api.mch.weixin.qq.com/pay/unifiedorder", Err: err}
	}
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"dns not found", post(&net.DNSError{Err: "no such host", Name: "api.mch.weixin.qq.com", IsNotFound: true}), true},
		{"dns timeout", post(&net.DNSError{Err: "i/o timeout", IsTimeout: true}), true},
		{"connection refused", post(dial), true},
		{"dial wrapped twice", fmt.Errorf("outer: %w", post(dial)), true},
		// crypto/tls sets Conn only for a first record that is not TLS,
		// before any request byte; a record error after the handshake
		// (Conn nil) may follow a delivered request.
		{"tls first record not TLS", post(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake", Conn: &net.TCPConn{}}), true},
		{"tls record error after the handshake", post(tls.RecordHeaderError{Msg: "received record with version 301 when expecting version 303"}), false},
		{"tls certificate verification", post(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), true},
		{"x509 unknown authority", post(x509.UnknownAuthorityError{}), true},
		{"x509 hostname", post(x509.HostnameError{Host: "api.mch.weixin.qq.com"}), true},
		{"x509 expired", post(x509.CertificateInvalidError{Reason: x509.Expired}), true},
		{"tls handshake timeout", post(timeoutErr{}), true},
		{"tls alert may follow the request", post(tls.AlertError(42)), false},
		{"read timeout", post(&net.OpError{Op: "read", Net: "tcp", Err: errors.New("i/o timeout")}), false},
		{"write reset", post(&net.OpError{Op: "write", Net: "tcp", Err: syscall.ECONNRESET}), false},
		{"context deadline", post(context.DeadlineExceeded), false},
		{"context canceled", post(context.Canceled), false},
		// A dial that a timeout or cancellation ended never sent a byte;
		// the caller fails over only while its own context is live, so
		// this case is a client timeout that fired during the connect.
		{"dial ended by context", post(&net.OpError{Op: "dial", Net: "tcp", Err: context.Canceled}), true},
		// Go's dial timeout also matches context.DeadlineExceeded; asked
		// first, it kept clients on a dead primary.
		{"dial timeout", post(&net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}), true},
		{"plain HTTP on the HTTPS port", post(http.ErrSchemeMismatch), true},
		{"EOF", post(errors.New("EOF")), false},
		{"http 503", &Error{Op: "unifiedorder", StatusCode: 503}, false},
		{"business FAIL", &Error{Op: "unifiedorder", StatusCode: 200, Code: ErrCodeSystemError}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, neverSent(tt.err))
		})
	}
}

// TestEncodeRequest checks the fields the request path adds: sign_type is
// sent even for MD5, and the sign covers it.
func TestEncodeRequest(t *testing.T) {
	t.Parallel()
	for _, typ := range []SignType{SignMD5, SignHMACSHA256} {
		t.Run(string(typ), func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.SignType = typ
			c, err := NewClient(cfg, WithRand(&seqReader{}))
			require.NoError(t, err)
			q := newRequest(epCloseOrder)
			q.set("out_trade_no", "1415659990")
			q.set("empty", "")
			body, err := c.encode(q)
			require.NoError(t, err)
			p, err := DecodeXML(body)
			require.NoError(t, err)
			assert.Equal(t, string(typ), p["sign_type"])
			assert.Equal(t, firstSeqNonce, p["nonce_str"])
			assert.Equal(t, testAppID, p["appid"])
			assert.Equal(t, testMchID, p["mch_id"])
			assert.NotContains(t, p, "empty", "an empty field is not sent")
			assert.Equal(t, refSign(testKey, typ, p), p["sign"])
			if typ == SignMD5 {
				want := md5Upper("appid=" + testAppID + "&mch_id=" + testMchID + "&nonce_str=" + firstSeqNonce +
					"&out_trade_no=1415659990&sign_type=MD5&key=" + testKey)
				assert.Equal(t, want, p["sign"])
			}
		})
	}
}

func TestEncodeRequestRandFailure(t *testing.T) {
	t.Parallel()
	c, mux, ts := setup(t, WithRand(&onceReader{}))
	mux.HandleFunc("/pay/closeorder", fakeWeChat(t, func(Params) Params { return okAnswer(nil) }, nil))
	err := c.CloseOrder(context.Background(), &CloseOrderRequest{OutTradeNo: "1415659990"})
	assertClean(t, err)
	assert.Zero(t, ts.Hits.Load())
}

func TestRequestExtra(t *testing.T) {
	t.Parallel()
	fresh := func() *request {
		q := newRequest(epUnifiedOrder)
		q.set("body", "a")
		q.set("openid", "") // modelled, though empty
		return q
	}
	for _, k := range []string{"appid", "mch_id", "nonce_str", "sign", "sign_type", "body", "openid", "bad name"} {
		err := fresh().extra(Params{k: "x"})
		var re *RequestError
		require.ErrorAs(t, err, &re, k)
		assert.Equal(t, "unifiedorder", re.Op)
	}
	q := fresh()
	require.NoError(t, q.extra(Params{"sub_mch_id": "1900000109", "blank": ""}))
	assert.Equal(t, []field{{"body", "a"}, {"sub_mch_id", "1900000109"}}, q.fields)
}

// TestEveryRequestHasExtra checks that each request type takes Extra and
// refuses to let it override a modelled field.
func TestEveryRequestHasExtra(t *testing.T) {
	t.Parallel()
	c, _, ts := setup(t)
	ctx := context.Background()
	order := validOrder()
	order.Extra = Params{"out_trade_no": "x"}
	_, err := c.UnifiedOrder(ctx, order)
	assert.ErrorAs(t, err, new(*RequestError))
	_, err = c.OrderQuery(ctx, &OrderQueryRequest{OutTradeNo: "T1", Extra: Params{"transaction_id": "1"}})
	assert.ErrorAs(t, err, new(*RequestError))
	_, err = c.OrderQuery(ctx, &OrderQueryRequest{TransactionID: "1", Extra: Params{"out_trade_no": "T1"}})
	assert.ErrorAs(t, err, new(*RequestError))
	err = c.CloseOrder(ctx, &CloseOrderRequest{OutTradeNo: "T1", Extra: Params{"out_trade_no": "T2"}})
	assert.ErrorAs(t, err, new(*RequestError))
	assert.Zero(t, ts.Hits.Load())
}

// FuzzResponse feeds arbitrary answers to the response handling of the
// request path. It must never panic, and it must never return fields that
// do not carry a valid signature for this merchant: the sign in the body,
// read with encoding/xml, must equal the plain-definition MD5 sign
// (helpers_test.go) over exactly the fields returned, so neither the
// client's Signer nor its decoder vouches for itself.
func FuzzResponse(f *testing.F) {
	sign := func(p Params) []byte {
		p["sign"] = refSign(testKey, SignMD5, p)
		b, err := EncodeXML(p)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(200, sign(okAnswer(Params{"prepay_id": "wx201410272009395522657a690389285100", "trade_type": "JSAPI"})))
	f.Add(200, sign(okAnswer(Params{"trade_state": "SUCCESS", "total_fee": "100", "transaction_id": "4200000015201711256947025404",
		"time_end": "20141030133525", "coupon_count": "1", "coupon_id_0": "1", "coupon_fee_0": "10"})))
	f.Add(200, sign(okAnswer(Params{"result_code": "FAIL", "err_code": "ORDERPAID", "err_code_des": "该订单已支付"})))
	f.Add(200, sign(okAnswer(Params{"appid": "wx0000000000000000"})))
	f.Add(200, []byte(`<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[签名失败]]></return_msg></xml>`))
	f.Add(502, []byte(`<html><body>502 Bad Gateway</body></html>`))
	f.Add(200, []byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><a>&e;</a></xml>`))
	f.Add(200, []byte{})
	c, err := NewClient(testConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		p, err := c.parseResponse("fuzz", status, body)
		if err != nil {
			if p != nil {
				t.Fatal("fields returned with an error")
			}
			if len(err.Error()) == 0 {
				t.Fatal("empty error text")
			}
			return
		}
		if status != 200 {
			t.Fatalf("accepted status %d", status)
		}
		ref, err := referenceDecode(body, "xml")
		if err != nil {
			t.Fatalf("accepted a body encoding/xml rejects: %v", err)
		}
		if got, want := ref["sign"], md5Upper(canonical(p, testKey)); got != want {
			t.Fatalf("accepted sign %q; the returned fields sign to %q", got, want)
		}
		if st := ref["sign_type"]; st != "" && st != string(SignMD5) {
			t.Fatalf("accepted sign_type %q from a client configured for MD5", st)
		}
		if p["appid"] != testAppID || p["mch_id"] != testMchID || p["return_code"] != "SUCCESS" || p["result_code"] != "SUCCESS" {
			t.Fatalf("accepted an answer not for us or not successful: %v", p)
		}
		// The typed parsers run only on verified fields; they must not
		// panic on whatever those hold.
		_, _ = parseUnifiedOrder(p)
		_, _ = parseOrderQuery(p, Params{})
		_, _ = parseOrderQuery(p, Params{"transaction_id": "4200000015201711256947025404"})
		_, _ = parseOrderQuery(p, Params{"out_trade_no": "1409811653"})
	})
}

// TestReadBodyCap: the Content-Length header sizes the buffer only up to
// the cap, and no body, announced or not, is read past it.
func TestReadBodyCap(t *testing.T) {
	t.Parallel()
	const limit = 64
	resp := func(announced int64, body string) *http.Response {
		return &http.Response{ContentLength: announced, Body: io.NopCloser(strings.NewReader(body))}
	}
	exact := strings.Repeat("a", limit)
	tests := []struct {
		name      string
		announced int64
		body      string
		tooLarge  bool
	}{
		{"as announced", 10, "0123456789", false},
		{"exactly the cap", limit, exact, false},
		{"unknown length at the cap", -1, exact, false},
		{"one byte over, announced", limit + 1, exact + "a", true},
		{"one byte over, unknown length", -1, exact + "a", true},
		{"announced huge, body small", 1 << 40, "small", false},
		{"longer than announced", 4, exact + "a", true},
		{"longer than announced, under the cap", 4, "0123456789", false},
		{"shorter than announced", 20, "0123", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := readBody(resp(tt.announced, tt.body), limit)
			if tt.tooLarge {
				assert.ErrorIs(t, err, wire.ErrTooLarge)
				assert.Nil(t, b)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.body, string(b))
		})
	}
}
