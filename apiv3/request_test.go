package apiv3

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	epTestQuery  = endpoint{op: "query", method: http.MethodGet, path: "/v3/pay/transactions/out-trade-no/{out_trade_no}"}
	epTestRefund = endpoint{op: "refunds", method: http.MethodPost, path: "/v3/refund/domestic/refunds", key: "out_refund_no"}
	epTestClose  = endpoint{op: "close", method: http.MethodPost, path: "/v3/pay/transactions/out-trade-no/{out_trade_no}/close"}
)

type testTxn struct {
	OutTradeNo string `json:"out_trade_no"`
	Amount     struct {
		Total int64 `json:"total"`
	} `json:"amount"`
}

func fakeSetup(t *testing.T, opts ...Option) (*fakeWeChat, *Client, *fakeClock) {
	t.Helper()
	clock := newFakeClock(time.Unix(1767337446, 0))
	f := newFakeWeChat(t, clock.Now)
	return f, clientFor(t, f, baseConfig(t), clock, opts...), clock
}

func query(t *testing.T, c *Client, no string) (testTxn, int, error) {
	t.Helper()
	r, err := newRequest(epTestQuery, []string{no}, url.Values{"mchid": {fakeMchID}}, nil)
	require.NoError(t, err)
	var out testTxn
	st, err := c.call(context.Background(), r, &out)
	return out, st, err
}

func TestCallVerifiedAnswer(t *testing.T) {
	f, c, _ := fakeSetup(t)
	var gotURI string
	f.route("GET /v3/pay/transactions/out-trade-no/T 1/2", func(r *http.Request) (int, string) {
		gotURI = r.URL.RequestURI()
		return http.StatusOK, `{"out_trade_no":"T 1/2","amount":{"total":100},"added_later":true}`
	})
	out, st, err := query(t, c, "T 1/2")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, st)
	assert.Equal(t, "T 1/2", out.OutTradeNo)
	assert.Equal(t, int64(100), out.Amount.Total)
	assert.Equal(t, "/v3/pay/transactions/out-trade-no/T%201%2F2?mchid=1230000109", gotURI, "path parameters escaped, and signed as sent")
}

func TestCallNoContent(t *testing.T) {
	f, c, _ := fakeSetup(t)
	f.route("POST /v3/pay/transactions/out-trade-no/T1/close", func(*http.Request) (int, string) { return http.StatusNoContent, "" })
	r, err := newRequest(epTestClose, []string{"T1"}, nil, map[string]string{"mchid": fakeMchID})
	require.NoError(t, err)
	st, err := c.call(context.Background(), r, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, st)

	// An unsigned 204 is as forged as any unsigned 2xx.
	f.setHook(func(h http.Header, b []byte) (http.Header, []byte) { return http.Header{}, b })
	_, err = c.call(context.Background(), r, nil)
	assert.ErrorIs(t, err, ErrMissingSignature)
}

