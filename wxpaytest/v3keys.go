package wxpaytest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// V3Signer selects what signs the fake's API v3 answers and
// notifications, as a merchant's account at WeChat is in one of three
// key modes.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/partner/4025464285 (keys overview),
// https://pay.weixin.qq.com/doc/v3/merchant/4012154180 (switching to the public key)
type V3Signer int

const (
	// V3SignPublicKey signs with the WeChat Pay public key (微信支付公钥),
	// naming it by its id ([Fake.V3PublicKeyID], "PUB_KEY_ID_…"): the
	// mode of every merchant since late 2024. The zero value.
	V3SignPublicKey V3Signer = iota
	// V3SignCertificate signs with the current platform certificate
	// (平台证书), naming it by its serial: the older merchants' mode.
	V3SignCertificate
	// V3SignBoth is a merchant switching from certificates to the public
	// key. As WeChat does during the switch, an API answer is signed
	// with the public key when the request's Wechatpay-Serial header
	// names the public key id, and with the platform certificate
	// otherwise; notifications, which WeChat moves over gradually,
	// alternate between the two.
	V3SignBoth
)

// String names s as its constant is named.
func (s V3Signer) String() string {
	switch s {
	case V3SignPublicKey:
		return "V3SignPublicKey"
	case V3SignCertificate:
		return "V3SignCertificate"
	case V3SignBoth:
		return "V3SignBoth"
	}
	return fmt.Sprintf("V3Signer(%d)", int(s))
}

// v3Keys is the key material of API v3: the merchant's (what requests
// are checked against), WeChat Pay's public key pair and platform
// certificates (what answers and notifications are signed with), and the
// APIv3 key. It is fixed at creation except for the certificates, which
// [Fake.RotateV3Certificate] extends.
type v3Keys struct {
	apiKey    []byte // the APIv3 key; never printed
	mchSerial string
	mchPub    *rsa.PublicKey
	mchKeyPEM []byte // the merchant's private key, when the fake minted it
	wxKey     *rsa.PrivateKey
	pubKeyID  string
	pubKeyPEM []byte
	signer    V3Signer

	mu    sync.Mutex
	certs []*platformCert // oldest first; the last one signs
	flip  uint64          // V3SignBoth's alternation of notifications
	wrong *rsa.PrivateKey // the WrongKey fault's key, minted on first use
}

// wrongKey is a key that is none of WeChat Pay's: what the WrongKey
// fault signs with.
func (k *v3Keys) wrongKey() *rsa.PrivateKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.wrong == nil {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic("wxpaytest: cannot mint a key: " + err.Error())
		}
		k.wrong = key
	}
	return k.wrong
}

// platformCert is one platform certificate and its private key.
type platformCert struct {
	serial string
	key    *rsa.PrivateKey
	cert   *x509.Certificate
	pem    []byte
}

// v3SigningKey is a key an answer is signed with and the serial
// (Wechatpay-Serial) it is named by.
type v3SigningKey struct {
	serial string
	key    *rsa.PrivateKey
}

// newV3Keys builds the v3 key material of cfg, minting what cfg leaves
// empty; it returns nil when cfg does not turn v3 on.
func newV3Keys(cfg Config) (*v3Keys, error) {
	if cfg.APIv3Key == "" {
		if cfg.MerchantSerialNo != "" || len(cfg.MerchantPublicKey) > 0 || len(cfg.WeChatPayKey) > 0 {
			return nil, errors.New("wxpaytest: the v3 settings need Config.APIv3Key, which turns v3 on")
		}
		return nil, nil
	}
	if len(cfg.APIv3Key) != 32 {
		return nil, errors.New("wxpaytest: Config.APIv3Key must be 32 bytes")
	}
	switch cfg.V3Signer {
	case V3SignPublicKey, V3SignCertificate, V3SignBoth:
	default:
		return nil, errors.New("wxpaytest: Config.V3Signer must be V3SignPublicKey, V3SignCertificate or V3SignBoth")
	}
	k := &v3Keys{apiKey: []byte(cfg.APIv3Key), signer: cfg.V3Signer}
	if err := k.merchant(cfg); err != nil {
		return nil, err
	}
	if len(cfg.WeChatPayKey) > 0 {
		key, err := parseRSAPrivateKey(cfg.WeChatPayKey)
		if err != nil {
			return nil, fmt.Errorf("wxpaytest: Config.WeChatPayKey: %w", err)
		}
		k.wxKey = key
	} else {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		k.wxKey = key
	}
	der, err := x509.MarshalPKIXPublicKey(&k.wxKey.PublicKey)
	if err != nil {
		return nil, err
	}
	k.pubKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	k.pubKeyID = publicKeyID(der)
	return k, nil
}

