package wxpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
			c := testClient(t, tt.st)
			n, err := c.ParseNotification(notifyFixture(t, tt.file))
			require.NoError(t, err)
			want := s1Want()
			if diff := cmp.Diff(&want, n, ignoreRaw); diff != "" {
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
// algorithm: the configured sign type decides (Client.ParseNotification's
// documentation).
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
			_, err := testClient(t, tt.st).ParseNotification(notifyFixture(t, tt.file))
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

// TestParseNotificationLenient: once the sign, the merchant and the
// fields a merchant acts on hold, a notification is accepted, and fields
// nobody acts on that are missing or malformed read as absent (and are
// named in Unparsed) instead of making WeChat retry a genuine payment.
func TestParseNotificationLenient(t *testing.T) {
	t.Parallel()
	c := testClient(t, SignMD5)
	s1 := s1Params(t)
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
			n, err := c.ParseNotification(signedFor(t, c, withFields(s1, tt.kv...)))
			require.NoError(t, err)
			assert.Equal(t, tt.unparsed, n.Unparsed)
			assert.Equal(t, int64(100), n.TotalFee)
			assert.True(t, n.Paid())
		})
	}
}

func TestParseNotificationRejects(t *testing.T) {
	t.Parallel()
	c := testClient(t, SignMD5)
	for _, bc := range badNotifications(t) {
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
	_, err := testClient(t, SignMD5).ParseNotification(body)
	var xe *XMLError
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, XMLTooLarge, xe.Reason)
}

