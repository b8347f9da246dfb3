package apiv3

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// Platform certificate refresh policy.
const (
	// CertificateRefreshInterval is how long a downloaded list is used
	// before the next use refreshes it in the background. WeChat issues a
	// new certificate ten days before the old one expires and signs with
	// both during the last five; refreshing twice a day picks a new one
	// up long before it is needed.
	CertificateRefreshInterval = 12 * time.Hour
	// CertificateRetryInterval is the least time between two downloads
	// that were not asked for explicitly ([Client.RefreshCertificates]):
	// a flood of answers naming made-up serials causes at most one
	// download per interval, and none while one is running.
	CertificateRetryInterval = time.Minute
	// certDownloadTimeout bounds one download, which runs detached from
	// the context of the call that started it (others may wait on it).
	certDownloadTimeout = 30 * time.Second
	// maxCertificates bounds the list of one download; WeChat lists one
	// or two.
	maxCertificates = 16
)

var epCertificates = endpoint{op: "certificates", method: http.MethodGet, path: "/v3/certificates"}

// platformCert is one trusted platform certificate.
type platformCert struct {
	serial string // as WeChat writes it: %X of the serial's bytes
	cert   *x509.Certificate
	pub    *rsa.PublicKey
}

// certSet is an immutable snapshot of the trusted certificates; a refresh
// replaces it whole, so readers never lock and a rotation has no gap.
type certSet struct {
	bySerial  map[string]*platformCert // by normSerial
	refreshAt time.Time                // after this, the next use refreshes in the background
}

func (s *certSet) get(serial string, now time.Time) *platformCert {
	if s == nil {
		return nil
	}
	pc := s.bySerial[wire.NormSerial(serial)]
	if pc == nil || now.Before(pc.cert.NotBefore) || now.After(pc.cert.NotAfter) {
		return nil
	}
	return pc
}

// certManager holds the platform certificates of one Client: a snapshot
// read without locks, and one download at a time.
type certManager struct {
	c     *Client
	store CertificateStore // nil: memory only
	set   atomic.Pointer[certSet]

	mu      sync.Mutex
	flight  *certFlight // the running refresh, if any
	lastTry time.Time   // start of the last refresh not asked for explicitly

	downloads atomic.Int64 // downloads started, for tests and diagnostics
}

// certFlight is one running refresh; waiters block on done.
type certFlight struct {
	done chan struct{}
	err  error
}

func newCertManager(c *Client, store CertificateStore) *certManager {
	return &certManager{c: c, store: store}
}

// errRefreshLimited is the cause when a refresh was not attempted because
// one ran less than CertificateRetryInterval ago.
var errRefreshLimited = wire.NewError("apiv3: ", "certificates were refreshed less than a minute ago")

// lookup returns the key of the valid certificate serial. A serial it
// does not hold starts (or joins) a refresh, at most one at a time and one
// per CertificateRetryInterval, and is refused if still unknown after it.
// A held list older than CertificateRefreshInterval is refreshed in the
// background, without delaying this call.
func (m *certManager) lookup(ctx context.Context, serial string) (*rsa.PublicKey, error) {
	now := m.c.now()
	set := m.set.Load()
	if pc := set.get(serial, now); pc != nil {
		if now.After(set.refreshAt) {
			m.refreshAsync()
		}
		return pc.pub, nil
	}
	err := m.refresh(ctx, serial, false)
	if pc := m.set.Load().get(serial, m.c.now()); pc != nil {
		return pc.pub, nil
	}
	why := "no valid platform certificate has this serial"
	switch {
	case errors.Is(err, errRefreshLimited):
		why += " (not refreshed again: the last refresh was under a minute ago)"
	case err != nil:
		why += " (refreshing the certificates failed: " + wire.OneLine(err.Error()) + ")"
	}
	return nil, &verifyError{ErrUnknownSerial, why}
}

