package wxpay

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The merchant of the official signing example (protocol.md §2.2), which
// the S1/S2 vectors use.
const (
	ntAppID  = "wxd930ea5d5a258f4f"
	ntMchID  = "10000100"
	ntAPIKey = "192006250b4c09247ec02edce69f6a2d"
)

// The exact replies WeChat expects, written out here rather than taken
// from the package so that a change to them fails a test.
const (
	ntReplySuccess = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
	ntReplyInvalid = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[invalid notification]]></return_msg></xml>"
	ntReplyFailed  = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[processing failed]]></return_msg></xml>"
	ntReplyMethod  = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[method not allowed]]></return_msg></xml>"
	ntReplyLarge   = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[body too large]]></return_msg></xml>"
)

func ntClient(tb testing.TB, st SignType, opts ...Option) *Client {
	tb.Helper()
	c, err := NewClient(Config{AppID: ntAppID, MchID: ntMchID, APIKey: ntAPIKey, SignType: st}, opts...)
	require.NoError(tb, err)
	return c
}

func ntFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "notify", name))
	require.NoError(tb, err)
	return b
}

// ntS1Params returns the fields of the S1 vector, without sign.
func ntS1Params(tb testing.TB) Params {
	tb.Helper()
	p, err := DecodeXML(ntFixture(tb, "s1_md5.xml"))
	require.NoError(tb, err)
	delete(p, "sign")
	return p
}

// ntSigned signs p with c's signer (replacing any sign) and encodes it.
func ntSigned(tb testing.TB, c *Client, p Params) []byte {
	tb.Helper()
	q := make(Params, len(p)+1)
	for k, v := range p {
		q[k] = v
	}
	delete(q, "sign")
	// Signed with the plain definition, not the signer under test.
	if c.Signer().Type() == SignHMACSHA256 {
		q["sign"] = hmacUpper(ntAPIKey, canonical(q, ntAPIKey))
	} else {
		q["sign"] = md5Upper(canonical(q, ntAPIKey))
	}
	return ntEncode(tb, q)
}

func ntEncode(tb testing.TB, p Params) []byte {
	tb.Helper()
	b, err := EncodeXML(p)
	require.NoError(tb, err)
	return b
}

// with returns a copy of p with the given name/value pairs set; a value
// of "\x00" deletes the field.
func ntWith(p Params, kv ...string) Params {
	q := make(Params, len(p))
	for k, v := range p {
		q[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "\x00" {
			delete(q, kv[i])
			continue
		}
		q[kv[i]] = kv[i+1]
	}
	return q
}

// ntS1Want is the typed form of the S1 vector, written from protocol.md §11.
func ntS1Want() Notification {
	return Notification{
		AppID: ntAppID,
		MchID: ntMchID,
		Payment: Payment{
			OpenID:             "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
			IsSubscribe:        false,
			TradeType:          TradeJSAPI,
			BankType:           "CMC",
			TotalFee:           100,
			SettlementTotalFee: NullFen{90, true},
			CashFee:            NullFen{80, true},
			CouponFee:          NullFen{20, true},
			FeeType:            FeeCNY,
			Coupons: []Coupon{
				{ID: "10000", Type: CouponCash, Fee: 10},
				{ID: "10001", Type: CouponNoCash, Fee: 10},
			},
			TransactionID: "1004400740201409030005092168",
			OutTradeNo:    "1409811653",
			Attach:        "支付测试",
			TimeEnd:       time.Date(2014, 10, 30, 13, 35, 25, 0, time.FixedZone("UTC+8", 8*3600)),
		},
		ResultCode: "SUCCESS",
	}
}

var ntIgnoreRaw = cmpopts.IgnoreFields(Notification{}, "Raw")

func TestParseNotificationVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file     string
		st       SignType
		sign     string
		signType string
	}{
		{"s1_md5.xml", SignMD5, "A00744A890852A2FA7B302F5C76762B6", ""},
		{"s1_hmac.xml", SignHMACSHA256, "33C43885A31D1D67D483FEA459A1644D5372626519B75D6EA56F37112DEA43E3", ""},
		{"s2_hmac_sign_type.xml", SignHMACSHA256, "4FC7D95D5DA33E9308FE819BBC5866F25EE1D9C48E56C76C6CACDBF6C09A3264", "HMAC-SHA256"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			c := ntClient(t, tt.st)
			n, err := c.ParseNotification(ntFixture(t, tt.file))
			require.NoError(t, err)
			want := ntS1Want()
			if diff := cmp.Diff(&want, n, ntIgnoreRaw); diff != "" {
				t.Errorf("ParseNotification mismatch (-want +got):\n%s", diff)
			}
			assert.True(t, n.Paid())
			assert.True(t, n.TimeEnd.Equal(time.Date(2014, 10, 30, 5, 35, 25, 0, time.UTC)), "time_end is UTC+8")
			// Raw keeps every received field, sign included.
			assert.Equal(t, tt.sign, n.Raw["sign"])
			assert.Equal(t, tt.signType, n.Raw["sign_type"])
			wantLen := 26
			if tt.signType != "" {
				wantLen++
			}
			assert.Len(t, n.Raw, wantLen)
		})
	}
}

