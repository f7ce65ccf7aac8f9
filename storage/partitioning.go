package storage

import (
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// PartitionOf maps a 64-bit partition hash to one of n equal, contiguous
// ranges of the hash space: hash h belongs to partition floor(h*n / 2^64).
// Contiguous ranges are what lets a partition split into two hash halves.
func PartitionOf(h uint64, n int) uint32 {
	hi, _ := bits.Mul64(h, uint64(n))
	return uint32(hi)
}

// TraceHash is the partition hash of a span: all spans of a trace share it.
func TraceHash(traceID [16]byte) uint64 { return xxhash.Sum64(traceID[:]) }

// LogHash is the partition hash of a log record: its service and trace id,
// or, for a record outside any trace, its service and a hash of its resource
// and body.
func LogHash(service string, traceID [16]byte, resourceAndBody uint64) uint64 {
	var d xxhash.Digest
	d.Reset()
	_, _ = d.WriteString(service)
	_, _ = d.Write([]byte{0})
	if traceID != ([16]byte{}) {
		_, _ = d.Write(traceID[:])
	} else {
		var b [8]byte
		for i := range b {
			b[i] = byte(resourceAndBody >> (56 - 8*i))
		}
		_, _ = d.Write(b[:])
	}
	return d.Sum64()
}

// CatalogPartition is the partition holding a service's catalog entries
// (its span names).
func CatalogPartition(service string, n int) uint32 {
	return PartitionOf(xxhash.Sum64String(service), n)
}

// FamilyHash is the partition hash of a metric family's metadata.
func FamilyHash(family string) uint64 { return xxhash.Sum64String(family) }
