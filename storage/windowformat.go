package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Window formats. A window directory records in its FORMAT file the index
// layout that every span group in it was written with, so that a search
// uses an index only where every group has it:
//
//   - 2 (no file: windows written before formats were recorded): the
//     layout of EntryFormat 2;
//   - 3: the span groups also carry the duration shortcut terms.
//
// A window this version creates is of windowFormat. A snapshot from an
// older window (SnapshotChunk.window_format) lowers the receiving
// window's format to that one: it now holds groups without the terms.
const (
	windowFormat      = 3
	firstWindowFormat = 2
	windowFormatFile  = "FORMAT"
)

// hasDurationTerms reports whether every span group of format f carries
// the duration shortcut terms.
func hasDurationTerms(f int32) bool { return f >= 3 }

// readWindowFormat returns the format recorded in a window directory
// (firstWindowFormat without a file).
func readWindowFormat(dir string) (int32, error) {
	b, err := os.ReadFile(filepath.Join(dir, windowFormatFile))
	if errors.Is(err, fs.ErrNotExist) {
		return firstWindowFormat, nil
	}
	if err != nil {
		return 0, err
	}
	f, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || f < firstWindowFormat || f > windowFormat {
		return 0, fmt.Errorf("window format file %q: %w", b, ErrUnknownFormat)
	}
	return int32(f), nil
}

// writeWindowFormat records f in a window directory (a new file renamed
// over the old: a crash leaves one or the other).
func writeWindowFormat(dir string, f int32) error {
	tmp := filepath.Join(dir, windowFormatFile+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(int(f))+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, windowFormatFile))
}

// lowerFormat makes w's format at most f (a snapshot of an older window
// was loaded into it), recording it before any search can rely on it.
func (w *window) lowerFormat(f int32) error {
	if f == 0 {
		f = firstWindowFormat
	}
	w.formatMu.Lock()
	defer w.formatMu.Unlock()
	if f >= w.format.Load() {
		return nil
	}
	if err := writeWindowFormat(w.dir, f); err != nil {
		return fmt.Errorf("window %s: lower its format to %d: %w", windowName(w.start), f, err)
	}
	w.format.Store(f)
	return nil
}
