package storage

import "errors"

var (
	// ErrCorrupt is returned when stored or received bytes do not decode.
	ErrCorrupt = errors.New("storage: corrupt encoding")
	// ErrUnknownFormat is returned for entries or records of a format this
	// node does not know.
	ErrUnknownFormat = errors.New("storage: unknown entry format")
	// ErrWrongPartition is returned when an entry's key is outside the
	// partition it was sent to.
	ErrWrongPartition = errors.New("storage: entry outside its partition")
	// ErrClosed is returned by a store that has been closed.
	ErrClosed = errors.New("storage: closed")
	// ErrWindowExpired is returned for entries of a window past retention.
	ErrWindowExpired = errors.New("storage: window past retention")
	// ErrMisalignedWindow is returned for entries naming a window start that
	// is not a multiple of the window length.
	ErrMisalignedWindow = errors.New("storage: window start not aligned to window length")
)
