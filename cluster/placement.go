package cluster

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/cespare/xxhash/v2"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// Slot is one partition of one signal: the unit that Place assigns.
type Slot struct {
	Signal starlingpb.Signal
	ID     uint32
}

// AllSlots lists the partitions 0…partitions-1 of every signal in the order
// the cluster places them: partition by partition, the signals interleaved
// (traces 0, logs 0, metrics 0, traces 1, …), so that consecutive slots
// spread over the signals.
func AllSlots(partitions int, signals []starlingpb.Signal) []Slot {
	out := make([]Slot, 0, max(partitions, 0)*len(signals))
	for id := range max(partitions, 0) {
		for _, sig := range signals {
			out = append(out, Slot{Signal: sig, ID: uint32(id)})
		}
	}
	return out
}

// PlaceConfig configures Place.
type PlaceConfig struct {
	// Tokens is the number of virtual tokens per member on the ring Place
	// builds (see NewRing). More tokens spread the hash more evenly and
	// make walks longer. Must be ≥ 1.
	Tokens int
	// LoadFactor bounds each member's load: with K slots and N members, no
	// member owns more than max(⌈rf·K/N⌉, ⌊LoadFactor·rf·K/N⌋) slots in
	// all, nor is primary of more than max(⌈K/N⌉, ⌊LoadFactor·K/N⌋); each
	// signal is bounded likewise (see Place). 1.0 is the tightest balance
	// and moves the most slots when members come and go; larger values
	// behave more and more like plain consistent hashing (less movement,
	// worse balance). Must be ≥ 1.
	LoadFactor float64
	// ReplicationFactor is the number of owners per slot, primary
	// included. Place gives fewer when there are fewer members. Must be ≥ 1.
	ReplicationFactor int
}

// DefaultPlaceConfig is 128 tokens, a load factor of 1.10 (the balance
// target: no node above 110% of the mean) and one owner per slot.
func DefaultPlaceConfig() PlaceConfig {
	return PlaceConfig{Tokens: DefaultTokens, LoadFactor: 1.10, ReplicationFactor: 1}
}

// Validate reports the first invalid field.
func (c PlaceConfig) Validate() error {
	switch {
	case c.Tokens < 1:
		return fmt.Errorf("placement tokens: %d, want ≥ 1", c.Tokens)
	case math.IsNaN(c.LoadFactor) || math.IsInf(c.LoadFactor, 0) || c.LoadFactor < 1:
		return fmt.Errorf("placement load factor: %v, want a finite number ≥ 1", c.LoadFactor)
	case c.ReplicationFactor < 1:
		return fmt.Errorf("placement replication factor: %d, want ≥ 1", c.ReplicationFactor)
	}
	return nil
}