// WeChat adds fields over time; they are signed and must verify (the
// WxJava WxPayOrderNotifyUnknownFieldTest regression). The bodies are
// signed with the plain definition of the signature (signedFor), not with
// the signer under test.
func TestParseNotificationExtensions(t *testing.T) {
	t.Parallel()
	for _, st := range []SignType{SignMD5, SignHMACSHA256} {
		t.Run(string(st), func(t *testing.T) {
			t.Parallel()
			c := testClient(t, st)
			p := withFields(s1Params(t),
				"promotion_detail", `{"promotion_detail":[{"promotion_id":"109519","amount":5}]}`,
				"zz_future_field", "x&y<z>",
				"sub_mch_id", "1900000109",
				"device_info", "013467007045764",
				"is_subscribe", "Y")
			n, err := c.ParseNotification(signedFor(t, c, p))
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
	c := testClient(t, SignMD5)
	const count = 12 // past the 0–2 some SDKs hard-code, and past one digit
	p := withFields(s1Params(t), "coupon_count", strconv.Itoa(count), "coupon_fee", strconv.Itoa(count), "cash_fee", "88")
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
	n, err := c.ParseNotification(signedFor(t, c, p))
	require.NoError(t, err)
	if diff := cmp.Diff(want, n.Coupons); diff != "" {
		t.Errorf("coupons (-want +got):\n%s", diff)
	}
	assert.Equal(t, NullFen{count, true}, n.CouponFee)
	assert.Equal(t, NullFen{88, true}, n.CashFee)
}

func TestParseNotificationVariants(t *testing.T) {
	t.Parallel()
	c := testClient(t, SignMD5)
	s1 := s1Params(t)
	t.Run("sign_type MD5 present", func(t *testing.T) {
		t.Parallel()
		n, err := c.ParseNotification(signedFor(t, c, withFields(s1, "sign_type", "MD5")))
		require.NoError(t, err)
		assert.Equal(t, "MD5", n.Raw["sign_type"])
	})
	t.Run("no coupons, optional amounts absent", func(t *testing.T) {
		t.Parallel()
		p := withFields(s1, "coupon_count", "\x00", "coupon_fee", "\x00", "settlement_total_fee", "\x00",
			"coupon_fee_0", "\x00", "coupon_fee_1", "\x00", "coupon_id_0", "\x00", "coupon_id_1", "\x00",
			"coupon_type_0", "\x00", "coupon_type_1", "\x00", "cash_fee", "100", "attach", "\x00")
		n, err := c.ParseNotification(signedFor(t, c, p))
		require.NoError(t, err)
		assert.Nil(t, n.Coupons)
		assert.False(t, n.CouponFee.Valid)
		assert.False(t, n.SettlementTotalFee.Valid)
		assert.Equal(t, NullFen{100, true}, n.CashFee)
		assert.Empty(t, n.Attach)
	})
	t.Run("result_code FAIL is genuine but not paid", func(t *testing.T) {
		t.Parallel()
		p := withFields(s1, "result_code", "FAIL", "err_code", "BANKERROR", "err_code_des", "银行系统异常", "time_end", "\x00")
		n, err := c.ParseNotification(signedFor(t, c, p))
		require.NoError(t, err)
		assert.False(t, n.Paid())
		assert.Equal(t, ErrCodeBankError, n.ErrCode)
		assert.Equal(t, "银行系统异常", n.ErrCodeDes)
		assert.True(t, n.TimeEnd.IsZero())
	})
	t.Run("trade_state SUCCESS tolerated", func(t *testing.T) {
		t.Parallel()
		_, err := c.ParseNotification(signedFor(t, c, withFields(s1, "trade_state", "SUCCESS")))
		require.NoError(t, err)
	})
	t.Run("zero amount is canonical", func(t *testing.T) {
		t.Parallel()
		n, err := c.ParseNotification(signedFor(t, c, withFields(s1, "coupon_fee", "0")))
		require.NoError(t, err)
		assert.Equal(t, NullFen{0, true}, n.CouponFee, "a present zero is not absent")
	})
	t.Run("unknown result_code is not paid", func(t *testing.T) {
		t.Parallel()
		n, err := c.ParseNotification(signedFor(t, c, withFields(s1, "result_code", "success")))
		require.NoError(t, err)
		assert.False(t, n.Paid())
	})
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
			c := testClient(t, tt.st)
			var calls atomic.Int32
			var got *Notification
			type ctxKey struct{}
			h := c.NotifyHandler(func(ctx context.Context, n *Notification) error {
				calls.Add(1)
				got = n
				assert.Equal(t, "req", ctx.Value(ctxKey{}), "fn gets the request's context")
				return nil
			})
			r := httptest.NewRequest(http.MethodPost, "/wxpay/notify", bytes.NewReader(notifyFixture(t, tt.file)))
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, "req"))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			assertReply(t, w, http.StatusOK, replySuccess)
			require.Equal(t, int32(1), calls.Load())
			want := s1Want()
			if diff := cmp.Diff(&want, got, ignoreRaw); diff != "" {
				t.Errorf("fn got (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotifyHandlerPassesFailNotification(t *testing.T) {
	t.Parallel()
	c := testClient(t, SignMD5)
	var paid []bool
	h := c.NotifyHandler(func(_ context.Context, n *Notification) error {
		paid = append(paid, n.Paid())
		return nil
	})
	body := signedFor(t, c, withFields(s1Params(t), "result_code", "FAIL", "err_code", "BANKERROR", "time_end", "\x00"))
	assertReply(t, serveNotify(h, http.MethodPost, body), http.StatusOK, replySuccess)
	assert.Equal(t, []bool{false}, paid)
}

func TestNotifyHandlerFnError(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	c := testClient(t, SignMD5, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	var calls atomic.Int32
	h := c.NotifyHandler(func(context.Context, *Notification) error {
		calls.Add(1)
		return errors.New("database unavailable: host db-7 password hunter2")
	})
	w := serveNotify(h, http.MethodPost, notifyFixture(t, "s1_md5.xml"))
	assertReply(t, w, http.StatusInternalServerError, replyFailed)
	assert.Equal(t, int32(1), calls.Load())
	assert.NotContains(t, w.Body.String(), "database")
	// The reason reaches the operator's log, the key and sign do not.
	assert.Contains(t, logs.String(), "level=ERROR")
	assert.Contains(t, logs.String(), "database unavailable")
	assert.NotContains(t, logs.String(), testKey)
	assert.NotContains(t, logs.String(), "A00744A890852A2FA7B302F5C76762B6")
}

func TestNotifyHandlerRejects(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	c := testClient(t, SignMD5, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	good := notifyFixture(t, "s1_md5.xml")

	type reqCase struct {
		name   string
		method string
		body   []byte
		status int
		reply  string
	}
	var cases []reqCase
	for _, bc := range badNotifications(t) {
		cases = append(cases, reqCase{bc.name, http.MethodPost, bc.body, http.StatusBadRequest, replyInvalid})
	}
	huge := append([]byte("<xml><attach>"), bytes.Repeat([]byte("a"), 10<<20)...)
	justOver := append(bytes.Repeat([]byte(" "), MaxNotifyBytes+1-len(good)), good...)
	atLimit := append(bytes.Repeat([]byte(" "), MaxNotifyBytes-len(good)), good...)
	cases = append(cases,
		reqCase{"GET", http.MethodGet, nil, http.StatusMethodNotAllowed, replyMethod},
		reqCase{"GET with a valid body", http.MethodGet, good, http.StatusMethodNotAllowed, replyMethod},
		reqCase{"PUT with a valid body", http.MethodPut, good, http.StatusMethodNotAllowed, replyMethod},
		reqCase{"HEAD", http.MethodHead, nil, http.StatusMethodNotAllowed, replyMethod},
		reqCase{"10 MiB body", http.MethodPost, huge, http.StatusRequestEntityTooLarge, replyLarge},
		reqCase{"valid body padded past the cap", http.MethodPost, justOver, http.StatusRequestEntityTooLarge, replyLarge},
		reqCase{"valid body padded to the cap, wrong key", http.MethodPost, bytes.Replace(atLimit, []byte("A00744"), []byte("B00744"), 1), http.StatusBadRequest, replyInvalid},
	)
	for _, rc := range cases {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			h := c.NotifyHandler(func(context.Context, *Notification) error {
				calls.Add(1)
				return nil
			})
			w := serveNotify(h, rc.method, rc.body)
			assertReply(t, w, rc.status, rc.reply)
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
		assertReply(t, serveNotify(h, http.MethodPost, atLimit), http.StatusOK, replySuccess)
		assert.Equal(t, int32(1), calls.Load())
	})
	t.Cleanup(func() {
		out := logs.String()
		assert.Contains(t, out, "level=WARN")
		assert.NotContains(t, out, testKey)
		assert.NotContains(t, out, "A00744A890852A2FA7B302F5C76762B6")
	})
}

func TestNotifyHandlerNilFunc(t *testing.T) {
	t.Parallel()
	c := testClient(t, SignMD5)
	assert.PanicsWithValue(t, "wxpay: NotifyHandler: nil NotifyFunc", func() { c.NotifyHandler(nil) })
}

// FuzzParseNotification checks that ParseNotification never panics and
// never accepts a body whose sign does not verify over every field.
func FuzzParseNotification(f *testing.F) {
	for _, name := range []string{"s1_md5.xml", "s1_hmac.xml", "s2_hmac_sign_type.xml"} {
		f.Add(notifyFixture(f, name))
	}
	for _, bc := range badNotifications(f) {
		f.Add(bc.body)
	}
	// A genuine body with unsigned empty fields added: accepted, and the
	// empty fields dropped.
	f.Add(bytes.Replace(notifyFixture(f, "s1_md5.xml"), []byte("</xml>"), []byte("<injected/><trade_state></trade_state></xml>"), 1))
	clients := map[SignType]*Client{SignMD5: testClient(f, SignMD5), SignHMACSHA256: testClient(f, SignHMACSHA256)}
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
			want := refSign(testKey, typ, n.Raw)
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
			if n.AppID != testAppID || n.MchID != testMchID || n.OutTradeNo == "" || n.TransactionID == "" {
				t.Fatalf("accepted notification lacks identity: %+v", n)
			}
		}
	})
}

// FuzzNotifyHandler checks that fn runs exactly when the body parses and
// verifies, whatever the bytes, and that the reply is always one of the
// fixed XML answers.
func FuzzNotifyHandler(f *testing.F) {
	f.Add(notifyFixture(f, "s1_md5.xml"))
	for _, bc := range badNotifications(f) {
		f.Add(bc.body)
	}
	c := testClient(f, SignMD5)
	f.Fuzz(func(t *testing.T, body []byte) {
		var calls int
		h := c.NotifyHandler(func(context.Context, *Notification) error { calls++; return nil })
		w := serveNotify(h, http.MethodPost, body)
		_, perr := c.ParseNotification(body)
		wantCalls := 0
		if perr == nil && len(body) <= MaxNotifyBytes {
			wantCalls = 1
		}
		if calls != wantCalls {
			t.Fatalf("fn called %d times, want %d (parse error %v)", calls, wantCalls, perr)
		}
		switch w.Body.String() {
		case replySuccess:
			if wantCalls != 1 || w.Code != http.StatusOK {
				t.Fatalf("SUCCESS reply with status %d for an unverified body", w.Code)
			}
		case replyInvalid, replyLarge:
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
	c := testClient(t, SignMD5)
	s1 := s1Params(t)
	p := withFields(s1, "coupon_count", "1", "coupon_fee", "20",
		"coupon_id_0", "\x00", "coupon_id_1", "\x00", "coupon_type_0", "\x00", "coupon_type_1", "\x00",
		"coupon_fee_0", "\x00", "coupon_fee_1", "\x00",
		"coupon_id", "10000", "coupon_type", "CASH")
	var calls int
	h := c.NotifyHandler(func(_ context.Context, n *Notification) error {
		calls++
		assert.Equal(t, []Coupon{{ID: "10000", Type: CouponCash, Fee: 20}}, n.Coupons)
		return nil
	})
	w := serveNotify(h, http.MethodPost, signedFor(t, c, p))
	assertReply(t, w, http.StatusOK, notifyReplySuccess)
	assert.Equal(t, 1, calls)
}

// Empty fields are not covered by the signature, so a relay could add
// them to a genuine body. They must neither show up in Raw as if signed
// nor make a genuine notification fail (an empty trade_state).
func TestNotificationUnsignedEmptyFields(t *testing.T) {
	t.Parallel()
	c := testClient(t, SignMD5)
	body := notifyFixture(t, "s1_md5.xml")
	tampered := bytes.Replace(body, []byte("</xml>"), []byte("<trade_state></trade_state><injected/></xml>"), 1)
	n, err := c.ParseNotification(tampered)
	require.NoError(t, err)
	_, ok := n.Raw["trade_state"]
	assert.False(t, ok, "unsigned empty field kept in Raw")
	_, ok = n.Raw["injected"]
	assert.False(t, ok, "unsigned empty field kept in Raw")
	assert.Equal(t, int64(100), n.TotalFee)
}

// manualClock is a clock tests move by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestRefusalsInDefaultLog: with no WithLogger, a refused notification
// shows up in slog.Default at Warn, with the reason and what the body
// claims under names that say nobody vouched for them, cut short, never
// with a secret or the sign; junk is rate-limited, and the next line that
// gets through says how many were suppressed. Not parallel: it swaps the
// process-wide default logger, which no parallel test may see.
func TestRefusalsInDefaultLog(t *testing.T) {
	var logs logBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	clock := &manualClock{now: testClock()}
	c := testClient(t, SignMD5, WithClock(clock.Now))
	h := c.NotifyHandler(func(context.Context, *Notification) error {
		t.Error("a refused notification reached fn")
		return nil
	})
	longAppID := "wx" + strings.Repeat("a", 60)
	forged := withFields(s1Params(t), "appid", longAppID, "sign", strings.Repeat("A", 32))
	body := encodeXML(t, forged)
	const sent = refusalBurst + 5
	for i := 0; i < sent; i++ {
		assertReply(t, serveNotify(h, http.MethodPost, body), http.StatusBadRequest, replyInvalid)
	}

	type line struct {
		Level, Msg, Op, Reason string
		AppID                  string `json:"unverified_appid"`
		OutTradeNo             string `json:"unverified_out_trade_no"`
		Suppressed             int
	}
	read := func() []line {
		var out []line
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			if l == "" {
				continue
			}
			var x line
			require.NoError(t, json.Unmarshal([]byte(l), &x), l)
			out = append(out, x)
		}
		return out
	}
	lines := read()
	require.Len(t, lines, refusalBurst, "a burst of %d, then the rest suppressed", refusalBurst)
	for _, l := range lines {
		assert.Equal(t, "WARN", l.Level)
		assert.Equal(t, "wxpay: notification refused", l.Msg)
		assert.Equal(t, "notify", l.Op)
		assert.Contains(t, l.Reason, "signature mismatch")
		assert.Equal(t, "1409811653", l.OutTradeNo)
		assert.True(t, strings.HasPrefix(longAppID, strings.TrimSuffix(l.AppID, "…")), l.AppID)
		assert.Less(t, len(l.AppID), len(longAppID), "the claimed appid is cut short")
		assert.Zero(t, l.Suppressed)
	}
	out := logs.String()
	assert.NotContains(t, out, testKey)
	assert.NotContains(t, out, strings.Repeat("A", 32), "the sign is not logged")
	assert.NotContains(t, out, "key=", "the string-to-sign is not logged")

	// Once the bucket refills, the next line says what was dropped.
	clock.Add(refusalEvery)
	assertReply(t, serveNotify(h, http.MethodPost, body), http.StatusBadRequest, replyInvalid)
	lines = read()
	require.Len(t, lines, refusalBurst+1)
	assert.Equal(t, sent-refusalBurst, lines[refusalBurst].Suppressed)
}
