package index

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Trie encoding, version 1, integers little-endian:
//
//	version    1 byte, 1
//	entries    an entry list (below)
//	checksum   4 bytes, CRC-32C of everything before
//
// An entry list is a uvarint count followed by the names in strictly
// ascending byte order, each front-coded against the previous one:
//
//	shared     uvarint, bytes in common with the previous name
//	suffix     uvarint length, then the bytes
//	count      uvarint, 1 to 2^32-1
//	tags       uvarint
//
// The encoding carries names, not nodes, so the node layout can change
// without a new version; decoding rebuilds the trie in one sorted pass.

const (
	trieVersion = 1
	// minEntryBytes is the smallest encoded entry: four one-byte varints.
	minEntryBytes = 4
)

// MarshalBinary encodes the trie; it implements encoding.BinaryMarshaler.
func (t *Trie) MarshalBinary() ([]byte, error) {
	return t.AppendBinary(nil)
}

// AppendBinary appends the encoding of the trie to b; it implements
// encoding.BinaryAppender.
func (t *Trie) AppendBinary(b []byte) ([]byte, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	start := len(b)
	b = slices.Grow(b, 1+len(t.r.labels)+t.r.names*6+binary.MaxVarintLen64+4)
	b = append(b, trieVersion)
	b = t.r.appendEntries(b)
	return binary.LittleEndian.AppendUint32(b, checksum(b[start:])), nil
}

// UnmarshalBinary replaces the trie's contents with the encoded ones; it
// implements encoding.BinaryUnmarshaler. It returns an error wrapping
// ErrVersion or ErrCorrupt, and leaves the trie unchanged, for data it
// cannot decode; it never panics.
func (t *Trie) UnmarshalBinary(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: trie: empty", ErrCorrupt)
	}
	if data[0] != trieVersion {
		return fmt.Errorf("%w: trie version %d", ErrVersion, data[0])
	}
	body, err := verifyChecksum(data)
	if err != nil {
		return fmt.Errorf("trie: %w", err)
	}
	rd := reader{b: body[1:]}
	r, err := decodeEntries(&rd, math.MaxInt)
	if err != nil {
		return err
	}
	if len(rd.b) != 0 {
		return fmt.Errorf("%w: trie: %d trailing bytes", ErrCorrupt, len(rd.b))
	}
	t.wmu.Lock()
	t.mu.Lock()
	t.r = r
	t.mu.Unlock()
	t.wmu.Unlock()
	return nil
}

// appendEntries appends r's entry list to b.
func (r *radix) appendEntries(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(r.names))
	var prev []byte
	r.each(func(name []byte, nd *rnode) {
		shared := commonPrefix(prev, string(name))
		b = binary.AppendUvarint(b, uint64(shared))
		b = binary.AppendUvarint(b, uint64(len(name)-shared))
		b = append(b, name[shared:]...)
		b = binary.AppendUvarint(b, uint64(nd.count))
		b = binary.AppendUvarint(b, nd.tags)
		prev = append(prev[:0], name...)
	})
	return b
}

// decodeEntries decodes an entry list of at most maxNames names from rd.
func decodeEntries(rd *reader, maxNames int) (radix, error) {
	n := rd.uvarint()
	if rd.err != nil || n > uint64(maxNames) || n > uint64(len(rd.b))/minEntryBytes {
		return radix{}, fmt.Errorf("%w: trie: bad name count", ErrCorrupt)
	}
	var r radix
	name := make([]byte, 0, 64)
	for i := range int(n) {
		shared := rd.uvarint()
		suffix := rd.uvarint()
		if rd.err != nil || shared > uint64(len(name)) || suffix > MaxNameLen || shared+suffix > MaxNameLen {
			return radix{}, fmt.Errorf("%w: trie: name %d", ErrCorrupt, i)
		}
		tail := rd.take(int(suffix))
		count := rd.uvarint()
		tags := rd.uvarint()
		if rd.err != nil || count < 1 || count > math.MaxUint32 {
			return radix{}, fmt.Errorf("%w: trie: name %d", ErrCorrupt, i)
		}
		// The names share name[:shared], so their order is their tails'.
		if i > 0 && bytes.Compare(tail, name[shared:]) <= 0 {
			return radix{}, fmt.Errorf("%w: trie: name %d out of order", ErrCorrupt, i)
		}
		name = append(name[:shared], tail...)
		r.insert(string(name), tags, uint32(count))
	}
	if len(r.nodes) > 0 {
		r.compact()
	}
	return r, nil
}
