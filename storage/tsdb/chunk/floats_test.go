package chunk

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

const t0 = int64(1_700_000_000_000) // A realistic epoch-ms start.

var staleNaN = math.Float64frombits(value.StaleNaN)

func regularTS(n int, step int64) []int64 {
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = t0 + int64(i)*step
	}
	return ts
}

func jitterTS(r *rand.Rand, n int, step, jitter int64) []int64 {
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = t0 + int64(i)*step + r.Int64N(2*jitter+1) - jitter
	}
	return ts
}

func fill(n int, f func(i int) float64) []float64 {
	vs := make([]float64, n)
	for i := range vs {
		vs[i] = f(i)
	}
	return vs
}

// checkFloats encodes ts/vs, checks the chunk decodes bit-exactly through
// DecodeFloats and an Iterator, and returns the chunk.
func checkFloats(t testing.TB, ts []int64, vs []float64) []byte {
	t.Helper()
	prefix := []byte("prefix")
	b := AppendFloats(append([]byte(nil), prefix...), ts, vs)
	if string(b[:len(prefix)]) != string(prefix) {
		t.Fatalf("AppendFloats clobbered dst")
	}
	b = b[len(prefix):]
	meta, err := ReadMeta(b)
	if err != nil {
		t.Fatalf("ReadMeta: %v", err)
	}
	if meta.NumSamples != len(ts) || meta.MinTime != ts[0] || meta.MaxTime != ts[len(ts)-1] || !meta.Encoding.IsFloat() {
		t.Fatalf("meta %+v for %d samples %d..%d", meta, len(ts), ts[0], ts[len(ts)-1])
	}
	gotT, gotV, err := DecodeFloats([]int64{42}, []float64{42}, b)
	if err != nil {
		t.Fatalf("DecodeFloats (%v): %v", meta.Encoding, err)
	}
	if len(gotT) != len(ts)+1 || len(gotV) != len(vs)+1 || gotT[0] != 42 || gotV[0] != 42 {
		t.Fatalf("DecodeFloats did not append: %d %d", len(gotT), len(gotV))
	}
	for i := range ts {
		if gotT[i+1] != ts[i] || math.Float64bits(gotV[i+1]) != math.Float64bits(vs[i]) {
			t.Fatalf("%v sample %d: got (%d, %x) want (%d, %x)", meta.Encoding, i,
				gotT[i+1], math.Float64bits(gotV[i+1]), ts[i], math.Float64bits(vs[i]))
		}
	}
	it, err := NewIterator(b)
	if err != nil {
		t.Fatalf("NewIterator: %v", err)
	}
	i := 0
	for it.Next() == chunkenc.ValFloat {
		gt, gv := it.At()
		if gt != ts[i] || math.Float64bits(gv) != math.Float64bits(vs[i]) || it.AtT() != ts[i] || it.AtST() != 0 {
			t.Fatalf("iterator sample %d: got (%d, %v) want (%d, %v)", i, gt, gv, ts[i], vs[i])
		}
		i++
	}
	if i != len(ts) || it.Err() != nil {
		t.Fatalf("iterator read %d of %d, err %v", i, len(ts), it.Err())
	}
	if it.Next() != chunkenc.ValNone || it.Seek(math.MinInt64) != chunkenc.ValNone {
		t.Fatalf("exhausted iterator came back to life")
	}
	return b
}

func TestFloatRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 120
	reg := regularTS(n, 15000)
	cases := []struct {
		name string
		ts   []int64
		vs   []float64
		enc  Encoding // EncNone: any.
	}{
		{"one sample", []int64{t0}, []float64{1.5}, EncFloatConst},
		{"one NaN", []int64{t0}, []float64{staleNaN}, EncFloatConst},
		{"two samples", []int64{t0, t0 + 7}, []float64{1, 2}, EncNone},
		{"constant", reg, fill(n, func(int) float64 { return 42.5 }), EncFloatConst},
		{"constant NaN", reg, fill(n, func(int) float64 { return math.NaN() }), EncFloatConst},
		{"zeros and -0", reg, fill(n, func(i int) float64 { return math.Copysign(0, float64(i%2)-0.5) }), EncNone},
		{"counter", reg, fill(n, func(i int) float64 { return float64(1000 + 37*i + i*i%7) }), EncFloatInt},
		{"counter with resets", reg, counterWithResets(r, n), EncFloatInt},
		{"integer gauge", reg, fill(n, func(int) float64 { return float64(r.Int64N(1 << 30)) }), EncFloatInt},
		{"negative integers", reg, fill(n, func(i int) float64 { return float64(-5000 + i*3) }), EncFloatInt},
		{"0.1 steps", reg, fill(n, func(i int) float64 { return float64(i) / 10 }), EncFloatDecimal},
		{"0.1 accumulated", reg, accumulate(n, 0.1), EncNone},
		{"2 decimals", reg, fill(n, func(int) float64 { return float64(r.Int64N(100000)) / 100 }), EncFloatDecimal},
		{"3 decimals negative", reg, fill(n, func(int) float64 { return float64(r.Int64N(100000)-50000) / 1000 }), EncFloatDecimal},
		{"mixed decimals", reg, fill(n, func(i int) float64 { return float64(r.Int64N(1000000)) / pow10[i%7] }), EncFloatDecimal},
		{"looks decimal, is not", reg, fill(n, func(i int) float64 { return 0.1*float64(i) + 0.2 }), EncNone},
		{"arbitrary", reg, fill(n, func(int) float64 { return r.Float64() * 1000 }), EncNone},
		{"specials mixed in", reg, fill(n, func(i int) float64 {
			switch i % 10 {
			case 3:
				return staleNaN
			case 5:
				return math.Inf(1)
			case 6:
				return math.Inf(-1)
			case 7:
				return math.Copysign(0, -1)
			case 8:
				return math.Float64frombits(0x7ff8dead_beef0001) // NaN payload
			}
			return float64(i)
		}), EncNone},
		{"counter ending stale", reg, fill(n, func(i int) float64 {
			if i == n-1 {
				return staleNaN
			}
			return float64(10 * i)
		}), EncFloatInt},
		{"decimal with one -0", reg, fill(n, func(i int) float64 {
			if i == 50 {
				return math.Copysign(0, -1)
			}
			return float64(i) / 4
		}), EncFloatDecimal},
		{"near 2^53", reg, fill(n, func(i int) float64 { return float64(maxExactInt - 60 + i) }), EncNone},
		{"beyond 2^53", reg, fill(n, func(i int) float64 { return float64(maxExactInt) * float64(1+i) * 3 }), EncNone},
		{"huge and tiny", reg, fill(n, func(i int) float64 { return math.Ldexp(1, (i*37)%2000-1000) }), EncNone},
		{"subnormals", reg, fill(n, func(i int) float64 { return math.Float64frombits(uint64(i + 1)) }), EncNone},
		{"max float", reg, fill(n, func(i int) float64 { return math.MaxFloat64 * float64(i%2*2-1) }), EncNone},
		{"seconds counter", reg, accumulate(n, 0.7391*math.Pi), EncFloatBits},
		{"seconds counter across zero", reg, fill(n, func(i int) float64 { return (float64(i) - 60.5) * 0.0137 * math.E }), EncFloatBits},
		{"full-precision gauge", reg, fill(n, func(int) float64 { return 3 + r.Float64() }), EncFloatBits},
		{"negative full-precision gauge", reg, fill(n, func(int) float64 { return -3 - r.Float64() }), EncFloatBits},
		{"irregular timestamps", irregularTS(r, n), fill(n, func(i int) float64 { return float64(i) }), EncFloatInt},
		{"jittered 15s", jitterTS(r, n, 15000, 5), fill(n, func(i int) float64 { return float64(i) }), EncFloatInt},
		{"jittered with gap", gapTS(jitterTS(r, n, 15000, 5), 60), fill(n, func(i int) float64 { return float64(i) }), EncFloatInt},
		{"extreme timestamps", []int64{math.MinInt64, -1, 0, math.MaxInt64}, []float64{1, 2, 3, 4}, EncNone},
		{"extreme timestamps regular", []int64{math.MinInt64, 0}, []float64{1, 2}, EncNone},
		{"negative timestamps", regularTS(10, -1)[:1], []float64{1}, EncNone},
		{"millisecond steps", regularTS(n, 1), fill(n, func(i int) float64 { return float64(i % 3) }), EncNone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := checkFloats(t, c.ts, c.vs)
			if c.enc != EncNone && EncodingOf(b) != c.enc {
				t.Errorf("encoding %v, want %v", EncodingOf(b), c.enc)
			}
			if xorLen := len(prometheusXOR(c.ts, c.vs)); len(b) > xorLen+16 && EncodingOf(b) != EncFloatPlain {
				t.Errorf("chunk is %d bytes, Prometheus XOR %d", len(b), xorLen)
			}
		})
	}
}