// The vectors must be refused by a client configured with the other
// algorithm: the configured sign type decides (protocol.md §5.3).
func TestParseNotificationVectorsOtherSignType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		st   SignType
		want error
	}{
		{"s1_md5.xml", SignHMACSHA256, ErrSignature},
		{"s1_hmac.xml", SignMD5, ErrSignature},
		{"s2_hmac_sign_type.xml", SignMD5, ErrSignType},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			_, err := ntClient(t, tt.st).ParseNotification(ntFixture(t, tt.file))
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

// ntBadCase is an input every notification entry point must refuse.
type ntBadCase struct {
	name   string
	body   []byte
	is     error     // errors.Is target, if any
	field  string    // FieldError.Field, if any
	op     string    // *Error Op, if the error is a FAIL answer
	reason XMLReason // XMLError.Reason, if any
}

func (bc ntBadCase) check(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	if bc.is != nil {
		assert.ErrorIs(t, err, bc.is)
	}
	if bc.field != "" {
		var fe *FieldError
		if assert.ErrorAs(t, err, &fe) {
			assert.Equal(t, bc.field, fe.Field)
		}
	}
	if bc.op != "" {
		var we *Error
		if assert.ErrorAs(t, err, &we) {
			assert.Equal(t, bc.op, we.Op)
			assert.Equal(t, "FAIL", we.ReturnCode)
		}
	}
	if bc.reason != 0 {
		var xe *XMLError
		if assert.ErrorAs(t, err, &xe) {
			assert.Equal(t, bc.reason, xe.Reason)
		}
	}
	assert.True(t, strings.HasPrefix(err.Error(), "wxpay: "), "error text %q", err)
	assert.NotContains(t, err.Error(), ntAPIKey)
}

// ntBadNotifications are bodies an MD5 client with the test merchant must
// refuse. Most are S1 with one change, re-signed with the right key where
// the point is that a valid signature alone is not enough.
func ntBadNotifications(tb testing.TB) []ntBadCase {
	tb.Helper()
	c := ntClient(tb, SignMD5)
	s1 := ntS1Params(tb)
	good := ntFixture(tb, "s1_md5.xml")
	const goodSign = "A00744A890852A2FA7B302F5C76762B6"
	resign := func(kv ...string) []byte { return ntSigned(tb, c, ntWith(s1, kv...)) }

	otherKey, err := NewSigner("0123456789abcdef0123456789abcdef", SignMD5)
	require.NoError(tb, err)
	foreign := ntWith(s1)
	foreign["sign"] = otherKey.Sign(foreign)

	hmacSigner, err := NewSigner(ntAPIKey, SignHMACSHA256)
	require.NoError(tb, err)
	downgrade := ntWith(s1, "sign_type", "HMAC-SHA256")
	downgrade["sign"] = hmacSigner.Sign(downgrade)

	// The JSAPI pay parameters (protocol.md §8.1) are signed with the same
	// key by the same algorithm, but are no notification.
	jsapi := Params{
		"appId":     ntAppID,
		"nonceStr":  "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
		"package":   "prepay_id=wx201410272009395522657a690389285100",
		"signType":  "MD5",
		"timeStamp": "1412000000",
	}
	jsapiPaySign := ntWith(jsapi, "paySign", c.Signer().Sign(jsapi))
	// A closeorder answer: signed, SUCCESS, our merchant, but no payment.
	closeOrder := Params{
		"return_code": "SUCCESS", "return_msg": "OK", "appid": ntAppID, "mch_id": ntMchID,
		"nonce_str": "BFK89FC6rxKCOjLX", "result_code": "SUCCESS", "result_msg": "OK",
	}

	cases := []ntBadCase{
		{name: "empty body", body: nil, is: ErrXML, reason: XMLEmpty},
		{name: "not xml", body: []byte("return_code=SUCCESS&total_fee=1"), is: ErrXML},
		{name: "missing sign", body: ntEncode(tb, s1), is: ErrMissingSign},
		{name: "empty sign", body: ntEncode(tb, ntWith(s1, "sign", "")), is: ErrMissingSign},
		{name: "flipped sign", body: bytes.Replace(good, []byte(goodSign), []byte("A00744A890852A2FA7B302F5C76762B7"), 1), is: ErrSignature},
		{name: "lowercase sign", body: bytes.Replace(good, []byte(goodSign), []byte(strings.ToLower(goodSign)), 1), is: ErrSignature},
		{name: "truncated sign", body: bytes.Replace(good, []byte(goodSign), []byte(goodSign[:31]), 1), is: ErrSignature},
		{name: "sign of another key", body: ntEncode(tb, foreign), is: ErrSignature},
		{name: "stale sign after changed amount", body: bytes.Replace(good, []byte("<total_fee>100<"), []byte("<total_fee>1<"), 1), is: ErrSignature},
		{name: "stale sign after added field", body: ntEncode(tb, ntWith(s1, "sign", goodSign, "device_info", "x")), is: ErrSignature},
		{name: "sign_type other than configured", body: ntEncode(tb, downgrade), is: ErrSignType},
		{name: "sign_type unknown", body: resign("sign_type", "SHA1"), is: ErrSignType},
		{name: "wrong appid", body: resign("appid", "wx0000000000000000"), is: ErrMerchant},
		{name: "wrong mch_id", body: resign("mch_id", "10000101"), is: ErrMerchant},
		{name: "missing appid", body: resign("appid", "\x00"), is: ErrMerchant},
		{name: "return_code FAIL", body: ntEncode(tb, Params{"return_code": "FAIL", "return_msg": "签名失败"}), op: "notify"},
		{name: "return_code FAIL signed", body: resign("return_code", "FAIL"), op: "notify"},
		{name: "return_code missing", body: resign("return_code", "\x00"), is: ErrMissingField, field: "return_code"},
		{name: "missing out_trade_no", body: resign("out_trade_no", "\x00"), is: ErrMissingField, field: "out_trade_no"},
		{name: "missing transaction_id", body: resign("transaction_id", "\x00"), is: ErrMissingField, field: "transaction_id"},
		{name: "missing total_fee", body: resign("total_fee", "\x00"), is: ErrMissingField, field: "total_fee"},
		{name: "missing result_code", body: resign("result_code", "\x00"), is: ErrMissingField, field: "result_code"},
		{name: "empty total_fee", body: resign("total_fee", ""), is: ErrMissingField, field: "total_fee"},
		{name: "total_fee 0100", body: resign("total_fee", "0100"), is: ErrAmount, field: "total_fee"},
		{name: "total_fee +1", body: resign("total_fee", "+1"), is: ErrAmount, field: "total_fee"},
		{name: "total_fee -1", body: resign("total_fee", "-1"), is: ErrAmount, field: "total_fee"},
		{name: "total_fee 1e2", body: resign("total_fee", "1e2"), is: ErrAmount, field: "total_fee"},
		{name: "total_fee leading space", body: resign("total_fee", " 1"), is: ErrAmount, field: "total_fee"},
		{name: "total_fee trailing space", body: resign("total_fee", "1 "), is: ErrAmount, field: "total_fee"},
		{name: "total_fee decimal", body: resign("total_fee", "1.00"), is: ErrAmount, field: "total_fee"},
		{name: "total_fee overflow", body: resign("total_fee", "9999999999999999999"), is: ErrAmount, field: "total_fee"},
		{name: "orderquery answer for unpaid order", body: resign("trade_state", "NOTPAY"), field: "trade_state"},
		{name: "jsapi pay params with paySign", body: ntEncode(tb, jsapiPaySign), is: ErrMissingField, field: "return_code"},
		{name: "jsapi pay params signed as a message", body: ntSigned(tb, c, ntWith(jsapi, "return_code", "SUCCESS", "appid", ntAppID, "mch_id", ntMchID)), is: ErrMissingField, field: "result_code"},
		{name: "closeorder answer", body: ntSigned(tb, c, closeOrder), is: ErrMissingField, field: "out_trade_no"},
		{name: "duplicate field", body: bytes.Replace(good, []byte("<total_fee>100</total_fee>"), []byte("<total_fee>100</total_fee><total_fee>1</total_fee>"), 1), is: ErrXML, reason: XMLDuplicate},
		{name: "duplicate sign", body: bytes.Replace(good, []byte("</xml>"), []byte("<sign>"+goodSign+"</sign></xml>"), 1), is: ErrXML, reason: XMLDuplicate},
		{name: "doctype", body: append([]byte(`<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>`), good...), is: ErrXML, reason: XMLDoctype},
		{name: "nested element", body: bytes.Replace(good, []byte("<total_fee>100</total_fee>"), []byte("<total_fee><v>100</v></total_fee>"), 1), is: ErrXML, reason: XMLNested},
		{name: "trailing document", body: append(append([]byte{}, good...), good...), is: ErrXML, reason: XMLTrailing},
		{name: "wrong root", body: bytes.ReplaceAll(good, []byte("xml>"), []byte("root>")), is: ErrXML, reason: XMLRoot},
	}
	return cases
}

// TestParseNotificationLenient: once the sign, the merchant and the
// fields a merchant acts on hold, a notification is accepted, and fields
// nobody acts on that are missing or malformed read as absent (and are
// named in Unparsed) instead of making WeChat retry a genuine payment.
func TestParseNotificationLenient(t *testing.T) {
	t.Parallel()
	c := ntClient(t, SignMD5)
	s1 := ntS1Params(t)
	tests := []struct {
		name     string
		kv       []string
		unparsed []string
	}{
		{"missing cash_fee", []string{"cash_fee", "\x00"}, nil},
		{"missing time_end when paid", []string{"time_end", "\x00"}, nil},
		{"cash_fee 080", []string{"cash_fee", "080"}, []string{"cash_fee"}},
		{"settlement_total_fee -90", []string{"settlement_total_fee", "-90"}, []string{"settlement_total_fee"}},
		{"coupon_fee 2e1", []string{"coupon_fee", "2e1"}, []string{"coupon_fee"}},
		{"coupon_fee_1 +10", []string{"coupon_fee_1", "+10"}, []string{"coupon_count"}},
		{"coupon_count beyond fields", []string{"coupon_count", "3"}, []string{"coupon_count"}},
		{"time_end malformed", []string{"time_end", "2014-10-30 13:35:25"}, []string{"time_end"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := c.ParseNotification(ntSigned(t, c, ntWith(s1, tt.kv...)))
			require.NoError(t, err)
			assert.Equal(t, tt.unparsed, n.Unparsed)
			assert.Equal(t, int64(100), n.TotalFee)
			assert.True(t, n.Paid())
		})
	}
}

func TestParseNotificationRejects(t *testing.T) {
	t.Parallel()
	c := ntClient(t, SignMD5)
	for _, bc := range ntBadNotifications(t) {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			n, err := c.ParseNotification(bc.body)
			assert.Nil(t, n)
			bc.check(t, err)
		})
	}
}

