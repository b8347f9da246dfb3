package cli

import (
	"context"
	"flag"
	"fmt"
	"runtime/debug"
	"strings"
)

// modulePath is the module the wxpay command belongs to.
const modulePath = "github.com/wxpay-go/wxpay"

// releaseVersion is the version this source tree was last released as,
// the newest version heading of CHANGELOG.md (a test keeps them equal).
// It is printed when the build records no module version: a build from a
// checkout ("(devel)") or a test binary.
const releaseVersion = "v0.1.0"

// versionInfo is the output of version.
type versionInfo struct {
	Version string `json:"version"`
	// Source says where Version comes from: "module" (the build's
	// module version, as go install ...@version records it) or
	// "source" (releaseVersion, for a build from a checkout).
	Source   string `json:"source"`
	Revision string `json:"revision,omitempty"` // VCS revision of a checkout build
	Modified bool   `json:"modified,omitempty"` // the checkout had local changes
	Go       string `json:"go,omitempty"`
}

// buildVersion reads the version of the wxpay module from the build's
// information: the main module when the command itself was built, or the
// dependency when another module links package cli in.
func buildVersion(info *debug.BuildInfo, ok bool) versionInfo {
	v := versionInfo{Version: releaseVersion, Source: "source"}
	if !ok || info == nil {
		return v
	}
	v.Go = info.GoVersion
	mods := append([]*debug.Module{&info.Main}, info.Deps...)
	for _, m := range mods {
		if m == nil || m.Path != modulePath {
			continue
		}
		if m.Replace != nil {
			m = m.Replace
		}
		if m.Version != "" && m.Version != "(devel)" {
			v.Version, v.Source = m.Version, "module"
		}
		break
	}
	if v.Source == "source" {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	return v
}

func runVersion(_ context.Context, c *cmdEnv, args []string) int {
	fs := flag.NewFlagSet("wxpay version", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	js := fs.Bool("json", false, "print machine-readable JSON instead of text")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: wxpay version [-json]\n\nVersion prints the version of the wxpay module the command was built from\n(also: wxpay -version).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return c.usageErr("version", "unexpected argument %q", truncate(fs.Arg(0), 40))
	}
	v := buildVersion(debug.ReadBuildInfo())
	if *js {
		c.writeJSON(v)
		return ExitOK
	}
	var extra []string
	if v.Source == "source" {
		extra = append(extra, "built from source")
		if v.Revision != "" {
			r := v.Revision
			if len(r) > 12 {
				r = r[:12]
			}
			extra = append(extra, "revision "+r)
		}
		if v.Modified {
			extra = append(extra, "with local changes")
		}
	}
	if v.Go != "" {
		extra = append(extra, v.Go)
	}
	fmt.Fprintf(c.stdout, "wxpay %s", v.Version)
	if len(extra) > 0 {
		fmt.Fprintf(c.stdout, " (%s)", strings.Join(extra, ", "))
	}
	fmt.Fprintln(c.stdout)
	return ExitOK
}
