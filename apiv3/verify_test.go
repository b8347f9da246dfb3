package apiv3

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vecNotify is the shape of notify-v4.json and notify-v5.json.
type vecNotify struct {
	Headers map[string]string `json:"headers"`
	Now     int64             `json:"now"`
	Body    string            `json:"body"`
}

func loadNotifyVec(t testing.TB, name string) (http.Header, []byte, time.Time) {
	t.Helper()
	var v vecNotify
	require.NoError(t, json.Unmarshal(loadVec(t, name), &v))
	h := http.Header{}
	for k, val := range v.Headers {
		h.Set(k, val)
	}
	return h, []byte(v.Body), time.Unix(v.Now, 0)
}

func pemCert(t testing.TB, b []byte) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(b)
	require.NotNil(t, blk)
	c, err := x509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	return c
}

// certClient is a client that verifies with platform certificates only,
// holding certs already (no download).
func certClient(t testing.TB, clock *fakeClock, certs ...*x509.Certificate) *Client {
	t.Helper()
	cfg := baseConfig(t)
	cfg.PublicKeyID, cfg.PublicKey, cfg.PlatformCertificates = "", nil, true
	c, err := NewClient(cfg, WithClock(clock.Now))
	require.NoError(t, err)
	if len(certs) > 0 {
		c.certs.set.Store(c.certs.adopt(certs, clock.Now()))
	}
	return c
}

// V4: wechatpay-go's notification, signed by its test certificate
// D7CE59D1F522D701 (core/notify/notify_test.go).
func TestVerifyV4(t *testing.T) {
	h, body, now := loadNotifyVec(t, "notify-v4.json")
	clock := newFakeClock(now)
	c := certClient(t, clock, pemCert(t, loadVec(t, "wgo-cert-D7CE59D1F522D701.pem")))
	require.NoError(t, c.verifySignature(context.Background(), h, body))

	clock.Set(now.Add(SignatureWindow))
	require.NoError(t, c.verifySignature(context.Background(), h, body), "exactly 5 minutes is inside the window")
	clock.Set(now.Add(SignatureWindow + time.Second))
	assert.ErrorIs(t, c.verifySignature(context.Background(), h, body), ErrTimestamp, "a replay after the window")
	clock.Set(now.Add(-SignatureWindow - time.Second))
	assert.ErrorIs(t, c.verifySignature(context.Background(), h, body), ErrTimestamp, "a timestamp from the future")
	// At any real "now" the published vector is stale.
	clock.Set(time.Now())
	assert.ErrorIs(t, c.verifySignature(context.Background(), h, body), ErrSignature)
}

