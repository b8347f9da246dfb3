package miniprogram

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tokenEndpoints describes both token APIs so every token test runs
// against each.
var tokenEndpoints = []struct {
	endpoint TokenEndpoint
	pattern  string
	check    func(t *testing.T, r *http.Request)
}{
	{
		endpoint: TokenStable,
		pattern:  "POST /cgi-bin/stable_token",
		check: func(t *testing.T, r *http.Request) {
			assert.Empty(t, r.URL.RawQuery, "stable_token takes a json body, not a query")
			assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			b, err := io.ReadAll(r.Body)
			assert.NoError(t, err)
			assert.JSONEq(t, `{"grant_type":"client_credential","appid":"`+testAppID+`","secret":"`+testSecret+`","force_refresh":false}`, string(b))
		},
	},
	{
		endpoint: TokenClientCredential,
		pattern:  "GET /cgi-bin/token",
		check: func(t *testing.T, r *http.Request) {
			q := r.URL.Query()
			assert.Equal(t, "client_credential", q.Get("grant_type"))
			assert.Equal(t, testAppID, q.Get("appid"))
			assert.Equal(t, testSecret, q.Get("secret"))
			assert.Len(t, q, 3)
		},
	},
}

// tokenServer registers a token handler that counts calls and answers
// ACCESS_TOKEN_<n> with the given lifetime. If gate is non-nil each call
// waits for it to be closed first.
func tokenServer(t *testing.T, mux *http.ServeMux, pattern string, check func(*testing.T, *http.Request),
	expiresIn int, gate <-chan struct{}) *atomic.Int32 {
	var calls atomic.Int32
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		check(t, r)
		if gate != nil {
			<-gate
		}
		writeJSON(t, w, map[string]any{"access_token": fmt.Sprintf("ACCESS_TOKEN_%d", n), "expires_in": expiresIn})
	})
	return &calls
}

func TestAccessTokenConcurrentCallersShareOneFetch(t *testing.T) {
	t.Parallel()
	for _, ep := range tokenEndpoints {
		t.Run(string(ep.endpoint), func(t *testing.T) {
			t.Parallel()
			c, mux := setup(t, WithTokenEndpoint(ep.endpoint))
			gate := make(chan struct{})
			calls := tokenServer(t, mux, ep.pattern, ep.check, 7200, gate)

			const n = 50
			waiting := make(chan struct{}, n)
			var done sync.WaitGroup
			done.Add(n)
			tokens := make([]string, n)
			errs := make([]error, n)
			for i := range n {
				go func() {
					defer done.Done()
					tokens[i], errs[i] = c.AccessToken(newWaitSignalCtx(waiting))
				}()
			}
			// The upstream response is held until every caller has joined
			// the fetch in flight (the gate stays shut until then, so none
			// can have been served from the cache), which makes the overlap
			// certain rather than likely.
			for range n {
				recvOrFail(t, waiting, "callers joining the fetch")
			}
			close(gate)
			done.Wait()

			assert.Equal(t, int32(1), calls.Load(), "exactly one upstream call")
			for i := range n {
				require.NoError(t, errs[i])
				assert.Equal(t, "ACCESS_TOKEN_1", tokens[i])
			}
		})
	}
}

func TestAccessTokenCacheAndExpiry(t *testing.T) {
	t.Parallel()
	for _, ep := range tokenEndpoints {
		t.Run(string(ep.endpoint), func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			c, mux := setup(t, WithTokenEndpoint(ep.endpoint), WithClock(clock.Now))
			calls := tokenServer(t, mux, ep.pattern, ep.check, 7200, nil)
			ctx := context.Background()

			tok, err := c.AccessToken(ctx)
			require.NoError(t, err)
			assert.Equal(t, "ACCESS_TOKEN_1", tok)

			// Renewal is due 5 minutes before the 7200 s expiry.
			clock.Advance(7200*time.Second - tokenRefreshMargin - time.Second)
			tok, err = c.AccessToken(ctx)
			require.NoError(t, err)
			assert.Equal(t, "ACCESS_TOKEN_1", tok, "cached until shortly before expiry")
			assert.Equal(t, int32(1), calls.Load())

			clock.Advance(time.Second)
			tok, err = c.AccessToken(ctx)
			require.NoError(t, err)
			assert.Equal(t, "ACCESS_TOKEN_2", tok, "renewed at expiry minus margin")
			assert.Equal(t, int32(2), calls.Load())

			tok, err = c.AccessToken(ctx)
			require.NoError(t, err)
			assert.Equal(t, "ACCESS_TOKEN_2", tok)
			assert.Equal(t, int32(2), calls.Load())
		})
	}
}

