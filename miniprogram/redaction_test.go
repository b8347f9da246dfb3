package miniprogram

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Distinctive secrets, so that any fragment of them in an output is a leak.
const (
	leakSecret     = "Zq7XwV3mK9pLr2Tn8sYb4HcD6fGj1aQe"
	leakToken      = "84_Hq2ZtW9xLmP4vN7cR1sK8dF3gJ6bY0eA5uI_TOKEN"
	leakSessionKey = "tiihtNczf5v6AKRyjwEUhQ=="
)

// leakedClient returns a client holding leakSecret with leakToken cached,
// and the session Code2Session returned for leakSessionKey.
func leakedClient(t *testing.T) (*Client, *Session) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cgi-bin/stable_token":
			writeJSON(t, w, map[string]any{"access_token": leakToken, "expires_in": 7200})
		case "/sns/jscode2session":
			writeJSON(t, w, map[string]any{"openid": "oGZUI0egBJY1zhBYw2KhdUfwVJJE", "session_key": leakSessionKey})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(testAppID, leakSecret, WithBaseURL(srv.URL), WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	tok, err := c.AccessToken(context.Background())
	require.NoError(t, err)
	require.Equal(t, leakToken, tok, "the token is cached inside the client")
	sess, err := c.Code2Session(context.Background(), "0a3Xyz")
	require.NoError(t, err)
	require.Equal(t, leakSessionKey, sess.SessionKey.Reveal())
	return c, sess
}

// leakForms lists what a secret looks like in printed output: itself,
// every 12-byte window of it (precision verbs cut strings), and its hex
// forms (%x, %X, % x).
func leakForms(secrets ...string) []string {
	var forms []string
	for _, s := range secrets {
		forms = append(forms, s, hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s))))
		spaced := fmt.Sprintf("% x", s)
		forms = append(forms, spaced, strings.ToUpper(spaced))
		for i := 0; i+12 <= len(s); i++ {
			forms = append(forms, s[i:i+12])
		}
	}
	return forms
}

type holder struct {
	name string
	v    any
}

// nestings puts x where a user's code might hold it: at the top, in
// exported and unexported fields, in an any, behind pointers, in slices,
// arrays and maps, and two structs deep.
func nestings[T any](x T) []holder {
	type deep struct{ inner struct{ x T } }
	d := deep{}
	d.inner.x = x
	return []holder{
		{"top", x},
		{"pointer", &x},
		{"exported field", struct{ X T }{x}},
		{"unexported field", struct{ x T }{x}},
		{"unexported pointer field", struct{ x *T }{&x}},
		{"pointer to struct with unexported field", &struct{ x T }{x}},
		{"exported any", struct{ X any }{x}},
		{"unexported any", struct{ x any }{x}},
		{"slice", []T{x}},
		{"slice of any", []any{x}},
		{"array", [1]T{x}},
		{"map", map[string]T{"k": x}},
		{"map of any", map[string]any{"k": x}},
		{"map of pointers in unexported field", struct{ m map[string]*T }{map[string]*T{"k": &x}}},
		{"slice in unexported field", struct{ s []T }{[]T{x}}},
		{"two structs deep", d},
		{"pointer two structs deep", &d},
	}
}

var leakVerbs = []string{
	"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%p", "%d", "%o", "%b",
	"%t", "%e", "%c", "%U", "%z", "%.12s", "%100s", "%-v", "%+q", "%#x",
}

// checkNoLeak prints every nesting of every value under every verb, with
// both slog handlers and with encoding/json, and fails on any form of any
// secret.
func checkNoLeak(t *testing.T, values []holder, secrets ...string) {
	t.Helper()
	forms := leakForms(secrets...)
	check := func(what, out string) {
		t.Helper()
		for _, f := range forms {
			if strings.Contains(out, f) {
				t.Errorf("%s leaks %q:\n%s", what, f, out)
				return
			}
		}
	}
	for _, top := range values {
		for _, h := range nestings(top.v) {
			name := top.name + " " + h.name
			for _, verb := range leakVerbs {
				check(name+" "+verb, fmt.Sprintf(verb, h.v))
			}
			check(name+" Sprint", fmt.Sprint(h.v))
			check(name+" Sprintln", fmt.Sprintln(h.v, h.v))
			check(name+" Errorf", fmt.Errorf("wrapped %v: %w", h.v, context.Canceled).Error())

			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "k", h.v, slog.Group("g", "k", h.v))
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "k", h.v, slog.Group("g", "k", h.v))
			check(name+" slog", buf.String())

			if b, err := json.Marshal(h.v); err == nil {
				check(name+" json", string(b))
			}
		}
	}
}