func TestParseNotificationHugeBody(t *testing.T) {
	t.Parallel()
	body := append([]byte("<xml><attach>"), bytes.Repeat([]byte("a"), 10<<20)...)
	body = append(body, "</attach></xml>"...)
	_, err := ntClient(t, SignMD5).ParseNotification(body)
	var xe *XMLError
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, XMLTooLarge, xe.Reason)
}

// WeChat adds fields over time; they are signed and must verify (the
// WxJava WxPayOrderNotifyUnknownFieldTest regression). The bodies are
// signed with the plain definition of the signature (ntSigned), not with
// the signer under test.
func TestParseNotificationExtensions(t *testing.T) {
	t.Parallel()
	for _, st := range []SignType{SignMD5, SignHMACSHA256} {
		t.Run(string(st), func(t *testing.T) {
			t.Parallel()
			c := ntClient(t, st)
			p := ntWith(ntS1Params(t),
				"promotion_detail", `{"promotion_detail":[{"promotion_id":"109519","amount":5}]}`,
				"zz_future_field", "x&y<z>",
				"sub_mch_id", "1900000109",
				"device_info", "013467007045764",
				"is_subscribe", "Y")
			n, err := c.ParseNotification(ntSigned(t, c, p))
			require.NoError(t, err)
			assert.Equal(t, "x&y<z>", n.Raw["zz_future_field"])
			assert.Equal(t, `{"promotion_detail":[{"promotion_id":"109519","amount":5}]}`, n.Raw["promotion_detail"])
			assert.Equal(t, "013467007045764", n.DeviceInfo)
			assert.True(t, n.IsSubscribe)
		})
	}
}

