//go:build unix

package storage

import (
	"io/fs"
	"syscall"
)

// allocatedSize is the disk space a file occupies (Badger preallocates
// sparse files, so the apparent size overstates it).
func allocatedSize(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return info.Size()
}
