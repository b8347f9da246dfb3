package apiv3

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentRotation shares one Client between 64 goroutines calling
// the request path (and asking for the encryption key) while WeChat
// rotates its platform certificate three times, the way WeChat does it:
// list the new certificate, let merchants refresh, then sign with it.
// Run under -race; every call must succeed.
func TestConcurrentRotation(t *testing.T) {
	f, c, clock, a := certSetup(t)
	f.route("GET /v3/pay/transactions/out-trade-no/T1", func(*http.Request) (int, string) {
		return http.StatusOK, `{"out_trade_no":"T1","amount":{"total":100}}`
	})
	require.NoError(t, c.RefreshCertificates(context.Background()))

	keys := []*rsa.PrivateKey{otherKey(t), parseKeyPEM(t, loadVec(t, "k-wj.pem")), parseKeyPEM(t, loadVec(t, "k-off.pem"))}
	serialsHex := []string{"0B01", "0B02", "0B03"}
	listed := []*x509.Certificate{a}

	var stop atomic.Bool
	var calls atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for !stop.Load() {
				r, err := newRequest(epTestQuery, []string{"T1"}, nil, nil)
				if err != nil {
					errs <- err
					return
				}
				var out testTxn
				if _, err := c.call(context.Background(), r, &out); err != nil || out.Amount.Total != 100 {
					errs <- err
					return
				}
				if g%8 == 0 {
					if _, _, err := c.encryptionKey(context.Background()); err != nil {
						errs <- err
						return
					}
				}
				calls.Add(1)
			}
		}(g)
	}
	for i, k := range keys {
		time.Sleep(20 * time.Millisecond)
		next := makeCert(t, k, serialsHex[i], clock.Now().Add(-time.Second), certNow.Add(365*24*time.Hour))
		listed = append(listed, next)
		f.setCerts(listed...)
		require.NoError(t, c.RefreshCertificates(context.Background()))
		f.setSigner(fakeKey{serialsHex[i], k})
		clock.Add(2 * time.Minute)
	}
	time.Sleep(20 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a call failed during rotation: %v", err)
	}
	assert.Greater(t, calls.Load(), int64(64))
	assert.Len(t, c.Certificates(), 4)
	serial, _, err := c.encryptionKey(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "0B03", serial)
}