func TestParseNotificationManyCoupons(t *testing.T) {
	t.Parallel()
	c := ntClient(t, SignMD5)
	const count = 12 // past the 0–2 some SDKs hard-code, and past one digit
	p := ntWith(ntS1Params(t), "coupon_count", strconv.Itoa(count), "coupon_fee", strconv.Itoa(count), "cash_fee", "88")
	var want []Coupon
	for i := 0; i < count; i++ {
		idx := strconv.Itoa(i)
		p["coupon_id_"+idx] = "2000" + idx
		p["coupon_fee_"+idx] = "1"
		typ := CouponCash
		if i%2 == 1 {
			typ = CouponNoCash
		}
		if i == 5 {
			typ = "" // WeChat sometimes omits coupon_type_$n
			delete(p, "coupon_type_"+idx)
		} else {
			p["coupon_type_"+idx] = string(typ)
		}
		want = append(want, Coupon{ID: "2000" + idx, Type: typ, Fee: 1})
	}
	n, err := c.ParseNotification(ntSigned(t, c, p))
	require.NoError(t, err)
	if diff := cmp.Diff(want, n.Coupons); diff != "" {
		t.Errorf("coupons (-want +got):\n%s", diff)
	}
	assert.Equal(t, NullFen{count, true}, n.CouponFee)
	assert.Equal(t, NullFen{88, true}, n.CashFee)
}

