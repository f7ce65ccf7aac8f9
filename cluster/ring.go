package cluster

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// DefaultTokens is the number of virtual tokens each member gets on the
// ring. With 128 tokens the share of the key space per node stays within
// roughly ±15% of the mean (one standard deviation ≈ 1/√128 ≈ 9%); more
// tokens smooth the spread further but make the ring larger and walks
// longer.
const DefaultTokens = 128

// Member is one node as the ring sees it.
type Member struct {
	// ID is the node id, unique in the cluster. A member's ring positions
	// derive from its ID alone, so a node keeps its positions across
	// restarts and address changes.
	ID string
	// Zone is the member's failure domain (availability zone). The ring
	// spreads a key's owners over distinct (Region, Zone) pairs first.
	// Members that leave Zone empty share one unnamed zone per region.
	Zone string
	// Region is the region the zone belongs to. Two zones with the same
	// name in different regions are different failure domains.
	Region string
}

// Ring is a consistent-hash ring over a fixed set of members. It is
// immutable after NewRing and safe for concurrent use. Every node that
// builds a ring from the same member set gets the same ring, whatever the
// order in which it learnt the members.
type Ring struct {
	members []Member // sorted by ID, distinct
	zoneOf  []int32  // zoneOf[m] is the failure-domain index of members[m]
	zones   int      // number of distinct failure domains
	tokens  []uint64 // ascending; ties ordered by member index (= by ID)
	owner   []int32  // owner[j] is the member index holding tokens[j]
}

// NewRing builds the ring of members with tokens virtual tokens each
// (tokens < 1 selects DefaultTokens). Token i of a member is the xxhash64 of
// its ID bytes, a 0 byte and i as 4 bytes big-endian. Tokens are sorted,
// ties broken by member ID, so the input order of members never matters.
//
// Member IDs should be unique. If one appears more than once, the first
// occurrence in members is kept and the others are ignored (only then does
// input order matter: it decides which Zone and Region the ring uses).
// NewRing does not keep members.
func NewRing(members []Member, tokens int) *Ring {
	if tokens < 1 {
		tokens = DefaultTokens
	}
	ms := slices.Clone(members)
	// Stable, so that of equal IDs the first in input order comes first
	// and survives CompactFunc.
	slices.SortStableFunc(ms, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	ms = slices.CompactFunc(ms, func(a, b Member) bool { return a.ID == b.ID })
	ms = slices.Clip(ms)

	r := &Ring{members: ms, zoneOf: make([]int32, len(ms))}
	type domain struct{ region, zone string }
	zoneIdx := make(map[domain]int32)
	for i, m := range ms {
		d := domain{m.Region, m.Zone}
		z, ok := zoneIdx[d]
		if !ok {
			z = int32(len(zoneIdx))
			zoneIdx[d] = z
		}
		r.zoneOf[i] = z
	}
	r.zones = len(zoneIdx)

	type vnode struct {
		token uint64
		m     int32
	}
	vs := make([]vnode, 0, len(ms)*tokens)
	var buf []byte
	for i, m := range ms {
		buf = append(buf[:0], m.ID...)
		buf = append(buf, 0, 0, 0, 0, 0)
		ctr := buf[len(buf)-4:]
		for t := range tokens {
			binary.BigEndian.PutUint32(ctr, uint32(t))
			vs = append(vs, vnode{xxhash.Sum64(buf), int32(i)})
		}
	}
	slices.SortFunc(vs, func(a, b vnode) int {
		if c := cmp.Compare(a.token, b.token); c != 0 {
			return c
		}
		return cmp.Compare(a.m, b.m)
	})
	r.tokens = make([]uint64, len(vs))
	r.owner = make([]int32, len(vs))
	for j, v := range vs {
		r.tokens[j], r.owner[j] = v.token, v.m
	}
	return r
}

// Len is the number of distinct members.
func (r *Ring) Len() int { return len(r.members) }

// Members returns a copy of the ring's members, sorted by ID.
func (r *Ring) Members() []Member { return slices.Clone(r.members) }

// Owners returns up to n distinct member IDs for key, primary first: see
// AppendOwners.
func (r *Ring) Owners(key uint64, n int) []string {
	if n <= 0 || len(r.members) == 0 {
		return nil
	}
	return r.AppendOwners(make([]string, 0, min(n, len(r.members))), key, n)
}

// AppendOwners appends to dst the owners of key and returns the extended
// slice. It walks the ring clockwise from the first token ≥ key (wrapping
// around) and picks min(n, Len()) distinct members, zones first: in walk
// order, a member is taken while its zone is not yet among the chosen
// ones; the slots left are then filled with the other members in walk
// order. The first owner is the primary.
func (r *Ring) AppendOwners(dst []string, key uint64, n int) []string {
	var buf [16]int32
	idx := buf[:0]
	if n > len(buf) {
		idx = make([]int32, 0, min(n, len(r.members)))
	}
	for _, m := range r.appendOwnerIdx(idx, key, n) {
		dst = append(dst, r.members[m].ID)
	}
	return dst
}

// appendOwnerIdx is AppendOwners on member indices.
func (r *Ring) appendOwnerIdx(dst []int32, key uint64, n int) []int32 {
	want := min(n, len(r.members))
	if want <= 0 {
		return dst
	}
	start := len(dst)
	// Members passed over because their zone was taken, in walk order.
	// Only the first want of them can ever be needed.
	var dbuf [8]int32
	deferred := dbuf[:0]
	zonesUsed := 0
	nt := len(r.tokens)
	j := r.search(key)
	for range nt {
		m := r.owner[j]
		if j++; j == nt {
			j = 0
		}
		chosen := dst[start:]
		if slices.Contains(chosen, m) || slices.Contains(deferred, m) {
			continue
		}
		if r.zoneTaken(chosen, m) {
			if len(deferred) < want {
				deferred = append(deferred, m)
			}
		} else {
			dst = append(dst, m)
			zonesUsed++
			if len(dst)-start == want {
				return dst
			}
		}
		// Once every zone is used, every further member would be
		// deferred, in walk order: stop when there are enough.
		if zonesUsed == r.zones && len(dst)-start+len(deferred) >= want {
			break
		}
	}
	// A full lap meets every member, so there are enough deferred ones.
	return append(dst, deferred[:want-(len(dst)-start)]...)
}

// zoneTaken reports whether member m's zone is among the zones of chosen.
func (r *Ring) zoneTaken(chosen []int32, m int32) bool {
	for _, c := range chosen {
		if r.zoneOf[c] == r.zoneOf[m] {
			return true
		}
	}
	return false
}

// search returns the index of the first token ≥ key, wrapping to 0 past
// the last token.
func (r *Ring) search(key uint64) int {
	j, _ := slices.BinarySearch(r.tokens, key)
	if j == len(r.tokens) {
		j = 0
	}
	return j
}

// PartitionKey is the ring key of partition id of signal sig: the xxhash64
// of one byte holding sig followed by id as 4 bytes big-endian.
//
// Every node must compute the same key for a partition, in every version:
// never change this function, or every partition's desired owners change
// at once.
func PartitionKey(sig starlingpb.Signal, id uint32) uint64 {
	var b [5]byte
	b[0] = byte(sig)
	binary.BigEndian.PutUint32(b[1:], id)
	return xxhash.Sum64(b[:])
}
