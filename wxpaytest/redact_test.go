package wxpaytest_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// Neither the key nor the AppSecret shows through fmt or slog, at any
// depth, nor in the fake's logs.
func TestNoSecretsPrinted(t *testing.T) {
	var logs bytes.Buffer
	cfg := testConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	post(t, s, "/pay/unifiedorder", signed(t, orderFields("r-1"), "00000000000000000000000000000000", "")) // logged refusal

	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&out, verb+"\n", cfg)
		fmt.Fprintf(&out, verb+"\n", &cfg)
		fmt.Fprintf(&out, verb+"\n", s.Fake)
		fmt.Fprintf(&out, verb+"\n", s)
		fmt.Fprintf(&out, verb+"\n", struct{ C wxpaytest.Config }{cfg})
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "cfg", cfg, "fake", s.Fake)
	for _, b := range [][]byte{out.Bytes(), logs.Bytes()} {
		assert.NotContains(t, string(b), testKey)
		assert.NotContains(t, string(b), testSecret)
	}
	assert.Contains(t, out.String(), testMchID)
	assert.Contains(t, logs.String(), "签名错误")
}
