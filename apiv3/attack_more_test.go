package apiv3_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/apiv3"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestAttackJSONDifferentials: signed answers whose bytes two JSON
// parsers could read as two different messages, or that carry numbers
// that are not integer fen, are refused as ErrJSON before any field is
// believed. Each body is genuinely signed: only the parser stands
// between it and the caller.
func TestAttackJSONDifferentials(t *testing.T) {
	good := atkTransaction("VICTIM-ORDER-1", "4200000000000000000000000001", atkMchID)
	amount := func(v string) string {
		return strings.Replace(good, `"amount":{"total":88800`, `"amount":{"total":`+v, 1)
	}
	cases := map[string]string{
		"duplicate key":             strings.Replace(good, `"trade_state":"SUCCESS"`, `"trade_state":"NOTPAY","trade_state":"SUCCESS"`, 1),
		"duplicate object":          strings.Replace(good, `"amount":{`, `"amount":{"total":1},"amount":{`, 1),
		"duplicate by case":         strings.Replace(good, `"trade_state":"SUCCESS"`, `"TRADE_STATE":"NOTPAY","trade_state":"SUCCESS"`, 1),
		"duplicate by escape":       strings.Replace(good, `"trade_state":"SUCCESS"`, `"trade_stat\u0065":"NOTPAY","trade_state":"SUCCESS"`, 1),
		"duplicate by long s":       strings.Replace(good, `"success_time"`, `"ſuccess_time":"2020-01-01T00:00:00Z","success_time"`, 1),
		"duplicate by long s esc":   strings.Replace(good, `"success_time"`, `"\u017fuccess_time":"2020-01-01T00:00:00Z","success_time"`, 1),
		"duplicate by kelvin":       strings.Replace(good, `"bank_type":"CMC"`, `"ban\u212a_type":"X","bank_type":"CMC"`, 1),
		"duplicate nested by case":  strings.Replace(good, `"amount":{"total":88800`, `"amount":{"TOTAL":1,"total":88800`, 1),
		"exponent":                  amount("888e2"),
		"exponent 1e2":              amount("1e2"),
		"fraction":                  amount("88800.0"),
		"fraction .5":               amount("0.5"),
		"huge":                      amount("99999999999999999999"),
		"int64 overflow":            amount("9223372036854775808"),
		"plus sign":                 amount("+88800"),
		"leading zero":              amount("088800"),
		"hex":                       amount("0x15AE0"),
		"NaN":                       amount("NaN"),
		"Infinity":                  amount("Infinity"),
		"-Infinity":                 amount("-Infinity"),
		"string amount":             amount(`"88800"`),
		"BOM":                       "\ufeff" + good,
		"trailing document":         good + `{"out_trade_no":"X"}`,
		"trailing garbage":          good + `x`,
		"trailing NUL":              good + "\x00",
		"two documents":             good + "\n" + good,
		"invalid UTF-8":             strings.Replace(good, `CMC`, "C\xffC", 1),
		"overlong UTF-8":            strings.Replace(good, `CMC`, "C\xc0\xafC", 1),
		"lone surrogate":            strings.Replace(good, `CMC`, `C\ud800C`, 1),
		"lone low surrogate":        strings.Replace(good, `CMC`, `C\udc00C`, 1),
		"control char":              strings.Replace(good, `CMC`, "C\x01C", 1),
		"bad escape":                strings.Replace(good, `CMC`, `C\xC`, 1),
		"deep nesting":              strings.Replace(good, `"bank_type"`, `"x":`+strings.Repeat("[", 100000)+strings.Repeat("]", 100000)+`,"bank_type"`, 1),
		"single quotes":             strings.Replace(good, `"CMC"`, `'CMC'`, 1),
		"comment":                   strings.Replace(good, `"bank_type"`, `/*x*/"bank_type"`, 1),
		"trailing comma":            strings.Replace(good, `"payer_currency":"CNY"}}`, `"payer_currency":"CNY",}}`, 1),
		"unterminated":              good[:len(good)-1],
		"empty":                     "",
		"top-level array":           "[" + good + "]",
		"null":                      "null",
		"success_time not RFC 3339": strings.Replace(good, `2026-01-02T15:04:05+08:00`, `2026-01-02 15:04:05`, 1),
		"negative payer_total":      strings.Replace(good, `"payer_total":88800`, `"payer_total":-1`, 1),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			require.NotEqual(t, good, body, "the case changes nothing")
			s := newAtkServer(t, func(*http.Request, []byte) atkReply { return atkReply{status: 200, body: body} })
			tr, err := s.client(t, atkConfig(t)).QueryByOutTradeNo(context.Background(), "VICTIM-ORDER-1")
			require.Error(t, err)
			assert.Nil(t, tr)
			assert.ErrorIs(t, err, apiv3.ErrJSON)
		})
	}
	// The control: the same answer unmodified is accepted, and -0 (an
	// integer, the same value to every parser) is read as 0.
	s := newAtkServer(t, func(*http.Request, []byte) atkReply { return atkReply{status: 200, body: good} })
	tr, err := s.client(t, atkConfig(t)).QueryByOutTradeNo(context.Background(), "VICTIM-ORDER-1")
	require.NoError(t, err)
	assert.Equal(t, int64(88800), tr.Amount.Total)
}

// atkNotification builds a payment or refund notification around
// plaintext, sealed under the APIv3 key.
func atkNotification(t testing.TB, event, origType, plaintext string) []byte {
	nonce := "nonce0123456"
	b, err := json.Marshal(map[string]any{
		"id": "EV-1", "create_time": "2026-01-02T15:04:06+08:00", "resource_type": "encrypt-resource",
		"event_type": event, "summary": "x",
		"resource": map[string]string{"original_type": origType, "algorithm": "AEAD_AES_256_GCM",
			"ciphertext": atkSeal(t, nonce, origType, []byte(plaintext)), "associated_data": origType, "nonce": nonce},
	})
	require.NoError(t, err)
	return b
}

func atkRefundPlain(mchID, status string) string {
	return `{"mchid":"` + mchID + `","out_trade_no":"VICTIM-ORDER-1","transaction_id":"4200000000000000000000000001",` +
		`"out_refund_no":"R-1","refund_id":"50000000382019052709732678859","refund_status":"` + status + `",` +
		`"success_time":"2026-01-02T15:04:05+08:00","user_received_account":"x",` +
		`"amount":{"total":88800,"refund":100,"payer_total":88800,"payer_refund":100}}`
}

