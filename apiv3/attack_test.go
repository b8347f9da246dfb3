package apiv3_test

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/apiv3"
)

// Each test here plays an attacker, or a faulty network, against the
// public API of apiv3 only, and must fail to get a forged, replayed or
// substituted message accepted, to tell errors apart, or to find a
// secret. The keys are the public test keys of testdata/v3 (see its
// PROVENANCE.md): the merchant signs with k-wj.pem, "WeChat" with
// k-off.pem as its WeChat Pay public key.

const (
	atkMchID    = "1230000109"
	atkAppID    = "wxd678efh567hg6787"
	atkSerial   = "5F1C72E2A8931B72A2E13AF8DEE92471EB397115"
	atkV3Key    = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"
	atkPubKeyID = "PUB_KEY_ID_0114232134912410000000000000"
)

var atkNow = time.Date(2026, 1, 2, 7, 4, 6, 0, time.UTC)

func atkFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/v3/" + name)
	require.NoError(t, err)
	return b
}

func atkKey(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	block, _ := pem.Decode(atkFile(t, name))
	require.NotNil(t, block)
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	return k.(*rsa.PrivateKey)
}

func atkConfig(t testing.TB) apiv3.Config {
	return apiv3.Config{
		MchID:            atkMchID,
		AppID:            atkAppID,
		MerchantSerialNo: atkSerial,
		PrivateKey:       atkFile(t, "k-wj.pem"),
		APIv3Key:         atkV3Key,
		PublicKeyID:      atkPubKeyID,
		PublicKey:        atkFile(t, "k-off.pub.pem"),
	}
}

// atkSign signs ts\nnonce\nbody\n as WeChat signs answers and
// notifications, independently of the package.
func atkSign(t testing.TB, k *rsa.PrivateKey, ts, nonce string, body []byte) string {
	d := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + string(body) + "\n"))
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(sig)
}

func atkHeaders(t testing.TB, k *rsa.PrivateKey, at time.Time, body []byte) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	nonce := "atkNonce" + strconv.FormatInt(at.UnixNano()%1e9, 10)
	h := http.Header{}
	h.Set("Wechatpay-Serial", atkPubKeyID)
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", atkSign(t, k, ts, nonce, body))
	return h
}

// atkServer is WeChat as seen through a network the attacker may
// control after TLS (a caching proxy, a replaying middlebox): handler
// answers each request with a status and a body, which is then signed
// by WeChat's real key (so a substituted answer is genuinely signed),
// unless handler set headers itself.
type atkServer struct {
	srv  *httptest.Server
	wx   *rsa.PrivateKey
	hits atomic.Int64
}

type atkReply struct {
	status int
	body   string
	header http.Header // nil: sign body with WeChat's key now
	drop   bool        // hijack and close the connection without answering
	raw    string      // with drop: written on the hijacked connection first
}

func newAtkServer(t *testing.T, handle func(r *http.Request, body []byte) atkReply) *atkServer {
	t.Helper()
	s := &atkServer{wx: atkKey(t, "k-off.pem")}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		rep := handle(r, body)
		if rep.drop {
			if hj, ok := w.(http.Hijacker); ok {
				conn, _, err := hj.Hijack()
				if err == nil {
					_, _ = io.WriteString(conn, rep.raw)
					_ = conn.Close()
				}
			}
			return
		}
		h := rep.header
		if h == nil {
			h = atkHeaders(t, s.wx, atkNow, []byte(rep.body))
		}
		for k, vs := range h {
			w.Header()[k] = vs
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.body)
	}))
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *atkServer) client(t *testing.T, cfg apiv3.Config, opts ...apiv3.Option) *apiv3.Client {
	t.Helper()
	opts = append([]apiv3.Option{apiv3.WithHTTPClient(s.srv.Client()), apiv3.WithBaseURL(s.srv.URL),
		apiv3.WithClock(func() time.Time { return atkNow })}, opts...)
	c, err := apiv3.NewClient(cfg, opts...)
	require.NoError(t, err)
	return c
}