func TestAccessTokenShortLifetimeUsesHalfMargin(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	c, mux := setup(t, WithClock(clock.Now))
	calls := tokenServer(t, mux, tokenEndpoints[0].pattern, tokenEndpoints[0].check, 300, nil)
	ctx := context.Background()

	_, err := c.AccessToken(ctx)
	require.NoError(t, err)
	clock.Advance(149 * time.Second)
	_, err = c.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, int32(1), calls.Load(), "a 300 s token is kept for half its life")
	clock.Advance(time.Second)
	tok, err := c.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, "ACCESS_TOKEN_2", tok)
}

func TestInvalidateAccessToken(t *testing.T) {
	t.Parallel()
	for _, ep := range tokenEndpoints {
		t.Run(string(ep.endpoint), func(t *testing.T) {
			t.Parallel()
			c, mux := setup(t, WithTokenEndpoint(ep.endpoint))
			calls := tokenServer(t, mux, ep.pattern, ep.check, 7200, nil)
			ctx := context.Background()

			tok, err := c.AccessToken(ctx)
			require.NoError(t, err)
			require.Equal(t, "ACCESS_TOKEN_1", tok)

			c.InvalidateAccessToken("SOME_OLDER_TOKEN")
			tok, err = c.AccessToken(ctx)
			require.NoError(t, err)
			assert.Equal(t, "ACCESS_TOKEN_1", tok, "invalidating a token that is not cached is a no-op")
			assert.Equal(t, int32(1), calls.Load())

			c.InvalidateAccessToken("ACCESS_TOKEN_1")
			c.InvalidateAccessToken("ACCESS_TOKEN_1") // reporting twice refreshes once
			tok, err = c.AccessToken(ctx)
			require.NoError(t, err)
			assert.Equal(t, "ACCESS_TOKEN_2", tok)
			c.InvalidateAccessToken("ACCESS_TOKEN_1") // stale report after the refresh
			tok, err = c.AccessToken(ctx)
			require.NoError(t, err)
			assert.Equal(t, "ACCESS_TOKEN_2", tok)
			assert.Equal(t, int32(2), calls.Load())

			c.InvalidateAccessToken("")
			tok, err = c.AccessToken(ctx)
			require.NoError(t, err)
			assert.Equal(t, "ACCESS_TOKEN_3", tok, "empty token clears the cache")
		})
	}
}

func TestAccessTokenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		body        string
		wantCode    int
		wantInvalid bool
		retryable   bool
	}{
		{name: "invalid appid", body: `{"errcode":40013,"errmsg":"invalid appid"}`, wantCode: CodeInvalidAppID},
		{name: "wrong secret", body: `{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest"}`, wantCode: CodeInvalidCredential},
		{name: "secret echoed", body: `{"errcode":40125,"errmsg":"invalid appsecret ` + testSecret + `"}`, wantCode: CodeInvalidSecret},
		{name: "ip whitelist", body: `{"errcode":40164,"errmsg":"invalid ip 203.0.113.9, not in whitelist"}`, wantCode: CodeIPNotAllowed},
		{name: "frozen", body: `{"errcode":40243,"errmsg":"AppSecret已被冻结"}`, wantCode: CodeSecretFrozen},
		{name: "quota", body: `{"errcode":45009,"errmsg":"reach max api daily quota limit"}`, wantCode: CodeDailyQuotaExceeded},
		{name: "busy", body: `{"errcode":-1,"errmsg":"system error"}`, wantCode: CodeSystemBusy, retryable: true},
		{name: "rate limited", body: `{"errcode":45011,"errmsg":"api minute-quota reach limit"}`, wantCode: CodeRateLimited, retryable: true},
		{name: "missing token", body: `{"expires_in":7200}`, wantInvalid: true},
		{name: "zero expires_in", body: `{"access_token":"T","expires_in":0}`, wantInvalid: true},
		{name: "negative expires_in", body: `{"access_token":"T","expires_in":-5}`, wantInvalid: true},
		{name: "missing expires_in", body: `{"access_token":"T"}`, wantInvalid: true},
		{name: "html", body: `<html>busy</html>`, wantInvalid: true},
	}
	for _, ep := range tokenEndpoints {
		for _, tt := range tests {
			t.Run(string(ep.endpoint)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				c, mux := setup(t, WithTokenEndpoint(ep.endpoint))
				var calls atomic.Int32
				mux.HandleFunc(ep.pattern, func(w http.ResponseWriter, r *http.Request) {
					calls.Add(1)
					ep.check(t, r)
					writeRaw(w, http.StatusOK, "application/json", tt.body)
				})
				for attempt := 1; attempt <= 2; attempt++ {
					tok, err := c.AccessToken(context.Background())
					require.Error(t, err)
					assert.Empty(t, tok)
					var e *Error
					require.ErrorAs(t, err, &e)
					assert.Equal(t, string(ep.endpoint), e.Op)
					assert.Equal(t, tt.wantCode, e.Code)
					assert.Equal(t, tt.retryable, e.Retryable())
					assert.Equal(t, tt.wantInvalid, errors.Is(err, ErrInvalidResponse))
					assert.NotContains(t, err.Error(), testSecret)
					assert.Equal(t, int32(attempt), calls.Load(), "errors are not cached")
				}
			})
		}
	}
}

