package wxpaytest_test

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// Each v3 fault is refused by apiv3 as it must be; the faults that only
// bend the signature still let the request take effect.
func TestV3AnswerFaults(t *testing.T) {
	for name, tc := range map[string]struct {
		fault wxpaytest.Fault
		want  error // matched with errors.Is; nil: an *apiv3.Error
	}{
		"wrong key":       {wxpaytest.Fault{WrongKey: true}, apiv3.ErrSignature},
		"probe":           {wxpaytest.Fault{V3Probe: true}, apiv3.ErrSignatureProbe},
		"unknown serial":  {wxpaytest.Fault{V3UnknownSerial: true}, apiv3.ErrUnknownSerial},
		"stale timestamp": {wxpaytest.Fault{V3StaleTimestamp: true}, apiv3.ErrTimestamp},
		"unsigned 2xx":    {wxpaytest.Fault{Unsigned: true}, apiv3.ErrMissingSignature},
	} {
		t.Run(name, func(t *testing.T) {
			s, c := newV3(t, v3Config(wxpaytest.V3SignPublicKey))
			ctx := ctxT(t)
			s.Inject(wxpaytest.EndpointV3PrepayJSAPI, 1, tc.fault)
			_, err := c.PrepayJSAPI(ctx, v3JSAPIOrder("fault00001", "https://example.com/n"))
			require.ErrorIs(t, err, tc.want)
			_, placed := s.Order("fault00001")
			assert.True(t, placed, "the fault bends the answer only: the order was placed")
			// The retry under the same out_trade_no is answered genuinely.
			_, err = c.PrepayJSAPI(ctx, v3JSAPIOrder("fault00001", "https://example.com/n"))
			require.NoError(t, err)
		})
	}
}

func TestV3ErrorFaults(t *testing.T) {
	s, c := newV3(t, v3Config(wxpaytest.V3SignPublicKey))
	ctx := ctxT(t)
	var we *apiv3.Error

	s.FailNext(wxpaytest.EndpointV3QueryByOutTradeNo, "SYSTEM_ERROR")
	_, err := c.QueryByOutTradeNo(ctx, "nosuch0001")
	require.ErrorAs(t, err, &we)
	assert.Equal(t, http.StatusInternalServerError, we.StatusCode)
	assert.Equal(t, apiv3.ErrCodeSystemError, we.Code)
	assert.True(t, we.Verified, "a 5xx with Wechatpay headers is verified")

	s.Inject(wxpaytest.EndpointV3QueryByOutTradeNo, 1, wxpaytest.Fault{ErrCode: "SYSTEM_ERROR", Unsigned: true})
	_, err = c.QueryByOutTradeNo(ctx, "nosuch0001")
	require.ErrorAs(t, err, &we)
	assert.Equal(t, http.StatusInternalServerError, we.StatusCode)
	assert.False(t, we.Verified, "a 5xx without Wechatpay headers")

	s.Inject(wxpaytest.EndpointV3QueryByOutTradeNo, 1, wxpaytest.Fault{ErrCode: "FREQUENCY_LIMITED"})
	_, err = c.QueryByOutTradeNo(ctx, "nosuch0001")
	require.ErrorAs(t, err, &we)
	assert.Equal(t, http.StatusTooManyRequests, we.StatusCode)
	assert.True(t, we.Retryable())

	// A fault without Processed keeps the request from taking effect.
	s.FailNext(wxpaytest.EndpointV3PrepayJSAPI, "SYSTEM_ERROR")
	_, err = c.PrepayJSAPI(ctx, v3JSAPIOrder("fault00002", "https://example.com/n"))
	var ou *apiv3.OutcomeUnknownError
	require.ErrorAs(t, err, &ou)
	_, placed := s.Order("fault00002")
	assert.False(t, placed)

	// A connection dropped after the request was read and done: the
	// outcome is unknown to the client, the order exists, and the retry
	// under the same out_trade_no gives its prepay_id.
	s.Inject(wxpaytest.EndpointV3PrepayJSAPI, 1, wxpaytest.Fault{Drop: true, Processed: true})
	_, err = c.PrepayJSAPI(ctx, v3JSAPIOrder("fault00003", "https://example.com/n"))
	require.ErrorAs(t, err, &ou)
	o, placed := s.Order("fault00003")
	require.True(t, placed)
	pr, err := c.PrepayJSAPI(ctx, v3JSAPIOrder("fault00003", "https://example.com/n"))
	require.NoError(t, err)
	assert.Equal(t, o.PrepayID, pr.PrepayID)
}

