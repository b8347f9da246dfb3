package apiv3

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const v10Serial = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"

// SignRequest reproduces the published V1 header (signature of
// https://pay.weixin.qq.com/doc/v3/merchant/4012365336, item layout of the
// http-header-authorization-error page).
func TestSignRequestV1(t *testing.T) {
	key, err := ParsePrivateKey(readVector(t, "k-off.pem"))
	require.NoError(t, err)
	got, err := SignRequest(key, v1MchID, v10Serial, v1Method, v1URI, v1TS, v1Nonce, []byte(v1Body))
	require.NoError(t, err)
	assert.Equal(t, v1Header, got)
	assert.Equal(t, "POST\n/v3/pay/transactions/jsapi\n"+v1TS+"\n"+v1Nonce+"\n"+v1Body+"\n",
		string(RequestMessage(v1Method, v1URI, v1TS, v1Nonce, []byte(v1Body))))
}

func TestSignRequestBadItems(t *testing.T) {
	key, err := ParsePrivateKey(readVector(t, "k-off.pem"))
	require.NoError(t, err)
	for name, items := range map[string][4]string{
		"mchid letters":    {"12a", v10Serial, v1TS, v1Nonce},
		"serial not hex":   {v1MchID, "XYZ", v1TS, v1Nonce},
		"serial empty":     {v1MchID, "", v1TS, v1Nonce},
		"timestamp ms":     {v1MchID, v10Serial, "1554208460000x", v1Nonce},
		"nonce quote":      {v1MchID, v10Serial, v1TS, `a"b`},
		"nonce comma":      {v1MchID, v10Serial, v1TS, "a,b"},
		"nonce space":      {v1MchID, v10Serial, v1TS, "a b"},
		"nonce too long":   {v1MchID, v10Serial, v1TS, strings.Repeat("a", 65)},
		"timestamp signed": {v1MchID, v10Serial, "-1", v1Nonce},
	} {
		_, err := SignRequest(key, items[0], items[1], "POST", "/", items[2], items[3], nil)
		assert.ErrorIs(t, err, ErrAuthorizationItem, name)
	}
	_, err = SignRequest(nil, v1MchID, v10Serial, "POST", "/", v1TS, v1Nonce, nil)
	assert.Error(t, err)
}

func header(m map[string]string) http.Header {
	h := http.Header{}
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

// VerifyMessage and OpenNotification on the V5 public-key notification:
// verified, opened to the published plaintext; the probe variant, a stale
// clock, an unknown serial and a changed body each fail with their
// sentinel.
func TestVerifyMessageV5(t *testing.T) {
	var v notifyVector
	readJSONVector(t, "notify-v5.json", &v)
	pub, err := ParsePublicKey(readVector(t, "k-off.pub.pem"))
	require.NoError(t, err)
	keys := func(serial string) (*rsa.PublicKey, error) {
		if serial == v5PubKeyID {
			return pub, nil
		}
		return nil, UnknownSerial("not configured")
	}
	now := time.Unix(v.Now, 0)
	h := header(v.Headers)
	require.NoError(t, VerifyMessage(h, []byte(v.Body), now, keys))
	n, err := OpenNotification(v.APIv3Key, []byte(v.Body))
	require.NoError(t, err)
	assert.Equal(t, v.Plaintext, string(n.Plaintext))
	assert.Equal(t, "TRANSACTION.SUCCESS", n.EventType)

	probe := h.Clone()
	probe.Set(HeaderSignature, ProbePrefix+h.Get(HeaderSignature))
	assert.ErrorIs(t, VerifyMessage(probe, []byte(v.Body), now, keys), ErrSignatureProbe)
	assert.ErrorIs(t, VerifyMessage(h, []byte(v.Body), now.Add(SignatureWindow+time.Second), keys), ErrTimestamp)
	other := h.Clone()
	other.Set(HeaderSerial, "PUB_KEY_ID_0000000000000000000000000001")
	assert.ErrorIs(t, VerifyMessage(other, []byte(v.Body), now, keys), ErrUnknownSerial)
	err = VerifyMessage(h, []byte(v.Body+"\n"), now, keys)
	assert.ErrorIs(t, err, ErrSignature)
	assert.False(t, errors.Is(err, ErrTimestamp) || errors.Is(err, ErrUnknownSerial))
	missing := h.Clone()
	missing.Del(HeaderNonce)
	assert.ErrorIs(t, VerifyMessage(missing, []byte(v.Body), now, keys), ErrMissingSignature)
	// A lookup returning no key and no error is an unknown serial, not a panic.
	assert.ErrorIs(t, VerifyMessage(h, []byte(v.Body), now, func(string) (*rsa.PublicKey, error) { return nil, nil }), ErrUnknownSerial)
	assert.Error(t, VerifyMessage(h, []byte(v.Body), now, nil))

	_, err = OpenNotification(v5APIv3Key[:31]+"x", []byte(v.Body))
	assert.ErrorIs(t, err, ErrDecrypt)
	_, err = OpenNotification(v5APIv3Key, []byte(strings.Repeat(" ", MaxNotificationBytes+1)))
	assert.ErrorIs(t, err, ErrNotificationTooLarge)
	_, err = OpenNotification(v5APIv3Key, []byte(`{"id":"x"}`))
	assert.ErrorIs(t, err, ErrNotification)
}

// V4 (wechatpay-go): the signature verifies under the certificate's key
// at its time, and its 16-byte "APIv3 key" is refused.
func TestVerifyMessageV4(t *testing.T) {
	var v notifyVector
	readJSONVector(t, "notify-v4.json", &v)
	blk, _ := pem.Decode(readVector(t, "wgo-cert-D7CE59D1F522D701.pem"))
	require.NotNil(t, blk)
	cert, err := x509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	pub := cert.PublicKey.(*rsa.PublicKey)
	require.NoError(t, VerifyMessage(header(v.Headers), []byte(v.Body), time.Unix(v.Now, 0),
		func(string) (*rsa.PublicKey, error) { return pub, nil }))
	_, err = OpenNotification(v.APIv3Key, []byte(v.Body))
	assert.ErrorIs(t, err, ErrDecrypt)
}

func TestMerchantCertificateSerial(t *testing.T) {
	key := rsaKeyFromPEM(t, readVector(t, "k-wgo.pem"))
	serial, err := MerchantCertificateSerial(readVector(t, "wgo-cert-D7CE59D1F522D701.pem"), key)
	require.NoError(t, err)
	assert.Equal(t, "D7CE59D1F522D701", serial)
	other := rsaKeyFromPEM(t, readVector(t, "k-off.pem"))
	_, err = MerchantCertificateSerial(readVector(t, "wgo-cert-D7CE59D1F522D701.pem"), other)
	assert.Error(t, err)
	_, err = MerchantCertificateSerial(readVector(t, "k-off.pem"), key)
	assert.Error(t, err)
	_, err = MerchantCertificateSerial(readVector(t, "wgo-cert-D7CE59D1F522D701.pem"), nil)
	assert.Error(t, err)
}
