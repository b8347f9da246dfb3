package wxpay

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// API keys of the refund vectors V5 and S6 (testdata/notify/README.md).
const (
	rnV5APIKey = "ziR0QKsTUfMOuochC9RfCdmfHECorQAP"
	rnS6APIKey = "exposed_your_key_here_have_risks"
)

func rnClient(tb testing.TB, apiKey string) *Client {
	tb.Helper()
	c, err := NewClient(Config{AppID: testAppID, MchID: testMchID, APIKey: apiKey})
	require.NoError(tb, err)
	return c
}

// rnBody is the outer message of a refund notification carrying
// reqInfo, addressed to the test merchant.
func rnBody(tb testing.TB, reqInfo string) []byte {
	tb.Helper()
	return encodeXML(tb, Params{
		"return_code": "SUCCESS",
		"appid":       testAppID,
		"mch_id":      testMchID,
		"nonce_str":   "TeqClE3i0mvn3DrK",
		"req_info":    reqInfo,
	})
}

// rnEncryptRaw encrypts whole blocks with AES-ECB and no padding: the
// inverse of the decryption under test, for building bad inputs.
func rnEncryptRaw(tb testing.TB, key, pt []byte) []byte {
	tb.Helper()
	require.Zero(tb, len(pt)%aes.BlockSize)
	b, err := aes.NewCipher(key)
	require.NoError(tb, err)
	ct := make([]byte, len(pt))
	for i := 0; i < len(pt); i += aes.BlockSize {
		b.Encrypt(ct[i:i+aes.BlockSize], pt[i:i+aes.BlockSize])
	}
	return ct
}

// rnEncrypt is AES-ECB with PKCS#7 padding, as WeChat encrypts req_info.
func rnEncrypt(tb testing.TB, key, pt []byte) []byte {
	tb.Helper()
	pad := aes.BlockSize - len(pt)%aes.BlockSize
	padded := append(append([]byte{}, pt...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	return rnEncryptRaw(tb, key, padded)
}

func rnReqInfo(tb testing.TB, apiKey string, plain []byte) string {
	tb.Helper()
	return base64.StdEncoding.EncodeToString(rnEncrypt(tb, refundKey(apiKey)[:], plain))
}

// V7: the req_info key is the lowercase hex MD5 of the API key, used as
// 32 ASCII bytes.
func TestRefundKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ apiKey, want string }{
		{rnS6APIKey, "4ad14ac334ab13540eb6c5479512a8e8"}, // V7
		{rnV5APIKey, "a1fdc4d1da9fb443b1091d34bcee9493"}, // V5
	} {
		assert.Equal(t, []byte(tt.want), refundKey(tt.apiKey)[:])
	}
}

// V6: AES-256-ECB/PKCS#7 of "hello" under the ASCII key
// 0123456789abcdef0123456789abcdef (wechatpay-php AesEcbTest).
func TestAESECBVector(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	const want = "pZwJZBLuy3mDACEQT4YTBw=="
	assert.Equal(t, want, base64.StdEncoding.EncodeToString(rnEncrypt(t, key, []byte("hello"))))
	pt, err := decryptReqInfo(key, want)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(pt))
}

func TestDecryptReqInfoVectors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, apiKey, reqInfo, plain, sha string
	}{
		{"V5", rnV5APIKey, "v5_req_info.txt", "v5_plain.xml", "fe9673e322c7ed0db1fa2871c6fce06da29e8063215a8418c54db8f192a7f451"},
		{"S6", rnS6APIKey, "s6_req_info.txt", "s6_plain.xml", "abaac7c4b685e5158e844cd2dfc0c5d29b2f621c8fc5c28471a09bb04a2c06ac"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pt, err := decryptReqInfo(refundKey(tt.apiKey)[:], string(notifyFixture(t, tt.reqInfo)))
			require.NoError(t, err)
			assert.Equal(t, string(notifyFixture(t, tt.plain)), string(pt))
			sum := sha256.Sum256(pt)
			assert.Equal(t, tt.sha, hex.EncodeToString(sum[:]))
		})
	}
}