// A notification bent by a fault is refused by apiv3's handler (4xx),
// and the next attempt, genuine, is accepted: nothing is lost.
func TestV3NotificationFaults(t *testing.T) {
	for name, fl := range map[string]wxpaytest.Fault{
		"wrong key":         {WrongKey: true},
		"probe":             {V3Probe: true},
		"unknown serial":    {V3UnknownSerial: true},
		"stale timestamp":   {V3StaleTimestamp: true},
		"unsigned":          {Unsigned: true},
		"tampered resource": {V3TamperCiphertext: true},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := v3Config(wxpaytest.V3SignPublicKey)
			cfg.Speed = 1000 // the 15 s before the first retry last 15 ms
			s, c := newV3(t, cfg)
			sink := newPaymentSink(t, c)
			ctx := ctxT(t)
			pr, err := c.PrepayJSAPI(ctx, v3JSAPIOrder("nfault0001", sink.srv.URL))
			require.NoError(t, err)
			_, err = s.Pay(wxpaytest.PayOptions{PrepayID: pr.PrepayID, V3Fault: func(attempt int) wxpaytest.Fault {
				if attempt == 1 {
					return fl
				}
				return wxpaytest.Fault{}
			}})
			require.NoError(t, err)
			require.NoError(t, s.WaitAcked(ctx, "nfault0001"))
			ds := s.Deliveries("nfault0001")
			require.Len(t, ds, 2)
			assert.GreaterOrEqual(t, ds[0].StatusCode, 400)
			assert.False(t, ds[0].Acked)
			assert.True(t, ds[1].Acked)
			sink.mu.Lock()
			defer sink.mu.Unlock()
			require.Len(t, sink.got, 1, "only the genuine attempt reached the application")
		})
	}
}

// Rotating the platform certificate mid-run loses no answer and no
// notification: the client meets the new serial, downloads the
// certificates again (both are served during the overlap) and goes on.
func TestV3RotateCertificateMidRun(t *testing.T) {
	clk := newClock()
	cfg := v3Config(wxpaytest.V3SignCertificate)
	cfg.Now = clk.Now
	s, c := newV3(t, cfg)
	sink := newPaymentSink(t, c)
	ctx := ctxT(t)
	before := s.V3PlatformCertificates()
	require.Len(t, before, 1)

	pr, err := c.PrepayJSAPI(ctx, v3JSAPIOrder("rotate0001", sink.srv.URL))
	require.NoError(t, err)
	// A rotation comes long after a client's start: apiv3 refreshes at
	// most once a minute on unknown serials.
	clk.Add(2 * time.Minute)
	require.NoError(t, s.RotateV3Certificate())
	after := s.V3PlatformCertificates()
	require.Len(t, after, 2)
	assert.Equal(t, before[0], after[1], "the old certificate is still served, after the new one")

	_, err = s.Pay(wxpaytest.PayOptions{PrepayID: pr.PrepayID})
	require.NoError(t, err)
	select {
	case n := <-sink.ch:
		assert.Equal(t, "rotate0001", n.Transaction.OutTradeNo)
	case <-ctx.Done():
		t.Fatal("the notification signed by the new certificate was not accepted")
	}
	require.NoError(t, s.WaitAcked(ctx, "rotate0001"))
	ds := s.Deliveries("rotate0001")
	require.NotEmpty(t, ds)
	assert.True(t, ds[0].Acked, "accepted at the first attempt")
	tx, err := c.QueryByOutTradeNo(ctx, "rotate0001")
	require.NoError(t, err)
	assert.Equal(t, apiv3.TradeSuccess, tx.TradeState)
	serials := map[string]bool{}
	for _, cert := range c.Certificates() {
		serials[cert.SerialNo] = true
	}
	assert.Len(t, serials, 2, "the client trusts both certificates")
}

// V3SignBoth follows the request's Wechatpay-Serial for answers, and
// alternates the two keys for notifications; a client configured for
// both accepts all of them.
func TestV3SignBoth(t *testing.T) {
	cfg := v3Config(wxpaytest.V3SignBoth)
	cfg.Speed = 1000
	s, c := newV3(t, cfg)
	ctx := ctxT(t)
	var serials []string
	sinkSrv := newPaymentSink(t, c)
	for i, no := range []string{"both000001", "both000002"} {
		pr, err := c.PrepayJSAPI(ctx, v3JSAPIOrder(no, sinkSrv.srv.URL))
		require.NoError(t, err)
		_, err = s.Pay(wxpaytest.PayOptions{PrepayID: pr.PrepayID})
		require.NoError(t, err)
		require.NoError(t, s.WaitAcked(ctx, no), i)
		ds := s.Deliveries(no)
		serials = append(serials, ds[len(ds)-1].Header.Get("Wechatpay-Serial"))
	}
	assert.NotEqual(t, serials[0], serials[1], "notifications alternate between the two keys")
	assert.Contains(t, serials, s.V3PublicKeyID())
}

