package chunk

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// seedChunks returns valid chunks of every encoding and timestamp kind.
func seedChunks(tb testing.TB) [][]byte {
	r := rand.New(rand.NewPCG(9, 9))
	reg := regularTS(40, 15000)
	jit := jitterTS(r, 40, 15000, 5)
	irr := irregularTS(r, 40)
	out := [][]byte{
		AppendFloats(nil, []int64{5}, []float64{1}),
		AppendFloats(nil, reg, fill(40, func(int) float64 { return 7 })),
		AppendFloats(nil, reg, counterWithResets(r, 40)),
		AppendFloats(nil, jit, fill(40, func(int) float64 { return float64(r.Int64N(1e5)) / 100 })),
		AppendFloats(nil, irr, fill(40, func(i int) float64 {
			if i == 7 {
				return staleNaN
			}
			return float64(i * i)
		})),
		AppendFloats(nil, gapTS(jitterTS(r, 40, 15000, 5), 20), fill(40, func(int) float64 { return r.NormFloat64() })),
		AppendFloats(nil, reg, fill(40, func(int) float64 { return r.Float64() })),
		AppendFloats(nil, []int64{math.MinInt64, math.MaxInt64}, []float64{math.Inf(1), math.Copysign(0, -1)}),
		AppendFloats(nil, regularTS(40, 1000), fill(40, func(int) float64 { return 4096 * float64(r.Int64N(1e6)) })),
		AppendFloats(nil, jitterTS(r, 40, 15000, 1000), fill(40, func(int) float64 { return float64(r.Int64N(1e6)) / 1e4 })),
		AppendFloats(nil, reg, accumulate(40, 0.7391*math.Pi)), // EncFloatBits
		promXORChunk(tb, jit, counterWithResets(r, 40)),
	}
	for _, c := range histCases(30) {
		ts := regularTS(len(c.hs), 1000)
		b, err := AppendHistograms(nil, ts, c.hs)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
		fhs := make([]*histogram.FloatHistogram, len(c.hs))
		for i, h := range c.hs {
			fhs[i] = h.ToFloat(nil)
		}
		if b, err = AppendFloatHistograms(nil, ts, fhs); err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// promXORChunk is an EncFloatPromXOR chunk of the samples.
func promXORChunk(tb testing.TB, ts []int64, vs []float64) []byte {
	c := chunkenc.NewXORChunk()
	app, err := c.Appender()
	if err != nil {
		tb.Fatal(err)
	}
	for i := range ts {
		app.Append(0, ts[i], vs[i])
	}
	return AppendPromXOR(nil, len(ts), ts[0], ts[len(ts)-1], c.Bytes())
}

func FuzzDecode(f *testing.F) {
	for _, b := range seedChunks(f) {
		f.Add(b)
		f.Add(b[:len(b)/2])
		c := append([]byte(nil), b...)
		c[len(c)/2] ^= 0x10
		f.Add(c)
	}
	f.Add([]byte{})
	f.Add([]byte{0x06, 0x01, 0x00, 0x00, 0x01, 0x04, 0x00, 0x01, 0x00})
	var it Iterator
	var d Decoder
	f.Fuzz(func(t *testing.T, b []byte) {
		meta, merr := ReadMeta(b)
		_, _, derr := d.DecodeFloats(nil, nil, b)
		if merr != nil && derr == nil {
			t.Fatalf("DecodeFloats accepted a chunk ReadMeta rejects: %v", merr)
		}
		if derr != nil && !errors.Is(derr, ErrCorrupt) && !errors.Is(derr, ErrWrongType) {
			t.Fatalf("DecodeFloats error %v wraps neither ErrCorrupt nor ErrWrongType", derr)
		}
		if err := it.Reset(b); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Reset error %v does not wrap ErrCorrupt", err)
			}
			if it.Next() != chunkenc.ValNone {
				t.Fatal("Next after failed Reset")
			}
			return
		}
		if meta.Encoding.IsFloat() && derr != nil {
			t.Fatalf("Reset accepted what DecodeFloats rejected: %v", derr)
		}
		n, last := 0, int64(math.MinInt64)
		var h histogram.Histogram
		var fh histogram.FloatHistogram
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			n++
			if n > meta.NumSamples {
				t.Fatalf("more than %d samples", meta.NumSamples)
			}
			if n > 1 && it.AtT() <= last {
				t.Fatal("timestamps not increasing")
			}
			last = it.AtT()
			switch vt {
			case chunkenc.ValFloat:
				it.At()
			case chunkenc.ValHistogram:
				it.AtHistogram(&h)
				it.AtFloatHistogram(nil)
			case chunkenc.ValFloatHistogram:
				it.AtFloatHistogram(&fh)
			}
		}
		if it.Err() == nil && (n != meta.NumSamples || last != meta.MaxTime) {
			t.Fatalf("clean end after %d of %d samples at %d (max %d)", n, meta.NumSamples, last, meta.MaxTime)
		}
		if it.Err() != nil && !errors.Is(it.Err(), ErrCorrupt) {
			t.Fatalf("Err %v does not wrap ErrCorrupt", it.Err())
		}
		// Seek through the chunk, too.
		if it.Reset(b) == nil {
			for s := meta.MinTime; it.Seek(s) != chunkenc.ValNone; s = it.AtT() + 1 {
				if it.AtT() < s {
					t.Fatalf("Seek(%d) stopped at %d", s, it.AtT())
				}
				if it.AtT() == math.MaxInt64 {
					break
				}
			}
		}
	})
}

