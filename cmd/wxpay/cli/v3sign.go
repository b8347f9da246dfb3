package cli

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wxpay-go/wxpay/apiv3"
)

// wantsV3 reports whether a command line asks for the API v3 form of a
// subcommand: it holds -v3 (or one of the flags only the v3 form has)
// before any "--".
func wantsV3(args []string, v3Only ...string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "v3" && !strings.HasSuffix(a, "=false") {
			return true
		}
		for _, f := range v3Only {
			if name == f {
				return true
			}
		}
	}
	return false
}

// maxSignBody bounds the body sign -v3 reads: WeChat's requests are a few
// kilobytes (the library caps answers at 1 MiB).
const maxSignBody = 1 << 20

// v3Methods are the methods of WeChat Pay's v3 API.
var v3Methods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// signV3Result is the output of sign -v3.
type signV3Result struct {
	Method        string   `json:"method"`
	URI           string   `json:"uri"`     // the signed path and query
	Message       string   `json:"message"` // the string to sign, body included
	Timestamp     string   `json:"timestamp"`
	Nonce         string   `json:"nonce"`
	Serial        string   `json:"serial_no"`
	Authorization string   `json:"authorization"`
	Curl          string   `json:"curl,omitempty"`
	Notes         []string `json:"notes,omitempty"`
}

func runSignV3(_ context.Context, c *cmdEnv, args []string) int {
	fs, cfgFile, js := c.flagSet("sign", "-v3 [-config file] [-json] [-curl] [-timestamp unix] [-nonce s] METHOD URL [body-file|-]", `
Sign -v3 signs an API v3 request as curl would send it and prints its
Authorization header: WECHATPAY2-SHA256-RSA2048 with the merchant API private
key (WXPAY_KEY_FILE), WXPAY_MCHID, and the certificate serial (WXPAY_V3_SERIAL,
or read from WXPAY_CERT_FILE). The string signed is
METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n with the URL's path and query
exactly as written (give it percent-encoded, as it is sent) and the body file's
exact bytes ("-" for stdin; none for a GET). -timestamp and -nonce reproduce a
signature made earlier, such as the one in a 401 SIGN_ERROR's
sign_information; by default they are now and 32 random characters. With
-curl it prints the whole curl command, which also sends Wechatpay-Serial
when WXPAY_V3_PUBKEY_ID is set (so that WeChat signs the answer with the
public key); add -D headers.txt -o body.json to it, then check the answer with
"wxpay verify -headers headers.txt body.json".`)
	fs.Bool("v3", true, "sign an API v3 request (the flag selects this form)")
	asCurl := fs.Bool("curl", false, "print the whole curl command")
	tsFlag := fs.String("timestamp", "", "sign at this Unix `time` in seconds instead of now")
	nonceFlag := fs.String("nonce", "", "sign with this nonce_str instead of a random one")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() < 2 || fs.NArg() > 3 {
		return c.usageErr("sign", "-v3 wants METHOD URL [body-file|-]")
	}
	method, rawURL := fs.Arg(0), fs.Arg(1)
	if !v3Methods[method] {
		if v3Methods[strings.ToUpper(method)] {
			return c.usageErr("sign", "write the method in capitals (%s): it is signed as sent", strings.ToUpper(method))
		}
		return c.usageErr("sign", "method %q: WeChat Pay v3 uses GET, POST, PUT, PATCH and DELETE", truncate(method, 10))
	}
	base, uri, err := splitV3URL(rawURL)
	if err != nil {
		return c.usageErr("sign", "%v", err)
	}
	s, err := c.loadSettings(*cfgFile)
	if err != nil {
		return c.usageErr("sign", "%v", err)
	}
	m, err := s.v3Signer()
	if err != nil {
		return c.usageErr("sign", "%v", err)
	}
	res := signV3Result{Method: method, URI: uri, Serial: m.serial}
	var body []byte
	bodyArg := ""
	if fs.NArg() == 3 {
		bodyArg = fs.Arg(2)
		if body, err = c.readBody(bodyArg); err != nil {
			return c.usageErr("sign", "%v", err)
		}
	}
	switch {
	case (method == "GET") && bodyArg != "":
		return c.usageErr("sign", "a GET has no body: WeChat signs an empty fifth line; drop the body file")
	case method != "GET" && method != "DELETE" && bodyArg == "":
		res.Notes = append(res.Notes, "no body file: signed with an empty body; WeChat's "+method+" endpoints take a JSON body")
	}
	if len(body) > 0 {
		if !json.Valid(body) {
			res.Notes = append(res.Notes, "the body is not valid JSON: WeChat will answer 400 PARAM_ERROR")
		}
		if body[len(body)-1] == '\n' {
			res.Notes = append(res.Notes, "the body ends with a newline, which is signed: send it too (curl --data-binary keeps it; -d drops it)")
		}
	}
	res.Timestamp = *tsFlag
	if res.Timestamp == "" {
		res.Timestamp = strconv.FormatInt(time.Now().Unix(), 10)
	} else if t, err := strconv.ParseInt(res.Timestamp, 10, 64); err != nil || t < 0 || len(res.Timestamp) > 12 {
		return c.usageErr("sign", "-timestamp must be Unix seconds (10 digits; not milliseconds)")
	} else if d := time.Since(time.Unix(t, 0)); d > apiv3.SignatureWindow || d < -apiv3.SignatureWindow {
		res.Notes = append(res.Notes, "the timestamp is more than 5 minutes from now: WeChat refuses it (401 SIGN_ERROR); fine for reproducing an old signature")
	}
	res.Nonce = *nonceFlag
	if res.Nonce == "" {
		if res.Nonce, err = randomNonce(); err != nil {
			return c.usageErr("sign", "no randomness for the nonce: %v", err)
		}
	}
	res.Authorization, err = apiv3.SignRequest(m.key, m.mchID, m.serial, method, uri, res.Timestamp, res.Nonce, body)
	if errors.Is(err, apiv3.ErrAuthorizationItem) {
		return c.usageErr("sign", "-nonce must be 1 to 64 printable ASCII characters without spaces, quotes or commas")
	} else if err != nil {
		return c.usageErr("sign", "signing failed: %v", err)
	}
	res.Message = string(apiv3.RequestMessage(method, uri, res.Timestamp, res.Nonce, body))
	if *asCurl {
		if base == "" {
			base = orDefault(s.V3.BaseURL, apiv3.BaseURL)
		}
		res.Curl = curlCommand(method, base+uri, res.Authorization, s.V3.PubKeyID, bodyArg, body)
	}
	switch {
	case *js:
		c.writeJSON(res)
	case *asCurl:
		fmt.Fprintln(c.stdout, res.Curl)
	default:
		fmt.Fprintln(c.stdout, "Authorization: "+res.Authorization)
	}
	if !*js {
		for _, n := range res.Notes {
			fmt.Fprintln(c.stderr, "note:", n)
		}
	}
	return ExitOK
}

