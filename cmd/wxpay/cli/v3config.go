package cli

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/internal/wire"
)

// API v3 setting names. The merchant API certificate and private key are
// the same files for v2 (mTLS) and v3 (request signatures), so v3 reads
// WXPAY_CERT_FILE and WXPAY_KEY_FILE too.
//
// The names describe the merchant's side, so that the fake server can
// hand a merchant settings that work unchanged against it: it mints its
// own WeChat Pay key pair and writes the public half where
// WXPAY_V3_PUBKEY_FILE points, with its id as WXPAY_V3_PUBKEY_ID. Sending
// a v3 notification as WeChat does needs WeChat's private key, which no
// merchant has: WXPAY_V3_WECHATPAY_KEY_FILE names the fake's, and only
// notify -v3 reads it.
//
// WeChat Pay docs (keys overview): https://pay.weixin.qq.com/doc/v3/partner/4025464285
const (
	EnvAPIv3Key           = "WXPAY_APIV3_KEY"             // the 32-byte APIv3 key (secret)
	EnvV3Serial           = "WXPAY_V3_SERIAL"             // merchant API certificate serial (hex)
	EnvV3PubKeyID         = "WXPAY_V3_PUBKEY_ID"          // WeChat Pay public key id, PUB_KEY_ID_…
	EnvV3PubKeyFile       = "WXPAY_V3_PUBKEY_FILE"        // pub_key.pem
	EnvV3PlatformCertFile = "WXPAY_V3_PLATFORM_CERT_FILE" // one or more platform certificates (PEM)
	EnvBaseURL            = "WXPAY_BASE_URL"              // where doctor -v3 downloads certificates
	// EnvV3WeChatPayKeyFile is WeChat Pay's own private key, which no
	// merchant has: the fake's (wxpay fake -v3 writes it), for notify -v3.
	EnvV3WeChatPayKeyFile = "WXPAY_V3_WECHATPAY_KEY_FILE"
)

var v3SettingNames = []struct{ name, doc string }{
	{EnvAPIv3Key, "v3: the 32-byte APIv3 key (secret; never printed); opens notifications"},
	{EnvV3Serial, "v3: serial of apiclient_cert.pem (hex); taken from WXPAY_CERT_FILE when unset"},
	{EnvV3PubKeyID, "v3: WeChat Pay public key id (PUB_KEY_ID_…), with WXPAY_V3_PUBKEY_FILE"},
	{EnvV3PubKeyFile, "v3: path of the WeChat Pay public key (pub_key.pem)"},
	{EnvV3PlatformCertFile, "v3: path of a PEM file of one or more platform certificates"},
	{EnvBaseURL, "v3: base URL doctor -v3 downloads certificates from (e.g. https://api.mch.weixin.qq.com)"},
	{EnvV3WeChatPayKeyFile, "v3: a fake's WeChat Pay private key (wxpay fake -v3 writes it); notify -v3 signs with it"},
}

// v3Settings are the API v3 settings. APIv3Key is a secret: it is only
// ever printed through redact.
type v3Settings struct {
	APIv3Key, Serial, PubKeyID, PubKeyFile, PlatformCertFile, BaseURL string
	WeChatPayKeyFile                                                  string
}

func v3SettingsFrom(vals map[string]string) v3Settings {
	return v3Settings{
		APIv3Key:         vals[EnvAPIv3Key],
		Serial:           vals[EnvV3Serial],
		PubKeyID:         vals[EnvV3PubKeyID],
		PubKeyFile:       vals[EnvV3PubKeyFile],
		PlatformCertFile: vals[EnvV3PlatformCertFile],
		BaseURL:          vals[EnvBaseURL],
		WeChatPayKeyFile: vals[EnvV3WeChatPayKeyFile],
	}
}

// apiV3KeyOf returns the APIv3 key; it exists so that every use of the
// secret is easy to find.
func apiV3KeyOf(s *settings) string { return s.V3.APIv3Key }

// maxPEMFile bounds a key or certificate file: a few PEM blocks.
const maxPEMFile = 64 << 10

