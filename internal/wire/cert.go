package wire

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// Certificate and key loading, once for the module: the root package's
// WithClientCertificate(Files), the CLI's doctor, and apiv3's merchant
// key, merchant certificate, WeChat Pay public key and platform
// certificates read their PEM through these instead of each its own.

// OnePEM decodes b as exactly one PEM block followed by nothing but ASCII
// white space (what a .pem file holds). It reports false for no block, or
// for anything after the first one: a second block would be silently
// ignored by pem.Decode's callers, and the wrong one may be first.
func OnePEM(b []byte) (*pem.Block, bool) {
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, false
	}
	for _, c := range rest {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return block, false
		}
	}
	return block, true
}

// Serial returns a certificate's serial number as WeChat writes it:
// upper-case hex of its bytes.
func Serial(c *x509.Certificate) string { return fmt.Sprintf("%X", c.SerialNumber.Bytes()) }

// LoadKeyPair parses a PEM certificate and its private key into a TLS
// client certificate and its parsed leaf. Errors are crypto/tls's and
// crypto/x509's (they name what is wrong, such as a key that does not
// match the certificate, and never the key).
func LoadKeyPair(certPEM, keyPEM []byte) (tls.Certificate, *x509.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("cannot parse the certificate: %w", err)
	}
	return cert, leaf, nil
}

// ReadKeyPair reads the two PEM files (usually apiclient_cert.pem and
// apiclient_key.pem); errors are os.ReadFile's *fs.PathError. Parse them
// with [LoadKeyPair].
func ReadKeyPair(certFile, keyFile string) (certPEM, keyPEM []byte, err error) {
	if certPEM, err = os.ReadFile(certFile); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = os.ReadFile(keyFile); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}