func rnWant(tb testing.TB, name string) RefundNotification {
	tb.Helper()
	cst := time.FixedZone("UTC+8", 8*3600)
	switch name {
	case "V5": // fields as decrypted independently (testdata/notify/README.md)
		return RefundNotification{
			AppID: testAppID, MchID: testMchID,
			TransactionID:       "4200000015201711256947025404",
			OutTradeNo:          "4893e76d8c8b434cb64e9cd536338e33",
			RefundID:            "50000404922017112502468056157",
			OutRefundNo:         "50fd012ed1b311e7af7800163e32c503",
			TotalFee:            6,
			SettlementTotalFee:  6,
			RefundFee:           6,
			SettlementRefundFee: 6,
			RefundStatus:        RefundSuccess,
			SuccessTime:         time.Date(2017, 11, 25, 15, 36, 17, 0, cst),
			RefundRecvAccount:   "支付用户零钱",
			RefundAccount:       "REFUND_SOURCE_RECHARGE_FUNDS",
			RefundRequestSource: "API",
		}
	case "S6": // the official sample plaintext
		return RefundNotification{
			AppID: testAppID, MchID: testMchID,
			TransactionID:       "4200000215201811190261405420",
			OutTradeNo:          "71106718111915575302817",
			RefundID:            "50000408942018111907145868882",
			OutRefundNo:         "131811191610442717309",
			TotalFee:            3960,
			SettlementTotalFee:  3960,
			RefundFee:           3960,
			SettlementRefundFee: 3960,
			RefundStatus:        RefundSuccess,
			SuccessTime:         time.Date(2018, 11, 19, 16, 24, 13, 0, cst),
			RefundRecvAccount:   "支付用户零钱",
			RefundAccount:       "REFUND_SOURCE_RECHARGE_FUNDS",
			RefundRequestSource: "API",
		}
	}
	tb.Fatalf("no vector %s", name)
	return RefundNotification{}
}

var rnIgnoreRaw = cmpopts.IgnoreFields(RefundNotification{}, "Raw", "Outer")

func TestParseRefundNotificationVectors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, apiKey, reqInfo string }{
		{"V5", rnV5APIKey, "v5_req_info.txt"},
		{"S6", rnS6APIKey, "s6_req_info.txt"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reqInfo := string(notifyFixture(t, tt.reqInfo))
			n, err := rnClient(t, tt.apiKey).ParseRefundNotification(rnBody(t, reqInfo))
			require.NoError(t, err)
			want := rnWant(t, tt.name)
			if diff := cmp.Diff(&want, n, rnIgnoreRaw); diff != "" {
				t.Errorf("ParseRefundNotification (-want +got):\n%s", diff)
			}
			assert.Len(t, n.Raw, 13)
			_, kept := n.Outer["req_info"]
			assert.False(t, kept, "the replayable ciphertext must not travel on in Outer")
			assert.Equal(t, "TeqClE3i0mvn3DrK", n.Outer["nonce_str"])
		})
	}
}

func TestParseRefundNotificationOptional(t *testing.T) {
	t.Parallel()
	c := rnClient(t, rnS6APIKey)
	plain := `<root><transaction_id>4200</transaction_id><out_trade_no>o1</out_trade_no>` +
		`<refund_id>5000</refund_id><out_refund_no>r1</out_refund_no><total_fee>10</total_fee>` +
		`<refund_fee>4</refund_fee><refund_status>REFUNDCLOSE</refund_status>` +
		`<cash_refund_fee>3</cash_refund_fee><success_time></success_time><new_field>x</new_field></root>`
	n, err := c.ParseRefundNotification(rnBody(t, rnReqInfo(t, rnS6APIKey, []byte(plain))))
	require.NoError(t, err)
	assert.Equal(t, RefundClosed, n.RefundStatus)
	assert.True(t, n.SuccessTime.IsZero())
	assert.Equal(t, int64(3), n.CashRefundFee)
	assert.Zero(t, n.SettlementRefundFee)
	assert.Equal(t, "x", n.Raw["new_field"])
}

