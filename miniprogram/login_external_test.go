package miniprogram_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay/miniprogram"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// The mini-program of the external tests; the merchant fields are what
// wxpaytest needs besides.
const (
	xAppID  = "wx4f4bc4dec97d474b"
	xSecret = "0123456789abcdef0123456789abcdef"
)

// xFake starts a fake WeChat (wxpaytest) for the test mini-program and a
// client pointed at it; both end with the test.
func xFake(t *testing.T) (*wxpaytest.Server, *miniprogram.Client) {
	t.Helper()
	wx := wxpaytest.NewServer(wxpaytest.Config{AppID: xAppID, AppSecret: xSecret,
		MchID: "10000100", APIKey: "192006250b4c09247ec02edce69f6a2d"})
	t.Cleanup(wx.Close)
	c, err := miniprogram.NewClient(xAppID, xSecret, miniprogram.WithBaseURL(wx.URL))
	require.NoError(t, err)
	return wx, c
}

// TestFakeCode2SessionErrcodes: every documented errcode of
// code2session, with WeChat's errmsg, arrives as an *Error carrying both,
// retryable exactly for the transient ones.
func TestFakeCode2SessionErrcodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code      int
		msg       string
		retryable bool
	}{
		{miniprogram.CodeSystemBusy, "system error", true},
		{miniprogram.CodeInvalidCode, "invalid code, rid: 6650f0a5-1a2b3c4d", false},
		{miniprogram.CodeCodeUsed, "code been used, rid: 6650f0a5-1a2b3c4d", false},
		{miniprogram.CodeRateLimited, "api minute-quota reach limit  mustslower  retry next minute", true},
		{miniprogram.CodeHighRisk, "high risk user", false},
		{miniprogram.CodeInvalidAppID, "invalid appid", false},
		{miniprogram.CodeInvalidSecret, "invalid appsecret", false},
		{miniprogram.CodeMissingAppID, "appid missing", false},
		{miniprogram.CodeMissingSecret, "appsecret missing", false},
		{miniprogram.CodeMissingCode, "missing code", false},
		{miniprogram.CodeIPNotAllowed, "invalid ip 1.2.3.4, not in whitelist", false},
	}
	wx, c := xFake(t)
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			// One server: each case's fault is the next call's, so the
			// cases run one after another.
			wx.Inject(wxpaytest.EndpointCode2Session, 1, wxpaytest.Fault{MiniErrCode: tt.code, MiniErrMsg: tt.msg})
			s, err := c.Code2Session(context.Background(), wx.LoginCode(""))
			require.Error(t, err)
			assert.Nil(t, s)
			var e *miniprogram.Error
			require.ErrorAs(t, err, &e)
			want := &miniprogram.Error{Op: "code2session", StatusCode: 200, Code: tt.code, Message: tt.msg}
			if diff := cmp.Diff(want, e); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			assert.Equal(t, tt.retryable, e.Retryable())
			assert.NotErrorIs(t, err, miniprogram.ErrInvalidResponse)
			assert.Equal(t, fmt.Sprintf("miniprogram: code2session: errcode %d: %s", tt.code, tt.msg), err.Error())
		})
	}
}

// TestFakeCode2SessionHTMLPages: a gateway's HTML page, with an error
// status or 200, is an *Error naming the status, and its text is never
// copied into the error.
func TestFakeCode2SessionHTMLPages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status      int
		wantInvalid bool // errors.Is(err, ErrInvalidResponse)
	}{
		{200, true},
		{502, false},
	}
	wx, c := xFake(t)
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			wx.Inject(wxpaytest.EndpointCode2Session, 1, wxpaytest.Fault{HTML: true, HTTPStatus: tt.status})
			s, err := c.Code2Session(context.Background(), wx.LoginCode(""))
			require.Error(t, err)
			assert.Nil(t, s)
			var e *miniprogram.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "code2session", e.Op)
			assert.Equal(t, tt.status, e.StatusCode)
			assert.Zero(t, e.Code)
			assert.Equal(t, tt.wantInvalid, errors.Is(err, miniprogram.ErrInvalidResponse), "ErrInvalidResponse: %v", err)
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, "miniprogram: code2session: "), msg)
			assert.NotContains(t, msg, xSecret)
			assert.NotContains(t, msg, "nginx", "response bodies must not be copied into errors")
			if tt.status != 200 {
				assert.Contains(t, msg, fmt.Sprintf("http status %d", tt.status))
			}
		})
	}
}

// TestFakeLoginFlow runs what a mini-program's server does: exchange a
// login code once, decrypt wx.getUserInfo's data with the session, and
// resolve a phone-number code once.
func TestFakeLoginFlow(t *testing.T) {
	t.Parallel()
	wx, c := xFake(t)
	ctx := context.Background()
	const openID = "oGZUI0egBJY1zhBYw2KhdUfwVJJE"

	code := wx.LoginCode(openID)
	sess, err := c.Code2Session(ctx, code)
	require.NoError(t, err)
	assert.Equal(t, openID, sess.OpenID)
	assert.NotContains(t, fmt.Sprintf("%+v", sess), sess.SessionKey.Reveal(), "session key printed")

	// A code is good once, and an unknown one never.
	for want, c2 := range map[int]string{miniprogram.CodeCodeUsed: code, miniprogram.CodeInvalidCode: "081Kq4Ga1DqPTF0OmUIa1s7Ytn0Kq4GN"} {
		_, err := c.Code2Session(ctx, c2)
		var e *miniprogram.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, want, e.Code)
		assert.False(t, e.Retryable())
	}

	enc, iv, err := wx.UserInfo(openID, wxpaytest.Profile{NickName: "Band", City: "Guangzhou", Gender: 1})
	require.NoError(t, err)
	u, err := c.DecryptUserInfo(sess, enc, iv)
	require.NoError(t, err)
	assert.Equal(t, openID, u.OpenID)
	assert.Equal(t, "Band", u.NickName)
	assert.Equal(t, "Guangzhou", u.City)
	assert.Equal(t, xAppID, u.Watermark.AppID)
	// The same data presented with another user's session is refused.
	_, err = c.DecryptUserInfo(&miniprogram.Session{OpenID: "oSomeoneElse", SessionKey: sess.SessionKey}, enc, iv)
	assert.ErrorIs(t, err, miniprogram.ErrIdentity)

	for _, tt := range []struct{ phone, pure, country string }{
		{"13800138000", "13800138000", "86"},
		{"+1 5551234567", "5551234567", "1"},
	} {
		pc := wx.PhoneCode(openID, tt.phone)
		p, err := c.GetPhoneNumber(ctx, pc)
		require.NoError(t, err, tt.phone)
		assert.Equal(t, tt.pure, p.PurePhoneNumber)
		assert.Equal(t, tt.country, p.CountryCode)
		assert.Equal(t, xAppID, p.Watermark.AppID)
		_, err = c.GetPhoneNumber(ctx, pc)
		var e *miniprogram.Error
		require.ErrorAs(t, err, &e, "a phone code is good once")
		assert.Equal(t, "getuserphonenumber", e.Op)
		assert.Equal(t, miniprogram.CodeInvalidCode, e.Code)
	}
}
