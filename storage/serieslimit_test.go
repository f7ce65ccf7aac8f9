package storage

import (
	"math"
	"testing"

	"github.com/starling-otel/starling/storage/tsdb"
)

// TestFilterSeries: a refused series leaves no sample, definition,
// posting or exemplar in the batch; the others are written whole.
func TestFilterSeries(t *testing.T) {
	e := newTestEnv(t, 1)
	now := e.clock.Now().UnixMilli()
	req := &tsdb.WriteRequest{Series: []tsdb.Series{
		promSeries("keep", []tsdb.Sample{{T: now, V: 1}}, "i", "1"),
		promSeries("drop", []tsdb.Sample{{T: now, V: 2}, {T: now + 1000, V: 3}}, "i", "2"),
		promSeries("keep", []tsdb.Sample{{T: now, V: 4}}, "i", "3"),
	}}
	req.Series[1].Exemplars = []tsdb.Exemplar{{Labels: []tsdb.Label{{Name: "trace_id", Value: "ab"}}, V: 2, T: now, HasT: true}}
	r := e.builder.Prom(req, true)
	if r.Rejected != 0 || len(r.Batches) != 1 {
		t.Fatalf("build: %+v", r)
	}
	dropped := tsdb.SeriesHash(req.Series[1].Labels)
	var asked []string
	out, refused, err := FilterSeries(r.Batches[0].Entries, func(h uint64, name []byte) string {
		asked = append(asked, string(name))
		if h == dropped {
			return "too many"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 3 {
		t.Errorf("admit asked about %v, want each series once", asked)
	}
	if len(refused) != 1 || refused[0].Hash != dropped || refused[0].Samples != 2 || refused[0].Name != "drop" || refused[0].Reason != "too many" {
		t.Fatalf("refused %+v", refused)
	}
	win := windowOfMs(now, e.store.WindowSeconds())
	if len(refused[0].Seen) != 1 || refused[0].Seen[0] != seriesSeenKey(dropped, win) {
		t.Errorf("seen keys %v, want the definition's %v", refused[0].Seen, seriesSeenKey(dropped, win))
	}
	it := NewEntryIter(out)
	for it.Next() {
		k := it.Entry().Key
		var h uint64
		switch k[partLen] {
		case kindSeries, kindExemplar:
			h = keySeries(k)
		case kindPosting:
			h = keySeriesAt(k, len(k)-8)
		}
		if h == dropped {
			t.Errorf("key %x of the refused series left in the batch", k)
		}
	}
	r.Batches[0].Entries = out
	e.applyMetrics(r)
	got := e.allSeries(0, math.MaxInt64)
	if len(got) != 2 || tsdb.MetricName(got[0].Labels) != "keep" || tsdb.MetricName(got[1].Labels) != "keep" {
		t.Fatalf("stored %+v, want the two kept series", got)
	}
	// Nothing refused: the entries come back as they are.
	again, refused, err := FilterSeries(out, func(uint64, []byte) string { return "" })
	if err != nil || len(refused) != 0 || &again[0] != &out[0] {
		t.Errorf("nothing refused: %v, %v, copied %v", err, refused, &again[0] != &out[0])
	}
}