// Place computes the desired owners of slots on members: consistent
// hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam,
// "Consistent Hashing with Bounded Loads", SODA 2018). Plain consistent
// hashing cannot meet the balance target: with 768 slots, a few dozen per
// node, the hash alone put up to 1.78 times the mean on one node in tests
// with 3–50 nodes. Bounding every member's load keeps it within
// LoadFactor of the mean, while a join or leave still moves few slots.
//
// The result holds one entry per slot, in slot order: min(rf, N) distinct
// member IDs, primary first. It is a function of the member set, the slots
// and cfg. The order of members does not matter; the order of slots only
// breaks ties and orders the rare chains described below.
//
// Each slot ranks the members in the order its ring walk meets them,
// starting at PartitionKey(slot). Each member ranks the slots by their
// distance to it (how far the walk goes from the slot's key to the
// member's first token): nearest first. Place then runs two rounds of
// deferred acceptance (Gale–Shapley), whose outcome does not depend on
// the order in which slots propose:
//
//  1. Owners: every slot picks rf members among those that have not
//     refused it, in its order, one per zone first (as Ring.Owners does),
//     and proposes to them. A member holds at most capacity(rf·K) slots in
//     all and about LoadFactor·rf·K_sig/N of each signal (see below); it
//     keeps the nearest slots and refuses the others, which pick again.
//  2. Primaries: every slot proposes to its owners, in Ring.Owners order,
//     until one holds it as primary, now within the bounds for one copy:
//     capacity(K) in all and about LoadFactor·K_sig/N per signal.
//
// Here K is the number of slots, K_sig the number of one signal, N the
// number of members and capacity(k) = max(⌈k/N⌉, ⌊LoadFactor·k/N⌋), so no
// member owns more than LoadFactor times the mean, counting all owners or
// primaries only. Deferred acceptance can leave a slot refused by every
// candidate although there is room elsewhere; Place then makes room along
// a shortest chain of members, each giving up one slot to the next. Only
// if there is no such chain does it exceed a bound (on the least loaded
// candidate); with 3–50 members and 768 slots, that never happened in
// tests.
//
// The per-signal bound is rounded per member, down or up, so that the
// bounds add up to LoadFactor·K_sig; which members round up is decided by
// a hash of their ID and the signal. A member may thus own one slot of a
// signal more than LoadFactor times the mean. Rounding everyone the same
// way would shift every member's bound at once whenever N crosses a step,
// and move many slots for nothing.
//
// With no pressure (a large LoadFactor) a slot's owners are exactly
// Ring.Owners(PartitionKey(slot), rf). Under pressure, zone spread gives
// way to balance: a slot refused by the members of a zone it lacks takes
// the next member in its order, whatever its zone. That happens when zones
// differ in size so much that a small zone cannot hold a copy of every
// slot within the bound.
//
// Place panics if cfg is invalid: validate configuration at start-up. It
// takes about 2.5 ms for 50 members, 768 slots and rf = 3.
func Place(members []Member, slots []Slot, cfg PlaceConfig) [][]string {
	if err := cfg.Validate(); err != nil {
		panic("BUG: cluster: Place with an invalid config (validate it at start-up): " + err.Error())
	}
	r := NewRing(members, cfg.Tokens)
	p := newPlacer(r, slots, cfg)
	p.run()
	out := make([][]string, len(slots))
	ids := make([]string, len(p.owners))
	for i, m := range p.owners {
		ids[i] = r.members[m].ID
	}
	for s := range out {
		out[s] = ids[s*p.rf : (s+1)*p.rf : (s+1)*p.rf]
	}
	return out
}

// placer holds the state of one Place run. Members are ring indices and
// slots are indices into the slot list.
type placer struct {
	r      *Ring
	n      int // members
	rf     int // owners per slot, ≤ n
	lf     float64
	sigOf  []int32 // signal index per slot
	perSig []int   // slots per signal index
	// sigOrder[sig*n+m] is member m's position in signal sig's own hash
	// order, which decides who gets the odd extra slot (see setRoom).
	sigOrder []int32

	// walk[s*n:(s+1)*n] lists every member in the order the ring walk
	// from slot s's key meets them; dist[s*n+m] is the clockwise distance
	// from the key to m's first token at or after it. A slot prefers the
	// members it meets first, a member the slots nearest to it.
	walk []int32
	dist []uint64

	owners []int32 // owners[s*rf+i], primary first once run returns

	// Deferred acceptance state.
	room    []int     // slots member m may hold
	sigRoom []int     // [sig*n+m]: slots of signal sig member m may hold
	held    [][]int32 // slots each member holds, nearest first
	got     []int     // members holding each slot
	count   []int     // scratch: per-signal counts in propose

	augmented int // slots completed by augment (tests)
	overflows int // slots placed above capacity (tests)
}

