package wxpay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/internal/wire"
	"github.com/wxpay-go/wxpay/miniprogram"
)

// Attacks found by a review of the money paths; each test plays the
// attacker or the faulty network and must fail to double-charge,
// double-refund, forge a confirmation or flood a log.

// TestAttackRecordErrorAfterDelivery: TLS record headers are not
// authenticated, so a middlebox can corrupt a record after the request
// reached WeChat. Such an error proves nothing about delivery: the call
// must neither fail over (which would charge twice) nor claim the request
// was never sent.
func TestAttackRecordErrorAfterDelivery(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var primary atomic.Int32
	go func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			go func(raw net.Conn) {
				defer raw.Close()
				tc := tls.Server(raw, &tls.Config{Certificates: srv.TLS.Certificates})
				req, err := http.ReadRequest(bufio.NewReader(tc))
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				primary.Add(1) // WeChat has it
				// A record with a wrong version, written in clear.
				_, _ = raw.Write(append([]byte{0x17, 0x03, 0x01, 0x00, 0x20}, make([]byte, 32)...))
			}(raw)
		}
	}()
	var backup atomic.Int32
	bk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		backup.Add(1)
		http.Error(w, "backup", http.StatusBadGateway)
	}))
	defer bk.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	c := testClient(t, SignMD5, WithHTTPClient(hc), WithBaseURL("https://"+ln.Addr().String()), WithFailover(bk.URL))

	_, err = c.MicroPay(context.Background(), validMicroPay())
	require.Error(t, err)
	assert.EqualValues(t, 1, primary.Load())
	assert.Zero(t, backup.Load(), "a request WeChat had was sent again to the backup")
	var oe *OutcomeUnknownError
	require.ErrorAs(t, err, &oe, "the outcome of a delivered request is unknown, not a failure")
	assert.Equal(t, "out_trade_no", oe.Key)
	assert.True(t, Retryable(err))
}

// TestAttackRefundAnswerUnusable: WeChat refunded, but its answer cannot
// be used. The caller must be told the outcome is unknown and to retry
// with the same out_refund_no, never that the refund failed (a new number
// would refund twice).
func TestAttackRefundAnswerUnusable(t *testing.T) {
	t.Parallel()
	for mode, answer := range map[string]func(w http.ResponseWriter){
		"signed with another key": func(w http.ResponseWriter) {
			writeSigned(t, w, "00000000000000000000000000000000", SignMD5, okAnswer(Params{"out_refund_no": validRefund().OutRefundNo}))
		},
		"no refund_id": func(w http.ResponseWriter) {
			writeSigned(t, w, testKey, SignMD5, okAnswer(Params{"out_refund_no": validRefund().OutRefundNo, "refund_fee": "100"}))
		},
		"HTML with status 200": func(w http.ResponseWriter) { _, _ = io.WriteString(w, "<html>gateway</html>") },
		"cut off": func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, "<xml><return_code>SUCCESS</return_code><result_code>SUCC")
		},
		"gateway 502": func(w http.ResponseWriter) { http.Error(w, "bad gateway", http.StatusBadGateway) },
	} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s := newMTLSServer(t, true)
			s.Mux.HandleFunc("/secapi/pay/refund", func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				answer(w)
			})
			_, err := s.certClient(t).Refund(context.Background(), validRefund())
			var oe *OutcomeUnknownError
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, "out_refund_no", oe.Key)
			assert.True(t, Retryable(err))
			assert.Contains(t, err.Error(), "retry with the same out_refund_no")
		})
	}
	// WeChat's own verified refusal stays final.
	s := newMTLSServer(t, true)
	s.Mux.HandleFunc("/secapi/pay/refund", func(w http.ResponseWriter, r *http.Request) {
		writeSigned(t, w, testKey, SignMD5, okAnswer(Params{"result_code": "FAIL", "err_code": "NOTENOUGH", "err_code_des": "余额不足"}))
	})
	_, err := s.certClient(t).Refund(context.Background(), validRefund())
	var we *Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, ErrCodeNotEnough, we.Code)
	assert.False(t, errors.As(err, new(*OutcomeUnknownError)))
}