// V5: a public-key-mode notification signed with k-off.pem.
func TestVerifyV5(t *testing.T) {
	h, body, now := loadNotifyVec(t, "notify-v5.json")
	c, err := NewClient(baseConfig(t), WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	require.NoError(t, c.verifySignature(context.Background(), h, body))

	// The probe variant of the same message (protocol notes §14 V5).
	p := h.Clone()
	p.Set(HeaderSignature, ProbePrefix+h.Get(HeaderSignature))
	err = c.verifySignature(context.Background(), p, body)
	assert.ErrorIs(t, err, ErrSignatureProbe)
	assert.ErrorIs(t, err, ErrSignature)
}

// V9: a real probe signature, https://github.com/wechatpay-apiv3/wechatpay-java/issues/319.
// It is refused as a probe before anything else, whatever the serial.
func TestVerifyProbeV9(t *testing.T) {
	const sig = "WECHATPAY/SIGNTEST/2sWfO+6tVVsZonOXBXHOrle0TugJ31jDV3iGpjFchMYEyEZ48LxAmfW2gMXkP7Ce1OLORt7wHxkgBwTBHn9/JpPBwDFjiHMhSQCEYkk/gIXdO1E7dz6fnMmMqmI2urSR8WDWAG0jdIGFbnykjVFrQa7E1RhNNEIz476tmfj5Zp7W/kE1q7cxZIPumELjwfZHXybvrFMuYNEcf8Eq50V+I1e5onuIAa3RIuIIy30Kl2RANQJx1inQ0SirJjFtONAcPnLDWpeJuVCfRPLXE4ra5qsSwxbUDvnCAbTkz4L1mSZ/zyv80hd9t8upwSLbLiYJWV97N04Pb74zCg=="
	h := http.Header{}
	h.Set(HeaderSignature, sig)
	h.Set(HeaderTimestamp, "1733109540")
	h.Set(HeaderNonce, "xQWHK22dufHjLYg07545neOg4llwMJCJ")
	h.Set(HeaderSerial, "51856640BA57CBD6343BA9EA2D409A9E9AC5EB65")
	clock := newFakeClock(time.Unix(1733109540, 0))
	c := certClient(t, clock)
	err := c.verifySignature(context.Background(), h, []byte(`{"id":"x"}`))
	assert.ErrorIs(t, err, ErrSignatureProbe)
	assert.Zero(t, c.certs.downloads.Load(), "a probe never triggers a download")
}

// TestVerifyTampering signs a message with the public key and changes one
// thing at a time: each change must be refused with its sentinel.
func TestVerifyTampering(t *testing.T) {
	now := time.Unix(1767337446, 0)
	c, err := NewClient(baseConfig(t), WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	k := fakeKey{fakePubKeyID, parseKeyPEM(t, loadVec(t, "k-off.pem"))}
	body := []byte(`{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}`)
	good := signedHeaders(t, k, now, body)
	require.NoError(t, c.verifySignature(context.Background(), good, body))

	with := func(name, v string) http.Header {
		h := good.Clone()
		h.Set(name, v)
		return h
	}
	without := func(name string) http.Header {
		h := good.Clone()
		h.Del(name)
		return h
	}
	twice := func(name string) http.Header {
		h := good.Clone()
		h.Add(name, h.Get(name))
		return h
	}
	forged := signedHeaders(t, fakeKey{fakePubKeyID, otherKey(t)}, now, body)
	sig := good.Get(HeaderSignature)
	flipped := []byte(sig)
	flipped[10] ^= 'A' ^ 'B'
	ts := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }

	tests := []struct {
		name string
		h    http.Header
		body []byte
		want error
	}{
		{"body changed", good, []byte(`{"code_url":"weixin://wxpay/bizpayurl?pr=EVIL"}`), ErrSignature},
		{"body extended", good, append(append([]byte{}, body...), ' '), ErrSignature},
		{"body empty", good, nil, ErrSignature},
		{"nonce changed", with(HeaderNonce, "other"), body, ErrSignature},
		{"nonce with a newline", with(HeaderNonce, good.Get(HeaderNonce)+"\n"), body, ErrSignature},
		{"timestamp changed by a second", with(HeaderTimestamp, ts(time.Second)), body, ErrSignature},
		{"timestamp stale", with(HeaderTimestamp, ts(-6*time.Minute)), body, ErrTimestamp},
		{"timestamp future", with(HeaderTimestamp, ts(6*time.Minute)), body, ErrTimestamp},
		{"timestamp not numeric", with(HeaderTimestamp, "1767337446.0"), body, ErrTimestamp},
		{"timestamp signed", with(HeaderTimestamp, "+1767337446"), body, ErrTimestamp},
		{"timestamp milliseconds", with(HeaderTimestamp, ts(0)+"000"), body, ErrTimestamp},
		{"timestamp hex", with(HeaderTimestamp, "0x69578be6"), body, ErrTimestamp},
		{"serial unknown", with(HeaderSerial, "PUB_KEY_ID_0114232134912410000000000001"), body, ErrUnknownSerial},
		{"serial of a certificate", with(HeaderSerial, fakeCertSerial), body, ErrUnknownSerial},
		{"serial malformed", with(HeaderSerial, "PUB KEY"), body, ErrUnknownSerial},
		{"signature by another key", forged, body, ErrSignature},
		{"signature bit flipped", with(HeaderSignature, string(flipped)), body, ErrSignature},
		{"signature truncated", with(HeaderSignature, sig[:len(sig)-4]), body, ErrSignature},
		{"signature not base64", with(HeaderSignature, strings.Repeat("!", len(sig))), body, ErrSignature},
		{"signature too long", with(HeaderSignature, sig+sig), body, ErrSignature},
		{"probe", with(HeaderSignature, ProbePrefix+sig), body, ErrSignatureProbe},
		{"SM2 signature type", with(HeaderSignatureType, "WECHATPAY2-SM2-WITH-SM3"), body, ErrSignature},
		{"two signature types", twice(HeaderSignatureType), body, ErrSignature},
		{"no signature", without(HeaderSignature), body, ErrMissingSignature},
		{"no serial", without(HeaderSerial), body, ErrMissingSignature},
		{"no timestamp", without(HeaderTimestamp), body, ErrMissingSignature},
		{"no nonce", without(HeaderNonce), body, ErrMissingSignature},
		{"empty signature", with(HeaderSignature, ""), body, ErrMissingSignature},
		{"two signatures", twice(HeaderSignature), body, ErrMissingSignature},
		{"two serials", twice(HeaderSerial), body, ErrMissingSignature},
		{"no headers", http.Header{}, body, ErrMissingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.verifySignature(context.Background(), tt.h, tt.body)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.want)
			assert.ErrorIs(t, err, ErrSignature, "every verification failure is an ErrSignature")
			assert.NotContains(t, err.Error(), sig[:20], "no signature in the text")
		})
	}
}

