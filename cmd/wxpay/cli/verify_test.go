package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/refsign"
)

// signed returns p as name=value lines with a sign computed by the
// reference signer, after sign was adjusted by mutate (if any).
func signedLines(p map[string]string, key, alg string, mutate func(sign string) string) string {
	sign := refsign.Sign(p, key, alg)
	if mutate != nil {
		sign = mutate(sign)
	}
	var b strings.Builder
	for _, k := range sortedKeys(p) {
		b.WriteString(k + "=" + p[k] + "\n")
	}
	return b.String() + "sign=" + sign + "\n"
}

func notif(kv ...string) map[string]string {
	p := map[string]string{
		"appid": docAppID, "mch_id": docMchID, "nonce_str": "ibuaiVcKdpRxkhJA",
		"return_code": "SUCCESS", "result_code": "SUCCESS", "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
		"trade_type": "JSAPI", "bank_type": "CMC", "total_fee": "100", "cash_fee": "100",
		"transaction_id": "1004400740201409030005092168", "out_trade_no": "1409811653", "time_end": "20141030133525",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(p, kv[i])
		} else {
			p[kv[i]] = kv[i+1]
		}
	}
	return p
}

func TestVerify(t *testing.T) {
	t.Parallel()
	s1MD5 := testdata(t, "notify/s1_md5.xml")
	s1HMAC := testdata(t, "notify/s1_hmac.xml")
	s2 := testdata(t, "notify/s2_hmac_sign_type.xml")
	tests := []struct {
		name      string
		env       map[string]string
		input     string
		wantCode  int
		wantCheck string
		want      []string // substrings of the text output
	}{
		{"S1 MD5", docEnv(), s1MD5, ExitOK, "", []string{"OK: the sign matches", "expected:  A00744A890852A2FA7B302F5C76762B6"}},
		{"S1 HMAC without sign_type", docEnv(EnvSignType, "HMAC-SHA256"), s1HMAC, ExitOK, "", nil},
		{"S2 HMAC with sign_type", docEnv(EnvSignType, "HMAC-SHA256"), s2, ExitOK, "", nil},
		{"S1 without merchant settings", docEnv(EnvAppID, "", EnvMchID, ""), s1MD5, ExitOK, "", nil},
		{"HMAC sign, MD5 configured", docEnv(), s1HMAC, ExitFail, checkLength, []string{
			"the sign has 64 hex digits: signed with HMAC-SHA256 while you configured MD5",
			"it verifies with HMAC-SHA256 under your key: set WXPAY_SIGN_TYPE=HMAC-SHA256"}},
		{"MD5 sign, HMAC configured", docEnv(EnvSignType, "HMAC-SHA256"), s1MD5, ExitFail, checkLength, []string{
			"the sign has 32 hex digits: signed with MD5 while you configured HMAC-SHA256"}},
		{"HMAC sign, MD5 configured, wrong key", docEnv(EnvAPIKey, otherKey), s1HMAC, ExitFail, checkLength, []string{
			"does not verify with HMAC-SHA256 under your key either"}},
		{"sign_type names the other algorithm", docEnv(), s2, ExitFail, checkSignType, []string{
			"the message says sign_type=HMAC-SHA256 while you configured MD5", "the sign does verify with HMAC-SHA256"}},
		{"sign_type not v2", docEnv(), signedLines(notif("sign_type", "RSA"), docKey, "MD5", nil), ExitFail, checkSignType, []string{"not a v2 algorithm"}},
		{"wrong key", docEnv(EnvAPIKey, otherKey), s1MD5, ExitFail, checkSignature, []string{"the sign does not match", "the key differs"}},
		{"changed field", docEnv(), strings.Replace(s1MD5, "<total_fee>100</total_fee>", "<total_fee>1</total_fee>", 1), ExitFail, checkSignature, []string{"the sign does not match"}},
		{"no sign", docEnv(), v1Lines, ExitFail, checkMissingField, []string{"the message has no sign"}},
		{"refund notification", docEnv(), "<xml><return_code>SUCCESS</return_code><req_info>abc</req_info></xml>", ExitFail, checkMissingField, []string{"decrypt-refund"}},
		{"FAIL answer", docEnv(), "<xml><return_code>FAIL</return_code><return_msg>签名错误</return_msg></xml>", ExitFail, checkMissingField, []string{"return_code FAIL are not signed"}},
		{"cut sign", docEnv(), signedLines(notif(), docKey, "MD5", func(s string) string { return s[:31] }), ExitFail, checkLength, []string{"the sign has 31 characters; MD5 signs have 32 hex digits"}},
		{"lowercase sign", docEnv(), signedLines(notif(), docKey, "MD5", strings.ToLower), ExitFail, checkSignature, []string{"lowercase"}},
		{"signer trimmed values", docEnv(), func() string {
			p := notif("attach", " gift ")
			s := refsign.Sign(notif("attach", "gift"), docKey, "MD5")
			return signedLines(p, docKey, "MD5", func(string) string { return s })
		}(), ExitFail, checkSignature, []string{"trimmed whitespace"}},
		{"signer skipped sign_type", docEnv(), func() string {
			s := refsign.Sign(notif(), docKey, "MD5")
			return signedLines(notif("sign_type", "MD5"), docKey, "MD5", func(string) string { return s })
		}(), ExitFail, checkSignature, []string{"left sign_type out"}},
		{"signer sorted ignoring case", docEnv(), func() string {
			p := map[string]string{"appId": docAppID, "nonceStr": "x", "package": "prepay_id=1", "signType": "MD5", "timeStamp": "1", "Zeta": "z"}
			return signedLines(p, docKey, "MD5", func(string) string { return refsignFold(p, docKey, "MD5") })
		}(), ExitFail, checkSignature, []string{"ignoring case"}},
		{"re-split attach", docEnv(), signedLines(notif("attach", "x&total_fee=1"), docKey, "MD5", nil), ExitFail, checkResplit, []string{`the value of attach holds "&total_fee="`}},
		{"other appid", docEnv(EnvAppID, "wx0123456789abcdef"), s1MD5, ExitFail, checkMerchant, []string{`names appid "wxd930ea5d5a258f4f", while WXPAY_APPID is "wx0123456789abcdef"`}},
		{"other mch_id", docEnv(EnvMchID, "1900000109"), s1MD5, ExitFail, checkMerchant, []string{"mch_id"}},
		{"no appid", docEnv(), signedLines(notif("appid", ""), docKey, "MD5", nil), ExitFail, checkMissingField, []string{"the message has no appid"}},
		{"notification without out_trade_no", docEnv(), signedLines(notif("out_trade_no", ""), docKey, "MD5", nil), ExitFail, checkMissingField, []string{"out_trade_no is missing"}},
		{"notification with malformed total_fee", docEnv(), signedLines(notif("total_fee", "0100"), docKey, "MD5", nil), ExitFail, checkFields, []string{"total_fee is missing or malformed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(t, tt.env, tt.input, "verify")
			require.Equal(t, tt.wantCode, code, out+errOut)
			assert.Contains(t, out, "&key=***\n")
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
			code, out, _ = run(t, tt.env, tt.input, "verify", "-json")
			require.Equal(t, tt.wantCode, code)
			var res verifyResult
			require.NoError(t, json.Unmarshal([]byte(out), &res))
			assert.Equal(t, tt.wantCheck, res.Check)
			assert.Equal(t, tt.wantCode == ExitOK, res.OK)
			assert.True(t, strings.HasSuffix(res.Canonical, "&key=***"))
		})
	}
}

