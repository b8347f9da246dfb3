package cli

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notify -v3 follows no redirect: a merchant URL answering 3xx is not an
// acknowledgement, and the signed notification never reaches the place
// the redirect names, loopback or not.
func TestNotifyV3NeverFollowsRedirects(t *testing.T) {
	t.Parallel()
	env, _ := v3NotifyEnv(t)
	var reached atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer target.Close()
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/notify", status)
		}))
		code, out, errOut := run(t, env, "", "notify", "-v3", "-out-trade-no", "ORDER-R", "-amount", "1", redirect.URL+"/notify")
		redirect.Close()
		assert.NotEqual(t, ExitOK, code, "a %d is no acknowledgement: %s", status, out+errOut)
		assert.Contains(t, out+errOut, "not acknowledged")
	}
	assert.Zero(t, reached.Load(), "a redirect was followed")
}

// The loopback rule of notify -v3 reads the URL's host as the dialer
// will: IPv6 loopback is loopback, an IPv4-mapped or unspecified address
// and names that merely contain "localhost" or "127.0.0.1" are not, and
// user info cannot disguise the host.
func TestNotifyV3LoopbackRule(t *testing.T) {
	t.Parallel()
	env, pub := v3NotifyEnv(t)
	for _, u := range []string{
		"http://[::ffff:10.0.0.1]/notify",
		"http://[::]/notify",
		"http://0.0.0.0/notify",
		"http://127.0.0.1.nip.io/notify",
		"http://localhost.example.com/notify",
		"http://127.0.0.1@192.0.2.1/notify",
		"http://[fe80::1%25lo]/notify",
	} {
		code, out, errOut := run(t, env, "", "notify", "-v3", "-out-trade-no", "O", "-amount", "1", u)
		assert.Equal(t, ExitUsage, code, u)
		assert.Empty(t, out, u)
		assert.Contains(t, errOut, "not loopback", u)
	}
	// IPv6 loopback is served, when the machine has it.
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no IPv6 loopback under CI: %v", err)
		}
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	m := newV3MerchantServer(t, pub)
	srv := &http.Server{Handler: m.Config.Handler}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	code, out, errOut := run(t, env, "", "notify", "-v3", "-out-trade-no", "ORDER-V6", "-amount", "1", "http://"+l.Addr().String()+"/notify")
	require.Equal(t, ExitOK, code, out+errOut)
	pays, _, _ := m.snapshot()
	require.Len(t, pays, 1)
	assert.Equal(t, "ORDER-V6", pays[0].Transaction.OutTradeNo)
}

// fake -v3 refuses a key directory another user owns, or a key in it
// another user owns: whoever owns them can replace the keys the fake
// signs with. (Changing an owner needs root; elsewhere the test skips.)
func TestFakeV3DirOwnedByAnother(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX owners on windows")
	}
	if os.Geteuid() != 0 {
		// CI runs as root (it installs its services with apt-get), so
		// there the refusal is always tested.
		if os.Getenv("CI") == "true" {
			t.Fatal("changing a directory's owner needs root, and CI runs as root")
		}
		t.Skip("changing a directory's owner needs root")
	}
	const nobody = 65534
	theirs := t.TempDir()
	require.NoError(t, os.Chmod(theirs, 0o755))
	require.NoError(t, os.Chown(theirs, nobody, nobody))
	theirKey := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(theirKey, v3FileWeChatPayKey), mustRead(t, v3Dir+"k-wgo.pem"), 0o600))
	require.NoError(t, os.Chown(filepath.Join(theirKey, v3FileWeChatPayKey), nobody, nobody))
	theirEnv := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(theirEnv, v3FileSettings), []byte("WXPAY_MCHID=1900009191\n"), 0o600))
	require.NoError(t, os.Chown(filepath.Join(theirEnv, v3FileSettings), nobody, nobody))
	// A symlink to a directory of theirs is theirs.
	link := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.Symlink(theirs, link))
	for name, dir := range map[string]string{"dir": theirs, "key": theirKey, "wxpay.env": theirEnv, "symlinked dir": link} {
		t.Run(name, func(t *testing.T) {
			// Bounded: a fake that wrongly accepts the directory serves
			// until its context ends, and the test then fails instead of
			// hanging.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			code, out, errOut := runCtx(t, ctx, nil, "", "fake", "-addr", "127.0.0.1:0", "-v3", "-v3-dir", dir)
			assert.Equal(t, ExitUsage, code, out)
			assert.Contains(t, errOut, "owned by another user")
		})
	}
	entries, err := os.ReadDir(theirs)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing was written into their directory")
}