func newPlacer(r *Ring, slots []Slot, cfg PlaceConfig) *placer {
	n := r.Len()
	p := &placer{r: r, n: n, lf: cfg.LoadFactor}
	if n == 0 {
		return p
	}
	p.rf = min(cfg.ReplicationFactor, n)
	k := len(slots)
	p.sigOf = make([]int32, k)
	var sigs []starlingpb.Signal
	for s, sl := range slots {
		i := slices.Index(sigs, sl.Signal)
		if i < 0 {
			i = len(sigs)
			sigs = append(sigs, sl.Signal)
			p.perSig = append(p.perSig, 0)
		}
		p.sigOf[s] = int32(i)
		p.perSig[i]++
	}
	p.sigOrder = make([]int32, len(sigs)*n)
	order := make([]int32, n)
	hash := make([]uint64, n)
	var buf []byte
	for i, sig := range sigs {
		for m := range n {
			buf = append(append(buf[:0], r.members[m].ID...), 0, byte(sig))
			hash[m] = xxhash.Sum64(buf)
			order[m] = int32(m)
		}
		slices.SortFunc(order, func(a, b int32) int { return cmp.Or(cmp.Compare(hash[a], hash[b]), cmp.Compare(a, b)) })
		for at, m := range order {
			p.sigOrder[i*n+int(m)] = int32(at)
		}
	}

	p.walk = make([]int32, 0, k*n)
	p.dist = make([]uint64, k*n)
	met := make([]bool, n)
	nt := len(r.tokens)
	for s, sl := range slots {
		key := PartitionKey(sl.Signal, sl.ID)
		clear(met)
		for j, left := r.search(key), n; left > 0; {
			if m := r.owner[j]; !met[m] {
				met[m] = true
				left--
				p.walk = append(p.walk, m)
				p.dist[s*n+int(m)] = r.tokens[j] - key // modulo 2⁶⁴: clockwise
			}
			if j++; j == nt {
				j = 0
			}
		}
	}

	p.owners = make([]int32, k*p.rf)
	p.room = make([]int, n)
	p.sigRoom = make([]int, len(sigs)*n)
	p.held = make([][]int32, n)
	p.got = make([]int, k)
	p.count = make([]int, len(sigs))
	return p
}

// capacity is max(⌈k/n⌉, ⌊lf·k/n⌋): at least the perfect share, so that n
// members can always hold k slots.
func capacity(k, n int, lf float64) int {
	c := (k + n - 1) / n
	// The epsilon keeps e.g. 1.1·100/10 = 11.000000000000002 and
	// 10.999999999999998 both at 11.
	return max(c, int(math.Floor(lf*float64(k)/float64(n)+1e-9)))
}

// setRoom sets the rooms for placing copies owners of every slot: each
// member may hold capacity(copies·K) of them in all. For each signal the
// bound is lf·copies·K_sig/N, rounded per member: ⌊·⌋ or ⌊·⌋+1, with just
// enough members (the first in the signal's hash order) rounded up that
// the rooms add up to at least lf·copies·K_sig. Rounding the same way for
// everyone would shift every member's bound at once when N crosses a
// step, and move many slots for nothing; this way a join or leave changes
// the rounding of a few members only.
func (p *placer) setRoom(copies int) {
	c := capacity(copies*len(p.sigOf), p.n, p.lf)
	for m := range p.n {
		p.room[m] = c
	}
	for sig, ks := range p.perSig {
		t := p.lf * float64(copies*ks) / float64(p.n)
		fl := int(math.Floor(t + 1e-9))
		up := int(math.Ceil(float64(p.n)*t-1e-9)) - p.n*fl // members rounded up
		for m := range p.n {
			c := fl
			if int(p.sigOrder[sig*p.n+m]) < up {
				c++
			}
			p.sigRoom[sig*p.n+m] = c
		}
	}
}

func (p *placer) run() {
	k := len(p.sigOf)
	if p.n == 0 || k == 0 {
		return
	}
	// Owners: every slot wants rf members, one per zone first.
	p.setRoom(p.rf)
	p.match(p.rf, func(s int) []int32 { return p.walk[s*p.n : (s+1)*p.n] }, true)
	clear(p.got)
	for m, held := range p.held {
		for _, s := range held {
			p.owners[int(s)*p.rf+p.got[s]] = int32(m)
			p.got[s]++
		}
	}
	// Order each slot's owners as Ring.Owners would.
	ordered := make([]int32, 0, p.rf)
	for s := range k {
		own := p.owners[s*p.rf : (s+1)*p.rf]
		ordered = p.choose(ordered[:0], p.walk[s*p.n:(s+1)*p.n], p.rf, true,
			func(m int32) bool { return slices.Contains(own, m) })
		copy(own, ordered)
	}
	if p.rf == 1 {
		return
	}
	// Primaries: every slot wants one of its owners, in that order.
	p.setRoom(1)
	p.match(1, func(s int) []int32 { return p.owners[s*p.rf : (s+1)*p.rf] }, false)
	for m, held := range p.held {
		for _, s := range held {
			own := p.owners[int(s)*p.rf : (int(s)+1)*p.rf]
			i := slices.Index(own, int32(m))
			copy(own[1:i+1], own[:i]) // keep the others in order
			own[0] = int32(m)
		}
	}
}

