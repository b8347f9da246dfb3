package wire

import (
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Options holds the client options the root package (v2) and apiv3 share
// under the same names and rules: WithHTTPClient, WithBaseURL,
// WithFailover, WithLogger, WithClock and WithRand. Each package embeds
// it in its own options struct, documents its With… functions for its own
// generation, and has them call these setters with its error prefix
// ("wxpay: ", "apiv3: "), instead of each package checking them again.
type Options struct {
	HC      *http.Client // nil: the package's default
	BaseURL string       // "": the package's BaseURL
	Backup  string       // failover base URL; "": none
	Log     *slog.Logger // nil: slog.Default at each record
	Now     func() time.Time
	Rand    io.Reader // nil: crypto/rand; see LockedReader
}

// SetHTTPClient keeps a shallow copy of hc that never follows redirects
// (WeChat never redirects, and following one would re-send a signed
// request wherever it points); hc itself is not modified. A client with
// TLS verification off is refused ([CheckTLS]).
func (o *Options) SetHTTPClient(prefix string, hc *http.Client) error {
	if hc == nil {
		return NewError(prefix, "WithHTTPClient: nil client")
	}
	if err := CheckTLS(hc); err != nil {
		return Errorf(prefix, "WithHTTPClient: %w", err)
	}
	cp := *hc
	cp.CheckRedirect = NoRedirect
	o.HC = &cp
	return nil
}

// SetBaseURL checks u with [CheckBaseURL] and keeps it.
func (o *Options) SetBaseURL(prefix, u string) error { return setURL(prefix, u, &o.BaseURL) }

// SetFailover checks the backup base URL with [CheckBaseURL] and keeps
// it.
func (o *Options) SetFailover(prefix, backup string) error { return setURL(prefix, backup, &o.Backup) }

// setURL is the one rule of both base URLs: checked by [CheckBaseURL],
// kept in its cleaned form in *dst.
func setURL(prefix, u string, dst *string) error {
	v, err := CheckBaseURL(u)
	if err != nil {
		return NewError(prefix, err.Error())
	}
	*dst = v
	return nil
}

// SetLogger keeps l; nil is refused.
func (o *Options) SetLogger(prefix string, l *slog.Logger) error {
	if l == nil {
		return NewError(prefix, "WithLogger: nil logger")
	}
	o.Log = l
	return nil
}

// SetClock keeps now; nil is refused.
func (o *Options) SetClock(prefix string, now func() time.Time) error {
	if now == nil {
		return NewError(prefix, "WithClock: nil clock")
	}
	o.Now = now
	return nil
}

// SetRand keeps r; nil is refused. Wrap it in a [LockedReader] before
// sharing it between goroutines.
func (o *Options) SetRand(prefix string, r io.Reader) error {
	if r == nil {
		return NewError(prefix, "WithRand: nil reader")
	}
	o.Rand = r
	return nil
}

// LockedReader serializes reads of a WithRand source, which the calls of
// many goroutines share and which need not be safe for concurrent use.
type LockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

// NewLockedReader returns r behind a mutex.
func NewLockedReader(r io.Reader) *LockedReader { return &LockedReader{r: r} }

// Read reads from the source under the lock.
func (l *LockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}
