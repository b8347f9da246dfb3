package apiv3

import (
	"compress/gzip"
	"context"
	"crypto/sha1" // WeChat names SHA-1 as the bill's hash_type; it checks transfer integrity, TLS and the signed answer vouch for the value
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

var (
	epTradeBill    = endpoint{op: "tradebill", method: http.MethodGet, path: "/v3/bill/tradebill"}
	epFundFlowBill = endpoint{op: "fundflowbill", method: http.MethodGet, path: "/v3/bill/fundflowbill"}
)

// opBillDownload names the download of a bill file in errors and logs.
const opBillDownload = "billdownload"

// Limits of a bill download.
const (
	// MaxBillBytes caps a bill after decompression. A day's trade bill
	// of a very large merchant is some hundreds of megabytes; anything
	// past this is not a bill, and reading stops there.
	MaxBillBytes = 4 << 30
	// MaxBillCompressedBytes caps the bytes read from the network for one
	// bill, compressed or not: a gzip bill shrinks about tenfold, so this
	// is generous, and it bounds a peer that streams forever.
	MaxBillCompressedBytes = 2 << 30
	// BillTimeout bounds a whole bill download: a bill can take minutes
	// to stream, where every other call gets the client's HTTP timeout
	// (10 s by default). A deadline in ctx also applies.
	BillTimeout = 10 * time.Minute
)

// The caps, lowered by tests.
var (
	maxBillBytes           int64 = MaxBillBytes
	maxBillCompressedBytes int64 = MaxBillCompressedBytes
)

// maxBillErrorBytes bounds what is read of an error answer to a download:
// WeChat's JSON error objects are a few hundred bytes.
const maxBillErrorBytes = 64 << 10

// Bill download failures.
var (
	// ErrBillHash means the downloaded bill, decompressed, does not
	// have the SHA-1 the bill-apply answer gave (hash_value): it was
	// cut short, corrupted or replaced. Discard everything read of it and
	// apply for the bill again.
	ErrBillHash = wire.NewError("apiv3: ", "bill does not match its hash_value")
	// ErrBillTooLarge means the bill grew past [MaxBillBytes] once
	// decompressed, or past [MaxBillCompressedBytes] on the wire (a gzip
	// bomb, or a peer that never stops); reading stopped at the cap.
	ErrBillTooLarge = wire.NewError("apiv3: ", "bill larger than the cap")
	// ErrBillURL means a download_url is not on the client's WeChat host
	// (its base URL, or the failover host): the signed download request
	// is sent nowhere else, so it was not sent at all.
	ErrBillURL = wire.NewError("apiv3: ", "bill download_url is not on the client's WeChat host")
	// ErrBillAnswer means a verified bill-apply answer lacks a usable
	// download_url, or names a hash this package cannot check (only
	// SHA1, 40 hex digits, is documented).
	ErrBillAnswer = wire.NewError("apiv3: ", "bill-apply answer has no usable download_url or hash")
	// ErrBillFormat means a download asked for gzip is not gzip.
	ErrBillFormat = wire.NewError("apiv3: ", "bill file is not gzip")
)

// Documented error codes of the bill endpoints.
const (
	// ErrCodeNoStatementExist (400): no bill for that day (no trades,
	// more than three months ago, or not generated).
	ErrCodeNoStatementExist ErrorCode = "NO_STATEMENT_EXIST"
	// ErrCodeStatementCreating (400): the bill is being generated; try
	// after 10:00 (UTC+8) of the next day.
	ErrCodeStatementCreating ErrorCode = "STATEMENT_CREATING"
)

// TradeBillType is bill_type: which trades a trade bill lists.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012556654
type TradeBillType string

// Trade bill types.
const (
	TradeBillAll            TradeBillType = "ALL"             // every trade of the day (the default)
	TradeBillSuccess        TradeBillType = "SUCCESS"         // successful payments
	TradeBillRefund         TradeBillType = "REFUND"          // refunds
	TradeBillRechargeRefund TradeBillType = "RECHARGE_REFUND" // refunds of pre-funded coupons
	TradeBillAllSpecial     TradeBillType = "ALL_SPECIAL"     // every trade, for special industries
	TradeBillSucSpecial     TradeBillType = "SUC_SPECIAL"     // successful payments, for special industries
	TradeBillRefSpecial     TradeBillType = "REF_SPECIAL"     // refunds, for special industries
)

// TradeBillRequest names a day's trade bill for [Client.TradeBill].
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012556654
type TradeBillRequest struct {
	// BillDate is the day, "2006-01-02" in UTC+8. Bills are ready from
	// about 10:00 the next day and kept for three months. Required.
	BillDate string
	// BillType selects the trades; empty means [TradeBillAll].
	BillType TradeBillType
	// Gzip asks WeChat for the file gzip-compressed (tar_type GZIP),
	// about a tenth of the size on the wire. The download is gunzipped
	// either way: the caller always reads the bill itself.
	Gzip bool
}

// FundFlowAccountType is account_type: which account a fund-flow bill
// covers.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_7.shtml
type FundFlowAccountType string

// Fund-flow accounts.
const (
	FundFlowBasic     FundFlowAccountType = "BASIC"     // 基本账户 (the default)
	FundFlowOperation FundFlowAccountType = "OPERATION" // 运营账户
	FundFlowFees      FundFlowAccountType = "FEES"      // 手续费账户
)

// FundFlowBillRequest names a day's fund-flow bill for
// [Client.FundFlowBill].
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_7.shtml
type FundFlowBillRequest struct {
	// BillDate is the day, "2006-01-02" in UTC+8. Required.
	BillDate string
	// AccountType is the account; empty means [FundFlowBasic].
	AccountType FundFlowAccountType
	// Gzip asks for the file gzip-compressed, as in [TradeBillRequest].
	Gzip bool
}

// Bill is WeChat's answer to a bill application: where to download the
// file and the hash it must have. Download it at once (the URL is valid
// for five minutes) with [Client.DownloadBillFile], [Client.DownloadBill]
// or [Client.OpenBill]; each checks the hash before it reports the bill
// complete.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012556654
type Bill struct {
	// HashType is the hash algorithm, "SHA1".
	HashType string
	// HashValue is the hash of the bill, decompressed, in hex.
	HashValue string
	// DownloadURL is the file's address, on WeChat's API host, with a
	// short-lived token.
	DownloadURL string
	// Gzip reports that the file was asked for gzip-compressed.
	Gzip bool
}

// billAnswer is the wire form of a bill-apply answer.
type billAnswer struct {
	HashType    string `json:"hash_type"`
	HashValue   string `json:"hash_value"`
	DownloadURL string `json:"download_url"`
}

// TradeBill applies for a day's trade bill (申请交易账单) and returns where
// to download it. The answer is signed like any other; the file is not,
// and is checked against the hash given here.
//
// Errors: a [*RequestError] before any I/O for a missing or malformed
// date or an unknown bill type; an [*Error] with
// [ErrCodeNoStatementExist] when the day has no bill,
// [ErrCodeStatementCreating] when it is not ready, PARAM_ERROR,
// SIGN_ERROR or SYSTEM_ERROR; [ErrBillAnswer] for an answer without a
// usable download_url or hash.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012556654
func (c *Client) TradeBill(ctx context.Context, req *TradeBillRequest) (*Bill, error) {
	if req == nil {
		return nil, &RequestError{Op: epTradeBill.op, Field: "request", Reason: "is nil"}
	}
	return c.applyDay(ctx, epTradeBill, req.BillDate, req.Gzip, func(q url.Values) error {
		switch req.BillType {
		case "":
		case TradeBillAll, TradeBillSuccess, TradeBillRefund, TradeBillRechargeRefund,
			TradeBillAllSpecial, TradeBillSucSpecial, TradeBillRefSpecial:
			q.Set("bill_type", string(req.BillType))
		default:
			return &RequestError{Op: epTradeBill.op, Field: "bill_type",
				Reason: "must be ALL, SUCCESS, REFUND, RECHARGE_REFUND, ALL_SPECIAL, SUC_SPECIAL or REF_SPECIAL"}
		}
		return nil
	})
}

// FundFlowBill applies for a day's fund-flow bill of one account
// (申请资金账单), like [Client.TradeBill].
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_7.shtml
func (c *Client) FundFlowBill(ctx context.Context, req *FundFlowBillRequest) (*Bill, error) {
	if req == nil {
		return nil, &RequestError{Op: epFundFlowBill.op, Field: "request", Reason: "is nil"}
	}
	return c.applyDay(ctx, epFundFlowBill, req.BillDate, req.Gzip, func(q url.Values) error {
		switch req.AccountType {
		case "":
		case FundFlowBasic, FundFlowOperation, FundFlowFees:
			q.Set("account_type", string(req.AccountType))
		default:
			return &RequestError{Op: epFundFlowBill.op, Field: "account_type", Reason: "must be BASIC, OPERATION or FEES"}
		}
		return nil
	})
}

// applyDay checks and builds the query of one day's bill on ep
// (bill_date, what set adds, tar_type when gz), in the order both bill
// endpoints always checked them, and applies for it.
func (c *Client) applyDay(ctx context.Context, ep endpoint, date string, gz bool, set func(url.Values) error) (*Bill, error) {
	if err := checkBillDate(ep.op, date); err != nil {
		return nil, err
	}
	q := url.Values{"bill_date": {date}}
	if err := set(q); err != nil {
		return nil, err
	}
	if gz {
		q.Set("tar_type", "GZIP")
	}
	return c.applyBill(ctx, ep, q, gz)
}

// checkBillDate refuses anything but a calendar date written 2006-01-02.
func checkBillDate(op, s string) error {
	if s == "" {
		return &RequestError{Op: op, Field: "bill_date", Reason: "is required"}
	}
	if _, err := time.Parse("2006-01-02", s); err != nil || len(s) != 10 {
		return &RequestError{Op: op, Field: "bill_date", Reason: "must be a calendar date written YYYY-MM-DD"}
	}
	return nil
}

func (c *Client) applyBill(ctx context.Context, ep endpoint, q url.Values, gz bool) (*Bill, error) {
	r, err := newRequest(ep, nil, q, nil)
	if err != nil {
		return nil, err
	}
	var a billAnswer
	if _, err := c.call(ctx, r, &a); err != nil {
		return nil, err
	}
	return a.bill(ep.op, gz)
}

// bill checks a decoded bill-apply answer.
func (a *billAnswer) bill(op string, gz bool) (*Bill, error) {
	if a.DownloadURL == "" || !strings.EqualFold(a.HashType, "SHA1") || !isSHA1Hex(a.HashValue) {
		return nil, &opError{op, ErrBillAnswer}
	}
	return &Bill{HashType: a.HashType, HashValue: a.HashValue, DownloadURL: a.DownloadURL, Gzip: gz}, nil
}

func isSHA1Hex(s string) bool {
	if len(s) != 2*sha1.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// BillStream is a bill being downloaded: the bill's bytes, decompressed,
// as they arrive, hashed on the way. Read returns io.EOF only once the
// whole bill has arrived and matched its hash_value; a bill that does
// not match ends with [ErrBillHash] instead, one past the cap with
// [ErrBillTooLarge], one cut short with the transport's error. So
// nothing read from a BillStream is known to be the bill until Read has
// returned io.EOF: buffer or stage what is read, and act on it only
// then. [Client.DownloadBillFile] does exactly that.
//
// A BillStream is not safe for concurrent use. Close it.
type BillStream struct {
	body io.ReadCloser
	src  io.Reader
	h    hash.Hash
	want []byte
	n    int64
	err  error // sticky: io.EOF once verified
}

// Read reads decompressed bill bytes; see [BillStream].
func (s *BillStream) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.src.Read(p)
	if n > 0 {
		if s.n+int64(n) > maxBillBytes {
			s.err = &opError{opBillDownload, ErrBillTooLarge}
			return 0, s.err
		}
		s.n += int64(n)
		s.h.Write(p[:n])
	}
	switch {
	case err == io.EOF:
		if subtle.ConstantTimeCompare(s.h.Sum(nil), s.want) != 1 {
			s.err = &opError{opBillDownload, ErrBillHash}
			return n, s.err
		}
		s.err = io.EOF
	case err != nil:
		if !errors.Is(err, ErrBillTooLarge) {
			err = &opError{opBillDownload, wire.RedactURL(err)}
		}
		s.err = err
	}
	return n, err
}

// Len returns how many bill bytes (decompressed) have been read.
func (s *BillStream) Len() int64 { return s.n }

// Close ends the download, and frees the connection.
func (s *BillStream) Close() error { return s.body.Close() }

// cappedReader fails with ErrBillTooLarge once more than max bytes come
// from the network.
type cappedReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		return 0, &opError{opBillDownload, ErrBillTooLarge}
	}
	return n, err
}