// TestAttackBillBomb: a small gzip body that expands without end is cut
// at the cap with a typed error.
func TestAttackBillBomb(t *testing.T) {
	old := maxBillSize
	maxBillSize = 1 << 20
	t.Cleanup(func() { maxBillSize = old })
	c, mux, _ := setup(t)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	line := bytes.Repeat([]byte("`0,"), 1<<12)
	for i := 0; i < 1024; i++ { // 12 MiB once expanded
		_, _ = zw.Write(line)
	}
	require.NoError(t, zw.Close())
	mux.HandleFunc("/pay/downloadbill", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(z.Bytes()) })
	var out countingWriter
	n, err := c.DownloadBill(context.Background(), &DownloadBillRequest{BillDate: "20240501"}, &out)
	assert.ErrorIs(t, err, ErrBillTooLarge)
	assert.LessOrEqual(t, n, maxBillSize+1)
	assert.LessOrEqual(t, out.n, maxBillSize+1)
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// TestAttackErrorCodeForgesLogLines: an unsigned failure body's code
// reaches error text; it must not carry line breaks or unbounded text
// into a log.
func TestAttackErrorCodeForgesLogLines(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/pay/downloadbill", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "<xml><return_code>FAIL</return_code><return_msg>x</return_msg><error_code>20002\n"+
			"2026/11/30 04:00:00 INFO admin login ok"+strings.Repeat("A", 3000)+"</error_code></xml>")
	})
	_, err := c.DownloadBill(context.Background(), &DownloadBillRequest{BillDate: "20240501"}, io.Discard)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "\n")
	assert.Less(t, len(err.Error()), 1024)
}

// TestAttackInsecureTLSRefused: no option accepts a transport that skips
// the server's certificate check.
func TestAttackInsecureTLSRefused(t *testing.T) {
	t.Parallel()
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for name, opt := range map[string]Option{
		"WithHTTPClient":            WithHTTPClient(insecure),
		"WithCertificateHTTPClient": WithCertificateHTTPClient(insecure),
	} {
		_, err := NewClient(testConfig(), opt)
		assert.ErrorIs(t, err, wire.ErrInsecureTLS, name)
	}
	_, err := miniprogram.NewClient(testAppID, "0123456789abcdef0123456789abcdef", miniprogram.WithHTTPClient(insecure))
	assert.Error(t, err)
	assert.Contains(t, err.Error(), "InsecureSkipVerify")
}

// TestAttackECBSpliceIntoConfirmed: blocks of another genuine refund
// spliced around out_trade_no change the amounts; a confirmed
// notification must never carry amounts refundquery does not vouch for.
func TestAttackECBSpliceIntoConfirmed(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/pay/refundquery", fakeWeChat(t, func(req Params) Params {
		return okAnswer(Params{"transaction_id": "4200002222202405010000000001", "out_trade_no": "o1", "total_fee": "500",
			"refund_count": "1", "out_refund_no_0": "r1", "refund_id_0": "50000408202405010000000001",
			"refund_fee_0": "100", "settlement_refund_fee_0": "100", "refund_status_0": "SUCCESS",
			"refund_success_time_0": "2024-05-01 14:20:00"})
	}, nil))
	a := confirmPlain("o1", "SUCCESS")
	b := string(confirmPlain("o9", "SUCCESS"))
	b = strings.Replace(b, "<total_fee>500<", "<total_fee>900<", 1)
	b = strings.Replace(b, "<settlement_refund_fee>100<", "<settlement_refund_fee>999<", 1)
	require.Equal(t, len(a), len(b))
	key := refundKey(testKey)[:]
	ctA, ctB := rnEncrypt(t, key, a), rnEncrypt(t, key, []byte(b))
	otn := strings.Index(string(a), "<out_trade_no>")
	spliced := append([]byte(nil), ctA...)
	for i := 0; i+16 <= len(a); i += 16 {
		if i+16 <= otn || i > otn+40 {
			copy(spliced[i:i+16], ctB[i:i+16])
		}
	}
	body := encodeXML(t, Params{"return_code": "SUCCESS", "appid": testAppID, "mch_id": testMchID,
		"nonce_str": "x", "req_info": base64.StdEncoding.EncodeToString(spliced)})
	var got *RefundNotification
	h := c.RefundNotifyHandler(func(_ context.Context, n *RefundNotification) error { got = n; return nil }, ConfirmWithRefundQuery())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/refund/notify", bytes.NewReader(body)))
	if got != nil {
		assert.Equal(t, int64(500), got.TotalFee, "a confirmed notification carried a spliced total_fee")
		assert.Equal(t, int64(100), got.SettlementRefundFee, "a confirmed notification carried a spliced settlement_refund_fee")
		return
	}
	assert.Equal(t, http.StatusInternalServerError, w.Code, "refused, so WeChat delivers the genuine one again")
}
