package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
	"github.com/wxpay-go/wxpay/internal/wire"
)

// Names of doctor -v3's checks that are not settings.
const (
	checkV3Key      = "private key"
	checkV3SerialNo = "serial"
	checkV3Verify   = "WeChat keys"
	checkV3Download = "certificate download"
)

func runDoctorV3(ctx context.Context, c *cmdEnv, args []string) int {
	fs, cfgFile, js := c.flagSet("doctor", "-v3 [-config file] [-json] [-offline] [-timeout d]", `
Doctor -v3 checks the API v3 settings and says what each check verified and
what it could not: WXPAY_MCHID (digits); the private key of WXPAY_KEY_FILE
(PEM, PKCS#8 or PKCS#1, RSA of at least 2048 bits); the serial (WXPAY_V3_SERIAL,
hex) against the merchant certificate WXPAY_CERT_FILE when given (the key pair
matches, the certificate is issued to WXPAY_MCHID, valid, and not expiring
within 30 days); the APIv3 key's shape (32 bytes; shown as *** and its length
only; format only); the WeChat Pay public key id's shape and its PEM; the
platform certificates of WXPAY_V3_PLATFORM_CERT_FILE.

When WXPAY_BASE_URL is set (https://api.mch.weixin.qq.com for WeChat itself)
and -offline is not given, doctor also downloads the platform certificates
(GET /v3/certificates, signed with the key and serial): WeChat accepting the
request checks the key, serial and mchid together, and the certificates
opening under the APIv3 key checks the APIv3 key. Merchants with the WeChat Pay
public key only (since 2024) have no certificates to download; then the
APIv3 key is checked by "wxpay verify -decrypt" on a real notification.
Exit status 1 when a check fails.`)
	fs.Bool("v3", true, "check the API v3 settings (the flag selects this form)")
	offline := fs.Bool("offline", false, "do not download certificates from WXPAY_BASE_URL")
	timeout := fs.Duration("timeout", 10*time.Second, "time allowed for the certificate download")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return c.usageErr("doctor", "unexpected argument %q", truncate(fs.Arg(0), 40))
	}
	s, err := c.loadSettings(*cfgFile)
	if err != nil {
		return c.usageErr("doctor", "%v", err)
	}
	return c.report(doctorV3(ctx, s, *offline, *timeout, time.Now()), *js, 27)
}