// TestCallRefusesTamperedAnswers has the network change a genuine answer
// in each way; none may be decoded.
func TestCallRefusesTamperedAnswers(t *testing.T) {
	f, c, clock := fakeSetup(t)
	f.route("GET /v3/pay/transactions/out-trade-no/T1", func(*http.Request) (int, string) {
		return http.StatusOK, `{"out_trade_no":"T1","amount":{"total":100}}`
	})
	tests := []struct {
		name string
		hook func(http.Header, []byte) (http.Header, []byte)
		want error
	}{
		{"amount changed", func(h http.Header, b []byte) (http.Header, []byte) {
			return h, []byte(strings.Replace(string(b), "100", "1", 1))
		}, ErrSignature},
		{"headers stripped by a proxy", func(_ http.Header, b []byte) (http.Header, []byte) { return http.Header{}, b }, ErrMissingSignature},
		{"serial swapped", func(h http.Header, b []byte) (http.Header, []byte) {
			h.Set(HeaderSerial, "PUB_KEY_ID_0000000000000000000000000000")
			return h, b
		}, ErrUnknownSerial},
		{"probe", func(h http.Header, b []byte) (http.Header, []byte) {
			h.Set(HeaderSignature, ProbePrefix+h.Get(HeaderSignature))
			return h, b
		}, ErrSignatureProbe},
		{"stale replay", func(h http.Header, b []byte) (http.Header, []byte) {
			return signedHeaders(t, fakeKey{fakePubKeyID, parseKeyPEM(t, loadVec(t, "k-off.pem"))}, clock.Now().Add(-time.Hour), b), b
		}, ErrTimestamp},
		{"signed by a forger", func(_ http.Header, b []byte) (http.Header, []byte) {
			return signedHeaders(t, fakeKey{fakePubKeyID, otherKey(t)}, clock.Now(), b), b
		}, ErrSignature},
		{"duplicate key smuggled in, signed by a forger", func(_ http.Header, _ []byte) (http.Header, []byte) {
			b := []byte(`{"out_trade_no":"T1","amount":{"total":100,"total":1}}`)
			return signedHeaders(t, fakeKey{fakePubKeyID, otherKey(t)}, clock.Now(), b), b
		}, ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.setHook(tt.hook)
			out, _, err := query(t, c, "T1")
			assert.ErrorIs(t, err, tt.want)
			assert.Zero(t, out, "nothing of a refused answer is decoded")
			assert.Equal(t, tt.want == ErrSignatureProbe, Retryable(err),
				"only a probe is worth repeating a query for: WeChat signs the next answer correctly")
		})
	}
	f.setHook(nil)
	_, _, err := query(t, c, "T1")
	require.NoError(t, err)
}

func TestCallGenuineDuplicateKeysRefused(t *testing.T) {
	f, c, _ := fakeSetup(t)
	f.route("GET /v3/pay/transactions/out-trade-no/T1", func(*http.Request) (int, string) {
		return http.StatusOK, `{"out_trade_no":"T1","amount":{"total":100,"TOTAL":1}}`
	})
	_, _, err := query(t, c, "T1")
	assert.ErrorIs(t, err, ErrJSON, "even a signed answer with duplicate keys is refused")
}

func TestCallErrorAnswers(t *testing.T) {
	f, c, _ := fakeSetup(t)
	f.route("GET /v3/pay/transactions/out-trade-no/NOPE", func(*http.Request) (int, string) {
		return http.StatusNotFound, `{"code":"ORDER_NOT_EXIST","message":"订单不存在"}`
	})
	f.route("GET /v3/pay/transactions/out-trade-no/BAD", func(*http.Request) (int, string) {
		return http.StatusBadRequest, `{"code":"PARAM_ERROR","message":"参数错误","detail":{"field":"/amount/currency","value":"XYZ","issue":"Currency code is invalid","location":"body"}}`
	})
	f.route("GET /v3/pay/transactions/out-trade-no/BUSY", func(*http.Request) (int, string) {
		return http.StatusInternalServerError, `{"code":"SYSTEM_ERROR","message":"系统繁忙"}`
	})

	_, _, err := query(t, c, "NOPE")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusNotFound, e.StatusCode)
	assert.Equal(t, ErrCodeOrderNotExist, e.Code)
	assert.Equal(t, "订单不存在", e.Message)
	assert.True(t, e.Verified)
	assert.NotEmpty(t, e.RequestID)
	assert.False(t, e.Retryable())
	assert.False(t, Retryable(err))
	assert.Equal(t, "apiv3: query: http 404: ORDER_NOT_EXIST: 订单不存在 (request-id 08F78BB5AF0610D302189F0E20BE0528F8CB0B-0)", err.Error())

	_, _, err = query(t, c, "BAD")
	require.ErrorAs(t, err, &e)
	require.NotNil(t, e.Detail)
	assert.Equal(t, ErrorDetail{Field: "/amount/currency", Value: "XYZ", Issue: "Currency code is invalid", Location: "body"}, *e.Detail)

	_, _, err = query(t, c, "BUSY")
	require.ErrorAs(t, err, &e)
	assert.True(t, e.Retryable())
	assert.True(t, Retryable(err))

	// A signed error answer whose signature fails is not reported as
	// WeChat's word.
	f.setHook(func(h http.Header, b []byte) (http.Header, []byte) {
		return h, []byte(`{"code":"ORDER_NOT_EXIST","message":"forged"}`)
	})
	_, _, err = query(t, c, "BAD")
	assert.ErrorIs(t, err, ErrSignature)
	assert.False(t, errors.As(err, &e))

	// Unsigned: a gateway's page, or WeChat's 401 (never signed).
	f.setHook(func(_ http.Header, b []byte) (http.Header, []byte) { return http.Header{}, b })
	_, _, err = query(t, c, "NOPE")
	require.ErrorAs(t, err, &e)
	assert.False(t, e.Verified)
	assert.Contains(t, err.Error(), "(unsigned answer)")
	f.route("GET /v3/pay/transactions/out-trade-no/HTML", func(*http.Request) (int, string) {
		return http.StatusBadGateway, `<html>502 Bad Gateway</html>`
	})
	_, _, err = query(t, c, "HTML")
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusBadGateway, e.StatusCode)
	assert.ErrorIs(t, err, ErrJSON)
	assert.True(t, Retryable(err))
}

