package cli

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/wire"
)

// FuzzParseFields holds the input parser of sign and verify to its rules:
// it never panics; on success every name is a v2 name other than "key";
// XML input reads exactly as wxpay.DecodeXML reads it; and a result
// written back as name=value lines parses to the same fields. Failures
// are always an *inputError.
func FuzzParseFields(f *testing.F) {
	f.Add([]byte(v1Lines))
	f.Add([]byte("appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA"))
	f.Add([]byte("# c\r\nattach=a=b \r\n\r\nsign=X\n"))
	f.Add([]byte("<xml><appid><![CDATA[wx1]]></appid><total_fee>1</total_fee></xml>"))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY e "y">]><xml><a>&e;</a></xml>`))
	f.Add([]byte("\xef\xbb\xbf  <xml><key>k</key></xml>"))
	f.Add([]byte("a=1\na=2\n"))
	f.Add([]byte("=\n&\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseFields(b)
		if err != nil {
			if !errors.Is(err, errInput) || p != nil {
				t.Fatalf("error %v (%T) with fields %v", err, err, p)
			}
			return
		}
		if len(p) == 0 {
			t.Fatal("success with no fields")
		}
		if _, ok := p["key"]; ok {
			t.Fatal("a field named key was accepted")
		}
		trimmed := strings.TrimLeft(strings.TrimPrefix(string(b), "\xef\xbb\xbf"), " \t\r\n")
		if strings.HasPrefix(trimmed, "<") {
			q, err := wxpay.DecodeXML([]byte(trimmed))
			if err != nil || len(q) != len(p) {
				t.Fatalf("XML read differently from DecodeXML: %v", err)
			}
			for k, v := range q {
				if p[k] != v {
					t.Fatalf("field %s differs from DecodeXML", k)
				}
			}
			return
		}
		var lines strings.Builder
		for _, k := range sortedKeys(p) {
			if !wire.ValidName(k) {
				t.Fatalf("invalid name %q accepted", k)
			}
			lines.WriteString(k + "=" + p[k] + "\n")
		}
		q, err := parseFields([]byte(lines.String()))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", lines.String(), err)
		}
		if len(q) != len(p) {
			t.Fatalf("re-parse has %d fields, want %d", len(q), len(p))
		}
		for k, v := range p {
			if q[k] != v {
				t.Fatalf("field %s: re-parse %q, want %q", k, q[k], v)
			}
		}
	})
}

// FuzzParseConfig: the -config parser never panics, accepts only known
// names, reads its own output back (every value written in double
// quotes) to the same settings, and every error it returns matches
// configErrRE, so no value, and no name that could be one, is quoted.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("# merchant\nexport WXPAY_API_KEY=\"" + docKey + "\"\nWXPAY_SIGN_TYPE=HMAC-SHA256\r\n"))
	f.Add([]byte("WXPAY_APPID='wx1'\n\nWXPAY_MCHID = 10000100 \n"))
	f.Add([]byte("WXPAY_APPID=\"\"x\"\nWXPAY_MCHID=\n"))
	f.Add([]byte("WXPAY_APIKEY=1\n"))
	f.Add([]byte(docKey + "=WXPAY_API_KEY\n"))
	f.Add([]byte("wxpay_api_key=1\nWXPAY_FOO=1\n"))
	f.Add([]byte(docKey + "\n"))
	f.Add([]byte("WXPAY_MCHID=1\nWXPAY_MCHID=2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseConfig(b)
		if err != nil {
			if m != nil || !configErrRE.MatchString(err.Error()) {
				t.Fatalf("error %q quotes more than a line number and a setting name", err)
			}
			return
		}
		known := map[string]bool{}
		for _, s := range settingNames {
			known[s.name] = true
		}
		var out strings.Builder
		for _, k := range sortedKeys(m) {
			if !known[k] {
				t.Fatalf("unknown name %q accepted", k)
			}
			if strings.ContainsAny(m[k], "\n") {
				t.Fatalf("value of %s holds a newline", k)
			}
			out.WriteString(k + "=\"" + m[k] + "\"\n")
		}
		m2, err := parseConfig([]byte(out.String()))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if len(m2) != len(m) {
			t.Fatalf("re-parse has %d settings, want %d", len(m2), len(m))
		}
		for k, v := range m {
			if m2[k] != v {
				t.Fatalf("%s: re-parse %q, want %q", k, m2[k], v)
			}
		}
	})
}

// configErrRE is every error parseConfig may return: fixed text around a
// line number and at most a setting-shaped name. Nothing else of the file
// (which holds the API key) can appear in it.
var configErrRE = regexp.MustCompile(`^(a line is too long|cannot read the file|line [0-9]+: (` +
	`want NAME=VALUE \(the line is not shown: it may hold a secret\)` +
	`|(WXPAY|WX)_[A-Z0-9_]+ set twice` +
	`|the value is the setting name (WXPAY|WX)_[A-Z0-9_]+: the line looks swapped; write (WXPAY|WX)_[A-Z0-9_]+=VALUE \(the rest of the line is not shown: it may hold a secret\)` +
	`|unknown setting name; did you mean (WXPAY|WX)_[A-Z0-9_]+\? \(names are exact, in capitals\)` +
	`|the name before "=" is not a setting name \(not shown: it may hold a secret\); the names are [A-Z0-9_, ]+` +
	`|unknown setting WX(PAY)?_[A-Z0-9_]{1,40}))$`)
