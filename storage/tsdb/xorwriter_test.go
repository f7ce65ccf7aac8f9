package tsdb

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// TestXORWriterMatchesChunkenc: the head's appender writes the bytes
// Prometheus' XOR appender writes, for regular, jittered and wild times
// and values of every kind.
func TestXORWriterMatchesChunkenc(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := map[string]func(i int, prevT int64) (int64, float64){
		"regular counter": func(i int, _ int64) (int64, float64) { return int64(i) * 15000, float64(i * 3) },
		"jitter gauge": func(i int, _ int64) (int64, float64) {
			return int64(i)*15000 + rng.Int64N(11) - 5, math.Round(rng.NormFloat64()*1000) / 100
		},
		"wild": func(_ int, prevT int64) (int64, float64) {
			steps := []int64{1, 8191, 8193, 65535, 65537, 1 << 19, 1<<19 + 3, 1 << 40}
			v := []float64{0, math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), math.MaxFloat64, 1e-300, rng.Float64()}[rng.IntN(8)]
			return prevT + steps[rng.IntN(len(steps))], v
		},
		"constant": func(i int, _ int64) (int64, float64) { return int64(i) * 1000, 42 },
	}
	for name, gen := range cases {
		for _, n := range []int{1, 2, 3, 120, 2000} {
			c := chunkenc.NewXORChunk()
			app, _ := c.Appender()
			var w xorWriter
			prev := int64(1_700_000_000_000)
			for i := range n {
				ts, v := gen(i, prev)
				if i == 0 {
					ts += prev
				}
				if ts <= prev && i > 0 {
					ts = prev + 1
				}
				prev = ts
				app.Append(0, ts, v)
				w.append(ts, v)
			}
			if got := w.chunk(nil); !bytes.Equal(got, c.Bytes()) {
				t.Fatalf("%s, %d samples: %d bytes, chunkenc %d, first difference at %d", name, n, len(got), len(c.Bytes()), firstDifference(got, c.Bytes()))
			}
		}
	}
}

func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
