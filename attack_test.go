package wxpay_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/refsign"
	"github.com/wxpay-go/wxpay/internal/wire"
)

// Each test here plays an attacker against the public API and must fail
// to forge, to tell errors apart, to find a secret or to stay on a dead
// primary.

// TestAttackResplitNotification builds a forgery from one genuine signed
// notification whose attach the attacker chose (their own 1-fen order):
// v2 signs values raw, joined with '&' and '=', so the attach can carry
// text that, cut differently, becomes the fields of another payment. The
// forged body has the same string-to-sign, hence the same sign, and
// names the victim's order and amount.
func TestAttackResplitNotification(t *testing.T) {
	t.Parallel()
	c := xClient(t, wxpay.SignMD5)

	// The pairs the forgery will declare, hidden in the genuine attach.
	// "zzzz" sorts last, so its value in the forgery swallows the rest of
	// the genuine message.
	hidden := "&mch_id=" + xMchID + "&nonce_str=N&out_trade_no=VICTIM01&result_code=SUCCESS" +
		"&return_code=SUCCESS&total_fee=990000&transaction_id=4200000000000000000000000000&zzzz="
	genuine := xWith(xS1(t), "total_fee", "1", "cash_fee", "1", "attach", "p"+hidden)
	sign := refsign.Sign(genuine, xAPIKey, "MD5")
	canon := refsign.Canonical(genuine, xAPIKey)

	tail := canon[strings.Index(canon, "zzzz=")+len("zzzz="):]
	tail = strings.TrimSuffix(tail, "&key="+xAPIKey)
	forged := wxpay.Params{
		"appid": xAppID, "attach": "p", "mch_id": xMchID, "nonce_str": "N",
		"out_trade_no": "VICTIM01", "result_code": "SUCCESS", "return_code": "SUCCESS",
		"total_fee": "990000", "transaction_id": "4200000000000000000000000000",
		"zzzz": tail, "sign": sign,
	}
	// The attack is real: both messages sign the very same string.
	require.Equal(t, canon, refsign.Canonical(forged, xAPIKey))

	body, err := wxpay.EncodeXML(forged)
	require.NoError(t, err)
	n, err := c.ParseNotification(body)
	assert.Nil(t, n, "the forged notification was accepted")
	assert.ErrorIs(t, err, wxpay.ErrAmbiguousValue)
	assert.ErrorIs(t, err, wxpay.ErrSignature, "a re-split message is a forgery to callers that test ErrSignature")

	// Through HTTP the forgery never reaches the merchant's function.
	called := false
	h := c.NotifyHandler(func(context.Context, *wxpay.Notification) error { called = true; return nil })
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/notify", bytes.NewReader(body)))
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.False(t, called)

	// And the library never sends the attach that makes it possible.
	_, err = c.UnifiedOrder(context.Background(), &wxpay.UnifiedOrderRequest{
		Body: "tea", OutTradeNo: "A1", TotalFee: 1, SpbillCreateIP: "203.0.113.7",
		TradeType: wxpay.TradeJSAPI, OpenID: "o1", Attach: "p&out_trade_no=VICTIM01",
	})
	var re *wxpay.RequestError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "attach", re.Field)
	assert.Contains(t, re.Reason, "'&'")
}

