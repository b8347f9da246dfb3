package cli

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// Files of fake -v3's directory. Private keys are written with mode 0600
// and never printed; the rest is public.
const (
	v3FileWeChatPayKey = "wechatpay_private_key.pem" // the fake's WeChat Pay private key: notify -v3 only
	v3FilePubKey       = "pub_key.pem"               // its public half, the WeChat Pay public key
	v3FilePlatformCert = "wechatpay_cert.pem"        // the fake's platform certificates
	v3FileMchKey       = "apiclient_key.pem"         // the merchant API private key, when minted
	v3FileMchCert      = "apiclient_cert.pem"        // its certificate, when minted
	v3FileSettings     = "wxpay.env"                 // every setting, for -config
)

// v3FakeDir is the key material fake -v3 runs with, loaded from or
// minted into its directory.
type v3FakeDir struct {
	dir          string // absolute
	wechatPayKey []byte // PEM; the fake's
	// mchCert is the merchant API certificate (PEM) the fake checks
	// requests against: the minted one, or built from WXPAY_CERT_FILE.
	mchCert   []byte
	mchSerial string
	mchPubPEM []byte // the merchant public key as PEM, when no certificate is at hand
	minted    []string
	// saved are the settings of a previous run of the fake read back from
	// wxpay.env (generated values and file names), which the environment
	// and -config override.
	saved map[string]string
}

// path returns the absolute name of a file of the directory.
func (d *v3FakeDir) path(name string) string { return filepath.Join(d.dir, name) }

// openV3FakeDir creates dir (mode 0700) or opens it, and reads the
// settings an earlier run saved there. A directory others can write to
// is refused: anyone who can replace its keys can sign as the fake.
func openV3FakeDir(dir string) (*v3FakeDir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("-v3-dir: %v", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("-v3-dir: %s", fileErr(err))
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return nil, fmt.Errorf("-v3-dir: %s", fileErr(err))
	case !fi.IsDir():
		return nil, errors.New("-v3-dir: not a directory")
	case runtime.GOOS != "windows" && fi.Mode().Perm()&0o022 != 0:
		return nil, fmt.Errorf("-v3-dir: mode %#o lets other users replace the keys in it; chmod 700 it", fi.Mode().Perm())
	case ownedByOther(fi):
		// Its owner can replace the keys whatever the mode says.
		return nil, errors.New("-v3-dir: the directory is owned by another user, who can replace the keys in it; use a directory of your own")
	}
	d := &v3FakeDir{dir: abs, saved: map[string]string{}}
	b, err := readOwnFile(d.path(v3FileSettings), maxConfigFile, true)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("-v3-dir %s: %v", v3FileSettings, err)
	default:
		if d.saved, err = parseConfig(b); err != nil {
			return nil, fmt.Errorf("-v3-dir %s: %v", v3FileSettings, err)
		}
	}
	return d, nil
}

// readOwnFile reads at most max bytes of name; private says it holds a
// key or a secret, and then a mode that lets other users read it is
// refused, as ssh refuses such a key.
func readOwnFile(name string, max int, private bool) ([]byte, error) {
	if private && runtime.GOOS != "windows" {
		if fi, err := os.Stat(name); err == nil {
			switch {
			case fi.Mode().Perm()&0o077 != 0:
				return nil, fmt.Errorf("mode %#o lets other users read a private file; chmod 600 it", fi.Mode().Perm())
			case ownedByOther(fi):
				return nil, errors.New("the file is owned by another user, who can rewrite it; delete it or use a directory of your own")
			}
		}
	}
	return readBounded(name, max)
}

// writeOwnFile writes b to name through a temporary file and a rename,
// so that a reader never sees half a key, with mode 0600 when private.
func writeOwnFile(name string, b []byte, private bool) error {
	mode := os.FileMode(0o644)
	if private {
		mode = 0o600
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return errors.New(fileErr(err))
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return errors.New(fileErr(err))
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return errors.New(fileErr(err))
	}
	if err := tmp.Close(); err != nil {
		return errors.New(fileErr(err))
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return errors.New(fileErr(err))
	}
	return nil
}

