package apiv3

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// PublicKeyIDPrefix starts every WeChat Pay public key id
// ("PUB_KEY_ID_0114232134912410000000000000").
const PublicKeyIDPrefix = "PUB_KEY_ID_"

// Config is the merchant's identity and keys for API v3. MchID,
// MerchantSerialNo, one of PrivateKey and Signer, APIv3Key and at least
// one way to verify WeChat (PublicKeyID with PublicKey, or
// PlatformCertificates) are required; [NewClient] checks them all.
//
// Which way to verify: merchants who signed up since late 2024 are given
// the WeChat Pay public key only (商户平台 → 账户中心 → API安全 →
// 微信支付公钥) and GET /v3/certificates fails for them; older merchants
// have platform certificates. A merchant switching from certificates to
// the public key sets both while WeChat moves its signatures over (about
// a week for notifications): answers and notifications are then accepted
// under either.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/partner/4025464285 (keys overview),
// https://pay.weixin.qq.com/doc/v3/merchant/4012154180 (switching to the public key).
type Config struct {
	// MchID is the merchant number (商户号), the mchid of the
	// Authorization header.
	MchID string
	// AppID is the appid bound to MchID that orders are placed with
	// (the mini-program's, the official account's or the app's), used
	// by the prepay endpoints and the pay parameters unless a request
	// names another, and checked against every payment notification.
	// Optional: a client that only verifies, queries or refunds needs
	// none. Letters, digits and '_', at most 32.
	AppID string
	// NotifyURL is the default notify_url of the prepay endpoints: where
	// WeChat posts the payment notification. A request's own NotifyURL
	// takes precedence; one of the two is required to place an order.
	// It must be an absolute https (or http) URL of at most 255 bytes
	// without query or fragment, reachable from the internet.
	NotifyURL string
	// MerchantSerialNo is the serial number of the merchant API
	// certificate (apiclient_cert.pem), in hex: the serial_no of the
	// Authorization header. `openssl x509 -noout -serial -in
	// apiclient_cert.pem` prints it. It may be left empty when
	// MerchantCertificate is given.
	MerchantSerialNo string
	// MerchantCertificate is the merchant API certificate
	// (apiclient_cert.pem), optional. When given, MerchantSerialNo is
	// taken from it (or checked against it), and the private key is
	// checked to be the certificate's: the two mistakes behind most
	// 401 SIGN_ERROR answers are caught at construction.
	MerchantCertificate []byte
	// PrivateKey is the merchant API private key (apiclient_key.pem) in
	// PEM: PKCS#8 ("PRIVATE KEY", as WeChat's tool writes it) or PKCS#1
	// ("RSA PRIVATE KEY"), RSA of at least 2048 bits. It signs every
	// request and is never logged or put in an error. Leave it empty and
	// set Signer to keep the key in an HSM or a KMS.
	PrivateKey []byte
	// Signer signs with the merchant API private key held elsewhere (an
	// HSM, a cloud KMS). Its Public key must be RSA; it is called with
	// crypto.SHA256 and a SHA-256 digest and must return a PKCS #1 v1.5
	// signature, as *rsa.PrivateKey does. Set either PrivateKey or Signer.
	Signer crypto.Signer
	// APIv3Key is the 32-byte APIv3 key (APIv3密钥) set in the merchant
	// platform. It opens notifications and downloaded platform
	// certificates; it is not the v2 API key. It is never logged or put
	// in an error.
	APIv3Key string
	// PublicKeyID is the id of the WeChat Pay public key
	// ("PUB_KEY_ID_…"), set together with PublicKey.
	PublicKeyID string
	// PublicKey is the WeChat Pay public key (pub_key.pem), a PEM
	// "PUBLIC KEY". It verifies the answers and notifications whose
	// Wechatpay-Serial is PublicKeyID and encrypts sensitive fields.
	PublicKey []byte
	// PlatformCertificates makes the client download WeChat's platform
	// certificates (GET /v3/certificates) when it first needs them,
	// verify answers and notifications signed under them, and refresh
	// them before they expire. See [WithCertificateStore] to share them
	// between instances.
	PlatformCertificates bool
}

