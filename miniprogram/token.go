package miniprogram

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// TokenEndpoint selects how the client obtains access tokens. Pass it to
// [WithTokenEndpoint].
type TokenEndpoint string

const (
	// TokenStable uses POST /cgi-bin/stable_token (getStableAccessToken),
	// the default. In its normal mode every caller gets the current token,
	// so several servers of one app can each fetch tokens without
	// invalidating one another, and its tokens are isolated from those of
	// /cgi-bin/token.
	//
	// WeChat docs: https://developers.weixin.qq.com/minigame/dev/api-backend/open-api/access-token/auth.getStableAccessToken.html
	TokenStable TokenEndpoint = "stable_token"

	// TokenClientCredential uses GET /cgi-bin/token (getAccessToken). Each
	// call issues a new token and the previous one stops working five
	// minutes later, so use it only if this client is the single place
	// that fetches tokens for the app.
	//
	// WeChat docs: https://mp.weixin.qq.com/debug/minigame/dev/api-backend/auth.getAccessToken.html
	TokenClientCredential TokenEndpoint = "token"
)

// WithTokenEndpoint selects the access-token API; the default is
// [TokenStable]. Unknown values are an error.
func WithTokenEndpoint(e TokenEndpoint) Option {
	return func(o *options) error {
		switch e {
		case TokenStable, TokenClientCredential:
			o.endpoint = e
			return nil
		}
		return fmt.Errorf("%w: unknown token endpoint %q", ErrBadInput, wire.Truncate(string(e), 32))
	}
}

const (
	// tokenRefreshMargin is how long before its stated expiry a cached
	// token is renewed. WeChat keeps an old token valid for five minutes
	// after a new one is issued, and stable tokens are renewed by WeChat
	// five minutes before expiry, so renewing this early never leaves us
	// holding a token that is about to die mid-request.
	tokenRefreshMargin = 5 * time.Minute
	// tokenFetchTimeout bounds a token fetch, which runs detached from the
	// contexts of the callers waiting for it (see tokenCache).
	tokenFetchTimeout = 30 * time.Second
)

// tokenCache holds one access token and makes sure at most one fetch runs
// at a time for the current generation. A fetch runs in its own goroutine
// under a context detached from any single caller (values kept,
// cancellation dropped, bounded by tokenFetchTimeout): callers wait for it
// but may give up on their own context without failing the others.
//
// gen counts invalidations. A fetch remembers the generation it started
// under and fills the cache only if no invalidation happened meanwhile,
// because its answer may be the very token that was just rejected (the
// stable_token API returns the current token, and the request may have
// been answered before WeChat revoked it). An invalidation also detaches
// the in-flight fetch, so callers arriving afterwards start a new one
// instead of joining it; the callers already waiting on the old fetch
// still get its result.
type tokenCache struct {
	endpoint TokenEndpoint

	mu        sync.Mutex
	token     secret // see clientState
	refreshAt time.Time
	gen       uint64
	inflight  *tokenFetch // nil, or a fetch started under gen
}

// tokenFetch is one in-progress fetch; done is closed when token and err
// are set.
type tokenFetch struct {
	gen   uint64
	done  chan struct{}
	token string
	err   error
}

// AccessToken returns a valid access token for the app, fetching one only
// when the cached token is missing or within a few minutes of expiry.
// Concurrent callers share a single fetch. If ctx ends first, AccessToken
// returns ctx's error while the fetch continues for the others and fills
// the cache.
//
// Use it for WeChat APIs this package does not wrap; pass the token to
// [Client.InvalidateAccessToken] if such an API rejects it with
// [CodeInvalidCredential], [CodeAccessTokenExpired] or
// [CodeInvalidAccessToken]. A call made after that never joins a fetch
// that started before the invalidation. The token is a secret: do not log
// it.
//
// Failures are [*Error] values with Op "stable_token" or "token" (see
// [WithTokenEndpoint]). Errors are not cached: the next call tries again.
//
// WeChat docs: https://developers.weixin.qq.com/minigame/dev/api-backend/open-api/access-token/auth.getStableAccessToken.html
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	t := c.st.tokens
	t.mu.Lock()
	if tok := t.token.value(); tok != "" && c.now().Before(t.refreshAt) {
		t.mu.Unlock()
		return tok, nil
	}
	if err := ctx.Err(); err != nil {
		t.mu.Unlock()
		return "", fmt.Errorf("miniprogram: access token: %w", err)
	}
	f := t.inflight
	if f == nil {
		f = &tokenFetch{gen: t.gen, done: make(chan struct{})}
		t.inflight = f
		go c.runTokenFetch(context.WithoutCancel(ctx), f)
	}
	t.mu.Unlock()

	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return "", fmt.Errorf("miniprogram: access token: %w", ctx.Err())
	}
}

