package cli

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// maxMessageBlocks bounds the header blocks of one HTTP message file
// (curl -i writes one per 100 Continue or redirect).
const maxMessageBlocks = 8

// requestLineRE is the first line of a captured request: a notification
// as a server log or httputil.DumpRequest writes it.
var requestLineRE = regexp.MustCompile(`^[A-Z]{3,7} /[!-~]* HTTP/[0-9](\.[0-9])?$`)

// parseHTTPMessage splits an HTTP message as a developer has it at hand
// into its headers and its body: a response as curl -i writes it ("HTTP/1.1
// 200 OK", headers, a blank line, the body; of several blocks, a 100
// Continue or a redirect before the answer, the last one counts), a
// request as a log or httputil.DumpRequest writes it ("POST /notify
// HTTP/1.1", headers, a blank line, the body), or bare "Name: value"
// lines, a blank line and the body. Header lines follow parseHeaderLines'
// rules and end in "\n" or "\r\n".
//
// The body is every byte after the blank line, as the signature covers
// it, except that when Content-Length is given and the bytes beyond it
// are only line ends (an editor's final newline) they are dropped; a body
// shorter than Content-Length, or a chunked one, is refused, since its
// exact bytes are not in the file. Errors never quote the input.
func parseHTTPMessage(b []byte) (http.Header, []byte, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	for block := 1; ; block++ {
		if block > maxMessageBlocks {
			return nil, nil, &headerError{Msg: fmt.Sprintf("more than %d header blocks", maxMessageBlocks)}
		}
		head, body, ok := cutHeaderBlock(b)
		if !ok {
			return nil, nil, &headerError{Msg: "no blank line after the headers: an HTTP message is headers, a blank line, then the body"}
		}
		first, _, _ := strings.Cut(string(head), "\n")
		first = strings.TrimSuffix(first, "\r")
		switch {
		case strings.HasPrefix(first, "HTTP/"):
			if !statusLine(first) {
				return nil, nil, &headerError{Line: 1, Msg: "not a status line (HTTP/1.1 200 OK)"}
			}
			if code, _ := strconv.Atoi(first[strings.IndexByte(first, ' ')+1:][:3]); code/100 == 1 || code/100 == 3 {
				if !bytes.HasPrefix(body, []byte("HTTP/")) {
					if code/100 == 1 {
						return nil, nil, &headerError{Msg: "a 1xx block is not followed by the final answer"}
					}
				} else {
					b = body // an interim or redirect block: the next one counts
					continue
				}
			}
			head = head[len(first):]
		case requestLineRE.MatchString(first):
			head = head[len(first):]
		}
		h, err := parseHeaderLines(head)
		if err != nil {
			return nil, nil, err
		}
		if te := h.Values("Transfer-Encoding"); len(te) > 0 && !strings.EqualFold(strings.Join(te, ","), "identity") {
			return nil, nil, &headerError{Msg: "the body is sent with Transfer-Encoding, so the file does not hold its bytes as signed: save the headers and the decoded body apart (curl -D headers.txt -o body.json) and give -headers"}
		}
		if cls := h.Values("Content-Length"); len(cls) > 0 {
			n, err := strconv.Atoi(cls[0])
			switch {
			case len(cls) > 1 || err != nil || n < 0 || len(cls[0]) > 8:
				return nil, nil, &headerError{Msg: "Content-Length is malformed or repeated"}
			case n > len(body):
				return nil, nil, &headerError{Msg: fmt.Sprintf("the body has %d bytes but Content-Length says %d: the file was cut", len(body), n)}
			case n < len(body) && strings.Trim(string(body[n:]), "\r\n") == "":
				body = body[:n]
			case n < len(body):
				return nil, nil, &headerError{Msg: fmt.Sprintf("the body has %d bytes but Content-Length says %d: more than a final newline follows it", len(body), n)}
			}
		}
		return h, body, nil
	}
}

// cutHeaderBlock splits b at its first empty line ("\n\n", "\r\n\r\n" or
// a mix), skipping empty lines before the first header.
func cutHeaderBlock(b []byte) (head, body []byte, ok bool) {
	start := 0
	for start < len(b) && (b[start] == '\n' || b[start] == '\r' && start+1 < len(b) && b[start+1] == '\n') {
		if b[start] == '\r' {
			start++
		}
		start++
	}
	for i := start; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return nil, nil, false
		}
		line := b[i : i+j]
		if len(line) == 0 || len(line) == 1 && line[0] == '\r' {
			return b[start:i], b[i+j+1:], true
		}
		i += j + 1
	}
	return nil, nil, false
}

// statusLine reports whether s is "HTTP/x[.y] NNN[ reason]".
func statusLine(s string) bool {
	proto, rest, ok := strings.Cut(s, " ")
	if !ok || len(proto) < 6 || len(rest) < 3 {
		return false
	}
	for _, c := range []byte(rest[:3]) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return rest[0] >= '1' && rest[0] <= '5' && (len(rest) == 3 || rest[3] == ' ')
}

// looksLikeHTTPMessage reports whether a verify input is an HTTP message
// with WeChat's signature headers, to be verified as v3 without -v3: its
// first line is a status line or a request line, or a header line, with a
// Wechatpay-* header among the lines before the first blank one. Whether
// it is well-formed is parseHTTPMessage's to say, with its reason.
func looksLikeHTTPMessage(b []byte) bool {
	t := bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), "\r\n")
	head, _, _ := cutHeaderBlock(t)
	if head == nil {
		head = t
	}
	first, _, _ := strings.Cut(string(head), "\n")
	first = strings.TrimSuffix(first, "\r")
	if strings.HasPrefix(first, "HTTP/") || requestLineRE.MatchString(first) {
		return true
	}
	if name, _, ok := strings.Cut(first, ":"); !ok || !isToken(name) {
		return false
	}
	for _, line := range strings.Split(string(head), "\n") {
		if len(line) > 10 && strings.EqualFold(line[:10], "wechatpay-") {
			return true
		}
	}
	return false
}
