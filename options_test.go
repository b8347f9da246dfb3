package wxpay

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// WithOptions applies its options in order, as if given one by one, and
// refuses a nil one as NewClient does.
func TestWithOptions(t *testing.T) {
	t.Parallel()
	c, err := NewClient(testConfig(), WithOptions(WithBaseURL("https://a.example"), WithBaseURL("https://b.example")))
	require.NoError(t, err)
	assert.Equal(t, "https://b.example", c.baseURL, "the later option wins, as given one by one")

	c, err = NewClient(testConfig(), WithOptions(WithBaseURL("https://a.example")), WithBaseURL("https://c.example"))
	require.NoError(t, err)
	assert.Equal(t, "https://c.example", c.baseURL, "an option after the bundle overrides it")

	_, err = NewClient(testConfig(), WithOptions(WithBaseURL("https://a.example"), nil))
	assert.EqualError(t, err, "wxpay: WithOptions: nil Option")
	_, err = NewClient(testConfig(), WithOptions(WithBaseURL("not a URL")))
	assert.Error(t, err, "a failing option fails NewClient")
}
