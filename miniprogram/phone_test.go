package miniprogram

import (
	"context"
	"encoding/json"
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

const testPhoneCode = "e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144"

// fakeToken is the n-th access token the fakes issue: as long as a real
// one (WeChat's are over 100 characters), so that scrubbing applies.
func fakeToken(n int) string {
	return fmt.Sprintf("ACCESS_TOKEN_%d_", n) + strings.Repeat("x", 100)
}

// phoneFake serves stable_token (fakeToken(n)) and getuserphonenumber;
// the latter answers bodies[i] on its i-th call (the last one repeats) and
// records the access token each call used.
type phoneFake struct {
	tokenCalls atomic.Int32
	phoneCalls atomic.Int32
	mu         sync.Mutex
	usedTokens []string
}

func newPhoneFake(t *testing.T, mux *http.ServeMux, bodies ...string) *phoneFake {
	f := &phoneFake{}
	mux.HandleFunc("POST /cgi-bin/stable_token", func(w http.ResponseWriter, r *http.Request) {
		n := f.tokenCalls.Add(1)
		writeJSON(t, w, map[string]any{"access_token": fakeToken(int(n)), "expires_in": 7200})
	})
	mux.HandleFunc("POST /wxa/business/getuserphonenumber", func(w http.ResponseWriter, r *http.Request) {
		i := int(f.phoneCalls.Add(1)) - 1
		q := r.URL.Query()
		assert.Len(t, q, 1, "only access_token goes in the query")
		f.mu.Lock()
		f.usedTokens = append(f.usedTokens, q.Get("access_token"))
		f.mu.Unlock()
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		b, err := io.ReadAll(r.Body)
		assert.NoError(t, err)
		assert.JSONEq(t, `{"code":"`+testPhoneCode+`"}`, string(b))
		writeRaw(w, http.StatusOK, "application/json", bodies[min(i, len(bodies)-1)])
	})
	return f
}

func (f *phoneFake) tokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.usedTokens...)
}

const phoneOK = `{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"+86 13800138000","purePhoneNumber":"13800138000","countryCode":%s,"watermark":{"timestamp":1637744274,"appid":"%s"}}}`

func TestGetPhoneNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		countryCode string
	}{
		{"country code as number", `86`},
		{"country code as string", `"86"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setup(t)
			f := newPhoneFake(t, mux, fmt.Sprintf(phoneOK, tt.countryCode, testAppID))
			got, err := c.GetPhoneNumber(context.Background(), testPhoneCode)
			require.NoError(t, err)
			want := &PhoneInfo{
				PhoneNumber:     "+86 13800138000",
				PurePhoneNumber: "13800138000",
				CountryCode:     "86",
				Watermark:       Watermark{Timestamp: 1637744274, AppID: testAppID},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("phone info (-want +got):\n%s", diff)
			}
			assert.Equal(t, []string{fakeToken(1)}, f.tokens())
			assert.Equal(t, int32(1), f.tokenCalls.Load())
		})
	}
}

func TestGetPhoneNumberRefreshesRejectedTokenOnce(t *testing.T) {
	t.Parallel()
	for _, code := range []int{CodeInvalidCredential, CodeAccessTokenExpired, CodeInvalidAccessToken} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			c, mux := setup(t)
			rejected := fmt.Sprintf(`{"errcode":%d,"errmsg":"access_token expired"}`, code)
			f := newPhoneFake(t, mux, rejected, fmt.Sprintf(phoneOK, "86", testAppID))

			got, err := c.GetPhoneNumber(context.Background(), testPhoneCode)
			require.NoError(t, err)
			assert.Equal(t, "13800138000", got.PurePhoneNumber)
			assert.Equal(t, []string{fakeToken(1), fakeToken(2)}, f.tokens(), "retried with a fresh token")
			assert.Equal(t, int32(2), f.tokenCalls.Load())

			// The refreshed token is cached for the next call.
			_, err = c.GetPhoneNumber(context.Background(), testPhoneCode)
			require.NoError(t, err)
			assert.Equal(t, int32(2), f.tokenCalls.Load())
		})
	}
}

// TestGetPhoneNumberRetryDoesNotJoinStaleFetch reproduces the race in
// which another caller's token fetch is already in flight when
// GetPhoneNumber learns that its token was rejected. That fetch started
// before the invalidation and (like stable_token in normal mode) answers
// with the rejected token, so the retry must start a fresh fetch instead
// of joining it, and the stale answer must not be cached.
func TestGetPhoneNumberRetryDoesNotJoinStaleFetch(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	c, mux := setup(t, WithClock(clock.Now))
	staleEntered := make(chan struct{})
	releaseStale := make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-releaseStale:
		default:
			close(releaseStale)
		}
	})
	var tokenCalls, phoneCalls atomic.Int32
	mux.HandleFunc("POST /cgi-bin/stable_token", func(w http.ResponseWriter, r *http.Request) {
		tok := fakeToken(1)
		switch tokenCalls.Add(1) {
		case 2: // the other caller's fetch: held, then answers the old token
			close(staleEntered)
			<-releaseStale
		case 3:
			tok = fakeToken(3)
		}
		writeJSON(t, w, map[string]any{"access_token": tok, "expires_in": 7200})
	})
	var mu sync.Mutex
	var used []string
	otherResult := make(chan string, 1)
	mux.HandleFunc("POST /wxa/business/getuserphonenumber", func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("access_token")
		mu.Lock()
		used = append(used, tok)
		mu.Unlock()
		if phoneCalls.Add(1) == 1 {
			// While this request is in flight, the cached token comes due
			// and another caller starts a fetch, held at the server.
			clock.Advance(2 * time.Hour)
			go func() {
				tok, err := c.AccessToken(context.Background())
				assert.NoError(t, err)
				otherResult <- tok
			}()
			<-staleEntered
			writeRaw(w, http.StatusOK, "application/json", `{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest"}`)
			return
		}
		if tok != fakeToken(3) {
			writeRaw(w, http.StatusOK, "application/json", `{"errcode":40001,"errmsg":"invalid credential"}`)
			return
		}
		writeRaw(w, http.StatusOK, "application/json", fmt.Sprintf(phoneOK, "86", testAppID))
	})
	_, err := c.AccessToken(context.Background())
	require.NoError(t, err)

	type result struct {
		info *PhoneInfo
		err  error
	}
	res := make(chan result, 1)
	go func() {
		info, err := c.GetPhoneNumber(context.Background(), testPhoneCode)
		res <- result{info, err}
	}()
	// With the stale fetch still held, the retry can only succeed by
	// fetching on its own.
	r := recvOrFail(t, res, "GetPhoneNumber")
	require.NoError(t, r.err)
	assert.Equal(t, "13800138000", r.info.PurePhoneNumber)
	mu.Lock()
	assert.Equal(t, []string{fakeToken(1), fakeToken(3)}, used)
	mu.Unlock()

	// The other caller still gets its fetch's answer, which is not cached.
	close(releaseStale)
	assert.Equal(t, fakeToken(1), recvOrFail(t, otherResult, "other caller"))
	tok, err := c.AccessToken(context.Background())
	require.NoError(t, err)
	assert.Equal(t, fakeToken(3), tok)
	assert.Equal(t, int32(3), tokenCalls.Load())
}

