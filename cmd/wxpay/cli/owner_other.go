//go:build !unix

package cli

import "io/fs"

// ownedByOther reports false where the platform has no POSIX owner to
// compare; there, the file system's ACLs are the protection.
func ownedByOther(fs.FileInfo) bool { return false }