// readPEMFile reads a key or certificate file named by setting env,
// bounded; errors name the setting and hide a path that does not look
// like a PEM file's (it may be a secret on the wrong line).
func readPEMFile(env, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", env, fileErr(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %s", env, fileErr(err))
	}
	if len(b) > maxPEMFile {
		return nil, fmt.Errorf("%s: the file is larger than %d bytes, not a PEM key or certificate", env, maxPEMFile)
	}
	return b, nil
}

// libErr strips the library's prefix from its configuration errors,
// which never quote key material.
func libErr(err error) string {
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "apiv3: "), "Config: ")
}

// v3Merchant is what signing a v3 request needs.
type v3Merchant struct {
	mchID  string
	serial string
	key    *rsa.PrivateKey
	// serialFrom says where the serial came from, for messages.
	serialFrom string
	cert       *x509.Certificate // the merchant certificate, when WXPAY_CERT_FILE is set
}

// v3Signer loads the merchant's v3 signing identity: WXPAY_MCHID,
// WXPAY_KEY_FILE, and the serial from WXPAY_V3_SERIAL or WXPAY_CERT_FILE
// (both: they must agree, and the key must be the certificate's).
func (s *settings) v3Signer() (*v3Merchant, error) {
	m := &v3Merchant{mchID: s.MchID}
	switch {
	case s.MchID == "":
		return nil, fmt.Errorf("%s is not set (the merchant number, the mchid of the Authorization header)", EnvMchID)
	case !mchIDPattern.MatchString(s.MchID) || len(s.MchID) > 32:
		return nil, fmt.Errorf("%s must be the merchant number, digits only; %s", EnvMchID, notShown)
	case s.KeyFile == "":
		return nil, fmt.Errorf("%s is not set (the merchant API private key, apiclient_key.pem, signs every v3 request)", EnvKeyFile)
	}
	b, err := readPEMFile(EnvKeyFile, s.KeyFile)
	if err != nil {
		return nil, err
	}
	if m.key, err = apiv3.ParsePrivateKey(b); err != nil {
		return nil, fmt.Errorf("%s: %s", EnvKeyFile, libErr(err))
	}
	if s.V3.Serial != "" {
		if len(s.V3.Serial) > 64 || !wire.IsHex(s.V3.Serial) {
			return nil, fmt.Errorf("%s must be the hex serial of apiclient_cert.pem (openssl x509 -noout -serial -in apiclient_cert.pem); %s", EnvV3Serial, notShown)
		}
		m.serial, m.serialFrom = strings.ToUpper(s.V3.Serial), EnvV3Serial
	}
	if s.CertFile != "" {
		cb, err := readPEMFile(EnvCertFile, s.CertFile)
		if err != nil {
			return nil, err
		}
		serial, err := apiv3.MerchantCertificateSerial(cb, m.key)
		if err != nil {
			msg := libErr(err)
			msg = strings.ReplaceAll(msg, "PrivateKey (or Signer)", EnvKeyFile)
			msg = strings.ReplaceAll(msg, "MerchantCertificate", EnvCertFile)
			return nil, fmt.Errorf("%s", msg)
		}
		if m.serial != "" && wire.NormSerial(m.serial) != wire.NormSerial(serial) {
			return nil, fmt.Errorf("%s is %s but %s has serial %s: one of them belongs to another certificate (WeChat answers 401 SIGN_ERROR)", EnvV3Serial, m.serial, EnvCertFile, serial)
		}
		if m.serial == "" {
			m.serial, m.serialFrom = serial, EnvCertFile
		}
		blk, _ := pem.Decode(cb)
		m.cert, _ = x509.ParseCertificate(blk.Bytes) // parsed by MerchantCertificateSerial already
	}
	if m.serial == "" {
		return nil, fmt.Errorf("set %s (the serial of apiclient_cert.pem) or %s (the certificate itself)", EnvV3Serial, EnvCertFile)
	}
	return m, nil
}