// newest returns the valid certificate that became valid last, for
// encrypting sensitive fields, refreshing first if none is held.
func (m *certManager) newest(ctx context.Context) (string, *rsa.PublicKey, error) {
	pick := func() *platformCert {
		now := m.c.now()
		set := m.set.Load()
		var best *platformCert
		for _, pc := range set.all() {
			if set.get(pc.serial, now) == nil {
				continue
			}
			if best == nil || pc.cert.NotBefore.After(best.cert.NotBefore) {
				best = pc
			}
		}
		return best
	}
	if pc := pick(); pc != nil {
		if m.c.now().After(m.set.Load().refreshAt) {
			m.refreshAsync()
		}
		return pc.serial, pc.pub, nil
	}
	err := m.refresh(ctx, "", false)
	if pc := pick(); pc != nil {
		return pc.serial, pc.pub, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrNoEncryptionKey, err)
	}
	return "", nil, ErrNoEncryptionKey
}

func (s *certSet) all() []*platformCert {
	if s == nil {
		return nil
	}
	out := make([]*platformCert, 0, len(s.bySerial))
	for _, pc := range s.bySerial {
		out = append(out, pc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].serial < out[j].serial })
	return out
}

// refreshAsync starts a background refresh unless one is running or ran
// within CertificateRetryInterval. Its goroutine ends with the download
// (bounded by certDownloadTimeout), so nothing outlives the work.
func (m *certManager) refreshAsync() {
	m.mu.Lock()
	if m.flight != nil || m.limited() {
		m.mu.Unlock()
		return
	}
	f := m.startLocked(context.Background(), "", false)
	m.mu.Unlock()
	go func() {
		<-f.done
		if f.err != nil {
			m.c.logger.LogAttrs(context.Background(), slog.LevelWarn, "apiv3: background refresh of platform certificates failed",
				slog.String("error", f.err.Error()))
		}
	}()
}

// limited reports (m.mu held) that the last refresh is too recent.
func (m *certManager) limited() bool {
	return !m.lastTry.IsZero() && m.c.now().Sub(m.lastTry) < CertificateRetryInterval
}

// refresh runs one refresh, or waits for the running one; want is the
// serial that was not found ("" for none). Unless force, it is refused
// with errRefreshLimited within CertificateRetryInterval of the last.
func (m *certManager) refresh(ctx context.Context, want string, force bool) error {
	m.mu.Lock()
	f := m.flight
	if f == nil {
		if !force && m.limited() {
			m.mu.Unlock()
			return errRefreshLimited
		}
		f = m.startLocked(ctx, want, force)
	}
	m.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startLocked starts a refresh in its own goroutine (m.mu held). It runs
// under a context detached from ctx's cancellation, since other callers
// may be waiting on it, and bounded by certDownloadTimeout.
func (m *certManager) startLocked(ctx context.Context, want string, force bool) *certFlight {
	f := &certFlight{done: make(chan struct{})}
	m.flight = f
	if !force {
		m.lastTry = m.c.now()
	}
	go func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), certDownloadTimeout)
		f.err = m.load(dctx, want, force)
		cancel()
		m.mu.Lock()
		m.flight = nil
		m.mu.Unlock()
		close(f.done)
	}()
	return f
}

// load refreshes the snapshot: from the store when it knows want (another
// instance downloaded it) or when nothing is held yet, else (and always
// when forced) by downloading, saving what was downloaded to the store.
func (m *certManager) load(ctx context.Context, want string, force bool) error {
	now := m.c.now()
	if m.store != nil && !force {
		certs, err := m.store.LoadCertificates(ctx, m.c.mchID)
		if err != nil {
			m.c.logger.LogAttrs(ctx, slog.LevelWarn, "apiv3: loading platform certificates from the store failed",
				slog.String("error", err.Error()))
		} else if set := m.adopt(certs, now); set != nil && (want == "" && m.set.Load() == nil || want != "" && set.get(want, now) != nil) {
			m.set.Store(set)
			return nil
		}
	}
	certs, err := m.download(ctx)
	if err != nil {
		return err
	}
	set := &certSet{bySerial: make(map[string]*platformCert, len(certs)), refreshAt: now.Add(CertificateRefreshInterval)}
	list := make([]*x509.Certificate, 0, len(certs))
	for _, pc := range certs {
		set.bySerial[wire.NormSerial(pc.serial)] = pc
		list = append(list, pc.cert)
	}
	m.set.Store(set)
	if m.store != nil {
		if err := m.store.SaveCertificates(ctx, m.c.mchID, list); err != nil {
			m.c.logger.LogAttrs(ctx, slog.LevelWarn, "apiv3: saving platform certificates to the store failed",
				slog.String("error", err.Error()))
		}
	}
	return nil
}

