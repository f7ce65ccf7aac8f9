package plan

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query"
	"github.com/starling-otel/starling/query/traceql"
	"github.com/starling-otel/starling/storage"
)

// maxIndexedValueLen is the longest attribute value the trace postings
// hold (storage keeps longer values but cannot search them).
const maxIndexedValueLen = 256

// Status codes of a TraceSearch: OTLP's plus one (0 is "any").
const (
	searchStatusUnset uint32 = 1
	searchStatusOK    uint32 = 2
	searchStatusError uint32 = 3
)

// TracePlan is a TraceQL query planned for the trace partitions.
type TracePlan struct {
	// Query is the parsed query; its String is what the partitions get.
	Query *traceql.Query
	// Candidates is the pushdown: a trace is evaluated only if one of its
	// spans matches every condition of one TraceSearch (nil: every trace
	// of the range is evaluated).
	Candidates []*starlingpb.TraceSearch
	// Pushed lists, as TraceQL, the conditions the candidates check; the
	// evaluator checks the whole query on each candidate anyway.
	Pushed []string
	// TraceIDs is set when the query names its traces (trace:id = …):
	// only their partitions can answer.
	TraceIDs [][16]byte
	// Exact says the candidates are exactly the matching traces: the
	// query is one filter of conditions the postings and group records
	// check exactly, so a partition finds its hits without reading them.
	Exact bool
	// Options are the pushdowns of every same-span group the query
	// requires, when it requires more than one (a span matching each
	// group must exist, so any one of them finds every match): Candidates
	// is the first, picked by static weights (terms over duration and
	// status); a querier that knows the groups' selectivity runs the
	// rarest instead (WithOption).
	Options []Option
	// Choice says which option runs and why, once a querier chose it
	// ("": not chosen).
	Choice string
}

// Option is the pushdown of one same-span group.
type Option struct {
	Search *starlingpb.TraceSearch
	Pushed []string // as TraceQL
}

// WithOption returns a copy of p that pushes Options[i], chosen for why.
func (p *TracePlan) WithOption(i int, why string) *TracePlan {
	c := *p
	c.Candidates = []*starlingpb.TraceSearch{p.Options[i].Search}
	c.Pushed = p.Options[i].Pushed
	c.Choice = why
	return &c
}

// Trace parses and plans a TraceQL query. A parse error is the parser's
// (*traceql.ParseError), with its position.
func Trace(src string) (*TracePlan, error) {
	q, err := traceql.Parse(src)
	if err != nil {
		return nil, err
	}
	p := &TracePlan{Query: q}
	n, conj := q.Conjunction()
	if conj && n == 0 {
		p.Exact = true // { }: every trace of the range matches
		return p, nil
	}
	alts := q.Required()
	if len(alts) == 0 {
		return p, nil
	}
	p.TraceIDs = traceIDs(alts)
	if len(alts) > 1 {
		// A union of posting intersections newest first is not built:
		// what every alternative requires is pushed instead.
		var common *starlingpb.TraceSearch
		for i, alt := range alts {
			s, _, _ := bestGroup(alt)
			if s == nil {
				return p, nil // an alternative pushes nothing: every trace is a candidate
			}
			if i == 0 {
				common = s
			} else {
				common = widen(common, s)
			}
		}
		if !query.EmptyTraceSearch(common) {
			p.Candidates = []*starlingpb.TraceSearch{common}
			p.Pushed = []string{"(what every alternative requires)"}
		}
		return p, nil
	}
	if gs := pushGroups(alts[0]); len(gs) > 0 {
		best := gs[0]
		p.Candidates = []*starlingpb.TraceSearch{best.Search}
		p.Pushed = best.Pushed
		// Exact when the query is nothing but these conditions.
		p.Exact = best.exact && best.only && conj && len(best.Pushed) == n && len(alts[0]) == n
		if len(gs) > 1 {
			for _, g := range gs {
				p.Options = append(p.Options, g.Option)
			}
		}
	}
	return p, nil
}

