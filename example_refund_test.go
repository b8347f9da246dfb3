package wxpay_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/refsign"
)

// exampleWeChat is a fake WeChat for the examples: answer gives the
// fields of the answer to each request, which it signs as WeChat does
// (with the plain reference signer). Like WeChat, it serves TLS and
// requires the merchant's client certificate on /secapi paths.
// client returns the options that trust it and carry a certificate it
// accepts.
func exampleWeChat(answer func(path string, req wxpay.Params) wxpay.Params) (srv *httptest.Server, opts []wxpay.Option) {
	ca, caKey := exampleCA()
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/secapi/") && len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "client certificate required", http.StatusForbidden)
			return
		}
		b, _ := io.ReadAll(r.Body)
		req, err := wxpay.DecodeXML(b)
		if err != nil || req["sign"] != refsign.Sign(req, xAPIKey, req["sign_type"]) {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		a := answer(r.URL.Path, req)
		if a["return_code"] == "" {
			a["return_code"], a["appid"], a["mch_id"], a["nonce_str"] = "SUCCESS", xAppID, xMchID, "5K8264ILTKCH16CQ"
			if a["result_code"] == "" {
				a["result_code"] = "SUCCESS"
			}
		}
		a["sign"] = refsign.Sign(a, xAPIKey, req["sign_type"])
		out, _ := wxpay.EncodeXML(a)
		_, _ = w.Write(out)
	}))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	serverCert := exampleIssue(ca, caKey, "api.mch.weixin.qq.com", true)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	certPEM, keyPEM := examplePEM(ca, caKey, xMchID)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	return srv, []wxpay.Option{wxpay.WithBaseURL(srv.URL), wxpay.WithHTTPClient(hc), wxpay.WithClientCertificate(certPEM, keyPEM)}
}

func exampleCA() (*x509.Certificate, *ecdsa.PrivateKey) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "example CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ca, _ := x509.ParseCertificate(der)
	return ca, key
}

func exampleDER(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, server bool) ([]byte, *ecdsa.PrivateKey) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	return der, key
}

