package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"

	"github.com/wxpay-go/wxpay"
)

// Setting names, as environment variables and as -config file keys.
const (
	EnvAppID     = "WXPAY_APPID"      // appid bound to the merchant
	EnvMchID     = "WXPAY_MCHID"      // merchant number (mch_id)
	EnvAPIKey    = "WXPAY_API_KEY"    // the 32-character v2 API key
	EnvSignType  = "WXPAY_SIGN_TYPE"  // MD5 (default) or HMAC-SHA256
	EnvNotifyURL = "WXPAY_NOTIFY_URL" // the notify_url given to unifiedorder
	EnvAppSecret = "WX_APP_SECRET"    // the mini-program's AppSecret
	EnvCertFile  = "WXPAY_CERT_FILE"  // apiclient_cert.pem
	EnvKeyFile   = "WXPAY_KEY_FILE"   // apiclient_key.pem
)

var settingNames = append([]struct{ name, doc string }{
	{EnvAppID, "appid of the mini-program or official account (wx + 16 hex digits)"},
	{EnvMchID, "merchant number (mch_id)"},
	{EnvAPIKey, "the 32-character APIv2 key (secret; never printed)"},
	{EnvSignType, "MD5 (default) or HMAC-SHA256 (wxpay fake's default)"},
	{EnvNotifyURL, "notify_url given to unifiedorder (doctor checks it)"},
	{EnvAppSecret, "mini-program AppSecret (secret; never printed)"},
	{EnvCertFile, "path of apiclient_cert.pem (doctor checks it)"},
	{EnvKeyFile, "path of apiclient_key.pem (v3: signs every request)"},
}, v3SettingNames...)

// maxConfigFile bounds a -config file: a handful of short lines.
const maxConfigFile = 64 << 10

// settings are the merchant settings. APIKey and AppSecret are secrets:
// they are only ever printed through redact.
type settings struct {
	AppID, MchID, APIKey string
	SignType             wxpay.SignType
	NotifyURL            string
	AppSecret            string
	CertFile, KeyFile    string
	V3                   v3Settings // API v3 settings; see v3config.go
	// from says where each set value came from: "environment" or the
	// config file's name.
	from map[string]string
}

// String keeps the secrets out of any accidental %v.
func (s settings) String() string {
	return fmt.Sprintf("{appid %s, mch_id %s, key %s, sign type %s}", s.AppID, s.MchID, redact(s.APIKey), s.signType())
}

func (s settings) signType() wxpay.SignType {
	if s.SignType == "" {
		return wxpay.SignMD5
	}
	return s.SignType
}

// redact describes a secret without revealing it.
func redact(secret string) string {
	if secret == "" {
		return "(not set)"
	}
	if len(secret) == 1 {
		return "*** (1 character)"
	}
	return fmt.Sprintf("*** (%d characters)", len(secret))
}

// loadSettings reads the settings from the environment, then from the
// -config file (whose names win). An unknown name in the file is an
// error, so that a typo is not silently ignored. Errors never quote a
// value.
func (c *cmdEnv) loadSettings(configFile string) (*settings, error) {
	vals := map[string]string{}
	from := map[string]string{}
	for _, s := range settingNames {
		if v := c.env(s.name); v != "" {
			vals[s.name] = v
			from[s.name] = "environment"
		}
	}
	if configFile != "" {
		f, err := os.Open(configFile)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", configFile, err)
		}
		if len(b) > maxConfigFile {
			return nil, fmt.Errorf("config %s: larger than %d bytes", configFile, maxConfigFile)
		}
		fv, err := parseConfig(b)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", configFile, err)
		}
		if err := checkSecretFileMode(f, fv); err != nil {
			return nil, fmt.Errorf("config %s: %v", configFile, err)
		}
		for k, v := range fv {
			vals[k] = v
			from[k] = configFile
		}
	}
	return &settings{
		AppID:     vals[EnvAppID],
		MchID:     vals[EnvMchID],
		APIKey:    vals[EnvAPIKey],
		SignType:  wxpay.SignType(vals[EnvSignType]),
		NotifyURL: vals[EnvNotifyURL],
		AppSecret: vals[EnvAppSecret],
		CertFile:  vals[EnvCertFile],
		KeyFile:   vals[EnvKeyFile],
		V3:        v3SettingsFrom(vals),
		from:      from,
	}, nil
}

