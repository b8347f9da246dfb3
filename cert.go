package wxpay

import (
	"crypto/tls"
	"net/http"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// WithClientCertificate configures the merchant's API certificate
// (API证书), which WeChat requires on the calls that move money back or
// expose the account: [Client.Refund], [Client.Reverse] and
// [Client.DownloadFundFlow]. certPEM and keyPEM are the contents of
// apiclient_cert.pem and apiclient_key.pem, as the merchant platform's
// certificate download (账户中心 → API安全) provides them. When only the
// PKCS#12 file is at hand, OpenSSL 3 converts it (the password is the
// mch_id; -legacy is needed because the file uses RC2/3DES, which
// OpenSSL 3 no longer loads by default):
//
//	openssl pkcs12 -legacy -in apiclient_cert.p12 -passin pass:$MCH_ID -clcerts -nokeys -out apiclient_cert.pem
//	openssl pkcs12 -legacy -in apiclient_cert.p12 -passin pass:$MCH_ID -nocerts -nodes -out apiclient_key.pem
//
// [NewClient] fails when the key does not belong to the certificate, or
// the certificate has expired. The
// certificate is presented only on those calls, by one HTTP client built
// once in NewClient: a copy of the client's transport (the default one, or
// the *http.Transport of [WithHTTPClient]'s client) with the certificate
// added, server verification on and TLS 1.2 or newer. A WithHTTPClient
// client whose transport is not an *http.Transport cannot be given a
// certificate; NewClient then fails, and that transport must present the
// certificate itself (pass it through [WithCertificateHTTPClient]). A
// transport that skips server verification is refused: a certificate
// endpoint must never talk to an unverified peer.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3
func WithClientCertificate(certPEM, keyPEM []byte) Option {
	return func(o *options) error {
		cert, leaf, err := wire.LoadKeyPair(certPEM, keyPEM)
		if err != nil {
			// crypto/tls names what is wrong (no PEM block, the key
			// does not match the certificate) and never the key.
			return wire.NewError("wxpay: ", "WithClientCertificate: certificate and key do not form a usable pair: "+err.Error())
		}
		// WeChat would refuse an expired certificate in every handshake;
		// saying so here beats a TLS alert on the first refund.
		if now := time.Now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
			return wire.NewError("wxpay: ", "WithClientCertificate: the certificate is not valid now (valid "+
				leaf.NotBefore.UTC().Format(time.DateOnly)+" to "+leaf.NotAfter.UTC().Format(time.DateOnly)+
				"); download a new one in the merchant platform")
		}
		o.cert = &cert
		return nil
	}
}

// WithClientCertificateFiles is [WithClientCertificate] reading the PEM
// files, usually apiclient_cert.pem and apiclient_key.pem. They are read
// once, in NewClient.
func WithClientCertificateFiles(certFile, keyFile string) Option {
	return func(o *options) error {
		certPEM, keyPEM, err := wire.ReadKeyPair(certFile, keyFile)
		if err != nil {
			return wire.NewError("wxpay: ", "WithClientCertificateFiles: "+err.Error())
		}
		return WithClientCertificate(certPEM, keyPEM)(o)
	}
}

// WithCertificateHTTPClient makes the certificate endpoints
// ([Client.Refund], [Client.Reverse], [Client.DownloadFundFlow]) use hc,
// whose transport presents the merchant's certificate itself: for a
// custom RoundTripper, or a certificate kept in a hardware module.
// Redirects are refused as with [WithHTTPClient]. It cannot be combined
// with [WithClientCertificate].
func WithCertificateHTTPClient(hc *http.Client) Option {
	return func(o *options) error {
		if hc == nil {
			return wire.NewError("wxpay: ", "WithCertificateHTTPClient: nil client")
		}
		if err := wire.CheckTLS(hc); err != nil {
			return wire.Errorf("wxpay: ", "WithCertificateHTTPClient: %w", err)
		}
		cp := *hc
		cp.CheckRedirect = wire.NoRedirect
		o.certHC = &cp
		return nil
	}
}

// certClient builds the one HTTP client of the certificate endpoints: a
// clone of hc's transport presenting cert, with hc's timeout.
func certClient(hc *http.Client, cert tls.Certificate) (*http.Client, error) {
	var base *http.Transport
	switch t := hc.Transport.(type) {
	case nil:
		// net/http would use http.DefaultTransport; the library's own
		// transport has the same settings with sane timeouts, and is not
		// a variable any program may replace.
		base = wire.NewHTTPClient().Transport.(*http.Transport)
	case *http.Transport:
		base = t
	default:
		return nil, wire.NewError("wxpay: ", "WithClientCertificate: the HTTP client's transport is not an *http.Transport, so no certificate can be added to it; present the certificate in that transport and pass it with WithCertificateHTTPClient")
	}
	t := base.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	cfg := t.TLSClientConfig
	if cfg.InsecureSkipVerify {
		return nil, wire.NewError("wxpay: ", "WithClientCertificate: the HTTP client skips TLS server verification; the certificate endpoints refuse to run without it")
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	cfg.Certificates = []tls.Certificate{cert}
	cfg.GetClientCertificate = nil
	return &http.Client{Transport: t, Timeout: hc.Timeout, Jar: hc.Jar, CheckRedirect: wire.NoRedirect}, nil
}