// The verdict of verify must agree with the library's own verification.
func TestVerifyAgreesWithLibrary(t *testing.T) {
	t.Parallel()
	sg, err := wxpay.NewSigner(docKey, wxpay.SignMD5)
	require.NoError(t, err)
	for _, in := range []string{
		testdata(t, "notify/s1_md5.xml"),
		testdata(t, "notify/s1_hmac.xml"),
		signedLines(notif("attach", "a&b=c"), docKey, "MD5", nil),
		signedLines(notif("attach", "a&openid=c"), docKey, "MD5", nil),
	} {
		p, err := parseFields([]byte(in))
		require.NoError(t, err)
		code, _, _ := run(t, docEnv(EnvAppID, "", EnvMchID, ""), in, "verify")
		assert.Equal(t, sg.Verify(p) == nil, code == ExitOK)
	}
}

func TestVerifyInputSources(t *testing.T) {
	t.Parallel()
	s1 := testdata(t, "notify/s1_md5.xml")
	file := writeFile(t, "notify.xml", s1)
	for _, args := range [][]string{{file}, {"-"}, {"-json", file}} {
		stdin := ""
		if args[0] == "-" {
			stdin = s1
		}
		code, out, errOut := run(t, docEnv(), stdin, append([]string{"verify"}, args...)...)
		assert.Equal(t, ExitOK, code, out+errOut)
	}
	code, _, errOut := run(t, docEnv(), "", "verify", "/nonexistent/notify.xml")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "no such file")
}