func TestParseNotificationVariants(t *testing.T) {
	t.Parallel()
	c := ntClient(t, SignMD5)
	s1 := ntS1Params(t)
	t.Run("sign_type MD5 present", func(t *testing.T) {
		t.Parallel()
		n, err := c.ParseNotification(ntSigned(t, c, ntWith(s1, "sign_type", "MD5")))
		require.NoError(t, err)
		assert.Equal(t, "MD5", n.Raw["sign_type"])
	})
	t.Run("no coupons, optional amounts absent", func(t *testing.T) {
		t.Parallel()
		p := ntWith(s1, "coupon_count", "\x00", "coupon_fee", "\x00", "settlement_total_fee", "\x00",
			"coupon_fee_0", "\x00", "coupon_fee_1", "\x00", "coupon_id_0", "\x00", "coupon_id_1", "\x00",
			"coupon_type_0", "\x00", "coupon_type_1", "\x00", "cash_fee", "100", "attach", "\x00")
		n, err := c.ParseNotification(ntSigned(t, c, p))
		require.NoError(t, err)
		assert.Nil(t, n.Coupons)
		assert.False(t, n.CouponFee.Valid)
		assert.False(t, n.SettlementTotalFee.Valid)
		assert.Equal(t, NullFen{100, true}, n.CashFee)
		assert.Empty(t, n.Attach)
	})
	t.Run("result_code FAIL is genuine but not paid", func(t *testing.T) {
		t.Parallel()
		p := ntWith(s1, "result_code", "FAIL", "err_code", "BANKERROR", "err_code_des", "银行系统异常", "time_end", "\x00")
		n, err := c.ParseNotification(ntSigned(t, c, p))
		require.NoError(t, err)
		assert.False(t, n.Paid())
		assert.Equal(t, ErrCodeBankError, n.ErrCode)
		assert.Equal(t, "银行系统异常", n.ErrCodeDes)
		assert.True(t, n.TimeEnd.IsZero())
	})
	t.Run("trade_state SUCCESS tolerated", func(t *testing.T) {
		t.Parallel()
		_, err := c.ParseNotification(ntSigned(t, c, ntWith(s1, "trade_state", "SUCCESS")))
		require.NoError(t, err)
	})
	t.Run("zero amount is canonical", func(t *testing.T) {
		t.Parallel()
		n, err := c.ParseNotification(ntSigned(t, c, ntWith(s1, "coupon_fee", "0")))
		require.NoError(t, err)
		assert.Equal(t, NullFen{0, true}, n.CouponFee, "a present zero is not absent")
	})
	t.Run("unknown result_code is not paid", func(t *testing.T) {
		t.Parallel()
		n, err := c.ParseNotification(ntSigned(t, c, ntWith(s1, "result_code", "success")))
		require.NoError(t, err)
		assert.False(t, n.Paid())
	})
}

