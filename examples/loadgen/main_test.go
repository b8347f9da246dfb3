package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/cmd/wxpay/cli"
	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRun drives an instance on SQLite in shared-fake mode, with a
// standalone fake WeChat, on each generation of WeChat Pay, and checks
// the counts it reports. On v3 the fake is the wxpay command's (fake -v3
// -v3-dir), run in-process, and the instance and loadgen take their
// settings from the wxpay.env it writes, as ../README.md does; loadgen
// can only count a v3 notification by opening it with the APIv3 key.
// (Several instances on PostgreSQL are tested in package app.)
func TestRun(t *testing.T) {
	for _, api := range []string{"v2", "v3"} {
		t.Run(api, func(t *testing.T) {
			lbAddr := freeAddr(t)
			var fakeURL string
			var extra []string
			var c app.Config
			if api == "v2" {
				cfg := wxpaytest.Config{AppID: "wx0123456789abcdef", MchID: "1900000109", APIKey: "0123456789abcdefghijklmnopqrstuv",
					SignType: wxpay.SignHMACSHA256, AppSecret: "0123456789abcdef0123456789abcdef"}
				fake, err := wxpaytest.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				fakeSrv := httptest.NewServer(fake)
				t.Cleanup(fakeSrv.Close)
				t.Cleanup(fake.Close)
				fakeURL = fakeSrv.URL
				c = app.Config{WeChatURL: fakeSrv.URL, AppID: cfg.AppID, MchID: cfg.MchID, APIKey: cfg.APIKey, AppSecret: cfg.AppSecret, API: "v2"}
			} else {
				var env map[string]string
				fakeURL, env = startFakeV3(t)
				envFile := env["file"]
				env["WXPAY_API"] = "v3"
				var err error
				if c, err = app.ParseConfig(nil, func(k string) string { return env[k] }); err != nil {
					t.Fatal(err)
				}
				extra = []string{"-env", envFile}
			}
			c.Addr, c.DBPath, c.PublicURL = "127.0.0.1:0", t.TempDir()+"/shop.db", "http://"+lbAddr
			c.JWTSecret = "load-test-secret-0123456789abcdefghijklmnop"
			s, err := app.Start(context.Background(), c, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			var out, errOut bytes.Buffer
			args := append([]string{"-targets", s.URL, "-fake", fakeURL, "-listen", lbAddr, "-c", "4", "-n", "12", "-progress", "0"}, extra...)
			code := run(context.Background(), args, &out, &errOut)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
			}
			if !regexp.MustCompile(`12 cycles in [0-9.]+s: [0-9.]+ orders/s, [0-9.]+ notifications/s, errors 0`).MatchString(out.String()) {
				t.Errorf("summary missing:\n%s", out.String())
			}
			if !regexp.MustCompile(`(?m)^notify\s+12\s`).MatchString(out.String()) {
				t.Errorf("12 notifications not reported:\n%s", out.String())
			}
			if api == "v3" && c.APIv3Key != "" && strings.Contains(out.String()+errOut.String(), c.APIv3Key) {
				t.Error("loadgen printed the APIv3 key")
			}
		})
	}
}

// startFakeV3 runs `wxpay fake -v3 -v3-dir` in-process until the test
// ends, with nothing in its environment, and returns its URL and the
// settings of the wxpay.env it wrote (and the file's name under "file").
func startFakeV3(t *testing.T) (string, map[string]string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fake")
	ctx, cancel := context.WithCancel(context.Background())
	stdinR, stdinW := io.Pipe()
	outR, outW := io.Pipe()
	var logs bytes.Buffer
	var logsMu sync.Mutex
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, []string{"fake", "-json", "-v3", "-v3-dir", dir, "-addr", "127.0.0.1:0"},
			func(string) string { return "" }, stdinR, outW, lockedWriter{&logsMu, &logs})
		outW.Close()
	}()
	t.Cleanup(func() {
		cancel()
		stdinW.Close()
		if code := <-done; code != 0 {
			logsMu.Lock()
			defer logsMu.Unlock()
			t.Errorf("wxpay fake exited %d:\n%s", code, logs.String())
		}
	})
	sc := bufio.NewScanner(outR)
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		t.Fatal("wxpay fake printed no banner")
	}
	var banner struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(sc.Bytes(), &banner); err != nil || banner.URL == "" {
		t.Fatalf("wxpay fake banner: %v", err)
	}
	go io.Copy(io.Discard, outR) //nolint:errcheck // keeps the fake's stdout flowing
	name := filepath.Join(dir, "wxpay.env")
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"file": name}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	if env["WXPAY_BASE_URL"] != banner.URL || len(env["WXPAY_APIV3_KEY"]) != 32 {
		t.Fatalf("wxpay.env lacks the fake's URL or a 32-byte APIv3 key (has %d settings)", len(env))
	}
	return banner.URL, env
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestParseRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"-targets", "http://10.0.0.1:8081"},
		{"-targets", "https://example.com"},
		{"-fake", "http://192.168.1.1:8090"},
		{"-listen", "0.0.0.0:8080"},
		{"-c", "0"},
		{"-c", "5000"},
		{"-n", "0"},
		{"-n", "2000000"},
		{"-duration", "2h"},
		{"-targets", ""},
		{"extra"},
	} {
		if _, err := parse(args); err == nil {
			t.Errorf("parse(%q) accepted", args)
		}
	}
	if _, err := parse(nil); err != nil {
		t.Errorf("defaults refused: %v", err)
	}
}

// TestParseAPIv3Key: the APIv3 key comes from -env's file, or else from
// WXPAY_APIV3_KEY; a missing file, a file without the key and a key that
// is not 32 bytes are refused, and no error shows the key's value.
func TestParseAPIv3Key(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const key = "abcdefghijklmnopqrstuvwxyz012345"
	good := write("good.env", "# comment\nWXPAY_APPID=wx1\nexport WXPAY_APIV3_KEY='"+key+"'\n")
	t.Setenv("WXPAY_APIV3_KEY", "")
	if c, err := parse([]string{"-env", good}); err != nil || string(c.apiv3Key) != key {
		t.Errorf("-env good.env: key of %d bytes, %v", len(c.apiv3Key), err)
	}
	if c, err := parse(nil); err != nil || len(c.apiv3Key) != 0 {
		t.Errorf("no key anywhere: key of %d bytes, %v; want none (v2 only)", len(c.apiv3Key), err)
	}
	t.Setenv("WXPAY_APIV3_KEY", key)
	if c, err := parse(nil); err != nil || string(c.apiv3Key) != key {
		t.Errorf("WXPAY_APIV3_KEY: key of %d bytes, %v", len(c.apiv3Key), err)
	}
	for name, args := range map[string][]string{
		"missing file": {"-env", filepath.Join(dir, "none.env")},
		"no key":       {"-env", write("nokey.env", "WXPAY_APPID=wx1\n")},
		"short key":    {"-env", write("short.env", "WXPAY_APIV3_KEY=short-secret-value\n")},
		"huge file":    {"-env", write("huge.env", strings.Repeat("#", 65<<10))},
	} {
		_, err := parse(args)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "short-secret-value") {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
	t.Setenv("WXPAY_APIV3_KEY", "short-secret-value")
	if _, err := parse(nil); err == nil || strings.Contains(err.Error(), "short-secret-value") {
		t.Errorf("short WXPAY_APIV3_KEY: %v", err)
	}
}
