package storage

import (
	"context"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// maxCatalogNames bounds the names one catalog read returns per partition;
// a read cut there sets ResultChunk.Truncated.
const maxCatalogNames = 10000

// CatalogScopes are the attribute scopes of the catalog, in the order
// reads answer them.
var CatalogScopes = []string{"span", "resource", "event", "link", "instrumentation"}

var catalogScopeBytes = map[string]byte{
	"span": catalogScopeSpan, "resource": catalogScopeResource, "event": catalogScopeEvent,
	"link": catalogScopeLink, "instrumentation": catalogScopeInstrumentation,
}

// catalogTypes are the value types in the order reads answer them.
var catalogTypes = []struct {
	b    byte
	name string
}{{catalogTypeString, "string"}, {catalogTypeInt, "int"}, {catalogTypeFloat, "float"}, {catalogTypeBool, "bool"}}

// ReadCatalog appends to out the distinct names of partition p that q asks
// for: trace services, the span names of a service, or metric names
// starting with a prefix (out.Names); attribute keys of a scope, or of
// every scope, starting with a prefix (out.CatalogNames: scope and name);
// or the values of an attribute key of a scope starting with a prefix
// (out.CatalogNames: type and name; all in the partition
// CatalogPartition(key)). Windows overlapping [startNano, endNano] are
// read. At most maxCatalogNames are answered; out.Truncated says when
// more were there.
func (s *Store) ReadCatalog(ctx context.Context, p uint32, q *starlingpb.Catalog, startNano, endNano int64, out *starlingpb.ResultChunk) error {
	switch q.GetKind() {
	case starlingpb.Catalog_KIND_ATTRIBUTE_KEYS, starlingpb.Catalog_KIND_ATTRIBUTE_VALUES:
		return s.readAttrCatalog(ctx, p, q, startNano, endNano, out)
	}
	release, err := s.readSlot(ctx)
	if err != nil {
		return err
	}
	defer release()

	var sig starlingpb.Signal
	var prefix []byte
	switch q.GetKind() {
	case starlingpb.Catalog_KIND_SERVICES:
		sig = starlingpb.Signal_SIGNAL_TRACES
		prefix = append(appendHeader(nil, p, kindCatalog), catalogService)
	case starlingpb.Catalog_KIND_OPERATIONS:
		sig = starlingpb.Signal_SIGNAL_TRACES
		prefix = append(appendHeader(nil, p, kindCatalog), catalogOperation)
		prefix = append(append(prefix, q.GetService()...), 0)
	case starlingpb.Catalog_KIND_OPERATION_KINDS:
		sig = starlingpb.Signal_SIGNAL_TRACES
		prefix = append(appendHeader(nil, p, kindCatalog), catalogOperationKind)
		prefix = append(append(prefix, q.GetService()...), 0)
	case starlingpb.Catalog_KIND_METRIC_NAMES:
		sig = starlingpb.Signal_SIGNAL_METRICS
		prefix = append(mainIndex.postingPrefix(nil, p, tsdb.MetricNameLabel), q.GetPrefix()...)
	default:
		return ErrCorrupt
	}
	metricNames := q.GetKind() == starlingpb.Catalog_KIND_METRIC_NAMES
	kinds := q.GetKind() == starlingpb.Catalog_KIND_OPERATION_KINDS

	ws := s.acquire(sig, startNano, endNano)
	defer releaseAll(ws)
	seen := make(map[string]struct{})
	for _, w := range ws {
		err := w.db(p).View(func(txn *badger.Txn) error {
			opts := badger.DefaultIteratorOptions
			opts.Prefix = prefix
			opts.PrefetchValues = false
			it := txn.NewIterator(opts)
			defer it.Close()
			for it.Rewind(); it.ValidForPrefix(prefix); {
				k := it.Item().Key()
				var name []byte
				if metricNames {
					// A posting of __name__=name: skip the rest of this name's series.
					_, value, _, ok := parsePosting(k)
					if !ok {
						it.Next()
						continue
					}
					name = value
				} else {
					name = k[len(prefix):]
				}
				if _, ok := seen[string(name)]; !ok {
					if len(seen) >= maxCatalogNames {
						out.Truncated = true
						break
					}
					seen[string(name)] = struct{}{}
					if kinds && len(name) > 0 {
						// [kind][span name]
						out.CatalogNames = append(out.CatalogNames, &starlingpb.CatalogName{Type: SpanKindName(name[0]), Name: string(name[1:])})
					} else if !kinds {
						out.Names = append(out.Names, string(name))
					}
				}
				if metricNames {
					it.Seek(prefixEnd(mainIndex.postingValuePrefix(nil, p, tsdb.MetricNameLabel, string(name))))
				} else {
					it.Next()
				}
			}
			return ctx.Err()
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// catalogRange is one key range of an attribute catalog read: keys
// starting with prefix, named by what follows base, answered with scope or
// typ.
type catalogRange struct {
	prefix, base []byte
	scope, typ   string
}

// readAttrCatalog answers KIND_ATTRIBUTE_KEYS and KIND_ATTRIBUTE_VALUES.
func (s *Store) readAttrCatalog(ctx context.Context, p uint32, q *starlingpb.Catalog, startNano, endNano int64, out *starlingpb.ResultChunk) error {
	scopes := CatalogScopes
	if q.GetScope() != "" {
		if _, ok := catalogScopeBytes[q.GetScope()]; !ok {
			return fmt.Errorf("catalog: unknown attribute scope %q", q.GetScope())
		}
		scopes = []string{q.GetScope()}
	}
	var ranges []catalogRange
	switch q.GetKind() {
	case starlingpb.Catalog_KIND_ATTRIBUTE_KEYS:
		for _, sc := range scopes {
			base := append(appendHeader(nil, p, kindCatalog), catalogAttrKey, catalogScopeBytes[sc])
			ranges = append(ranges, catalogRange{prefix: append(base[:len(base):len(base)], q.GetPrefix()...), base: base, scope: sc})
		}
	default:
		if q.GetScope() == "" {
			return fmt.Errorf("catalog: attribute values need a scope")
		}
		for _, t := range catalogTypes {
			base := append(appendHeader(nil, p, kindCatalog), catalogAttrValue, catalogScopeBytes[q.GetScope()])
			base = append(append(append(base, q.GetKey()...), 0), t.b)
			ranges = append(ranges, catalogRange{prefix: append(base[:len(base):len(base)], q.GetPrefix()...), base: base, typ: t.name})
		}
	}

	release, err := s.readSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	ws := s.acquire(starlingpb.Signal_SIGNAL_TRACES, startNano, endNano)
	defer releaseAll(ws)
	type name struct{ scope, typ, name string }
	seen := make(map[name]struct{})
	// Ranges first, then windows: the answer keeps the scope (type) order.
	for _, r := range ranges {
		for _, w := range ws {
			err := w.db(p).View(func(txn *badger.Txn) error {
				opts := badger.DefaultIteratorOptions
				opts.Prefix = r.prefix
				opts.PrefetchValues = false
				it := txn.NewIterator(opts)
				defer it.Close()
				for it.Rewind(); it.ValidForPrefix(r.prefix); it.Next() {
					n := name{r.scope, r.typ, string(it.Item().Key()[len(r.base):])}
					if _, ok := seen[n]; ok {
						continue
					}
					if len(seen) >= maxCatalogNames {
						out.Truncated = true
						break
					}
					seen[n] = struct{}{}
					out.CatalogNames = append(out.CatalogNames, &starlingpb.CatalogName{Scope: n.scope, Type: n.typ, Name: n.name})
				}
				return ctx.Err()
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// SpanKindName is an OTLP span kind as the operations catalog answers it
// (ptrace's names, lower case; "unspecified" for 0 or an unknown value).
func SpanKindName(kind byte) string {
	switch kind {
	case 1:
		return "internal"
	case 2:
		return "server"
	case 3:
		return "client"
	case 4:
		return "producer"
	case 5:
		return "consumer"
	}
	return "unspecified"
}