// serve runs one request through h and counts nothing itself.
func ntServe(h http.Handler, method string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/wxpay/notify", bytes.NewReader(body))
	r.Header.Set("Content-Type", "text/xml")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func ntAssertReply(t *testing.T, w *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	assert.Equal(t, status, w.Code)
	assert.Equal(t, body, w.Body.String())
	assert.Equal(t, "text/xml; charset=utf-8", w.Header().Get("Content-Type"))
}

func TestNotifyHandlerSuccess(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		file string
		st   SignType
	}{
		{"s1_md5.xml", SignMD5},
		{"s1_hmac.xml", SignHMACSHA256},
		{"s2_hmac_sign_type.xml", SignHMACSHA256},
	} {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			c := ntClient(t, tt.st)
			var calls atomic.Int32
			var got *Notification
			type ctxKey struct{}
			h := c.NotifyHandler(func(ctx context.Context, n *Notification) error {
				calls.Add(1)
				got = n
				assert.Equal(t, "req", ctx.Value(ctxKey{}), "fn gets the request's context")
				return nil
			})
			r := httptest.NewRequest(http.MethodPost, "/wxpay/notify", bytes.NewReader(ntFixture(t, tt.file)))
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, "req"))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			ntAssertReply(t, w, http.StatusOK, ntReplySuccess)
			require.Equal(t, int32(1), calls.Load())
			want := ntS1Want()
			if diff := cmp.Diff(&want, got, ntIgnoreRaw); diff != "" {
				t.Errorf("fn got (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotifyHandlerPassesFailNotification(t *testing.T) {
	t.Parallel()
	c := ntClient(t, SignMD5)
	var paid []bool
	h := c.NotifyHandler(func(_ context.Context, n *Notification) error {
		paid = append(paid, n.Paid())
		return nil
	})
	body := ntSigned(t, c, ntWith(ntS1Params(t), "result_code", "FAIL", "err_code", "BANKERROR", "time_end", "\x00"))
	ntAssertReply(t, ntServe(h, http.MethodPost, body), http.StatusOK, ntReplySuccess)
	assert.Equal(t, []bool{false}, paid)
}

func TestNotifyHandlerFnError(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	c := ntClient(t, SignMD5, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	var calls atomic.Int32
	h := c.NotifyHandler(func(context.Context, *Notification) error {
		calls.Add(1)
		return errors.New("database unavailable: host db-7 password hunter2")
	})
	w := ntServe(h, http.MethodPost, ntFixture(t, "s1_md5.xml"))
	ntAssertReply(t, w, http.StatusInternalServerError, ntReplyFailed)
	assert.Equal(t, int32(1), calls.Load())
	assert.NotContains(t, w.Body.String(), "database")
	// The reason reaches the operator's log, the key and sign do not.
	assert.Contains(t, logs.String(), "level=ERROR")
	assert.Contains(t, logs.String(), "database unavailable")
	assert.NotContains(t, logs.String(), ntAPIKey)
	assert.NotContains(t, logs.String(), "A00744A890852A2FA7B302F5C76762B6")
}

func TestNotifyHandlerRejects(t *testing.T) {
	t.Parallel()
	var logs ntLogBuffer
	c := ntClient(t, SignMD5, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	good := ntFixture(t, "s1_md5.xml")

	type reqCase struct {
		name   string
		method string
		body   []byte
		status int
		reply  string
	}
	var cases []reqCase
	for _, bc := range ntBadNotifications(t) {
		cases = append(cases, reqCase{bc.name, http.MethodPost, bc.body, http.StatusBadRequest, ntReplyInvalid})
	}
	huge := append([]byte("<xml><attach>"), bytes.Repeat([]byte("a"), 10<<20)...)
	justOver := append(bytes.Repeat([]byte(" "), MaxNotifyBytes+1-len(good)), good...)
	atLimit := append(bytes.Repeat([]byte(" "), MaxNotifyBytes-len(good)), good...)
	cases = append(cases,
		reqCase{"GET", http.MethodGet, nil, http.StatusMethodNotAllowed, ntReplyMethod},
		reqCase{"GET with a valid body", http.MethodGet, good, http.StatusMethodNotAllowed, ntReplyMethod},
		reqCase{"PUT with a valid body", http.MethodPut, good, http.StatusMethodNotAllowed, ntReplyMethod},
		reqCase{"HEAD", http.MethodHead, nil, http.StatusMethodNotAllowed, ntReplyMethod},
		reqCase{"10 MiB body", http.MethodPost, huge, http.StatusRequestEntityTooLarge, ntReplyLarge},
		reqCase{"valid body padded past the cap", http.MethodPost, justOver, http.StatusRequestEntityTooLarge, ntReplyLarge},
		reqCase{"valid body padded to the cap, wrong key", http.MethodPost, bytes.Replace(atLimit, []byte("A00744"), []byte("B00744"), 1), http.StatusBadRequest, ntReplyInvalid},
	)
	for _, rc := range cases {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			h := c.NotifyHandler(func(context.Context, *Notification) error {
				calls.Add(1)
				return nil
			})
			w := ntServe(h, rc.method, rc.body)
			ntAssertReply(t, w, rc.status, rc.reply)
			assert.Zero(t, calls.Load(), "fn must not be called")
			if rc.status == http.StatusMethodNotAllowed {
				assert.Equal(t, "POST", w.Header().Get("Allow"))
			}
		})
	}
	t.Run("body at the cap is read", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int32
		h := c.NotifyHandler(func(context.Context, *Notification) error { calls.Add(1); return nil })
		require.Len(t, atLimit, MaxNotifyBytes)
		ntAssertReply(t, ntServe(h, http.MethodPost, atLimit), http.StatusOK, ntReplySuccess)
		assert.Equal(t, int32(1), calls.Load())
	})
	t.Cleanup(func() {
		out := logs.String()
		assert.Contains(t, out, "level=WARN")
		assert.NotContains(t, out, ntAPIKey)
		assert.NotContains(t, out, "A00744A890852A2FA7B302F5C76762B6")
	})
}

