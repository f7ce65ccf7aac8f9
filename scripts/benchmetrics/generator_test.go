package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

func testDataset(t *testing.T, seed uint64) *Dataset {
	t.Helper()
	d, err := NewDataset(Config{Series: 250, Duration: 20 * time.Minute, Interval: 15 * time.Second,
		Jitter: 5 * time.Millisecond, Seed: seed, End: time.UnixMilli(1_800_000_000_000)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type sample struct {
	t int64
	v float64
}

// all returns every series' samples, from a fresh Gen.
func all(d *Dataset) [][]sample {
	out := make([][]sample, len(d.Series))
	ts, vs := make([]int64, len(d.Series)), make([]float64, len(d.Series))
	g := d.NewGen()
	for g.Next(ts, vs) {
		for i := range ts {
			out[i] = append(out[i], sample{ts[i], vs[i]})
		}
	}
	return out
}

func TestGeneratorDeterministic(t *testing.T) {
	d := testDataset(t, 7)
	if len(d.Series) != 250 || d.Steps != 80 {
		t.Fatalf("%d series × %d steps, want 250 × 80", len(d.Series), d.Steps)
	}
	a, b := all(d), all(testDataset(t, 7))
	for i := range a {
		for k := range a[i] {
			if a[i][k] != b[i][k] {
				t.Fatalf("series %d step %d: %v then %v with the same seed", i, k, a[i][k], b[i][k])
			}
		}
	}
	c := all(testDataset(t, 8))
	differ := 0
	for i := range a {
		for k := range a[i] {
			if a[i][k].v != c[i][k].v {
				differ++
			}
		}
	}
	if differ < d.Samples()/2 {
		t.Errorf("seeds 7 and 8 differ in only %d of %d samples", differ, d.Samples())
	}

	// Shape: the query metric has one series per instance; timestamps
	// increase and end at End (± jitter); counters never decrease but by
	// a reset to near 0; 2-decimal walks stay on 2 decimals.
	per := map[string]map[string]bool{}
	for i, s := range d.Series {
		if per[s.Name] == nil {
			per[s.Name] = map[string]bool{}
		}
		per[s.Name][s.Instance] = true
		for k := 1; k < len(a[i]); k++ {
			if a[i][k].t <= a[i][k-1].t {
				t.Fatalf("series %d: time %d after %d", i, a[i][k].t, a[i][k-1].t)
			}
			if s.Kind.Counter() && a[i][k].v < a[i][k-1].v && a[i][k].v > a[i][k-1].v/2 {
				t.Fatalf("%s: counter went from %v to %v", s.Name, a[i][k-1].v, a[i][k].v)
			}
			if s.Kind == GaugeWalk && math.Abs(a[i][k].v*100-math.Round(a[i][k].v*100)) > 1e-6 {
				t.Fatalf("%s: walk value %v has more than 2 decimals", s.Name, a[i][k].v)
			}
			if s.Kind.Integer() && a[i][k].v != math.Trunc(a[i][k].v) {
				t.Fatalf("%s (%s): value %v is not an integer", s.Name, s.Kind, a[i][k].v)
			}
		}
		if last := a[i][len(a[i])-1].t; math.Abs(float64(last-d.End.UnixMilli())) > 5 {
			t.Fatalf("series %d ends at %d, want %d ± 5", i, last, d.End.UnixMilli())
		}
	}
	if n := len(per[queryMetric]); n != instances {
		t.Errorf("%s has %d instances, want %d", queryMetric, n, instances)
	}
}

// TestRemoteWriteRoundTrip decodes every request as a remote-write
// receiver does and checks it carries exactly the generator's samples,
// each series in time order within and across a shard's requests.
func TestRemoteWriteRoundTrip(t *testing.T) {
	d := testDataset(t, 3)
	want := all(d)
	p, err := remoteWritePayload(d, 4, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if p.Header["Content-Encoding"] != "snappy" || p.Header["X-Prometheus-Remote-Write-Version"] != "0.1.0" {
		t.Errorf("headers %v", p.Header)
	}
	index := map[string]int{}
	for i, s := range d.Series {
		index[labelKey(s.Labels)] = i
	}
	got := make([][]sample, len(d.Series))
	total := 0
	for shard, reqs := range p.Shards {
		for _, r := range reqs {
			raw, err := snappy.Decode(nil, r.Body)
			if err != nil {
				t.Fatal(err)
			}
			var wr prompb.WriteRequest
			if err := wr.Unmarshal(raw); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, ts := range wr.Timeseries {
				i, ok := index[labelKey(ts.Labels)]
				if !ok {
					t.Fatalf("unknown labels %v", ts.Labels)
				}
				if i%4 != shard {
					t.Fatalf("series %d in shard %d", i, shard)
				}
				for _, s := range ts.Samples {
					got[i] = append(got[i], sample{s.Timestamp, s.Value})
					n++
				}
			}
			if n != r.Samples || n > 1000 {
				t.Fatalf("request of %d samples says %d", n, r.Samples)
			}
			total += n
		}
	}
	if total != d.Samples() || total != p.Samples {
		t.Fatalf("%d samples decoded, want %d", total, d.Samples())
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("series %d: %d samples, want %d", i, len(got[i]), len(want[i]))
		}
		for k := range want[i] {
			if got[i][k] != want[i][k] {
				t.Fatalf("series %d sample %d: %v, want %v", i, k, got[i][k], want[i][k])
			}
		}
	}
}

func labelKey(ls []prompb.Label) string {
	var b bytes.Buffer
	for i, l := range ls {
		if i > 0 && ls[i-1].Name >= l.Name {
			b.WriteString("UNSORTED")
		}
		b.WriteString(l.Name + "=" + l.Value + ",")
	}
	return b.String()
}

// TestOTLPPayload decodes the OTLP requests and checks the point count,
// the resource attributes and the kinds.
func TestOTLPPayload(t *testing.T) {
	d := testDataset(t, 3)
	p, err := otlpPayload(d, 4, 1000)
	if err != nil {
		t.Fatal(err)
	}
	points := 0
	for _, reqs := range p.Shards {
		for _, r := range reqs {
			zr, err := gzip.NewReader(bytes.NewReader(r.Body))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			req := pmetricotlp.NewExportRequest()
			if err := req.UnmarshalProto(raw); err != nil {
				t.Fatal(err)
			}
			md := req.Metrics()
			points += md.DataPointCount()
			for i := 0; i < md.ResourceMetrics().Len(); i++ {
				rm := md.ResourceMetrics().At(i)
				if _, ok := rm.Resource().Attributes().Get("service.instance.id"); !ok {
					t.Fatal("resource without service.instance.id")
				}
				ms := rm.ScopeMetrics().At(0).Metrics()
				for j := 0; j < ms.Len(); j++ {
					m := ms.At(j)
					if m.Name() == queryMetric && (m.Type() != pmetric.MetricTypeSum || !m.Sum().IsMonotonic()) {
						t.Fatalf("%s is %s, want a monotonic sum", m.Name(), m.Type())
					}
				}
			}
		}
	}
	if points != d.Samples() {
		t.Fatalf("%d points, want %d", points, d.Samples())
	}
}

func TestCompare(t *testing.T) {
	body := []byte(`{"status":"success","data":{"resultType":"matrix","result":[
		{"metric":{"instance":"a"},"values":[[1700000000.5,"2"],[1700000015.5,"4"]]},
		{"metric":{"instance":"b"},"values":[[1700000000.5,"0"]]}]}}`)
	a, err := parseMatrix(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2 || a["a"][1700000015500] != 4 {
		t.Fatalf("parsed %v", a)
	}
	b := map[string]map[int64]float64{"a": {1700000000500: 2, 1700000015500: 5}, "b": {1700000000500: 0, 1700000030500: 1}}
	c := compare(a, b)
	if c.common != 3 || c.alone != 1 || c.maxRel != 0.2 || c.medianRel != 0 {
		t.Fatalf("compare: %+v", c)
	}
}