// OpenBill starts downloading b and returns the stream of the bill's
// bytes, gunzipped when b.Gzip; see [BillStream] for when they may be
// trusted. The request is signed like every other; the answer is not
// signed (WeChat does not sign bill files), which is why the hash is
// checked instead.
//
// The download URL must be on the client's WeChat host (the base URL's
// scheme and host, or the failover host): otherwise nothing is sent and
// the error is [ErrBillURL], since a signed request must never go
// elsewhere. Redirects are never followed. An error answer becomes an
// [*Error] (a bounded prefix of it is read).
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_8.shtml
func (c *Client) OpenBill(ctx context.Context, b *Bill) (*BillStream, error) {
	if b == nil {
		return nil, &RequestError{Op: opBillDownload, Field: "bill", Reason: "is nil"}
	}
	want, err := hex.DecodeString(b.HashValue)
	if err != nil || len(want) != sha1.Size || !strings.EqualFold(b.HashType, "SHA1") {
		return nil, &RequestError{Op: opBillDownload, Field: "hash_value", Reason: "must be a SHA1 hash in hex (hash_type SHA1), as TradeBill returns"}
	}
	u, err := c.billURL(b.DownloadURL)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &opError{opBillDownload, ErrBillURL}
	}
	auth, err := c.authorization(http.MethodGet, req.URL.RequestURI(), nil)
	if err != nil {
		return nil, &opError{opBillDownload, err}
	}
	h := req.Header
	h["Authorization"] = []string{auth}
	h["Accept"] = []string{"*/*"}
	h["User-Agent"] = []string{c.userAgent}
	// The bytes as WeChat sent them: net/http's transparent gunzip would
	// hide the compressed size from the cap.
	h["Accept-Encoding"] = []string{"identity"}
	hc := *c.hc
	if hc.Timeout > 0 && hc.Timeout < BillTimeout {
		hc.Timeout = BillTimeout
	}
	resp, _, err := wire.Do(&hc, req)
	if err != nil {
		return nil, &opError{opBillDownload, wire.RedactURL(err)}
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, c.billFail(ctx, resp)
	}
	s, err := newBillStream(resp.Body, b.Gzip, want)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	return s, nil
}

