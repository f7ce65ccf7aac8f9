package chunk

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// Benchmarks on seeded, realistic data: about 10,000 series worth of each
// value class (1.2M samples per class, timestamp kind and chunk size),
// checked for round trips before timing. Each sub-benchmark reports:
//
//	B/sample       Starling chunk bytes per sample
//	xor-B/sample   Prometheus chunkenc XOR on the same samples
//	zstd-B/sample, xor-zstd-B/sample   the same after ZSTD level 1 over
//	               16 KiB blocks of whole chunks, as Badger stores its
//	               table blocks: the figure that ends up on disk
//	ns/sample      encode (op=encode) or decode and iterate all (op=decode),
//	               and xor-ns/sample for Prometheus XOR doing the same
//
// Run: go test ./storage/tsdb/chunk -run '^$' -bench Floats -benchtime 2000x

const benchSamplesPerClass = 1_200_000

type valueClass struct {
	name string
	// series returns one series of n values.
	series func(r *rand.Rand, n int) []float64
}

var valueClasses = []valueClass{
	{"counter", func(r *rand.Rand, n int) []float64 {
		// http_requests_total: integer increments at a per-series rate
		// from 0.01 to 100 req/s, a restart now and then.
		rate := math.Exp(r.Float64()*math.Log(1e4)) / 100
		c := math.Floor(r.Float64() * 1e6)
		vs := make([]float64, n)
		for i := range vs {
			if r.IntN(2000) == 0 {
				c = 0
			}
			c += math.Max(0, math.Round(rate*15*(1+0.3*r.NormFloat64())))
			vs[i] = c
		}
		return vs
	}},
	{"float-counter", func(r *rand.Rand, n int) []float64 {
		// node_cpu_seconds_total and friends: seconds with 2 to 6 decimals.
		d := 2 + r.IntN(5)
		scale := pow10[d]
		rate := r.Float64() * 2
		m := math.Floor(r.Float64() * 1e6 * scale)
		vs := make([]float64, n)
		for i := range vs {
			m += math.Max(0, math.Round(rate*15*(1+0.2*r.NormFloat64())*scale))
			vs[i] = m / scale
		}
		return vs
	}},
	{"seconds-counter", func(r *rand.Rand, n int) []float64 {
		// http_request_duration_seconds_sum, process_cpu_seconds_total
		// from a runtime's clock: sums of durations at full precision,
		// 0.0005 to 25 seconds per second, up to 30 days since a restart.
		rate := math.Exp(math.Log(0.0005)+r.Float64()*(math.Log(25)-math.Log(0.0005))) * 15
		v := rate * r.Float64() * 30 * 86400 / 15
		vs := make([]float64, n)
		for i := range vs {
			v += rate * (0.2 + 1.6*r.Float64())
			vs[i] = v
		}
		return vs
	}},
	{"gauge-2dec", func(r *rand.Rand, n int) []float64 {
		// Temperatures, percentages, load: a random walk in 0.01 steps.
		sigma := math.Exp(r.Float64()*math.Log(500)) / 100 // 0.01 .. 5
		m := math.Round(r.NormFloat64() * 10000)
		vs := make([]float64, n)
		for i := range vs {
			m += math.Round(r.NormFloat64() * sigma * 100)
			vs[i] = m / 100
		}
		return vs
	}},
	{"gauge-bytes", func(r *rand.Rand, n int) []float64 {
		// Memory in bytes: a random walk around 1 MB..100 GB; half the
		// series count pages.
		base := math.Exp(r.Float64()*math.Log(1e5)) * 1e6
		unit := 1.0
		if r.IntN(2) == 0 {
			unit = 4096
		}
		v := math.Round(base / unit)
		vs := make([]float64, n)
		for i := range vs {
			v = math.Max(0, v+math.Round(r.NormFloat64()*base*0.001/unit))
			vs[i] = v * unit
		}
		return vs
	}},
	{"gauge-float", func(r *rand.Rand, n int) []float64 {
		// Latency averages, ratios: sum/count with all 53 bits of mantissa.
		mean := math.Exp(r.Float64()*math.Log(1e4)) / 1e3
		vs := make([]float64, n)
		for i := range vs {
			count := 1 + float64(r.IntN(1000))
			vs[i] = mean * math.Exp(0.2*r.NormFloat64()) * count / count * (1 + 1/(count*3))
		}
		return vs
	}},
	{"constant", func(r *rand.Rand, n int) []float64 {
		// up, build_info, config values: 1 mostly, some other numbers.
		v := 1.0
		switch r.IntN(4) {
		case 0:
			v = float64(r.IntN(65536))
		case 1:
			v = float64(r.IntN(1000)) / 10
		}
		vs := make([]float64, n)
		for i := range vs {
			vs[i] = v
		}
		return vs
	}},
}

