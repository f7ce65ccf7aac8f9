//go:build !unix

package storage

import "io/fs"

// allocatedSize is the apparent size where block counts are unknown.
func allocatedSize(info fs.FileInfo) int64 { return info.Size() }
