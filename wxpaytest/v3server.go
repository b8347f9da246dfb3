package wxpaytest

import (
	"github.com/wxpay-go/wxpay/apiv3"
)

// APIv3Config returns the apiv3.Config of the fake's merchant, as the
// merchant platform would hand it out: MchID, AppID, the merchant API
// certificate's serial, its private key when the fake minted it (else
// set PrivateKey from your own Config.MerchantPublicKey's pair), the
// APIv3 key, and what verifies the fake as Config.V3Signer says: the
// WeChat Pay public key and its id (V3SignPublicKey), platform
// certificates (V3SignCertificate), or both (V3SignBoth). NotifyURL is
// left for the test to set. It panics if v3 is off (no Config.APIv3Key).
//
//	s := wxpaytest.NewServer(cfg) // cfg.APIv3Key set
//	c, err := apiv3.NewClient(s.APIv3Config(), s.APIv3Options()...)
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/partner/4025464285 (the keys a merchant holds)
func (s *Server) APIv3Config() apiv3.Config {
	k := s.v3Keys()
	c := apiv3.Config{
		MchID:            s.cfg.MchID,
		AppID:            s.cfg.AppID,
		MerchantSerialNo: k.mchSerial,
		PrivateKey:       append([]byte(nil), k.mchKeyPEM...),
		APIv3Key:         string(k.apiKey),
	}
	if len(c.PrivateKey) == 0 {
		c.PrivateKey = nil
	}
	if k.signer == V3SignPublicKey || k.signer == V3SignBoth {
		c.PublicKeyID = k.pubKeyID
		c.PublicKey = append([]byte(nil), k.pubKeyPEM...)
	}
	if k.signer == V3SignCertificate || k.signer == V3SignBoth {
		c.PlatformCertificates = true
	}
	return c
}

// APIv3Options returns the apiv3 options that connect a client to the
// server: its URL as base URL, its HTTP client (trusting its TLS
// certificate for [NewTLSServer]), and the fake's clock, so that a
// fake with Config.Speed or Config.Now and its client agree on the
// five-minute window of signatures. Options given after them override
// them.
//
// WeChat Pay docs: https://pay.weixin.qq.com/doc/v3/merchant/4012556654 (hosts)
func (s *Server) APIv3Options() []apiv3.Option {
	return []apiv3.Option{apiv3.WithBaseURL(s.URL), apiv3.WithHTTPClient(s.Client()), apiv3.WithClock(s.Now)}
}
