package app

import (
	"errors"
	"strings"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/examples/api"
)

// refundSetup decides whether refunds are on and returns the client
// options they need. Fake mode always has them: the admin token is
// ADMIN_TOKEN or a random one (a warning says so), and the certificate is
// one the fake mints. Real mode has them only with ADMIN_TOKEN,
// WXPAY_CERT_FILE and WXPAY_KEY_FILE all set; some but not all is refused,
// naming the missing ones, and none leaves refunds off (the refund routes
// say so). A random admin token is never made up in real mode. On API v3
// the merchant's private key, required already, signs refunds as every
// request, so ADMIN_TOKEN alone turns them on, and the v2 client gets no
// certificate (it then only verifies v2 notifications).
func (s *Server) refundSetup(c *Config, set settings) ([]wxpay.Option, error) {
	fake := set.fake
	if c.AdminToken != "" && len(c.AdminToken) < api.MinAdminTokenBytes {
		return nil, errors.New("ADMIN_TOKEN must be at least 32 bytes")
	}
	if fake {
		s.AdminToken = c.AdminToken
		if s.AdminToken == "" {
			// 32 characters of [A-Za-z0-9], unbiased: the shortest token
			// MinAdminTokenBytes allows.
			tok, err := wxpay.NewNonce()
			if err != nil {
				return nil, err
			}
			s.AdminToken = tok
			s.log.Warn("ADMIN_TOKEN is not set: the refund route uses a random admin token that is never shown; set ADMIN_TOKEN to refund")
		}
		if c.HTTPClient != nil {
			// The configured client carries every call to the in-process
			// fake, which asks for no certificate over plain HTTP.
			return []wxpay.Option{wxpay.WithCertificateHTTPClient(c.HTTPClient)}, nil
		}
		cert, key, err := s.Fake.ClientCertificate()
		if err != nil {
			return nil, err
		}
		return []wxpay.Option{wxpay.WithClientCertificate(cert, key)}, nil
	}
	if set.api == "v3" {
		if c.AdminToken == "" {
			s.log.Info("refunds are off: set ADMIN_TOKEN to refund")
			return nil, nil
		}
		s.AdminToken = c.AdminToken
		return nil, nil
	}
	var on, missing []string
	for _, v := range []struct{ name, val string }{
		{"ADMIN_TOKEN", c.AdminToken}, {"WXPAY_CERT_FILE", c.CertFile}, {"WXPAY_KEY_FILE", c.KeyFile},
	} {
		if v.val != "" {
			on = append(on, v.name)
		} else {
			missing = append(missing, v.name)
		}
	}
	switch {
	case len(on) == 0:
		s.log.Info("refunds are off: set ADMIN_TOKEN, WXPAY_CERT_FILE and WXPAY_KEY_FILE to refund")
		return nil, nil
	case len(missing) > 0:
		return nil, errors.New("refunds are partly configured (" + strings.Join(on, ", ") + "); also set " + strings.Join(missing, ", ") + ", or unset them all")
	}
	s.AdminToken = c.AdminToken
	return []wxpay.Option{wxpay.WithClientCertificateFiles(c.CertFile, c.KeyFile)}, nil
}

// refundNotifyURL is where WeChat sends refund notifications.
func refundNotifyURL(c Config) string {
	return strings.TrimSuffix(c.PublicURL, "/") + "/orders/refund/notify"
}
