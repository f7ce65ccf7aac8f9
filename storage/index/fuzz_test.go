package index

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

// reseal appends a valid checksum to body, so the fuzzers reach the
// decoders behind the checksum too.
func reseal(body []byte) []byte {
	return binary.LittleEndian.AppendUint32(slices.Clone(body), checksum(body))
}

// checkDecodeErr fails unless err is nil or wraps a sentinel.
func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
		t.Fatalf("decode error %v wraps no sentinel", err)
	}
}

func FuzzBloomUnmarshal(f *testing.F) {
	for _, n := range []int{0, 1, 40, 300} {
		b := NewBloom(100, 0.01)
		for _, h := range traceHashes(uint64(n), n) {
			b.Add(h)
		}
		data, _ := b.MarshalBinary()
		f.Add(data)
		f.Add(data[:len(data)-4])
	}
	f.Add([]byte{})
	f.Add([]byte{bloomVersion})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range [][]byte{data, reseal(data)} {
			var b Bloom
			err := b.UnmarshalBinary(in)
			checkDecodeErr(t, err)
			if err != nil {
				continue
			}
			// A decoded filter is usable and re-encodes stably.
			b.MayContain(0x1234)
			once, _ := b.MarshalBinary()
			var c Bloom
			if err := c.UnmarshalBinary(once); err != nil {
				t.Fatalf("re-encoding does not decode: %v", err)
			}
			twice, _ := c.MarshalBinary()
			if string(once) != string(twice) {
				t.Fatalf("encoding not stable")
			}
			for h := range uint64(50) {
				b.Add(h * 0x9e3779b97f4a7c15)
				if !b.MayContain(h * 0x9e3779b97f4a7c15) {
					t.Fatalf("false negative after decoding")
				}
			}
			_ = b.Union(&c)
		}
	})
}

func FuzzTrieUnmarshal(f *testing.F) {
	for _, n := range []int{0, 1, 5, 60} {
		tr := NewTrie()
		for i, s := range testNames(uint64(n), n) {
			tr.Insert(s, uint64(i))
		}
		data, _ := tr.MarshalBinary()
		f.Add(data)
		f.Add(data[:len(data)-4])
	}
	f.Add([]byte{})
	f.Add([]byte{trieVersion, 1, 0, 1, 'a', 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range [][]byte{data, reseal(data)} {
			var tr Trie
			err := tr.UnmarshalBinary(in)
			checkDecodeErr(t, err)
			if err != nil {
				continue
			}
			es := tr.entries()
			if len(es) != tr.Len() || !slices.IsSortedFunc(es, func(a, b Entry) int { return compareStrings(a.Name, b.Name) }) {
				t.Fatalf("decoded trie has %d entries, Len %d, or is out of order", len(es), tr.Len())
			}
			for _, e := range es {
				if got, ok := tr.Get(e.Name); !ok || got != e {
					t.Fatalf("Get(%q) = %+v, %v; want %+v", e.Name, got, ok, e)
				}
			}
			tr.Prefix("", 10)
			tr.PrefixFold("a", 10)
			tr.Fuzzy("ab", 2, 10)
			once, _ := tr.MarshalBinary()
			var back Trie
			if err := back.UnmarshalBinary(once); err != nil || !slices.Equal(back.entries(), es) {
				t.Fatalf("re-encoding does not round-trip: %v", err)
			}
		}
	})
}

func FuzzKeyValuesUnmarshal(f *testing.F) {
	kv := NewKeyValues(3)
	for _, s := range []string{"a", "b", "c", "d"} {
		kv.Insert("k", s, 1)
		kv.Insert("l"+s, s, 2)
	}
	data, _ := kv.MarshalBinary()
	f.Add(data)
	f.Add(data[:len(data)-4])
	f.Add([]byte{keyValuesVersion, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range [][]byte{data, reseal(data)} {
			kv := NewKeyValues(0)
			err := kv.UnmarshalBinary(in)
			checkDecodeErr(t, err)
			if err != nil {
				continue
			}
			for _, k := range kv.Keys().entries() {
				if v, _ := kv.Values(k.Name); v == nil || v.Len() > kv.MaxValuesPerKey() {
					t.Fatalf("key %q: values %v past the bound %d", k.Name, v, kv.MaxValuesPerKey())
				}
			}
			once, _ := kv.MarshalBinary()
			back := NewKeyValues(0)
			if err := back.UnmarshalBinary(once); err != nil {
				t.Fatalf("re-encoding does not decode: %v", err)
			}
		}
	})
}

// compareStrings is strings.Compare, spelled out for a sort callback.
func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