// TestAttackNotifications: forged, replayed, re-targeted, cross-merchant,
// cross-event and cross-generation notifications never reach the user's
// function, and each gets the refusal status that makes WeChat redeliver.
func TestAttackNotifications(t *testing.T) {
	wx := atkKey(t, "k-off.pem")
	forger := atkKey(t, "k-wgo.pem")
	c, err := apiv3.NewClient(atkConfig(t), apiv3.WithClock(func() time.Time { return atkNow }), apiv3.WithLogger(quiet))
	require.NoError(t, err)
	var payCalls, refundCalls int
	pay := c.NotifyHandler(func(context.Context, *apiv3.PaymentNotification) error { payCalls++; return nil })
	refund := c.RefundNotifyHandler(func(context.Context, *apiv3.RefundNotification) error { refundCalls++; return nil })

	tx := atkTransaction("VICTIM-ORDER-1", "4200000000000000000000000001", atkMchID)
	genuine := atkNotification(t, "TRANSACTION.SUCCESS", "transaction", tx)
	signed := func(body []byte) http.Header { return atkHeaders(t, wx, atkNow, body) }
	type probe struct {
		h      http.Handler
		method string
		header http.Header
		body   []byte
		status int
	}
	mut := func(body []byte, f func(http.Header)) http.Header { h := signed(body); f(h); return h }
	v2 := []byte(`<xml><return_code><![CDATA[SUCCESS]]></return_code><appid>wxd678efh567hg6787</appid><mch_id>1230000109</mch_id><result_code>SUCCESS</result_code><out_trade_no>VICTIM-ORDER-1</out_trade_no><total_fee>88800</total_fee><sign>ABC</sign></xml>`)
	tampered := bytes.Replace(genuine, []byte(`"EV-1"`), []byte(`"EV-2"`), 1)
	probes := map[string]probe{
		"unsigned":        {pay, "POST", http.Header{}, genuine, 401},
		"forger key":      {pay, "POST", atkHeaders(t, forger, atkNow, genuine), genuine, 401},
		"tampered body":   {pay, "POST", signed(genuine), tampered, 401},
		"probe signature": {pay, "POST", mut(genuine, func(h http.Header) { h.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+h.Get("Wechatpay-Signature")) }), genuine, 401},
		"replayed 5m01s":  {pay, "POST", atkHeaders(t, wx, atkNow.Add(-301*time.Second), genuine), genuine, 401},
		"future 5m01s":    {pay, "POST", atkHeaders(t, wx, atkNow.Add(301*time.Second), genuine), genuine, 401},
		"two signatures": {pay, "POST", mut(genuine, func(h http.Header) {
			h.Add("Wechatpay-Signature", atkHeaders(t, forger, atkNow, genuine).Get("Wechatpay-Signature"))
		}), genuine, 401},
		"two serials":                       {pay, "POST", mut(genuine, func(h http.Header) { h.Add("Wechatpay-Serial", "PUB_KEY_ID_1") }), genuine, 401},
		"two nonces":                        {pay, "POST", mut(genuine, func(h http.Header) { h.Add("Wechatpay-Nonce", "n") }), genuine, 401},
		"timestamp with plus":               {pay, "POST", mut(genuine, func(h http.Header) { h.Set("Wechatpay-Timestamp", "+"+h.Get("Wechatpay-Timestamp")) }), genuine, 401},
		"timestamp with space":              {pay, "POST", mut(genuine, func(h http.Header) { h.Set("Wechatpay-Timestamp", " "+h.Get("Wechatpay-Timestamp")) }), genuine, 401},
		"timestamp fraction":                {pay, "POST", mut(genuine, func(h http.Header) { h.Set("Wechatpay-Timestamp", h.Get("Wechatpay-Timestamp")+".0") }), genuine, 401},
		"timestamp exponent":                {pay, "POST", mut(genuine, func(h http.Header) { h.Set("Wechatpay-Timestamp", "1.7673374e9") }), genuine, 401},
		"timestamp huge":                    {pay, "POST", mut(genuine, func(h http.Header) { h.Set("Wechatpay-Timestamp", strings.Repeat("9", 40)) }), genuine, 401},
		"timestamp negative":                {pay, "POST", mut(genuine, func(h http.Header) { h.Set("Wechatpay-Timestamp", "-1") }), genuine, 401},
		"nonce with LF":                     {pay, "POST", mut(genuine, func(h http.Header) { h.Set("Wechatpay-Nonce", "a\nb") }), genuine, 401},
		"serial with CRLF":                  {pay, "POST", mut(genuine, func(h http.Header) { h.Set("Wechatpay-Serial", atkPubKeyID+"\r\nX: y") }), genuine, 401},
		"serial lower case id":              {pay, "POST", mut(genuine, func(h http.Header) { h.Set("Wechatpay-Serial", strings.ToLower(atkPubKeyID)) }), genuine, 401},
		"huge signature":                    {pay, "POST", mut(genuine, func(h http.Header) { h.Set("Wechatpay-Signature", strings.Repeat("A", 1<<20)) }), genuine, 401},
		"huge nonce":                        {pay, "POST", mut(genuine, func(h http.Header) { h.Set("Wechatpay-Nonce", strings.Repeat("A", 1<<20)) }), genuine, 401},
		"SM2 signature type":                {pay, "POST", mut(genuine, func(h http.Header) { h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3") }), genuine, 401},
		"v2 XML body":                       {pay, "POST", http.Header{}, v2, 401},
		"v2 XML body signed":                {pay, "POST", signed(v2), v2, 400},
		"GET":                               {pay, "GET", signed(genuine), genuine, 405},
		"too large":                         {pay, "POST", signed(bytes.Repeat([]byte(" "), 65<<10)), bytes.Repeat([]byte(" "), 65<<10), 413},
		"other merchant":                    {pay, "POST", nil, atkNotification(t, "TRANSACTION.SUCCESS", "transaction", atkTransaction("VICTIM-ORDER-1", "4200000000000000000000000001", "1900000001")), 400},
		"other appid":                       {pay, "POST", nil, atkNotification(t, "TRANSACTION.SUCCESS", "transaction", strings.Replace(tx, atkAppID, "wx0000000000000000", 1)), 400},
		"not paid":                          {pay, "POST", nil, atkNotification(t, "TRANSACTION.SUCCESS", "transaction", strings.Replace(tx, `"trade_state":"SUCCESS"`, `"trade_state":"NOTPAY"`, 1)), 400},
		"refund at pay handler":             {pay, "POST", nil, atkNotification(t, "REFUND.SUCCESS", "refund", atkRefundPlain(atkMchID, "SUCCESS")), 400},
		"refund plaintext in payment event": {pay, "POST", nil, atkNotification(t, "TRANSACTION.SUCCESS", "transaction", atkRefundPlain(atkMchID, "SUCCESS")), 400},
		"duplicate key in plaintext":        {pay, "POST", nil, atkNotification(t, "TRANSACTION.SUCCESS", "transaction", strings.Replace(tx, `"amount":{`, `"amount":{"total":1},"amount":{`, 1)), 400},
		"duplicate key in envelope": {pay, "POST", nil, bytes.Replace(genuine, []byte(`"event_type"`),
			[]byte(`"EVENT_TYPE":"REFUND.SUCCESS","event_type"`), 1), 400},
		"trailing data in plaintext":  {pay, "POST", nil, atkNotification(t, "TRANSACTION.SUCCESS", "transaction", tx+`{"mchid":"1"}`), 400},
		"BOM in envelope":             {pay, "POST", nil, append([]byte("\ufeff"), genuine...), 400},
		"fraction amount":             {pay, "POST", nil, atkNotification(t, "TRANSACTION.SUCCESS", "transaction", strings.Replace(tx, `"total":88800`, `"total":88800.5`, 1)), 400},
		"plain resource_type":         {pay, "POST", nil, bytes.Replace(genuine, []byte(`"encrypt-resource"`), []byte(`"plain"`), 1), 400},
		"other algorithm":             {pay, "POST", nil, bytes.Replace(genuine, []byte(`"AEAD_AES_256_GCM"`), []byte(`"AEAD_SM4_GCM"`), 1), 400},
		"associated_data swapped":     {pay, "POST", nil, bytes.Replace(genuine, []byte(`"associated_data":"transaction"`), []byte(`"associated_data":"refund"`), 1), 400},
		"nonce swapped":               {pay, "POST", nil, bytes.Replace(genuine, []byte(`nonce0123456`), []byte(`nonce0123457`), 1), 400},
		"transaction at refund":       {refund, "POST", nil, genuine, 400},
		"refund other merchant":       {refund, "POST", nil, atkNotification(t, "REFUND.SUCCESS", "refund", atkRefundPlain("1900000001", "SUCCESS")), 400},
		"refund status not the event": {refund, "POST", nil, atkNotification(t, "REFUND.SUCCESS", "refund", atkRefundPlain(atkMchID, "ABNORMAL")), 400},
		"refund unknown event":        {refund, "POST", nil, atkNotification(t, "REFUND.PROCESSING", "refund", atkRefundPlain(atkMchID, "PROCESSING")), 400},
	}
	for name, p := range probes {
		t.Run(name, func(t *testing.T) {
			h := p.header
			if h == nil {
				h = signed(p.body)
			}
			r := atkPost(h, p.body)
			r.Method = p.method
			w := httptest.NewRecorder()
			p.h.ServeHTTP(w, r)
			assert.Equal(t, p.status, w.Code, w.Body.String())
			assert.Contains(t, w.Body.String(), `"code":"FAIL"`)
			assert.Zero(t, payCalls+refundCalls, "the user's function saw a refused notification")
		})
	}
	// The controls: the genuine notifications are accepted.
	w := httptest.NewRecorder()
	pay.ServeHTTP(w, atkPost(signed(genuine), genuine))
	assert.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	rb := atkNotification(t, "REFUND.SUCCESS", "refund", atkRefundPlain(atkMchID, "SUCCESS"))
	w = httptest.NewRecorder()
	refund.ServeHTTP(w, atkPost(signed(rb), rb))
	assert.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	assert.Equal(t, 1, payCalls)
	assert.Equal(t, 1, refundCalls)
}

// atkBill serves a bill at /v3/billdownload/file; status 302 redirects
// to redirect.
func atkBillServer(t *testing.T, content []byte, redirect string) *atkServer {
	return newAtkServer(t, func(r *http.Request, _ []byte) atkReply {
		if redirect != "" {
			return atkReply{status: 302, header: http.Header{"Location": {redirect}}}
		}
		return atkReply{status: 200, body: string(content), header: http.Header{}}
	})
}

func sha1Hex(b []byte) string { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }

// TestAttackBillURL: the download goes, signed, only to the client's own
// WeChat host; every other URL a bill-apply answer could carry is
// refused before any request is made.
func TestAttackBillURL(t *testing.T) {
	content := []byte("交易时间,公众账号ID\n`2026-01-01 00:00:00,`wx1\n")
	s := atkBillServer(t, content, "")
	c := s.client(t, atkConfig(t))
	u, err := url.Parse(s.srv.URL)
	require.NoError(t, err)
	host := u.Host
	_, port, _ := strings.Cut(host, ":")
	bad := []string{
		"", "/v3/billdownload/file?token=x", "//" + host + "/v3/billdownload/file",
		"http://" + host + "/v3/billdownload/file?token=x",
		"https://user:pw@" + host + "/v3/billdownload/file",
		"https://" + host + "@evil.example/v3/billdownload/file",
		"https://evil.example/v3/billdownload/file",
		"https://127.0.0.1:1/v3/billdownload/file",
		"https://localhost:" + port + "/v3/billdownload/file",
		"https://[::1]:" + port + "/v3/billdownload/file",
		"https://127.0.0.1.:" + port + "/v3/billdownload/file",
		"https://" + host + "#frag",
		"https://" + host + "\\@evil.example/",
		"https://" + host + "%2f@evil.example/",
		"ftp://" + host + "/x",
		"javascript:alert(1)",
		"https://" + host + "\r\nX: y/",
	}
	for _, raw := range bad {
		_, err := c.OpenBill(context.Background(), &apiv3.Bill{HashType: "SHA1", HashValue: sha1Hex(content), DownloadURL: raw})
		assert.ErrorIs(t, err, apiv3.ErrBillURL, "%q", raw)
	}
	assert.Zero(t, s.hits.Load(), "a refused bill URL was fetched")

	// Same host, other case of the scheme and hash: accepted.
	var buf bytes.Buffer
	n, err := c.DownloadBill(context.Background(), &apiv3.Bill{HashType: "sha1", HashValue: strings.ToUpper(sha1Hex(content)),
		DownloadURL: "HTTPS://" + host + "/v3/billdownload/file?token=x"}, &buf)
	require.NoError(t, err)
	assert.Equal(t, int64(len(content)), n)
	assert.Equal(t, content, buf.Bytes())
}

// TestAttackBillRedirect: a redirect from the bill host is not followed
// (the signed request would go elsewhere).
func TestAttackBillRedirect(t *testing.T) {
	content := []byte("x\n")
	other := atkBillServer(t, content, "")
	s := atkBillServer(t, nil, other.srv.URL+"/v3/billdownload/file")
	c := s.client(t, atkConfig(t))
	_, err := c.DownloadBill(context.Background(), &apiv3.Bill{HashType: "SHA1", HashValue: sha1Hex(content),
		DownloadURL: s.srv.URL + "/v3/billdownload/file?token=x"}, io.Discard)
	require.Error(t, err)
	var we *apiv3.Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, 302, we.StatusCode)
	assert.Zero(t, other.hits.Load())
}

// TestAttackBillHash: a bill that does not match its hash is never
// reported complete and never left as a file; hashes that are not SHA-1
// hex are refused before the download.
func TestAttackBillHash(t *testing.T) {
	content := []byte("交易时间,公众账号ID\n`2026-01-01 00:00:00,`wx1\n总交易单数\n`1\n")
	s := atkBillServer(t, content, "")
	c := s.client(t, atkConfig(t))
	url := s.srv.URL + "/v3/billdownload/file?token=x"
	for _, b := range []apiv3.Bill{
		{HashType: "SHA1", HashValue: ""},
		{HashType: "", HashValue: sha1Hex(content)},
		{HashType: "MD5", HashValue: sha1Hex(content)[:32]},
		{HashType: "SHA256", HashValue: sha1Hex(content) + "000000000000000000000000"},
		{HashType: "SHA1", HashValue: sha1Hex(content)[:39]},
		{HashType: "SHA1", HashValue: sha1Hex(content)[:38] + "zz"},
		{HashType: "SHA1", HashValue: " " + sha1Hex(content)[1:]},
	} {
		b.DownloadURL = url
		_, err := c.OpenBill(context.Background(), &b)
		var re *apiv3.RequestError
		assert.ErrorAs(t, err, &re, "%+v", b)
	}
	assert.Zero(t, s.hits.Load())

	wrong := sha1Hex(append([]byte("y"), content...))
	dir := t.TempDir()
	path := filepath.Join(dir, "bill.csv")
	_, err := c.DownloadBillFile(context.Background(), &apiv3.Bill{HashType: "SHA1", HashValue: wrong, DownloadURL: url}, path)
	require.ErrorIs(t, err, apiv3.ErrBillHash)
	entries, _ := os.ReadDir(dir)
	assert.Empty(t, entries, "a bill that failed its hash was left on disk")

	st, err := c.OpenBill(context.Background(), &apiv3.Bill{HashType: "SHA1", HashValue: wrong, DownloadURL: url})
	require.NoError(t, err)
	_, err = io.ReadAll(st)
	assert.ErrorIs(t, err, apiv3.ErrBillHash)
	// Sticky: a second read does not turn the failure into EOF.
	_, err = st.Read(make([]byte, 8))
	assert.ErrorIs(t, err, apiv3.ErrBillHash)
	require.NoError(t, st.Close())
}

// TestAttackBillGzip: a gzip bill that is not gzip, is truncated, carries
// trailing junk, or decompresses to other bytes than hashed is refused.
func TestAttackBillGzip(t *testing.T) {
	content := []byte(strings.Repeat("`2026-01-01 00:00:00,`wx1,`1230000109\n", 200))
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(content)
	require.NoError(t, zw.Close())
	gz := z.Bytes()
	cases := map[string][]byte{
		"not gzip":      content,
		"truncated":     gz[:len(gz)-10],
		"trailing junk": append(append([]byte(nil), gz...), "junk"...),
		"flipped crc":   append(append([]byte(nil), gz[:len(gz)-8]...), 0, 0, 0, 0, gz[len(gz)-4], gz[len(gz)-3], gz[len(gz)-2], gz[len(gz)-1]),
		"empty":         nil,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			s := atkBillServer(t, body, "")
			c := s.client(t, atkConfig(t))
			n, err := c.DownloadBill(context.Background(), &apiv3.Bill{HashType: "SHA1", HashValue: sha1Hex(content), Gzip: true,
				DownloadURL: s.srv.URL + "/v3/billdownload/file?token=x"}, io.Discard)
			require.Error(t, err, "n=%d", n)
			assert.False(t, errors.Is(err, io.EOF))
		})
	}
	s := atkBillServer(t, gz, "")
	c := s.client(t, atkConfig(t))
	var buf bytes.Buffer
	_, err := c.DownloadBill(context.Background(), &apiv3.Bill{HashType: "SHA1", HashValue: sha1Hex(content), Gzip: true,
		DownloadURL: s.srv.URL + "/v3/billdownload/file?token=x"}, &buf)
	require.NoError(t, err)
	assert.Equal(t, content, buf.Bytes())
}

