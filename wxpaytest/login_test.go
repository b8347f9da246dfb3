package wxpaytest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay/miniprogram"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

func miniClient(t *testing.T, s *wxpaytest.Server, secret string, opts ...miniprogram.Option) *miniprogram.Client {
	t.Helper()
	opts = append(opts, miniprogram.WithBaseURL(s.URL), miniprogram.WithHTTPClient(s.Client()))
	c, err := miniprogram.NewClient(testAppID, secret, opts...)
	require.NoError(t, err)
	return c
}

func requireErrcode(t *testing.T, err error, code int) {
	t.Helper()
	var e *miniprogram.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, code, e.Code, "%v", err)
}

func TestCode2Session(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.Now = clk.Now
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	mp := miniClient(t, s, testSecret)
	ctx := ctxT(t)

	code := s.LoginCode("oKnown")
	sess, err := mp.Code2Session(ctx, code)
	require.NoError(t, err)
	assert.Equal(t, "oKnown", sess.OpenID)
	_, err = mp.Code2Session(ctx, code)
	requireErrcode(t, err, miniprogram.CodeCodeUsed)
	_, err = mp.Code2Session(ctx, "no-such-code")
	requireErrcode(t, err, miniprogram.CodeInvalidCode)

	// A code lives 5 minutes.
	code = s.LoginCode("oKnown")
	clk.Add(wxpaytest.CodeLife)
	_, err = mp.Code2Session(ctx, code)
	requireErrcode(t, err, miniprogram.CodeInvalidCode)

	// Each login is a new session key; data of the old session no longer
	// decrypts with the new one.
	enc, iv, err := s.UserInfo("oKnown", wxpaytest.Profile{NickName: "a"})
	require.NoError(t, err)
	sess2, err := mp.Code2Session(ctx, s.LoginCode("oKnown"))
	require.NoError(t, err)
	assert.NotEqual(t, sess.SessionKey.Reveal(), sess2.SessionKey.Reveal())
	_, err = mp.DecryptUserInfo(sess2, enc, iv)
	assert.Error(t, err)
	_, err = mp.DecryptUserInfo(sess, enc, iv)
	require.NoError(t, err)

	// New users get distinct openids.
	a, err := mp.Code2Session(ctx, s.LoginCode(""))
	require.NoError(t, err)
	b, err := mp.Code2Session(ctx, s.LoginCode(""))
	require.NoError(t, err)
	assert.NotEqual(t, a.OpenID, b.OpenID)

	_, _, err = s.UserInfo("oNobody", wxpaytest.Profile{})
	assert.Error(t, err, "no session, no key")
}

func TestCode2SessionRateLimit(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.Now = clk.Now
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	mp := miniClient(t, s, testSecret)
	ctx := ctxT(t)
	for i := range wxpaytest.Code2SessionPerMinute {
		_, err := mp.Code2Session(ctx, s.LoginCode("oBusy"))
		require.NoError(t, err, "call %d", i)
	}
	code := s.LoginCode("oBusy")
	_, err := mp.Code2Session(ctx, code)
	requireErrcode(t, err, miniprogram.CodeRateLimited)
	clk.Add(time.Minute)
	_, err = mp.Code2Session(ctx, code)
	require.NoError(t, err, "the refused call did not use the code up")
}

