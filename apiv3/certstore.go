package apiv3

import (
	"context"
	"crypto/x509"
	"sync"
)

// CertificateStore keeps WeChat's platform certificates where several
// [Client] instances (processes, hosts) can share them, so that one
// download serves all: a Redis key, a database row, a file. A Client
// loads from its store before it downloads (on an unknown serial, at the
// first use) and saves every list it downloaded and verified.
//
// The store is trusted: what it returns is used to verify WeChat's
// signatures, so only the Clients of the merchant may write to it. The
// client still refuses certificates that are not RSA or are outside their
// validity dates. Implementations must be safe for concurrent use; store
// cert.Raw (DER) and parse it back with x509.ParseCertificate.
//
// Without [WithCertificateStore] the certificates live in the Client's
// memory only, which needs nothing.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay5_0.shtml
type CertificateStore interface {
	// LoadCertificates returns the certificates saved for mchID: none
	// (and a nil error) when nothing was saved yet.
	LoadCertificates(ctx context.Context, mchID string) ([]*x509.Certificate, error)
	// SaveCertificates replaces the certificates saved for mchID with
	// certs, the complete list of one verified download.
	SaveCertificates(ctx context.Context, mchID string, certs []*x509.Certificate) error
}

// MemoryCertificateStore is a [CertificateStore] in memory, shared by the
// Clients of one process that are given it (for example one per
// goroutine pool, or in tests). Its zero value is ready to use and it is
// safe for concurrent use.
type MemoryCertificateStore struct {
	mu sync.Mutex
	m  map[string][]*x509.Certificate
}

// LoadCertificates returns the certificates saved for mchID.
func (s *MemoryCertificateStore) LoadCertificates(_ context.Context, mchID string) ([]*x509.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*x509.Certificate(nil), s.m[mchID]...), nil
}

// SaveCertificates replaces the certificates saved for mchID.
func (s *MemoryCertificateStore) SaveCertificates(_ context.Context, mchID string, certs []*x509.Certificate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string][]*x509.Certificate)
	}
	s.m[mchID] = append([]*x509.Certificate(nil), certs...)
	return nil
}
