package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// v5Message writes the V5 notification as an HTTP message: first is the
// first line (a request or status line, or "" for none), nl the line end.
func v5Message(t *testing.T, first, nl string, extra ...string) string {
	t.Helper()
	v := loadNotify(t, "notify-v5.json")
	var b strings.Builder
	if first != "" {
		b.WriteString(first + nl)
	}
	b.WriteString("Content-Type: application/json" + nl)
	for _, k := range sortedKeys(v.Headers) {
		b.WriteString(k + ": " + v.Headers[k] + nl)
	}
	for _, e := range extra {
		b.WriteString(e + nl)
	}
	b.WriteString(nl + v.Body)
	return b.String()
}

// verify reads a whole HTTP message by itself, without -v3, from a file
// or stdin, in the shapes developers have: a request as a server log
// writes it, a response as curl -i writes it (with a 100 Continue block
// first), bare headers; LF or CRLF; an editor's final newline cut by
// Content-Length.
func TestVerifyHTTPMessage(t *testing.T) {
	t.Parallel()
	v := loadNotify(t, "notify-v5.json")
	cl := "Content-Length: " + strconv.Itoa(len(v.Body))
	for name, msg := range map[string]string{
		"request":              v5Message(t, "POST /notify HTTP/1.1", "\r\n", "Host: merchant.example.com"),
		"response":             v5Message(t, "HTTP/1.1 200 OK", "\r\n"),
		"curl -i with 100":     "HTTP/1.1 100 Continue\r\n\r\n" + v5Message(t, "HTTP/1.1 200 OK", "\r\n"),
		"bare headers, LF":     v5Message(t, "", "\n"),
		"final newline cut":    v5Message(t, "HTTP/2 200", "\n", cl) + "\n",
		"leading blank lines":  "\n\r\n" + v5Message(t, "", "\n"),
		"byte order mark, LF":  "\xef\xbb\xbf" + v5Message(t, "POST /notify HTTP/1.1", "\n"),
		"exact Content-Length": v5Message(t, "", "\r\n", cl),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := writeFile(t, "message.http", msg)
			code, out, errOut := run(t, v5Env(), "", "verify", "-json", "-at", strconv.FormatInt(v.Now, 10), "-decrypt", f)
			require.Equal(t, ExitOK, code, out+errOut)
			var res verifyV3Result
			require.NoError(t, json.Unmarshal([]byte(out), &res))
			assert.Equal(t, "notification", res.Kind)
			assert.Contains(t, res.Plaintext, `"out_trade_no":"1217752501201407033233368018"`)

			// Without any v3 flag, from stdin: taken as v3 all the same;
			// it is old, so the timestamp check is the one that fails,
			// and is named.
			code, out, _ = run(t, v5Env(), msg, "verify")
			assert.Equal(t, ExitFail, code)
			assert.Contains(t, out, "FAILED (timestamp)")
			code, out, _ = run(t, v5Env(), "", "verify", "-json", f)
			assert.Equal(t, ExitFail, code)
			require.NoError(t, json.Unmarshal([]byte(out), &res))
			assert.Equal(t, checkV3Timestamp, res.Check)
		})
	}
	// A changed body is named as a signature failure.
	msg := strings.Replace(v5Message(t, "HTTP/1.1 200 OK", "\n"), `"TRANSACTION.SUCCESS"`, `"TRANSACTION.SUCCESs"`, 1)
	code, out, _ := run(t, v5Env(), msg, "verify", "-at", strconv.FormatInt(v.Now, 10))
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, out, "FAILED (signature)")
	// The v2 key is not needed for a v3 message.
	code, _, errOut := run(t, v5Env(), msg, "verify")
	assert.Equal(t, ExitFail, code, errOut)
}

// Malformed messages are refused with a reason, never quoted.
func TestVerifyHTTPMessageBad(t *testing.T) {
	t.Parallel()
	v := loadNotify(t, "notify-v5.json")
	tests := []struct{ name, msg, want string }{
		{"no blank line", strings.TrimSuffix(v5Message(t, "HTTP/1.1 200 OK", "\n"), "\n"+v.Body), "no blank line after the headers"},
		{"chunked", v5Message(t, "HTTP/1.1 200 OK", "\r\n", "Transfer-Encoding: chunked"), "Transfer-Encoding"},
		{"cut body", v5Message(t, "", "\n", "Content-Length: 99999"), "the file was cut"},
		{"more than a newline", v5Message(t, "", "\n", "Content-Length: 10"), "more than a final newline"},
		{"bad Content-Length", v5Message(t, "", "\n", "Content-Length: -1"), "Content-Length is malformed"},
		{"two Content-Lengths", v5Message(t, "", "\n", "Content-Length: 1", "Content-Length: 1"), "Content-Length is malformed or repeated"},
		{"bad status line", v5Message(t, "HTTP/1.1 OK", "\n"), "not a status line"},
		{"bad header line", v5Message(t, "HTTP/1.1 200 OK", "\n", "not a header"), "want Name: value"},
		{"lone 100", "HTTP/1.1 100 Continue\n\nWechatpay-Serial: x\n\n{}", "a 1xx block is not followed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(t, v5Env(), tt.msg, "verify")
			assert.Equal(t, ExitUsage, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tt.want)
			assert.NotContains(t, errOut, v.Headers["Wechatpay-Signature"][:40], "the error quotes the input")
		})
	}
	// Input that is not an HTTP message stays v2's: XML, name=value lines,
	// a JSON body alone, headers without a Wechatpay-* one.
	for _, in := range []string{"<xml><a>1</a></xml>", "appid=wx1\nsign=x\n", `{"a":1}`, "X-A: 1\n\n{}"} {
		assert.False(t, looksLikeHTTPMessage([]byte(in)), in)
	}
	code, _, errOut := run(t, docEnv(), `{"a":1}`, "verify")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "or the whole HTTP message")
}