func TestAccessTokenWaiterGivesUpOnItsOwnContext(t *testing.T) {
	t.Parallel()
	c, mux := setup(t)
	entered := make(chan struct{}, 1)
	gate := make(chan struct{})
	var calls atomic.Int32
	mux.HandleFunc(tokenEndpoints[0].pattern, func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		tokenEndpoints[0].check(t, r)
		entered <- struct{}{}
		<-gate
		writeJSON(t, w, map[string]any{"access_token": fmt.Sprintf("ACCESS_TOKEN_%d", n), "expires_in": 7200})
	})
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	})

	// The first caller starts the fetch and gives up, once the request is
	// at the server, when its context is canceled.
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := c.AccessToken(ctx)
		first <- err
	}()
	recvOrFail(t, entered, "token request")
	cancel()
	require.ErrorIs(t, recvOrFail(t, first, "first caller"), context.Canceled)

	// A second caller joins the same fetch, which was not canceled.
	joined := make(chan struct{}, 1)
	result := make(chan error, 1)
	var tok string
	go func() {
		var err error
		tok, err = c.AccessToken(newWaitSignalCtx(joined))
		result <- err
	}()
	recvOrFail(t, joined, "second caller joining")
	close(gate)
	require.NoError(t, recvOrFail(t, result, "second caller"))
	assert.Equal(t, "ACCESS_TOKEN_1", tok)
	assert.Equal(t, int32(1), calls.Load())

	// A canceled context does not start a fetch at all.
	c.InvalidateAccessToken("")
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, err := c.AccessToken(canceled)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int32(1), calls.Load())
}