func atkTransaction(outTradeNo, transactionID, mchID string) string {
	return `{"appid":"` + atkAppID + `","mchid":"` + mchID + `","out_trade_no":"` + outTradeNo +
		`","transaction_id":"` + transactionID + `","trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"支付成功",` +
		`"bank_type":"CMC","success_time":"2026-01-02T15:04:05+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},` +
		`"amount":{"total":88800,"payer_total":88800,"currency":"CNY","payer_currency":"CNY"}}`
}

// TestAttackQuerySubstitutedAnswer: the merchant asks about its unpaid
// order VICTIM; the network hands back WeChat's genuinely signed answer
// about another, paid order (the attacker's own, or a cached one). A
// reconciliation job that believed it would mark VICTIM paid. The answer
// must be refused because it is not about the order asked for.
func TestAttackQuerySubstitutedAnswer(t *testing.T) {
	other := atkTransaction("ATTACKER-ORDER-1", "4200000000000000000000000009", atkMchID)
	s := newAtkServer(t, func(*http.Request, []byte) atkReply { return atkReply{status: 200, body: other} })
	c := s.client(t, atkConfig(t))

	tr, err := c.QueryByOutTradeNo(context.Background(), "VICTIM-ORDER-1")
	require.Error(t, err, "an answer about another out_trade_no was accepted: %+v", tr)
	assert.Nil(t, tr)
	assert.ErrorIs(t, err, apiv3.ErrJSON)

	tr, err = c.QueryByTransactionID(context.Background(), "4200000000000000000000000001")
	require.Error(t, err, "an answer about another transaction_id was accepted: %+v", tr)
	assert.Nil(t, tr)
	assert.ErrorIs(t, err, apiv3.ErrJSON)

	// The genuine answer still passes: the check is on identity, not on
	// the transport.
	s2 := newAtkServer(t, func(*http.Request, []byte) atkReply {
		return atkReply{status: 200, body: atkTransaction("VICTIM-ORDER-1", "4200000000000000000000000001", atkMchID)}
	})
	c2 := s2.client(t, atkConfig(t))
	tr, err = c2.QueryByOutTradeNo(context.Background(), "VICTIM-ORDER-1")
	require.NoError(t, err)
	assert.Equal(t, "VICTIM-ORDER-1", tr.OutTradeNo)
	tr, err = c2.QueryByTransactionID(context.Background(), "4200000000000000000000000001")
	require.NoError(t, err)
	assert.Equal(t, "4200000000000000000000000001", tr.TransactionID)
}

// TestAttackQueryOtherMerchant: a signed answer about another merchant's
// order of the same number is refused.
func TestAttackQueryOtherMerchant(t *testing.T) {
	s := newAtkServer(t, func(*http.Request, []byte) atkReply {
		return atkReply{status: 200, body: atkTransaction("VICTIM-ORDER-1", "4200000000000000000000000001", "1900000001")}
	})
	c := s.client(t, atkConfig(t))
	_, err := c.QueryByOutTradeNo(context.Background(), "VICTIM-ORDER-1")
	require.Error(t, err)
	assert.ErrorIs(t, err, apiv3.ErrJSON)
	assert.Contains(t, err.Error(), "mchid")
}

func atkRefundAnswer(outRefundNo string, refund, total int64) string {
	return `{"refund_id":"50000000382019052709732678859","out_refund_no":"` + outRefundNo +
		`","transaction_id":"4200000000000000000000000001","out_trade_no":"VICTIM-ORDER-1","channel":"ORIGINAL",` +
		`"user_received_account":"招商银行信用卡0403","create_time":"2026-01-02T15:04:05+08:00","status":"PROCESSING",` +
		`"funds_account":"AVAILABLE","amount":{"total":` + strconv.FormatInt(total, 10) + `,"refund":` + strconv.FormatInt(refund, 10) +
		`,"payer_total":` + strconv.FormatInt(total, 10) + `,"payer_refund":` + strconv.FormatInt(refund, 10) + `,"currency":"CNY"}}`
}

func atkRefundRequest() *apiv3.RefundRequest {
	return &apiv3.RefundRequest{OutTradeNo: "VICTIM-ORDER-1", OutRefundNo: "R-1",
		Amount: apiv3.RefundAmount{Refund: 100, Total: 88800, Currency: "CNY"}}
}

