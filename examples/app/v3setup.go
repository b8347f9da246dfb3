package app

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wxpay-go/wxpay/apiv3"
)

// openV3 builds the API v3 client. In fake mode its keys are the
// in-process fake's, minted at this start; otherwise they come from the
// v3 settings, checked already by [Config.checkV3Settings].
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/partner/4025464285 (the keys a merchant holds)
func (s *Server) openV3(c *Config, fake bool, opts []apiv3.Option) (*apiv3.Client, error) {
	cfg := apiv3.Config{MchID: c.MchID, AppID: c.AppID, NotifyURL: notifyURLV3(*c)}
	if fake {
		cfg.MerchantSerialNo, cfg.PrivateKey = s.Fake.V3MerchantKey()
		cfg.APIv3Key = s.FakeConfig.APIv3Key
		cfg.PublicKeyID, cfg.PublicKey = s.Fake.V3PublicKeyID(), s.Fake.V3PublicKeyPEM()
		return apiv3.NewClient(cfg, opts...)
	}
	var err error
	cfg.MerchantSerialNo, cfg.APIv3Key = c.V3Serial, c.APIv3Key
	if cfg.PrivateKey, err = readKeyFile("WXPAY_KEY_FILE", c.KeyFile); err != nil {
		return nil, err
	}
	if c.V3PubKeyID != "" {
		cfg.PublicKeyID = c.V3PubKeyID
		if cfg.PublicKey, err = readKeyFile("WXPAY_V3_PUBKEY_FILE", c.V3PubKeyFile); err != nil {
			return nil, err
		}
	}
	if c.V3PlatformCertFile != "" {
		// The certificates of the file are trusted from the start, and
		// refreshed from WeChat before they expire.
		b, err := readKeyFile("WXPAY_V3_PLATFORM_CERT_FILE", c.V3PlatformCertFile)
		if err != nil {
			return nil, err
		}
		certs, err := parseCerts(b)
		if err != nil {
			return nil, fmt.Errorf("WXPAY_V3_PLATFORM_CERT_FILE: %v", err)
		}
		store := &apiv3.MemoryCertificateStore{}
		if err := store.SaveCertificates(context.Background(), c.MchID, certs); err != nil {
			return nil, fmt.Errorf("WXPAY_V3_PLATFORM_CERT_FILE: %v", err)
		}
		cfg.PlatformCertificates = true
		opts = append(opts, apiv3.WithCertificateStore(store))
	}
	cl, err := apiv3.NewClient(cfg, opts...)
	if err != nil {
		// The library's configuration errors name fields, never values.
		return nil, fmt.Errorf("the v3 settings were refused: %s", strings.TrimPrefix(err.Error(), "apiv3: "))
	}
	return cl, nil
}

// maxKeyFile bounds a key or certificate file: a few PEM blocks.
const maxKeyFile = 64 << 10

// readKeyFile reads the PEM file a setting names, bounded. Errors name
// the setting, not the path or the content.
func readKeyFile(setting, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: the file cannot be opened", setting)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: the file cannot be read", setting)
	case len(b) > maxKeyFile:
		return nil, fmt.Errorf("%s: the file is larger than %d bytes, not a PEM key or certificate", setting, maxKeyFile)
	}
	return b, nil
}

// parseCerts reads the PEM CERTIFICATE blocks of b; at least one.
func parseCerts(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, errors.New("a CERTIFICATE block does not parse")
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE in the file")
	}
	return certs, nil
}

// mintKeyPEM makes a 2048-bit RSA key in PKCS#8 PEM: the fake's WeChat
// Pay key, new at each start.
func mintKeyPEM() ([]byte, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// notifyURLV3 is where WeChat sends v3 payment notifications.
func notifyURLV3(c Config) string {
	return strings.TrimSuffix(c.PublicURL, "/") + "/orders/pay/v3/notify"
}

// refundNotifyURLV3 is where WeChat sends v3 refund notifications.
func refundNotifyURLV3(c Config) string {
	return strings.TrimSuffix(c.PublicURL, "/") + "/orders/refund/v3/notify"
}
