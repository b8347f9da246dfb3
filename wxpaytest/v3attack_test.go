package wxpaytest_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/internal/v3wire"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// v3Code decodes the code of a v3 error answer ("" for a success).
func v3Code(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Code
}

// A path parameter is one segment of the request-target as signed: an
// escaped slash inside it does not split it into two segments and land
// on another endpoint. WeChat reads "table00001%2Fclose" as an
// out_trade_no (which is malformed), never as a close of table00001.
func TestV3EscapedSlashStaysInItsSegment(t *testing.T) {
	f, err := wxpaytest.New(v3Config(wxpaytest.V3SignPublicKey))
	require.NoError(t, err)
	defer f.Close()
	w := newV3Req(t, f, "POST", string(wxpaytest.EndpointV3PrepayJSAPI), []byte(goodPrepay)).serve(f)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())

	for _, uri := range []string{
		"/v3/pay/transactions/out-trade-no/table00001%2Fclose",
		"/v3/pay/transactions/out-trade-no/table00001%2fclose",
		"/v3/pay/transactions/out-trade-no/%2E%2E/table00001/close",
	} {
		w := newV3Req(t, f, "POST", uri, []byte(`{"mchid":"`+testMchID+`"}`)).serve(f)
		assert.NotEqual(t, http.StatusNoContent, w.Code, "%s: %s", uri, w.Body.String())
		o, ok := f.Order("table00001")
		require.True(t, ok)
		assert.Equal(t, wxpaytest.StateNotPay, o.State, "%s closed the order", uri)
	}
	// A query for an id holding an escaped slash is a malformed id, not
	// a 404 of some other path, and never another order's answer.
	w = newV3Req(t, f, "GET", "/v3/pay/transactions/out-trade-no/a%2Fb?mchid="+testMchID, nil).serve(f)
	assert.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
	assert.Equal(t, "PARAM_ERROR", v3Code(t, w.Body.Bytes()))
	// Unicode and dot segments are malformed ids too.
	for _, id := range []string{"%E8%AE%A2%E5%8D%95", "..", ".", "table00001%00"} {
		w = newV3Req(t, f, "GET", "/v3/pay/transactions/out-trade-no/"+id+"?mchid="+testMchID, nil).serve(f)
		assert.Equal(t, http.StatusBadRequest, w.Code, "%s: %s", id, w.Body.String())
	}
}

// A request replayed byte for byte (same nonce, same timestamp) inside
// the five-minute window is served again. WeChat's signing page
// documents the window ("微信支付会拒绝处理很久之前发起的请求"), not
// whether it remembers nonces, and the fake keeps no nonce memory (the
// package doc lists nonce replay among what it does not reproduce):
// what makes a replay harmless is that every write is idempotent by
// business key, so it returns the first answer and changes nothing.
// Past the window it is refused.
func TestV3ReplayedRequest(t *testing.T) {
	clk := newClock()
	cfg := v3Config(wxpaytest.V3SignPublicKey)
	cfg.Now = clk.Now
	cfg.RefundImmediately = true
	f, err := wxpaytest.New(cfg)
	require.NoError(t, err)
	defer f.Close()

	prepay := newV3Req(t, f, "POST", string(wxpaytest.EndpointV3PrepayJSAPI), []byte(goodPrepay))
	first := prepay.serve(f)
	require.Equal(t, http.StatusOK, first.Code, first.Body.String())
	again := prepay.serve(f)
	require.Equal(t, http.StatusOK, again.Code, again.Body.String())
	assert.JSONEq(t, first.Body.String(), again.Body.String(), "the same prepay_id")
	assert.Len(t, f.Orders(), 1)

	_, err = f.Pay(wxpaytest.PayOptions{OutTradeNo: "table00001", NoNotify: true})
	require.NoError(t, err)
	refund := newV3Req(t, f, "POST", string(wxpaytest.EndpointV3Refund),
		[]byte(`{"out_trade_no":"table00001","out_refund_no":"rf1","amount":{"refund":60,"total":100,"currency":"CNY"}}`))
	for i := 0; i < 3; i++ {
		w := refund.serve(f)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	}
	require.Len(t, f.Refunds("table00001"), 1, "a replayed refund is the same refund")

	clk.Add(v3WindowForTest + time.Second)
	w := refund.serve(f)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Equal(t, "SIGN_ERROR", v3Code(t, w.Body.Bytes()))
	assert.Len(t, f.Refunds("table00001"), 1)
}

const v3WindowForTest = 5 * time.Minute