// TestAttackBillApplyAnswer: a bill-apply answer without a usable hash
// gives no Bill.
func TestAttackBillApplyAnswer(t *testing.T) {
	for _, body := range []string{
		`{"hash_type":"MD5","hash_value":"` + strings.Repeat("a", 32) + `","download_url":"https://x/v3/billdownload/file"}`,
		`{"hash_type":"SHA1","hash_value":"","download_url":"https://x/v3/billdownload/file"}`,
		`{"hash_type":"SHA1","hash_value":"` + strings.Repeat("a", 40) + `","download_url":""}`,
		`{"hash_type":"SHA1","hash_value":"` + strings.Repeat("a", 40) + `"}`,
	} {
		s := newAtkServer(t, func(*http.Request, []byte) atkReply { return atkReply{status: 200, body: body} })
		b, err := s.client(t, atkConfig(t)).TradeBill(context.Background(), &apiv3.TradeBillRequest{BillDate: "2026-01-01"})
		assert.ErrorIs(t, err, apiv3.ErrBillAnswer, body)
		assert.Nil(t, b)
	}
}

func atkPrepayRequest() apiv3.PrepayRequest {
	return apiv3.PrepayRequest{Description: "Image形象店-深圳腾大-QQ公仔", OutTradeNo: "VICTIM-ORDER-1",
		NotifyURL: "https://merchant.example/notify", Amount: apiv3.Amount{Total: 88800, Currency: "CNY"},
		Payer: &apiv3.Payer{OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}
}

// TestAttackPrepayUnusableAnswer: a signed 2xx answer to a prepay was
// processed by WeChat, so an answer the client cannot use (no prepay_id,
// or one of the wrong type) leaves the outcome unknown: retry with the
// same out_trade_no, never with a new one (which would open a second
// order for one cart). A forged answer is the same.
func TestAttackPrepayUnusableAnswer(t *testing.T) {
	for name, rep := range map[string]atkReply{
		"no prepay_id":     {status: 200, body: `{}`},
		"empty prepay_id":  {status: 200, body: `{"prepay_id":""}`},
		"number prepay_id": {status: 200, body: `{"prepay_id":1}`},
		"unsigned":         {status: 200, body: `{"prepay_id":"wx201410272009395522657a690389285100"}`, header: http.Header{}},
		"dropped":          {drop: true},
	} {
		t.Run(name, func(t *testing.T) {
			s := newAtkServer(t, func(*http.Request, []byte) atkReply { return rep })
			out, err := s.client(t, atkConfig(t)).PrepayJSAPI(context.Background(), atkPrepayRequest())
			require.Error(t, err)
			assert.Nil(t, out)
			var ou *apiv3.OutcomeUnknownError
			require.ErrorAs(t, err, &ou)
			assert.Equal(t, "out_trade_no", ou.Key)
			assert.True(t, apiv3.Retryable(err))
		})
	}
}

// atkCertServer serves /v3/certificates listing items (built by the
// test) and signs that answer with signer under serial.
func atkCertServer(t *testing.T, body func() string, signer *rsa.PrivateKey, serial string) *atkServer {
	return newAtkServer(t, func(r *http.Request, _ []byte) atkReply {
		if r.URL.Path != "/v3/certificates" {
			return atkReply{status: 404, body: `{"code":"NOT_FOUND","message":"x"}`}
		}
		b := body()
		h := atkHeaders(t, signer, atkNow, []byte(b))
		h.Set("Wechatpay-Serial", serial)
		return atkReply{status: 200, body: b, header: h}
	})
}

func atkMakeCert(t testing.TB, k *rsa.PrivateKey, serialHex string, from, to time.Time) *x509.Certificate {
	sn, ok := new(big.Int).SetString(serialHex, 16)
	require.True(t, ok)
	tpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: "Tenpay.com sign (attack test)"}, NotBefore: from, NotAfter: to}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