// adopt builds a snapshot from stored certificates, keeping the RSA ones
// within their validity dates; nil when none is usable.
func (m *certManager) adopt(certs []*x509.Certificate, now time.Time) *certSet {
	set := &certSet{bySerial: make(map[string]*platformCert), refreshAt: now.Add(CertificateRefreshInterval)}
	for _, c := range certs {
		if c == nil {
			continue
		}
		pub, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok || pub.N.BitLen() < 2048 || now.After(c.NotAfter) {
			continue
		}
		s := serialOf(c)
		set.bySerial[wire.NormSerial(s)] = &platformCert{serial: s, cert: c, pub: pub}
	}
	if len(set.bySerial) == 0 {
		return nil
	}
	return set
}

// serialOf writes a certificate's serial as WeChat does.
func serialOf(c *x509.Certificate) string { return wire.Serial(c) }

// download fetches GET /v3/certificates through the one request path and
// returns the certificates it delivered, once the answer is verified.
func (m *certManager) download(ctx context.Context) ([]*platformCert, error) {
	m.downloads.Add(1)
	r, err := newRequest(epCertificates, nil, url.Values{"algorithm_type": {"RSA"}}, nil)
	if err != nil {
		return nil, err
	}
	var got []*platformCert
	r.verify = func(ctx context.Context, status int, h http.Header, body []byte) error {
		if status < 200 || status > 299 {
			// A signed error answer (a public-key merchant's 404): its
			// key must already be trusted.
			return m.c.verifyWith(ctx, h, body, m.trustedKey)
		}
		certs, err := m.openDownload(ctx, h, body)
		got = certs
		return err
	}
	if _, err := m.c.call(ctx, r, nil); err != nil {
		return nil, err
	}
	return got, nil
}

// trustedKey resolves a serial among the keys already trusted, without
// refreshing.
func (m *certManager) trustedKey(_ context.Context, serial string) (*rsa.PublicKey, error) {
	if m.c.pubKey != nil && serial == m.c.pubKeyID {
		return m.c.pubKey, nil
	}
	if pc := m.set.Load().get(serial, m.c.now()); pc != nil {
		return pc.pub, nil
	}
	return nil, &verifyError{ErrUnknownSerial, "the certificate download's error answer is signed by no trusted key"}
}

// certificatesAnswer is the body of GET /v3/certificates.
type certificatesAnswer struct {
	Data []struct {
		SerialNo           string   `json:"serial_no"`
		EffectiveTime      jsonTime `json:"effective_time"`
		ExpireTime         jsonTime `json:"expire_time"`
		EncryptCertificate struct {
			Algorithm      string `json:"algorithm"`
			Nonce          string `json:"nonce"`
			AssociatedData string `json:"associated_data"`
			Ciphertext     string `json:"ciphertext"`
		} `json:"encrypt_certificate"`
	} `json:"data"`
}

