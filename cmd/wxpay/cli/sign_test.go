package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wxpay-go/wxpay"
)

// v1Lines are the fields of WeChat's signing example (V1/V2).
const v1Lines = "appid=wxd930ea5d5a258f4f\nmch_id=10000100\ndevice_info=1000\nbody=test\nnonce_str=ibuaiVcKdpRxkhJA\n"

const v1Canonical = "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=***"

func TestSignOfficialVectors(t *testing.T) {
	t.Parallel()
	// The transmitted XML of the signing doc, its sign dropped.
	v1XML := "<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info><body>test</body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str><sign>9A0A8659F005D6984697E2CA0A9CF3B7</sign></xml>"
	tests := []struct {
		name, signType, input, want string
	}{
		{"MD5 lines", "", v1Lines, "9A0A8659F005D6984697E2CA0A9CF3B7"},
		{"MD5 CRLF lines with comment", "MD5", "# from the doc\r\n" + strings.ReplaceAll(v1Lines, "\n", "\r\n"), "9A0A8659F005D6984697E2CA0A9CF3B7"},
		{"MD5 pasted stringA", "MD5", "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA\n", "9A0A8659F005D6984697E2CA0A9CF3B7"},
		{"MD5 XML with its sign", "MD5", v1XML, "9A0A8659F005D6984697E2CA0A9CF3B7"},
		{"HMAC-SHA256", "HMAC-SHA256", v1Lines, "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(t, docEnv(EnvSignType, tt.signType), tt.input, "sign", "-json")
			require.Equal(t, ExitOK, code, errOut)
			var res signResult
			require.NoError(t, json.Unmarshal([]byte(out), &res))
			assert.Equal(t, tt.want, res.Sign)
			assert.Equal(t, v1Canonical, res.Canonical)
		})
	}
}

func TestSignText(t *testing.T) {
	t.Parallel()
	code, out, _ := run(t, docEnv(), v1Lines, "sign")
	require.Equal(t, ExitOK, code)
	assert.Equal(t, "sign type: MD5\ncanonical: "+v1Canonical+"\nsign:      9A0A8659F005D6984697E2CA0A9CF3B7\n", out)
}

func TestSignXMLVerifiesWithLibrary(t *testing.T) {
	t.Parallel()
	in := v1Lines + "sign_type=HMAC-SHA256\nattach=a <b> & \"c\"\n"
	code, out, _ := run(t, docEnv(EnvSignType, "HMAC-SHA256"), in, "sign", "-xml")
	require.Equal(t, ExitOK, code)
	p, err := wxpay.DecodeXML([]byte(out))
	require.NoError(t, err)
	assert.Equal(t, `a <b> & "c"`, p["attach"])
	sg, err := wxpay.NewSigner(docKey, wxpay.SignHMACSHA256)
	require.NoError(t, err)
	assert.NoError(t, sg.Verify(p))
}

func TestSignFromFileAndConfig(t *testing.T) {
	t.Parallel()
	in := writeFile(t, "msg.txt", v1Lines)
	cfg := writeFile(t, "wxpay.env", "# merchant\nexport WXPAY_API_KEY=\""+docKey+"\"\nWXPAY_SIGN_TYPE=HMAC-SHA256\n")
	// The file wins over the environment.
	code, out, errOut := run(t, map[string]string{EnvAPIKey: otherKey, EnvSignType: "MD5"}, "", "sign", "-config", cfg, "-json", in)
	require.Equal(t, ExitOK, code, errOut)
	var res signResult
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6", res.Sign)
}

func TestSignBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		input   string
		args    []string
		wantErr string
	}{
		{"empty input", docEnv(), "", nil, "empty input"},
		{"blank input", docEnv(), " \n\t\n", nil, "empty input"},
		{"only comments", docEnv(), "# nothing\n", nil, "no fields"},
		{"empty XML", docEnv(), "<xml></xml>", nil, "no fields"},
		{"malformed XML", docEnv(), "<xml><appid>wx1</appid>", nil, "not a v2 XML message"},
		{"DOCTYPE", docEnv(), `<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><a>&x;</a></xml>`, nil, "not a v2 XML message"},
		{"nested XML", docEnv(), "<xml><a><b>1</b></a></xml>", nil, "not a v2 XML message"},
		{"line without =", docEnv(), "appid=wx1\nbody\n", nil, "line 2: want name=value"},
		{"empty name", docEnv(), "appid=wx1\n=x\n", nil, "line 2: empty field name"},
		{"carriage return inside a value", docEnv(), "appid=wx1\r&body=a\rb\n", nil, "line 1: a value holds a carriage return"},
		{"bad name", docEnv(), "appid=wx1\nbo dy=x\n", nil, "not a v2 field name"},
		{"duplicate", docEnv(), "appid=wx1\nappid=wx2\n", nil, "appid given twice"},
		{"pasted key", docEnv(), "appid=wx1&body=x&key=" + docKey + "\n", nil, `field named "key"`},
		{"key in XML", docEnv(), "<xml><appid>wx1</appid><key>" + docKey + "</key></xml>", nil, `field named "key"`},
		{"invalid UTF-8", docEnv(), "appid=\xff\n", nil, "UTF-8"},
		{"missing key", docEnv(EnvAPIKey, ""), v1Lines, nil, "WXPAY_API_KEY is not set"},
		{"short key", docEnv(EnvAPIKey, "abc"), v1Lines, nil, "has 3 characters"},
		{"key with newline", docEnv(EnvAPIKey, docKey+"\n"), v1Lines, nil, "whitespace"},
		{"bad sign type", docEnv(EnvSignType, "SHA1"), v1Lines, nil, "must be MD5 or HMAC-SHA256"},
		{"two files", docEnv(), "", []string{"a", "b"}, "at most one input file"},
		{"missing file", docEnv(), "", []string{"/nonexistent/msg.txt"}, "no such file"},
		{"unknown flag", docEnv(), v1Lines, []string{"-key", docKey}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(t, tt.env, tt.input, append([]string{"sign"}, tt.args...)...)
			assert.Equal(t, ExitUsage, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tt.wantErr)
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, content, want string }{
		{"unknown name", "WXPAY_APIKEY=" + docKey + "\n", "line 1: unknown setting name; did you mean WXPAY_API_KEY?"},
		{"no =", "WXPAY_API_KEY\n", "line 1: want NAME=VALUE"},
		{"twice", "WXPAY_API_KEY=" + docKey + "\nWXPAY_API_KEY=" + docKey + "\n", "line 2: WXPAY_API_KEY set twice"},
		// The secret is on the wrong side of "=": only the line number and
		// the setting name are printed (run fails the test on any secret).
		{"swapped key line", "# merchant\n" + docKey + "=WXPAY_API_KEY\n", "line 2: the value is the setting name WXPAY_API_KEY: the line looks swapped"},
		{"swapped secret line", testAppSecret + "=WX_APP_SECRET\n", "line 1: the value is the setting name WX_APP_SECRET"},
		{"key as a name", docKey + "=1\n", "line 1: the name before \"=\" is not a setting name (not shown"},
		{"key alone", v5Key + "\n", "line 1: want NAME=VALUE"},
		{"quoted key as a name", `"` + s6Key + `"=WXPAY_API_KEY` + "\n", "line 1: the value is the setting name WXPAY_API_KEY"},
		{"lowercase name", "wxpay_api_key=" + docKey + "\n", "line 1: unknown setting name; did you mean WXPAY_API_KEY?"},
		{"typo of a name", "WXPAY_MCH_NO=1\n", "line 1: unknown setting WXPAY_MCH_NO"},
		{"key in the sign type", "WXPAY_SIGN_TYPE=" + docKey + "\n" + "WXPAY_API_KEY=" + v5Key + "\n", "WXPAY_SIGN_TYPE must be MD5 or HMAC-SHA256 (its value, 32 characters, is not shown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := writeFile(t, "cfg", tt.content)
			code, _, errOut := run(t, nil, v1Lines, "sign", "-config", cfg)
			assert.Equal(t, ExitUsage, code)
			assert.Contains(t, errOut, tt.want)
		})
	}
}

func TestParseFieldsErrors(t *testing.T) {
	t.Parallel()
	_, err := parseFields([]byte("<xml><a>1</a>"))
	assert.ErrorIs(t, err, errInput)
	assert.ErrorIs(t, err, wxpay.ErrXML, "the decoder's error is kept")
	_, err = parseFields([]byte("a=1\nb\n"))
	var ie *inputError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, 2, ie.Line)
	// A value keeps its spaces and any '='; names are trimmed.
	p, err := parseFields([]byte(" attach = a=b \nbody=x\r\n"))
	require.NoError(t, err)
	assert.Equal(t, wxpay.Params{"attach": " a=b ", "body": "x"}, p)
}
