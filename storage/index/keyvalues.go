package index

import (
	"encoding/binary"
	"fmt"
	"sync"
)

const (
	// DefaultMaxValuesPerKey is the bound NewKeyValues uses for an argument
	// ≤ 0.
	DefaultMaxValuesPerKey = 10_000
	// MaxValuesPerKeyLimit is the largest bound NewKeyValues accepts; larger
	// arguments are lowered to it.
	MaxValuesPerKeyLimit = 1 << 20
	// TagTooManyValues is the tag bit KeyValues sets on a key of its Keys
	// trie once the key has had more distinct values than the bound. Insert
	// clears the bit in caller tags, so callers must not use it.
	TagTooManyValues uint64 = 1 << 63

	keyValuesVersion = 1
)

// KeyValues is a two-level name index: a Trie of keys and, per key, a Trie
// of at most a bounded number of its distinct values. It serves attribute
// keys and their values, or service names and their span names.
//
// Past the bound a key keeps the first values it saw (with their counts and
// tags still updated) and drops new ones; the key is then marked "too many
// values": its entry in Keys carries TagTooManyValues and Values reports
// tooMany, so a caller knows that a lookup among its values may miss some
// (and may prefer to offer free text for it).
//
// The zero value is an empty index with DefaultMaxValuesPerKey. A KeyValues
// is safe for concurrent use by multiple goroutines. The tries
// returned by Keys and Values belong to it: query them (they are safe for
// concurrent use too) but do not Insert, Merge or UnmarshalBinary into them,
// which would bypass the bound.
type KeyValues struct {
	mu        sync.RWMutex // guards keys and the values map, not their contents
	maxValues int
	keys      *Trie
	values    map[string]*Trie
}

// NewKeyValues returns an empty index keeping at most maxValuesPerKey
// distinct values per key (DefaultMaxValuesPerKey for ≤ 0, at most
// MaxValuesPerKeyLimit).
func NewKeyValues(maxValuesPerKey int) *KeyValues {
	if maxValuesPerKey <= 0 {
		maxValuesPerKey = DefaultMaxValuesPerKey
	}
	return &KeyValues{
		maxValues: min(maxValuesPerKey, MaxValuesPerKeyLimit),
		keys:      new(Trie),
		values:    make(map[string]*Trie),
	}
}

