package wxpay

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
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
	ipadHex := hex.EncodeToString(s.k.ipad[:8])
	// fmt cannot call methods on values in unexported fields; it dumps
	// them, but prints pointers below the top level as addresses, which
	// is why Client and Signer keep key material behind pointers. (A verb
	// that does not fit a pointer, such as %s or %x, dumps pointees too;
	// nothing short of not holding the key could stop that.)
	nested := struct {
		c Client
		s Signer
		p *Client
	}{*c, *s, c}
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		o := fmt.Sprintf(verb, nested)
		assert.NotContains(t, o, testKey[:8], "nested "+verb)
		assert.NotContains(t, strings.ToLower(o), ipadHex, "nested "+verb)
	}
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
		if j, err := json.Marshal(v); err == nil {
			out = append(out, string(j))
		}
		for _, o := range out {
			assert.NotContains(t, o, testKey, name)
			assert.NotContains(t, o, testKey[:8], name)
			assert.NotContains(t, strings.ToLower(o), ipadHex, name)
		}
	}
	assert.Contains(t, fmt.Sprintf("%+v", c), "wxd930ea5d5a258f4f", "identity stays visible")
	assert.Contains(t, fmt.Sprintf("%v", cfg), "APIKey:REDACTED")
}

func TestConfigJSONRedacted(t *testing.T) {
	t.Parallel()
	cfg := Config{AppID: "wx1", MchID: "1", APIKey: testKey}
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	assert.JSONEq(t, `{"AppID":"wx1","MchID":"1","APIKey":"REDACTED","SignType":"","NotifyURL":""}`, string(b))
	// Loading a Config from JSON still works.
	var back Config
	require.NoError(t, json.Unmarshal([]byte(`{"AppID":"wx1","APIKey":"`+testKey+`"}`), &back))
	assert.Equal(t, testKey, back.APIKey)
}