// TestGetPhoneNumberRetriesOnlyOnce: a token rejected twice ends the call.
// The fake counts calls and, from the third on, answers an error that is
// not a token rejection, so a client that retried without bound stops
// there and fails the assertions at once instead of hanging; the context
// deadline is a second guard.
func TestGetPhoneNumberRetriesOnlyOnce(t *testing.T) {
	t.Parallel()
	c, mux := setup(t)
	const rejected = `{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest"}`
	f := newPhoneFake(t, mux, rejected, rejected, `{"errcode":-1,"errmsg":"fake: third call, retries are unbounded"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.GetPhoneNumber(ctx, testPhoneCode)
	require.Equal(t, int32(2), f.phoneCalls.Load(), "exactly one retry")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, CodeInvalidCredential, e.Code)
	assert.Equal(t, "getuserphonenumber", e.Op)
	assert.Equal(t, []string{fakeToken(1), fakeToken(2)}, f.tokens(), "the retry used a fresh token")
	assert.NotContains(t, err.Error(), "ACCESS_TOKEN_")
}

func TestGetPhoneNumberErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		body        string
		wantCode    int
		wantInvalid bool
		wantWM      bool
	}{
		{name: "invalid code", body: `{"errcode":40029,"errmsg":"invalid code"}`, wantCode: CodeInvalidCode},
		{name: "busy", body: `{"errcode":-1,"errmsg":"system error"}`, wantCode: CodeSystemBusy},
		{name: "rate limited", body: `{"errcode":45011,"errmsg":"api minute-quota reach limit"}`, wantCode: CodeRateLimited},
		{name: "bad format", body: `{"errcode":47001,"errmsg":"data format error"}`, wantCode: CodeInvalidRequestFormat},
		{name: "token echoed in errmsg", body: `{"errcode":40029,"errmsg":"invalid code for ` + fakeToken(1) + `"}`, wantCode: CodeInvalidCode},
		{name: "missing phone_info", body: `{"errcode":0,"errmsg":"ok"}`, wantInvalid: true},
		{name: "empty phone number", body: `{"errcode":0,"phone_info":{"phoneNumber":""}}`, wantInvalid: true},
		{name: "country code bool", body: `{"phone_info":{"phoneNumber":"1","countryCode":true}}`, wantInvalid: true},
		{name: "country code fraction", body: `{"phone_info":{"phoneNumber":"1","countryCode":8.6}}`, wantInvalid: true},
		{name: "not json", body: `<html></html>`, wantInvalid: true},
		{name: "other app", body: fmt.Sprintf(phoneOK, `"86"`, "wxotherapp0000000"), wantWM: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setup(t)
			f := newPhoneFake(t, mux, tt.body)
			got, err := c.GetPhoneNumber(context.Background(), testPhoneCode)
			require.Error(t, err)
			assert.Nil(t, got)
			assert.NotContains(t, err.Error(), fakeToken(1))
			assert.NotContains(t, err.Error(), "ACCESS_TOKEN_")
			assert.NotContains(t, err.Error(), testSecret)
			assert.Equal(t, int32(1), f.phoneCalls.Load(), "no retry")
			if tt.wantWM {
				assert.ErrorIs(t, err, ErrWatermark)
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "getuserphonenumber", e.Op)
			assert.Equal(t, tt.wantCode, e.Code)
			assert.Equal(t, tt.wantInvalid, e.Err != nil)
		})
	}
}

func TestGetPhoneNumberTokenFailure(t *testing.T) {
	t.Parallel()
	c, mux := setup(t)
	mux.HandleFunc("POST /cgi-bin/stable_token", func(w http.ResponseWriter, r *http.Request) {
		writeRaw(w, http.StatusOK, "application/json", `{"errcode":40013,"errmsg":"invalid appid"}`)
	})
	// No phone handler: the catch-all fails the test if it is reached.
	_, err := c.GetPhoneNumber(context.Background(), testPhoneCode)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "stable_token", e.Op)
	assert.Equal(t, CodeInvalidAppID, e.Code)
}

func TestGetPhoneNumberEmptyCode(t *testing.T) {
	t.Parallel()
	c, _ := setup(t)
	_, err := c.GetPhoneNumber(context.Background(), "")
	require.ErrorIs(t, err, ErrBadInput)
}

func TestPhoneInfoUnmarshalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{`{"countryCode":"86"}`, "86", false},
		{`{"countryCode":86}`, "86", false},
		{`{"countryCode":1}`, "1", false},
		{`{"countryCode":null}`, "", false},
		{`{}`, "", false},
		{`{"countryCode":""}`, "", false},
		{`{"countryCode":8.6}`, "", true},
		{`{"countryCode":-86}`, "", true},
		{`{"countryCode":1e2}`, "", true},
		{`{"countryCode":true}`, "", true},
		{`{"countryCode":{}}`, "", true},
		{`{"countryCode":"86}`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			var p PhoneInfo
			err := json.Unmarshal([]byte(tt.in), &p)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.CountryCode)
		})
	}

	// The legacy encrypted payload decodes into the same type.
	var p PhoneInfo
	require.NoError(t, json.Unmarshal([]byte(`{"phoneNumber":"13580006666","purePhoneNumber":"13580006666","countryCode":"86","watermark":{"appid":"APPID","timestamp":1500000000}}`), &p))
	want := PhoneInfo{PhoneNumber: "13580006666", PurePhoneNumber: "13580006666", CountryCode: "86", Watermark: Watermark{AppID: "APPID", Timestamp: 1500000000}}
	assert.Equal(t, want, p)
	out, err := json.Marshal(p)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"countryCode":"86"`, "marshals as a string")
}