type benchData struct {
	ts [][]int64
	vs [][]float64
	// Encoded chunks.
	starling, xor [][]byte
	samples       int
}

func makeBenchData(tb testing.TB, class valueClass, jitter bool, n int) *benchData {
	r := rand.New(rand.NewPCG(uint64(len(class.name)), uint64(n)))
	d := &benchData{}
	var e Encoder
	for d.samples < benchSamplesPerClass {
		start := t0 + r.Int64N(15000)
		ts := make([]int64, n)
		for i := range ts {
			ts[i] = start + int64(i)*15000
			if jitter {
				ts[i] += r.Int64N(11) - 5
			}
		}
		vs := class.series(r, n)
		d.ts = append(d.ts, ts)
		d.vs = append(d.vs, vs)
		d.starling = append(d.starling, e.AppendFloats(nil, ts, vs))
		d.xor = append(d.xor, prometheusXOR(ts, vs))
		d.samples += n
	}
	var dec Decoder
	var gotT []int64
	var gotV []float64
	for s, b := range d.starling {
		var err error
		gotT, gotV, err = dec.DecodeFloats(gotT[:0], gotV[:0], b)
		if err != nil {
			tb.Fatalf("series %d: %v", s, err)
		}
		for i := range gotT {
			if gotT[i] != d.ts[s][i] || math.Float64bits(gotV[i]) != math.Float64bits(d.vs[s][i]) {
				tb.Fatalf("series %d sample %d does not round-trip", s, i)
			}
		}
	}
	return d
}

func totalLen(chunks [][]byte) int {
	n := 0
	for _, c := range chunks {
		n += len(c)
	}
	return n
}

// zstdLen compresses whole chunks packed into blocks of at most 16 KiB with
// ZSTD level 1 (Badger's default table compression) and returns the total.
func zstdLen(tb testing.TB, chunks [][]byte) int {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(1)), zstd.WithEncoderConcurrency(1))
	if err != nil {
		tb.Fatal(err)
	}
	defer enc.Close()
	const blockSize = 16 << 10
	total := 0
	var block, out []byte
	for i, c := range chunks {
		block = append(block, c...)
		if i == len(chunks)-1 || len(block)+len(chunks[i+1]) > blockSize {
			out = enc.EncodeAll(block, out[:0])
			total += len(out)
			block = block[:0]
		}
	}
	return total
}