type atkCertItem struct {
	cert   *x509.Certificate
	listed string // serial_no as listed; "" = the certificate's own
	key    string // APIv3 key to seal under; "" = the client's
	pemFn  func([]byte) []byte
}

func atkCertList(t testing.TB, items ...atkCertItem) string {
	var data []map[string]any
	for i, it := range items {
		listed := it.listed
		if listed == "" {
			listed = strings.ToUpper(it.cert.SerialNumber.Text(16))
		}
		p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: it.cert.Raw})
		if it.pemFn != nil {
			p = it.pemFn(p)
		}
		key := it.key
		if key == "" {
			key = atkV3Key
		}
		nonce := "certnonce" + strconv.Itoa(100+i)
		b, err := aes.NewCipher([]byte(key))
		require.NoError(t, err)
		g, err := cipher.NewGCM(b)
		require.NoError(t, err)
		data = append(data, map[string]any{"serial_no": listed,
			"effective_time": it.cert.NotBefore.Format(time.RFC3339), "expire_time": it.cert.NotAfter.Format(time.RFC3339),
			"encrypt_certificate": map[string]string{"algorithm": "AEAD_AES_256_GCM", "nonce": nonce, "associated_data": "certificate",
				"ciphertext": base64.StdEncoding.EncodeToString(g.Seal(nil, []byte(nonce), p, []byte("certificate")))}})
	}
	b, err := json.Marshal(map[string]any{"data": data})
	require.NoError(t, err)
	return string(b)
}