func TestParseHTTPMessage(t *testing.T) {
	t.Parallel()
	h, body, err := parseHTTPMessage([]byte("HTTP/1.1 301 Moved\nLocation: /x\n\nHTTP/1.1 200 OK\r\nWechatpay-Nonce: n\r\n\r\n{\"a\":1}\n"))
	require.NoError(t, err)
	assert.Equal(t, http.Header{"Wechatpay-Nonce": {"n"}}, h)
	assert.Equal(t, "{\"a\":1}\n", string(body), "no Content-Length: every byte after the blank line")
	// A redirect alone is the message.
	h, body, err = parseHTTPMessage([]byte("HTTP/1.1 302 Found\nLocation: /x\n\n"))
	require.NoError(t, err)
	assert.Equal(t, "/x", h.Get("Location"))
	assert.Empty(t, body)
	_, _, err = parseHTTPMessage([]byte(strings.Repeat("HTTP/1.1 100 Continue\n\n", maxMessageBlocks+1)))
	assert.ErrorIs(t, err, errHeaders)
	assert.Contains(t, err.Error(), "header blocks")
	for _, bad := range []string{"", "\n", "A: 1", "HTTP/1.1 200 OK\n", "HTTP/1.1 999 X\n\n", "HTTP/1.1 2000\n\n", "POST /a HTTP/1.1\nbad\n\n"} {
		_, _, err := parseHTTPMessage([]byte(bad))
		assert.ErrorIs(t, err, errHeaders, "%q", bad)
	}
}

// FuzzParseHTTPMessage holds the HTTP-message reader to its rules: no
// panic; errors are *headerError and quote nothing of the input; on
// success the headers are canonical tokens and the body is the input's
// bytes after the headers (a suffix of the input, or one cut by
// Content-Length before nothing but line ends).
func FuzzParseHTTPMessage(f *testing.F) {
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nWechatpay-Serial: PUB_KEY_ID_1\r\nContent-Length: 2\r\n\r\n{}\n"))
	f.Add([]byte("POST /notify HTTP/1.1\nWechatpay-Nonce: n\n\n{\"id\":1}"))
	f.Add([]byte("\n\nA: 1\n\nbody"))
	f.Add([]byte("HTTP/1.1 302 Found\nLocation: x\n\nHTTP/1.1 200\nTransfer-Encoding: chunked\n\n0\r\n\r\n"))
	f.Add([]byte("\xef\xbb\xbfA: 1\r\n\r\n"))
	// Seeds of the review: a 3xx whose body is not another block, a 1xx
	// at the end, Content-Length signed or padded, a header folded onto
	// the next line, a request line in absolute form, blocks past the
	// bound, and a NUL in a header.
	f.Add([]byte("HTTP/1.1 301 Moved\nLocation: /x\n\n<html>moved</html>"))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\nContent-Length: +2\n\n{}"))
	f.Add([]byte("HTTP/1.1 200 OK\nContent-Length: 00000002\n\n{}\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\nWechatpay-Nonce: a\n b\n\n{}"))
	f.Add([]byte("POST http://127.0.0.1/notify HTTP/1.1\nWechatpay-Serial: s\n\n{}"))
	f.Add([]byte(strings.Repeat("HTTP/1.1 100 Continue\n\n", 9) + "HTTP/1.1 200 OK\n\n{}"))
	f.Add([]byte("Wechatpay-Serial: a\x00b\n\n{}"))
	f.Add([]byte("HTTP/1.1 200 OK\nTransfer-Encoding: identity\nContent-Length: 1\n\n{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		looksLikeHTTPMessage(b) // must not panic either
		h, body, err := parseHTTPMessage(b)
		if err != nil {
			he, ok := err.(*headerError)
			if !ok || h != nil || body != nil {
				t.Fatalf("error %v (%T)", err, err)
			}
			if len(b) >= 24 && strings.Contains(he.Error(), string(b)) {
				t.Fatal("the error quotes the input")
			}
			return
		}
		for k := range h {
			if !isToken(k) || http.CanonicalHeaderKey(k) != k {
				t.Fatalf("bad name %q", k)
			}
		}
		i := bytes.LastIndex(b, body)
		if i < 0 || len(body) > len(b) {
			t.Fatal("the body is not bytes of the input")
		}
		if rest := b[i+len(body):]; strings.Trim(string(rest), "\r\n") != "" {
			t.Fatalf("bytes other than line ends after the body: %q", rest)
		}
	})
}

// -header is -H as curl spells it, and implies v3 as -H does.
func TestVerifyHeaderFlag(t *testing.T) {
	t.Parallel()
	v := loadNotify(t, "notify-v5.json")
	args := []string{"verify", "-at", strconv.FormatInt(v.Now, 10)}
	for _, k := range sortedKeys(v.Headers) {
		args = append(args, "-header", k+": "+v.Headers[k])
	}
	code, out, errOut := run(t, v5Env(), v.Body, args...)
	require.Equal(t, ExitOK, code, out+errOut)
	assert.Contains(t, out, "OK: the signature matches")
	code, _, errOut = run(t, v5Env(), v.Body, "verify", "-header", "no colon")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "want 'Name: value'")
}
