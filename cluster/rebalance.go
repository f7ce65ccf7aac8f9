package cluster

import "slices"

// Rebalance changes a placement for a new member set with the fewest
// moves that bring it back within Place's balance bounds: it is what the
// rebalancer applies when a node joins or leaves, where Place (a function
// of the member set alone) would move about twice as many slots.
//
// current holds the owners of every slot (primary first), as the
// partition table has them; owners that are not members any more are
// dropped. Then, with T = min(rf, N)·K owner slots over N members:
//
//  1. Fill: a slot short of min(rf, N) owners takes the first member of its
//     ring walk below ⌊T/N⌋, else below ⌈T/N⌉ (zones the slot lacks
//     first).
//  2. Even out: while a member owns fewer than ⌊T/N⌋ slots, or more than
//     capacity(T) = max(⌈T/N⌉, ⌊LoadFactor·T/N⌋), the most loaded member
//     hands one slot to the least loaded one: the slot whose ring walk
//     meets the receiver soonest, keeping zones spread where it can.
//  3. Primaries: a slot keeps its primary while that member still owns it;
//     otherwise the owner with the fewest primaries takes it. Then
//     primaries flip between owners (no data moves) until each member
//     leads between ⌊K/N⌋ and capacity(K) slots.
//
// So a join moves about T/N' owner slots, all to the new member, and a
// leave moves exactly the departed member's slots; nothing else moves.
// The result is deterministic for the same inputs. Rebalance panics if cfg
// is invalid, as Place does.
func Rebalance(current [][]string, members []Member, slots []Slot, cfg PlaceConfig) [][]string {
	if err := cfg.Validate(); err != nil {
		panic("BUG: cluster: Rebalance with an invalid config (validate it at start-up): " + err.Error())
	}
	if len(current) != len(slots) {
		panic("BUG: cluster: Rebalance: current placement and slots differ in length")
	}
	ring := NewRing(members, cfg.Tokens)
	n := ring.Len()
	out := make([][]string, len(slots))
	if n == 0 {
		return out
	}
	r := min(cfg.ReplicationFactor, n)
	b := &balancer{ring: ring, slots: slots, owners: out, load: map[string]int{}, lead: map[string]int{}, zone: map[string]string{}}
	for _, m := range ring.Members() {
		b.ids = append(b.ids, m.ID)
		b.zone[m.ID] = m.Region + "\x00" + m.Zone
		b.load[m.ID], b.lead[m.ID] = 0, 0
	}
	for i, cur := range current {
		for _, id := range cur {
			if _, ok := b.load[id]; ok && !slices.Contains(out[i], id) && len(out[i]) < r {
				out[i] = append(out[i], id)
				b.load[id]++
			}
		}
	}
	total := r * len(slots)
	hi := ceilDiv(total, n)
	for i := range out {
		for len(out[i]) < r {
			b.add(i, b.pick(i, total/n, hi))
		}
	}
	for b.evenOut(LoadBounds(total, n, cfg.LoadFactor)) {
	}
	// Primaries: keep, else the least leading owner.
	for i, o := range out {
		if len(current[i]) > 0 && len(o) > 0 && o[0] == current[i][0] {
			b.lead[o[0]]++
			continue
		}
		best := 0
		for j, id := range o {
			if b.lead[id] < b.lead[o[best]] {
				best = j
			}
		}
		o[0], o[best] = o[best], o[0]
		b.lead[o[0]]++
	}
	capLead := capacity(len(slots), n, cfg.LoadFactor)
	for b.evenLeads(len(slots)/n, capLead) {
	}
	return out
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// LoadBounds are the fewest and the most of total owner slots that
// Rebalance leaves on each of n members: ⌊total/n⌋ and capacity(total) =
// max(⌈total/n⌉, ⌊loadFactor·total/n⌋). A placement whose every member is
// within them is one Rebalance keeps as it is (given the same members and
// full slots), so other deciders (the size balancer) move copies within
// them.
func LoadBounds(total, n int, loadFactor float64) (lo, hi int) {
	return total / n, capacity(total, n, loadFactor)
}

// balancer holds a placement being rebalanced and each member's load.
type balancer struct {
	ring   *Ring
	slots  []Slot
	owners [][]string
	ids    []string // members, sorted
	zone   map[string]string
	load   map[string]int // owner slots per member
	lead   map[string]int // primaries per member
}

func (b *balancer) add(i int, id string) {
	b.owners[i] = append(b.owners[i], id)
	b.load[id]++
}

// pick chooses a new owner for slot i: the first member of its ring walk
// below floor, then below limit, in a zone the slot lacks first; else the
// least loaded non-owner.
func (b *balancer) pick(i int, floor, limit int) string {
	walk := b.ring.Owners(PartitionKey(b.slots[i].Signal, b.slots[i].ID), b.ring.Len())
	zones := map[string]bool{}
	for _, id := range b.owners[i] {
		zones[b.zone[id]] = true
	}
	for _, below := range []int{floor, limit} {
		for _, newZone := range []bool{true, false} {
			for _, id := range walk {
				if !slices.Contains(b.owners[i], id) && b.load[id] < below && (!newZone || !zones[b.zone[id]]) {
					return id
				}
			}
		}
	}
	best := ""
	for _, id := range walk {
		if !slices.Contains(b.owners[i], id) && (best == "" || b.load[id] < b.load[best]) {
			best = id
		}
	}
	return best
}

// extremes returns the least and the most loaded members of m (ties: the
// lowest id).
func (b *balancer) extremes(m map[string]int) (least, most string) {
	for _, id := range b.ids {
		if least == "" || m[id] < m[least] {
			least = id
		}
		if most == "" || m[id] > m[most] {
			most = id
		}
	}
	return least, most
}

// evenOut moves one owner slot from the most to the least loaded member if
// one is below floor or above limit, and reports whether it did.
func (b *balancer) evenOut(floor, limit int) bool {
	least, most := b.extremes(b.load)
	if (b.load[least] >= floor && b.load[most] <= limit) || b.load[most]-b.load[least] < 2 {
		return false
	}
	// The slot of most that least does not own whose walk meets least
	// soonest, preferring one where least brings no duplicate zone.
	bestSlot, bestRank, bestZoneOK := -1, 0, false
	for i, o := range b.owners {
		j := slices.Index(o, most)
		if j < 0 || slices.Contains(o, least) {
			continue
		}
		zoneOK := true
		for _, id := range o {
			if id != most && b.zone[id] == b.zone[least] {
				zoneOK = false
			}
		}
		rank := b.rank(i, least)
		if bestSlot < 0 || (zoneOK && !bestZoneOK) || (zoneOK == bestZoneOK && rank < bestRank) {
			bestSlot, bestRank, bestZoneOK = i, rank, zoneOK
		}
	}
	if bestSlot < 0 {
		return false
	}
	o := b.owners[bestSlot]
	o[slices.Index(o, most)] = least
	b.load[most]--
	b.load[least]++
	return true
}

// rank is how far slot i's ring walk goes before it meets member id.
func (b *balancer) rank(i int, id string) int {
	return slices.Index(b.ring.Owners(PartitionKey(b.slots[i].Signal, b.slots[i].ID), b.ring.Len()), id)
}

// evenLeads flips one primary from the member leading the most slots to
// another owner of that slot leading fewer, if the most is above limit or
// the least below floor, and reports whether it did.
func (b *balancer) evenLeads(floor, limit int) bool {
	least, most := b.extremes(b.lead)
	if b.lead[least] >= floor && b.lead[most] <= limit {
		return false
	}
	// Prefer a flip that hands the primary straight to the least leading
	// member; else to the least leading co-owner of any slot of most.
	bestSlot, bestTo := -1, ""
	for i, o := range b.owners {
		if o[0] != most {
			continue
		}
		for _, id := range o[1:] {
			if bestSlot < 0 || b.lead[id] < b.lead[bestTo] || (id == least && bestTo != least) {
				bestSlot, bestTo = i, id
			}
		}
	}
	if bestSlot < 0 || b.lead[most]-b.lead[bestTo] < 2 {
		return false
	}
	o := b.owners[bestSlot]
	j := slices.Index(o, bestTo)
	o[0], o[j] = o[j], o[0]
	b.lead[most]--
	b.lead[bestTo]++
	return true
}