// TestCallSignError: WeChat refuses a request signed with the wrong key
// with an unsigned 401.
func TestCallSignError(t *testing.T) {
	clock := newFakeClock(time.Unix(1767337446, 0))
	f := newFakeWeChat(t, clock.Now)
	cfg := baseConfig(t)
	cfg.PrivateKey = loadVec(t, "k-wgo.pem") // not the key WeChat has for this merchant
	c := clientFor(t, f, cfg, clock)
	_, _, err := query(t, c, "T1")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, ErrCodeSignError, e.Code)
	assert.Equal(t, http.StatusUnauthorized, e.StatusCode)
	assert.False(t, e.Verified)
}

func TestCallOutcomeUnknown(t *testing.T) {
	f, c, _ := fakeSetup(t)
	refund := func(t *testing.T) error {
		r, err := newRequest(epTestRefund, nil, nil, map[string]any{"out_refund_no": "R1", "amount": map[string]any{"refund": 1, "total": 1, "currency": "CNY"}})
		require.NoError(t, err)
		_, err = c.call(context.Background(), r, new(map[string]any))
		return err
	}
	t.Run("5xx", func(t *testing.T) {
		f.route("POST /v3/refund/domestic/refunds", func(*http.Request) (int, string) {
			return http.StatusInternalServerError, `{"code":"SYSTEM_ERROR","message":"系统错误"}`
		})
		err := refund(t)
		var oe *OutcomeUnknownError
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, "out_refund_no", oe.Key)
		var e *Error
		require.ErrorAs(t, err, &e, "WeChat's answer stays reachable")
		assert.Equal(t, ErrCodeSystemError, e.Code)
		assert.True(t, Retryable(err))
		assert.Contains(t, err.Error(), "retry with the same out_refund_no")
	})
	t.Run("429", func(t *testing.T) {
		f.route("POST /v3/refund/domestic/refunds", func(*http.Request) (int, string) {
			return http.StatusTooManyRequests, `{"code":"RATELIMIT_EXCEEDED","message":"请求超过频率限制"}`
		})
		var oe *OutcomeUnknownError
		require.ErrorAs(t, refund(t), &oe)
	})
	t.Run("definite 403", func(t *testing.T) {
		f.route("POST /v3/refund/domestic/refunds", func(*http.Request) (int, string) {
			return http.StatusForbidden, `{"code":"NOTENOUGH","message":"余额不足"}`
		})
		err := refund(t)
		var oe *OutcomeUnknownError
		assert.False(t, errors.As(err, &oe))
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, ErrCodeNotEnough, e.Code)
		assert.False(t, Retryable(err))
	})
	t.Run("bad signature on success", func(t *testing.T) {
		f.route("POST /v3/refund/domestic/refunds", func(*http.Request) (int, string) { return http.StatusOK, `{"status":"PROCESSING"}` })
		f.setHook(func(h http.Header, b []byte) (http.Header, []byte) { return h, append(b, ' ') })
		defer f.setHook(nil)
		err := refund(t)
		var oe *OutcomeUnknownError
		require.ErrorAs(t, err, &oe, "WeChat may have refunded: the caller must retry with the same key")
		assert.ErrorIs(t, err, ErrSignature)
		assert.True(t, Retryable(err))
	})
	t.Run("timeout after sending", func(t *testing.T) {
		release := make(chan struct{})
		f.route("POST /v3/refund/domestic/refunds", func(*http.Request) (int, string) {
			<-release
			return http.StatusOK, `{}`
		})
		defer close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		r, err := newRequest(epTestRefund, nil, nil, map[string]string{"out_refund_no": "R1"})
		require.NoError(t, err)
		_, err = c.call(ctx, r, nil)
		var oe *OutcomeUnknownError
		require.ErrorAs(t, err, &oe)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.True(t, Retryable(err))
	})
}