// loadWeChatPayKey loads the fake's WeChat Pay private key from the
// directory, or mints one and saves it (mode 0600): the public key id and
// the first platform certificate derive from it, so a restarted fake is
// trusted by the clients of the last run.
func (d *v3FakeDir) loadWeChatPayKey() error {
	name := d.path(v3FileWeChatPayKey)
	b, err := readOwnFile(name, maxPEMFile, true)
	switch {
	case err == nil:
		if _, err := parseRSAKeyPEM(b); err != nil {
			return fmt.Errorf("-v3-dir %s: %v (delete it to have the fake mint a new one)", v3FileWeChatPayKey, err)
		}
		d.wechatPayKey = b
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("-v3-dir %s: %v", v3FileWeChatPayKey, err)
	}
	_, pemBytes, err := mintRSAKey()
	if err != nil {
		return err
	}
	if err := writeOwnFile(name, pemBytes, true); err != nil {
		return fmt.Errorf("-v3-dir %s: %v", v3FileWeChatPayKey, err)
	}
	d.wechatPayKey = pemBytes
	d.minted = append(d.minted, EnvV3WeChatPayKeyFile)
	return nil
}

// loadMerchant sets the merchant API key the fake checks requests
// against: the merchant's own (WXPAY_KEY_FILE with its serial or
// certificate) when s has one, else the pair saved in the directory by an
// earlier run, else a pair minted now: apiclient_key.pem (mode 0600) and a
// self-signed apiclient_cert.pem issued to WXPAY_MCHID, whose serial is
// WXPAY_V3_SERIAL. It sets s's key, certificate and serial settings to
// the files it uses.
func (d *v3FakeDir) loadMerchant(s *settings) error {
	if s.KeyFile != "" && s.KeyFile != d.path(v3FileMchKey) {
		m, err := s.v3Signer()
		if err != nil {
			return err
		}
		d.mchSerial = m.serial
		if m.cert != nil {
			d.mchCert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.cert.Raw})
		} else {
			der, err := x509.MarshalPKIXPublicKey(&m.key.PublicKey)
			if err != nil {
				return err
			}
			d.mchPubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		}
		return nil
	}
	keyFile, certFile := d.path(v3FileMchKey), d.path(v3FileMchCert)
	kb, kerr := readOwnFile(keyFile, maxPEMFile, true)
	cb, cerr := readBounded(certFile, maxPEMFile)
	switch {
	case kerr == nil && cerr == nil:
		key, err := parseRSAKeyPEM(kb)
		if err != nil {
			return fmt.Errorf("-v3-dir %s: %v (delete it and %s to have the fake mint a new pair)", v3FileMchKey, err, v3FileMchCert)
		}
		blk, _ := pem.Decode(cb)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return fmt.Errorf("-v3-dir %s: not a PEM certificate (delete it and %s to have the fake mint a new pair)", v3FileMchCert, v3FileMchKey)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return fmt.Errorf("-v3-dir %s: the certificate does not parse", v3FileMchCert)
		}
		if pub, ok := c.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
			return fmt.Errorf("-v3-dir: %s is not the certificate of %s (delete both to have the fake mint a new pair)", v3FileMchCert, v3FileMchKey)
		}
		if s.MchID != "" && c.Subject.CommonName != s.MchID {
			return fmt.Errorf("-v3-dir: %s is issued to another merchant than %s (delete it and %s, or use another -v3-dir)", v3FileMchCert, EnvMchID, v3FileMchKey)
		}
		d.mchCert, d.mchSerial = cb, fmt.Sprintf("%X", c.SerialNumber.Bytes())
	case errors.Is(kerr, fs.ErrNotExist) && errors.Is(cerr, fs.ErrNotExist):
		key, kp, err := mintRSAKey()
		if err != nil {
			return err
		}
		cert, serial, err := merchantCertificate(key, s.MchID, time.Now())
		if err != nil {
			return err
		}
		if err := writeOwnFile(keyFile, kp, true); err != nil {
			return fmt.Errorf("-v3-dir %s: %v", v3FileMchKey, err)
		}
		if err := writeOwnFile(certFile, cert, false); err != nil {
			return fmt.Errorf("-v3-dir %s: %v", v3FileMchCert, err)
		}
		d.mchCert, d.mchSerial = cert, serial
		d.minted = append(d.minted, EnvKeyFile, EnvCertFile)
	case kerr != nil && !errors.Is(kerr, fs.ErrNotExist):
		return fmt.Errorf("-v3-dir %s: %v", v3FileMchKey, kerr)
	default:
		return fmt.Errorf("-v3-dir: one of %s and %s is missing; delete the other to have the fake mint a new pair", v3FileMchKey, v3FileMchCert)
	}
	s.KeyFile, s.CertFile, s.V3.Serial = keyFile, certFile, d.mchSerial
	return nil
}