// choose appends to dst the members a slot picks from list, in order, among
// those that avail allows: want of them, and when zoneFirst, one per zone
// first (as Ring.Owners does), then the others.
func (p *placer) choose(dst, list []int32, want int, zoneFirst bool, avail func(m int32) bool) []int32 {
	start := len(dst)
	if zoneFirst {
		for _, m := range list {
			if len(dst)-start == want {
				return dst
			}
			if avail(m) && !p.r.zoneTaken(dst[start:], m) {
				dst = append(dst, m)
			}
		}
	}
	for _, m := range list {
		if len(dst)-start == want {
			break
		}
		if avail(m) && !slices.Contains(dst[start:], m) {
			dst = append(dst, m)
		}
	}
	return dst
}

// match is many-to-many deferred acceptance (Gale and Shapley; Roth): each
// slot picks want candidates with choose among those that have not
// rejected it and proposes to them; a member holds the nearest slots its
// rooms allow and rejects the others, which then pick again. Both sides'
// choices are substitutable (a candidate chosen from a set is still chosen
// from any subset holding it: zone first on the slot side, greedy under
// laminar rooms on the member side), so the outcome is the slot-optimal
// stable matching, whatever the order of proposals.
//
// A slot that runs out of candidates is completed by augment or, failing
// that, given the least loaded candidate above its rooms (overflows).
func (p *placer) match(want int, cands func(s int) []int32, zoneFirst bool) {
	k, n := len(p.sigOf), p.n
	hold := make([]int32, k*want) // hold[s*want:][:got[s]]: members holding s
	rej := make([]bool, k*n)      // rej[s*n+m]: m rejected s
	queue := make([]int32, 0, k)
	for s := k - 1; s >= 0; s-- {
		p.got[s] = 0
		queue = append(queue, int32(s))
	}
	for m := range p.held {
		p.held[m] = p.held[m][:0]
	}
	drop := func(m, s int32) { // m rejects s
		h := hold[int(s)*want : int(s)*want+p.got[s]]
		i := slices.Index(h, m)
		h[i] = h[len(h)-1]
		p.got[s]--
		rej[int(s)*n+int(m)] = true
		queue = append(queue, s)
	}
	var short []int32
	picked := make([]int32, 0, want)
	for len(queue) > 0 {
		s := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for p.got[s] < want {
			picked = p.choose(picked[:0], cands(int(s)), want, zoneFirst,
				func(m int32) bool { return !rej[int(s)*n+int(m)] })
			h := hold[int(s)*want : int(s)*want+p.got[s]]
			i := slices.IndexFunc(picked, func(m int32) bool { return !slices.Contains(h, m) })
			if i < 0 {
				short = append(short, s) // every candidate left holds it
				break
			}
			m := picked[i]
			hold[int(s)*want+p.got[s]] = m
			p.got[s]++
			p.propose(m, s, drop)
		}
	}
	// A slot may have been found short more than once, and completed
	// since.
	slices.Sort(short)
	short = slices.Compact(short)
	for _, s := range short {
		for p.got[s] < want {
			if p.augment(s, cands) {
				p.got[s]++
				p.augmented++
				continue
			}
			// Last resort, above capacity: the least loaded candidate.
			best := int32(-1)
			for _, m := range cands(int(s)) {
				if !slices.Contains(p.held[m], s) && (best < 0 || len(p.held[m]) < len(p.held[best])) {
					best = m
				}
			}
			if best < 0 {
				panic("BUG: cluster: no member left to place a slot on")
			}
			p.insert(best, s)
			p.got[s]++
			p.overflows++
		}
	}
}