func TestCallRequestErrors(t *testing.T) {
	_, err := newRequest(epTestQuery, nil, nil, nil)
	var re *RequestError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "out_trade_no", re.Field)
	_, err = newRequest(epTestQuery, []string{""}, nil, nil)
	require.ErrorAs(t, err, &re)
	_, err = newRequest(epTestQuery, []string{"a", "b"}, nil, nil)
	require.ErrorAs(t, err, &re)
	_, err = newRequest(epTestRefund, nil, nil, map[string]string{"reason": "谢谢😀"})
	require.ErrorAs(t, err, &re)
	assert.Contains(t, re.Reason, "4-byte")
	assert.NotContains(t, err.Error(), "谢谢", "the value is not repeated")
	_, err = newRequest(epTestRefund, nil, nil, map[string]any{"f": func() {}})
	require.ErrorAs(t, err, &re)
	assert.False(t, Retryable(err))
}

func TestCallSerialHeader(t *testing.T) {
	f, c, _ := fakeSetup(t)
	f.route("POST /v3/refund/domestic/refunds", func(*http.Request) (int, string) { return http.StatusOK, `{}` })
	r, err := newRequest(epTestRefund, nil, nil, map[string]string{"out_refund_no": "R1"})
	require.NoError(t, err)
	_, err = c.call(context.Background(), r, nil)
	require.NoError(t, err)
	assert.Equal(t, fakePubKeyID, f.lastSer.Load(), "by default the public key id asks WeChat to sign with it")

	r.serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
	_, err = c.call(context.Background(), r, nil)
	require.NoError(t, err)
	assert.Equal(t, r.serial, f.lastSer.Load(), "the key sensitive fields were encrypted under")
}

func TestCallResponseTooLarge(t *testing.T) {
	f, c, _ := fakeSetup(t)
	f.route("GET /v3/pay/transactions/out-trade-no/BIG", func(*http.Request) (int, string) {
		return http.StatusOK, `{"x":"` + strings.Repeat("a", MaxResponseBytes) + `"}`
	})
	_, _, err := query(t, c, "BIG")
	assert.ErrorIs(t, err, ErrResponseTooLarge)
}

// TestCallFailover: a primary that refuses connections was provably never
// reached, so the request goes to the backup; one that accepted and then
// failed is never retried elsewhere.
func TestCallFailover(t *testing.T) {
	clock := newFakeClock(time.Unix(1767337446, 0))
	f := newFakeWeChat(t, clock.Now)
	f.route("POST /v3/refund/domestic/refunds", func(*http.Request) (int, string) { return http.StatusOK, `{"status":"SUCCESS"}` })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "https://" + l.Addr().String()
	require.NoError(t, l.Close())

	c, err := NewClient(baseConfig(t), WithHTTPClient(f.srv.Client()), WithBaseURL(dead), WithFailover(f.srv.URL), WithClock(clock.Now))
	require.NoError(t, err)
	r, err := newRequest(epTestRefund, nil, nil, map[string]string{"out_refund_no": "R1"})
	require.NoError(t, err)
	var out struct{ Status string }
	_, err = c.call(context.Background(), r, &out)
	require.NoError(t, err)
	assert.Equal(t, "SUCCESS", out.Status)
	assert.Equal(t, int64(1), f.requests.Load())

	// Without failover the same failure is retryable: never sent.
	c2, err := NewClient(baseConfig(t), WithHTTPClient(f.srv.Client()), WithBaseURL(dead), WithClock(clock.Now))
	require.NoError(t, err)
	_, err = c2.call(context.Background(), r, nil)
	require.Error(t, err)
	var oe *OutcomeUnknownError
	assert.False(t, errors.As(err, &oe), "a refused connection proves nothing was sent: %v", err)
	assert.True(t, Retryable(err))
}

