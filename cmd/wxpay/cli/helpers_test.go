package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Public test keys: the official signing-doc key (WeChat Pay docs, 安全规范,
// https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3) and the key
// of the S6 refund vector (testdata/notify/README.md).
const (
	docKey   = "192006250b4c09247ec02edce69f6a2d"
	docAppID = "wxd930ea5d5a258f4f"
	docMchID = "10000100"
	s6Key    = "exposed_your_key_here_have_risks"
	v5Key    = "ziR0QKsTUfMOuochC9RfCdmfHECorQAP"
)

// secrets are values no output of the tool may contain, whatever the
// command: every key and AppSecret the tests configure.
var secrets = []string{docKey, s6Key, v5Key, testAppSecret, otherKey}

const (
	testAppSecret = "0123456789abcdef0123456789abcdef"
	otherKey      = "Zy0000000000000000000000000000zY"
)

// run runs the tool in-process and fails the test if any configured secret
// shows up in its output.
func run(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCtx(t, context.Background(), env, stdin, args...)
}

func runCtx(t *testing.T, ctx context.Context, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb)
	noSecrets(t, out.String()+errb.String())
	return code, out.String(), errb.String()
}

func noSecrets(t *testing.T, s string) {
	t.Helper()
	for _, k := range secrets {
		if strings.Contains(s, k) {
			t.Fatalf("output contains a secret (%d characters)", len(k))
		}
	}
}

// docEnv is the merchant of the official signing example.
func docEnv(kv ...string) map[string]string {
	env := map[string]string{EnvAPIKey: docKey, EnvAppID: docAppID, EnvMchID: docMchID}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(env, kv[i])
		} else {
			env[kv[i]] = kv[i+1]
		}
	}
	return env
}

// testdata reads a file of the root module's testdata.
func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
