package wxpaytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"time"
)

// certAuthority is the fake's stand-in for WeChat's merchant certificate
// authority: it issues the merchant's API certificate
// ([Fake.ClientCertificate]) and is what the certificate endpoints trust.
type certAuthority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

// ca returns the fake's certificate authority, made on first use.
func (f *Fake) ca() (*certAuthority, error) {
	f.caOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			f.caErr = err
			return
		}
		now := time.Now()
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "wxpaytest merchant CA " + f.cfg.MchID, Organization: []string{"wxpaytest"}},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			f.caErr = err
			return
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			f.caErr = err
			return
		}
		pool := x509.NewCertPool()
		pool.AddCert(cert)
		f.caVal = &certAuthority{cert: cert, key: key, pool: pool}
	})
	return f.caVal, f.caErr
}

// ClientCAs returns the pool of the authority that issues
// [Fake.ClientCertificate]'s certificates, for a program that mounts the
// fake under its own TLS server: set it as tls.Config.ClientCAs (with
// ClientAuth tls.RequestClientCert or stronger). [NewTLSServer] does this
// itself.
func (f *Fake) ClientCAs() *x509.CertPool {
	ca, err := f.ca()
	if err != nil {
		// crypto/rand and x509 of a fixed template do not fail; a broken
		// system is a bug in the test environment, as in httptest.
		panic("wxpaytest: cannot create the certificate authority: " + err.Error())
	}
	return ca.pool
}

// ClientCertificate mints a new API certificate (API证书) for the fake's
// merchant and returns it and its private key in PEM, as the merchant
// platform's download gives apiclient_cert.pem and apiclient_key.pem:
// pass them to wxpay.WithClientCertificate. Its subject's CommonName is
// the mch_id, which is how the fake tells the merchant's certificate from
// another merchant's. It is valid for a day from now (real time).
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3
func (f *Fake) ClientCertificate() (certPEM, keyPEM []byte, err error) {
	return f.issue(f.cfg.MchID, time.Now().Add(24*time.Hour))
}

// OtherMerchantCertificate mints a certificate from the same authority as
// [Fake.ClientCertificate] but for another mch_id: the fake answers it
// return_code FAIL "certificate not match", as WeChat answers a request
// that presents another merchant's certificate.
func (f *Fake) OtherMerchantCertificate(mchID string) (certPEM, keyPEM []byte, err error) {
	if mchID == f.cfg.MchID {
		return nil, nil, errors.New("wxpaytest: OtherMerchantCertificate needs another mch_id than the fake's")
	}
	return f.issue(mchID, time.Now().Add(24*time.Hour))
}

func (f *Fake) issue(cn string, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	ca, err := f.ca()
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"wxpaytest merchant"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// certRefusal is how a certificate endpoint refuses a request.
type certRefusal int

const (
	certOK        certRefusal = iota
	certMissing               // no certificate: nginx's 400 page
	certInvalid               // not issued by the authority, expired: nginx's 400 page
	certNotMatch              // a valid certificate of another merchant: return_code FAIL
	certPlainHTTP             // plain HTTP: nothing to check
)

// checkClientCert judges the client certificate of a request to a
// certificate endpoint. The chain is verified here, not in the TLS
// handshake, so that the fake can answer as WeChat's gateway does
// (ClientAuth tls.RequestClientCert on the listener).
func (f *Fake) checkClientCert(r *http.Request) certRefusal {
	if r.TLS == nil {
		return certPlainHTTP
	}
	if len(r.TLS.PeerCertificates) == 0 {
		return certMissing
	}
	ca, err := f.ca()
	if err != nil {
		return certInvalid
	}
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := r.TLS.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         ca.pool,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return certInvalid
	}
	if leaf.Subject.CommonName != f.cfg.MchID {
		return certNotMatch
	}
	return certOK
}

// writeCertRefusal answers a refused certificate as WeChat's nginx
// gateway does, and reports whether it did. A valid certificate of another
// merchant is left to the caller, which answers it in XML.
func writeCertRefusal(w http.ResponseWriter, c certRefusal) bool {
	var reason string
	switch c {
	case certMissing:
		reason = "No required SSL certificate was sent"
	case certInvalid:
		reason = "The SSL certificate error"
	default:
		return false
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte("<html>\r\n<head><title>400 " + reason + "</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>" +
		reason + "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"))
	return true
}