// rnBadRefunds are refund notification bodies the S6 client must refuse.
func rnBadRefunds(tb testing.TB) []badCase {
	tb.Helper()
	key := refundKey(rnS6APIKey)[:]
	good := string(notifyFixture(tb, "s6_req_info.txt"))
	plain := notifyFixture(tb, "s6_plain.xml")
	b64 := base64.StdEncoding.EncodeToString
	// Plaintexts with every padding defect, encrypted without padding.
	block := bytes.Repeat([]byte("<root></root>   "), 1) // 16 bytes
	withTail := func(tail ...byte) string {
		pt := append(append([]byte{}, block...), block[:16-len(tail)]...)
		return b64(rnEncryptRaw(tb, key, append(pt, tail...)))
	}
	plainWith := func(old, repl string) string {
		return rnReqInfo(tb, rnS6APIKey, bytes.Replace(plain, []byte(old), []byte(repl), 1))
	}
	outer := func(p Params) []byte { return encodeXML(tb, p) }
	base := Params{"return_code": "SUCCESS", "appid": testAppID, "mch_id": testMchID, "nonce_str": "n", "req_info": good}

	return []badCase{
		{name: "empty body", body: nil, is: ErrXML, reason: XMLEmpty},
		{name: "return_code FAIL", body: outer(Params{"return_code": "FAIL", "return_msg": "系统错误"}), op: "refundnotify"},
		{name: "return_code FAIL with req_info", body: outer(withFields(base, "return_code", "FAIL")), op: "refundnotify"},
		{name: "return_code missing", body: outer(withFields(base, "return_code", "\x00")), is: ErrMissingField, field: "return_code"},
		{name: "wrong appid", body: outer(withFields(base, "appid", "wx0000000000000000")), is: ErrMerchant},
		{name: "wrong mch_id", body: outer(withFields(base, "mch_id", "10000101")), is: ErrMerchant},
		{name: "missing req_info", body: outer(withFields(base, "req_info", "\x00")), is: ErrMissingField, field: "req_info"},
		{name: "empty req_info", body: outer(withFields(base, "req_info", "")), is: ErrMissingField, field: "req_info"},
		{name: "req_info not base64", body: rnBody(tb, "not base64 at all!"), is: ErrDecrypt},
		{name: "req_info url-safe base64", body: rnBody(tb, strings.NewReplacer("+", "-", "/", "_").Replace(good)), is: ErrDecrypt},
		{name: "req_info without padding chars", body: rnBody(tb, strings.TrimRight(b64([]byte("0123456789abcdef0")), "=")), is: ErrDecrypt},
		{name: "req_info with newline", body: rnBody(tb, good[:64]+"\n"+good[64:]), is: ErrDecrypt},
		{name: "req_info not block multiple", body: rnBody(tb, b64(rnEncrypt(tb, key, []byte("x"))[:15])), is: ErrDecrypt},
		{name: "req_info one byte over blocks", body: rnBody(tb, b64(append(rnEncrypt(tb, key, []byte("x")), 0))), is: ErrDecrypt},
		{name: "req_info decodes to nothing", body: rnBody(tb, "===="), is: ErrDecrypt},
		{name: "padding byte 0", body: rnBody(tb, withTail(0)), is: ErrDecrypt},
		{name: "padding byte 17", body: rnBody(tb, withTail(17)), is: ErrDecrypt},
		{name: "padding byte 255", body: rnBody(tb, withTail(255)), is: ErrDecrypt},
		{name: "padding bytes differ", body: rnBody(tb, withTail(3, 2, 3)), is: ErrDecrypt},
		{name: "padding 16 with one wrong byte", body: rnBody(tb, b64(rnEncryptRaw(tb, key, append(append([]byte{}, block...), append([]byte{15}, bytes.Repeat([]byte{16}, 15)...)...)))), is: ErrDecrypt},
		{name: "encrypted under another key", body: rnBody(tb, rnReqInfo(tb, rnV5APIKey, plain)), is: ErrDecrypt},
		{name: "V5 req_info for another merchant", body: rnBody(tb, string(notifyFixture(tb, "v5_req_info.txt"))), is: ErrDecrypt},
		{name: "truncated ciphertext", body: rnBody(tb, good[:len(good)-24]), is: ErrDecrypt},
		{name: "plaintext DOCTYPE", body: rnBody(tb, rnReqInfo(tb, rnS6APIKey, append([]byte(`<!DOCTYPE root [<!ENTITY x SYSTEM "file:///etc/passwd">]>`), plain...))), is: ErrXML, reason: XMLDoctype},
		{name: "plaintext root xml", body: rnBody(tb, rnReqInfo(tb, rnS6APIKey, bytes.ReplaceAll(plain, []byte("root>"), []byte("xml>")))), is: ErrXML, reason: XMLRoot},
		{name: "plaintext duplicate field", body: rnBody(tb, plainWith("<total_fee>", "<total_fee><![CDATA[1]]></total_fee><total_fee>")), is: ErrXML, reason: XMLDuplicate},
		{name: "plaintext not xml", body: rnBody(tb, rnReqInfo(tb, rnS6APIKey, []byte("refund_fee=1"))), is: ErrXML},
		{name: "plaintext mismatched tags", body: rnBody(tb, plainWith("<refund_id>", "<refund_idx>")), is: ErrXML},
		{name: "missing refund_id", body: rnBody(tb, plainWith("<refund_id><![CDATA[50000408942018111907145868882]]></refund_id>", "")), is: ErrMissingField, field: "refund_id"},
		{name: "missing transaction_id", body: rnBody(tb, plainWith("<transaction_id><![CDATA[4200000215201811190261405420]]></transaction_id>", "")), is: ErrMissingField, field: "transaction_id"},
		{name: "missing out_trade_no", body: rnBody(tb, plainWith("<out_trade_no><![CDATA[71106718111915575302817]]></out_trade_no>", "")), is: ErrMissingField, field: "out_trade_no"},
		{name: "missing out_refund_no", body: rnBody(tb, plainWith("<out_refund_no><![CDATA[131811191610442717309]]></out_refund_no>", "")), is: ErrMissingField, field: "out_refund_no"},
		{name: "missing refund_status", body: rnBody(tb, plainWith("<refund_status><![CDATA[SUCCESS]]></refund_status>", "")), is: ErrMissingField, field: "refund_status"},
		{name: "missing total_fee", body: rnBody(tb, plainWith("<total_fee><![CDATA[3960]]></total_fee>", "")), is: ErrMissingField, field: "total_fee"},
		{name: "missing refund_fee", body: rnBody(tb, plainWith("<refund_fee><![CDATA[3960]]></refund_fee>", "")), is: ErrMissingField, field: "refund_fee"},
		{name: "refund_fee 03960", body: rnBody(tb, plainWith("[3960]]></refund_fee>", "[03960]]></refund_fee>")), is: ErrAmount, field: "refund_fee"},
		{name: "total_fee +3960", body: rnBody(tb, plainWith("[3960]]></total_fee>", "[+3960]]></total_fee>")), is: ErrAmount, field: "total_fee"},
		{name: "settlement_refund_fee -1", body: rnBody(tb, plainWith("[3960]]></settlement_refund_fee>", "[-1]]></settlement_refund_fee>")), is: ErrAmount, field: "settlement_refund_fee"},
		{name: "success_time malformed", body: rnBody(tb, plainWith("2018-11-19 16:24:13", "20181119162413")), field: "success_time"},
		{name: "success_time impossible", body: rnBody(tb, plainWith("2018-11-19 16:24:13", "2018-13-19 16:24:13")), field: "success_time"},
		{name: "outer doctype", body: append([]byte(`<!DOCTYPE xml [<!ENTITY x "y">]>`), outer(base)...), is: ErrXML, reason: XMLDoctype},
		{name: "outer duplicate req_info", body: bytes.Replace(outer(base), []byte("</xml>"), []byte("<req_info>"+good+"</req_info></xml>"), 1), is: ErrXML, reason: XMLDuplicate},
		{name: "payment notification", body: notifyFixture(tb, "s1_md5.xml"), is: ErrMissingField, field: "req_info"},
	}
}