// String describes c without its private key, Signer or APIv3 key.
//
// Config redacts its secrets wherever fmt, slog or encoding/json can
// reach its methods: printed directly, in an exported field, a slice, a
// map or an interface value, logged with slog, encoded as JSON. Two cases
// cannot be covered, because fmt prints them by reflection without
// calling any method: the %p verb, and a Config held in an unexported
// field of the caller's own struct. Keep Config out of such places, or
// build the [Client] and drop the Config (the Client keeps its keys where
// no printing reaches them).
func (c Config) String() string {
	return "apiv3.Config{MchID:" + c.MchID + " AppID:" + c.AppID + " NotifyURL:" + c.NotifyURL + " MerchantSerialNo:" + c.MerchantSerialNo +
		" MerchantCertificate:" + strconv.Itoa(len(c.MerchantCertificate)) + "B PrivateKey:" + wire.RedactedIf(len(c.PrivateKey) > 0) + " Signer:" + wire.RedactedIf(c.Signer != nil) +
		" APIv3Key:" + wire.RedactedIf(c.APIv3Key != "") + " PublicKeyID:" + c.PublicKeyID +
		" PublicKey:" + strconv.Itoa(len(c.PublicKey)) + "B PlatformCertificates:" + strconv.FormatBool(c.PlatformCertificates) + "}"
}

// Format prints c as [Config.String] does, for every verb, so that
// fmt.Printf("%#v", cfg) cannot leak a key.
func (c Config) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// LogValue makes slog print c without its secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("mchid", c.MchID),
		slog.String("appid", c.AppID),
		slog.String("notify_url", c.NotifyURL),
		slog.String("merchant_serial_no", c.MerchantSerialNo),
		slog.String("public_key_id", c.PublicKeyID),
		slog.Bool("platform_certificates", c.PlatformCertificates),
	)
}

// MarshalJSON writes c with PrivateKey, Signer and APIv3Key replaced by
// "REDACTED", so that a Config dumped as JSON never carries them.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		MchID                string
		AppID                string
		NotifyURL            string
		MerchantSerialNo     string
		MerchantCertificate  string
		PrivateKey           string
		Signer               string
		APIv3Key             string
		PublicKeyID          string
		PublicKey            string
		PlatformCertificates bool
	}{
		c.MchID, c.AppID, c.NotifyURL, c.MerchantSerialNo, string(c.MerchantCertificate), wire.RedactedIf(len(c.PrivateKey) > 0), wire.RedactedIf(c.Signer != nil),
		wire.RedactedIf(c.APIv3Key != ""), c.PublicKeyID, string(c.PublicKey), c.PlatformCertificates,
	})
}

// configError is a Config that NewClient refused; the text says what to do.
func configError(msg string) error { return wire.NewError("apiv3: ", "Config: "+msg) }

// checkMchID accepts WeChat's merchant numbers: digits, at most 32 (it is
// written into the Authorization header between quotes, so nothing else
// may reach it).
func checkMchID(s string) error {
	if s == "" {
		return configError("MchID is required (the merchant number, 商户号)")
	}
	if len(s) > 32 || strings.Trim(s, "0123456789") != "" {
		return configError("MchID must be the merchant number: digits only, at most 32")
	}
	return nil
}

// checkAppID accepts WeChat's appids ("wxd678efh567hg6787"): letters,
// digits and '_', at most 32. field names it in the error.
func checkAppID(op, field, s string) error {
	if s == "" {
		return nil
	}
	if len(s) > 32 || strings.TrimFunc(s, func(r rune) bool {
		return r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}) != "" {
		return &RequestError{Op: op, Field: field, Reason: "must be an appid: letters, digits and '_', at most 32"}
	}
	return nil
}