// TestAttackRefundSubstitutedAnswer: a signed answer about another refund
// (another out_refund_no or amount) is never reported as this refund's
// success, and never as a definite failure either (the caller would
// mint a new out_refund_no and refund twice): the outcome is unknown.
func TestAttackRefundSubstitutedAnswer(t *testing.T) {
	for name, body := range map[string]string{
		"other out_refund_no": atkRefundAnswer("R-OTHER", 100, 88800),
		"other amount":        atkRefundAnswer("R-1", 88800, 88800),
		"other total":         atkRefundAnswer("R-1", 100, 100),
	} {
		t.Run(name, func(t *testing.T) {
			s := newAtkServer(t, func(*http.Request, []byte) atkReply { return atkReply{status: 200, body: body} })
			c := s.client(t, atkConfig(t))
			ref, err := c.Refund(context.Background(), atkRefundRequest())
			require.Error(t, err)
			assert.Nil(t, ref)
			var ou *apiv3.OutcomeUnknownError
			require.ErrorAs(t, err, &ou)
			assert.Equal(t, "out_refund_no", ou.Key)
			assert.True(t, apiv3.Retryable(err))
		})
	}
	s := newAtkServer(t, func(*http.Request, []byte) atkReply {
		return atkReply{status: 200, body: atkRefundAnswer("R-OTHER", 100, 88800)}
	})
	_, err := s.client(t, atkConfig(t)).QueryRefund(context.Background(), "R-1")
	require.Error(t, err)
}

// TestAttackRefundAnswerForgeries: an unsigned, probe-signed, stale or
// wrongly keyed 2xx answer to a refund leaves the outcome unknown (the
// request did reach WeChat), never a success and never a definite no.
func TestAttackRefundAnswerForgeries(t *testing.T) {
	body := atkRefundAnswer("R-1", 100, 88800)
	wx := atkKey(t, "k-off.pem")
	forger := atkKey(t, "k-wgo.pem")
	cases := map[string]func() http.Header{
		"unsigned": func() http.Header { return http.Header{} },
		"probe": func() http.Header {
			h := atkHeaders(t, wx, atkNow, []byte(body))
			h.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+h.Get("Wechatpay-Signature"))
			return h
		},
		"stale":      func() http.Header { return atkHeaders(t, wx, atkNow.Add(-301*time.Second), []byte(body)) },
		"future":     func() http.Header { return atkHeaders(t, wx, atkNow.Add(301*time.Second), []byte(body)) },
		"forger key": func() http.Header { return atkHeaders(t, forger, atkNow, []byte(body)) },
		"two signatures": func() http.Header {
			h := atkHeaders(t, wx, atkNow, []byte(body))
			h.Add("Wechatpay-Signature", atkHeaders(t, forger, atkNow, []byte(body)).Get("Wechatpay-Signature"))
			return h
		},
		"two timestamps": func() http.Header {
			h := atkHeaders(t, wx, atkNow, []byte(body))
			h.Add("Wechatpay-Timestamp", "1")
			return h
		},
		"unknown serial": func() http.Header {
			h := atkHeaders(t, wx, atkNow, []byte(body))
			h.Set("Wechatpay-Serial", "PUB_KEY_ID_0114232134912410000000000001")
			return h
		},
		"SM2 type": func() http.Header {
			h := atkHeaders(t, wx, atkNow, []byte(body))
			h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3")
			return h
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			s := newAtkServer(t, func(*http.Request, []byte) atkReply { return atkReply{status: 200, body: body, header: mk()} })
			ref, err := s.client(t, atkConfig(t)).Refund(context.Background(), atkRefundRequest())
			require.Error(t, err)
			assert.Nil(t, ref)
			assert.ErrorIs(t, err, apiv3.ErrSignature)
			var ou *apiv3.OutcomeUnknownError
			require.ErrorAs(t, err, &ou, "a forged answer must leave the refund's outcome unknown")
			assert.True(t, apiv3.Retryable(err))
		})
	}
}

