package wxpay

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