// mintRSAKey makes a 2048-bit RSA key and its PKCS#8 PEM, the form
// WeChat's certificate tool writes apiclient_key.pem in.
func mintRSAKey() (*rsa.PrivateKey, []byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// merchantCertificate makes a self-signed merchant API certificate as
// WeChat issues them in shape: the common name is the mch_id, valid five
// years, a 20-byte serial (40 hex digits).
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/partner/4025464285
func merchantCertificate(key *rsa.PrivateKey, mchID string, now time.Time) ([]byte, string, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
	if err != nil {
		return nil, "", err
	}
	serial.SetBit(serial, 156, 1) // 40 hex digits, the length WeChat's have
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: mchID, Organization: []string{"wxpay fake merchant"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), fmt.Sprintf("%X", serial.Bytes()), nil
}

// parseRSAKeyPEM reads one PEM RSA private key (PKCS#8 or PKCS#1) of at
// least 2048 bits; errors never quote it.
func parseRSAKeyPEM(b []byte) (*rsa.PrivateKey, error) {
	blk, rest := pem.Decode(b)
	if blk == nil || strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("not one PEM block")
	}
	var k any
	var err error
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	default:
		return nil, errors.New("not a PEM private key")
	}
	if err != nil {
		return nil, errors.New("the private key does not parse")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok || rk.N.BitLen() < 2048 {
		return nil, errors.New("not an RSA key of at least 2048 bits")
	}
	return rk, nil
}

// writeV3Settings writes the directory's wxpay.env: the settings a client
// of the fake needs, for -config. It holds the generated secrets (the
// APIv3 key, and v2's API key and AppSecret when generated) and is
// written with mode 0600; a secret taken from the environment or -config
// is left out (the user has it already, and it may be real).
func writeV3Settings(w io.Writer, lines [][2]string) {
	fmt.Fprintln(w, "# settings of a wxpay fake -v3 (mode 0600: it holds the generated keys).")
	fmt.Fprintln(w, "# Use it with -config; the fake reads it back when restarted with the same -v3-dir.")
	for _, l := range lines {
		fmt.Fprintf(w, "%s=%s\n", l[0], l[1])
	}
}

// fakeV3Banner is the v3 part of fake's banner: the settings a client of
// the fake's API v3 needs. No secret is in it: private keys are files,
// and the APIv3 key is shown as *** and its length (it is in ConfigFile).
type fakeV3Banner struct {
	Dir        string            `json:"dir"`
	ConfigFile string            `json:"config_file"` // wxpay.env: every setting, for -config
	Signer     string            `json:"signer"`      // pubkey, cert or both
	Settings   map[string]string `json:"settings"`
	Generated  []string          `json:"generated"` // minted now or by an earlier run with this -v3-dir
}

// v3FakeSignerNames maps -v3-signer to the fake's modes.
var v3FakeSignerNames = map[string]wxpaytest.V3Signer{
	"pubkey": wxpaytest.V3SignPublicKey,
	"cert":   wxpaytest.V3SignCertificate,
	"both":   wxpaytest.V3SignBoth,
}