// TestAttackCertificateDownload: a platform-certificate download is
// believed only when every certificate in it opens under the APIv3 key,
// carries the serial it is listed under, and the download is signed by
// one of them that is valid now (or by a key already trusted). Anything
// else is refused, and a notification signed under such a certificate
// never reaches the user's function.
func TestAttackCertificateDownload(t *testing.T) {
	platform := atkKey(t, "k-wgo.pem")
	forger := atkKey(t, "k-off.pem")
	valid := atkMakeCert(t, platform, "7A1B2C3D4E5F6071", atkNow.Add(-time.Hour), atkNow.Add(365*24*time.Hour))
	validSerial := "7A1B2C3D4E5F6071"
	expired := atkMakeCert(t, platform, "7A1B2C3D4E5F6072", atkNow.Add(-48*time.Hour), atkNow.Add(-time.Hour))
	future := atkMakeCert(t, platform, "7A1B2C3D4E5F6073", atkNow.Add(time.Hour), atkNow.Add(48*time.Hour))
	forged := atkMakeCert(t, forger, "7A1B2C3D4E5F6074", atkNow.Add(-time.Hour), atkNow.Add(48*time.Hour))
	cases := map[string]struct {
		list   string
		signer *rsa.PrivateKey
		serial string // signs the download under it and the notification
	}{
		"serial mismatch":                       {atkCertList(t, atkCertItem{cert: valid, listed: "7A1B2C3D4E5F6099"}), platform, validSerial},
		"serial listed lower case 0":            {atkCertList(t, atkCertItem{cert: valid, listed: "0"}), platform, validSerial},
		"sealed under another key":              {atkCertList(t, atkCertItem{cert: valid, key: strings.Repeat("k", 32)}), platform, validSerial},
		"expired only":                          {atkCertList(t, atkCertItem{cert: expired}), platform, "7A1B2C3D4E5F6072"},
		"not yet valid signs itself":            {atkCertList(t, atkCertItem{cert: future}), platform, "7A1B2C3D4E5F6073"},
		"signed by a key it lacks":              {atkCertList(t, atkCertItem{cert: valid}), forger, validSerial},
		"signed by a forged cert not delivered": {atkCertList(t, atkCertItem{cert: valid}), forger, "7A1B2C3D4E5F6074"},
		"two PEM blocks": {atkCertList(t, atkCertItem{cert: valid, pemFn: func(p []byte) []byte {
			return append(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: forged.Raw})...)
		}}), platform, validSerial},
		"not PEM":         {atkCertList(t, atkCertItem{cert: valid, pemFn: func(p []byte) []byte { return []byte("junk") }}), platform, validSerial},
		"empty list":      {`{"data":[]}`, platform, validSerial},
		"duplicate data":  {strings.Replace(atkCertList(t, atkCertItem{cert: valid}), `{"data":`, `{"data":[],"DATA":`, 1), platform, validSerial},
		"17 certificates": {atkCertList(t, repeatItems(atkCertItem{cert: valid}, 17)...), platform, validSerial},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := atkCertServer(t, func() string { return tc.list }, tc.signer, tc.serial)
			cfg := atkConfig(t)
			cfg.PublicKeyID, cfg.PublicKey, cfg.PlatformCertificates = "", nil, true
			c := s.client(t, cfg, apiv3.WithLogger(quiet))
			err := c.RefreshCertificates(context.Background())
			require.Error(t, err)
			assert.Empty(t, c.Certificates())
			// A notification signed by the platform key under that serial.
			called := false
			h := c.NotificationHandler(func(context.Context, *apiv3.Notification) error { called = true; return nil })
			body := atkNotification(t, "TRANSACTION.SUCCESS", "transaction", atkTransaction("VICTIM-ORDER-1", "4200000000000000000000000001", atkMchID))
			hd := atkHeaders(t, tc.signer, atkNow, body)
			hd.Set("Wechatpay-Serial", tc.serial)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, atkPost(hd, body))
			assert.Equal(t, http.StatusUnauthorized, w.Code)
			assert.False(t, called)
		})
	}
	// The control: a genuine list with a valid certificate signing it
	// is adopted (an expired one beside it is dropped), and its
	// notifications pass.
	s := atkCertServer(t, func() string { return atkCertList(t, atkCertItem{cert: valid}, atkCertItem{cert: expired}) }, platform, validSerial)
	cfg := atkConfig(t)
	cfg.PublicKeyID, cfg.PublicKey, cfg.PlatformCertificates = "", nil, true
	c := s.client(t, cfg, apiv3.WithLogger(quiet))
	require.NoError(t, c.RefreshCertificates(context.Background()))
	got := c.Certificates()
	require.Len(t, got, 1)
	assert.Equal(t, validSerial, got[0].SerialNo)
	called := false
	h := c.NotificationHandler(func(context.Context, *apiv3.Notification) error { called = true; return nil })
	body := atkNotification(t, "TRANSACTION.SUCCESS", "transaction", atkTransaction("VICTIM-ORDER-1", "4200000000000000000000000001", atkMchID))
	hd := atkHeaders(t, platform, atkNow, body)
	hd.Set("Wechatpay-Serial", validSerial)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, atkPost(hd, body))
	assert.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	assert.True(t, called)
	// Lower-case serial in the header names the same certificate.
	hd.Set("Wechatpay-Serial", strings.ToLower(validSerial))
	called = false
	w = httptest.NewRecorder()
	h.ServeHTTP(w, atkPost(hd, body))
	assert.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	// What Certificates returns is the caller's copy: expiring it
	// changes nothing the client accepts.
	got[0].Certificate.NotAfter = time.Time{}
	assert.False(t, c.Certificates()[0].Certificate.NotAfter.IsZero(), "editing a returned certificate edited the client's own")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, atkPost(hd, body))
	assert.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	// Past the certificate's expiry the same key is no longer believed.
}

func repeatItems(it atkCertItem, n int) []atkCertItem {
	out := make([]atkCertItem, n)
	for i := range out {
		out[i] = it
	}
	return out
}

// junkStore returns certificates that are of no use, or an error.
type junkStore struct {
	certs []*x509.Certificate
	err   error
	saved int
}

func (s *junkStore) LoadCertificates(context.Context, string) ([]*x509.Certificate, error) {
	return s.certs, s.err
}

func (s *junkStore) SaveCertificates(context.Context, string, []*x509.Certificate) error {
	s.saved++
	return nil
}

// TestAttackCertificateStoreJunk: a store that returns nil entries,
// expired or not-yet-valid certificates, small or non-RSA keys, or an
// error does not panic the client nor make it believe those; it falls
// back to a download.
func TestAttackCertificateStoreJunk(t *testing.T) {
	platform := atkKey(t, "k-wgo.pem")
	valid := atkMakeCert(t, platform, "7A1B2C3D4E5F6071", atkNow.Add(-time.Hour), atkNow.Add(365*24*time.Hour))
	expired := atkMakeCert(t, platform, "7A1B2C3D4E5F6072", atkNow.Add(-48*time.Hour), atkNow.Add(-time.Hour))
	future := atkMakeCert(t, platform, "7A1B2C3D4E5F6073", atkNow.Add(time.Hour), atkNow.Add(48*time.Hour))
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	smallCert := atkMakeCert(t, small, "7A1B2C3D4E5F6075", atkNow.Add(-time.Hour), atkNow.Add(48*time.Hour))
	for name, st := range map[string]*junkStore{
		"error":       {err: errors.New("store down")},
		"nil entries": {certs: []*x509.Certificate{nil, nil}},
		"expired":     {certs: []*x509.Certificate{expired}},
		"future":      {certs: []*x509.Certificate{future}},
		"small key":   {certs: []*x509.Certificate{smallCert}},
		"empty cert":  {certs: []*x509.Certificate{{}}},
	} {
		t.Run(name, func(t *testing.T) {
			s := atkCertServer(t, func() string { return atkCertList(t, atkCertItem{cert: valid}) }, platform, "7A1B2C3D4E5F6071")
			cfg := atkConfig(t)
			cfg.PublicKeyID, cfg.PublicKey, cfg.PlatformCertificates = "", nil, true
			c := s.client(t, cfg, apiv3.WithLogger(quiet), apiv3.WithCertificateStore(st))
			h := c.NotificationHandler(func(context.Context, *apiv3.Notification) error { return nil })
			body := atkNotification(t, "TRANSACTION.SUCCESS", "transaction", atkTransaction("VICTIM-ORDER-1", "4200000000000000000000000001", atkMchID))
			for _, serial := range []string{"7A1B2C3D4E5F6073", "7A1B2C3D4E5F6075", "7A1B2C3D4E5F6071"} {
				hd := atkHeaders(t, platform, atkNow, body)
				if serial == "7A1B2C3D4E5F6075" {
					hd = atkHeaders(t, small, atkNow, body)
				}
				hd.Set("Wechatpay-Serial", serial)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, atkPost(hd, body))
				want := http.StatusUnauthorized
				if serial == "7A1B2C3D4E5F6071" {
					want = http.StatusNoContent
				}
				assert.Equal(t, want, w.Code, "serial %s: %s", serial, w.Body.String())
			}
		})
	}
}