// verify's auto-detection never verifies one generation's message as
// the other's: a v2 answer captured with curl -i is refused with the way
// to verify it, a v3 message with an XML body is refused as v2, and a
// name=value line holding a colon stays v2.
func TestVerifyDetectionAcrossGenerations(t *testing.T) {
	t.Parallel()
	v2Signed := "<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info><body>test</body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str><sign>9A0A8659F005D6984697E2CA0A9CF3B7</sign></xml>"
	for name, tc := range map[string]struct {
		in, want string
	}{
		"v2 answer as curl -i writes it": {"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n" + v2Signed, "a v2 message needs no headers"},
		"v3 headers over an XML body":    {"HTTP/1.1 200 OK\nWechatpay-Serial: PUB_KEY_ID_0114232134912410000000000000\nWechatpay-Nonce: n\nWechatpay-Timestamp: 1\nWechatpay-Signature: x\n\n" + v2Signed, "the body is XML, an API v2 message"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := run(t, docEnv(), tc.in, "verify")
			assert.Equal(t, ExitUsage, code, out)
			assert.Contains(t, errOut, tc.want)
			assert.NotContains(t, out+errOut, "OK")
		})
	}
	// A v2 field whose value holds a colon is read as v2 and verified.
	code, out, errOut := run(t, docEnv(), "", "verify", writeFile(t, "f.txt", v1Lines+"sign=9A0A8659F005D6984697E2CA0A9CF3B7\n"))
	assert.Equal(t, ExitOK, code, out+errOut)
	code, out, _ = run(t, docEnv(), "attach=a:b\n"+v1Lines+"sign=0\n", "verify")
	assert.Equal(t, ExitFail, code, "v2's verdict (a wrong sign), not a v3 refusal: %s", out)
	assert.Contains(t, out, "&attach=a:b&")
}

// The files fake -v3 writes have the modes it promises (keys and
// wxpay.env 0600, the rest 0644, a new directory 0700), whatever was in
// their place: a pre-existing world-writable public file is replaced,
// not written through, and a symlink planted under a file's name is
// replaced by the file, its target untouched.
func TestFakeV3FileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX modes on windows")
	}
	dir := filepath.Join(t.TempDir(), "new")
	elsewhere := filepath.Join(t.TempDir(), "target")
	require.NoError(t, os.WriteFile(elsewhere, []byte("theirs"), 0o666))
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, v3FilePubKey), []byte("planted"), 0o666))
	require.NoError(t, os.Chmod(filepath.Join(dir, v3FilePubKey), 0o666))
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(dir, v3FilePlatformCert)))
	startFakeV3(t, nil, dir)

	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	for name, want := range map[string]os.FileMode{
		v3FileWeChatPayKey: 0o600, v3FileMchKey: 0o600, v3FileSettings: 0o600,
		v3FilePubKey: 0o644, v3FilePlatformCert: 0o644, v3FileMchCert: 0o644,
	} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		require.NoError(t, err, name)
		assert.True(t, fi.Mode().IsRegular(), "%s is a regular file", name)
		assert.Equal(t, want, fi.Mode().Perm(), name)
	}
	assert.NotEqual(t, "planted", string(mustRead(t, filepath.Join(dir, v3FilePubKey))))
	assert.Equal(t, "theirs", string(mustRead(t, elsewhere)), "the symlink's target is untouched")
}

// A -config file holding a secret (the API key, the APIv3 key, the
// AppSecret) that other users may read is refused, naming neither the
// value nor the secret; the same file without secrets may be shared.
func TestConfigFileWithSecretsMustBePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX modes on windows")
	}
	t.Parallel()
	for name, content := range map[string]string{
		"API key":    "WXPAY_APPID=wxd930ea5d5a258f4f\nWXPAY_MCHID=10000100\nWXPAY_API_KEY=192006250b4c09247ec02edce69f6a2d\n",
		"APIv3 key":  "WXPAY_MCHID=10000100\nWXPAY_APIV3_KEY=a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb\n",
		"AppSecret":  "WXPAY_APPID=wxd930ea5d5a258f4f\nWX_APP_SECRET=0123456789abcdef0123456789abcdef\n",
		"no secrets": "WXPAY_APPID=wxd930ea5d5a258f4f\nWXPAY_MCHID=10000100\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			file := writeFile(t, "wxpay.env", content)
			require.NoError(t, os.Chmod(file, 0o644))
			code, out, errOut := run(t, nil, v1Lines, "sign", "-config", file)
			if name == "no secrets" {
				assert.NotContains(t, errOut, "chmod 600")
				return
			}
			assert.Equal(t, ExitUsage, code, out)
			assert.Contains(t, errOut, "lets other users read the secrets in it; chmod 600 it")
			for _, line := range strings.Split(content, "\n") {
				if _, v, ok := strings.Cut(line, "="); ok {
					assert.NotContains(t, out+errOut, v)
				}
			}
			require.NoError(t, os.Chmod(file, 0o600))
			_, _, errOut = run(t, nil, v1Lines, "sign", "-config", file)
			assert.NotContains(t, errOut, "chmod 600")
		})
	}
}
