package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
)

// plainFields decodes an expected <root> plaintext independently of the
// tool: the library's decoder reads <xml>, so the root is renamed.
func plainFields(t *testing.T, plain string) wxpay.Params {
	t.Helper()
	s := strings.TrimSpace(plain)
	s = strings.TrimPrefix(s, "<root>")
	s = strings.TrimSuffix(s, "</root>")
	p, err := wxpay.DecodeXML([]byte("<xml>" + s + "</xml>"))
	require.NoError(t, err)
	return p
}

func TestDecryptRefundVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key, reqInfo, plain string
	}{
		{"S6", s6Key, testdata(t, "notify/s6_req_info.txt"), testdata(t, "notify/s6_plain.xml")},
		{"V5", v5Key, testdata(t, "notify/v5_req_info.txt"), testdata(t, "notify/v5_plain.xml")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := plainFields(t, tt.plain)
			env := map[string]string{EnvAPIKey: tt.key}
			for name, input := range map[string]string{
				"req_info":        tt.reqInfo,
				"req_info+LF":     tt.reqInfo + "\n",
				"whole body":      "<xml><return_code>SUCCESS</return_code><appid>wx2421b1c4370ec43b</appid><mch_id>10000100</mch_id><nonce_str>x</nonce_str><req_info><![CDATA[" + tt.reqInfo + "]]></req_info></xml>",
				"body with lines": "<xml>\n<return_code>SUCCESS</return_code>\n<req_info>" + tt.reqInfo + "</req_info>\n</xml>\n",
			} {
				code, out, errOut := run(t, env, input, "decrypt-refund", "-json")
				require.Equal(t, ExitOK, code, name+": "+out+errOut)
				var res decryptResult
				require.NoError(t, json.Unmarshal([]byte(out), &res), name)
				assert.Equal(t, map[string]string(want), res.Fields, name)
			}
			code, out, _ := run(t, env, tt.reqInfo, "decrypt-refund")
			require.Equal(t, ExitOK, code)
			assert.Contains(t, out, "out_refund_no="+want["out_refund_no"]+"\n")
			assert.Contains(t, out, "refund_status=SUCCESS\n")
		})
	}
}

func TestDecryptRefundFailures(t *testing.T) {
	t.Parallel()
	s6 := testdata(t, "notify/s6_req_info.txt")
	tests := []struct {
		name     string
		env      map[string]string
		input    string
		wantCode int
		want     string
	}{
		{"wrong key", map[string]string{EnvAPIKey: docKey}, s6, ExitFail, "cannot decrypt req_info"},
		{"truncated", map[string]string{EnvAPIKey: s6Key}, s6[:len(s6)-8], ExitFail, "cannot decrypt req_info"},
		{"line-wrapped", map[string]string{EnvAPIKey: s6Key}, s6[:64] + "\n" + s6[64:], ExitFail, "cannot decrypt req_info"},
		{"not base64", map[string]string{EnvAPIKey: s6Key}, "%%%%", ExitFail, "cannot decrypt req_info"},
		{"other merchant", map[string]string{EnvAPIKey: s6Key, EnvAppID: "wx0123456789abcdef", EnvMchID: "1900000109"},
			"<xml><return_code>SUCCESS</return_code><appid>wx2421b1c4370ec43b</appid><mch_id>10000100</mch_id><req_info>" + s6 + "</req_info></xml>", ExitFail, "not the configured merchant"},
		{"payment notification", map[string]string{EnvAPIKey: docKey}, testdata(t, "notify/s1_md5.xml"), ExitFail, "no req_info"},
		{"FAIL", map[string]string{EnvAPIKey: docKey}, "<xml><return_code>FAIL</return_code><return_msg>x</return_msg><req_info>x</req_info></xml>", ExitFail, "return_code FAIL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(t, tt.env, tt.input, "decrypt-refund")
			assert.Equal(t, tt.wantCode, code, out+errOut)
			assert.Contains(t, out, tt.want)
		})
	}
	usage := []struct {
		name  string
		env   map[string]string
		input string
		want  string
	}{
		{"no key", nil, s6, "WXPAY_API_KEY is not set"},
		{"empty input", map[string]string{EnvAPIKey: s6Key}, "  \n", "empty input"},
		{"malformed XML", map[string]string{EnvAPIKey: s6Key}, "<xml><req_info>", "not a v2 XML message"},
	}
	for _, tt := range usage {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := run(t, tt.env, tt.input, "decrypt-refund")
			assert.Equal(t, ExitUsage, code)
			assert.Contains(t, errOut, tt.want)
		})
	}
}