// TestAttackForgedRefusal: a refusal (4xx) signed by the wrong key is
// not a definite no for a refund: the outcome is unknown.
func TestAttackForgedRefusal(t *testing.T) {
	forger := atkKey(t, "k-wgo.pem")
	body := `{"code":"PARAM_ERROR","message":"参数错误"}`
	s := newAtkServer(t, func(*http.Request, []byte) atkReply {
		return atkReply{status: 400, body: body, header: atkHeaders(t, forger, atkNow, []byte(body))}
	})
	_, err := s.client(t, atkConfig(t)).Refund(context.Background(), atkRefundRequest())
	assert.ErrorIs(t, err, apiv3.ErrSignature)
	var ou *apiv3.OutcomeUnknownError
	assert.ErrorAs(t, err, &ou)
	var we *apiv3.Error
	assert.False(t, errors.As(err, &we), "a forged refusal became a WeChat error")
}

// TestAttackErrorMessageInjection: what WeChat's error answer says is
// printed on one bounded line: no CR/LF from the body reaches a log line
// built from err.Error().
func TestAttackErrorMessageInjection(t *testing.T) {
	msg := "bad\r\nlevel=ERROR msg=\"forged log line\"\n" + strings.Repeat("长", 100000)
	b, _ := json.Marshal(map[string]any{"code": "PARAM_ERROR\r\nX", "message": msg,
		"detail": map[string]any{"field": "a\nb", "issue": "c\rd", "location": "body"}})
	s := newAtkServer(t, func(r *http.Request, _ []byte) atkReply {
		return atkReply{status: 400, body: string(b), header: http.Header{"Request-Id": {"id\r\nX: y"}}}
	})
	_, err := s.client(t, atkConfig(t)).QueryByOutTradeNo(context.Background(), "VICTIM-ORDER-1")
	require.Error(t, err)
	e := err.Error()
	assert.NotContains(t, e, "\n")
	assert.NotContains(t, e, "\r")
	assert.Less(t, len(e), 4096)
}

// TestAttackCloseOrderAnswers: close is keyed by out_trade_no; a signed
// 204 succeeds, an unsigned or forged one leaves the outcome unknown, and
// WeChat's signed ORDERPAID refusal is definite (the order is paid: go to
// the paid path, never retry the close).
func TestAttackCloseOrderAnswers(t *testing.T) {
	forger := atkKey(t, "k-wgo.pem")
	cases := map[string]struct {
		rep     atkReply
		ok      bool
		unknown bool
	}{
		"signed 204":   {atkReply{status: 204}, true, false},
		"unsigned 204": {atkReply{status: 204, header: http.Header{}}, false, true},
		"forged 204":   {atkReply{status: 204, header: atkHeaders(t, forger, atkNow, nil)}, false, true},
		"ORDERPAID":    {atkReply{status: 400, body: `{"code":"ORDERPAID","message":"订单已支付"}`}, false, false},
		"dropped":      {atkReply{drop: true}, false, true},
		"503 unsigned": {atkReply{status: 503, body: `busy`, header: http.Header{}}, false, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := newAtkServer(t, func(*http.Request, []byte) atkReply { return tc.rep })
			err := s.client(t, atkConfig(t)).CloseOrder(context.Background(), "VICTIM-ORDER-1")
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var ou *apiv3.OutcomeUnknownError
			assert.Equal(t, tc.unknown, errors.As(err, &ou), "%v", err)
			if name == "ORDERPAID" {
				var we *apiv3.Error
				require.ErrorAs(t, err, &we)
				assert.Equal(t, apiv3.ErrorCode("ORDERPAID"), we.Code)
				assert.False(t, apiv3.Retryable(err))
			}
		})
	}
}

// TestAttackNotificationBodyBounds: a body longer than it claims, or with
// no length, is read to the cap and no further.
func TestAttackNotificationBodyBounds(t *testing.T) {
	c, err := apiv3.NewClient(atkConfig(t), apiv3.WithClock(func() time.Time { return atkNow }), apiv3.WithLogger(quiet))
	require.NoError(t, err)
	big := bytes.Repeat([]byte("A"), 10<<20)
	for _, cl := range []int64{-1, 0, 10, 64 << 10, 1 << 40} {
		rd := &countReader{r: bytes.NewReader(big)}
		r := httptest.NewRequest(http.MethodPost, "/notify", rd)
		r.ContentLength = cl
		w := httptest.NewRecorder()
		c.NotificationHandler(func(context.Context, *apiv3.Notification) error { return nil }).ServeHTTP(w, r)
		assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code, "content-length %d", cl)
		assert.LessOrEqual(t, rd.n, int64(64<<10)+4096, "read past the cap with content-length %d", cl)
	}
	_, err = c.ParseNotificationBody(context.Background(), http.Header{}, big)
	assert.ErrorIs(t, err, apiv3.ErrNotificationTooLarge)
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestAttackSignedMutationsNoPanic: every truncation and byte flip of a
// genuine notification, each then signed by WeChat's key (so that it
// reaches the JSON decoder, the AEAD and the business checks), gives an
// error or a valid notification, never a panic, and the handler never
// answers 2xx for a body the user's function did not accept.
func TestAttackSignedMutationsNoPanic(t *testing.T) {
	wx := atkKey(t, "k-off.pem")
	c, err := apiv3.NewClient(atkConfig(t), apiv3.WithClock(func() time.Time { return atkNow }), apiv3.WithLogger(quiet))
	require.NoError(t, err)
	calls := 0
	h := c.NotifyHandler(func(_ context.Context, n *apiv3.PaymentNotification) error {
		calls++
		if n.Transaction.MchID != atkMchID || n.Transaction.AppID != atkAppID {
			t.Errorf("foreign payment reached fn: %+v", n.Transaction)
		}
		return nil
	})
	genuine := atkNotification(t, "TRANSACTION.SUCCESS", "transaction", atkTransaction("VICTIM-ORDER-1", "4200000000000000000000000001", atkMchID))
	var bodies [][]byte
	for i := 0; i < len(genuine); i += 7 {
		bodies = append(bodies, genuine[:i])
		for _, x := range []byte{'"', '\\', '{', '}', '0', 0xff, 'e', ','} {
			m := append([]byte(nil), genuine...)
			m[i] = x
			bodies = append(bodies, m)
		}
	}
	ok := 0
	for _, b := range bodies {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, atkPost(atkHeaders(t, wx, atkNow, b), b))
		if w.Code == http.StatusNoContent {
			ok++
		} else {
			assert.Contains(t, []int{400, 401}, w.Code)
		}
	}
	assert.Equal(t, ok, calls)
}

