package wxpay

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// No way of printing a value that holds the API key may show the key, or
// the HMAC pads and suffix derived from it.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	cfg := Config{AppID: "wxd930ea5d5a258f4f", MchID: "10000100", APIKey: testKey, SignType: SignHMACSHA256}
	c, err := NewClient(cfg)
	require.NoError(t, err)
	s := c.Signer()

	values := map[string]any{
		"Config": cfg, "*Config": &cfg,
		"Client": *c, "*Client": c,
		"Signer": *s, "*Signer": s,
	}
	// The key's bytes XORed into the pads would reveal it too.
	ipadHex := hex.EncodeToString(s.ipad[:8])
	for name, v := range values {
		var out []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			out = append(out, fmt.Sprintf(verb, v))
		}
		out = append(out, fmt.Sprint(v), fmt.Sprintln(v))
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
		out = append(out, buf.String())
		for _, o := range out {
			assert.NotContains(t, o, testKey, name)
			assert.NotContains(t, o, testKey[:8], name)
			assert.NotContains(t, strings.ToLower(o), ipadHex, name)
		}
	}
	assert.Contains(t, fmt.Sprintf("%+v", c), "wxd930ea5d5a258f4f", "identity stays visible")
	assert.Contains(t, fmt.Sprintf("%v", cfg), "APIKey:REDACTED")
}