// v3SettingOrder is the order the v3 settings are printed and saved in.
var v3SettingOrder = []string{EnvBaseURL, EnvAPIv3Key, EnvKeyFile, EnvCertFile, EnvV3Serial, EnvV3PubKeyID, EnvV3PubKeyFile, EnvV3PlatformCertFile, EnvV3WeChatPayKeyFile}

// settingPtr returns the field of s a setting name sets, or nil.
func (s *settings) settingPtr(name string) *string {
	switch name {
	case EnvAppID:
		return &s.AppID
	case EnvMchID:
		return &s.MchID
	case EnvAPIKey:
		return &s.APIKey
	case EnvNotifyURL:
		return &s.NotifyURL
	case EnvAppSecret:
		return &s.AppSecret
	case EnvCertFile:
		return &s.CertFile
	case EnvKeyFile:
		return &s.KeyFile
	case EnvAPIv3Key:
		return &s.V3.APIv3Key
	case EnvV3Serial:
		return &s.V3.Serial
	case EnvV3PubKeyID:
		return &s.V3.PubKeyID
	case EnvV3PubKeyFile:
		return &s.V3.PubKeyFile
	case EnvV3PlatformCertFile:
		return &s.V3.PlatformCertFile
	case EnvBaseURL:
		return &s.V3.BaseURL
	case EnvV3WeChatPayKeyFile:
		return &s.V3.WeChatPayKeyFile
	}
	return nil
}

// applySaved fills the settings the environment and -config leave unset
// with those a previous run saved in the directory: the same merchant,
// keys and ids after a restart. It returns the names it filled, and
// those set to the saved value anyway. Only the
// merchant's identity and secrets are taken back; file names and ids are
// recomputed from the directory.
func (d *v3FakeDir) applySaved(s *settings) []string {
	var filled []string
	for _, name := range []string{EnvAppID, EnvMchID, EnvAPIKey, EnvAppSecret, EnvAPIv3Key} {
		v, ok := d.saved[name]
		p := s.settingPtr(name)
		switch {
		case !ok || v == "":
		case *p == "":
			*p = v
			filled = append(filled, name)
		case *p == v:
			// The fake's own value come back through the environment
			// (a sourced wxpay.env) or -config DIR/wxpay.env: still a
			// throwaway of the fake, kept in wxpay.env, no warning.
			delete(s.from, name)
			filled = append(filled, name)
		}
	}
	if v := d.saved[EnvSignType]; v != "" && s.SignType == "" {
		s.SignType = wxpay.SignType(v)
	}
	return filled
}

// startV3 finishes the v3 settings of the fake once it runs: it writes
// the WeChat Pay public key and the platform certificates into the
// directory, points s at the directory's files, and saves wxpay.env.
// generated names the settings the fake made up (now or in an earlier
// run); only those secrets are written to wxpay.env.
func (d *v3FakeDir) startV3(f *wxpaytest.Fake, s *settings, baseURL, signer string, generated map[string]bool) (*fakeV3Banner, error) {
	if err := writeOwnFile(d.path(v3FilePubKey), f.V3PublicKeyPEM(), false); err != nil {
		return nil, fmt.Errorf("-v3-dir %s: %v", v3FilePubKey, err)
	}
	if err := d.writePlatformCerts(f); err != nil {
		return nil, err
	}
	s.V3.PubKeyID, s.V3.PubKeyFile = f.V3PublicKeyID(), d.path(v3FilePubKey)
	s.V3.PlatformCertFile, s.V3.WeChatPayKeyFile = d.path(v3FilePlatformCert), d.path(v3FileWeChatPayKey)
	s.V3.BaseURL = baseURL
	b := &fakeV3Banner{Dir: d.dir, ConfigFile: d.path(v3FileSettings), Signer: signer, Settings: map[string]string{}, Generated: []string{}}
	for _, name := range append(append([]string(nil), d.minted...), sortedKeys(generated)...) {
		if !containsString(b.Generated, name) {
			b.Generated = append(b.Generated, name)
		}
	}
	for _, name := range v3SettingOrder {
		v := *s.settingPtr(name)
		if name == EnvAPIv3Key {
			v = redact(v)
		}
		if v != "" {
			b.Settings[name] = v
		}
	}
	var lines [][2]string
	for _, name := range []string{EnvAppID, EnvMchID, EnvAPIKey, EnvSignType, EnvAppSecret} {
		switch {
		case name == EnvSignType:
			lines = append(lines, [2]string{name, string(s.signType())})
		case (name == EnvAPIKey || name == EnvAppSecret) && !generated[name]:
		default:
			lines = append(lines, [2]string{name, *s.settingPtr(name)})
		}
	}
	for _, name := range v3SettingOrder {
		v := *s.settingPtr(name)
		if v == "" || name == EnvAPIv3Key && !generated[name] {
			continue
		}
		lines = append(lines, [2]string{name, v})
	}
	var sb strings.Builder
	writeV3Settings(&sb, lines)
	if err := writeOwnFile(d.path(v3FileSettings), []byte(sb.String()), true); err != nil {
		return nil, fmt.Errorf("-v3-dir %s: %v", v3FileSettings, err)
	}
	return b, nil
}

