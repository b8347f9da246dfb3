package apiv3

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewClientRefusesBadConfig(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	require.NoError(t, err)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	smallPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)})
	certPEM := loadVec(t, "wgo-cert-D7CE59D1F522D701.pem")
	good := baseConfig(t)

	tests := []struct {
		name string
		edit func(*Config)
		want string // what the message tells the merchant
	}{
		{"no MchID", func(c *Config) { c.MchID = "" }, "MchID is required"},
		{"MchID with a quote", func(c *Config) { c.MchID = `123",x="1` }, "digits only"},
		{"no serial", func(c *Config) { c.MerchantSerialNo = "" }, "openssl x509 -noout -serial"},
		{"serial not hex", func(c *Config) { c.MerchantSerialNo = "serial=5F1C" }, "hex serial"},
		{"no key", func(c *Config) { c.PrivateKey = nil }, "PrivateKey is required"},
		{"key and signer", func(c *Config) { c.Signer = small }, "not both"},
		{"key not PEM", func(c *Config) { c.PrivateKey = []byte("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC") }, "not PEM"},
		{"certificate for key", func(c *Config) { c.PrivateKey = certPEM }, "not apiclient_cert.pem"},
		{"two PEM blocks", func(c *Config) { c.PrivateKey = append(append([]byte{}, loadVec(t, "k-off.pem")...), certPEM...) }, "more than one PEM block"},
		{"EC key", func(c *Config) { c.PrivateKey = ecPEM }, "not an RSA key"},
		{"1024-bit key", func(c *Config) { c.PrivateKey = smallPEM }, "2048 bits"},
		{"corrupt key", func(c *Config) {
			b := append([]byte{}, good.PrivateKey...)
			b[200] ^= 0x20
			c.PrivateKey = b
		}, "does not parse"},
		{"EC signer", func(c *Config) { c.PrivateKey, c.Signer = nil, ec }, "RSA key of at least 2048 bits"},
		{"16-byte APIv3 key", func(c *Config) { c.APIv3Key = "testMchAPIv3Key0" }, "exactly 32 bytes, got 16"},
		{"no APIv3 key", func(c *Config) { c.APIv3Key = "" }, "not the v2 API key"},
		{"public key without id", func(c *Config) { c.PublicKeyID = "" }, "go together"},
		{"id without public key", func(c *Config) { c.PublicKey = nil }, "go together"},
		{"id without prefix", func(c *Config) { c.PublicKeyID = "0114232134912410000000000000" }, "PUB_KEY_ID_"},
		{"certificate as public key", func(c *Config) { c.PublicKey = certPEM }, "want PUBLIC KEY"},
		{"private key as public key", func(c *Config) { c.PublicKey = good.PrivateKey }, "want PUBLIC KEY"},
		{"nothing to verify with", func(c *Config) { c.PublicKeyID, c.PublicKey = "", nil }, "no way to verify WeChat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(t)
			tt.edit(&cfg)
			c, err := NewClient(cfg)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "apiv3: "), err.Error())
		})
	}
}

func TestNewClientKeyFormats(t *testing.T) {
	for _, name := range []string{"k-off.pem" /* PKCS#1 */, "k-wgo.pem" /* PKCS#8 */, "k-wj.pem" /* PKCS#8, no final newline */} {
		cfg := baseConfig(t)
		cfg.PrivateKey = loadVec(t, name)
		_, err := NewClient(cfg)
		assert.NoError(t, err, name)
	}
	// The public key as PKCS#1 "RSA PUBLIC KEY" is accepted too.
	cfg := baseConfig(t)
	pub := parseKeyPEM(t, loadVec(t, "k-off.pem")).PublicKey
	cfg.PublicKey = pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&pub)})
	_, err := NewClient(cfg)
	assert.NoError(t, err)
}

func TestNewClientOptions(t *testing.T) {
	cfg := baseConfig(t)
	tests := []struct {
		name string
		opt  Option
	}{
		{"nil option", nil},
		{"nil HTTP client", WithHTTPClient(nil)},
		{"insecure HTTP client", WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: insecureTLS()}})},
		{"base URL with query", WithBaseURL("https://api.mch.weixin.qq.com/?x=1")},
		{"base URL with user info", WithBaseURL("https://u:p@api.mch.weixin.qq.com")},
		{"relative failover", WithFailover("api2.mch.weixin.qq.com")},
		{"nil logger", WithLogger(nil)},
		{"nil clock", WithClock(nil)},
		{"nil rand", WithRand(nil)},
		{"nil store", WithCertificateStore(nil)},
		{"store without certificates", WithCertificateStore(&MemoryCertificateStore{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(cfg, tt.opt)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "u:p")
		})
	}
	// The caller's client is not modified.
	hc := &http.Client{Timeout: time.Second}
	c, err := NewClient(cfg, WithHTTPClient(hc))
	require.NoError(t, err)
	assert.Nil(t, hc.CheckRedirect)
	assert.NotNil(t, c.hc.CheckRedirect)
}

func FuzzParseKeys(f *testing.F) {
	f.Add(loadVec(f, "k-off.pem"))
	f.Add(loadVec(f, "k-wgo.pem"))
	f.Add(loadVec(f, "k-off.pub.pem"))
	f.Add(loadVec(f, "wgo-cert-D7CE59D1F522D701.pem"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := parsePrivateKey(b); err == nil && (k == nil || k.N.BitLen() < 2048) {
			t.Fatal("accepted a key that is not RSA-2048 or more")
		}
		if k, err := parsePublicKey(b); err == nil && (k == nil || k.N.BitLen() < 2048) {
			t.Fatal("accepted a public key that is not RSA-2048 or more")
		}
	})
}

func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} } //nolint:gosec // refused by the client under test

func TestNewClientMerchantCertificate(t *testing.T) {
	wj := parseKeyPEM(t, loadVec(t, "k-wj.pem"))
	cert := makeCert(t, wj, fakeMchSerial, certNow.Add(-time.Hour), certNow.Add(time.Hour))
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})

	cfg := baseConfig(t)
	cfg.MerchantSerialNo, cfg.MerchantCertificate = "", certPEM
	c, err := NewClient(cfg)
	require.NoError(t, err)
	assert.Equal(t, fakeMchSerial, c.serial, "the serial comes from the certificate")

	cfg.MerchantSerialNo = strings.ToLower(fakeMchSerial)
	_, err = NewClient(cfg)
	require.NoError(t, err, "a matching serial in any case")

	cfg.MerchantSerialNo = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"
	_, err = NewClient(cfg)
	assert.ErrorContains(t, err, "is not the serial of MerchantCertificate")

	cfg.MerchantSerialNo, cfg.PrivateKey = "", loadVec(t, "k-off.pem")
	_, err = NewClient(cfg)
	assert.ErrorContains(t, err, "not the key of MerchantCertificate")

	cfg.PrivateKey, cfg.MerchantCertificate = loadVec(t, "k-wj.pem"), loadVec(t, "k-wj.pem")
	_, err = NewClient(cfg)
	assert.ErrorContains(t, err, "one PEM CERTIFICATE")
}