func doctorV3(ctx context.Context, s *settings, offline bool, timeout time.Duration, now time.Time) doctorResult {
	var res doctorResult
	add := func(name, status, format string, a ...any) {
		res.Checks = append(res.Checks, check{name, status, fmt.Sprintf(format, a...)})
	}
	switch {
	case s.MchID == "":
		add(EnvMchID, statusFail, "not set (the mchid of every v3 Authorization header)")
	case !mchIDPattern.MatchString(s.MchID) || len(s.MchID) > 32:
		add(EnvMchID, statusFail, "%d characters, not a merchant number: digits only; %s", len(s.MchID), notShown)
	default:
		add(EnvMchID, statusOK, "%s (format only; a real check needs a signed call)", s.MchID)
	}
	// The key, then the serial against it and the certificate.
	var m *v3Merchant
	keyOK := false
	if s.KeyFile == "" {
		add(checkV3Key, statusFail, "%s not set: the merchant API private key (apiclient_key.pem) signs every v3 request", EnvKeyFile)
	} else if b, err := readPEMFile(EnvKeyFile, s.KeyFile); err != nil {
		add(checkV3Key, statusFail, "%v", err)
	} else if k, err := apiv3.ParsePrivateKey(b); err != nil {
		add(checkV3Key, statusFail, "%s: %s", EnvKeyFile, libErr(err))
	} else {
		keyOK = true
		add(checkV3Key, statusOK, "%s holds an RSA-%d private key (not checked here: that WeChat registered it; the certificate download does)", EnvKeyFile, k.N.BitLen())
	}
	if keyOK {
		var err error
		if m, err = s.v3Signer(); err != nil {
			add(checkV3SerialNo, statusFail, "%v", err)
		} else if m.cert == nil {
			add(checkV3SerialNo, statusOK, "%s (format only: without %s the key cannot be checked against it offline; the certificate download checks the pair)", m.serial, EnvCertFile)
		} else {
			res.Checks = append(res.Checks, merchantCertStatus(m, now))
		}
	} else {
		add(checkV3SerialNo, statusSkip, "not checked: it needs a loadable private key")
	}
	key := apiV3KeyOf(s)
	apiV3KeyOK := false
	switch {
	case key == "":
		add(EnvAPIv3Key, statusFail, "not set: it opens every notification (商户平台 → 账户中心 → API安全 → APIv3密钥)")
	case strings.TrimSpace(key) != key:
		add(EnvAPIv3Key, statusFail, "%s: has leading or trailing whitespace (copied with a newline?)", redact(key))
	case len(key) != 32:
		add(EnvAPIv3Key, statusFail, "%s: the APIv3 key has exactly 32 bytes (AEAD_AES_256_GCM); a 16-byte key would be AES-128, which WeChat never uses", redact(key))
	case s.APIKey != "" && key == s.APIKey:
		add(EnvAPIv3Key, statusFail, "%s: equals %s; the APIv2 key and the APIv3 key are two different keys (both under 账户中心 → API安全)", redact(key), EnvAPIKey)
	case keyProblem(key, true) != "":
		apiV3KeyOK = true
		add(EnvAPIv3Key, statusWarn, "%s, but not all letters and digits as the merchant platform accepts them (format only)", redact(key))
	default:
		apiV3KeyOK = true
		add(EnvAPIv3Key, statusOK, "%s, letters and digits (format only; only opening a notification or a certificate download tells whether it is right)", redact(key))
	}
	// WeChat's keys.
	hasPub := false
	switch {
	case s.V3.PubKeyID == "" && s.V3.PubKeyFile == "":
		add(EnvV3PubKeyID, statusSkip, "not set (merchants since 2024 verify WeChat with the WeChat Pay public key: set %s and %s)", EnvV3PubKeyID, EnvV3PubKeyFile)
	case s.V3.PubKeyID == "" || s.V3.PubKeyFile == "":
		add(EnvV3PubKeyID, statusFail, "set %s and %s together", EnvV3PubKeyID, EnvV3PubKeyFile)
	case !pubKeyIDPattern.MatchString(s.V3.PubKeyID):
		add(EnvV3PubKeyID, statusFail, "not a public key id: %s followed by digits, as shown beside the key; %s", apiv3.PublicKeyIDPrefix, notShown)
	default:
		if strings.Trim(strings.TrimPrefix(s.V3.PubKeyID, apiv3.PublicKeyIDPrefix), "0123456789") != "" {
			add(EnvV3PubKeyID, statusWarn, "%s: the ids WeChat publishes are %s and digits (format only)", s.V3.PubKeyID, apiv3.PublicKeyIDPrefix)
		} else {
			add(EnvV3PubKeyID, statusOK, "%s (format only: answers and notifications signed with it carry it as Wechatpay-Serial)", s.V3.PubKeyID)
		}
		if b, err := readPEMFile(EnvV3PubKeyFile, s.V3.PubKeyFile); err != nil {
			add(EnvV3PubKeyFile, statusFail, "%v", err)
		} else if pub, err := apiv3.ParsePublicKey(b); err != nil {
			add(EnvV3PubKeyFile, statusFail, "%s", strings.ReplaceAll(libErr(err), "PublicKey", "the file"))
		} else {
			hasPub = true
			add(EnvV3PubKeyFile, statusOK, "an RSA-%d public key (not checked: that it is WeChat's key for this merchant; verifying a real notification tells)", pub.N.BitLen())
		}
	}
	hasCerts := false
	if s.V3.PlatformCertFile == "" {
		add(EnvV3PlatformCertFile, statusSkip, "not set (older merchants verify WeChat with platform certificates)")
	} else if b, err := readPEMFile(EnvV3PlatformCertFile, s.V3.PlatformCertFile); err != nil {
		add(EnvV3PlatformCertFile, statusFail, "%v", err)
	} else if certs, err := parseCertificates(b); err != nil {
		add(EnvV3PlatformCertFile, statusFail, "%v", err)
	} else {
		var valid, invalid []string
		for _, c := range certs {
			serial := fmt.Sprintf("%X", c.SerialNumber.Bytes())
			if why := certValidity(c, now); why != "" {
				invalid = append(invalid, serial+" "+why)
				continue
			}
			valid = append(valid, serial+" until "+c.NotAfter.UTC().Format(time.DateOnly))
		}
		if len(valid) == 0 {
			add(EnvV3PlatformCertFile, statusFail, "no certificate of the file is valid now (%s): download the current ones (GET /v3/certificates)", strings.Join(invalid, ", "))
		} else {
			hasCerts = true
			add(EnvV3PlatformCertFile, statusOK, "%d valid: %s (not checked: that WeChat issued them; the certificate download lists WeChat's)", len(valid), strings.Join(valid, ", "))
			if len(invalid) > 0 {
				add(EnvV3PlatformCertFile, statusWarn, "not valid now, WeChat no longer signs with them: %s", strings.Join(invalid, ", "))
			}
		}
	}
	if !hasPub && !hasCerts {
		add(checkV3Verify, statusFail, "no usable WeChat key: answers and notifications cannot be verified; set the WeChat Pay public key (%s, %s) or %s", EnvV3PubKeyID, EnvV3PubKeyFile, EnvV3PlatformCertFile)
	}
	res.Checks = append(res.Checks, checkDownload(ctx, s, m, apiV3KeyOK, hasPub, offline, timeout, now))
	res.OK = true
	for _, ch := range res.Checks {
		if ch.Status == statusFail {
			res.OK = false
		}
	}
	return res
}

