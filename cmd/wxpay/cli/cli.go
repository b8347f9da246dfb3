// Package cli is the wxpay command-line tool: signing and verifying v2
// and v3 messages by hand, decrypting refund notifications and v3
// notification resources, running the fake
// WeChat Pay server standalone, sending notifications to a local server as
// WeChat would, and checking a merchant configuration. The wxpay command
// (github.com/wxpay-go/wxpay/cmd/wxpay) only wires [Run] to the process;
// tests of other modules call Run in-process.
//
// Merchant settings are read only from environment variables or from a
// file named by -config (KEY=VALUE lines), never from flags, because
// arguments show in ps and in shell history. The API key, the APIv3 key
// and the AppSecret are never printed: output shows *** and their length;
// private keys are read from files and never printed either.
//
// WeChat Pay docs (signing rules): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Exit codes of [Run].
const (
	ExitOK    = 0 // the command did its job, or every check passed
	ExitFail  = 1 // a check failed (a bad signature, an unacknowledged notification, a doctor finding)
	ExitUsage = 2 // the command line, the input or the merchant settings could not be used
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, c *cmdEnv, args []string) int
}

func commands() []command {
	return []command{
		{"sign", "sign an XML body or key=value lines and show the string that was hashed (-v3: sign a v3 request, print its Authorization)", runSign},
		{"verify", "verify a signed message and say which check failed and why (-v3, -headers, -H, or a whole HTTP message with Wechatpay-* headers: a v3 answer or notification; -decrypt)", runVerify},
		{"decrypt-refund", "decrypt a refund notification's req_info and print its fields", runDecryptRefund},
		{"fake", "run the fake WeChat Pay server (wxpaytest) standalone and pay its orders (-v3 -v3-dir DIR: v3 beside v2)", runFake},
		{"notify", "send a signed payment or refund notification to a URL, as WeChat does (-v3: a v3 one; -fault: one a handler must refuse)", runNotify},
		{"doctor", "check the merchant settings, the notify URL and the certificate (-v3: the v3 keys and a certificate download)", runDoctor},
		{"version", "print the version of wxpay", runVersion},
	}
}

// cmdEnv is what a subcommand may touch: no globals, no os package.
type cmdEnv struct {
	env    func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// Run runs the wxpay command with args (without the program name) and
// returns its exit code: [ExitOK], [ExitFail] or [ExitUsage]. env looks up
// environment variables (os.Getenv in the real command); a nil env means an
// empty environment, a nil stdin an empty input, a nil stdout or stderr
// io.Discard. Run reads only stdin and the files named in args and
// settings, and writes only to stdout and stderr, so tests drive it
// in-process. Long-running subcommands (fake, notify -retry) stop when ctx
// is done.
func Run(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if env == nil {
		env = func(string) string { return "" }
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	c := &cmdEnv{env: env, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return ExitOK
	case "-version", "--version":
		args = append([]string{"version"}, args[1:]...)
	}
	for _, cmd := range commands() {
		if cmd.name == args[0] {
			return cmd.run(ctx, c, args[1:])
		}
	}
	fmt.Fprintf(stderr, "wxpay: unknown command %q\n\n", truncate(args[0], 40))
	usage(stderr)
	return ExitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, "wxpay is a tool for WeChat Pay merchants (API v2, and v3 with -v3).\n\nUsage:\n\n\twxpay <command> [flags] [arguments] [flags]\n\nCommands:\n\n")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "\t%-15s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, `
Merchant settings come from the environment or from -config FILE (KEY=VALUE
lines; a name set in the file wins over the environment), never from flags:

`)
	for _, s := range settingNames {
		fmt.Fprintf(w, "\t%-27s %s\n", s.name, s.doc)
	}
	fmt.Fprint(w, `
The API key, APIv3 key and AppSecret are never printed. Exit status: 0 ok, 1 a check
failed, 2 usage or settings error. Run "wxpay <command> -h" for a command's flags.
`)
}

// flagSet returns a FlagSet for a subcommand with the flags every
// subcommand has: -config and -json.
func (c *cmdEnv) flagSet(name, synopsis, doc string) (*flag.FlagSet, *string, *bool) {
	fs := flag.NewFlagSet("wxpay "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	cfg := fs.String("config", "", "read merchant settings from `file` (KEY=VALUE lines; mode 0600 when it holds a secret) as well as the environment")
	js := fs.Bool("json", false, "print machine-readable JSON instead of text")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: wxpay %s %s\n\n%s\n\nFlags:\n", name, synopsis, strings.TrimSpace(doc))
		fs.PrintDefaults()
	}
	return fs, cfg, js
}

// parse parses args; ok is false when the command must return code.
//
// Flags may come before or after the arguments ("wxpay sign msg.xml
// -json" is "wxpay sign -json msg.xml"), as people type them; after "--"
// everything is an argument, for a file whose name starts with "-". "-"
// alone (standard input) is an argument.
//
// -h prints the usage on stdout and succeeds; a bad flag prints the
// error and the usage on stderr.
func (c *cmdEnv) parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	usage := fs.Usage
	fs.Usage = func() {} // printed below, once, on the right stream
	err := parseInterspersed(fs, args)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(c.stdout)
		fs.Usage()
		return ExitOK, false
	case err != nil:
		fs.Usage()
		return ExitUsage, false
	}
	return 0, true
}

// parseInterspersed is fs.Parse with flags allowed after arguments: the
// standard parser stops at the first argument, so it is resumed after
// each one, and the arguments are collected in order. On success
// fs.Args() returns them.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...) // "--": the rest are arguments
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	// Parsing "--" alone sets fs.Args() to what follows it.
	return fs.Parse(append([]string{"--"}, pos...))
}

// usageErr prints a usage error and returns ExitUsage.
func (c *cmdEnv) usageErr(cmd, format string, a ...any) int {
	fmt.Fprintf(c.stderr, "wxpay %s: %s\n", cmd, fmt.Sprintf(format, a...))
	fmt.Fprintf(c.stderr, "Run \"wxpay %s -h\" for usage.\n", cmd)
	return ExitUsage
}

// writeJSON writes v as indented JSON.
func (c *cmdEnv) writeJSON(v any) {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// truncate cuts s to n bytes (on a rune boundary) for messages that quote
// input.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// sortedKeys returns the names of m in byte order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