// TestErrorDetailSignError decodes the SIGN_ERROR answer published on
// developers.weixin.qq.com (community thread 00004839bf4710761b8fd15dc51000).
func TestErrorDetailSignError(t *testing.T) {
	const body = `{"code":"SIGN_ERROR","detail":{"detail":{"issue":"sign not match"},"field":"signature","location":"authorization","sign_information":{"method":"GET","sign_message_length":85,"truncated_sign_message":"GET\n/v3/certificates?algorithm_type=RSA\n1680144553\nvDit…\n\n","url":"/v3/certificates?algorithm_type=RSA"}},"message":"错误的签名,验签失败"}`
	f, c, _ := fakeSetup(t)
	f.route("GET /v3/pay/transactions/out-trade-no/T1", func(*http.Request) (int, string) { return http.StatusUnauthorized, body })
	f.setHook(func(_ http.Header, b []byte) (http.Header, []byte) { return http.Header{}, b }) // WeChat does not sign it
	_, _, err := query(t, c, "T1")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, ErrCodeSignError, e.Code)
	require.NotNil(t, e.Detail)
	assert.Equal(t, "signature", e.Detail.Field)
	assert.Equal(t, "sign not match", e.Detail.Issue)
	assert.Equal(t, "authorization", e.Detail.Location)
	require.NotNil(t, e.Detail.SignInformation)
	assert.Equal(t, SignInformation{Method: "GET", URL: "/v3/certificates?algorithm_type=RSA", SignMessageLength: 85,
		TruncatedSignMessage: "GET\n/v3/certificates?algorithm_type=RSA\n1680144553\nvDit…\n\n"}, *e.Detail.SignInformation)
	assert.Contains(t, err.Error(), "check MerchantSerialNo")
	assert.NotContains(t, err.Error(), "\n", "one line")
}

func FuzzErrorBody(f *testing.F) {
	f.Add([]byte(`{"code":"PARAM_ERROR","message":"参数错误","detail":{"field":"/amount/currency","value":"XYZ","issue":"bad","location":"body"}}`))
	f.Add([]byte(`{"code":"SIGN_ERROR","detail":{"detail":{"issue":"sign not match"},"sign_information":{"sign_message_length":85}}}`))
	f.Add([]byte(`<html>502</html>`))
	f.Add([]byte(`{"code":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e := &Error{Op: "fuzz", StatusCode: 400}
		e.decodeBody(body)
		if e.Code != "" && e.Err != nil {
			t.Fatal("both a code and a cause")
		}
		if e.Code != "" && checkJSON(body) != nil {
			t.Fatal("a code taken from JSON the decoder refuses")
		}
		msg := e.Error()
		if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "apiv3: fuzz: http 400") {
			t.Fatalf("malformed error text %q", msg)
		}
	})
}

// TestCallNeverFollowsRedirects: WeChat never redirects; following one
// would re-send a signed request wherever it points.
func TestCallNeverFollowsRedirects(t *testing.T) {
	f, c, _ := fakeSetup(t)
	f.route("GET /v3/pay/transactions/out-trade-no/T1", func(r *http.Request) (int, string) { return http.StatusFound, `` })
	f.setHook(func(h http.Header, b []byte) (http.Header, []byte) {
		h.Set("Location", "/elsewhere")
		return h, b
	})
	_, _, err := query(t, c, "T1")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusFound, e.StatusCode)
	assert.Equal(t, int64(1), f.requests.Load(), "the redirect was not followed")
}