// TestVerifyMigration accepts both kinds of serial when both are
// configured, as during the switch to the public key.
func TestVerifyMigration(t *testing.T) {
	now := time.Unix(1767337446, 0)
	clock := newFakeClock(now)
	cfg := baseConfig(t)
	cfg.PlatformCertificates = true
	c, err := NewClient(cfg, WithClock(clock.Now))
	require.NoError(t, err)
	wgo := parseKeyPEM(t, loadVec(t, "k-wgo.pem"))
	cert := makeCert(t, wgo, fakeCertSerial, now.Add(-time.Hour), now.Add(24*time.Hour))
	c.certs.set.Store(c.certs.adopt([]*x509.Certificate{cert}, now))

	body := []byte(`{}`)
	byPub := signedHeaders(t, fakeKey{fakePubKeyID, parseKeyPEM(t, loadVec(t, "k-off.pem"))}, now, body)
	byCert := signedHeaders(t, fakeKey{fakeCertSerial, wgo}, now, body)
	assert.NoError(t, c.verifySignature(context.Background(), byPub, body))
	assert.NoError(t, c.verifySignature(context.Background(), byCert, body))
	// The serial is compared without leading zeros and case.
	byCert.Set(HeaderSerial, "00"+strings.ToLower(fakeCertSerial))
	assert.NoError(t, c.verifySignature(context.Background(), byCert, body))
	// A key must sign under its own serial.
	crossed := byCert.Clone()
	crossed.Set(HeaderSerial, fakePubKeyID)
	assert.ErrorIs(t, c.verifySignature(context.Background(), crossed, body), ErrSignature)

	// An expired certificate is not used.
	clock.Set(now.Add(25 * time.Hour))
	fresh := signedHeaders(t, fakeKey{fakeCertSerial, wgo}, clock.Now(), body)
	err = c.verifySignature(context.Background(), fresh, body)
	assert.ErrorIs(t, err, ErrUnknownSerial)
}

func FuzzVerifySignature(f *testing.F) {
	now := time.Unix(1767337446, 0)
	k := fakeKey{fakePubKeyID, parseKeyPEM(f, loadVec(f, "k-off.pem"))}
	body := []byte(`{"a":1}`)
	h := signedHeaders(f, k, now, body)
	f.Add(h.Get(HeaderSerial), h.Get(HeaderSignature), h.Get(HeaderTimestamp), h.Get(HeaderNonce), body)
	f.Add(fakeCertSerial, ProbePrefix+"AAAA", "1767337446", "n", []byte(`{}`))
	c, err := NewClient(baseConfig(f), WithClock(func() time.Time { return now }))
	require.NoError(f, err)
	good := h.Get(HeaderSignature)
	f.Fuzz(func(t *testing.T, serial, sig, ts, nonce string, b []byte) {
		h := http.Header{}
		h.Set(HeaderSerial, serial)
		h.Set(HeaderSignature, sig)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderNonce, nonce)
		err := c.verifySignature(context.Background(), h, b)
		if err == nil {
			// Only the genuine message verifies.
			if sig != good || string(b) != string(body) {
				t.Fatalf("accepted a message that was not signed: %q %q", sig, b)
			}
			return
		}
		if !errors.Is(err, ErrSignature) {
			t.Fatalf("error %v is not an ErrSignature", err)
		}
	})
}