// newBillStream reads the bill in body (gzip when gz), to be checked
// against the SHA-1 want. It reads the gzip header, if any, and nothing
// more.
func newBillStream(body io.ReadCloser, gz bool, want []byte) (*BillStream, error) {
	capped := &cappedReader{r: body, max: maxBillCompressedBytes}
	s := &BillStream{body: body, src: capped, h: sha1.New(), want: want}
	if gz {
		zr, err := gzip.NewReader(capped)
		if err != nil {
			if errors.Is(err, ErrBillTooLarge) {
				return nil, err
			}
			if errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, &opError{opBillDownload, ErrBillFormat}
			}
			return nil, &opError{opBillDownload, wire.RedactURL(err)}
		}
		s.src = zr
	}
	return s, nil
}

// billURL checks that raw is an https (or, for a test server, the base
// URL's) address on the client's WeChat host.
func (c *Client) billURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Fragment != "" || u.Opaque != "" || u.Host == "" {
		return nil, &opError{opBillDownload, ErrBillURL}
	}
	for _, base := range []string{c.baseURL, c.backup} {
		if base == "" {
			continue
		}
		bu, err := url.Parse(base)
		if err != nil {
			continue
		}
		if u.Scheme == bu.Scheme && strings.EqualFold(u.Host, bu.Host) {
			return u, nil
		}
	}
	return nil, &opError{opBillDownload, ErrBillURL}
}

