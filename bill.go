package wxpay

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

var (
	epDownloadBill = endpoint{op: "downloadbill", path: "/pay/downloadbill"}
	// WeChat accepts the fund-flow bill signed with HMAC-SHA256 only
	// ("目前仅支持HMAC-SHA256"), whatever the merchant's configured
	// algorithm; the client's HMAC signer is built once in NewClient from
	// the same key. It also needs the client certificate.
	epFundFlow = endpoint{op: "downloadfundflow", path: "/pay/downloadfundflow", cert: true, sign: SignHMACSHA256}
)

// BillTimeout bounds a whole bill download with the client's own HTTP
// client (a bill can take minutes to stream, where every other call gets
// 10 s). A client from [WithHTTPClient] keeps its own timeout; either
// way, a deadline in ctx also applies.
const BillTimeout = 10 * time.Minute

// maxBillFailBytes bounds what is read of an answer that is not a bill:
// WeChat's XML FAIL answers are a few hundred bytes.
const maxBillFailBytes = 64 << 10

// BillType is bill_type: which trades a trade bill lists.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_6
type BillType string

// Trade bill types.
const (
	BillAll            BillType = "ALL"             // every trade of the day (the default)
	BillSuccess        BillType = "SUCCESS"         // successful payments
	BillRefund         BillType = "REFUND"          // refunds
	BillRechargeRefund BillType = "RECHARGE_REFUND" // refunds of pre-funded coupons
)

// DownloadBillRequest names a day's trade bill for [Client.DownloadBill].
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_6
type DownloadBillRequest struct {
	// BillDate is the day, yyyyMMdd in UTC+8, such as "20140603". Bills
	// are ready from about 10:00 the next day and kept for three months.
	// Required.
	BillDate string
	// BillType selects the trades; empty means [BillAll].
	BillType BillType
	// Extra adds fields wxpay does not model. It may not name a field set
	// above or one wxpay sets itself; such a request is refused with a
	// [*RequestError].
	Extra Params
}

// FundFlowAccount is account_type: which account's fund flow to fetch.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_18
type FundFlowAccount string

// Fund-flow accounts.
const (
	AccountBasic     FundFlowAccount = "Basic"     // 基本账户
	AccountOperation FundFlowAccount = "Operation" // 运营账户
	AccountFees      FundFlowAccount = "Fees"      // 手续费账户
)

// DownloadFundFlowRequest names a day's fund-flow bill for
// [Client.DownloadFundFlow].
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_18
type DownloadFundFlowRequest struct {
	// BillDate is the day, yyyyMMdd in UTC+8. Required.
	BillDate string
	// AccountType is the account. Required.
	AccountType FundFlowAccount
	// Extra adds fields wxpay does not model. It may not name a field set
	// above or one wxpay sets itself; such a request is refused with a
	// [*RequestError].
	Extra Params
}

// DownloadBill streams a day's trade bill (下载交易账单) to w and returns
// the number of bytes written. The bill is requested gzip-compressed
// (tar_type=GZIP) and written to w decompressed: WeChat's text table with
// backtick-prefixed fields, which [NewBillReader] parses. It is never held
// in memory whole.
//
// A bill is not signed; only TLS vouches for it. When WeChat answers
// with its XML failure message instead, nothing is written and the error
// is an [*Error]: errors.Is(err, [ErrNoBill]) when the day has no bill
// ("No Bill Exist": no trades, or too old), [ErrBillCreating] when it is
// not ready yet. Only a bounded prefix of such an answer is read.
//
// If the stream fails midway, w has received part of the bill; write to a
// temporary file and keep it only on success. A bill parsed with
// [BillReader] also fails when its summary is missing.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_6
func (c *Client) DownloadBill(ctx context.Context, req *DownloadBillRequest, w io.Writer) (int64, error) {
	if req == nil {
		return 0, newRequest(epDownloadBill).bad("request", "is nil")
	}
	return c.downloadDay(ctx, epDownloadBill, req.BillDate, req.Extra, w, func(q *request) error {
		switch req.BillType {
		case "", BillAll, BillSuccess, BillRefund, BillRechargeRefund:
		default:
			return q.bad("bill_type", "must be ALL, SUCCESS, REFUND or RECHARGE_REFUND")
		}
		q.set("bill_type", string(req.BillType))
		return nil
	})
}

// DownloadFundFlow streams a day's fund-flow bill (下载资金账单) of one
// account to w, like [Client.DownloadBill]. WeChat imposes two things
// here: the client certificate ([WithClientCertificate]; without one the
// call fails with a [*RequestError] before any I/O), and HMAC-SHA256,
// which wxpay uses for this call whatever Config.SignType says.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_18
func (c *Client) DownloadFundFlow(ctx context.Context, req *DownloadFundFlowRequest, w io.Writer) (int64, error) {
	if req == nil {
		return 0, newRequest(epFundFlow).bad("request", "is nil")
	}
	return c.downloadDay(ctx, epFundFlow, req.BillDate, req.Extra, w, func(q *request) error {
		switch req.AccountType {
		case AccountBasic, AccountOperation, AccountFees:
		case "":
			return q.bad("account_type", "is required")
		default:
			return q.bad("account_type", "must be Basic, Operation or Fees")
		}
		q.set("account_type", string(req.AccountType))
		return nil
	})
}