func TestAccessTokenFetchDeadline(t *testing.T) {
	t.Parallel()
	c, mux := setup(t)
	release := make(chan struct{})
	mux.HandleFunc(tokenEndpoints[0].pattern, func(w http.ResponseWriter, r *http.Request) {
		// Answers only after the test, long after any deadline. The fetch
		// is detached from the caller's context, so the test must release
		// it before the server shuts down.
		<-release
		writeRaw(w, http.StatusOK, "application/json", `{"access_token":"T","expires_in":7200}`)
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close (LIFO)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	tok, err := c.AccessToken(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Empty(t, tok)
	assert.True(t, strings.HasPrefix(err.Error(), "miniprogram: access token: "), err.Error())
	assert.NotContains(t, err.Error(), testSecret)
}

// TestInvalidateDuringFetch holds a token fetch at the server while the
// token is invalidated: the fetch's (possibly rejected) result must not be
// cached, and a caller arriving after the invalidation must start a new
// fetch instead of joining the old one.
func TestInvalidateDuringFetch(t *testing.T) {
	t.Parallel()
	for _, ep := range tokenEndpoints {
		t.Run(string(ep.endpoint), func(t *testing.T) {
			t.Parallel()
			c, mux := setup(t, WithTokenEndpoint(ep.endpoint))
			entered := make(chan int32, 2)
			release := make(chan struct{})
			t.Cleanup(func() {
				select {
				case <-release:
				default:
					close(release)
				}
			})
			var calls atomic.Int32
			mux.HandleFunc(ep.pattern, func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				ep.check(t, r)
				entered <- n
				if n == 1 {
					<-release // the first fetch waits until after the invalidation
				}
				writeJSON(t, w, map[string]any{"access_token": fmt.Sprintf("ACCESS_TOKEN_%d", n), "expires_in": 7200})
			})

			type result struct {
				tok string
				err error
			}
			before := make(chan result, 1)
			go func() {
				tok, err := c.AccessToken(context.Background())
				before <- result{tok, err}
			}()
			require.Equal(t, int32(1), recvOrFail(t, entered, "first fetch"))

			c.InvalidateAccessToken("")

			// The first fetch is still held, so a caller that joined it
			// would block: getting ACCESS_TOKEN_2 proves a new fetch ran.
			after := make(chan result, 1)
			go func() {
				tok, err := c.AccessToken(context.Background())
				after <- result{tok, err}
			}()
			require.Equal(t, int32(2), recvOrFail(t, entered, "second fetch"))
			r := recvOrFail(t, after, "caller after invalidation")
			require.NoError(t, r.err)
			assert.Equal(t, "ACCESS_TOKEN_2", r.tok)

			// The first caller still gets the result of the fetch it joined,
			// but that result does not replace the cache.
			close(release)
			r = recvOrFail(t, before, "caller before invalidation")
			require.NoError(t, r.err)
			assert.Equal(t, "ACCESS_TOKEN_1", r.tok)

			tok, err := c.AccessToken(context.Background())
			require.NoError(t, err)
			assert.Equal(t, "ACCESS_TOKEN_2", tok, "the stale fetch did not overwrite the cache")
			assert.Equal(t, int32(2), calls.Load())
		})
	}
}

// TestInvalidateStaleTokenKeepsFetch checks that reporting a token that is
// no longer cached does not disown the fetch in flight: two callers
// reporting the same rejected token cause a single refresh, which both
// share.
func TestInvalidateStaleTokenKeepsFetch(t *testing.T) {
	t.Parallel()
	c, mux := setup(t)
	entered := make(chan int32, 2)
	release := make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	var calls atomic.Int32
	mux.HandleFunc(tokenEndpoints[0].pattern, func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		entered <- n
		if n == 2 {
			<-release
		}
		writeJSON(t, w, map[string]any{"access_token": fmt.Sprintf("ACCESS_TOKEN_%d", n), "expires_in": 7200})
	})
	tok, err := c.AccessToken(context.Background())
	require.NoError(t, err)
	require.Equal(t, "ACCESS_TOKEN_1", tok)
	require.Equal(t, int32(1), recvOrFail(t, entered, "first fetch"))

	// Caller A reports the token and starts the refresh, held at the server.
	c.InvalidateAccessToken(tok)
	resA := make(chan string, 1)
	go func() {
		tok, err := c.AccessToken(context.Background())
		assert.NoError(t, err)
		resA <- tok
	}()
	require.Equal(t, int32(2), recvOrFail(t, entered, "refresh"))

	// Caller B reports the same token late, then asks again: it must join
	// A's refresh rather than start a third fetch.
	c.InvalidateAccessToken(tok)
	joined := make(chan struct{}, 1)
	resB := make(chan string, 1)
	go func() {
		tok, err := c.AccessToken(newWaitSignalCtx(joined))
		assert.NoError(t, err)
		resB <- tok
	}()
	recvOrFail(t, joined, "caller B joining")
	close(release)
	assert.Equal(t, "ACCESS_TOKEN_2", recvOrFail(t, resA, "caller A"))
	assert.Equal(t, "ACCESS_TOKEN_2", recvOrFail(t, resB, "caller B"))
	assert.Equal(t, int32(2), calls.Load())
}

// waitSignalCtx is a context.Background that sends on ch the first time
// its Done method is called. AccessToken calls Done only to wait, after it
// has joined (or started) the fetch in flight, so the signal proves the
// caller is committed to that fetch. A detached fetch context (WithoutCancel)
// never calls it.
type waitSignalCtx struct {
	context.Context
	once sync.Once
	ch   chan<- struct{}
}

func newWaitSignalCtx(ch chan<- struct{}) *waitSignalCtx {
	return &waitSignalCtx{Context: context.Background(), ch: ch}
}

func (c *waitSignalCtx) Done() <-chan struct{} {
	c.once.Do(func() { c.ch <- struct{}{} })
	return c.Context.Done()
}

// recvOrFail receives from ch. The bound only turns a bug that would hang
// forever into a failure; passing runs never come near it.
func recvOrFail[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestDecodeTokenTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body    string
		wantTok string
		wantTTL time.Duration
	}{
		{`{"access_token":"A","expires_in":7200}`, "A", 7200 * time.Second},
		{`{"access_token":"A","expires_in":"7200"}`, "A", 7200 * time.Second},
		{`{"access_token":"A","expires_in":7200,"errcode":0,"errmsg":"ok"}`, "A", 7200 * time.Second},
	}
	for _, tt := range tests {
		tok, ttl, err := decodeToken("token", &response{status: 200, body: []byte(tt.body)}, scrubber())
		require.NoError(t, err, tt.body)
		if diff := cmp.Diff([]any{tt.wantTok, tt.wantTTL}, []any{tok, ttl}); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.body, diff)
		}
	}
	_, _, err := decodeToken("token", &response{status: 200, body: []byte(`{"access_token":"A","expires_in":1.5}`)}, scrubber())
	require.ErrorIs(t, err, ErrInvalidResponse)
}