func TestMiniCredentials(t *testing.T) {
	s := wxpaytest.NewServer(testConfig())
	defer s.Close()
	ctx := ctxT(t)
	wrong := "ffffffffffffffffffffffffffffffff"

	_, err := miniClient(t, s, wrong).Code2Session(ctx, s.LoginCode(""))
	requireErrcode(t, err, miniprogram.CodeInvalidSecret)
	_, err = miniClient(t, s, wrong).AccessToken(ctx)
	requireErrcode(t, err, miniprogram.CodeInvalidSecret)
	_, err = miniClient(t, s, wrong, miniprogram.WithTokenEndpoint(miniprogram.TokenClientCredential)).AccessToken(ctx)
	requireErrcode(t, err, miniprogram.CodeInvalidCredential)

	other, err := miniprogram.NewClient("wx0000000000000000", testSecret, miniprogram.WithBaseURL(s.URL))
	require.NoError(t, err)
	_, err = other.Code2Session(ctx, s.LoginCode(""))
	requireErrcode(t, err, miniprogram.CodeInvalidAppID)

	// Raw requests missing parameters.
	for q, want := range map[string]int{
		"secret=" + testSecret + "&js_code=x&grant_type=authorization_code":                        41002,
		"appid=" + testAppID + "&js_code=x&grant_type=authorization_code":                          41004,
		"appid=" + testAppID + "&secret=" + testSecret + "&grant_type=authorization_code":          41008,
		"appid=" + testAppID + "&secret=" + testSecret + "&js_code=x&grant_type=client_credential": 40002,
	} {
		resp, err := http.Get(s.URL + "/sns/jscode2session?" + q)
		require.NoError(t, err)
		var out struct{ Errcode int }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		resp.Body.Close()
		assert.Equal(t, want, out.Errcode, q)
	}

	// Without an AppSecret the login endpoints do not exist.
	cfg := testConfig()
	cfg.AppSecret = ""
	bare := wxpaytest.NewServer(cfg)
	defer bare.Close()
	resp, err := http.Get(bare.URL + "/sns/jscode2session?" + url.Values{"appid": {testAppID}}.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestPhoneNumber(t *testing.T) {
	for _, ep := range []miniprogram.TokenEndpoint{miniprogram.TokenStable, miniprogram.TokenClientCredential} {
		t.Run(string(ep), func(t *testing.T) {
			s := wxpaytest.NewServer(testConfig())
			defer s.Close()
			mp := miniClient(t, s, testSecret, miniprogram.WithTokenEndpoint(ep))
			ctx := ctxT(t)

			code := s.PhoneCode("oP", "13800138000")
			p, err := mp.GetPhoneNumber(ctx, code)
			require.NoError(t, err)
			assert.Equal(t, "13800138000", p.PhoneNumber)
			assert.Equal(t, "13800138000", p.PurePhoneNumber)
			assert.Equal(t, "86", p.CountryCode)
			assert.Equal(t, testAppID, p.Watermark.AppID)
			_, err = mp.GetPhoneNumber(ctx, code)
			requireErrcode(t, err, miniprogram.CodeInvalidCode)

			p, err = mp.GetPhoneNumber(ctx, s.PhoneCode("oP", "+1 5551234567"))
			require.NoError(t, err)
			assert.Equal(t, "1", p.CountryCode)
			assert.Equal(t, "5551234567", p.PurePhoneNumber)
		})
	}
}

func TestPhoneNumberToken(t *testing.T) {
	s := wxpaytest.NewServer(testConfig())
	defer s.Close()
	call := func(token string, body []byte) int {
		resp, err := http.Post(s.URL+"/wxa/business/getuserphonenumber?access_token="+url.QueryEscape(token), "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		var out struct{ Errcode int }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out.Errcode
	}
	code := s.PhoneCode("", "13800138000")
	body, _ := json.Marshal(map[string]string{"code": code})
	assert.Equal(t, 41001, call("", body))
	assert.Equal(t, 40001, call("forged", body))

	tok, err := miniClient(t, s, testSecret).AccessToken(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, 47001, call(tok, []byte("code="+code)))
	assert.Equal(t, 41008, call(tok, []byte(`{}`)))
	assert.Equal(t, 40029, call(tok, []byte(`{"code":"`+code+`","openid":"oOther"}`)), "the code belongs to another user")
	assert.Equal(t, 0, call(tok, body))
}

// Each /cgi-bin/token call revokes the previous token 5 minutes later;
// stable_token returns the current one until forced.
func TestTokens(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.Now = clk.Now
	s := wxpaytest.NewServer(cfg)
	defer s.Close()
	get := func() string {
		resp, err := http.Get(s.URL + "/cgi-bin/token?grant_type=client_credential&appid=" + testAppID + "&secret=" + testSecret)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		assert.Equal(t, 7200, out.ExpiresIn)
		return out.AccessToken
	}
	stable := func(force bool) string {
		b, _ := json.Marshal(map[string]any{"grant_type": "client_credential", "appid": testAppID, "secret": testSecret, "force_refresh": force})
		resp, err := http.Post(s.URL+"/cgi-bin/stable_token", "application/json", bytes.NewReader(b))
		require.NoError(t, err)
		defer resp.Body.Close()
		var out struct {
			AccessToken string `json:"access_token"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		require.NotEmpty(t, out.AccessToken)
		return out.AccessToken
	}
	phone := func(tok string) int {
		b, _ := json.Marshal(map[string]string{"code": s.PhoneCode("", "13800138000")})
		resp, err := http.Post(s.URL+"/wxa/business/getuserphonenumber?access_token="+tok, "application/json", bytes.NewReader(b))
		require.NoError(t, err)
		defer resp.Body.Close()
		var out struct{ Errcode int }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out.Errcode
	}

	t1 := get()
	t2 := get()
	assert.NotEqual(t, t1, t2)
	assert.Equal(t, 0, phone(t1), "the old token overlaps for 5 minutes")
	clk.Add(5 * time.Minute)
	assert.Equal(t, 42001, phone(t1))
	assert.Equal(t, 0, phone(t2))

	s1 := stable(false)
	assert.Equal(t, s1, stable(false))
	s2 := stable(true)
	assert.NotEqual(t, s1, s2)
	assert.Equal(t, 40001, phone(s1), "a forced refresh revokes the old stable token")
	assert.Equal(t, 0, phone(s2))
	clk.Add(wxpaytest.TokenLife)
	assert.Equal(t, 42001, phone(s2))
}

// /wxpaytest/login mints codes over HTTP, for pages and scripts.
func TestLoginEndpoint(t *testing.T) {
	s := wxpaytest.NewServer(testConfig())
	defer s.Close()
	mp := miniClient(t, s, testSecret)
	status, out := postJSON(t, s.URL+"/wxpaytest/login", map[string]string{"openid": "oGiven"})
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "oGiven", out["openid"])
	sess, err := mp.Code2Session(ctxT(t), out["code"])
	require.NoError(t, err)
	assert.Equal(t, "oGiven", sess.OpenID)

	resp, err := http.Post(s.URL+"/wxpaytest/login", "application/json", nil)
	require.NoError(t, err)
	var fresh map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&fresh))
	resp.Body.Close()
	assert.NotEmpty(t, fresh["openid"])
	assert.NotEqual(t, "oGiven", fresh["openid"])

	resp, err = http.Post(s.URL+"/wxpaytest/login", "application/json", bytes.NewReader([]byte("[")))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, err = http.Get(s.URL + "/wxpaytest/login")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// /wxpaytest/phonecode mints phone codes over HTTP that getuserphonenumber
// accepts once, and refuses what is not a phone number without minting.
func TestPhoneCodeEndpoint(t *testing.T) {
	s := wxpaytest.NewServer(testConfig())
	defer s.Close()
	mp := miniClient(t, s, testSecret)
	ctx := ctxT(t)

	status, out := postJSON(t, s.URL+"/wxpaytest/phonecode", map[string]string{"openid": "oGiven", "phone": "+1 5551234567"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.Equal(t, "oGiven", out["openid"])
	p, err := mp.GetPhoneNumber(ctx, out["code"])
	require.NoError(t, err)
	assert.Equal(t, "+1 5551234567", p.PhoneNumber)
	assert.Equal(t, "5551234567", p.PurePhoneNumber)
	assert.Equal(t, "1", p.CountryCode)
	_, err = mp.GetPhoneNumber(ctx, out["code"])
	requireErrcode(t, err, miniprogram.CodeInvalidCode)

	status, out = postJSON(t, s.URL+"/wxpaytest/phonecode", map[string]string{"phone": "13800138000"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.NotEmpty(t, out["openid"], "a new user's openid is returned")
	p, err = mp.GetPhoneNumber(ctx, out["code"])
	require.NoError(t, err)
	assert.Equal(t, "13800138000", p.PurePhoneNumber)
	assert.Equal(t, "86", p.CountryCode)

	long := make([]byte, 129)
	for i := range long {
		long[i] = 'o'
	}
	for _, tt := range []struct {
		name, method, body string
		status             int
	}{
		{"GET", http.MethodGet, "", http.StatusMethodNotAllowed},
		{"empty body", http.MethodPost, "", http.StatusBadRequest},
		{"not JSON", http.MethodPost, "[", http.StatusBadRequest},
		{"array", http.MethodPost, `["13800138000"]`, http.StatusBadRequest},
		{"phone a number", http.MethodPost, `{"phone":13800138000}`, http.StatusBadRequest},
		{"no phone", http.MethodPost, `{"openid":"oX"}`, http.StatusBadRequest},
		{"letters", http.MethodPost, `{"phone":"1380013800a"}`, http.StatusBadRequest},
		{"too short", http.MethodPost, `{"phone":"123"}`, http.StatusBadRequest},
		{"too long", http.MethodPost, `{"phone":"123456789012345678901"}`, http.StatusBadRequest},
		{"plus without space", http.MethodPost, `{"phone":"+15551234567"}`, http.StatusBadRequest},
		{"country code too long", http.MethodPost, `{"phone":"+12345 5551234"}`, http.StatusBadRequest},
		{"empty country code", http.MethodPost, `{"phone":"+ 5551234"}`, http.StatusBadRequest},
		{"openid too long", http.MethodPost, `{"openid":"` + string(long) + `","phone":"13800138000"}`, http.StatusBadRequest},
		{"body over the cap", http.MethodPost, `{"phone":"13800138000","x":"` + strings.Repeat("x", 5<<10) + `"}`, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, s.URL+"/wxpaytest/phonecode", strings.NewReader(tt.body))
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode)
			var body map[string]string
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.NotEmpty(t, body["error"])
			assert.Empty(t, body["code"])
		})
	}
}