// ready initializes a zero KeyValues.
func (kv *KeyValues) ready() {
	kv.mu.RLock()
	ok := kv.keys != nil
	kv.mu.RUnlock()
	if ok {
		return
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if kv.keys == nil {
		kv.keys, kv.values = new(Trie), make(map[string]*Trie)
		if kv.maxValues <= 0 {
			kv.maxValues = DefaultMaxValuesPerKey
		}
	}
}

// MaxValuesPerKey returns the bound on distinct values per key.
func (kv *KeyValues) MaxValuesPerKey() int {
	kv.ready()
	kv.mu.RLock()
	defer kv.mu.RUnlock()
	return kv.maxValues
}

// Insert records that key was seen with value, OR-ing tags (less
// TagTooManyValues) into both and counting one more Insert of each. A key
// longer than MaxNameLen is ignored; a longer value records the key only.
func (kv *KeyValues) Insert(key, value string, tags uint64) {
	if len(key) > MaxNameLen {
		return
	}
	tags &^= TagTooManyValues
	keys, vals, bound := kv.valuesFor(key)
	keys.Insert(key, tags)
	if len(value) > MaxNameLen {
		return
	}
	if !vals.insertBounded(value, tags, 1, bound) {
		keys.orTags(key, TagTooManyValues)
	}
}

// valuesFor returns the keys trie, the values trie of key, creating it, and
// the bound.
func (kv *KeyValues) valuesFor(key string) (*Trie, *Trie, int) {
	kv.ready()
	kv.mu.RLock()
	keys, vals, bound := kv.keys, kv.values[key], kv.maxValues
	kv.mu.RUnlock()
	if vals != nil {
		return keys, vals, bound
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if vals = kv.values[key]; vals == nil {
		vals = new(Trie)
		kv.values[key] = vals
	}
	return kv.keys, vals, kv.maxValues
}

// Keys returns the trie of keys; an entry whose Tags has TagTooManyValues
// set is a key past the bound.
func (kv *KeyValues) Keys() *Trie {
	kv.ready()
	kv.mu.RLock()
	defer kv.mu.RUnlock()
	return kv.keys
}

// Values returns the trie of the values of key, nil for an unknown key, and
// whether the key has too many values: then the trie holds the first
// MaxValuesPerKey distinct values seen and lookups in it may miss values.
func (kv *KeyValues) Values(key string) (values *Trie, tooMany bool) {
	kv.ready()
	kv.mu.RLock()
	keys, vals := kv.keys, kv.values[key]
	kv.mu.RUnlock()
	if vals == nil {
		return nil, false
	}
	e, _ := keys.Get(key)
	return vals, e.Tags&TagTooManyValues != 0
}

// Len returns the number of keys.
func (kv *KeyValues) Len() int { return kv.Keys().Len() }

// SizeBytes returns the memory the tries hold in their arrays, plus an
// estimate of the per-key overhead.
func (kv *KeyValues) SizeBytes() int {
	kv.ready()
	kv.mu.RLock()
	defer kv.mu.RUnlock()
	n := kv.keys.SizeBytes()
	for k, v := range kv.values {
		n += len(k) + 16 + 112 + v.SizeBytes() // map slot, Trie header
	}
	return n
}

// Merge inserts every key and value of other into kv, adding counts and
// OR-ing tags, under kv's bound: a key is too many values after the merge if
// it was in either index or the merge drops values. other is read under its
// own locks, released before kv is written; merging an index into itself is
// a no-op.
func (kv *KeyValues) Merge(other *KeyValues) {
	if other == kv {
		return
	}
	type keyValues struct {
		key    Entry
		values []Entry
	}
	other.ready()
	other.mu.RLock()
	theirs := other.keys.entries()
	snap := make([]keyValues, len(theirs))
	for i, k := range theirs {
		snap[i].key = k
		if v := other.values[k.Name]; v != nil {
			snap[i].values = v.entries()
		}
	}
	other.mu.RUnlock()
	for _, s := range snap {
		keys, vals, bound := kv.valuesFor(s.key.Name)
		keys.insertCount(s.key.Name, s.key.Tags, uint32(s.key.Count))
		for _, v := range s.values {
			if !vals.insertBounded(v.Name, v.Tags&^TagTooManyValues, uint32(v.Count), bound) {
				keys.orTags(s.key.Name, TagTooManyValues)
			}
		}
	}
}

// insertCount is Insert of count inserts at once.
func (t *Trie) insertCount(s string, tags uint64, count uint32) {
	t.write(func(r *radix) { r.insert(s, tags, count) })
}

// insertBounded inserts s unless it is new and the trie already holds bound
// names; it reports false when it drops s.
func (t *Trie) insertBounded(s string, tags uint64, count uint32, bound int) bool {
	kept := true
	t.write(func(r *radix) {
		if r.names >= bound {
			if n := r.find(s); n < 0 || r.nodes[n].count == 0 {
				kept = false
				return
			}
		}
		r.insert(s, tags, count)
	})
	return kept
}

// orTags ORs tags into the entry of s, if present.
func (t *Trie) orTags(s string, tags uint64) {
	t.write(func(r *radix) {
		if n := r.find(s); n >= 0 && r.nodes[n].count > 0 {
			r.nodes[n].tags |= tags
		}
	})
}

// KeyValues encoding, version 1:
//
//	version      1 byte, 1
//	maxValues    uvarint
//	keys         an entry list (see the Trie encoding); tags include
//	             TagTooManyValues
//	values       per key, in the keys' order, an entry list of at most
//	             maxValues names
//	checksum     4 bytes, CRC-32C of everything before

// MarshalBinary encodes the index; it implements encoding.BinaryMarshaler.
func (kv *KeyValues) MarshalBinary() ([]byte, error) {
	return kv.AppendBinary(nil)
}

// AppendBinary appends the encoding of the index to b; it implements
// encoding.BinaryAppender. Each trie is encoded under its own read lock, so
// an encoding taken during Inserts holds a consistent state of every trie
// but not necessarily one instant of the whole.
func (kv *KeyValues) AppendBinary(b []byte) ([]byte, error) {
	kv.ready()
	kv.mu.RLock()
	defer kv.mu.RUnlock()
	start := len(b)
	b = append(b, keyValuesVersion)
	b = binary.AppendUvarint(b, uint64(kv.maxValues))
	kv.keys.mu.RLock()
	names := make([]string, 0, kv.keys.r.names)
	kv.keys.r.each(func(name []byte, _ *rnode) { names = append(names, string(name)) })
	b = kv.keys.r.appendEntries(b)
	kv.keys.mu.RUnlock()
	for _, k := range names {
		v := kv.values[k]
		if v == nil {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		v.mu.RLock()
		b = v.r.appendEntries(b)
		v.mu.RUnlock()
	}
	return binary.LittleEndian.AppendUint32(b, checksum(b[start:])), nil
}

// UnmarshalBinary replaces the index with the encoded one, bound included;
// it implements encoding.BinaryUnmarshaler. It returns an error wrapping
// ErrVersion or ErrCorrupt, and leaves the index unchanged, for data it
// cannot decode; it never panics. Tries returned earlier by Keys and Values
// keep the old contents.
func (kv *KeyValues) UnmarshalBinary(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: key values: empty", ErrCorrupt)
	}
	if data[0] != keyValuesVersion {
		return fmt.Errorf("%w: key values version %d", ErrVersion, data[0])
	}
	body, err := verifyChecksum(data)
	if err != nil {
		return fmt.Errorf("key values: %w", err)
	}
	rd := reader{b: body[1:]}
	maxValues := rd.uvarint()
	if rd.err != nil || maxValues < 1 || maxValues > MaxValuesPerKeyLimit {
		return fmt.Errorf("%w: key values: bound", ErrCorrupt)
	}
	kr, err := decodeEntries(&rd, len(rd.b))
	if err != nil {
		return err
	}
	keys := &Trie{r: kr}
	var names []string
	kr.each(func(name []byte, _ *rnode) { names = append(names, string(name)) })
	values := make(map[string]*Trie, len(names))
	for _, k := range names {
		vr, err := decodeEntries(&rd, int(maxValues))
		if err != nil {
			return err
		}
		values[k] = &Trie{r: vr}
	}
	if len(rd.b) != 0 {
		return fmt.Errorf("%w: key values: %d trailing bytes", ErrCorrupt, len(rd.b))
	}
	kv.mu.Lock()
	kv.maxValues, kv.keys, kv.values = int(maxValues), keys, values
	kv.mu.Unlock()
	return nil
}