// TestAttackLogsHoldNoSecrets: a client logging at Debug through calls,
// refused notifications and a failing handler writes neither key, nor a
// signature, nor the payer's openid from a decrypted resource.
func TestAttackLogsHoldNoSecrets(t *testing.T) {
	var logs bytes.Buffer
	lg := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	wx := atkKey(t, "k-off.pem")
	s := newAtkServer(t, func(*http.Request, []byte) atkReply {
		return atkReply{status: 400, body: `{"code":"PARAM_ERROR","message":"x"}`}
	})
	cfg := atkConfig(t)
	c := s.client(t, cfg, apiv3.WithLogger(lg))
	_, _ = c.QueryByOutTradeNo(context.Background(), "VICTIM-ORDER-1")
	_, _ = c.Refund(context.Background(), atkRefundRequest())
	tx := atkTransaction("VICTIM-ORDER-1", "4200000000000000000000000001", atkMchID)
	good := atkNotification(t, "TRANSACTION.SUCCESS", "transaction", tx)
	other := atkNotification(t, "TRANSACTION.SUCCESS", "transaction", strings.Replace(tx, atkMchID, "1900000001", 1))
	fail := c.NotifyHandler(func(context.Context, *apiv3.PaymentNotification) error { return errors.New("db down") })
	var sigs []string
	for _, b := range [][]byte{good, other} {
		hd := atkHeaders(t, wx, atkNow, b)
		sigs = append(sigs, hd.Get("Wechatpay-Signature"))
		fail.ServeHTTP(httptest.NewRecorder(), atkPost(hd, b))
		hd.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+hd.Get("Wechatpay-Signature"))
		fail.ServeHTTP(httptest.NewRecorder(), atkPost(hd, b))
	}
	out := logs.String()
	require.NotEmpty(t, out)
	keyLines := strings.Split(strings.TrimSpace(string(cfg.PrivateKey)), "\n")
	for _, secret := range append([]string{atkV3Key, keyLines[1], keyLines[5], "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "Authorization"}, sigs...) {
		assert.NotContains(t, out, secret)
	}
	for _, s := range sigs {
		assert.NotContains(t, out, s[:40])
	}
}