// TestResplitRuleKeepsGenuineMessages checks the official samples and
// genuine values holding '&' still verify: the rule only refuses a value
// that embeds another field of the same message.
func TestResplitRuleKeepsGenuineMessages(t *testing.T) {
	t.Parallel()
	c := xClient(t, wxpay.SignMD5)
	// The published S1 and S2 bodies, exactly as they are.
	for _, fx := range []struct {
		name string
		st   wxpay.SignType
	}{{"s1_md5.xml", wxpay.SignMD5}, {"s1_hmac.xml", wxpay.SignHMACSHA256}, {"s2_hmac_sign_type.xml", wxpay.SignHMACSHA256}} {
		body, err := os.ReadFile(filepath.Join("testdata", "notify", fx.name))
		require.NoError(t, err)
		_, err = xClient(t, fx.st).ParseNotification(body)
		require.NoError(t, err, fx.name)
	}
	// attach with '&' and '=' naming no field of the message.
	_, err := c.ParseNotification(xSigned(t, wxpay.SignMD5, xWith(xS1(t), "attach", "a=1&b=2&shop=7")))
	assert.NoError(t, err)
	// An attach that embeds a field of the message is refused even when
	// genuinely signed: the verifier cannot tell it from a re-split one.
	_, err = c.ParseNotification(xSigned(t, wxpay.SignMD5, xWith(xS1(t), "attach", "a&total_fee=1")))
	assert.ErrorIs(t, err, wxpay.ErrAmbiguousValue)
}

// TestAuthenticNotificationWithoutInformationalFields: once the sign,
// the merchant and result_code hold, a notification is WeChat's; one
// without cash_fee (like WeChat's own sample), bank_type or time_end must
// be accepted, or WeChat retries for a day and gives up while the order
// stays unpaid.
func TestAuthenticNotificationWithoutInformationalFields(t *testing.T) {
	t.Parallel()
	c := xClient(t, wxpay.SignMD5)
	for _, drop := range [][]string{{"cash_fee"}, {"bank_type"}, {"time_end"}, {"cash_fee", "bank_type", "time_end"}} {
		kv := []string{}
		for _, k := range drop {
			kv = append(kv, k, "\x00")
		}
		n, err := c.ParseNotification(xSigned(t, wxpay.SignMD5, xWith(xS1(t), kv...)))
		require.NoError(t, err, "without %v", drop)
		assert.Equal(t, int64(100), n.TotalFee)
		assert.Equal(t, "1409811653", n.OutTradeNo)
		for _, k := range drop {
			switch k {
			case "cash_fee":
				assert.False(t, n.CashFee.Valid, "absent cash_fee must read as absent, not 0")
			case "bank_type":
				assert.Empty(t, n.BankType)
			case "time_end":
				assert.True(t, n.TimeEnd.IsZero())
			}
		}
	}
	// Malformed informational fields are named, not guessed.
	n, err := c.ParseNotification(xSigned(t, wxpay.SignMD5, xWith(xS1(t), "cash_fee", "080", "time_end", "2014-10-30")))
	require.NoError(t, err)
	assert.False(t, n.CashFee.Valid)
	assert.True(t, n.TimeEnd.IsZero())
	assert.ElementsMatch(t, []string{"cash_fee", "time_end"}, n.Unparsed)
	// The fields a merchant acts on stay strict.
	for _, k := range []string{"out_trade_no", "transaction_id", "total_fee"} {
		_, err := c.ParseNotification(xSigned(t, wxpay.SignMD5, xWith(xS1(t), k, "\x00")))
		var fe *wxpay.FieldError
		require.ErrorAs(t, err, &fe, k)
		assert.Equal(t, k, fe.Field)
	}
	_, err = c.ParseNotification(xSigned(t, wxpay.SignMD5, xWith(xS1(t), "total_fee", "0100")))
	assert.ErrorIs(t, err, wxpay.ErrAmount)
}