func exampleIssue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, server bool) tls.Certificate {
	der, key := exampleDER(ca, caKey, cn, server)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func examplePEM(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string) (certPEM, keyPEM []byte) {
	der, key := exampleDER(ca, caKey, cn, false)
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// Refund a paid order in full. out_refund_no is the idempotency key: when
// the outcome is unclear (SYSTEMERROR, BIZERR_NEED_RETRY, a lost answer),
// the same request is sent again, never a new number.
func ExampleClient_Refund() {
	first := true
	srv, opts := exampleWeChat(func(_ string, req wxpay.Params) wxpay.Params {
		if first { // WeChat is busy once
			first = false
			return wxpay.Params{"result_code": "FAIL", "err_code": "SYSTEMERROR", "err_code_des": "系统超时"}
		}
		return wxpay.Params{"out_refund_no": req["out_refund_no"], "out_trade_no": req["out_trade_no"],
			"transaction_id": "4200002222202405010000000001", "refund_id": "50000408202405010000000001",
			"refund_fee": req["refund_fee"], "total_fee": req["total_fee"]}
	})
	defer srv.Close()
	// In production: wxpay.WithClientCertificateFiles("apiclient_cert.pem", "apiclient_key.pem").
	c, err := wxpay.NewClient(xConfig(wxpay.SignMD5), opts...)
	if err != nil {
		log.Fatal(err)
	}
	req := &wxpay.RefundRequest{
		OutTradeNo:  "20240501091200-0001",
		OutRefundNo: "20240501091200-0001-r1", // stored before the first attempt
		TotalFee:    100,
		RefundFee:   100,
	}
	var r *wxpay.RefundResponse
	for attempt := 1; ; attempt++ {
		r, err = c.Refund(context.Background(), req)
		if err == nil || !wxpay.Retryable(err) || attempt == 3 {
			break
		}
		fmt.Println("retrying:", err)
		time.Sleep(10 * time.Millisecond) // back off for longer in production
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("accepted refund", r.RefundID, "of", r.RefundFee, "fen")
	// Output:
	// retrying: wxpay: refund: SYSTEMERROR: 系统超时 (retryable: call again with the same out_refund_no)
	// accepted refund 50000408202405010000000001 of 100 fen
}

// List an order's refunds and their states.
func ExampleClient_RefundQuery() {
	srv, opts := exampleWeChat(func(_ string, req wxpay.Params) wxpay.Params {
		return wxpay.Params{"out_trade_no": req["out_trade_no"], "transaction_id": "4200002222202405010000000001",
			"total_fee": "500", "refund_count": "2",
			"out_refund_no_0": "r1", "refund_id_0": "50000408202405010000000001", "refund_fee_0": "100",
			"refund_status_0": "SUCCESS", "refund_success_time_0": "2024-05-01 14:20:00",
			"out_refund_no_1": "r2", "refund_id_1": "50000408202405010000000002", "refund_fee_1": "300",
			"refund_status_1": "PROCESSING"}
	})
	defer srv.Close()
	c, err := wxpay.NewClient(xConfig(wxpay.SignMD5), opts...)
	if err != nil {
		log.Fatal(err)
	}
	r, err := c.RefundQuery(context.Background(), &wxpay.RefundQueryRequest{OutTradeNo: "20240501091200-0001"})
	if err != nil {
		log.Fatal(err)
	}
	for _, ri := range r.Refunds {
		fmt.Println(ri.OutRefundNo, ri.RefundFee, ri.Status)
	}
	// Output:
	// r1 100 SUCCESS
	// r2 300 PROCESSING
}

// Download a day's trade bill and read it row by row. The bill streams
// through: neither the download nor the reader holds it whole.
func ExampleClient_DownloadBill() {
	const bill = "交易时间,商户订单号,交易状态,订单金额,退款金额\r\n" +
		"`2024-05-01 09:12:45,`20240501091200-0001,`SUCCESS,`0.01,`0.00\r\n" +
		"`2024-05-01 11:03:10,`20240501110300-0002,`SUCCESS,`100.00,`0.00\r\n" +
		"总交易单数,订单总金额,退款总金额\r\n" +
		"`2,`100.01,`0.00\r\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, bill)
	}))
	defer srv.Close()
	c, err := wxpay.NewClient(xConfig(wxpay.SignMD5), wxpay.WithBaseURL(srv.URL))
	if err != nil {
		log.Fatal(err)
	}
	// In production, write to a temporary file and parse it afterwards.
	var buf bytes.Buffer
	_, err = c.DownloadBill(context.Background(), &wxpay.DownloadBillRequest{BillDate: "20240501"}, &buf)
	if errors.Is(err, wxpay.ErrNoBill) {
		fmt.Println("no trades that day")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	br, err := wxpay.NewBillReader(&buf)
	if err != nil {
		log.Fatal(err)
	}
	for {
		row, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		t, err := row.Trade()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(t.OutTradeNo, t.TradeState, t.TotalFee, "fen")
	}
	sum, err := br.Summary().TradeSummary()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("trades:", sum.Trades, "total:", sum.TotalFee, "fen")
	// Output:
	// 20240501091200-0001 SUCCESS 1 fen
	// 20240501110300-0002 SUCCESS 10000 fen
	// trades: 2 total: 10001 fen
}

// chargeAtTill charges a payment code the way WeChat asks: when the payer
// must confirm on the phone (USERPAYING) or the result is unknown
// (SYSTEMERROR, a lost answer), poll the order; if it has not succeeded
// by the deadline, reverse it so it cannot complete later.
func chargeAtTill(ctx context.Context, c *wxpay.Client, req *wxpay.MicroPayRequest, poll, wait time.Duration) (string, error) {
	r, err := c.MicroPay(ctx, req)
	if err == nil {
		return "paid " + r.TransactionID, nil
	}
	var we *wxpay.Error
	unclear := errors.As(err, &we) && (we.Code == wxpay.ErrCodeUserPaying || we.Code == wxpay.ErrCodeSystemError || we.Code == wxpay.ErrCodeBankError)
	var oe *wxpay.OutcomeUnknownError
	if !unclear && !errors.As(err, &oe) {
		return "", err // final: AUTH_CODE_INVALID, NOTENOUGH, ...
	}
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); {
		time.Sleep(poll)
		q, err := c.OrderQuery(ctx, &wxpay.OrderQueryRequest{OutTradeNo: req.OutTradeNo})
		if err == nil && q.TradeState == wxpay.TradeStateSuccess {
			return "paid " + q.TransactionID, nil
		}
		if err == nil && q.TradeState != wxpay.TradeStateUserPaying {
			break // PAYERROR, CLOSED, ...: no point waiting
		}
	}
	for {
		rv, err := c.Reverse(ctx, &wxpay.ReverseRequest{OutTradeNo: req.OutTradeNo})
		if err != nil {
			return "", err
		}
		if !rv.Recall {
			return "reversed", nil
		}
		time.Sleep(poll)
	}
}

// Charge a payment code at the till, handling USERPAYING with the
// query-then-reverse loop WeChat documents.
func ExampleClient_MicroPay() {
	var mu sync.Mutex
	polls := map[string]int{}
	srv, opts := exampleWeChat(func(path string, req wxpay.Params) wxpay.Params {
		mu.Lock()
		defer mu.Unlock()
		no := req["out_trade_no"]
		switch path {
		case "/pay/micropay":
			return wxpay.Params{"result_code": "FAIL", "err_code": "USERPAYING", "err_code_des": "需要用户输入支付密码"}
		case "/pay/orderquery":
			polls[no]++
			// Order A is confirmed on the second poll; order B never.
			if no == "till7-A" && polls[no] == 2 {
				return wxpay.Params{"trade_state": "SUCCESS", "out_trade_no": no, "transaction_id": "4200002222202405010000000003",
					"total_fee": "2550", "trade_type": "MICROPAY", "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
			}
			return wxpay.Params{"trade_state": "USERPAYING", "out_trade_no": no}
		default: // /secapi/pay/reverse
			return wxpay.Params{"recall": "N"}
		}
	})
	defer srv.Close()
	c, err := wxpay.NewClient(xConfig(wxpay.SignMD5), opts...)
	if err != nil {
		log.Fatal(err)
	}
	// WeChat's pace is a poll every 10 s for up to 45 s; shortened here.
	poll, wait := 5*time.Millisecond, 100*time.Millisecond
	for _, no := range []string{"till7-A", "till7-B"} {
		out, err := chargeAtTill(context.Background(), c, &wxpay.MicroPayRequest{
			AuthCode: "120061098828009406", Body: "门店收银", OutTradeNo: no, TotalFee: 2550, SpbillCreateIP: "14.23.150.211",
		}, poll, wait)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(no, out)
	}
	// Output:
	// till7-A paid 4200002222202405010000000003
	// till7-B reversed
}
