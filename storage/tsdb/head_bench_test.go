package tsdb

import (
	"math/rand/v2"
	"testing"
)

// benchRecords returns records of a remote-write-like load: every record
// holds one sample of each of n series (counters and noisy gauges at 15 s),
// steps records in time order.
func benchRecords(n, steps int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 1))
	vals := make([]float64, n)
	out := make([][]byte, steps)
	var rb RecordBuilder
	for k := range steps {
		rb.Reset()
		samples := make([]Sample, n)
		for i := range n {
			if i%2 == 0 {
				vals[i] += float64(rng.IntN(100))
			} else {
				vals[i] = rng.NormFloat64() * 100
			}
			samples[i] = Sample{T: benchT0 + int64(k)*15000, V: vals[i]}
			rb.Add(uint64(i)*0x9e3779b97f4a7c15+1, "", samples[i:i+1], nil)
		}
		out[k] = rb.Append(nil)
	}
	return out
}

// BenchmarkHeadAppend appends records of one sample for each of 10,000
// series to a head, as a partition copy does under remote write.
func BenchmarkHeadAppend(b *testing.B) {
	const series, steps = 10_000, 64
	recs := benchRecords(series, steps)
	b.ReportAllocs()
	b.ResetTimer()
	var h *Head
	for i := 0; b.Loop(); i++ {
		if i%steps == 0 {
			b.StopTimer()
			h, _ = NewHead(DefaultHeadConfig())
			b.StartTimer()
		}
		if err := h.Append(benchT0, uint64(i+1), recs[i%steps]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*series), "ns/sample")
}

// benchT0 is a block start.
const benchT0 = 1_000_000_000_000 - 1_000_000_000_000%(2*3600*1000)

// BenchmarkHeadRead reads one series' samples of a full block.
func BenchmarkHeadRead(b *testing.B) {
	const series, steps = 1000, 479
	h, _ := NewHead(DefaultHeadConfig())
	for i, r := range benchRecords(series, steps) {
		if err := h.Append(benchT0, uint64(i+1), r); err != nil {
			b.Fatal(err)
		}
	}
	var dst []Sample
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		dst, _ = h.Read(uint64(i%series)*0x9e3779b97f4a7c15+1, 0, 1<<62, dst[:0], nil)
	}
}

// BenchmarkDecodeRecord decodes a record of one sample for each of 10,000
// series: the part of a head append that reads the write-through record.
func BenchmarkDecodeRecord(b *testing.B) {
	const series = 10_000
	rec := benchRecords(series, 1)[0]
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := DecodeRecord(rec, func(rs *RecordSeries) error { n += len(rs.Samples); return nil }); err != nil || n != series {
			b.Fatal(err, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*series), "ns/series")
}