func TestNotifyHandlerNilFunc(t *testing.T) {
	t.Parallel()
	c := ntClient(t, SignMD5)
	assert.PanicsWithValue(t, "wxpay: NotifyHandler: nil NotifyFunc", func() { c.NotifyHandler(nil) })
}

// ntLogBuffer is a bytes.Buffer safe for the parallel subtests' loggers.
type ntLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *ntLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *ntLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// FuzzParseNotification checks that ParseNotification never panics and
// never accepts a body whose sign does not verify over every field.
func FuzzParseNotification(f *testing.F) {
	for _, name := range []string{"s1_md5.xml", "s1_hmac.xml", "s2_hmac_sign_type.xml"} {
		f.Add(ntFixture(f, name))
	}
	for _, bc := range ntBadNotifications(f) {
		f.Add(bc.body)
	}
	// A genuine body with unsigned empty fields added: accepted, and the
	// empty fields dropped.
	f.Add(bytes.Replace(ntFixture(f, "s1_md5.xml"), []byte("</xml>"), []byte("<injected/><trade_state></trade_state></xml>"), 1))
	clients := map[SignType]*Client{SignMD5: ntClient(f, SignMD5), SignHMACSHA256: ntClient(f, SignHMACSHA256)}
	f.Fuzz(func(t *testing.T, body []byte) {
		for typ, c := range clients {
			n, err := c.ParseNotification(body)
			if err != nil {
				if n != nil {
					t.Fatal("non-nil notification with error")
				}
				continue
			}
			// The sign must be what the plain definition gives for the
			// key, not merely what our signer agrees with.
			want := md5Upper(canonical(n.Raw, ntAPIKey))
			if typ == SignHMACSHA256 {
				want = hmacUpper(ntAPIKey, canonical(n.Raw, ntAPIKey))
			}
			if n.Raw["sign"] != want {
				t.Fatalf("accepted a body whose sign is not the key's: %q", n.Raw["sign"])
			}
			// Raw is every field of the body except the empty ones, which
			// the signature does not cover.
			raw, err := DecodeXML(body)
			if err != nil {
				t.Fatal("accepted a body DecodeXML rejects")
			}
			for k, v := range raw {
				if got, ok := n.Raw[k]; (v == "" && ok) || (v != "" && got != v) {
					t.Fatalf("Raw differs from the body at %q", k)
				}
			}
			if len(n.Raw) > len(raw) {
				t.Fatal("Raw has fields the body lacks")
			}
			if n.AppID != ntAppID || n.MchID != ntMchID || n.OutTradeNo == "" || n.TransactionID == "" {
				t.Fatalf("accepted notification lacks identity: %+v", n)
			}
		}
	})
}

