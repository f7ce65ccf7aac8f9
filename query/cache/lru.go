package cache

import (
	"container/list"
	"strings"
	"sync"
)

// lru is the L1: a least-recently-used map bounded by the bytes of its keys
// and values. One mutex guards it; a Get moves the entry to the front, so it
// takes the lock exclusively too.
type lru struct {
	maxBytes int64

	mu        sync.Mutex
	ll        *list.List // of *entry, most recently used first
	items     map[string]*list.Element
	bytes     int64
	evictions uint64
}

type entry struct {
	key string
	val []byte
}

func (e *entry) size() int64 { return int64(len(e.key) + len(e.val)) }

func newLRU(maxBytes int64) *lru {
	return &lru{maxBytes: maxBytes, ll: list.New(), items: make(map[string]*list.Element)}
}

// get returns the value of key and marks it most recently used. The value is
// shared: the caller must not modify it.
func (l *lru) get(key string) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.items[key]
	if !ok {
		return nil, false
	}
	l.ll.MoveToFront(el)
	return el.Value.(*entry).val, true
}

// add stores val (owned by the lru from now on) under key as the most
// recently used entry, then evicts the least recently used entries until the
// bytes are within the bound. An entry larger than the whole bound is not
// stored (and an older value of the key is dropped). It reports whether val
// was stored.
func (l *lru) add(key string, val []byte) bool {
	size := int64(len(key) + len(val))
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.items[key]; ok {
		if size > l.maxBytes {
			l.removeElement(el)
			return false
		}
		e := el.Value.(*entry)
		l.bytes += size - e.size()
		e.val = val
		l.ll.MoveToFront(el)
	} else {
		if size > l.maxBytes {
			return false
		}
		// Clone: the key may be a slice of a larger string of the caller's.
		e := &entry{key: strings.Clone(key), val: val}
		l.items[e.key] = l.ll.PushFront(e)
		l.bytes += size
	}
	for l.bytes > l.maxBytes {
		l.removeElement(l.ll.Back())
		l.evictions++
	}
	return true
}

func (l *lru) removeElement(el *list.Element) {
	e := l.ll.Remove(el).(*entry)
	delete(l.items, e.key)
	l.bytes -= e.size()
}

// stats returns the entries, bytes and evictions so far.
func (l *lru) stats() (entries uint64, bytes int64, evictions uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.items)), l.bytes, l.evictions
}