func TestFloatRoundTripMaxSamples(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := MaxSamples
	ts := jitterTS(r, n, 15000, 5)
	for _, vs := range [][]float64{
		counterWithResets(r, n),
		fill(n, func(int) float64 { return float64(r.Int64N(1e6)) / 100 }),
		fill(n, func(int) float64 { return r.NormFloat64() }),
		fill(n, func(int) float64 { return 1 }),
	} {
		b := checkFloats(t, ts, vs)
		if m, _ := ReadMeta(b); m.NumSamples != n {
			t.Fatalf("NumSamples %d", m.NumSamples)
		}
	}
}

func TestTimestampKinds(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	vs := fill(120, func(int) float64 { return 1 })
	for _, c := range []struct {
		name string
		ts   []int64
		kind byte
	}{
		{"regular", regularTS(120, 15000), tsRegular},
		{"jitter", jitterTS(r, 120, 15000, 5), tsGrid},
		{"jitter and gap", gapTS(jitterTS(r, 120, 15000, 5), 60), tsDelta},
		{"irregular", irregularTS(r, 120), tsDelta},
	} {
		b := checkFloats(t, c.ts, vs)
		_, rd, err := readHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := rd.byte(); got != c.kind {
			t.Errorf("%s: timestamp kind %d, want %d", c.name, got, c.kind)
		}
	}
}

func TestAppendFloatsBrokenInvariants(t *testing.T) {
	for _, c := range []struct {
		name string
		ts   []int64
		vs   []float64
	}{
		{"empty", nil, nil},
		{"length mismatch", []int64{1, 2}, []float64{1}},
		{"equal timestamps", []int64{1, 1}, []float64{1, 2}},
		{"decreasing", []int64{2, 1}, []float64{1, 2}},
		{"too many", make([]int64, MaxSamples+1), make([]float64, MaxSamples+1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			AppendFloats(nil, c.ts, c.vs)
		})
	}
}

func TestDecodeFloatsErrors(t *testing.T) {
	b := AppendFloats(nil, regularTS(10, 1000), fill(10, func(i int) float64 { return float64(i) }))
	for i := range len(b) {
		if _, _, err := DecodeFloats(nil, nil, b[:i]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d: err %v", i, err)
		}
	}
	if _, _, err := DecodeFloats(nil, nil, append(b, 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailing byte: err %v", err)
	}
	bad := append([]byte(nil), b...)
	bad[0] = 0xee
	if _, _, err := DecodeFloats(nil, nil, bad); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unknown encoding: err %v", err)
	}
	h := histogramChunk(t)
	if _, _, err := DecodeFloats(nil, nil, h); !errors.Is(err, ErrWrongType) {
		t.Errorf("histogram chunk: err %v", err)
	}
}

func counterWithResets(r *rand.Rand, n int) []float64 {
	vs := make([]float64, n)
	c := float64(r.Int64N(1e6))
	for i := range vs {
		if r.IntN(50) == 0 {
			c = 0
		}
		c += float64(r.Int64N(300))
		vs[i] = c
	}
	return vs
}

