package wxpaytest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1" // WeChat's bills name SHA1 as their hash_type
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wxpay-go/wxpay"
)

// API v3 bill endpoints.
const (
	// EndpointV3TradeBill applies for a day's trade bill (GET); the
	// answer's download_url is on the fake itself:
	// https://pay.weixin.qq.com/doc/v3/merchant/4012556654
	EndpointV3TradeBill Endpoint = "/v3/bill/tradebill"
	// EndpointV3FundFlowBill applies for a day's fund-flow bill (GET):
	// https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_7.shtml
	EndpointV3FundFlowBill Endpoint = "/v3/bill/fundflowbill"
	// EndpointV3BillDownload serves a bill file (GET, a signed request,
	// an unsigned answer), at the download_url an apply answered:
	// https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_8.shtml
	EndpointV3BillDownload Endpoint = "/v3/billdownload/file"
)

// BillURLLife is how long a v3 download_url stays valid, in the fake's
// time: five minutes, as WeChat's 2024 page says.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012556654
const BillURLLife = 5 * time.Minute

func init() {
	v3Routes = append(v3Routes,
		route{path: EndpointV3TradeBill, method: http.MethodGet, proto: protoV3, v3: (*Fake).v3TradeBill},
		route{path: EndpointV3FundFlowBill, method: http.MethodGet, proto: protoV3, v3: (*Fake).v3FundFlowBill},
		route{path: EndpointV3BillDownload, method: http.MethodGet, proto: protoV3, v3: (*Fake).v3BillDownload},
	)
}

// maxBillFiles bounds the bill files kept for their download_url: past
// it, applies are refused (429) until some expire, so that a client in a
// loop cannot grow the fake's memory without limit.
const maxBillFiles = 256

// v3BillFile is a bill an apply answered, until its download_url
// expires.
type v3BillFile struct {
	text    []byte // decompressed: what hash_value covers
	gzip    bool
	expires time.Time
}

// v3BillBook holds the bill files by download token.
type v3BillBook struct {
	mu    sync.Mutex
	files map[string]*v3BillFile
}

// v3BillDay reads bill_date (YYYY-MM-DD) as v2's day.
func v3BillDay(s string) (string, bool) {
	if len(s) != 10 {
		return "", false
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return "", false
	}
	return t.Format("20060102"), true
}

// v3TradeBill answers GET /v3/bill/tradebill: the day's trades of every
// order, whichever generation placed it, in WeChat's bill layout.
func (f *Fake) v3TradeBill(c *v3Call) v3Answer {
	if a, ok := checkV3Query(c.query, []string{"bill_date"}, "bill_type", "tar_type", "sub_mchid"); !ok {
		return a
	}
	day, ok := v3BillDay(c.query.Get("bill_date"))
	if !ok {
		return v3Param("bill_date", "query", "格式须为YYYY-MM-DD")
	}
	bt := c.query.Get("bill_type")
	switch bt {
	case "", "ALL", "SUCCESS", "REFUND":
	case "RECHARGE_REFUND", "ALL_SPECIAL", "SUC_SPECIAL", "REF_SPECIAL":
		// The fake has no pre-funded coupons and no special industry.
		return v3Error("NO_STATEMENT_EXIST", "账单文件不存在")
	default:
		return v3Param("bill_type", "query", "取值不在范围内")
	}
	a := f.downloadBill(wxpay.Params{"bill_date": day, "bill_type": bt})
	return f.v3BillAnswer(c, a)
}

// v3FundFlowBill answers GET /v3/bill/fundflowbill: the basic account's
// flows of the day.
func (f *Fake) v3FundFlowBill(c *v3Call) v3Answer {
	if a, ok := checkV3Query(c.query, []string{"bill_date"}, "account_type", "tar_type"); !ok {
		return a
	}
	day, ok := v3BillDay(c.query.Get("bill_date"))
	if !ok {
		return v3Param("bill_date", "query", "格式须为YYYY-MM-DD")
	}
	at := map[string]string{"": "Basic", "BASIC": "Basic", "OPERATION": "Operation", "FEES": "Fees"}[c.query.Get("account_type")]
	if at == "" {
		return v3Param("account_type", "query", "取值须为BASIC、OPERATION或FEES")
	}
	a := f.downloadFundFlow(wxpay.Params{"bill_date": day, "account_type": at})
	return f.v3BillAnswer(c, a)
}

// v3BillAnswer turns a v2 bill into v3's apply answer: hash_type SHA1,
// hash_value of the decompressed file, and a download_url on the host
// (and under the path prefix) the request came to.
func (f *Fake) v3BillAnswer(c *v3Call, a answer) v3Answer {
	var gz bool
	switch c.query.Get("tar_type") {
	case "":
	case "GZIP":
		gz = true
	default:
		return v3Param("tar_type", "query", "取值须为GZIP")
	}
	if a.bill == nil {
		if a.failMsg == msgNoBill {
			return v3Error("NO_STATEMENT_EXIST", "账单文件不存在")
		}
		return v3Param("bill_date", "query", a.failMsg)
	}
	sum := sha1.Sum(a.bill)
	token := randAlnum(48)
	f.v3bills.mu.Lock()
	now := f.Now()
	for t, b := range f.v3bills.files {
		if now.After(b.expires) {
			delete(f.v3bills.files, t)
		}
	}
	if len(f.v3bills.files) >= maxBillFiles {
		f.v3bills.mu.Unlock()
		return v3Error("FREQUENCY_LIMITED", "申请账单过于频繁，请稍后再试")
	}
	f.v3bills.files[token] = &v3BillFile{text: a.bill, gzip: gz, expires: now.Add(BillURLLife)}
	f.v3bills.mu.Unlock()
	return v3OK(map[string]string{
		"hash_type":    "SHA1",
		"hash_value":   hex.EncodeToString(sum[:]),
		"download_url": baseOf(c.r) + string(EndpointV3BillDownload) + "?token=" + token,
	})
}

// baseOf is the scheme, host and path prefix the request came to: the
// fake's URL as its client knows it, also when mounted under a prefix.
func baseOf(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	path, _, _ := strings.Cut(r.RequestURI, "?")
	return scheme + "://" + r.Host + strings.TrimSuffix(path, r.URL.Path)
}

// v3BillDownload answers GET /v3/billdownload/file?token=: the file,
// unsigned, gzip-compressed when the apply asked for GZIP.
func (f *Fake) v3BillDownload(c *v3Call) v3Answer {
	if a, ok := checkV3Query(c.query, []string{"token"}); !ok {
		return a
	}
	f.v3bills.mu.Lock()
	b := f.v3bills.files[c.query.Get("token")]
	f.v3bills.mu.Unlock()
	if b == nil || f.Now().After(b.expires) {
		return v3Error("INVALID_REQUEST", "下载链接已失效，请重新申请账单")
	}
	if !b.gzip {
		return v3Answer{status: http.StatusOK, file: b.text}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b.text)
	_ = zw.Close()
	return v3Answer{status: http.StatusOK, file: buf.Bytes(), gzip: true}
}