// Search is the read of the plan for the partitions, with spss spans per
// spanset.
func (p *TracePlan) Search(spss int) *starlingpb.TraceQLSearch {
	return &starlingpb.TraceQLSearch{
		Query:           p.Query.String(),
		SpansPerSpanset: uint32(max(spss, 0)),
		Candidates:      p.Candidates,
		Exact:           p.Exact,
	}
}

// Partitions returns the partitions (of n) that can hold an answer, in
// order; nil means every partition.
func (p *TracePlan) Partitions(n int) []uint32 {
	if len(p.TraceIDs) == 0 {
		return nil
	}
	var out []uint32
	for _, id := range p.TraceIDs {
		out = append(out, storage.PartitionOf(storage.TraceHash(id), n))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// traceIDs returns the trace IDs the query is limited to: each alternative
// must require one trace:id equal to a valid ID, else nil.
func traceIDs(alts [][]traceql.Condition) [][16]byte {
	var ids [][16]byte
	for _, alt := range alts {
		found := false
		for _, c := range alt {
			if c.Scope != traceql.ScopeIntrinsic || c.Intrinsic != traceql.IntrinsicTraceID || c.Op != traceql.OpEq || c.Value.Type() != traceql.TypeString {
				continue
			}
			b, err := hex.DecodeString(c.Value.Str())
			if err != nil || len(b) != 16 {
				continue // matches no trace: the evaluator compares all 32 digits
			}
			ids = append(ids, [16]byte(b))
			found = true
			break
		}
		if !found {
			return nil
		}
	}
	return ids
}

// bestGroup builds a TraceSearch for each same-span group of one
// alternative and returns the one that pushes the most conditions (terms
// first: they are postings; duration and status are checks on group
// records); exact when it is the alternative's only group and checks all
// of it exactly.
func bestGroup(alt []traceql.Condition) (*starlingpb.TraceSearch, []string, bool) {
	gs := pushGroups(alt)
	if len(gs) == 0 {
		return nil, nil, false
	}
	return gs[0].Search, gs[0].Pushed, gs[0].exact && gs[0].only
}

// pushedGroup is the pushdown of one same-span group, with its weight.
type pushedGroup struct {
	Option
	score int
	exact bool // every condition of the group is pushed and checked exactly
	only  bool // the alternative's only group
}

// pushGroups pushes each same-span group of one alternative and returns
// those that push something, heaviest first (the first of equals first).
func pushGroups(alt []traceql.Condition) []pushedGroup {
	groups := map[int][]traceql.Condition{}
	var order []int
	for _, c := range alt {
		if _, ok := groups[c.Group]; !ok {
			order = append(order, c.Group)
		}
		groups[c.Group] = append(groups[c.Group], c)
	}
	var out []pushedGroup
	for _, g := range order {
		if s, pushed, score, exact := pushGroup(groups[g]); score > 0 {
			out = append(out, pushedGroup{Option: Option{Search: s, Pushed: pushed}, score: score, exact: exact, only: len(order) == 1})
		}
	}
	slices.SortStableFunc(out, func(a, b pushedGroup) int { return b.score - a.score })
	return out
}

// pushGroup turns the conditions of one same-span group into a search;
// score weighs what it pushes (0: nothing); exact says every condition
// of the group is pushed and checked exactly.
func pushGroup(cs []traceql.Condition) (*starlingpb.TraceSearch, []string, int, bool) {
	s := &starlingpb.TraceSearch{}
	var pushed []string
	score, exact := 0, true
	for _, c := range cs {
		w := push(s, c)
		if w > 0 {
			pushed = append(pushed, c.String())
			score += w
		}
		exact = exact && w > 0 && exactly(c)
	}
	if score == 0 {
		return nil, nil, 0, false
	}
	return s, pushed, score, exact
}

// exactly reports whether a pushed condition is checked exactly by the
// partition: the service, span name, status and duration are; attribute
// terms are not (a term does not know the attribute's scope or type).
func exactly(c traceql.Condition) bool {
	if c.Scope == traceql.ScopeResource && c.Name == "service.name" {
		return true
	}
	if c.Scope != traceql.ScopeIntrinsic {
		return false
	}
	switch c.Intrinsic {
	case traceql.IntrinsicName, traceql.IntrinsicStatus, traceql.IntrinsicDuration:
		return true
	}
	return false
}

// push adds one condition to s if the postings or group records can check
// it exactly or as a superset, and returns its weight (0: not pushed).
func push(s *starlingpb.TraceSearch, c traceql.Condition) int {
	v := c.Value
	if c.Scope == traceql.ScopeIntrinsic {
		switch c.Intrinsic {
		case traceql.IntrinsicName:
			if c.Op == traceql.OpEq && v.Type() == traceql.TypeString && s.Name == "" {
				s.Name = v.Str()
				return 4
			}
		case traceql.IntrinsicStatus:
			if c.Op == traceql.OpEq && v.Type() == traceql.TypeStatus && s.Status == 0 {
				switch v.Status() {
				case traceql.StatusError:
					s.Status = searchStatusError
					return 3
				case traceql.StatusOK:
					s.Status = searchStatusOK
					return 3
				case traceql.StatusUnset:
					s.Status = searchStatusUnset
					return 1
				}
			}
		case traceql.IntrinsicDuration:
			return pushDuration(s, c)
		}
		return 0
	}
	if c.Op != traceql.OpEq {
		return 0
	}
	switch c.Scope {
	case traceql.ScopeResource, traceql.ScopeSpan, traceql.ScopeUnscoped:
	default:
		return 0 // event, link and scope attributes have no postings
	}
	if c.Name == "service.name" {
		// The service has its own term, of the resource only; a span
		// attribute service.name has none.
		if c.Scope == traceql.ScopeResource && v.Type() == traceql.TypeString && s.Service == "" {
			s.Service = v.Str()
			return 4
		}
		return 0
	}
	var text string
	switch v.Type() {
	case traceql.TypeString:
		text = v.Str()
	case traceql.TypeInt:
		text = strconv.FormatInt(v.Int(), 10)
	case traceql.TypeBool:
		text = strconv.FormatBool(v.Bool())
	default:
		return 0 // floats print in more than one way; durations are not attributes
	}
	if len(text) > maxIndexedValueLen {
		return 0
	}
	s.Attributes = append(s.Attributes, &starlingpb.Attribute{Key: c.Name, Value: text})
	return 4
}

// pushDuration narrows the inclusive duration bounds of s.
func pushDuration(s *starlingpb.TraceSearch, c traceql.Condition) int {
	if c.Value.Type() != traceql.TypeDuration {
		return 0
	}
	d := int64(c.Value.Duration())
	switch c.Op {
	case traceql.OpGt:
		d++
		fallthrough
	case traceql.OpGte:
		if d > s.MinDurationNano {
			s.MinDurationNano = d
		}
		return 1
	case traceql.OpLt:
		d--
		fallthrough
	case traceql.OpLte:
		if d < 1 {
			return 0 // 0 is "no bound"; nothing is that short anyway
		}
		if s.MaxDurationNano == 0 || d < s.MaxDurationNano {
			s.MaxDurationNano = d
		}
		return 1
	}
	return 0
}

// String describes the plan for an explain answer.
func (p *TracePlan) String() string {
	if len(p.Candidates) == 0 {
		return fmt.Sprintf("evaluate %s on every trace of the range", p.Query)
	}
	return fmt.Sprintf("evaluate %s on the traces with one span matching %v", p.Query, p.Pushed)
}

// widen returns the conditions both a and b require: a span matching a or
// one matching b matches it.
func widen(a, b *starlingpb.TraceSearch) *starlingpb.TraceSearch {
	w := &starlingpb.TraceSearch{}
	if a.Service == b.Service {
		w.Service = a.Service
	}
	if a.Name == b.Name {
		w.Name = a.Name
	}
	if a.Status == b.Status {
		w.Status = a.Status
	}
	w.MinDurationNano = min(a.MinDurationNano, b.MinDurationNano)
	if a.MaxDurationNano > 0 && b.MaxDurationNano > 0 {
		w.MaxDurationNano = max(a.MaxDurationNano, b.MaxDurationNano)
	}
	for _, x := range a.Attributes {
		for _, y := range b.Attributes {
			if x.Key == y.Key && x.Value == y.Value {
				w.Attributes = append(w.Attributes, x)
				break
			}
		}
	}
	return w
}