func TestParseRefundNotificationRejects(t *testing.T) {
	t.Parallel()
	c := rnClient(t, rnS6APIKey)
	for _, bc := range rnBadRefunds(t) {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			n, err := c.ParseRefundNotification(bc.body)
			assert.Nil(t, n)
			bc.check(t, err)
		})
	}
}

// Every decryption failure must be the same error, so that a caller (or a
// log reader) learns nothing about which check failed.
func TestDecryptFailuresIndistinguishable(t *testing.T) {
	t.Parallel()
	c := rnClient(t, rnS6APIKey)
	var n int
	want := (&opError{opRefundNotify, ErrDecrypt}).Error()
	for _, bc := range rnBadRefunds(t) {
		if bc.is != ErrDecrypt {
			continue
		}
		n++
		_, err := c.ParseRefundNotification(bc.body)
		require.Error(t, err, bc.name)
		assert.True(t, errors.Unwrap(err) == ErrDecrypt, "%s: got %T %v, want ErrDecrypt itself under the one wrapping", bc.name, err, err)
		assert.Equal(t, want, err.Error(), bc.name)
	}
	assert.GreaterOrEqual(t, n, 10)
}

// TestRefundPaddingRange checks the padding length bounds on their own:
// a final block of sixteen 0x11 bytes (17: one more than a block) and one
// of sixteen 0xFF bytes are each consistent runs of equal bytes, so only
// the range check refuses them; without it the second would slice past
// the start of the plaintext.
func TestRefundPaddingRange(t *testing.T) {
	t.Parallel()
	c := rnClient(t, rnS6APIKey)
	key := refundKey(rnS6APIKey)[:]
	for _, b := range []byte{0x00, 0x11, 0xFF} {
		for _, blocks := range []int{1, 2} {
			pt := bytes.Repeat([]byte{'a'}, 16*(blocks-1))
			pt = append(pt, bytes.Repeat([]byte{b}, 16)...)
			_, err := decryptECB(key, rnEncryptRaw(t, key, pt))
			assert.Equal(t, ErrDecrypt, err, "final block of 0x%02X, %d block(s)", b, blocks)
			body := rnBody(t, base64.StdEncoding.EncodeToString(rnEncryptRaw(t, key, pt)))
			_, err = c.ParseRefundNotification(body)
			assert.ErrorIs(t, err, ErrDecrypt)
		}
	}
	// The largest valid padding, a whole block of 0x10, is accepted.
	pt := append([]byte("<root></root>..."), bytes.Repeat([]byte{0x10}, 16)...)
	got, err := decryptECB(key, rnEncryptRaw(t, key, pt))
	require.NoError(t, err)
	assert.Equal(t, "<root></root>...", string(got))
}