// billFail turns an error answer to a download into an *Error. A signed
// one is verified first, like every signed answer.
func (c *Client) billFail(ctx context.Context, resp *http.Response) error {
	body, err := wire.ReadAll(resp.Body, maxBillErrorBytes)
	e := &Error{Op: opBillDownload, StatusCode: resp.StatusCode, RequestID: wire.OneLine(resp.Header.Get(HeaderRequestID))}
	if err != nil {
		if errors.Is(err, wire.ErrTooLarge) {
			err = ErrResponseTooLarge
		}
		e.Err = err
		return e
	}
	if resp.Header.Get(HeaderSignature) != "" {
		if err := c.verifySignature(ctx, resp.Header, body); err != nil {
			return &opError{opBillDownload, err}
		}
		e.Verified = true
	}
	e.decodeBody(body)
	return e
}

// DownloadBill streams the bill b to w and returns the number of bytes
// written (decompressed). It returns nil only once the bill has arrived
// whole and matched its hash_value; on any error — [ErrBillHash],
// [ErrBillTooLarge], a broken connection — w may hold part of the bill,
// or a bill that is not WeChat's, and must be discarded.
// [Client.DownloadBillFile] does that for a file.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_8.shtml
func (c *Client) DownloadBill(ctx context.Context, b *Bill, w io.Writer) (int64, error) {
	if w == nil {
		return 0, &RequestError{Op: opBillDownload, Field: "writer", Reason: "is nil"}
	}
	s, err := c.OpenBill(ctx, b)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	// io.Copy returns nil at io.EOF, which the stream gives only after
	// the hash matched.
	n, err := io.Copy(w, s)
	if err != nil && s.err == nil {
		// The writer failed.
		err = &opError{opBillDownload, err}
	}
	return n, err
}

// DownloadBillFile downloads the bill b into the file path, which
// appears only once the bill has arrived whole and matched its
// hash_value: it is written to a temporary file in the same directory,
// synced, checked, and only then renamed to path (replacing any file
// there). On any error the temporary file is removed and path is left as
// it was, so a program that finds the file may trust it. Read its rows
// with the root package's wxpay.NewBillReader: the v3 bill's layout is
// v2's.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_8.shtml
func (c *Client) DownloadBillFile(ctx context.Context, b *Bill, path string) (int64, error) {
	if path == "" {
		return 0, &RequestError{Op: opBillDownload, Field: "path", Reason: "is empty"}
	}
	s, err := c.OpenBill(ctx, b)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return 0, &opError{opBillDownload, err}
	}
	tmp := f.Name()
	n, err := io.Copy(f, s)
	if err != nil && s.err == nil {
		err = &opError{opBillDownload, err}
	}
	if err == nil {
		if serr := f.Sync(); serr != nil {
			err = &opError{opBillDownload, serr}
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = &opError{opBillDownload, cerr}
	}
	if err == nil {
		if rerr := os.Rename(tmp, path); rerr != nil {
			err = &opError{opBillDownload, rerr}
		}
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, err
	}
	return n, nil
}
