package actors

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"strconv"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query"
	"github.com/starling-otel/starling/storage"
)

// Tag discovery: the attribute keys and values of spans, from the trace
// partitions' catalogs (storage/attrcatalog.go). The catalog keeps every
// entry of a key in the one partition storage.CatalogPartition(key) names:
// listing keys reads every partition, listing a key's values reads one.

// maxAttributeNames bounds the keys or values one call answers (each
// partition answers at most 10,000 already).
const maxAttributeNames = 100_000

// ScopedName is an attribute key and its scope: span, resource, event,
// link or instrumentation.
type ScopedName struct {
	Scope, Name string
}

// TypedValue is an attribute value as text and its type: string, int,
// float or bool.
type TypedValue struct {
	Type, Value string
}

// AttributeKeys lists the attribute keys of scope ("" for every scope)
// starting with prefix, of the storage windows overlapping [start, end]
// (unix nanoseconds), by scope (storage.CatalogScopes order) then name.
// truncated says that a partition or the whole answer was cut at its
// bound.
func (q *Querier) AttributeKeys(ctx context.Context, scope, prefix string, start, end int64) (keys []ScopedName, truncated bool, err error) {
	sig := starlingpb.Signal_SIGNAL_TRACES
	c := &starlingpb.Catalog{Kind: starlingpb.Catalog_KIND_ATTRIBUTE_KEYS, Scope: scope, Prefix: prefix}
	res, err := q.run(ctx, sig, q.all(sig, func() *starlingpb.ReadRequest {
		return &starlingpb.ReadRequest{StartUnixNano: start, EndUnixNano: end, Query: &starlingpb.ReadRequest_Catalog{Catalog: c}}
	}))
	if err != nil {
		return nil, false, err
	}
	seen := make(map[ScopedName]struct{})
	for _, r := range res {
		if r == nil {
			continue
		}
		truncated = truncated || r.Truncated
		for _, n := range r.CatalogNames {
			k := ScopedName{Scope: n.Scope, Name: n.Name}
			if _, ok := seen[k]; !ok {
				seen[k] = struct{}{}
				keys = append(keys, k)
			}
		}
	}
	order := make(map[string]int, len(storage.CatalogScopes))
	for i, s := range storage.CatalogScopes {
		order[s] = i
	}
	slices.SortFunc(keys, func(a, b ScopedName) int {
		return cmp.Or(cmp.Compare(order[a.Scope], order[b.Scope]), cmp.Compare(a.Name, b.Name))
	})
	if len(keys) > maxAttributeNames {
		keys, truncated = keys[:maxAttributeNames], true
	}
	return keys, truncated, nil
}

// AttributeValues lists the values of attribute key of scope (required)
// starting with prefix, of the storage windows overlapping [start, end],
// read from the key's one catalog partition: strings, then integers, then
// floats (both in numeric order), then booleans. truncated says that the
// answer was cut at its bound.
func (q *Querier) AttributeValues(ctx context.Context, scope, key, prefix string, start, end int64) (values []TypedValue, truncated bool, err error) {
	if scope == "" {
		return nil, false, errors.New("attribute values: a scope is required")
	}
	sig := starlingpb.Signal_SIGNAL_TRACES
	p := storage.CatalogPartition(key, q.router.Partitions(sig))
	res, err := q.run(ctx, sig, []readTarget{{partition: p, req: &starlingpb.ReadRequest{
		StartUnixNano: start, EndUnixNano: end,
		Query: &starlingpb.ReadRequest_Catalog{Catalog: &starlingpb.Catalog{
			Kind: starlingpb.Catalog_KIND_ATTRIBUTE_VALUES, Scope: scope, Key: key, Prefix: prefix,
		}},
	}}})
	if err != nil || res[0] == nil {
		return nil, false, err
	}
	for _, n := range res[0].CatalogNames {
		values = append(values, TypedValue{Type: n.Type, Value: n.Name})
	}
	sortValues(values)
	return values, res[0].Truncated, nil
}

// typeOrder is the order of value types in answers.
var typeOrder = map[string]int{"string": 0, "int": 1, "float": 2, "bool": 3}

// sortValues sorts values by type, then numbers by value and the others
// by text.
func sortValues(vs []TypedValue) {
	slices.SortStableFunc(vs, func(a, b TypedValue) int {
		if c := cmp.Compare(typeOrder[a.Type], typeOrder[b.Type]); c != 0 {
			return c
		}
		switch a.Type {
		case "int":
			x, _ := strconv.ParseInt(a.Value, 10, 64)
			y, _ := strconv.ParseInt(b.Value, 10, 64)
			if c := cmp.Compare(x, y); c != 0 {
				return c
			}
		case "float":
			x, _ := strconv.ParseFloat(a.Value, 64)
			y, _ := strconv.ParseFloat(b.Value, 64)
			if c := cmp.Compare(x, y); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.Value, b.Value)
	})
}

// SpanNames lists the span names of services (each service's are kept in
// its one catalog partition), sorted and distinct, in one fan-out.
func (q *Querier) SpanNames(ctx context.Context, services []string) ([]string, error) {
	if len(services) == 0 {
		return nil, nil
	}
	sig := starlingpb.Signal_SIGNAL_TRACES
	n := q.router.Partitions(sig)
	targets := make([]readTarget, len(services))
	for i, s := range services {
		targets[i] = readTarget{partition: storage.CatalogPartition(s, n), req: &starlingpb.ReadRequest{
			EndUnixNano: math.MaxInt64,
			Query:       &starlingpb.ReadRequest_Catalog{Catalog: &starlingpb.Catalog{Kind: starlingpb.Catalog_KIND_OPERATIONS, Service: s}},
		}}
	}
	res, err := q.run(ctx, sig, targets)
	if err != nil {
		return nil, err
	}
	return query.UnionNames(res), nil
}