// downloadDay checks and builds the request of one day's bill on ep (the
// writer, bill_date, what set adds, tar_type=GZIP, Extra), in the order
// both bill endpoints always checked them, and streams it to w.
func (c *Client) downloadDay(ctx context.Context, ep endpoint, date string, extra Params, w io.Writer, set func(*request) error) (int64, error) {
	q := newRequest(ep)
	if w == nil {
		return 0, q.bad("writer", "is nil")
	}
	if err := checkBillDate(q, date); err != nil {
		return 0, err
	}
	q.set("bill_date", date)
	if err := set(q); err != nil {
		return 0, err
	}
	q.set("tar_type", "GZIP")
	if err := q.extra(extra); err != nil {
		return 0, err
	}
	return c.download(ctx, q, w)
}

func checkBillDate(q *request, s string) error {
	if s == "" {
		return q.bad("bill_date", "is required")
	}
	if len(s) != 8 || !digits(s) {
		return q.bad("bill_date", "must be yyyyMMdd")
	}
	if _, err := time.Parse("20060102", s); err != nil {
		return q.bad("bill_date", "is not a calendar date")
	}
	return nil
}

// download sends a bill request through the one request path
// ([Client.open]) and streams the answer to w.
func (c *Client) download(ctx context.Context, q *request, w io.Writer) (int64, error) {
	op := q.ep.op
	hc, signer, err := c.route(ctx, q)
	if err != nil {
		return 0, err
	}
	body, err := c.encodeWith(signer, q)
	if err != nil {
		return 0, &opError{op, err}
	}
	// A bill can take minutes to stream; the default budget of
	// wire.DefaultTimeout is for the small answers of the other calls.
	resp, err := c.open(ctx, hc, c.attemptTimeout(hc, BillTimeout), q, body)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	start := time.Now()
	n, err := streamBill(op, resp, w)
	if log := c.logger(); log.Enabled(ctx, slog.LevelDebug) {
		log.DebugContext(ctx, "wxpay: bill", "op", op, "status", resp.StatusCode, "bytes", n, "elapsed", time.Since(start))
	}
	return n, err
}

// streamBill copies a bill answer to w: gzip is undone, and an answer that
// is XML (WeChat's FAIL message) or not 200 becomes an *Error after
// reading at most maxBillFailBytes of it.
func streamBill(op string, resp *http.Response, w io.Writer) (int64, error) {
	br := bufio.NewReaderSize(resp.Body, 32<<10)
	if resp.StatusCode != http.StatusOK {
		return 0, billFail(op, resp.StatusCode, br)
	}
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return 0, &opError{op, err}
		}
		defer zr.Close()
		zbr := bufio.NewReaderSize(zr, 32<<10)
		src = zbr
		if isXML(zbr) {
			return 0, billFail(op, resp.StatusCode, zbr)
		}
	} else if isXML(br) {
		return 0, billFail(op, resp.StatusCode, br)
	}
	// The compressed stream is bounded by nothing but time, and gzip
	// expands a thousandfold: cap what is written, so a hostile or broken
	// peer cannot fill the caller's disk or memory.
	n, err := io.Copy(w, io.LimitReader(src, maxBillSize+1))
	if err != nil {
		return n, &opError{op, err}
	}
	if n > maxBillSize {
		return n, &opError{op, ErrBillTooLarge}
	}
	return n, nil
}

// MaxBillSize caps a downloaded bill, after decompression. A day's bill of
// a very large merchant is some hundreds of megabytes; anything past this
// is not a bill.
const MaxBillSize = 4 << 30

// ErrBillTooLarge means a downloaded bill grew past [MaxBillSize] once
// decompressed; what was written before is incomplete and must be
// discarded.
var ErrBillTooLarge = wire.NewError("wxpay: ", "bill exceeds MaxBillSize")

// maxBillSize is MaxBillSize, lowered by tests.
var maxBillSize int64 = MaxBillSize

// isXML reports whether the stream starts, after white space, with '<':
// a bill starts with its header row, never with markup.
func isXML(br *bufio.Reader) bool {
	for i := 1; i <= 512; i++ {
		b, _ := br.Peek(i)
		if len(b) < i {
			return false
		}
		switch c := b[i-1]; {
		case c == '<':
			return true
		case c == ' ', c == '\t', c == '\r', c == '\n':
		case i == 1 && c == 0xef, i == 2 && c == 0xbb, i == 3 && c == 0xbf:
			// A UTF-8 byte order mark.
		default:
			return false
		}
	}
	return false
}

// billFail turns a non-bill answer into an *Error, reading a bounded
// prefix of it.
func billFail(op string, status int, r io.Reader) error {
	b, err := wire.ReadAll(r, maxBillFailBytes)
	e := &Error{Op: op, StatusCode: status}
	if err != nil {
		if errors.Is(err, wire.ErrTooLarge) {
			err = ErrResponseTooLarge
		}
		e.Err = err
		return e
	}
	p, err := DecodeXML(b)
	if err != nil {
		e.Err = err
		return e
	}
	e.ReturnCode, e.ReturnMsg = p["return_code"], p["return_msg"]
	code := p["err_code"]
	if code == "" {
		code = p["error_code"] // downloadbill's numeric code, such as 20002
	}
	e.Code = ErrorCode(code)
	e.Message = p["err_code_des"]
	if e.Message == "" {
		e.Message = e.ReturnMsg
	}
	msg := strings.ToLower(e.ReturnMsg + " " + p["err_code_des"])
	switch {
	case e.Code == ErrCodeNoBillExist || strings.Contains(msg, "no bill exist"):
		e.Err = ErrNoBill
	case e.Code == ErrCodeBillCreating || strings.Contains(msg, "bill creating"):
		e.Err = ErrBillCreating
	case e.ReturnCode == "SUCCESS" && p["result_code"] != "FAIL":
		// XML that reports no failure is still not a bill.
		e.Err = ErrBillFormat
	}
	return e
}