func accumulate(n int, step float64) []float64 {
	vs := make([]float64, n)
	for i := 1; i < n; i++ {
		vs[i] = vs[i-1] + step
	}
	return vs
}

func irregularTS(r *rand.Rand, n int) []int64 {
	ts := make([]int64, n)
	ts[0] = t0
	for i := 1; i < n; i++ {
		ts[i] = ts[i-1] + 1 + r.Int64N(100000)
	}
	return ts
}

// gapTS drops one scrape at index i: every later sample moves one interval.
func gapTS(ts []int64, i int) []int64 {
	for j := i; j < len(ts); j++ {
		ts[j] += 15000
	}
	return ts
}

func prometheusXOR(ts []int64, vs []float64) []byte {
	c := chunkenc.NewXORChunk()
	app, err := c.Appender()
	if err != nil {
		panic(err)
	}
	for i := range ts {
		app.Append(0, ts[i], vs[i])
	}
	return c.Bytes()
}

// TestAppendFloatsPlain: the travelling chunk round-trips any values.
func TestAppendFloatsPlain(t *testing.T) {
	ts := []int64{t0, t0 + 15000, t0 + 30001, t0 + 30002}
	vs := []float64{1, staleNaN, math.Inf(-1), math.Copysign(0, -1)}
	b := AppendFloatsPlain(nil, ts, vs)
	if EncodingOf(b) != EncFloatPlain {
		t.Fatalf("encoding %v", EncodingOf(b))
	}
	gt, gv, err := DecodeFloats(nil, nil, b)
	if err != nil || len(gt) != len(ts) {
		t.Fatalf("%d samples, %v", len(gt), err)
	}
	for i := range ts {
		if gt[i] != ts[i] || math.Float64bits(gv[i]) != math.Float64bits(vs[i]) {
			t.Fatalf("sample %d: %d %v", i, gt[i], gv[i])
		}
	}
}

// TestPromXOR: a Prometheus XOR chunk wrapped as it is decodes to its
// samples, bit for bit, through DecodeFloats and the Iterator; a header
// that does not match the chunk is corrupt.
func TestPromXOR(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ts := jitterTS(r, 50, 15000, 5)
	vs := counterWithResets(r, 50)
	vs[7], vs[9] = staleNaN, math.Inf(-1)
	b := promXORChunk(t, ts, vs)
	if m, err := ReadMeta(b); err != nil || m.Encoding != EncFloatPromXOR || m.NumSamples != 50 || m.MinTime != ts[0] || m.MaxTime != ts[49] {
		t.Fatalf("meta %+v, %v", m, err)
	}
	gotT, gotV, err := DecodeFloats(nil, nil, b)
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewIterator(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ts {
		if gotT[i] != ts[i] || math.Float64bits(gotV[i]) != math.Float64bits(vs[i]) {
			t.Fatalf("sample %d: %d %v, want %d %v", i, gotT[i], gotV[i], ts[i], vs[i])
		}
		if it.Next() != chunkenc.ValFloat {
			t.Fatalf("iterator ended at %d: %v", i, it.Err())
		}
		if at, av := it.At(); at != ts[i] || math.Float64bits(av) != math.Float64bits(vs[i]) {
			t.Fatalf("iterator sample %d: %d %v", i, at, av)
		}
	}
	c := chunkenc.NewXORChunk()
	app, _ := c.Appender()
	for i := range ts {
		app.Append(0, ts[i], vs[i])
	}
	for name, bad := range map[string][]byte{
		"count":    AppendPromXOR(nil, 49, ts[0], ts[49], c.Bytes()),
		"min time": AppendPromXOR(nil, 50, ts[0]-1, ts[49], c.Bytes()),
		"max time": AppendPromXOR(nil, 50, ts[0], ts[49]+1, c.Bytes()),
		"cut":      AppendPromXOR(nil, 50, ts[0], ts[49], c.Bytes()[:len(c.Bytes())/2]),
		"empty":    AppendPromXOR(nil, 50, ts[0], ts[49], nil),
	} {
		if _, _, err := DecodeFloats(nil, nil, bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}