// augment finds a member for slot s when every candidate refused it: a
// shortest chain s → m₁ (which gives up s₁) → m₂ (which gives up s₂) → …
// → m_k, which has room for s_{k-1}. Every member on the chain keeps its
// load within its rooms. Deferred acceptance gives a stable outcome, not
// always a complete one; this completes it wherever the rooms allow. It
// reports whether it found a chain.
func (p *placer) augment(s int32, cands func(s int) []int32) bool {
	type step struct {
		slot int32 // slot to place
		from int   // index of the step whose member gave it up (-1: s)
		via  int32 // member that gave it up
	}
	steps := []step{{s, -1, -1}}
	seenSlot := make([]bool, len(p.sigOf))
	seenSlot[s] = true
	seenMember := make([]bool, p.n)
	for i := 0; i < len(steps); i++ {
		x := steps[i].slot
		for _, m := range cands(int(x)) {
			if seenMember[m] || slices.Contains(p.held[m], x) {
				continue
			}
			seenMember[m] = true
			if p.fits(m, x, -1) {
				// Apply the chain backwards: m takes x, the member
				// that gave x up takes the slot before, and so on.
				p.insert(m, x)
				for j := i; steps[j].from >= 0; j = steps[j].from {
					v := steps[j].via
					p.remove(v, steps[j].slot)
					p.insert(v, steps[steps[j].from].slot)
				}
				return true
			}
			for _, y := range p.held[m] {
				if !seenSlot[y] && p.fits(m, x, y) {
					seenSlot[y] = true
					steps = append(steps, step{y, i, m})
				}
			}
		}
	}
	return false
}

// propose offers slot s to member m, which keeps the nearest slots that
// its rooms allow: greedily, nearest first, a slot is kept while the
// member's room and its room for the slot's signal both allow. It calls
// reject for the others (at most one: the rooms form a laminar matroid).
func (p *placer) propose(m, s int32, reject func(m, s int32)) {
	p.insert(m, s)
	held := p.held[m]
	clear(p.count)
	total, kept := 0, 0
	var out [2]int32
	rejected := out[:0]
	for _, h := range held {
		sig := p.sigOf[h]
		if total < p.room[m] && p.count[sig] < p.sigRoom[int(sig)*p.n+int(m)] {
			total++
			p.count[sig]++
			held[kept] = h
			kept++
			continue
		}
		rejected = append(rejected, h)
	}
	p.held[m] = held[:kept]
	for _, h := range rejected {
		reject(m, h)
	}
}

// fits reports whether member m, giving up slot out (-1: none), has room
// for slot in.
func (p *placer) fits(m, in, out int32) bool {
	held := p.held[m]
	total := len(held)
	sig := p.sigOf[in]
	same := 0
	for _, h := range held {
		if p.sigOf[h] == sig {
			same++
		}
	}
	if out >= 0 {
		total--
		if p.sigOf[out] == sig {
			same--
		}
	}
	return total < p.room[m] && same < p.sigRoom[int(sig)*p.n+int(m)]
}

// insert adds slot s to member m's held slots, keeping them nearest first.
func (p *placer) insert(m, s int32) {
	n := p.n
	i, _ := slices.BinarySearchFunc(p.held[m], s, func(a, b int32) int {
		return cmp.Or(cmp.Compare(p.dist[int(a)*n+int(m)], p.dist[int(b)*n+int(m)]), cmp.Compare(a, b))
	})
	p.held[m] = slices.Insert(p.held[m], i, s)
}

// remove drops slot s from member m's held slots.
func (p *placer) remove(m, s int32) {
	p.held[m] = slices.DeleteFunc(p.held[m], func(h int32) bool { return h == s })
}

// Skew is the imbalance of a placement: the largest number of slots any
// member owns, counting every rank, divided by the mean over members. 1.0
// is perfect balance; 0 means no members or no owners. Owners that are not
// in members are ignored.
func Skew(placement [][]string, members []Member) float64 {
	return skew(placement, members, false)
}

// PrimarySkew is Skew counting primaries (rank 0) only.
func PrimarySkew(placement [][]string, members []Member) float64 {
	return skew(placement, members, true)
}

func skew(placement [][]string, members []Member, primaries bool) float64 {
	load := make(map[string]int, len(members))
	for _, m := range members {
		load[m.ID] = 0
	}
	total := 0
	for _, owners := range placement {
		if primaries && len(owners) > 1 {
			owners = owners[:1]
		}
		for _, id := range owners {
			if c, ok := load[id]; ok {
				load[id] = c + 1
				total++
			}
		}
	}
	if len(load) == 0 || total == 0 {
		return 0
	}
	most := 0
	for _, c := range load {
		most = max(most, c)
	}
	return float64(most) * float64(len(load)) / float64(total)
}
