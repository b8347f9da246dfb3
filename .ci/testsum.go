//go:build ignore

// Command testsum reads the events of "go test -json" on stdin and
// prints what "go test" prints without -v (a line per package, the output
// of failed tests, build errors), so that the test command stays short.
// Skipped tests are what -json adds: each one, with the reason it gave, is
// appended to the file named by -skips, for .ci/test to list at the end.
// It exits 1 when a test or a build failed.
//
// Usage (from .ci/test): go test -json ./... | testsum -skips FILE
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output events
}

func main() {
	skips := flag.String("skips", "", "append the skipped tests to this `file`")
	flag.Parse()
	failed, skipped, err := summarise(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(1)
	}
	if *skips != "" && len(skipped) > 0 {
		f, err := os.OpenFile(*skips, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsum:", err)
			os.Exit(1)
		}
		for _, s := range skipped {
			fmt.Fprintln(f, s)
		}
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "testsum:", err)
			os.Exit(1)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// summarise copies the non-verbose output of the events in r to w and
// returns whether anything failed and the skipped tests, one line each:
// "package TestName: reason", the package relative to the repository.
func summarise(r io.Reader, w io.Writer) (failed bool, skipped []string, err error) {
	type key struct{ pkg, test string }
	logs := map[key][]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintf(w, "%s\n", line) // not an event: pass it on
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "build-output":
			fmt.Fprint(w, e.Output)
		case "build-fail":
			failed = true
		case "output":
			if e.Test == "" {
				// The package's own lines: ok, FAIL, "no test files",
				// and the output of a test binary that crashed; not the
				// PASS that go test prints only with -v.
				if e.Output != "PASS\n" {
					fmt.Fprint(w, e.Output)
				}
				continue
			}
			logs[k] = append(logs[k], e.Output)
		case "fail":
			failed = true
			for _, l := range logs[k] {
				if !strings.HasPrefix(l, "=== ") { // RUN, PAUSE, CONT, NAME
					fmt.Fprint(w, l)
				}
			}
			delete(logs, k)
		case "skip":
			if e.Test != "" {
				skipped = append(skipped, fmt.Sprintf("%s %s: %s", shortPkg(e.Package), e.Test, reason(logs[k])))
			}
			delete(logs, k)
		case "pass":
			delete(logs, k)
		}
	}
	sort.Strings(skipped)
	return failed, skipped, sc.Err()
}

// repo is the import path of the repository's root module.
const repo = "github.com/wxpay-go/wxpay"

// shortPkg writes an import path of the repository as its folder.
func shortPkg(p string) string {
	if p == repo {
		return "."
	}
	return strings.TrimPrefix(p, repo+"/")
}

// reason is what a skipped test logged, without the framework's lines
// (=== RUN, --- SKIP, ...) and the file:line prefixes, on one line.
func reason(out []string) string {
	var parts []string
	for _, l := range out {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		if i := strings.Index(t, ": "); i > 0 && strings.Contains(t[:i], ".go:") {
			t = t[i+2:]
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}
