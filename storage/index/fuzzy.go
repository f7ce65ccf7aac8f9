package index

import (
	"cmp"
	"slices"
	"strings"
)

// MaxFuzzyDist is the largest edit distance Fuzzy searches; larger
// arguments are lowered to it (at distance 3 nearly every short prefix is
// within reach and the search stops pruning).
const MaxFuzzyDist = 2

// Fuzzy returns up to limit names within edit distance maxDist of q, by
// ascending distance, then ascending name (byte order); a limit ≤ 0 returns
// every match. A negative maxDist returns nothing; one above MaxFuzzyDist is
// lowered to it.
//
// The distance is the optimal string alignment distance (restricted
// Damerau–Levenshtein): insertions, deletions and substitutions of a byte
// and transpositions of two adjacent bytes each cost 1, and no substring is
// edited twice. It is computed over bytes, which for ASCII names (all the
// OpenTelemetry semantic conventions) are characters; a non-ASCII character
// counts as the edits of its UTF-8 bytes.
//
// The search walks the trie keeping one dynamic-programming row per depth,
// restricted to the five cells of the band |depth - j| ≤ MaxFuzzyDist
// around the diagonal (any cell farther than maxDist from it exceeds
// maxDist) and capped at maxDist+1, and abandons a subtree as soon as a
// row's minimum exceeds maxDist (every cell of the next row is at least that
// minimum, for transpositions too), so it visits only the nodes whose paths
// are within maxDist of a prefix of q, at a constant cost per byte.
func (t *Trie) Fuzzy(q string, maxDist, limit int) []Entry {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.r.fuzzy(q, maxDist, false, limit)
}

// FuzzyFold is Fuzzy with ASCII case folding: bytes that differ only in the
// case of an A–Z letter are equal.
func (t *Trie) FuzzyFold(q string, maxDist, limit int) []Entry {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.r.fuzzy(q, maxDist, true, limit)
}

// fuzzySearch is the state of one fuzzy lookup over a radix.
type fuzzySearch struct {
	r        *radix
	q        []byte // the query, folded if fold
	k        int    // maximum distance
	fold     bool
	top      uint8 // k+1, the cap of every cell
	maxDepth int   // len(q)+k: deeper names are too long
	rows     []fuzzyRow
	name     []byte // the path being visited, as stored
	key      []byte // the path folded if fold, else name
	out      []Entry
}

// fuzzy implements Fuzzy and FuzzyFold.
func (r *radix) fuzzy(q string, maxDist int, fold bool, limit int) []Entry {
	if len(r.nodes) == 0 || maxDist < 0 || len(q) > MaxNameLen+MaxFuzzyDist {
		return nil
	}
	k := min(maxDist, MaxFuzzyDist)
	s := &fuzzySearch{r: r, k: k, fold: fold, top: uint8(k + 1)}
	s.maxDepth = min(len(q)+k, MaxNameLen)
	s.q = []byte(q)
	if fold {
		for i, c := range s.q {
			s.q[i] = lower(c)
		}
	}
	s.rows = make([]fuzzyRow, s.maxDepth+1)
	s.name = make([]byte, s.maxDepth)
	s.key = s.name
	if fold {
		s.key = make([]byte, s.maxDepth)
	}
	// Row 0: D[0][j] = j.
	for off := range bandWidth {
		j := off - MaxFuzzyDist
		if j < 0 || j > len(s.q) {
			s.rows[0][off] = s.top
		} else {
			s.rows[0][off] = min(uint8(j), s.top)
		}
	}
	s.visit(0, 0)
	slices.SortFunc(s.out, func(a, b Entry) int {
		if c := cmp.Compare(a.Dist, b.Dist); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	if limit > 0 && len(s.out) > limit {
		s.out = s.out[:limit:limit]
	}
	return s.out
}

// visit reports node n, whose path is name[:depth] and whose rows up to
// depth are computed, if it matches, then descends into its children.
func (s *fuzzySearch) visit(n int32, depth int) {
	r := s.r
	nd := &r.nodes[n]
	if nd.count > 0 {
		if d := s.dist(depth); d <= s.k {
			s.out = append(s.out, Entry{Name: string(s.name[:depth]), Tags: nd.tags, Count: uint64(nd.count), Dist: d})
		}
	}
	if depth == s.maxDepth {
		return
	}
	for ch := nd.child; ch != 0; ch = r.nodes[ch].next {
		// Most subtrees die at the first byte, which the node holds: try it
		// before reading the label from the arena.
		if !s.step(depth, r.nodes[ch].first) {
			continue
		}
		d, alive := depth+1, true
		for _, c := range r.label(ch)[1:] {
			if d == s.maxDepth || !s.step(d, c) {
				alive = false
				break
			}
			d++
		}
		if alive {
			s.visit(ch, d)
		}
	}
}

// step appends byte c at depth d of the path, computes row d+1 and reports
// whether it is within the maximum distance.
func (s *fuzzySearch) step(d int, c byte) bool {
	s.name[d] = c
	if s.fold {
		s.key[d] = lower(c)
	}
	return s.row(d + 1)
}

// bandWidth is the number of cells kept per row: the diagonal band
// |i - j| ≤ MaxFuzzyDist. For a smaller maximum distance k the outer cells
// are computed too; they hold D ≥ |i - j| > k, so they come out capped at
// k+1 like any cell out of reach.
const bandWidth = 2*MaxFuzzyDist + 1

// fuzzyRow is one row of the band: cell j of row i is at offset
// j - i + MaxFuzzyDist.
type fuzzyRow [bandWidth]uint8

// dist returns D[depth][len(q)], or k+1 when it is outside the band.
func (s *fuzzySearch) dist(depth int) int {
	off := len(s.q) - depth + MaxFuzzyDist
	if off < 0 || off >= bandWidth {
		return s.k + 1
	}
	return int(s.rows[depth][off])
}

// row computes row i from rows i-1 and i-2 and reports whether its minimum
// is within the maximum distance. Cells are capped at k+1.
func (s *fuzzySearch) row(i int) bool {
	top, q := s.top, s.q
	cur, prev := &s.rows[i], &s.rows[i-1]
	prev2, b := &s.rows[0], byte(0) // row i-2 and name byte i-1, for transpositions
	if i >= 2 {
		prev2, b = &s.rows[i-2], s.key[i-2]
	}
	a := s.key[i-1]
	// The offsets whose j is inside the matrix, 0 ≤ j ≤ len(q).
	lo, hi := max(0, MaxFuzzyDist-i), min(bandWidth-1, len(q)-i+MaxFuzzyDist)
	least, left := top, top
	for off := range bandWidth {
		if off < lo || off > hi {
			cur[off], left = top, top
			continue
		}
		j := i + off - MaxFuzzyDist
		var v uint8
		if j == 0 {
			v = uint8(min(i, int(top))) // D[i][0] = i
		} else {
			up := top // D[i-1][j], outside the band on the last offset
			if off+1 < bandWidth {
				up = prev[off+1]
			}
			v = min(up, left) + 1 // a deletion or an insertion
			sub := prev[off]      // D[i-1][j-1], plus a substitution if needed
			if c := q[j-1]; a != c {
				sub++
				if i >= 2 && j >= 2 && b == c && a == q[j-2] {
					sub = min(sub, prev2[off]+1) // D[i-2][j-2] + 1: a transposition
				}
			}
			v = min(v, sub, top)
		}
		cur[off], left = v, v
		least = min(least, v)
	}
	return least < top
}