// TestOtherSignedMessagesAreNotNotifications: without cash_fee and
// time_end to tell them apart, other signed answers for this merchant
// must still be refused as payment notifications, by what they carry.
func TestOtherSignedMessagesAreNotNotifications(t *testing.T) {
	t.Parallel()
	c := xClient(t, wxpay.SignMD5)
	base := wxpay.Params{
		"return_code": "SUCCESS", "appid": xAppID, "mch_id": xMchID, "nonce_str": "N",
		"result_code": "SUCCESS", "out_trade_no": "1409811653",
		"transaction_id": "1004400740201409030005092168", "total_fee": "100",
	}
	for name, kv := range map[string][]string{
		"orderquery NOTPAY": {"trade_state", "NOTPAY"},
		"unifiedorder":      {"prepay_id", "wx201410272009395522657a690389285100", "trade_type", "JSAPI"},
		"refund":            {"refund_id", "50000000382019052709732678859", "out_refund_no", "R1", "refund_fee", "100"},
		"refundquery":       {"refund_count", "1", "refund_id_0", "50000000382019052709732678859"},
		"reverse":           {"recall", "N"},
	} {
		_, err := c.ParseNotification(xSigned(t, wxpay.SignMD5, xWith(base, kv...)))
		var fe *wxpay.FieldError
		assert.ErrorAs(t, err, &fe, name)
	}
	// An orderquery answer for a paid order reports the same payment.
	_, err := c.ParseNotification(xSigned(t, wxpay.SignMD5, xWith(base, "trade_state", "SUCCESS")))
	assert.NoError(t, err)
}

// fullBacklogAddr returns the address of a listening socket whose accept
// queue is full and never drained: the kernel drops further SYNs, so a
// connect hangs exactly as it does to a host that is down.
func fullBacklogAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, syscall.Listen(fd, 0))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the queue until a connect no longer completes.
	for i := 0; ; i++ {
		require.Less(t, i, 64, "the accept queue never filled")
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { conn.Close() })
	}
	return addr
}

// TestAttackDeadPrimaryFailsOver: a primary that drops SYNs (a data centre
// that is down) must fail over to the backup within the default overall
// timeout, with the default HTTP client.
func TestAttackDeadPrimaryFailsOver(t *testing.T) {
	t.Parallel()
	dead := fullBacklogAddr(t)
	backup := xFake(t)
	c := xClient(t, wxpay.SignMD5, wxpay.WithBaseURL("http://"+dead), wxpay.WithFailover(backup.URL))
	// A deadline just inside the default timeout: the call succeeds only
	// if the connect gives up early enough for the backup to answer.
	ctx, cancel := context.WithTimeout(context.Background(), wire.DefaultTimeout-time.Second)
	defer cancel()
	resp, err := c.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
		Body: "tea", OutTradeNo: "T1", TotalFee: 1, SpbillCreateIP: "203.0.113.7",
		TradeType: wxpay.TradeJSAPI, OpenID: "o1",
	})
	require.NoError(t, err)
	o, ok := backup.Order("T1")
	require.True(t, ok, "the backup never received the order")
	assert.Equal(t, o.PrepayID, resp.PrepayID)
}

// TestAttackPlainHTTPOnHTTPSPortFailsOver: a primary that answers the TLS
// hello in plain HTTP never saw the request, so the backup gets it.
func TestAttackPlainHTTPOnHTTPSPortFailsOver(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer plain.Close()
	backup := xFake(t)
	c := xClient(t, wxpay.SignMD5, wxpay.WithBaseURL("https://"+plain.Listener.Addr().String()),
		wxpay.WithFailover(backup.URL))
	_, err := c.UnifiedOrder(context.Background(), &wxpay.UnifiedOrderRequest{
		Body: "tea", OutTradeNo: "T1", TotalFee: 1, SpbillCreateIP: "203.0.113.7",
		TradeType: wxpay.TradeJSAPI, OpenID: "o1",
	})
	require.NoError(t, err)
	assert.Zero(t, hits.Load())
	_, ok := backup.Order("T1")
	assert.True(t, ok, "the backup never received the order")
}

// secretHolder is a caller's own struct holding the library's values in
// every way a program might: exported and unexported fields, an any,
// pointers, slices and maps.
type secretHolder struct {
	Client  *wxpay.Client
	Signer  *wxpay.Signer
	Any     any
	List    []any
	Map     map[string]any
	client  wxpay.Client
	signer  wxpay.Signer
	pclient *wxpay.Client
	anyv    any
}

