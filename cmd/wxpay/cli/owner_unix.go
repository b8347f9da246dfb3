//go:build unix

package cli

import (
	"io/fs"
	"os"
	"syscall"
)

// ownedByOther reports whether fi, a file or directory, belongs to a
// user other than the one running the tool: that user can replace or
// rewrite it, so a key in it, or a directory of keys, is not ours to
// trust. Root owning it is no exception for another user (root can
// replace anything anyway).
func ownedByOther(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) != os.Geteuid()
}
