package storage

import (
	"bytes"

	"github.com/dgraph-io/badger/v4"
)

// cursor walks the keys under one prefix whose remainders ("suffixes") all
// have the same length and sort in the order a search wants (newest first).
type cursor struct {
	it      *badger.Iterator
	prefix  []byte
	seekBuf []byte
	cur     []byte // suffix of the current key; valid until the next move
	valid   bool
}

func newCursor(txn *badger.Txn, prefix []byte) *cursor {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = prefix
	return &cursor{it: txn.NewIterator(opts), prefix: prefix}
}

func (c *cursor) close() { c.it.Close() }

func (c *cursor) load() {
	c.valid = c.it.ValidForPrefix(c.prefix)
	if c.valid {
		c.cur = c.it.Item().Key()[len(c.prefix):]
	} else {
		c.cur = nil
	}
}

// seek moves to the first suffix ≥ target and returns it. Moving to the
// next key first is cheaper than a seek when target is just past the
// current key, which is the common case.
func (c *cursor) seek(target []byte) ([]byte, bool) {
	if c.valid {
		if bytes.Compare(c.cur, target) >= 0 {
			return c.cur, true
		}
		c.it.Next()
		c.load()
		if !c.valid || bytes.Compare(c.cur, target) >= 0 {
			return c.cur, c.valid
		}
	}
	c.seekBuf = append(append(c.seekBuf[:0], c.prefix...), target...)
	c.it.Seek(c.seekBuf)
	c.load()
	return c.cur, c.valid
}

// value copies the current value into dst.
func (c *cursor) value(dst []byte) ([]byte, error) {
	return c.it.Item().ValueCopy(dst[:0])
}

// leapfrog calls match with every suffix ≥ from present under all cursors,
// in order, until match returns false or a cursor runs out. The suffix
// passed to match is only valid during the call.
func leapfrog(cs []*cursor, from []byte, match func(suffix []byte) bool) {
	if len(cs) == 0 {
		return
	}
	target := append([]byte(nil), from...)
	agree := 0
	for i := 0; ; i = (i + 1) % len(cs) {
		s, ok := cs[i].seek(target)
		if !ok {
			return
		}
		if bytes.Equal(s, target) {
			agree++
		} else {
			target = append(target[:0], s...)
			agree = 1
		}
		if agree == len(cs) {
			if !match(target) {
				return
			}
			if !increment(target) {
				return
			}
			agree = 0
		}
	}
}

// increment turns b into the next byte string of the same length; it
// returns false when b was all 0xff.
func increment(b []byte) bool {
	for i := len(b) - 1; i >= 0; i-- {
		b[i]++
		if b[i] != 0 {
			return true
		}
	}
	return false
}

// andBitmap intersects bitmap b into acc; a nil bitmap means "all set".
func andBitmap(acc, b []byte) []byte {
	if b == nil {
		return acc
	}
	if acc == nil {
		return append([]byte(nil), b...)
	}
	for i := range acc {
		if i < len(b) {
			acc[i] &= b[i]
		} else {
			acc[i] = 0
		}
	}
	return acc
}

func bitmapEmpty(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
