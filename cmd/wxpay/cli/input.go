package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/internal/wire"
)

// errInput is matched by every error of parseFields.
var errInput = errors.New("malformed input")

// inputError says what is wrong with the input and where, never quoting a
// value (the input may hold a key pasted by mistake).
type inputError struct {
	Line int // 1-based; 0 when the input is XML or as a whole
	Msg  string
	Err  error // the XML decoder's error, if any
}

func (e *inputError) Error() string {
	s := e.Msg
	if e.Line > 0 {
		s = fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *inputError) Is(target error) bool { return target == errInput }
func (e *inputError) Unwrap() error        { return e.Err }

// readInput reads the message named by the command's arguments: a file,
// or stdin when there is none or it is "-". At most wxpay.MaxXMLSize bytes
// are accepted.
func (c *cmdEnv) readInput(args []string) ([]byte, error) {
	var r io.Reader = c.stdin
	name := "stdin"
	switch {
	case len(args) > 1:
		return nil, errors.New("give at most one input file")
	case len(args) == 1 && args[0] != "-":
		f, err := os.Open(args[0])
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, name = f, args[0]
	}
	b, err := io.ReadAll(io.LimitReader(r, wxpay.MaxXMLSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(b) > wxpay.MaxXMLSize {
		return nil, fmt.Errorf("%s: longer than %d bytes", name, wxpay.MaxXMLSize)
	}
	return b, nil
}

// parseFields reads a v2 message as a developer has it at hand: an XML
// body (anything whose first non-space character is '<', decoded by the
// hardened wxpay.DecodeXML), or name=value lines, one field per line, split
// at the first '=' so that values may hold '='. In the line form, blank
// lines and lines starting with '#' are skipped, a final '\r' is dropped
// (files from Windows), and values are otherwise kept byte for byte,
// spaces included, since the signature covers them raw.
//
// A single line holding '&' is WeChat's string-to-sign (stringA) pasted
// whole, and is split at every '&'. A field named "key" is refused: it is
// the API key pasted along with the message, and the tool never takes a key
// from its input.
func parseFields(b []byte) (wxpay.Params, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a BOM from Windows editors
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 {
		return nil, &inputError{Msg: "empty input: give an XML body or name=value lines"}
	}
	if t[0] == '<' {
		p, err := wxpay.DecodeXML(t)
		if err != nil {
			return nil, &inputError{Msg: "not a v2 XML message", Err: err}
		}
		if _, ok := p["key"]; ok {
			return nil, &inputError{Msg: `the message has a field named "key": never put the API key in a message`}
		}
		if len(p) == 0 {
			return nil, &inputError{Msg: "the message has no fields"}
		}
		return p, nil
	}
	if !utf8.Valid(b) {
		return nil, &inputError{Msg: "not valid UTF-8"}
	}
	lines := strings.Split(string(b), "\n")
	var content []int
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		lines[i] = l
		if strings.TrimSpace(l) != "" && !strings.HasPrefix(strings.TrimSpace(l), "#") {
			content = append(content, i)
		}
	}
	type item struct {
		line int
		text string
	}
	var items []item
	if len(content) == 1 && strings.Contains(lines[content[0]], "&") {
		for _, part := range strings.Split(lines[content[0]], "&") {
			items = append(items, item{content[0] + 1, part})
		}
	} else {
		for _, i := range content {
			items = append(items, item{i + 1, lines[i]})
		}
	}
	if len(items) == 0 {
		return nil, &inputError{Msg: "no fields: give name=value lines"}
	}
	if len(items) > wxpay.MaxXMLFields {
		return nil, &inputError{Msg: fmt.Sprintf("more than %d fields", wxpay.MaxXMLFields)}
	}
	p := make(wxpay.Params, len(items))
	for _, it := range items {
		name, val, ok := strings.Cut(it.text, "=")
		name = strings.TrimSpace(name)
		switch {
		case !ok:
			return nil, &inputError{Line: it.line, Msg: "want name=value"}
		case name == "":
			return nil, &inputError{Line: it.line, Msg: "empty field name"}
		case !wire.ValidName(name):
			return nil, &inputError{Line: it.line, Msg: fmt.Sprintf("field name %q is not a v2 field name (letters, digits, _, - and ., not starting with a digit)", truncate(name, 40))}
		case name == "key":
			return nil, &inputError{Line: it.line, Msg: `a field named "key" is the API key: remove it, the tool reads the key from ` + EnvAPIKey}
		case strings.ContainsRune(val, '\r'):
			// A line's own CR is already gone (CRLF files); one left inside
			// a value cannot be told from a line end once the fields are
			// written back as lines, so the signed bytes would be unclear.
			return nil, &inputError{Line: it.line, Msg: "a value holds a carriage return: give the message as XML"}
		}
		if _, dup := p[name]; dup {
			return nil, &inputError{Line: it.line, Msg: fmt.Sprintf("field %s given twice", name)}
		}
		p[name] = val
	}
	return p, nil
}