// TestAttackCertificateRotation: during a rotation the old and the new
// certificate are both believed while both are valid; once the old one
// expires it is refused, and the background refresh leaves no goroutine
// behind.
func TestAttackCertificateRotation(t *testing.T) {
	oldKey, newKey := atkKey(t, "k-wgo.pem"), atkKey(t, "k-off.pem")
	start := atkNow
	oldCert := atkMakeCert(t, oldKey, "7A1B2C3D4E5F6001", start.Add(-24*time.Hour), start.Add(2*time.Hour))
	newCert := atkMakeCert(t, newKey, "7A1B2C3D4E5F6002", start.Add(-time.Minute), start.Add(365*24*time.Hour))
	var now atomic.Int64
	now.Store(start.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	var list atomic.Value
	list.Store(atkCertList(t, atkCertItem{cert: oldCert}))
	var signer atomic.Pointer[rsa.PrivateKey]
	signer.Store(oldKey)
	var serial atomic.Value
	serial.Store("7A1B2C3D4E5F6001")
	var downloads atomic.Int64
	s := newAtkServer(t, func(r *http.Request, _ []byte) atkReply {
		downloads.Add(1)
		b := list.Load().(string)
		h := atkHeaders(t, signer.Load(), clock(), []byte(b))
		h.Set("Wechatpay-Serial", serial.Load().(string))
		return atkReply{status: 200, body: b, header: h}
	})
	cfg := atkConfig(t)
	cfg.PublicKeyID, cfg.PublicKey, cfg.PlatformCertificates = "", nil, true
	c := s.client(t, cfg, apiv3.WithLogger(quiet), apiv3.WithClock(clock))
	h := c.NotificationHandler(func(context.Context, *apiv3.Notification) error { return nil })
	body := atkNotification(t, "TRANSACTION.SUCCESS", "transaction", atkTransaction("VICTIM-ORDER-1", "4200000000000000000000000001", atkMchID))
	send := func(k *rsa.PrivateKey, ser string) int {
		hd := atkHeaders(t, k, clock(), body)
		hd.Set("Wechatpay-Serial", ser)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, atkPost(hd, body))
		return w.Code
	}
	before := runtime.NumGoroutine()
	assert.Equal(t, 204, send(oldKey, "7A1B2C3D4E5F6001"))
	// WeChat adds the new certificate and signs the list with it.
	list.Store(atkCertList(t, atkCertItem{cert: oldCert}, atkCertItem{cert: newCert}))
	signer.Store(newKey)
	serial.Store("7A1B2C3D4E5F6002")
	now.Add(int64(2 * time.Minute))
	assert.Equal(t, 204, send(newKey, "7A1B2C3D4E5F6002"), "the new certificate")
	assert.Equal(t, 204, send(oldKey, "7A1B2C3D4E5F6001"), "the old one, still valid")
	// The old key under the new serial, and the reverse, are forgeries.
	assert.Equal(t, 401, send(oldKey, "7A1B2C3D4E5F6002"))
	assert.Equal(t, 401, send(newKey, "7A1B2C3D4E5F6001"))
	// Past the old certificate's expiry.
	now.Add(int64(3 * time.Hour))
	assert.Equal(t, 401, send(oldKey, "7A1B2C3D4E5F6001"), "an expired certificate")
	assert.Equal(t, 204, send(newKey, "7A1B2C3D4E5F6002"))
	// Past the refresh interval: uses trigger one background refresh.
	now.Add(int64(13 * time.Hour))
	d := downloads.Load()
	for i := 0; i < 50; i++ {
		assert.Equal(t, 204, send(newKey, "7A1B2C3D4E5F6002"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for downloads.Load() == d && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.Equal(t, d+1, downloads.Load(), "background refreshes")
	s.srv.Client().CloseIdleConnections()
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		s.srv.Client().CloseIdleConnections()
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before+2, "goroutines left behind")
}

// TestAttackNilBody: a request without a body (built by hand, or by a
// middleware that dropped it) is refused, not a panic, by every handler.
func TestAttackNilBody(t *testing.T) {
	c, err := apiv3.NewClient(atkConfig(t), apiv3.WithClock(func() time.Time { return atkNow }), apiv3.WithLogger(quiet))
	require.NoError(t, err)
	for name, h := range map[string]http.Handler{
		"any":     c.NotificationHandler(func(context.Context, *apiv3.Notification) error { return nil }),
		"payment": c.NotifyHandler(func(context.Context, *apiv3.PaymentNotification) error { return nil }),
		"refund":  c.RefundNotifyHandler(func(context.Context, *apiv3.RefundNotification) error { return nil }),
	} {
		r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/notify"}, Header: atkHeaders(t, atkKey(t, "k-off.pem"), atkNow, nil)}
		w := httptest.NewRecorder()
		require.NotPanics(t, func() { h.ServeHTTP(w, r) }, name)
		assert.Contains(t, []int{400, 401}, w.Code, name)
	}
	_, err = c.ParseNotification(&http.Request{Method: http.MethodPost, Header: http.Header{}})
	assert.ErrorIs(t, err, apiv3.ErrSignature)
}

// TestAttackSensitiveJunk: decrypting junk gives the one error, never a
// panic; the ciphertext's serial is the configured key's.
func TestAttackSensitiveJunk(t *testing.T) {
	c, err := apiv3.NewClient(atkConfig(t))
	require.NoError(t, err)
	for _, ct := range []string{"", "A", "====", strings.Repeat("A", 344), strings.Repeat("A", 1<<20), "\x00\xff", base64.StdEncoding.EncodeToString(make([]byte, 256))} {
		_, err := c.DecryptSensitive(ct)
		assert.ErrorIs(t, err, apiv3.ErrSensitiveDecrypt)
	}
	serial, cts, err := c.EncryptSensitive(context.Background(), "张三", "")
	require.NoError(t, err)
	assert.Equal(t, atkPubKeyID, serial)
	require.Len(t, cts, 2)
	assert.NotEqual(t, cts[0], cts[1])
	_, _, err = c.EncryptSensitive(context.Background(), strings.Repeat("x", 300))
	var tl *apiv3.SensitiveTooLongError
	assert.ErrorAs(t, err, &tl)
}

// TestAttackDuplicateInWideObject: duplicate detection holds past the
// point where it switches from a scan to a map, with Unicode folding.
func TestAttackDuplicateInWideObject(t *testing.T) {
	good := atkTransaction("VICTIM-ORDER-1", "4200000000000000000000000001", atkMchID)
	var pad strings.Builder
	for i := 0; i < 40; i++ {
		pad.WriteString(`"pad` + strconv.Itoa(i) + `":0,`)
	}
	for name, dup := range map[string]string{
		"kelvin":      `"ban\u212a_type":"X",`,
		"kelvin raw":  "\"ban\u212a_type\":\"X\",",
		"long s":      `"ſuccess_time":"2020-01-01T00:00:00Z",`,
		"upper":       `"BANK_TYPE":"X",`,
		"escaped":     `"\u0062ank_type":"X",`,
		"pad escaped": `"p\u0041d3":1,`,
	} {
		body := strings.Replace(good, `{"appid"`, `{`+pad.String()+dup+`"appid"`, 1)
		s := newAtkServer(t, func(*http.Request, []byte) atkReply { return atkReply{status: 200, body: body} })
		_, err := s.client(t, atkConfig(t)).QueryByOutTradeNo(context.Background(), "VICTIM-ORDER-1")
		assert.ErrorIs(t, err, apiv3.ErrJSON, name)
	}
	body := strings.Replace(good, `{"appid"`, `{`+pad.String()+`"appid"`, 1)
	s := newAtkServer(t, func(*http.Request, []byte) atkReply { return atkReply{status: 200, body: body} })
	_, err := s.client(t, atkConfig(t)).QueryByOutTradeNo(context.Background(), "VICTIM-ORDER-1")
	assert.NoError(t, err)
}

// TestAttackFailover: a refund fails over to the backup only when the
// primary provably never received it (connection refused); a primary
// that took the request and then dropped it leaves the outcome unknown
// and the backup untouched, so one refund can never be sent twice.
func TestAttackFailover(t *testing.T) {
	backup := newAtkServer(t, func(*http.Request, []byte) atkReply {
		return atkReply{status: 200, body: atkRefundAnswer("R-1", 100, 88800)}
	})
	dead := httptest.NewUnstartedServer(http.NotFoundHandler())
	deadURL := "https://" + dead.Listener.Addr().String()
	dead.Listener.Close()
	c, err := apiv3.NewClient(atkConfig(t), apiv3.WithHTTPClient(backup.srv.Client()), apiv3.WithBaseURL(deadURL),
		apiv3.WithFailover(backup.srv.URL), apiv3.WithClock(func() time.Time { return atkNow }), apiv3.WithLogger(quiet))
	require.NoError(t, err)
	ref, err := c.Refund(context.Background(), atkRefundRequest())
	require.NoError(t, err)
	assert.Equal(t, "R-1", ref.OutRefundNo)
	assert.Equal(t, int64(1), backup.hits.Load())

	dropper := newAtkServer(t, func(*http.Request, []byte) atkReply { return atkReply{drop: true} })
	backup2 := newAtkServer(t, func(*http.Request, []byte) atkReply {
		return atkReply{status: 200, body: atkRefundAnswer("R-1", 100, 88800)}
	})
	c2, err := apiv3.NewClient(atkConfig(t), apiv3.WithHTTPClient(dropper.srv.Client()), apiv3.WithBaseURL(dropper.srv.URL),
		apiv3.WithFailover(backup2.srv.URL), apiv3.WithClock(func() time.Time { return atkNow }), apiv3.WithLogger(quiet))
	require.NoError(t, err)
	_, err = c2.Refund(context.Background(), atkRefundRequest())
	var ou *apiv3.OutcomeUnknownError
	require.ErrorAs(t, err, &ou)
	assert.Equal(t, int64(1), dropper.hits.Load())
	assert.Zero(t, backup2.hits.Load(), "a request that reached the primary was sent again to the backup")
}

// TestAttackGzipBombAnswer: an answer sent gzip-encoded (which Go's
// transport decompresses on its own) that inflates past the response
// cap is refused as too large, having read no more than the cap.
func TestAttackGzipBombAnswer(t *testing.T) {
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 64; i++ {
		_, _ = zw.Write(zeros)
	}
	require.NoError(t, zw.Close())
	bomb := z.String()
	s := newAtkServer(t, func(*http.Request, []byte) atkReply {
		return atkReply{status: 200, body: bomb, header: http.Header{"Content-Encoding": {"gzip"}}}
	})
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	_, err := s.client(t, atkConfig(t)).QueryByOutTradeNo(context.Background(), "VICTIM-ORDER-1")
	runtime.ReadMemStats(&ms1)
	assert.ErrorIs(t, err, apiv3.ErrResponseTooLarge)
	assert.Less(t, ms1.TotalAlloc-ms0.TotalAlloc, uint64(32<<20), "bytes allocated reading a 64 MiB bomb")
}

// TestAttackInsecureTransport: a caller's http.Client that skips TLS
// verification is refused at construction.
func TestAttackInsecureTransport(t *testing.T) {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	_, err := apiv3.NewClient(atkConfig(t), apiv3.WithHTTPClient(hc))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TLS")
}

// TestAttackQueryTransportFailureRetryable: a query only reads, so a
// connection that broke after the request went out is worth retrying
// (WeChat's own advice for an order whose state is unclear is to query
// again); a refused signature or the caller's cancellation is not.
func TestAttackQueryTransportFailureRetryable(t *testing.T) {
	for name, rep := range map[string]atkReply{
		"dropped":   {drop: true},
		"truncated": {drop: true, raw: "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"mchid\""},
	} {
		s := newAtkServer(t, func(*http.Request, []byte) atkReply { return rep })
		c := s.client(t, atkConfig(t))
		_, err := c.QueryByOutTradeNo(context.Background(), "VICTIM-ORDER-1")
		require.Error(t, err)
		assert.True(t, apiv3.Retryable(err), "%s: %v", name, err)
		_, err = c.QueryRefund(context.Background(), "R-1")
		require.Error(t, err)
		assert.True(t, apiv3.Retryable(err), "%s: %v", name, err)
	}
	s := newAtkServer(t, func(*http.Request, []byte) atkReply { return atkReply{drop: true} })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.client(t, atkConfig(t)).QueryByOutTradeNo(ctx, "VICTIM-ORDER-1")
	require.Error(t, err)
	assert.False(t, apiv3.Retryable(err), "%v", err)
	forged := newAtkServer(t, func(*http.Request, []byte) atkReply {
		return atkReply{status: 200, body: atkTransaction("VICTIM-ORDER-1", "4200000000000000000000000001", atkMchID), header: http.Header{}}
	})
	_, err = forged.client(t, atkConfig(t)).QueryByOutTradeNo(context.Background(), "VICTIM-ORDER-1")
	assert.ErrorIs(t, err, apiv3.ErrSignature)
	assert.False(t, apiv3.Retryable(err))
}
