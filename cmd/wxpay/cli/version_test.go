package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"-version"}, {"--version"}} {
		code, out, errOut := run(t, nil, "", args...)
		assert.Equal(t, ExitOK, code, args)
		assert.Empty(t, errOut)
		// A test binary records no module version: the release version
		// of the source tree is printed, and said to be one.
		assert.True(t, strings.HasPrefix(out, "wxpay "+releaseVersion+" (built from source"), out)
	}
	code, out, _ := run(t, nil, "", "version", "-json")
	require.Equal(t, ExitOK, code)
	var v versionInfo
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	assert.Equal(t, releaseVersion, v.Version)
	code, _, errOut := run(t, nil, "", "version", "extra")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "unexpected argument")
}

func TestBuildVersion(t *testing.T) {
	t.Parallel()
	mod := func(path, version string) debug.Module { return debug.Module{Path: path, Version: version} }
	tests := []struct {
		name string
		info *debug.BuildInfo
		want versionInfo
	}{
		{"go install @version", &debug.BuildInfo{GoVersion: "go1.22.0", Main: mod(modulePath, "v0.3.1")},
			versionInfo{Version: "v0.3.1", Source: "module", Go: "go1.22.0"}},
		{"linked into another module", &debug.BuildInfo{Main: mod("example.com/shop", "(devel)"),
			Deps: []*debug.Module{{Path: "golang.org/x/text", Version: "v0.14.0"}, {Path: modulePath, Version: "v0.2.0"}}},
			versionInfo{Version: "v0.2.0", Source: "module"}},
		{"replaced by a fork", &debug.BuildInfo{Main: mod("example.com/shop", ""),
			Deps: []*debug.Module{{Path: modulePath, Version: "v0.2.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v0.2.1"}}}},
			versionInfo{Version: "v0.2.1", Source: "module"}},
		{"checkout", &debug.BuildInfo{Main: mod(modulePath, "(devel)"), Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}}},
			versionInfo{Version: releaseVersion, Source: "source", Revision: "0123456789abcdef", Modified: true}},
		{"local replace", &debug.BuildInfo{Main: mod("example.com/shop", ""),
			Deps: []*debug.Module{{Path: modulePath, Version: "v0.0.0", Replace: &debug.Module{Path: "../"}}}},
			versionInfo{Version: releaseVersion, Source: "source"}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, buildVersion(tt.info, true), tt.name)
	}
	assert.Equal(t, versionInfo{Version: releaseVersion, Source: "source"}, buildVersion(nil, false))
}

// The fallback version is the newest release the changelog lists.
func TestReleaseVersionMatchesChangelog(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "CHANGELOG.md"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+)\]`).FindSubmatch(b)
	require.NotNil(t, m, "no released version in CHANGELOG.md")
	assert.Equal(t, "v"+string(m[1]), releaseVersion)
}

// Flags may follow the arguments; "--" ends them.
func TestFlagsAfterArguments(t *testing.T) {
	t.Parallel()
	in := writeFile(t, "msg.txt", v1Lines)
	cfg := writeFile(t, "wxpay.env", "WXPAY_API_KEY="+docKey+"\n")
	code, before, errOut := run(t, nil, "", "sign", "-config", cfg, "-json", in)
	require.Equal(t, ExitOK, code, errOut)
	code, after, errOut := run(t, nil, "", "sign", in, "-config", cfg, "-json")
	require.Equal(t, ExitOK, code, errOut)
	assert.Equal(t, before, after)
	code, mixed, errOut := run(t, nil, "", "sign", "-json", in, "-config", cfg)
	require.Equal(t, ExitOK, code, errOut)
	assert.Equal(t, before, mixed)

	// After "--", "-json" is a file name.
	code, _, errOut = run(t, nil, "", "sign", "-config", cfg, "--", "-json")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "-json")
	// The URL of notify, then its flags.
	code, _, errOut = run(t, docEnv(), "", "notify", "http://192.0.2.1/notify", "-out-trade-no", "O", "-total-fee", "1")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "not loopback", "the flags were read: the URL check ran")
	// A bad flag after an argument is still an error.
	code, _, errOut = run(t, nil, "", "sign", in, "-no-such-flag")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "flag provided but not defined: -no-such-flag")
}