// openDownload verifies a certificate download and returns what it
// delivered. The download cannot be verified before it is read (the key
// that signed it may be inside), so the order is:
//
//  1. the body is decoded by the hardened decoder (nothing else of it is
//     used yet);
//  2. each encrypt_certificate is opened with AES-256-GCM under the APIv3
//     key, which authenticates it: only WeChat and the merchant hold that
//     key;
//  3. each must be one PEM certificate with an RSA key of at least 2048
//     bits, within its validity dates, whose serial is the serial_no
//     WeChat listed it under (serial_no is outside the AEAD, so it is
//     checked, not trusted);
//  4. the answer's signature is verified like any other, under the
//     configured public key, a delivered certificate, or one already
//     trusted, without refreshing (this is the refresh).
//
// Nothing is trusted unless every step passes.
func (m *certManager) openDownload(ctx context.Context, h http.Header, body []byte) ([]*platformCert, error) {
	var a certificatesAnswer
	if err := decodeJSON(body, &a); err != nil {
		return nil, err
	}
	if len(a.Data) == 0 {
		return nil, &certError{"the answer lists no certificate"}
	}
	if len(a.Data) > maxCertificates {
		return nil, &certError{"the answer lists too many certificates"}
	}
	now := m.c.now()
	delivered := make(map[string]*platformCert, len(a.Data))
	var out []*platformCert
	for _, d := range a.Data {
		e := d.EncryptCertificate
		if e.Algorithm != "AEAD_AES_256_GCM" {
			return nil, &certError{"encrypt_certificate uses an unknown algorithm"}
		}
		plain, err := openAEAD(m.c.apiV3Key.bytes(), e.Nonce, e.AssociatedData, e.Ciphertext)
		if err != nil {
			return nil, wire.Errorf("apiv3: ", "opening encrypt_certificate: %w", err)
		}
		pc, err := parsePlatformCert(plain, d.SerialNo, now)
		if err != nil {
			return nil, err
		}
		if pc == nil {
			continue // expired: listed but of no use
		}
		delivered[wire.NormSerial(pc.serial)] = pc
		out = append(out, pc)
	}
	if len(out) == 0 {
		return nil, &certError{"every listed certificate has expired"}
	}
	trusted := m.set.Load()
	resolve := func(_ context.Context, serial string) (*rsa.PublicKey, error) {
		if m.c.pubKey != nil && serial == m.c.pubKeyID {
			return m.c.pubKey, nil
		}
		if pc := delivered[wire.NormSerial(serial)]; pc != nil && !now.Before(pc.cert.NotBefore) {
			return pc.pub, nil
		}
		if pc := trusted.get(serial, now); pc != nil {
			return pc.pub, nil
		}
		return nil, &verifyError{ErrUnknownSerial, "the certificate download is signed by none of the certificates it delivers"}
	}
	if err := m.c.verifyWith(ctx, h, body, resolve); err != nil {
		return nil, err
	}
	return out, nil
}

// certError is a refused certificate download; it matches ErrCertificate.
type certError struct{ why string }

func (e *certError) Error() string        { return "apiv3: " + e.Text() }
func (e *certError) Text() string         { return wire.Text(ErrCertificate) + ": " + e.why }
func (e *certError) Is(target error) bool { return target == ErrCertificate }

// parsePlatformCert parses one decrypted certificate listed under
// serialNo. It returns nil, nil for a certificate that has expired.
func parsePlatformCert(plain []byte, serialNo string, now time.Time) (*platformCert, error) {
	block, one := wire.OnePEM(plain)
	if !one || block.Type != "CERTIFICATE" {
		return nil, &certError{"a decrypted certificate is not one PEM CERTIFICATE"}
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, &certError{"a decrypted certificate does not parse"}
	}
	pub, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() < 2048 {
		return nil, &certError{"a platform certificate's key is not RSA of at least 2048 bits"}
	}
	s := serialOf(c)
	if serialNo == "" || wire.NormSerial(s) != wire.NormSerial(serialNo) {
		return nil, &certError{"a certificate's serial is not the serial_no it is listed under"}
	}
	if now.After(c.NotAfter) {
		return nil, nil
	}
	return &platformCert{serial: s, cert: c, pub: pub}, nil
}

// RefreshCertificates downloads WeChat's platform certificates now and
// replaces the ones held (and saved, with [WithCertificateStore]) once the
// download is verified. The client does this on its own when it first
// needs them and twice a day after; call it to fail fast at start-up or
// after a rotation. It joins a refresh that is already running. Without
// Config.PlatformCertificates it does nothing.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay5_0.shtml
func (c *Client) RefreshCertificates(ctx context.Context) error {
	if c.certs == nil {
		return nil
	}
	return c.certs.refresh(ctx, "", true)
}

// Certificate is a platform certificate the client trusts.
type Certificate struct {
	// SerialNo is its serial as WeChat writes it in Wechatpay-Serial.
	SerialNo string
	// Certificate is the parsed certificate.
	Certificate *x509.Certificate
}

// Certificates returns the platform certificates the client holds now,
// valid or not yet valid, sorted by serial; none before the first
// download. Each is the caller's own copy: changing one (its NotAfter,
// say) changes nothing the client trusts.
func (c *Client) Certificates() []Certificate {
	if c.certs == nil {
		return nil
	}
	var out []Certificate
	for _, pc := range c.certs.set.Load().all() {
		// Parsed again from its DER bytes, which parsed once already: a
		// shallow copy would still share the slices and maps inside.
		cert, err := x509.ParseCertificate(pc.cert.Raw)
		if err != nil {
			continue
		}
		out = append(out, Certificate{SerialNo: pc.serial, Certificate: cert})
	}
	return out
}