// InvalidateAccessToken drops token from the cache so that the next
// [Client.AccessToken] fetches a new one. Call it when WeChat rejects the
// token. It only acts if token is still the cached one, so many callers
// reporting the same stale token cause a single refresh. An empty token
// clears whatever is cached unconditionally, so every such call starts a
// new fetch; with [TokenClientCredential] each fetch revokes the previous
// token, so prefer passing the token that was rejected.
//
// When it acts, a fetch already in flight is disowned: its result goes to
// the callers already waiting for it but is not cached, and later callers
// start a fresh fetch rather than receive what may be the rejected token
// again.
//
// With [TokenStable] the refetch uses normal mode (force_refresh false),
// which returns the current valid token without revoking anyone's; forced
// refreshes are limited to 20 a day and would break other servers.
func (c *Client) InvalidateAccessToken(token string) {
	t := c.st.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	if token == "" || token == t.token.value() {
		t.token = secret{}
		t.refreshAt = time.Time{}
		t.gen++
		t.inflight = nil
	}
}

func (c *Client) runTokenFetch(ctx context.Context, f *tokenFetch) {
	ctx, cancel := context.WithTimeout(ctx, tokenFetchTimeout)
	defer cancel()
	start := c.now()
	tok, ttl, err := c.fetchToken(ctx)

	t := c.st.tokens
	t.mu.Lock()
	if err == nil && f.gen == t.gen {
		margin := min(tokenRefreshMargin, ttl/2)
		t.token = newSecret(tok)
		t.refreshAt = start.Add(ttl - margin)
	}
	if t.inflight == f {
		t.inflight = nil
	}
	f.token, f.err = tok, err
	close(f.done)
	t.mu.Unlock()
}

// tokenResponse is the body of both token APIs.
type tokenResponse struct {
	apiStatus
	AccessToken string  `json:"access_token"`
	ExpiresIn   flexInt `json:"expires_in"`
}

// fetchToken performs one upstream token request.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	op := string(c.st.tokens.endpoint)
	var (
		r   *response
		err error
	)
	switch c.st.tokens.endpoint {
	case TokenClientCredential:
		q := url.Values{
			"grant_type": {"client_credential"},
			"appid":      {c.appID},
			"secret":     {c.appSecret()},
		}
		r, err = c.do(ctx, op, http.MethodGet, "/cgi-bin/token", q, nil)
	default:
		body := struct {
			GrantType    string `json:"grant_type"`
			AppID        string `json:"appid"`
			Secret       string `json:"secret"`
			ForceRefresh bool   `json:"force_refresh"`
		}{"client_credential", c.appID, c.appSecret(), false}
		r, err = c.do(ctx, op, http.MethodPost, "/cgi-bin/stable_token", nil, body)
	}
	if err != nil {
		return "", 0, err
	}
	return decodeToken(op, r, scrubber(c.appSecret()))
}

// decodeToken validates a token response; it never panics.
func decodeToken(op string, r *response, scrub func(string) string) (string, time.Duration, error) {
	var tr tokenResponse
	if err := decodeAPI(op, r, &tr, scrub); err != nil {
		return "", 0, err
	}
	if tr.AccessToken == "" {
		return "", 0, invalidResponse(op, r.status, "missing access_token")
	}
	if tr.ExpiresIn <= 0 {
		return "", 0, invalidResponse(op, r.status, "expires_in is not positive")
	}
	return tr.AccessToken, time.Duration(tr.ExpiresIn) * time.Second, nil
}