func encodingMix(chunks [][]byte) string {
	counts := map[string]int{}
	for _, c := range chunks {
		counts[EncodingOf(c).String()]++
	}
	var parts []string
	for k, v := range counts {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", k, 100*float64(v)/float64(len(chunks))))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func BenchmarkFloats(b *testing.B) {
	for _, class := range valueClasses {
		for _, jitter := range []bool{false, true} {
			tsName := "15s"
			if jitter {
				tsName = "15s±5ms"
			}
			for _, n := range []int{120, 480} {
				name := fmt.Sprintf("%s/ts=%s/n=%d", class.name, tsName, n)
				var d *benchData
				setup := func(b *testing.B) *benchData {
					if d == nil {
						d = makeBenchData(b, class, jitter, n)
						b.Logf("%s: %s", name, encodingMix(d.starling))
					}
					return d
				}
				report := func(b *testing.B, d *benchData) {
					ns := float64(d.samples)
					b.ReportMetric(float64(totalLen(d.starling))/ns, "B/sample")
					b.ReportMetric(float64(totalLen(d.xor))/ns, "xor-B/sample")
					b.ReportMetric(float64(zstdLen(b, d.starling))/ns, "zstd-B/sample")
					b.ReportMetric(float64(zstdLen(b, d.xor))/ns, "xor-zstd-B/sample")
				}
				perSample := func(b *testing.B, n int) float64 {
					return float64(b.Elapsed().Nanoseconds()) / float64(b.N*n)
				}
				b.Run(name+"/op=encode", func(b *testing.B) {
					d := setup(b)
					var e Encoder
					buf := make([]byte, 0, 16<<10)
					i := 0
					b.ReportAllocs()
					for b.Loop() {
						buf = e.AppendFloats(buf[:0], d.ts[i], d.vs[i])
						i = (i + 1) % len(d.ts)
					}
					b.ReportMetric(perSample(b, n), "ns/sample")
					b.ReportMetric(0, "ns/op")
					report(b, d)
				})
				b.Run(name+"/op=decode", func(b *testing.B) {
					d := setup(b)
					var it Iterator
					var sink float64
					i := 0
					b.ReportAllocs()
					for b.Loop() {
						if err := it.Reset(d.starling[i]); err != nil {
							b.Fatal(err)
						}
						for it.Next() != chunkenc.ValNone {
							_, v := it.At()
							sink += v
						}
						i = (i + 1) % len(d.starling)
					}
					b.ReportMetric(perSample(b, n), "ns/sample")
					b.ReportMetric(0, "ns/op")
					_ = sink
				})
				b.Run(name+"/op=xor-encode", func(b *testing.B) {
					d := setup(b)
					i := 0
					for b.Loop() {
						prometheusXOR(d.ts[i], d.vs[i])
						i = (i + 1) % len(d.ts)
					}
					b.ReportMetric(perSample(b, n), "ns/sample")
					b.ReportMetric(0, "ns/op")
				})
				b.Run(name+"/op=xor-decode", func(b *testing.B) {
					d := setup(b)
					var it chunkenc.Iterator
					var c chunkenc.XORChunk
					var sink float64
					i := 0
					for b.Loop() {
						c.Reset(d.xor[i])
						it = c.Iterator(it)
						for it.Next() != chunkenc.ValNone {
							_, v := it.At()
							sink += v
						}
						i = (i + 1) % len(d.xor)
					}
					b.ReportMetric(perSample(b, n), "ns/sample")
					b.ReportMetric(0, "ns/op")
					_ = sink
				})
			}
		}
	}
}

// BenchmarkHistograms reports the size and speed of native histogram
// chunks (chunkenc inside Starling's framing) for a realistic exponential
// histogram series with a counter reset.
func BenchmarkHistograms(b *testing.B) {
	const n = 120
	g := newHistGen(42, 3)
	ts := regularTS(n, 15000)
	hs := make([]*histogram.Histogram, n)
	for i := range hs {
		if i == n/2 {
			g.reset()
		}
		hs[i] = g.next()
	}
	var e Encoder
	chunk, err := e.AppendHistograms(nil, ts, hs)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("op=encode", func(b *testing.B) {
		buf := make([]byte, 0, 16<<10)
		for b.Loop() {
			buf, _ = e.AppendHistograms(buf[:0], ts, hs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sample")
		b.ReportMetric(float64(len(chunk))/n, "B/sample")
	})
	b.Run("op=decode", func(b *testing.B) {
		var it Iterator
		var h histogram.Histogram
		for b.Loop() {
			if err := it.Reset(chunk); err != nil {
				b.Fatal(err)
			}
			for it.Next() != chunkenc.ValNone {
				it.AtHistogram(&h)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sample")
	})
}