// merchantCertStatus checks the merchant certificate v3Signer matched to
// the key: issued to the mchid, valid, not about to expire.
func merchantCertStatus(m *v3Merchant, now time.Time) check {
	c := m.cert
	who := c.Subject.CommonName
	until := c.NotAfter.UTC().Format(time.DateOnly)
	switch {
	case certValidity(c, now) != "":
		return check{checkV3SerialNo, statusFail, fmt.Sprintf("the certificate %s is %s: download a new one (账户中心 → API安全)", m.serial, certValidity(c, now))}
	case c.NotAfter.Sub(now) < certWarning:
		return check{checkV3SerialNo, statusFail, fmt.Sprintf("the certificate %s expires on %s, in %d days: renew it now", m.serial, until, int(c.NotAfter.Sub(now).Hours()/24))}
	case who != m.mchID:
		return check{checkV3SerialNo, statusFail, fmt.Sprintf("the certificate %s is issued to %q, not to %s %s: the merchant API certificate's common name is its mch_id", m.serial, truncate(who, 40), EnvMchID, m.mchID)}
	}
	return check{checkV3SerialNo, statusOK, fmt.Sprintf("%s (from %s): the private key is the certificate's, issued to mch_id %s, valid until %s (not checked: that WeChat registered it; the certificate download does)", m.serial, m.serialFrom, who, until)}
}