// FuzzNotifyHandler checks that fn runs exactly when the body parses and
// verifies, whatever the bytes, and that the reply is always one of the
// fixed XML answers.
func FuzzNotifyHandler(f *testing.F) {
	f.Add(ntFixture(f, "s1_md5.xml"))
	for _, bc := range ntBadNotifications(f) {
		f.Add(bc.body)
	}
	c := ntClient(f, SignMD5)
	f.Fuzz(func(t *testing.T, body []byte) {
		var calls int
		h := c.NotifyHandler(func(context.Context, *Notification) error { calls++; return nil })
		w := ntServe(h, http.MethodPost, body)
		_, perr := c.ParseNotification(body)
		wantCalls := 0
		if perr == nil && len(body) <= MaxNotifyBytes {
			wantCalls = 1
		}
		if calls != wantCalls {
			t.Fatalf("fn called %d times, want %d (parse error %v)", calls, wantCalls, perr)
		}
		switch w.Body.String() {
		case ntReplySuccess:
			if wantCalls != 1 || w.Code != http.StatusOK {
				t.Fatalf("SUCCESS reply with status %d for an unverified body", w.Code)
			}
		case ntReplyInvalid, ntReplyLarge:
			if wantCalls != 0 {
				t.Fatal("FAIL reply for a verified body")
			}
		default:
			t.Fatalf("unexpected reply %q", w.Body.String())
		}
	})
}

// WeChat's own sample notification describes its single coupon with the
// older unindexed coupon_id and coupon_type. A verified payment in that
// shape must reach fn, not be refused (which would lose the payment).
func TestNotificationLegacyCouponShape(t *testing.T) {
	t.Parallel()
	c := ntClient(t, SignMD5)
	s1 := ntS1Params(t)
	p := ntWith(s1, "coupon_count", "1", "coupon_fee", "20",
		"coupon_id_0", "\x00", "coupon_id_1", "\x00", "coupon_type_0", "\x00", "coupon_type_1", "\x00",
		"coupon_fee_0", "\x00", "coupon_fee_1", "\x00",
		"coupon_id", "10000", "coupon_type", "CASH")
	var calls int
	h := c.NotifyHandler(func(_ context.Context, n *Notification) error {
		calls++
		assert.Equal(t, []Coupon{{ID: "10000", Type: CouponCash, Fee: 20}}, n.Coupons)
		return nil
	})
	w := ntServe(h, http.MethodPost, ntSigned(t, c, p))
	ntAssertReply(t, w, http.StatusOK, notifyReplySuccess)
	assert.Equal(t, 1, calls)
}

// Empty fields are not covered by the signature, so a relay could add
// them to a genuine body. They must neither show up in Raw as if signed
// nor make a genuine notification fail (an empty trade_state).
func TestNotificationUnsignedEmptyFields(t *testing.T) {
	t.Parallel()
	c := ntClient(t, SignMD5)
	body := ntFixture(t, "s1_md5.xml")
	tampered := bytes.Replace(body, []byte("</xml>"), []byte("<trade_state></trade_state><injected/></xml>"), 1)
	n, err := c.ParseNotification(tampered)
	require.NoError(t, err)
	_, ok := n.Raw["trade_state"]
	assert.False(t, ok, "unsigned empty field kept in Raw")
	_, ok = n.Raw["injected"]
	assert.False(t, ok, "unsigned empty field kept in Raw")
	assert.Equal(t, int64(100), n.TotalFee)
}