// merchant reads (or mints) the merchant's API certificate serial and
// public key.
func (k *v3Keys) merchant(cfg Config) error {
	serial, pubPEM := cfg.MerchantSerialNo, cfg.MerchantPublicKey
	if serial == "" && len(pubPEM) == 0 {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		k.mchKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		k.mchPub = &key.PublicKey
		k.mchSerial = randHexSerial()
		return nil
	}
	if len(pubPEM) == 0 {
		return errors.New("wxpaytest: Config.MerchantSerialNo needs Config.MerchantPublicKey (or leave both empty to have the fake mint them)")
	}
	block, one := wire.OnePEM(pubPEM)
	if !one {
		return errors.New("wxpaytest: Config.MerchantPublicKey must be one PEM block: CERTIFICATE (apiclient_cert.pem) or PUBLIC KEY")
	}
	var pub any
	switch block.Type {
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return errors.New("wxpaytest: Config.MerchantPublicKey: the certificate does not parse")
		}
		got := wire.Serial(c)
		if serial == "" {
			serial = got
		} else if wire.NormSerial(serial) != wire.NormSerial(got) {
			return fmt.Errorf("wxpaytest: Config.MerchantSerialNo is not the serial of Config.MerchantPublicKey's certificate (%s)", got)
		}
		pub = c.PublicKey
	case "PUBLIC KEY":
		p, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return errors.New("wxpaytest: Config.MerchantPublicKey: the public key does not parse")
		}
		pub = p
	default:
		return fmt.Errorf("wxpaytest: Config.MerchantPublicKey is a PEM %q; want CERTIFICATE or PUBLIC KEY", block.Type)
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok || rk.N.BitLen() < 2048 {
		return errors.New("wxpaytest: Config.MerchantPublicKey must be an RSA key of at least 2048 bits")
	}
	if serial == "" {
		return errors.New("wxpaytest: Config.MerchantPublicKey as a PUBLIC KEY needs Config.MerchantSerialNo")
	}
	if len(serial) > 64 || !wire.IsHex(serial) {
		return errors.New("wxpaytest: Config.MerchantSerialNo must be the certificate serial in hex")
	}
	k.mchSerial, k.mchPub = serial, rk
	return nil
}

// parseRSAPrivateKey reads an RSA private key of at least 2048 bits from
// PEM, PKCS#8 or PKCS#1. Errors never quote the key.
func parseRSAPrivateKey(b []byte) (*rsa.PrivateKey, error) {
	block, one := wire.OnePEM(b)
	if !one {
		return nil, errors.New("not one PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("a PEM %q; want PRIVATE KEY or RSA PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, errors.New("does not parse as a PKCS#8 or PKCS#1 key")
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok || rk.N.BitLen() < 2048 {
		return nil, errors.New("must be an RSA key of at least 2048 bits")
	}
	return rk, nil
}

// publicKeyID derives a "PUB_KEY_ID_" id of WeChat's shape (28 digits)
// from the public key, so that a fake restarted with the same
// Config.WeChatPayKey names it the same.
func publicKeyID(der []byte) string {
	sum := sha256.Sum256(der)
	var b strings.Builder
	b.WriteString("PUB_KEY_ID_01")
	for _, c := range sum[:26] {
		b.WriteByte('0' + c%10)
	}
	return b.String()
}

// randHexSerial is a 40-hex-digit certificate serial, as WeChat's are.
func randHexSerial() string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic("wxpaytest: crypto/rand failed: " + err.Error())
	}
	b[0] = b[0]&0x7f | 0x10 // positive, and a leading digit that is not 0
	return fmt.Sprintf("%X", b)
}

// firstCertValidity is the validity of the first platform certificate:
// fixed, so that the same Config.WeChatPayKey always yields the same
// certificate (a restarted fake keeps what clients stored), and wide,
// so that any Config.Now finds it valid.
var firstCertValidity = [2]time.Time{
	time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
}

// certsLocked returns the platform certificates, minting the first on
// first use: WeChat Pay's key, certified by itself under a serial derived
// from it. The caller holds k.mu.
func (k *v3Keys) certsLocked() ([]*platformCert, error) {
	if len(k.certs) == 0 {
		der, err := x509.MarshalPKIXPublicKey(&k.wxKey.PublicKey)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(der)
		sum[0] = sum[0]&0x7f | 0x10
		pc, err := issuePlatformCert(k.wxKey, new(big.Int).SetBytes(sum[:20]), firstCertValidity[0], firstCertValidity[1])
		if err != nil {
			return nil, err
		}
		k.certs = append(k.certs, pc)
	}
	return k.certs, nil
}

// issuePlatformCert certifies key, self-signed as WeChat's "Tenpay.com
// sign" certificates are issued to the merchant.
func issuePlatformCert(key *rsa.PrivateKey, serial *big.Int, from, to time.Time) (*platformCert, error) {
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{CommonName: "Tenpay.com sign (wxpaytest)", Organization: []string{"Tenpay.com"},
			OrganizationalUnit: []string{"Tenpay.com CA Center"}, Country: []string{"CN"}, Locality: []string{"ShenZhen"}},
		NotBefore: from,
		NotAfter:  to,
		KeyUsage:  x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &platformCert{
		serial: wire.Serial(c),
		key:    key,
		cert:   c,
		pem:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}, nil
}