// v3's acknowledgement is the status alone: a 5xx is retried on the
// schedule, a 200 ends the retries whatever its body says (even WeChat's
// {"code":"FAIL"}), as WeChat reads the answer.
func TestV3NotificationAckRule(t *testing.T) {
	cfg := v3Config(wxpaytest.V3SignPublicKey)
	cfg.Speed = 1000
	s, c := newV3(t, cfg)
	ctx := ctxT(t)
	var calls atomic.Int32
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
		case 2:
			w.WriteHeader(http.StatusAccepted) // 2xx, but not 200 or 204
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"code":"FAIL","message":"失败"}`))
		}
	}))
	defer shop.Close()
	pr, err := c.PrepayJSAPI(ctx, v3JSAPIOrder("ackrule001", shop.URL))
	require.NoError(t, err)
	_, err = s.Pay(wxpaytest.PayOptions{PrepayID: pr.PrepayID})
	require.NoError(t, err)
	require.NoError(t, s.WaitAcked(ctx, "ackrule001"))
	ds := s.Deliveries("ackrule001")
	require.Len(t, ds, 3)
	for i, want := range []int{500, 202, 200} {
		assert.Equal(t, want, ds[i].StatusCode)
		assert.Equal(t, i+1, ds[i].Attempt)
		assert.Equal(t, want == 200, ds[i].Acked)
	}
	assert.NotEqual(t, ds[0].Header.Get("Wechatpay-Timestamp")+ds[0].Header.Get("Wechatpay-Nonce"),
		ds[1].Header.Get("Wechatpay-Timestamp")+ds[1].Header.Get("Wechatpay-Nonce"), "each attempt is signed anew")
	assert.Equal(t, ds[0].Body, ds[1].Body, "the body (its id) is the same across attempts")
}

// A refund notification bent by a fault is refused by apiv3's
// RefundNotifyHandler and the genuine retry accepted.
func TestV3RefundNotificationFaults(t *testing.T) {
	for name, fl := range map[string]wxpaytest.Fault{
		"probe":             {V3Probe: true},
		"tampered resource": {V3TamperCiphertext: true},
		"wrong key":         {WrongKey: true},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := v3Config(wxpaytest.V3SignPublicKey)
			cfg.Speed = 1000
			cfg.RefundImmediately = true
			s, c := newV3(t, cfg)
			sink := newRefundSink(t, c)
			ctx := ctxT(t)
			pr, err := c.PrepayJSAPI(ctx, v3JSAPIOrder("rnfault001", "https://example.com/n"))
			require.NoError(t, err)
			_, err = s.Pay(wxpaytest.PayOptions{PrepayID: pr.PrepayID, NoNotify: true})
			require.NoError(t, err)
			s.V3RefundNotifyFault("rnfault-r1", func(attempt int) wxpaytest.Fault {
				if attempt == 1 {
					return fl
				}
				return wxpaytest.Fault{}
			})
			_, err = c.Refund(ctx, &apiv3.RefundRequest{OutTradeNo: "rnfault001", OutRefundNo: "rnfault-r1", NotifyURL: sink.srv.URL,
				Amount: apiv3.RefundAmount{Refund: 100, Total: 100, Currency: apiv3.CNY}})
			require.NoError(t, err)
			require.NoError(t, s.WaitRefundAcked(ctx, "rnfault-r1"))
			ds := s.RefundDeliveries("rnfault-r1")
			require.Len(t, ds, 2)
			assert.False(t, ds[0].Acked)
			assert.True(t, ds[1].Acked)
			n := <-sink.ch
			assert.Equal(t, "rnfault-r1", n.OutRefundNo)
			assert.Empty(t, sink.ch, "only the genuine attempt reached the application")
		})
	}
}

// In V3SignBoth an answer is signed with the public key when the
// request's Wechatpay-Serial names it, with the platform certificate
// otherwise, as WeChat does while a merchant switches.
func TestV3SignBothFollowsRequestSerial(t *testing.T) {
	f, err := wxpaytest.New(v3Config(wxpaytest.V3SignBoth))
	require.NoError(t, err)
	defer f.Close()
	uri := "/v3/pay/transactions/out-trade-no/nosuch0001?mchid=" + testMchID
	certSerial := func() string {
		c, err := x509.ParseCertificate(pemBlock(t, f.V3PlatformCertificates()[0]))
		require.NoError(t, err)
		return strings.ToUpper(hex.EncodeToString(c.SerialNumber.Bytes()))
	}()
	for reqSerial, want := range map[string]string{
		f.V3PublicKeyID(): f.V3PublicKeyID(),
		"":                certSerial,
		certSerial:        certSerial,
	} {
		r := newV3Req(t, f, "GET", uri, nil)
		if reqSerial != "" {
			r.header.Set("Wechatpay-Serial", reqSerial)
		}
		w := r.serve(f)
		assert.Equal(t, want, w.Header().Get("Wechatpay-Serial"), "request serial %q", reqSerial)
	}
}

func pemBlock(t testing.TB, b []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(b)
	require.NotNil(t, block)
	return block.Bytes
}