// splitV3URL splits a request URL into the scheme and host (empty for a
// bare path) and the path and query that are signed, exactly as written.
func splitV3URL(raw string) (base, uri string, err error) {
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c >= 0x7f {
			return "", "", errors.New("the URL holds a space, a control or a non-ASCII character: give it percent-encoded, as it is sent (the signature covers those bytes)")
		}
	}
	rest := raw
	for _, scheme := range []string{"https://", "http://"} {
		if strings.HasPrefix(raw, scheme) {
			rest = raw[len(scheme):]
			end := strings.IndexAny(rest, "/?")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 || strings.Contains(rest[:end], "@") {
				return "", "", errors.New("the URL has no host, or has user info")
			}
			base, rest = raw[:len(scheme)+end], rest[end:]
			if rest == "" || rest[0] == '?' {
				rest = "/" + rest
			}
			break
		}
	}
	switch {
	case !strings.HasPrefix(rest, "/"):
		return "", "", errors.New("the URL must be https://host/path or a path starting with /v3/")
	case strings.Contains(rest, "#"):
		return "", "", errors.New("the URL has a fragment, which is never sent")
	case strings.ContainsAny(rest, "{}"):
		return "", "", errors.New("the URL holds { or }: substitute the path parameter ({out_trade_no}) first; an unsubstituted one is a classic SIGN_ERROR")
	}
	path, _, _ := strings.Cut(rest, "?")
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return "", "", errors.New("the path holds a . or .. segment, which curl removes before sending (unless --path-as-is), so the signed path would not be the one sent: write the path without it")
		}
	}
	return base, rest, nil
}

// readBody reads a body file ("-": stdin), bounded.
func (c *cmdEnv) readBody(name string) ([]byte, error) {
	var r io.Reader = c.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	} else {
		name = "stdin"
	}
	b, err := io.ReadAll(io.LimitReader(r, maxSignBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(b) > maxSignBody {
		return nil, fmt.Errorf("%s: longer than %d bytes", name, maxSignBody)
	}
	return b, nil
}

// randomNonce returns 32 characters of [0-9A-Za-z] from crypto/rand, as
// the official SDKs make nonce_str.
func randomNonce() (string, error) {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 32)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b[i] = alphabet[n.Int64()]
	}
	return string(b), nil
}

// shellQuote quotes s for a POSIX shell: single quotes keep every byte.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// curlCommand is the curl command sending the signed request. A body file
// is sent with --data-binary @file (which, unlike -d, keeps every byte);
// a body read from stdin is written into the command.
func curlCommand(method, u, auth, pubKeyID, bodyArg string, body []byte) string {
	var b strings.Builder
	b.WriteString("curl -sS -X " + method + " " + shellQuote(u) + " \\\n")
	b.WriteString("  -H " + shellQuote("Authorization: "+auth) + " \\\n")
	b.WriteString("  -H 'Accept: application/json' \\\n")
	b.WriteString("  -H 'User-Agent: wxpay-cli' \\\n")
	if pubKeyID != "" && pubKeyIDPattern.MatchString(pubKeyID) {
		b.WriteString("  -H " + shellQuote("Wechatpay-Serial: "+pubKeyID) + " \\\n")
	}
	switch {
	case bodyArg == "-":
		b.WriteString("  -H 'Content-Type: application/json' \\\n  --data-binary " + shellQuote(string(body)) + " \\\n")
	case bodyArg != "":
		b.WriteString("  -H 'Content-Type: application/json' \\\n  --data-binary " + shellQuote("@"+bodyArg) + " \\\n")
	}
	s := b.String()
	return strings.TrimSuffix(s, " \\\n")
}
