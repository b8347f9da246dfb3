package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidName(t *testing.T) {
	for _, s := range []string{"a", "_", "appid", "out_trade_no", "coupon_fee_0", "A.b-c", "x9"} {
		assert.True(t, ValidName(s), s)
	}
	for _, s := range []string{"", "9a", "-a", ".a", "a b", "a=b", "a<b", "a/b", "é", "a\x00", "<xml>"} {
		assert.False(t, ValidName(s), s)
	}
}

func TestRandString(t *testing.T) {
	// Bytes 0..61 map to the alphabet in order; 248..255 are discarded
	// (248 = 4*62), so a source of 248 and 0,1,2 gives "012".
	s, err := RandString(bytes.NewReader(append([]byte{248, 0, 1, 2}, make([]byte, 60)...)), Alnum, 3)
	require.NoError(t, err)
	assert.Equal(t, "012", s)
	// 10 digits: bytes at or above 250 are discarded; 249 is 9.
	s, err = RandString(bytes.NewReader(append([]byte{250, 255, 249, 10}, make([]byte, 60)...)), Digits, 2)
	require.NoError(t, err)
	assert.Equal(t, "90", s)

	_, err = RandString(bytes.NewReader(nil), Alnum, 1)
	assert.ErrorContains(t, err, "read random source")
	_, err = RandString(bytes.NewReader(bytes.Repeat([]byte{255}, 64*16)), Alnum, 1)
	assert.ErrorContains(t, err, "too few usable bytes")
	_, err = RandString(bytes.NewReader(nil), "", 1)
	assert.Error(t, err)
	_, err = RandString(bytes.NewReader(nil), strings.Repeat("a", 257), 1)
	assert.Error(t, err)

	long := MustRandString(Digits, 300)
	assert.Len(t, long, 300)
	assert.Equal(t, "", strings.Trim(long, Digits))
	assert.NotEqual(t, MustRandString(Alnum, 32), MustRandString(Alnum, 32))
}

func TestLoopback(t *testing.T) {
	for _, h := range []string{"localhost", "LocalHost", "127.0.0.1", "127.9.9.9", "::1"} {
		assert.True(t, LoopbackHost(h), h)
	}
	for _, h := range []string{"", "0.0.0.0", "::", "192.0.2.1", "localhost.example", "127.0.0.1.nip.io", "[::1]"} {
		assert.False(t, LoopbackHost(h), h)
	}
	resolves := func(ips ...string) func(context.Context, string) ([]net.IPAddr, error) {
		return func(context.Context, string) ([]net.IPAddr, error) {
			var out []net.IPAddr
			for _, s := range ips {
				out = append(out, net.IPAddr{IP: net.ParseIP(s)})
			}
			return out, nil
		}
	}
	failing := func(context.Context, string) ([]net.IPAddr, error) { return nil, errors.New("no such host") }
	ctx := context.Background()
	for _, addr := range []string{"127.0.0.1:0", "[::1]:80", "localhost:8090"} {
		assert.NoError(t, CheckLoopbackListen(ctx, "-addr", addr, failing), addr)
	}
	assert.NoError(t, CheckLoopbackListen(ctx, "-addr", "dev.test:80", resolves("127.0.0.1", "::1")))
	for _, c := range []struct {
		addr   string
		lookup func(context.Context, string) ([]net.IPAddr, error)
		want   string
	}{
		{"nohost", failing, "-addr: "},
		{":80", failing, "-addr :80 listens on every interface"},
		{"0.0.0.0:80", failing, "-addr 0.0.0.0:80 is not loopback"},
		{"[::]:80", failing, "is not loopback"},
		{"dev.test:80", failing, "-addr: cannot tell whether dev.test is loopback: no such host"},
		{"dev.test:80", resolves(), "-addr: dev.test has no address"},
		{"dev.test:80", resolves("127.0.0.1", "192.0.2.7"), "-addr dev.test resolves to 192.0.2.7, which is not loopback"},
	} {
		assert.ErrorContains(t, CheckLoopbackListen(ctx, "-addr", c.addr, c.lookup), c.want, c.addr)
	}
}

type shown struct{}

func (shown) Format(f fmt.State, verb rune) { FormatRedacted(f, verb, "[redacted]", "T([redacted])") }

func TestFormatRedacted(t *testing.T) {
	var v shown
	assert.Equal(t, "[redacted] [redacted] \"[redacted]\" T([redacted]) %!d([redacted])",
		fmt.Sprintf("%v %s %q %#v %d", v, v, v, v, v))
	assert.Equal(t, "REDACTED", RedactedIf(true))
	assert.Equal(t, `""`, RedactedIf(false))
}

func TestErrorText(t *testing.T) {
	errA := NewError("wxpay: ", "amount malformed")
	assert.Equal(t, "wxpay: amount malformed", errA.Error())
	assert.Equal(t, "amount malformed", Text(errA))
	wrapped := Errorf("wxpay: ", "field %s: %w", "total_fee", errA)
	assert.Equal(t, "wxpay: field total_fee: amount malformed", wrapped.Error())
	assert.Equal(t, "field total_fee: amount malformed", Text(wrapped))
	assert.ErrorIs(t, wrapped, errA)
	// An error from outside the module keeps its whole text.
	eof := errors.New("wxpay: looks like ours but is not")
	assert.Equal(t, eof.Error(), Text(eof))
	two := Errorf("apiv3: ", "%w and %w", errA, context.Canceled)
	assert.Equal(t, "apiv3: amount malformed and context canceled", two.Error())
	assert.ErrorIs(t, two, errA)
	assert.ErrorIs(t, two, context.Canceled)
	none := Errorf("apiv3: ", "plain %d", 1)
	assert.Equal(t, "apiv3: plain 1", none.Error())
	assert.Nil(t, errors.Unwrap(none))

	assert.Equal(t, "refund: invalid out_refund_no: is required", RequestText("refund", "out_refund_no", "is required"))
	assert.Equal(t, "refund: outcome unknown, the request may have reached WeChat (retry with the same out_refund_no): amount malformed",
		OutcomeUnknownText("refund", "out_refund_no", errA))
	assert.Equal(t, " (retryable: call again with the same out_trade_no)", RetryHint("out_trade_no"))
}
