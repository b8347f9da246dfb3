package cli

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
)

// maxHeaderFile bounds a header file; WeChat's answers carry a dozen
// short headers.
const maxHeaderFile = 64 << 10

// maxHeaders bounds the number of header lines.
const maxHeaders = 200

// errHeaders is matched by every error of parseHeaderLines.
var errHeaders = errors.New("malformed headers")

// headerError says which line of a header file is wrong and why, never
// quoting it: a header file may hold an Authorization header or a value
// pasted by mistake.
type headerError struct {
	Line int // 1-based; 0 for the input as a whole
	Msg  string
}

func (e *headerError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("headers line %d: %s", e.Line, e.Msg)
	}
	return "headers: " + e.Msg
}

func (e *headerError) Is(target error) bool { return target == errHeaders }

// parseHeaderLines reads HTTP headers as a developer has them at hand:
// "Name: value" lines, as curl -D writes them or as copied from a log.
// Lines end in "\n" or "\r\n"; blank lines and lines starting with '#'
// are skipped; a status line ("HTTP/1.1 200 OK") starts a new header
// block, so that of curl -D's several blocks (a 100 Continue, a redirect)
// the last one counts. The name must be an HTTP token; the value is kept
// as is between the optional whitespace around it (which HTTP does not
// count as part of it) and may not hold control characters. A repeated
// name keeps every value, in order: the verifier refuses a repeated
// Wechatpay-* header rather than pick one.
func parseHeaderLines(b []byte) (http.Header, error) {
	if len(b) > maxHeaderFile {
		return nil, &headerError{Msg: fmt.Sprintf("longer than %d bytes", maxHeaderFile)}
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	h := http.Header{}
	n := 0
	for i, line := range strings.Split(string(b), "\n") {
		no := i + 1
		line = strings.TrimSuffix(line, "\r")
		t := strings.TrimSpace(line)
		switch {
		case t == "" || t[0] == '#':
			continue
		case strings.HasPrefix(line, "HTTP/"):
			h, n = http.Header{}, 0
			continue
		case line[0] == ' ' || line[0] == '\t':
			return nil, &headerError{no, "starts with whitespace: a folded header line, which HTTP no longer allows; join it to the line above"}
		}
		name, val, ok := strings.Cut(line, ":")
		switch {
		case !ok:
			return nil, &headerError{no, "want Name: value (the line is not shown: it may hold a secret)"}
		case name == "":
			return nil, &headerError{no, "empty header name"}
		case !isToken(name):
			return nil, &headerError{no, "the header name is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~, no spaces)"}
		}
		val = strings.Trim(val, " \t")
		for j := 0; j < len(val); j++ {
			if c := val[j]; c < 0x20 && c != '\t' || c == 0x7f {
				return nil, &headerError{no, "the value holds a control character"}
			}
		}
		if n++; n > maxHeaders {
			return nil, &headerError{no, fmt.Sprintf("more than %d headers", maxHeaders)}
		}
		k := textproto.CanonicalMIMEHeaderKey(name)
		h[k] = append(h[k], val)
	}
	return h, nil
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2) of at most
// 128 bytes.
func isToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// headerFlags collects repeated -H flags.
type headerFlags []string

func (f *headerFlags) String() string     { return fmt.Sprintf("%d headers", len(*f)) }
func (f *headerFlags) Set(v string) error { *f = append(*f, v); return nil }