// parseConfig reads KEY=VALUE lines: blank lines and lines starting with
// '#' are skipped, an "export " prefix is allowed, and a value may be
// wrapped in matching single or double quotes (nothing inside is
// interpreted). Surrounding whitespace of a line is dropped.
//
// The file holds the API key, so no error quotes the file: an error names
// the line number and, where it is a setting name, the name (see
// [configNameShown]); never a value, and never a name that could be one (a
// swapped "value=NAME" line, a line without "=").
func parseConfig(b []byte) (map[string]string, error) {
	known := map[string]bool{}
	for _, s := range settingNames {
		known[s.name] = true
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxConfigFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, val, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		val = strings.TrimSpace(val)
		if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0] {
			val = val[1 : len(val)-1]
		}
		switch {
		case !ok || name == "":
			return nil, fmt.Errorf("line %d: want NAME=VALUE (the line is not shown: it may hold a secret)", n)
		case known[name]:
		case known[val]:
			return nil, fmt.Errorf("line %d: the value is the setting name %s: the line looks swapped; write %s=VALUE (the rest of the line is not shown: it may hold a secret)", n, val, val)
		case guessSetting(name) != "":
			return nil, fmt.Errorf("line %d: unknown setting name; did you mean %s? (names are exact, in capitals)", n, guessSetting(name))
		case !configNameShown(name):
			return nil, fmt.Errorf("line %d: the name before \"=\" is not a setting name (not shown: it may hold a secret); the names are %s", n, settingList())
		default:
			return nil, fmt.Errorf("line %d: unknown setting %s", n, name)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("line %d: %s set twice", n, name)
		}
		out[name] = val
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, errors.New("a line is too long")
		}
		return nil, errors.New("cannot read the file")
	}
	return out, nil
}

// settingNameRE is the shape of the names wxpay reads. An unknown name of
// this shape is a typo and is shown; any other is not, since a value on
// the wrong side of "=" (an API key, an AppSecret) has another shape.
var settingNameRE = regexp.MustCompile(`^WX(PAY)?_[A-Z0-9_]{1,40}$`)

// configNameShown reports whether an unknown name of a -config file may
// be quoted in an error.
func configNameShown(name string) bool { return settingNameRE.MatchString(name) }

// guessSetting returns the setting name that name misspells by its
// underscores or case only, or "".
func guessSetting(name string) string {
	norm := func(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "_", "")) }
	for _, s := range settingNames {
		if norm(s.name) == norm(name) {
			return s.name
		}
	}
	return ""
}

// settingList is the names a -config file may set, for error messages.
func settingList() string {
	names := make([]string, len(settingNames))
	for i, s := range settingNames {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

// signer builds the signer of s, or says which setting is missing or
// malformed, without quoting the key.
func (s *settings) signer() (*wxpay.Signer, error) {
	if s.APIKey == "" {
		return nil, fmt.Errorf("%s is not set (in the environment or -config)", EnvAPIKey)
	}
	switch s.SignType {
	case "", wxpay.SignMD5, wxpay.SignHMACSHA256:
	default:
		return nil, fmt.Errorf("%s must be MD5 or HMAC-SHA256 (its value, %d characters, is not shown: a value of the wrong shape may be a secret on the wrong line)", EnvSignType, len(s.SignType))
	}
	if msg := keyProblem(s.APIKey, false); msg != "" {
		return nil, fmt.Errorf("%s: %s", EnvAPIKey, msg)
	}
	sg, err := wxpay.NewSigner(s.APIKey, s.SignType)
	if err != nil {
		return nil, fmt.Errorf("%s: the library refuses the key (%s)", EnvAPIKey, redact(s.APIKey))
	}
	return sg, nil
}

// keyProblem describes what is wrong with an API key's shape, or "".
// WeChat's key is 32 letters and digits; strict also checks the
// characters (doctor), otherwise the library's own rule decides. The
// description gives the length only, never a character of the key.
func keyProblem(k string, strict bool) string {
	switch {
	case k == "":
		return "not set"
	case strings.TrimSpace(k) != k:
		return fmt.Sprintf("has leading or trailing whitespace (%d characters; copied with a newline?)", len(k))
	case len(k) != 32:
		return fmt.Sprintf("has %d characters; the APIv2 key has exactly 32 (the APIv3 key or a certificate serial is not it)", len(k))
	case !strict:
		return ""
	}
	for i := 0; i < len(k); i++ {
		b := k[i]
		if !(b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z') {
			return "holds characters other than letters and digits; WeChat issues 32 letters and digits"
		}
	}
	return ""
}

// secretSettings are the settings whose values are secrets.
var secretSettings = []string{EnvAPIKey, EnvAppSecret, EnvAPIv3Key}

// checkSecretFileMode refuses a -config file that holds a secret and
// that other users may read, as ssh refuses such a key: whoever reads
// the API key forges notifications. A file of settings without secrets
// (ids, URLs, file names) may be shared.
func checkSecretFileMode(f *os.File, vals map[string]string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	secret := false
	for _, name := range secretSettings {
		secret = secret || vals[name] != ""
	}
	if !secret {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("mode %#o lets other users read the secrets in it; chmod 600 it", perm)
	}
	return nil
}