// TestAttackRefundDefiniteAndUnknown: a signed business refusal is a
// definite no (not retryable, so no second refund is attempted); a 5xx, a
// 429 (WeChat: the refund may have been accepted) and a dropped
// connection after the request was sent are unknown outcomes to retry
// with the same out_refund_no.
func TestAttackRefundDefiniteAndUnknown(t *testing.T) {
	type want struct {
		unknown bool
		code    apiv3.ErrorCode
	}
	cases := map[string]struct {
		rep  atkReply
		want want
	}{
		"NOTENOUGH 403":   {atkReply{status: 403, body: `{"code":"NOTENOUGH","message":"余额不足"}`}, want{false, "NOTENOUGH"}},
		"PARAM_ERROR 400": {atkReply{status: 400, body: `{"code":"PARAM_ERROR","message":"参数错误"}`}, want{false, "PARAM_ERROR"}},
		"SYSTEM_ERROR":    {atkReply{status: 500, body: `{"code":"SYSTEM_ERROR","message":"系统错误"}`}, want{true, ""}},
		"429":             {atkReply{status: 429, body: `{"code":"RATELIMIT_EXCEEDED","message":"频率超限"}`}, want{true, ""}},
		"502 html":        {atkReply{status: 502, body: `<html>bad gateway</html>`, header: http.Header{}}, want{true, ""}},
		"dropped":         {atkReply{drop: true}, want{true, ""}},
		"truncated":       {atkReply{drop: true, raw: "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"refund_id\""}, want{true, ""}},
		"garbage status":  {atkReply{drop: true, raw: "HTTP/1.1 2000 OK\r\n\r\n"}, want{true, ""}},
		"200 junk":        {atkReply{status: 200, body: `{"refund_id":1}`}, want{true, ""}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := newAtkServer(t, func(*http.Request, []byte) atkReply { return tc.rep })
			_, err := s.client(t, atkConfig(t)).Refund(context.Background(), atkRefundRequest())
			require.Error(t, err)
			var ou *apiv3.OutcomeUnknownError
			assert.Equal(t, tc.want.unknown, errors.As(err, &ou), "%v", err)
			assert.Equal(t, tc.want.unknown, apiv3.Retryable(err), "%v", err)
			if !tc.want.unknown {
				var we *apiv3.Error
				require.ErrorAs(t, err, &we)
				assert.Equal(t, tc.want.code, we.Code)
				assert.True(t, we.Verified)
			}
		})
	}
}

// TestAttackInjectionIntoSignedStrings: CR, LF, '?', '/', '#' or a quote
// in anything that goes into the request path, query, signed string or
// a header is refused before any I/O.
func TestAttackInjectionIntoSignedStrings(t *testing.T) {
	s := newAtkServer(t, func(*http.Request, []byte) atkReply { return atkReply{status: 500, body: `{}`} })
	c := s.client(t, atkConfig(t))
	ctx := context.Background()
	bad := []string{"A\r\nB", "A\nB", "A?mchid=1", "A/../../v3/refund", "A#x", `A"B`, "A B", "A%0d%0a", "A\x00", strings.Repeat("A", 65)}
	for _, v := range bad {
		_, err := c.QueryByOutTradeNo(ctx, v)
		var re *apiv3.RequestError
		assert.ErrorAs(t, err, &re, "QueryByOutTradeNo(%q)", v)
		_, err = c.QueryByTransactionID(ctx, v)
		assert.ErrorAs(t, err, &re, "QueryByTransactionID(%q)", v)
		_, err = c.QueryRefund(ctx, v)
		assert.ErrorAs(t, err, &re, "QueryRefund(%q)", v)
		assert.ErrorAs(t, c.CloseOrder(ctx, v), &re, "CloseOrder(%q)", v)
		_, err = c.JSAPIPayParams("", v)
		assert.ErrorAs(t, err, &re, "JSAPIPayParams prepay %q", v)
		_, err = c.AppPayParams(v, "wx2014")
		assert.ErrorAs(t, err, &re, "AppPayParams appid %q", v)
		r := atkRefundRequest()
		r.OutRefundNo = v
		_, err = c.Refund(ctx, r)
		assert.ErrorAs(t, err, &re, "Refund out_refund_no %q", v)
	}
	assert.Zero(t, s.hits.Load(), "a refused request reached the network")
}