// currentCert is the platform certificate that signs now: the newest.
func (k *v3Keys) currentCert() (*platformCert, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	cs, err := k.certsLocked()
	if err != nil {
		return nil, err
	}
	return cs[len(cs)-1], nil
}

// answerKey is the key that signs an API answer to a request whose
// Wechatpay-Serial header is reqSerial.
func (k *v3Keys) answerKey(reqSerial string) (v3SigningKey, error) {
	pub := v3SigningKey{k.pubKeyID, k.wxKey}
	switch k.signer {
	case V3SignPublicKey:
		return pub, nil
	case V3SignBoth:
		if reqSerial == k.pubKeyID {
			return pub, nil
		}
	}
	pc, err := k.currentCert()
	if err != nil {
		return v3SigningKey{}, err
	}
	return v3SigningKey{pc.serial, pc.key}, nil
}

// notifyKey is the key that signs the next notification delivery.
func (k *v3Keys) notifyKey() (v3SigningKey, error) {
	if k.signer == V3SignBoth {
		k.mu.Lock()
		k.flip++
		even := k.flip%2 == 0
		k.mu.Unlock()
		if even {
			return v3SigningKey{k.pubKeyID, k.wxKey}, nil
		}
	}
	return k.answerKey("")
}

// errNoV3 is what the v3 accessors of a fake without Config.APIv3Key
// say.
var errNoV3 = errors.New("wxpaytest: API v3 is off: set Config.APIv3Key")

func (f *Fake) v3Keys() *v3Keys {
	if f.v3 == nil {
		panic(errNoV3.Error())
	}
	return f.v3
}

// V3PublicKeyID returns the id of the WeChat Pay public key
// ("PUB_KEY_ID_…"), what apiv3.Config.PublicKeyID takes. The same
// Config.WeChatPayKey always gives the same id. It panics if v3 is off
// (no Config.APIv3Key): a mistake in the test.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012154180
func (f *Fake) V3PublicKeyID() string { return f.v3Keys().pubKeyID }

// V3PublicKeyPEM returns the WeChat Pay public key as a PEM "PUBLIC
// KEY", what the merchant platform hands out as pub_key.pem and
// apiv3.Config.PublicKey takes. It panics if v3 is off.
func (f *Fake) V3PublicKeyPEM() []byte { return append([]byte(nil), f.v3Keys().pubKeyPEM...) }

// V3PlatformCertificates returns the platform certificates in PEM, the
// one that signs now first, as GET /v3/certificates serves them
// (decrypted). The first is made on first use, from the WeChat Pay key.
// It panics if v3 is off.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay5_0.shtml
func (f *Fake) V3PlatformCertificates() [][]byte {
	k := f.v3Keys()
	k.mu.Lock()
	defer k.mu.Unlock()
	cs, err := k.certsLocked()
	if err != nil {
		panic("wxpaytest: cannot make the platform certificate: " + err.Error())
	}
	out := make([][]byte, 0, len(cs))
	for i := len(cs) - 1; i >= 0; i-- {
		out = append(out, append([]byte(nil), cs[i].pem...))
	}
	return out
}

// RotateV3Certificate mints a new platform certificate with a new key,
// as WeChat does before the current one expires: from now on answers
// and notifications signed under certificates are signed by the new
// one, and /v3/certificates serves both (the overlap WeChat keeps), so a
// client that refreshes on an unknown serial loses nothing. It fails if
// v3 is off or a key cannot be minted.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay5_0.shtml
func (f *Fake) RotateV3Certificate() error {
	if f.v3 == nil {
		return errNoV3
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	serial, _ := new(big.Int).SetString(randHexSerial(), 16)
	now := f.Now()
	pc, err := issuePlatformCert(key, serial, now.Add(-time.Minute), now.Add(5*365*24*time.Hour))
	if err != nil {
		return err
	}
	k := f.v3
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := k.certsLocked(); err != nil {
		return err
	}
	k.certs = append(k.certs, pc)
	return nil
}

// V3MerchantKey returns the merchant API certificate's serial and, when
// the fake minted the merchant's key pair (Config.MerchantSerialNo and
// Config.MerchantPublicKey empty), its private key in PEM (PKCS#8), what
// apiv3.Config takes as MerchantSerialNo and PrivateKey. privateKeyPEM
// is nil when the merchant's key was configured. It panics if v3 is off.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/partner/4025464285
func (f *Fake) V3MerchantKey() (serialNo string, privateKeyPEM []byte) {
	k := f.v3Keys()
	return k.mchSerial, append([]byte(nil), k.mchKeyPEM...)
}