// TestAttackSecretsAtAnyDepth prints the library's values under every fmt
// verb, every slog handler and encoding/json, at the top level and nested
// in a caller's struct, and looks for the API key and the key material
// derived from it (the refund key is the MD5 hex of the API key).
func TestAttackSecretsAtAnyDepth(t *testing.T) {
	t.Parallel()
	c := xClient(t, wxpay.SignHMACSHA256)
	s := c.Signer()
	cfg := xConfig(wxpay.SignMD5)
	refundKey := strings.ToLower(refsign.MD5(xAPIKey))
	// The key and the refund key derived from it, raw and in the forms
	// %x, %X and byte-slice printing would give them.
	var secrets []string
	for _, k := range []string{xAPIKey, refundKey} {
		secrets = append(secrets, k[:12], hex.EncodeToString([]byte(k[:12])), fmt.Sprint([]byte(k[:6])))
	}

	values := map[string]any{
		"Client": *c, "*Client": c, "Signer": *s, "*Signer": s,
		"holder": secretHolder{
			Client: c, Signer: s, Any: *c, List: []any{*c, *s}, Map: map[string]any{"c": *c, "s": *s},
			client: *c, signer: *s, pclient: c, anyv: *s,
		},
		"*holder":      &secretHolder{client: *c, signer: *s, anyv: *c},
		"[]Client":     []wxpay.Client{*c},
		"map[]*Signer": map[string]*wxpay.Signer{"s": s},
	}
	// Config is the caller's own data: it is covered wherever fmt can
	// reach its methods (top level, exported fields, slices, maps), slog
	// and JSON; %p and unexported fields are documented as not covered.
	configValues := map[string]any{
		"Config": cfg, "*Config": &cfg,
		"exported": struct{ C wxpay.Config }{cfg}, "slice": []wxpay.Config{cfg},
		"map": map[string]wxpay.Config{"c": cfg}, "any": struct{ A any }{cfg},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%p", "%t", "%T", "%08.3f", "%U"}
	check := func(t *testing.T, name string, v any, verbs []string) {
		var out []string
		for _, verb := range verbs {
			out = append(out, verb+" "+fmt.Sprintf(verb, v))
		}
		out = append(out, fmt.Sprint(v), fmt.Sprintln(v))
		for _, h := range []func(*bytes.Buffer) slog.Handler{
			func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		} {
			var buf bytes.Buffer
			l := slog.New(h(&buf))
			l.Info("x", "v", v)
			l.Info("x", slog.Group("g", slog.Any("v", v)))
			l.With("w", v).Info("x")
			out = append(out, buf.String())
		}
		if j, err := json.Marshal(v); err == nil {
			out = append(out, string(j))
		}
		for _, o := range out {
			for _, sec := range secrets {
				if strings.Contains(o, sec) || strings.Contains(strings.ToLower(o), strings.ToLower(sec)) {
					t.Errorf("%s: printed a secret: %.200s", name, o)
				}
			}
		}
	}
	for name, v := range values {
		check(t, name, v, verbs)
	}
	configVerbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"}
	for name, v := range configValues {
		check(t, name, v, configVerbs)
	}
	assert.Contains(t, fmt.Sprintf("%v", c), xAppID, "the merchant identity stays visible")
}

// TestAttackSignTypeHint: a notification signed with the other algorithm
// is the most common integration fault; the refusal says so.
func TestAttackSignTypeHint(t *testing.T) {
	t.Parallel()
	c := xClient(t, wxpay.SignMD5)
	_, err := c.ParseNotification(xSigned(t, wxpay.SignHMACSHA256, xS1(t)))
	require.ErrorIs(t, err, wxpay.ErrSignature)
	assert.Contains(t, err.Error(), "HMAC-SHA256")
	assert.Contains(t, err.Error(), "configured for MD5")
	assert.NotContains(t, err.Error(), xAPIKey)
	assert.False(t, errors.Is(err, wxpay.ErrSignType))
}