func TestParseRefundNotificationHugeBody(t *testing.T) {
	t.Parallel()
	body := rnBody(t, strings.Repeat("A", 10<<20))
	_, err := rnClient(t, rnS6APIKey).ParseRefundNotification(body)
	var xe *XMLError
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, XMLTooLarge, xe.Reason)
}

func TestRefundNotifyHandler(t *testing.T) {
	t.Parallel()
	// These handlers test the notification contract alone; the client
	// has no refundquery server, so confirmation (the default, tested in
	// refundnotify_confirm_test.go) is skipped.
	c := rnClient(t, rnS6APIKey)
	good := rnBody(t, string(notifyFixture(t, "s6_req_info.txt")))

	t.Run("success", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int32
		var got *RefundNotification
		h := c.RefundNotifyHandler(func(_ context.Context, n *RefundNotification) error {
			calls.Add(1)
			got = n
			return nil
		}, SkipRefundQuery())
		assertReply(t, serveNotify(h, http.MethodPost, good), http.StatusOK, replySuccess)
		require.Equal(t, int32(1), calls.Load())
		want := rnWant(t, "S6")
		if diff := cmp.Diff(&want, got, rnIgnoreRaw); diff != "" {
			t.Errorf("fn got (-want +got):\n%s", diff)
		}
	})
	t.Run("fn error", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int32
		h := c.RefundNotifyHandler(func(context.Context, *RefundNotification) error {
			calls.Add(1)
			return errors.New("refund table locked")
		}, SkipRefundQuery())
		w := serveNotify(h, http.MethodPost, good)
		assertReply(t, w, http.StatusInternalServerError, replyFailed)
		assert.Equal(t, int32(1), calls.Load())
	})

	type reqCase struct {
		name   string
		method string
		body   []byte
		status int
		reply  string
	}
	var cases []reqCase
	for _, bc := range rnBadRefunds(t) {
		cases = append(cases, reqCase{bc.name, http.MethodPost, bc.body, http.StatusBadRequest, replyInvalid})
	}
	cases = append(cases,
		reqCase{"GET", http.MethodGet, nil, http.StatusMethodNotAllowed, replyMethod},
		reqCase{"GET with a valid body", http.MethodGet, good, http.StatusMethodNotAllowed, replyMethod},
		reqCase{"10 MiB body", http.MethodPost, rnBody(t, strings.Repeat("A", 10<<20)), http.StatusRequestEntityTooLarge, replyLarge},
	)
	for _, rc := range cases {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			h := c.RefundNotifyHandler(func(context.Context, *RefundNotification) error {
				calls.Add(1)
				return nil
			}, SkipRefundQuery())
			w := serveNotify(h, rc.method, rc.body)
			assertReply(t, w, rc.status, rc.reply)
			assert.Zero(t, calls.Load(), "fn must not be called")
			if rc.status == http.StatusMethodNotAllowed {
				assert.Equal(t, "POST", w.Header().Get("Allow"))
			}
		})
	}
}