// checkDownload signs GET /v3/certificates and opens the answer under
// the APIv3 key, through the library's own client.
func checkDownload(ctx context.Context, s *settings, m *v3Merchant, apiV3KeyOK, hasPub bool, offline bool, timeout time.Duration, now time.Time) check {
	const name = checkV3Download
	switch {
	case s.V3.BaseURL == "":
		return check{name, statusSkip, fmt.Sprintf("not contacted: set %s=%s to check the key, serial and APIv3 key against GET /v3/certificates", EnvBaseURL, apiv3.BaseURL)}
	case offline:
		return check{name, statusSkip, "not contacted (-offline)"}
	case m == nil || !apiV3KeyOK:
		return check{name, statusSkip, "not contacted: it needs a loadable private key and serial and a 32-byte APIv3 key"}
	}
	u, err := url.Parse(s.V3.BaseURL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return check{name, statusFail, EnvBaseURL + " is not an absolute https URL; " + notShown}
	case u.Scheme == "http" && !wire.LoopbackHost(u.Hostname()):
		return check{name, statusFail, EnvBaseURL + " uses http to a host that is not loopback: the request is signed and the answer carries WeChat's certificates, so only https (or a local test server) will do"}
	}
	cfg := apiv3.Config{MchID: m.mchID, MerchantSerialNo: m.serial, Signer: m.key, APIv3Key: apiV3KeyOf(s), PlatformCertificates: true}
	if hasPub {
		// A public-key merchant's error answer is signed with the
		// public key: trusting it lets the 404 be read as WeChat's.
		if b, err := readPEMFile(EnvV3PubKeyFile, s.V3.PubKeyFile); err == nil {
			cfg.PublicKeyID, cfg.PublicKey = s.V3.PubKeyID, b
		}
	}
	cl, err := apiv3.NewClient(cfg, apiv3.WithBaseURL(s.V3.BaseURL), apiv3.WithHTTPClient(&http.Client{Timeout: timeout}),
		apiv3.WithClock(func() time.Time { return now }), apiv3.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return check{name, statusFail, "the library refuses the settings: " + libErr(err)}
	}
	where := "WeChat"
	if strings.TrimRight(s.V3.BaseURL, "/") != apiv3.BaseURL && strings.TrimRight(s.V3.BaseURL, "/") != apiv3.BackupBaseURL {
		where = "the server at " + (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
	}
	err = cl.RefreshCertificates(ctx)
	var ae *apiv3.Error
	switch {
	case err == nil:
		var serials []string
		for _, c := range cl.Certificates() {
			serials = append(serials, c.SerialNo)
		}
		return check{name, statusOK, fmt.Sprintf("%s accepted the request's signature (so %s, the serial and %s are registered together), the answer's signature verified, and %s opened %d certificate(s): %s",
			where, EnvKeyFile, EnvMchID, EnvAPIv3Key, len(serials), strings.Join(serials, ", "))}
	case errors.Is(err, apiv3.ErrDecrypt):
		return check{name, statusFail, fmt.Sprintf("%s accepted the request's signature, but the certificates it sent do not open under %s (%s): the APIv3 key is wrong (the APIv2 key is another one); reset it under 账户中心 → API安全 if no one knows it", where, EnvAPIv3Key, redact(apiV3KeyOf(s)))}
	case errors.As(err, &ae) && ae.StatusCode == http.StatusUnauthorized:
		return check{name, statusFail, fmt.Sprintf("%s refused the request's signature (HTTP 401 %s): %s and the serial %s are not a pair registered for %s %s, or this machine's clock is off by more than 5 minutes", where, ae.Code, EnvKeyFile, m.serial, EnvMchID, m.mchID)}
	case errors.As(err, &ae) && (ae.StatusCode == http.StatusNotFound || ae.StatusCode == http.StatusForbidden || ae.StatusCode >= 500):
		return check{name, statusWarn, fmt.Sprintf("%s answered HTTP %d %s: merchants given the WeChat Pay public key (since 2024) have no platform certificates; the APIv3 key could not be checked this way (check it with \"wxpay verify -decrypt\" on a real notification)", where, ae.StatusCode, ae.Code)}
	case errors.As(err, &ae):
		return check{name, statusFail, fmt.Sprintf("%s answered HTTP %d %s %s", where, ae.StatusCode, ae.Code, truncate(ae.Message, 80))}
	case errors.Is(err, apiv3.ErrSignature):
		return check{name, statusFail, "the answer's signature does not verify under the certificates it delivers: not WeChat's answer (a proxy in between?): " + strings.TrimPrefix(err.Error(), "apiv3: ")}
	case errors.Is(err, apiv3.ErrCertificate):
		return check{name, statusFail, "the answer's certificates were refused: " + strings.TrimPrefix(err.Error(), "apiv3: ")}
	}
	return check{name, statusFail, "not reachable: " + scrubURL(err)}
}
