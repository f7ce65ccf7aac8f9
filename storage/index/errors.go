package index

import "errors"

var (
	// ErrCorrupt is returned when bytes handed to an UnmarshalBinary method
	// do not decode: truncated, inconsistent, or failing their checksum.
	ErrCorrupt = errors.New("index: corrupt encoding")
	// ErrVersion is returned when an encoding starts with a format version
	// this package does not know.
	ErrVersion = errors.New("index: unknown encoding version")
	// ErrIncompatible is returned by Bloom.Union for filters built with
	// different parameters.
	ErrIncompatible = errors.New("index: filters have different parameters")
)
