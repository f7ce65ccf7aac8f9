package storage

import (
	"encoding/binary"
)

// EntryFormat is the version of the framed entries carried by a WriteBatch
// and of the key layout and value encodings they hold. A node refuses
// entries of a format it does not know instead of guessing.
//
// Format 2 added the op byte (deletes, for metrics) and the metrics key
// layout of storage/tsdb. Format 3 added the duration shortcut terms to
// the span groups (keys.go durationShortcuts; see windowformat.go).
const EntryFormat uint32 = 3

// Entries of a WriteBatch are framed back to back:
//
//	[window start, unix seconds, uvarint][op byte][key len uvarint][key][value len uvarint][value]
//
// op is opPut or opDelete (a delete has an empty value).
const (
	opPut    byte = 0
	opDelete byte = 1
)

// Entry is one framed key/value pair (or a deletion of the key) and the
// window it belongs to.
type Entry struct {
	Window int64 // window start, unix seconds
	Key    []byte
	Value  []byte
	Delete bool
}

func appendEntry(dst []byte, window int64, key, value []byte) []byte {
	return appendOp(dst, opPut, window, key, value)
}

func appendDelete(dst []byte, window int64, key []byte) []byte {
	return appendOp(dst, opDelete, window, key, nil)
}

func appendOp(dst []byte, op byte, window int64, key, value []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(window))
	dst = append(dst, op)
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	return append(dst, value...)
}

// EntryIter walks framed entries without copying them.
type EntryIter struct {
	d     decoder
	entry Entry
}

// NewEntryIter returns an iterator over framed entries b.
func NewEntryIter(b []byte) EntryIter { return EntryIter{d: decoder{b: b}} }

// Next advances to the next entry; it returns false at the end or on
// malformed input (see Err).
func (it *EntryIter) Next() bool {
	if len(it.d.b) == 0 || it.d.err != nil {
		return false
	}
	w := it.d.uvarint()
	op := it.d.byte()
	k := it.d.bytes()
	v := it.d.bytes()
	if it.d.err != nil || w > 1<<40 || len(k) < headerLen || op > opDelete || (op == opDelete && len(v) > 0) {
		it.d.fail()
		return false
	}
	it.entry = Entry{Window: int64(w), Key: k, Value: v, Delete: op == opDelete}
	return true
}

// Entry returns the current entry; its slices alias the input.
func (it *EntryIter) Entry() Entry { return it.entry }

// Err returns ErrCorrupt if the input was malformed.
func (it *EntryIter) Err() error { return it.d.err }

// maxKeyLen is the longest key Badger accepts. One longer key would fail
// the whole group commit it is part of, other submitters' entries included.
const maxKeyLen = 65000

// CheckEntries verifies that b is well framed, that every key belongs to
// partition p and is short enough for Badger, and every window start is a
// multiple of window seconds. It returns the number of entries.
func CheckEntries(b []byte, p uint32, windowSeconds int64) (int, error) {
	it := NewEntryIter(b)
	n := 0
	for it.Next() {
		e := it.Entry()
		if kp, _ := keyPartition(e.Key); kp != p {
			return n, ErrWrongPartition
		}
		if len(e.Key) > maxKeyLen {
			return n, ErrCorrupt
		}
		if windowSeconds > 0 && e.Window%windowSeconds != 0 {
			return n, ErrMisalignedWindow
		}
		n++
	}
	return n, it.Err()
}