// TestNoSecretInPrintedValues is the verbs × nesting × handlers table for
// every value the package creates that holds a secret: a Client with its
// AppSecret and a cached access token, a Session and its SessionKey.
func TestNoSecretInPrintedValues(t *testing.T) {
	t.Parallel()
	c, sess := leakedClient(t)
	checkNoLeak(t, []holder{
		{"*Client", c},
		{"Client", *c},
		{"*Session", sess},
		{"Session", *sess},
		{"SessionKey", sess.SessionKey},
		{"*SessionKey", &sess.SessionKey},
	}, leakSecret, leakToken, leakSessionKey)
}

// TestLeakCheckFindsLeaks makes sure the table above can fail: the same
// nestings of a plain struct holding the secrets as strings are caught.
func TestLeakCheckFindsLeaks(t *testing.T) {
	t.Parallel()
	type naive struct{ secret, token string }
	type naivePtr struct{ p *naive }
	found := 0
	for _, v := range []any{naive{leakSecret, leakToken}, naivePtr{&naive{leakSecret, leakToken}}} {
		for _, verb := range []string{"%v", "%s", "%x"} {
			out := fmt.Sprintf(verb, struct{ x any }{v})
			for _, f := range leakForms(leakSecret) {
				if strings.Contains(out, f) {
					found++
					break
				}
			}
		}
	}
	// naive leaks under every verb; naivePtr leaks under %s through fmt's
	// bad-verb path, which prints the struct behind the pointer without
	// calling any method (%x prints the pointer as a number).
	assert.Equal(t, 4, found)
}

func TestRedactedForms(t *testing.T) {
	t.Parallel()
	c, sess := leakedClient(t)
	assert.Equal(t, "miniprogram.Client{AppID:"+testAppID+"}", fmt.Sprintf("%+v", c))
	assert.Equal(t, `miniprogram.Client{AppID:"`+testAppID+`"}`, fmt.Sprintf("%#v", *c))
	assert.Equal(t, "{OpenID:oGZUI0egBJY1zhBYw2KhdUfwVJJE UnionID: SessionKey:[redacted]}", fmt.Sprint(sess))
	assert.Equal(t, `miniprogram.Session{OpenID:"oGZUI0egBJY1zhBYw2KhdUfwVJJE", UnionID:"", SessionKey:miniprogram.SessionKey("[redacted]")}`,
		fmt.Sprintf("%#v", *sess))
	assert.Equal(t, "{OpenID:o UnionID: SessionKey:}", Session{OpenID: "o"}.String(), "a zero key shows as empty")

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("login", "session", sess, "mp", c)
	assert.Contains(t, buf.String(), `"session":{"openid":"oGZUI0egBJY1zhBYw2KhdUfwVJJE","unionid":"","session_key":"[redacted]"}`)
	assert.Contains(t, buf.String(), `"mp":{"appid":"`+testAppID+`"}`)

	b, err := json.Marshal(sess)
	require.NoError(t, err)
	assert.JSONEq(t, `{"OpenID":"oGZUI0egBJY1zhBYw2KhdUfwVJJE","UnionID":"","SessionKey":"[redacted]"}`, string(b))
	//lint:ignore SA9005 the point is that a Client encodes to nothing
	b, err = json.Marshal(c)
	require.NoError(t, err)
	assert.Equal(t, `{}`, string(b))
}

func TestSessionKeyStoreAndRestore(t *testing.T) {
	t.Parallel()
	k, err := ParseSessionKey(leakSessionKey)
	require.NoError(t, err)
	assert.Equal(t, leakSessionKey, k.Reveal())
	assert.False(t, k.IsZero())
	assert.True(t, SessionKey{}.IsZero())
	assert.Empty(t, SessionKey{}.Reveal())

	for _, bad := range []string{"", "not base64!", "AAAA", leakSessionKey[:20] + "AAAAAAAA"} {
		_, err := ParseSessionKey(bad)
		require.ErrorIs(t, err, ErrBadInput, "%q", bad)
		if bad != "" {
			assert.NotContains(t, err.Error(), bad)
		}
	}

	// A key the caller stores as text decodes back; the redacted form
	// written by encoding/json does not, and says why.
	var s struct{ K SessionKey }
	require.NoError(t, json.Unmarshal([]byte(`{"K":"`+leakSessionKey+`"}`), &s))
	assert.Equal(t, leakSessionKey, s.K.Reveal())
	b, err := json.Marshal(s)
	require.NoError(t, err)
	err = json.Unmarshal(b, &s)
	require.ErrorIs(t, err, ErrBadInput)
	assert.Contains(t, err.Error(), "redacted")
	require.NoError(t, json.Unmarshal([]byte(`{"K":""}`), &s))
	assert.True(t, s.K.IsZero())
	err = json.Unmarshal([]byte(`{"K":"AAAA"}`), &s)
	assert.ErrorIs(t, err, ErrBadInput)
}