// writePlatformCerts writes the fake's current platform certificates,
// the one that signs now first (as the fake lists them), for
// WXPAY_V3_PLATFORM_CERT_FILE.
func (d *v3FakeDir) writePlatformCerts(f *wxpaytest.Fake) error {
	var all []byte
	for _, c := range f.V3PlatformCertificates() {
		all = append(all, c...)
	}
	if err := writeOwnFile(d.path(v3FilePlatformCert), all, false); err != nil {
		return fmt.Errorf("-v3-dir %s: %v", v3FilePlatformCert, err)
	}
	return nil
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// printV3Banner prints the v3 settings lines: names with file paths and
// ids, never a secret value.
func printV3Banner(w io.Writer, b *fakeV3Banner) {
	fmt.Fprintf(w, "API v3 (signed with the %s; private keys are files of mode 0600, never printed), or use -config %s:\n", map[string]string{"pubkey": "WeChat Pay public key", "cert": "platform certificate", "both": "public key and the platform certificate, as during a migration"}[b.Signer], b.ConfigFile)
	gen := map[string]bool{}
	for _, g := range b.Generated {
		gen[g] = true
	}
	for _, name := range v3SettingOrder {
		v, ok := b.Settings[name]
		if !ok {
			continue
		}
		note := ""
		switch {
		case name == EnvAPIv3Key:
			note = "   # not shown; in " + v3FileSettings
			if !gen[name] {
				note = "   # from your settings; not shown"
			}
		case name == EnvV3WeChatPayKeyFile:
			note = "   # the fake's WeChat Pay private key: for wxpay notify -v3 only"
		case gen[name]:
			note = "   # minted for this fake"
		}
		fmt.Fprintf(w, "  %s=%s%s\n", name, v, note)
	}
}

// rotateV3 runs the rotate-v3-cert command: a new platform certificate
// signs from now on, and the directory's certificate file lists it.
func rotateV3(f *wxpaytest.Fake, d *v3FakeDir) fakeReply {
	r := fakeReply{Command: "rotate-v3-cert"}
	if d == nil {
		r.Error = "API v3 is off: start the fake with -v3 -v3-dir DIR"
		return r
	}
	if err := f.RotateV3Certificate(); err != nil {
		r.Error = err.Error()
		return r
	}
	if err := d.writePlatformCerts(f); err != nil {
		r.Error = err.Error()
		return r
	}
	certs := f.V3PlatformCertificates()
	if blk, _ := pem.Decode(certs[0]); blk != nil { // the one that signs now comes first
		if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
			r.Serial = fmt.Sprintf("%X", c.SerialNumber.Bytes())
		}
	}
	r.OK = true
	return r
}
