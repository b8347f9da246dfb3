package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHelpOnEverySubcommand(t *testing.T) {
	t.Parallel()
	for _, cmd := range commands() {
		for _, h := range []string{"-h", "-help", "--help"} {
			code, out, errOut := run(t, nil, "", cmd.name, h)
			assert.Equal(t, ExitOK, code, cmd.name)
			assert.True(t, strings.HasPrefix(out, "Usage: wxpay "+cmd.name+" "), cmd.name)
			if cmd.name != "version" { // reads no settings
				assert.Contains(t, out, "-config file", cmd.name)
			}
			assert.Contains(t, out, "-json", cmd.name)
			assert.Empty(t, errOut, cmd.name)
		}
	}
}

func TestTopLevel(t *testing.T) {
	t.Parallel()
	code, out, _ := run(t, nil, "", "-h")
	assert.Equal(t, ExitOK, code)
	for _, cmd := range commands() {
		assert.Contains(t, out, "\t"+cmd.name+" ")
	}
	for _, s := range settingNames {
		assert.Contains(t, out, s.name)
	}

	code, out, errOut := run(t, nil, "")
	assert.Equal(t, ExitUsage, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "Usage:")

	code, _, errOut = run(t, nil, "", "pay")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, `unknown command "pay"`)
}

func TestBadFlagIsUsageError(t *testing.T) {
	t.Parallel()
	for _, cmd := range commands() {
		code, out, errOut := run(t, docEnv(), "", cmd.name, "-no-such-flag")
		assert.Equal(t, ExitUsage, code, cmd.name)
		assert.Empty(t, out, cmd.name)
		assert.Contains(t, errOut, "flag provided but not defined: -no-such-flag", cmd.name)
		assert.Equal(t, 1, strings.Count(errOut, "Usage: wxpay "+cmd.name), cmd.name)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "(not set)", redact(""))
	assert.Equal(t, "*** (1 character)", redact("x"))
	assert.Equal(t, "*** (32 characters)", redact(docKey))
	s := settings{AppID: docAppID, APIKey: docKey}
	noSecrets(t, s.String())
	assert.Contains(t, s.String(), docAppID)
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "abc", truncate("abc", 3))
	assert.Equal(t, "ab…", truncate("abcd", 2))
	// Never cut inside a UTF-8 sequence: 支 is 3 bytes.
	assert.Equal(t, "…", truncate("支付", 2))
	assert.Equal(t, "支…", truncate("支付", 4))
}
