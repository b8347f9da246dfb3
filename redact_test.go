package wxpay

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigJSONRedacted(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	assert.JSONEq(t, `{"AppID":"`+testAppID+`","MchID":"`+testMchID+`","APIKey":"REDACTED","SignType":"","NotifyURL":"`+testNotifyURL+`"}`, string(b))
	// Loading a Config from JSON still works.
	var back Config
	require.NoError(t, json.Unmarshal([]byte(`{"AppID":"`+testAppID+`","APIKey":"`+testKey+`"}`), &back))
	assert.Equal(t, testKey, back.APIKey)
}
