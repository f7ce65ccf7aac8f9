package storage

// Common terms. A posting list is worth writing only for a term that
// narrows a search: for a term present in most span groups of a partition
// (the service, a host, an attribute every span carries), scanning the
// group records newest first finds matches as fast as the postings would,
// and the postings are most of the write path's keys. So every group record
// carries a forward index (each of its terms with the bitmap of its spans),
// and once a term is common in a partition and window:
//
//  1. the builder writes a marker [p][kindCommonTerm][term] in that window;
//  2. once the marker is committed (it is in the SeenCache), the builder
//     stops writing the term's postings there.
//
// A reader that finds a marker does not use the term's postings (they may
// stop at any time) but checks the term in the group records; a term
// without a marker has every posting. Markers are idempotent and may be
// written by several builders; a builder that forgot (a restart) writes
// postings again until it counts the term common again, which only costs
// space.

const (
	// commonMinGroups is how many groups of a partition and window must
	// carry a term before it can be common.
	commonMinGroups = 64
	// commonShare: a term is common when it is in at least 1/commonShare
	// of the partition's groups of the window (so a search scanning group
	// records meets a match every commonShare groups or sooner, on average).
	commonShare = 4
	// maxTermStats bounds the counters a builder keeps; past it they start
	// over.
	maxTermStats = 1 << 20
)

type partWindow struct {
	window int64
	p      uint32
}

type termKey struct {
	partWindow
	term uint64
}

// termCounts counts, per partition and window, the span groups a builder
// wrote and how many of them carried each term. Owned by one builder.
type termCounts struct {
	groups map[partWindow]int32
	terms  map[termKey]int32
}

// group counts one more group of partition p in window and returns the
// count.
func (c *termCounts) group(window int64, p uint32) int32 {
	if c.groups == nil || len(c.terms) >= maxTermStats {
		c.groups = make(map[partWindow]int32)
		c.terms = make(map[termKey]int32)
	}
	k := partWindow{window, p}
	c.groups[k]++
	return c.groups[k]
}

// common counts one more group carrying term and reports whether the term
// is now common.
func (c *termCounts) common(window int64, p uint32, term uint64, groups int32) bool {
	k := termKey{partWindow{window, p}, term}
	c.terms[k]++
	n := c.terms[k]
	return n >= commonMinGroups && n*commonShare >= groups
}

func commonTermKey(dst []byte, p uint32, term uint64) []byte {
	dst = appendHeader(dst, p, kindCommonTerm)
	return appendFixed64(dst, term)
}