// v3Key is one WeChat key the tool trusts, for verifying.
type v3Key struct {
	serial string // PUB_KEY_ID_… or the certificate serial, as WeChat writes it
	pub    *rsa.PublicKey
	desc   string // where it was configured, for messages
	cert   *x509.Certificate
}

// v3Verifiers loads the WeChat keys the settings configure: the public
// key (WXPAY_V3_PUBKEY_ID with WXPAY_V3_PUBKEY_FILE) and the platform
// certificates of WXPAY_V3_PLATFORM_CERT_FILE. At least one is required.
func (s *settings) v3Verifiers() ([]v3Key, error) {
	var keys []v3Key
	switch {
	case s.V3.PubKeyID == "" && s.V3.PubKeyFile == "":
	case s.V3.PubKeyID == "" || s.V3.PubKeyFile == "":
		return nil, fmt.Errorf("set %s and %s together: the PUB_KEY_ID_… id and pub_key.pem of 商户平台 → API安全 → 微信支付公钥", EnvV3PubKeyID, EnvV3PubKeyFile)
	default:
		if !pubKeyIDPattern.MatchString(s.V3.PubKeyID) {
			return nil, fmt.Errorf("%s must be %s followed by digits, as shown beside the WeChat Pay public key; %s", EnvV3PubKeyID, apiv3.PublicKeyIDPrefix, notShown)
		}
		b, err := readPEMFile(EnvV3PubKeyFile, s.V3.PubKeyFile)
		if err != nil {
			return nil, err
		}
		pub, err := apiv3.ParsePublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %s", EnvV3PubKeyFile, strings.ReplaceAll(libErr(err), "PublicKey", "the file"))
		}
		keys = append(keys, v3Key{serial: s.V3.PubKeyID, pub: pub, desc: "the WeChat Pay public key (" + EnvV3PubKeyID + ")"})
	}
	if s.V3.PlatformCertFile != "" {
		b, err := readPEMFile(EnvV3PlatformCertFile, s.V3.PlatformCertFile)
		if err != nil {
			return nil, err
		}
		certs, err := parseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", EnvV3PlatformCertFile, err)
		}
		for _, c := range certs {
			serial := fmt.Sprintf("%X", c.SerialNumber.Bytes())
			keys = append(keys, v3Key{serial: serial, pub: c.PublicKey.(*rsa.PublicKey), cert: c,
				desc: "platform certificate " + serial + " (" + EnvV3PlatformCertFile + ")"})
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no WeChat key to verify with: set %s and %s (the WeChat Pay public key), or %s (platform certificates), or both while migrating",
			EnvV3PubKeyID, EnvV3PubKeyFile, EnvV3PlatformCertFile)
	}
	return keys, nil
}

// parseCertificates reads one or more PEM CERTIFICATE blocks holding RSA
// keys of at least 2048 bits. Nothing else may be in the file.
func parseCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := b
	for n := 1; ; n++ {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %q, not a CERTIFICATE", n, truncate(blk.Type, 30))
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d does not parse as an X.509 certificate", n)
		}
		pub, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok || pub.N.BitLen() < 2048 {
			return nil, fmt.Errorf("certificate %d does not hold an RSA key of at least 2048 bits", n)
		}
		out = append(out, c)
		if len(out) > 16 {
			return nil, errors.New("more than 16 certificates")
		}
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("the file holds something other than PEM certificates")
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM CERTIFICATE in the file (wechatpay_cert.pem from GET /v3/certificates)")
	}
	return out, nil
}

// certValidity describes whether c is valid at now, or "".
func certValidity(c *x509.Certificate, now time.Time) string {
	switch {
	case now.Before(c.NotBefore):
		return "not valid before " + c.NotBefore.UTC().Format(time.DateOnly)
	case now.After(c.NotAfter):
		return "expired on " + c.NotAfter.UTC().Format(time.DateOnly)
	}
	return ""
}

// pubKeyIDPattern is the shape of a WeChat Pay public key id the tool
// accepts (the published ones are PUB_KEY_ID_ and 28 digits).
var pubKeyIDPattern = regexp.MustCompile(`^PUB_KEY_ID_[0-9A-Za-z_]{1,53}$`)