// The amounts a refund names are bounded, and their sums cannot wrap:
// from[] amounts that overflow int64 back to the refund are refused.
func TestV3RefundFromOverflow(t *testing.T) {
	cfg := v3Config(wxpaytest.V3SignPublicKey)
	f, err := wxpaytest.New(cfg)
	require.NoError(t, err)
	defer f.Close()
	w := newV3Req(t, f, "POST", string(wxpaytest.EndpointV3PrepayJSAPI), []byte(goodPrepay)).serve(f)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	_, err = f.Pay(wxpaytest.PayOptions{OutTradeNo: "table00001", NoNotify: true})
	require.NoError(t, err)

	const max = "9223372036854775807"
	for name, body := range map[string]string{
		"wrapping from": `{"out_trade_no":"table00001","out_refund_no":"rf1","amount":{"refund":1,"total":100,"currency":"CNY",` +
			`"from":[{"account":"AVAILABLE","amount":` + max + `},{"account":"UNAVAILABLE","amount":` + max + `},{"account":"AVAILABLE","amount":3}]}}`,
		"past int64":    `{"out_trade_no":"table00001","out_refund_no":"rf1","amount":{"refund":9223372036854775808,"total":100,"currency":"CNY"}}`,
		"huge total":    `{"out_trade_no":"table00001","out_refund_no":"rf1","amount":{"refund":1,"total":` + max + `,"currency":"CNY"}}`,
		"exponent":      `{"out_trade_no":"table00001","out_refund_no":"rf1","amount":{"refund":1e1,"total":100,"currency":"CNY"}}`,
		"negative from": `{"out_trade_no":"table00001","out_refund_no":"rf1","amount":{"refund":1,"total":100,"currency":"CNY","from":[{"account":"AVAILABLE","amount":-1},{"account":"AVAILABLE","amount":2}]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			w := newV3Req(t, f, "POST", string(wxpaytest.EndpointV3Refund), []byte(body)).serve(f)
			assert.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			assert.Empty(t, f.Refunds("table00001"), "a refused refund changes nothing")
		})
	}
}

// Many goroutines pay, refund and close one order at once, over v2 and
// v3 both: the order is settled once (one transaction id, one payment
// notification sequence), and the refunds never sum above its amount.
func TestV3ConcurrentCrossGeneration(t *testing.T) {
	cfg := v3Config(wxpaytest.V3SignPublicKey)
	cfg.RefundImmediately = true
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	c, err := apiv3.NewClient(s.APIv3Config(), s.APIv3Options()...)
	require.NoError(t, err)
	v2, err := wxpay.NewClient(wxpay.Config{AppID: testAppID, MchID: testMchID, APIKey: testKey, NotifyURL: "https://example.com/n"}, s.ClientOption())
	require.NoError(t, err)
	ctx := ctxT(t)
	_, err = c.PrepayJSAPI(ctx, v3JSAPIOrder("race00001", "https://example.com/n"))
	require.NoError(t, err)

	const n = 16
	var wg sync.WaitGroup
	txns := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(4)
		go func() {
			defer wg.Done()
			if o, err := s.Pay(wxpaytest.PayOptions{OutTradeNo: "race00001", NoNotify: true}); err == nil {
				txns <- o.TransactionID
			}
		}()
		go func(i int) {
			defer wg.Done()
			_, _ = c.Refund(ctx, &apiv3.RefundRequest{OutTradeNo: "race00001", OutRefundNo: fmt.Sprintf("v3r%02d", i),
				Amount: apiv3.RefundAmount{Refund: 7, Total: 100, Currency: apiv3.CNY}})
		}(i)
		go func(i int) {
			defer wg.Done()
			_, _ = v2.Refund(ctx, &wxpay.RefundRequest{OutTradeNo: "race00001", OutRefundNo: fmt.Sprintf("v2r%02d", i), TotalFee: 100, RefundFee: 9})
		}(i)
		go func() {
			defer wg.Done()
			_, _ = c.QueryByOutTradeNo(ctx, "race00001")
		}()
	}
	wg.Wait()
	close(txns)
	ids := map[string]bool{}
	for id := range txns {
		ids[id] = true
	}
	assert.Len(t, ids, 1, "one settlement: every successful Pay names the same transaction")
	var sum int64
	for _, r := range s.Refunds("race00001") {
		sum += r.RefundFee
	}
	assert.LessOrEqual(t, sum, int64(100), "refunds never sum above the order")
	assert.Greater(t, sum, int64(0))
	tx, err := c.QueryByOutTradeNo(ctx, "race00001")
	require.NoError(t, err)
	assert.True(t, ids[tx.TransactionID])
}

// No secret reaches the fake's log at any depth over a whole v3 run:
// refusals, notification attempts (failed, retried, acknowledged),
// refunds and their notifications, a rotation; nor the fake, the
// server, a Delivery or a Refund printed with any verb. The secrets are
// the APIv3 key, the WeChat Pay private key, and the merchant private
// key the fake minted.
func TestV3NoSecretAtAnyDepth(t *testing.T) {
	var logs syncBuffer
	cfg := v3Config(wxpaytest.V3SignCertificate)
	cfg.WeChatPayKey = readVector(t, "k-off.pem")
	cfg.Speed = 1000
	cfg.RefundImmediately = true
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, c := newV3(t, cfg)
	ctx := ctxT(t)
	var fails atomic.Int32
	fails.Store(2)
	sink := newPaymentSink(t, c)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fails.Add(-1) >= 0 {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		sink.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer flaky.Close()

	_, err := c.QueryByOutTradeNo(ctx, "nosuch0001")
	require.Error(t, err)
	bad := newV3Req(t, s.Fake, "POST", string(wxpaytest.EndpointV3PrepayJSAPI), []byte(goodPrepay))
	bad.body = []byte(strings.Replace(goodPrepay, "100", "1", 1))
	require.Equal(t, http.StatusUnauthorized, bad.serve(s.Fake).Code)
	_, err = c.PrepayJSAPI(ctx, v3JSAPIOrder("secret0001", flaky.URL))
	require.NoError(t, err)
	require.NoError(t, s.RotateV3Certificate())
	_, err = s.Pay(wxpaytest.PayOptions{OutTradeNo: "secret0001"})
	require.NoError(t, err)
	select {
	case <-sink.ch:
	case <-time.After(10 * time.Second):
		t.Fatal("the notification never arrived")
	}
	_, err = c.Refund(ctx, &apiv3.RefundRequest{OutTradeNo: "secret0001", OutRefundNo: "secretR1", NotifyURL: flaky.URL,
		Amount: apiv3.RefundAmount{Refund: 100, Total: 100, Currency: apiv3.CNY}})
	require.NoError(t, err)

	var out bytes.Buffer
	rf, _ := s.Refund("secretR1")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		for _, v := range []any{cfg, s.Fake, s, *s, s.Deliveries("secret0001"), rf, s.Orders()} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "cfg", cfg, "fake", s.Fake, "server", s, "deliveries", s.Deliveries("secret0001"))
	s.Close()

	_, minted := s.V3MerchantKey()
	secrets := map[string]string{"APIv3 key": testAPIv3Key, "APIv3 key (hex)": fmt.Sprintf("%x", testAPIv3Key)}
	for name, pemBytes := range map[string][]byte{"WeChat Pay key": cfg.WeChatPayKey, "minted merchant key": minted} {
		for i, line := range strings.Split(strings.TrimSpace(string(pemBytes)), "\n") {
			if !strings.HasPrefix(line, "-----") {
				secrets[fmt.Sprintf("%s line %d", name, i)] = line
			}
		}
	}
	require.Greater(t, len(secrets), 10)
	for _, where := range []struct {
		name string
		text string
	}{{"formatted values", out.String()}, {"the fake's log", logs.String()}} {
		for name, sec := range secrets {
			assert.NotContains(t, where.text, sec, "%s in %s", name, where.name)
		}
	}
	assert.Contains(t, logs.String(), "notification", "the attempts were logged")
	assert.Contains(t, logs.String(), "SIGN_ERROR")
}

// syncBuffer is a bytes.Buffer the notifier's goroutines may log to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Close stops v3 notification retries: after it returns, a merchant
// that never acknowledges receives nothing more, and Pay says ErrClosed.
func TestV3NoRetryAfterClose(t *testing.T) {
	cfg := v3Config(wxpaytest.V3SignPublicKey)
	cfg.Speed = 1000
	s, c := newV3(t, cfg)
	var got atomic.Int32
	first := make(chan struct{}, 64)
	never := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		got.Add(1)
		first <- struct{}{}
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer never.Close()
	_, err := c.PrepayJSAPI(ctxT(t), v3JSAPIOrder("close0001", never.URL))
	require.NoError(t, err)
	_, err = s.Pay(wxpaytest.PayOptions{OutTradeNo: "close0001"})
	require.NoError(t, err)
	<-first
	s.Close()
	n := got.Load()
	time.Sleep(300 * time.Millisecond) // at Speed 1000, several retries' worth of the schedule
	assert.Equal(t, n, got.Load(), "a retry went out after Close")
	_, err = s.Pay(wxpaytest.PayOptions{OutTradeNo: "close0001"})
	assert.ErrorIs(t, err, wxpaytest.ErrClosed)
}

// Rotations racing answers: every answer is signed by a certificate the
// fake serves once the answer is out, under the serial it names (run
// with -race: the certificate list is shared).
func TestV3RotationRacesAnswers(t *testing.T) {
	f, err := wxpaytest.New(v3Config(wxpaytest.V3SignCertificate))
	require.NoError(t, err)
	defer f.Close()
	const n = 8
	var wg sync.WaitGroup
	type answer struct {
		serial, ts, nonce, sig string
		body                   []byte
	}
	answers := make(chan answer, 4*n)
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			assert.NoError(t, f.RotateV3Certificate())
			_ = f.V3PlatformCertificates()
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 4; j++ {
				w := newV3Req(t, f, "GET", "/v3/pay/transactions/out-trade-no/nosuch0001?mchid="+testMchID, nil).serve(f)
				h := w.Header()
				answers <- answer{h.Get("Wechatpay-Serial"), h.Get("Wechatpay-Timestamp"), h.Get("Wechatpay-Nonce"), h.Get("Wechatpay-Signature"), w.Body.Bytes()}
			}
		}()
	}
	wg.Wait()
	close(answers)
	certs := map[string]*x509.Certificate{}
	for _, p := range f.V3PlatformCertificates() {
		b, _ := pem.Decode(p)
		require.NotNil(t, b)
		crt, err := x509.ParseCertificate(b.Bytes)
		require.NoError(t, err)
		certs[fmt.Sprintf("%X", crt.SerialNumber.Bytes())] = crt
	}
	assert.Len(t, certs, n+1, "every rotation kept")
	for a := range answers {
		crt := certs[a.serial]
		require.NotNil(t, crt, "the answer names serial %s, which the fake does not serve", a.serial)
		require.NoError(t, v3wire.Verify(crt.PublicKey.(*rsa.PublicKey), v3wire.AnswerMessage(a.ts, a.nonce, a.body), a.sig))
	}
}

// The same v3 pay parameters sent by many taps at once (wx.requestPayment
// called twice, a replayed request) pay the order once: one transaction,
// one notification, which the merchant receives once.
func TestV3ConcurrentPayOverHTTP(t *testing.T) {
	s, c := newV3(t, v3Config(wxpaytest.V3SignPublicKey))
	sink := newPaymentSink(t, c)
	ctx := ctxT(t)
	pr, err := c.PrepayJSAPI(ctx, v3JSAPIOrder("taps000001", sink.srv.URL))
	require.NoError(t, err)
	pp, err := c.JSAPIPayParams("", pr.PrepayID)
	require.NoError(t, err)
	const n = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	txns := map[string]int{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, out := payOverHTTP(t, s, pp)
			if st == http.StatusOK {
				mu.Lock()
				txns[out["transaction_id"]]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, txns, 1, "one transaction whatever the number of taps: %v", txns)
	require.NoError(t, s.WaitAcked(ctx, "taps000001"))
	<-sink.ch
	sink.mu.Lock()
	got := len(sink.got)
	sink.mu.Unlock()
	assert.Equal(t, 1, got, "one notification reached the merchant")
	var firsts int
	for _, d := range s.Deliveries("taps000001") {
		if d.Attempt == 1 {
			firsts++
		}
	}
	assert.Equal(t, 1, firsts, "one notification sequence")
}

// Pay racing a v3 close: each order ends in exactly one terminal state
// matching who won; a paid order is never closed and a closed order
// never paid.
func TestV3PayRacesClose(t *testing.T) {
	s, c := newV3(t, v3Config(wxpaytest.V3SignPublicKey))
	ctx := ctxT(t)
	for i := 0; i < 20; i++ {
		otn := fmt.Sprintf("payclose%02d", i)
		_, err := c.PrepayJSAPI(ctx, v3JSAPIOrder(otn, "https://example.com/n"))
		require.NoError(t, err)
		var wg sync.WaitGroup
		var payErr, closeErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, payErr = s.Pay(wxpaytest.PayOptions{OutTradeNo: otn, NoNotify: true})
		}()
		go func() {
			defer wg.Done()
			closeErr = c.CloseOrder(ctx, otn)
		}()
		wg.Wait()
		o, ok := s.Order(otn)
		require.True(t, ok)
		switch {
		case payErr == nil:
			assert.Equal(t, wxpaytest.StateSuccess, o.State, otn)
			if closeErr == nil {
				// The close came first only if the pay failed: both
				// cannot have won.
				t.Fatalf("%s: both the payment and the close succeeded", otn)
			}
		default:
			require.NoError(t, closeErr, "%s: neither won (pay: %v)", otn, payErr)
			assert.Equal(t, wxpaytest.StateClosed, o.State, otn)
		}
	}
}
