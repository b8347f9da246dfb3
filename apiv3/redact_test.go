package apiv3

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secretsOf lists text that would reveal the merchant's keys: the APIv3
// key, lines of the private key's PEM, and its private numbers in the
// bases fmt prints big integers in.
func secretsOf(t *testing.T, cfg Config, k *rsa.PrivateKey) []string {
	s := []string{cfg.APIv3Key}
	for _, line := range strings.Split(string(cfg.PrivateKey), "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") {
			s = append(s, line)
		}
	}
	for _, n := range append([]*big.Int{k.D}, k.Primes...) {
		s = append(s, n.String()[:24], n.Text(16)[:24])
	}
	return s
}

// holders nest a value the ways a program might before printing it.
type exportedHolder struct{ V any }
type unexportedHolder struct{ v any }
type clientPtrHolder struct{ c *Client }
type clientValHolder struct{ C Client }

func TestNoSecretsPrinted(t *testing.T) {
	cfg := baseConfig(t)
	cfg.PlatformCertificates = true
	c, err := NewClient(cfg, WithClock(func() time.Time { return certNow }))
	require.NoError(t, err)
	secrets := secretsOf(t, cfg, parseKeyPEM(t, cfg.PrivateKey))
	signerCfg := cfg
	signerCfg.PrivateKey, signerCfg.Signer = nil, parseKeyPEM(t, cfg.PrivateKey)

	values := map[string]any{
		"config":                             cfg,
		"*config":                            &cfg,
		"config with Signer":                 signerCfg,
		"config in exported field":           exportedHolder{cfg},
		"config in slice":                    []Config{cfg},
		"config in map":                      map[string]Config{"m": cfg},
		"client":                             c,
		"client value":                       *c,
		"client in exported field":           exportedHolder{c},
		"client in unexported field":         unexportedHolder{c},
		"client pointer in unexported field": clientPtrHolder{c},
		"client value in exported field":     clientValHolder{*c},
		"client in slice":                    []*Client{c},
		"client in map":                      map[string]*Client{"c": c},
		"client key":                         c.apiV3Key,
		"client key in unexported field":     unexportedHolder{c.apiV3Key},
	}
	// The detector itself works: the raw material is caught.
	leaks := func(out string) bool {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				return true
			}
		}
		return false
	}
	require.True(t, leaks(fmt.Sprintf("%s", exportedHolder{cfg.PrivateKey})))
	require.True(t, leaks(fmt.Sprintf("%+v", *parseKeyPEM(t, cfg.PrivateKey))))
	require.True(t, leaks(fmt.Sprintf("%x", parseKeyPEM(t, cfg.PrivateKey).D)))
	require.True(t, leaks(fmt.Sprintf("%v", unexportedHolder{cfg.APIv3Key})))
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%p"}
	check := func(t *testing.T, what, out string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Fatalf("%s leaks a secret: %.200s", what, out)
			}
		}
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			for _, verb := range verbs {
				if verb == "%p" && strings.HasPrefix(name, "config") {
					continue // documented: fmt prints %p by reflection
				}
				check(t, verb, fmt.Sprintf(verb, v))
			}
			for _, h := range []slog.Handler{
				slog.NewJSONHandler(new(bytes.Buffer), nil),
				slog.NewTextHandler(new(bytes.Buffer), nil),
			} {
				var buf bytes.Buffer
				switch h.(type) {
				case *slog.JSONHandler:
					h = slog.NewJSONHandler(&buf, nil)
				default:
					h = slog.NewTextHandler(&buf, nil)
				}
				slog.New(h).Info("x", "v", v, slog.Group("g", "v", v))
				check(t, "slog", buf.String())
			}
			if b, err := json.Marshal(v); err == nil {
				check(t, "json", string(b))
			}
		})
	}
	// Config nested in an unexported field is printed by reflection,
	// without its methods; that case is documented on Config.String, and
	// it is the caller's struct. The Client has no such gap: checked
	// above with every verb.
}

// TestErrorsCarryNoSecrets runs failures that involve the keys and checks
// their text.
func TestErrorsCarryNoSecrets(t *testing.T) {
	cfg := baseConfig(t)
	secrets := secretsOf(t, cfg, parseKeyPEM(t, cfg.PrivateKey))
	bad := cfg
	bad.APIv3Key = cfg.APIv3Key + "x"
	_, err := NewClient(bad)
	require.Error(t, err)
	for _, s := range append(secrets, bad.APIv3Key) {
		assert.NotContains(t, err.Error(), s)
	}
	bad = cfg
	bad.PrivateKey = append([]byte(nil), cfg.PrivateKey...)
	bad.PrivateKey[100] ^= 1
	_, err = NewClient(bad)
	require.Error(t, err)
	for _, s := range secrets {
		assert.NotContains(t, err.Error(), s)
	}
}

type failingStore struct{}

func (failingStore) LoadCertificates(context.Context, string) ([]*x509.Certificate, error) {
	return nil, errors.New("store down")
}
func (failingStore) SaveCertificates(context.Context, string, []*x509.Certificate) error {
	return errors.New("store down")
}

// TestLogsCarryNoSecrets logs at Debug through a call, a failover and a
// certificate refresh that hits a failing store: the records say what
// happened, and never carry a key, the Authorization header or a
// signature.
func TestLogsCarryNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f, c, _, _ := certSetup(t, WithLogger(log), WithCertificateStore(failingStore{}))
	f.route("GET /v3/pay/transactions/out-trade-no/T1", func(*http.Request) (int, string) { return http.StatusOK, `{}` })
	_, _, err := query(t, c, "T1")
	require.NoError(t, err)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "https://" + l.Addr().String()
	require.NoError(t, l.Close())
	cfg := baseConfig(t)
	c2, err := NewClient(cfg, WithHTTPClient(f.srv.Client()), WithBaseURL(dead), WithFailover(f.srv.URL),
		WithClock(func() time.Time { return certNow }), WithLogger(log))
	require.NoError(t, err)
	f.setSigner(fakeKey{fakePubKeyID, parseKeyPEM(t, loadVec(t, "k-off.pem"))})
	_, _, err = query(t, c2, "T1")
	require.NoError(t, err)

	out := buf.String()
	assert.Contains(t, out, `"msg":"apiv3: call"`)
	assert.Contains(t, out, "failing over")
	assert.Contains(t, out, "store down")
	secrets := secretsOf(t, cfg, parseKeyPEM(t, cfg.PrivateKey))
	auth, _ := f.lastAuth.Load().(string)
	items, _ := parseAuthForTest(auth)
	secrets = append(secrets, items["signature"][:32], "WECHATPAY2-SHA256-RSA2048")
	for _, s := range secrets {
		assert.NotContains(t, out, s)
	}
}