// checkNotifyURL applies WeChat's rules for notify_url: an absolute
// http(s) URL with a host, no query string and no fragment, at most 255
// bytes. It returns the reason, or "" when u is acceptable.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/partner/4012523579
func checkNotifyURL(u string) string {
	if len(u) > 255 {
		return "is longer than 255 bytes"
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.User != nil {
		return "must be an absolute https URL (http only for a private line)"
	}
	if strings.ContainsAny(u, "?#") {
		return "may not carry a query string or a fragment (WeChat refuses them)"
	}
	for i := 0; i < len(u); i++ {
		if u[i] <= ' ' || u[i] == 0x7f {
			return "may not contain spaces or control characters"
		}
	}
	return ""
}

// parsePrivateKey reads the merchant API private key from PEM, PKCS#8 or
// PKCS#1. Errors never quote the input.
func parsePrivateKey(b []byte) (*rsa.PrivateKey, error) {
	block, one := wire.OnePEM(b)
	if block == nil {
		return nil, configError("PrivateKey is not PEM; give the contents of apiclient_key.pem (-----BEGIN PRIVATE KEY-----)")
	}
	if !one {
		return nil, configError("PrivateKey holds more than one PEM block; give apiclient_key.pem alone")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "CERTIFICATE":
		return nil, configError("PrivateKey holds a certificate; give apiclient_key.pem, not apiclient_cert.pem")
	default:
		return nil, configError("PrivateKey is a PEM " + strconv.Quote(block.Type) + "; want PRIVATE KEY or RSA PRIVATE KEY (apiclient_key.pem)")
	}
	if err != nil {
		return nil, configError("PrivateKey does not parse as a PKCS#8 or PKCS#1 RSA key")
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, configError("PrivateKey is not an RSA key; WECHATPAY2-SHA256-RSA2048 needs the RSA key of apiclient_key.pem")
	}
	if rk.N.BitLen() < 2048 {
		return nil, configError("PrivateKey is shorter than 2048 bits; WeChat issues 2048-bit keys")
	}
	return rk, nil
}

// parsePublicKey reads the WeChat Pay public key (pub_key.pem).
func parsePublicKey(b []byte) (*rsa.PublicKey, error) {
	block, one := wire.OnePEM(b)
	if !one {
		return nil, configError("PublicKey must be the one PEM block of pub_key.pem (-----BEGIN PUBLIC KEY-----)")
	}
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, configError("PublicKey is a PEM " + strconv.Quote(block.Type) + "; want PUBLIC KEY (pub_key.pem)")
	}
	if err != nil {
		return nil, configError("PublicKey does not parse as an RSA public key")
	}
	pk, ok := key.(*rsa.PublicKey)
	if !ok || pk.N.BitLen() < 2048 {
		return nil, configError("PublicKey must be an RSA key of at least 2048 bits")
	}
	return pk, nil
}

// checkMerchantCertificate returns the serial of the merchant API
// certificate in b after checking that it matches serial (when given)
// and that signer holds its key.
func checkMerchantCertificate(b []byte, serial string, signer crypto.Signer) (string, error) {
	block, one := wire.OnePEM(b)
	if !one || block.Type != "CERTIFICATE" {
		return "", configError("MerchantCertificate must be the one PEM CERTIFICATE of apiclient_cert.pem")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", configError("MerchantCertificate does not parse as an X.509 certificate")
	}
	got := wire.Serial(cert)
	if serial != "" && wire.NormSerial(serial) != wire.NormSerial(got) {
		return "", configError("MerchantSerialNo is not the serial of MerchantCertificate (" + got + "); use that one, or leave MerchantSerialNo empty")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(signer.Public()) {
		return "", configError("PrivateKey (or Signer) is not the key of MerchantCertificate: give apiclient_key.pem and apiclient_cert.pem of the same certificate")
	}
	return got, nil
}