func TestRefundNotifyHandlerNilFunc(t *testing.T) {
	t.Parallel()
	c := rnClient(t, rnS6APIKey)
	assert.PanicsWithValue(t, "wxpay: RefundNotifyHandler: nil RefundNotifyFunc", func() { c.RefundNotifyHandler(nil) })
}

// FuzzRefundDecrypt feeds arbitrary req_info to the decryption and to the
// whole parser. Neither may panic; a successful decryption must be the
// unique preimage (re-encrypting gives the same ciphertext back), and a
// successful parse must carry the required fields.
func FuzzRefundDecrypt(f *testing.F) {
	f.Add(string(notifyFixture(f, "s6_req_info.txt")))
	f.Add(string(notifyFixture(f, "v5_req_info.txt")))
	f.Add("pZwJZBLuy3mDACEQT4YTBw==")
	f.Add("")
	f.Add("====")
	f.Add("AAAAAAAAAAAAAAAAAAAAAA==")
	for _, bc := range rnBadRefunds(f) {
		if p, err := DecodeXML(bc.body); err == nil && p["req_info"] != "" {
			f.Add(p["req_info"])
		}
	}
	key := refundKey(rnS6APIKey)[:]
	c := rnClient(f, rnS6APIKey)
	f.Fuzz(func(t *testing.T, reqInfo string) {
		pt, err := decryptReqInfo(key, reqInfo)
		if err != nil {
			if err != ErrDecrypt || pt != nil {
				t.Fatalf("decrypt failed with %v (plaintext %d bytes)", err, len(pt))
			}
		} else {
			ct, _ := base64.StdEncoding.DecodeString(reqInfo)
			if again := rnEncrypt(t, key, pt); !bytes.Equal(again, ct) {
				t.Fatal("decryption is not the inverse of encryption")
			}
		}
		body, err := EncodeXML(Params{"return_code": "SUCCESS", "appid": testAppID, "mch_id": testMchID, "req_info": reqInfo})
		if err != nil {
			return // reqInfo cannot be carried in XML
		}
		n, err := c.ParseRefundNotification(body)
		if err != nil {
			return
		}
		if n.TransactionID == "" || n.OutTradeNo == "" || n.RefundID == "" || n.OutRefundNo == "" || n.RefundStatus == "" {
			t.Fatalf("accepted refund notification lacks required fields: %+v", n)
		}
	})
}