// TestAttackSecretsNeverPrinted: the private key and the APIv3 key reach
// no formatted value, at any depth, nor an error of a bad configuration.
func TestAttackSecretsNeverPrinted(t *testing.T) {
	cfg := atkConfig(t)
	c, err := apiv3.NewClient(cfg)
	require.NoError(t, err)
	keyLines := strings.Split(strings.TrimSpace(string(cfg.PrivateKey)), "\n")
	secrets := []string{atkV3Key, keyLines[1], keyLines[len(keyLines)/2]}
	type holder struct {
		C   *apiv3.Client
		Cfg apiv3.Config
		P   *apiv3.Config
		Any []any
	}
	h := holder{c, cfg, &cfg, []any{c, cfg, &cfg, *c}}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		outs = append(outs, fmt.Sprintf(verb, h), fmt.Sprintf(verb, c), fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, *c))
	}
	j, _ := json.Marshal(h)
	outs = append(outs, string(j))
	// Bad configurations: the errors name the problem, never the key.
	for _, mut := range []func(*apiv3.Config){
		func(c *apiv3.Config) { c.APIv3Key = atkV3Key[:31] },
		func(c *apiv3.Config) { c.APIv3Key = atkV3Key + "x" },
		func(c *apiv3.Config) { c.PrivateKey = c.PrivateKey[:len(c.PrivateKey)/2] },
		func(c *apiv3.Config) {
			c.PrivateKey = []byte(strings.Replace(string(c.PrivateKey), keyLines[2], "AAAA", 1))
		},
		func(c *apiv3.Config) { c.MchID = atkV3Key },
		func(c *apiv3.Config) { c.PublicKey = c.PrivateKey },
	} {
		bad := atkConfig(t)
		mut(&bad)
		_, err := apiv3.NewClient(bad)
		require.Error(t, err)
		outs = append(outs, err.Error(), fmt.Sprintf("%+v", err))
	}
	for _, o := range outs {
		for _, s := range secrets {
			assert.NotContains(t, o, s)
		}
		// Hex and base64 of the APIv3 key.
		assert.NotContains(t, strings.ToLower(o), "61376364653")
	}
}

// TestAttackUnknownSerialFlood: with platform certificates, 500
// concurrent notifications under made-up serials cause at most one
// certificate download, and each is refused.
func TestAttackUnknownSerialFlood(t *testing.T) {
	s := newAtkServer(t, func(r *http.Request, _ []byte) atkReply {
		return atkReply{status: 500, body: `{"code":"SYSTEM_ERROR","message":"x"}`}
	})
	cfg := atkConfig(t)
	cfg.PublicKeyID, cfg.PublicKey, cfg.PlatformCertificates = "", nil, true
	c := s.client(t, cfg, apiv3.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	var fnCalls atomic.Int64
	h := c.NotificationHandler(func(context.Context, *apiv3.Notification) error { fnCalls.Add(1); return nil })
	wx := atkKey(t, "k-off.pem")
	body := []byte(`{"id":"x","create_time":"2026-01-02T15:04:06+08:00","event_type":"TRANSACTION.SUCCESS","resource_type":"encrypt-resource","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"AAAA","nonce":"000000000000"}}`)
	var wg sync.WaitGroup
	for i := 0; i < 500; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			hd := atkHeaders(t, wx, atkNow, body)
			hd.Set("Wechatpay-Serial", strings.ToUpper(strconv.FormatInt(int64(0x7000000000+i), 16)))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, atkPost(hd, body))
			assert.Equal(t, http.StatusUnauthorized, w.Code)
		}(i)
	}
	wg.Wait()
	assert.LessOrEqual(t, s.hits.Load(), int64(1), "downloads")
	assert.Zero(t, fnCalls.Load())
}

func atkPost(h http.Header, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "https://merchant.example/notify", strings.NewReader(string(body)))
	for k, vs := range h {
		r.Header[k] = vs
	}
	return r
}

func atkSeal(t testing.TB, nonce, aad string, pt []byte) string {
	b, err := aes.NewCipher([]byte(atkV3Key))
	require.NoError(t, err)
	g, err := cipher.NewGCM(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(g.Seal(nil, []byte(nonce), pt, []byte(aad)))
}