// FuzzRoundTrip derives samples from the fuzz input: mode selects how
// timestamp deltas and values are read from the bytes, so that the fuzzer
// reaches every encoding.
func FuzzRoundTrip(f *testing.F) {
	r := rand.New(rand.NewPCG(4, 2))
	for mode := range 16 {
		b := make([]byte, 8+16*(10+mode*7))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		f.Add(byte(mode), b)
	}
	f.Add(byte(0x33), []byte{})
	f.Add(byte(0xff), make([]byte, 400))
	var e Encoder
	var d Decoder
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		ts, vs := samplesFromBytes(mode, data)
		if len(ts) == 0 {
			return
		}
		b := e.AppendFloats(nil, ts, vs)
		gotT, gotV, err := d.DecodeFloats(nil, nil, b)
		if err != nil {
			t.Fatalf("%v: %v", EncodingOf(b), err)
		}
		for i := range ts {
			if gotT[i] != ts[i] || math.Float64bits(gotV[i]) != math.Float64bits(vs[i]) {
				t.Fatalf("%v sample %d: got (%d, %x) want (%d, %x)", EncodingOf(b), i,
					gotT[i], math.Float64bits(gotV[i]), ts[i], math.Float64bits(vs[i]))
			}
		}
	})
}

func samplesFromBytes(mode byte, data []byte) ([]int64, []float64) {
	if len(data) < 8 {
		return nil, nil
	}
	t := int64(binary.LittleEndian.Uint64(data))
	data = data[8:]
	var ts []int64
	var vs []float64
	prev := 0.0
	for len(data) >= 9 && len(ts) < MaxSamples {
		db, raw := data[0], binary.LittleEndian.Uint64(data[1:9])
		data = data[9:]
		if len(ts) > 0 {
			var delta uint64
			switch mode & 3 {
			case 0:
				delta = 15000
			case 1:
				delta = 15000 + uint64(db%11) - 5
			case 2:
				delta = 1 + uint64(db)
			case 3:
				delta = 1 + uint64(db)<<uint(db%56)
			}
			if uint64(math.MaxInt64-t) < delta {
				break
			}
			t += int64(delta)
		}
		var v float64
		switch (mode >> 2) & 3 {
		case 0:
			v = math.Float64frombits(raw)
		case 1:
			v = float64(int64(raw) >> (raw % 64)) // Integers of every size.
		case 2:
			v = float64(int64(raw)>>20) / pow10[raw%8] // Decimals.
		case 3:
			// Mostly a counter or repeats, sometimes something odd.
			switch raw % 16 {
			case 0:
				v = math.Float64frombits(raw)
			case 1:
				v = staleNaN
			case 2:
				v = math.Copysign(0, -1)
			case 3:
				v = prev
			default:
				v = prev + float64(raw>>58)
			}
		}
		prev = v
		ts = append(ts, t)
		vs = append(vs, v)
	}
	return ts, vs
}

// TestCorruptionSweep flips bits in every byte of every seed chunk and
// truncates it at every length: decoding must fail cleanly or succeed, and
// never panic or run past the header's sample count.
func TestCorruptionSweep(t *testing.T) {
	var it Iterator
	var h histogram.Histogram
	for _, b := range seedChunks(t) {
		n, err := NumSamples(b)
		if err != nil {
			t.Fatal(err)
		}
		try := func(c []byte) {
			if it.Reset(c) != nil {
				return
			}
			count := 0
			for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
				if count++; count > n+1 {
					t.Fatalf("corrupt chunk yields more than %d samples", n)
				}
				if vt == chunkenc.ValHistogram {
					it.AtHistogram(&h)
				}
			}
			if err := it.Err(); err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Err %v does not wrap ErrCorrupt", err)
			}
		}
		c := make([]byte, len(b))
		for i := range b {
			for _, mask := range []byte{0x01, 0x10, 0x80, 0xff} {
				copy(c, b)
				c[i] ^= mask
				try(c)
			}
			try(b[:i])
		}
	}
}
