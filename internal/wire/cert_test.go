package wire

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testPair(t testing.TB) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x1A2B), Subject: pkix.Name{CommonName: "1900000109"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

func TestOnePEM(t *testing.T) {
	certPEM, keyPEM := testPair(t)
	b, ok := OnePEM(certPEM)
	require.True(t, ok)
	assert.Equal(t, "CERTIFICATE", b.Type)
	_, ok = OnePEM(append(append([]byte{}, certPEM...), " \r\n\t"...))
	assert.True(t, ok, "trailing white space is allowed")
	for name, in := range map[string][]byte{
		"empty":           nil,
		"not PEM":         []byte("MIIB..."),
		"two blocks":      append(append([]byte{}, certPEM...), keyPEM...),
		"trailing text":   append(append([]byte{}, certPEM...), "x"...),
		"trailing \\f":    append(append([]byte{}, certPEM...), '\f'),
		"truncated":       certPEM[:len(certPEM)/2],
		"header only":     []byte("-----BEGIN CERTIFICATE-----\n"),
		"unterminated bb": []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERT"),
	} {
		_, ok := OnePEM(in)
		assert.False(t, ok, name)
	}
}

func FuzzOnePEM(f *testing.F) {
	certPEM, keyPEM := testPair(f)
	f.Add(certPEM)
	f.Add(append(append([]byte{}, certPEM...), keyPEM...))
	f.Add([]byte("-----BEGIN X-----\n-----END X-----\n \n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		block, ok := OnePEM(b)
		want, rest := pem.Decode(b)
		if (block == nil) != (want == nil) {
			t.Fatal("OnePEM and pem.Decode disagree on the first block")
		}
		if ok && len(bytes.Trim(rest, " \t\r\n")) != 0 {
			t.Fatal("accepted input with more than white space after the block")
		}
		if !ok && want != nil && len(bytes.Trim(rest, " \t\r\n")) == 0 {
			t.Fatal("refused one block followed by white space")
		}
	})
}

func TestLoadKeyPair(t *testing.T) {
	certPEM, keyPEM := testPair(t)
	cert, leaf, err := LoadKeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	assert.Len(t, cert.Certificate, 1)
	assert.Equal(t, "1A2B", Serial(leaf))
	assert.Equal(t, "1900000109", leaf.Subject.CommonName)

	otherCert, otherKey := testPair(t)
	_, _, err = LoadKeyPair(certPEM, otherKey)
	assert.ErrorContains(t, err, "does not match")
	_, _, err = LoadKeyPair(otherCert, []byte("not a key"))
	assert.Error(t, err)
	assert.NotContains(t, err.Error(), string(otherKey))

	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "apiclient_cert.pem"), filepath.Join(dir, "apiclient_key.pem")
	require.NoError(t, os.WriteFile(cf, certPEM, 0o600))
	require.NoError(t, os.WriteFile(kf, keyPEM, 0o600))
	c, k, err := ReadKeyPair(cf, kf)
	require.NoError(t, err)
	assert.Equal(t, certPEM, c)
	assert.Equal(t, keyPEM, k)
	_, _, err = ReadKeyPair(cf, filepath.Join(dir, "missing.pem"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, _, err = ReadKeyPair(filepath.Join(dir, "missing.pem"), kf)
	assert.ErrorIs(t, err, os.ErrNotExist)
}
