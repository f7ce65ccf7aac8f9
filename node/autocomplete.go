package node

import (
	"context"
	"math"
	"net/http"
	"sync"

	"github.com/starling-otel/starling/actors"
	"github.com/starling-otel/starling/query"
	"github.com/starling-otel/starling/storage"
	"github.com/starling-otel/starling/storage/index"
)

// GET /api/v1/autocomplete?prefix=&fuzzy=&kind=&key=&limit=: the service
// names, span names, attribute keys (with their scopes) and values of one
// attribute (with their types) that match what a user typed, from the
// trace catalog (every window kept).
//
// A name matches when it starts with prefix, ASCII case folded (the exact
// name first, then by count: the number of scopes or types it has, then
// by name); with fuzzy=1 or 2, the names within that edit distance of the
// prefix follow (whole names, nearest first: "chekout" finds
// "checkout"). Every kind answers at most limit names; "truncated" says
// that a catalog read was cut at its bound (10,000 names a partition).
//
// The candidates of each kind are read and put in an index.Trie per
// request: the node keeps no cache. That build is not free: about 40-50 ms
// per 100,000 names (index.Trie.Insert, one name at a time, with its
// compactions; BenchmarkAutocompleteTrie), so it matters only for the
// largest catalogs (a key's values are at most 10,000 per window and
// builder, attribute keys usually hundreds).

// autocompleteJSON is the answer.
type autocompleteJSON struct {
	Services   []string            `json:"services"`
	Operations []string            `json:"operations"`
	Attributes []autocompleteAttr  `json:"attributes"`
	Values     []autocompleteValue `json:"values"`
	Truncated  bool                `json:"truncated"`
}

type autocompleteAttr struct {
	Scope string `json:"scope"`
	Key   string `json:"key"`
}

type autocompleteValue struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// valueTypes are the value types as trie tags (bit i: valueTypes[i]).
var valueTypes = []string{"string", "int", "float", "bool"}

func (n *Node) autocomplete(w http.ResponseWriter, r *http.Request) {
	q, err := query.ParseAutocomplete(r.URL.Query())
	if err != nil {
		writeQueryError(w, err)
		return
	}
	out := autocompleteJSON{Services: []string{}, Operations: []string{}, Attributes: []autocompleteAttr{}, Values: []autocompleteValue{}}
	want := func(kind string) bool { return q.Kind == "" || q.Kind == kind }
	ctx := r.Context()
	qr := n.querier()

	// The kinds are read concurrently: services (and then the span names
	// of every service), attribute keys, and the values of q.Key.
	var (
		wg                             sync.WaitGroup
		mu                             sync.Mutex
		firstErr                       error
		services, operations           []string
		keys                           []actors.ScopedName
		values                         []actors.TypedValue
		keysTruncated, valuesTruncated bool
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	if want(query.AutocompleteServices) || want(query.AutocompleteOperations) {
		wg.Go(func() {
			var err error
			if services, err = qr.Services(ctx); err != nil {
				fail(err)
				return
			}
			if want(query.AutocompleteOperations) {
				if operations, err = qr.SpanNames(ctx, services); err != nil {
					fail(err)
				}
			}
		})
	}
	if want(query.AutocompleteAttributes) {
		wg.Go(func() {
			var err error
			if keys, keysTruncated, err = qr.AttributeKeys(ctx, "", "", 0, math.MaxInt64); err != nil {
				fail(err)
			}
		})
	}
	if want(query.AutocompleteValues) && q.Key != "" {
		wg.Go(func() {
			var err error
			if values, valuesTruncated, err = completionValues(ctx, qr, q.Key); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		writeQueryError(w, firstErr)
		return
	}
	out.Truncated = keysTruncated || valuesTruncated

	if want(query.AutocompleteServices) {
		for _, e := range complete(namesTrie(services), q) {
			out.Services = append(out.Services, e.Name)
		}
	}
	if want(query.AutocompleteOperations) {
		for _, e := range complete(namesTrie(operations), q) {
			out.Operations = append(out.Operations, e.Name)
		}
	}
	if len(keys) > 0 {
		scopeBit := make(map[string]uint64, len(storage.CatalogScopes))
		for i, s := range storage.CatalogScopes {
			scopeBit[s] = 1 << i
		}
		tr := index.NewTrie()
		for _, k := range keys {
			tr.Insert(k.Name, scopeBit[k.Scope])
		}
		for _, e := range complete(tr, q) {
			for i, s := range storage.CatalogScopes {
				if e.Tags&(1<<i) != 0 && len(out.Attributes) < q.Limit {
					out.Attributes = append(out.Attributes, autocompleteAttr{Scope: s, Key: e.Name})
				}
			}
		}
	}
	if len(values) > 0 {
		typeBit := make(map[string]uint64, len(valueTypes))
		for i, t := range valueTypes {
			typeBit[t] = 1 << i
		}
		tr := index.NewTrie()
		for _, v := range values {
			tr.Insert(v.Value, typeBit[v.Type])
		}
		for _, e := range complete(tr, q) {
			for i, t := range valueTypes {
				if e.Tags&(1<<i) != 0 && len(out.Values) < q.Limit {
					out.Values = append(out.Values, autocompleteValue{Type: t, Value: e.Name})
				}
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// completionValues reads the values of an attribute key given as
// scope.KEY (span, resource, event, link, instrumentation), .KEY or a
// plain KEY (both: span and resource values).
func completionValues(ctx context.Context, qr *actors.Querier, key string) ([]actors.TypedValue, bool, error) {
	scopes := []string{"span", "resource"}
	if scope, k, ok := attributeTag(key); ok {
		switch scope {
		case "":
		case "trace":
			return nil, false, nil
		default:
			scopes = []string{scope}
		}
		key = k
	}
	var out []actors.TypedValue
	truncated := false
	for _, s := range scopes {
		vs, cut, err := qr.AttributeValues(ctx, s, key, "", 0, math.MaxInt64)
		if err != nil {
			return nil, false, err
		}
		out = append(out, vs...)
		truncated = truncated || cut
	}
	return out, truncated, nil
}

// namesTrie returns a trie of names.
func namesTrie(names []string) *index.Trie {
	tr := index.NewTrie()
	for _, s := range names {
		tr.Insert(s, 0)
	}
	return tr
}

// complete returns up to q.Limit entries of tr: those starting with
// q.Prefix (ASCII case folded), then, with q.Fuzzy > 0, those within
// q.Fuzzy edits of it, each once.
func complete(tr *index.Trie, q query.Autocomplete) []index.Entry {
	out := tr.PrefixFold(q.Prefix, q.Limit)
	if q.Fuzzy == 0 || len(out) >= q.Limit {
		return out
	}
	have := make(map[string]bool, len(out))
	for _, e := range out {
		have[e.Name] = true
	}
	for _, e := range tr.FuzzyFold(q.Prefix, q.Fuzzy, q.Limit+len(out)) {
		if len(out) >= q.Limit {
			break
		}
		if !have[e.Name] {
			have[e.Name] = true
			out = append(out, e)
		}
	}
	return out
}
