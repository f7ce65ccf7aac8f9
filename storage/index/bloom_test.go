package index

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// traceHashes returns n xxhash hashes of random 128-bit trace IDs drawn from
// a generator seeded with seed, as the store hashes trace IDs.
func traceHashes(seed uint64, n int) []uint64 {
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	out := make([]uint64, n)
	var id [16]byte
	for i := range out {
		binary.LittleEndian.PutUint64(id[:8], rng.Uint64())
		binary.LittleEndian.PutUint64(id[8:], rng.Uint64())
		out[i] = xxhash.Sum64(id[:])
	}
	return out
}

// falsePositives counts the probes f reports.
func falsePositives(f *Bloom, probes []uint64) float64 {
	n := 0
	for _, h := range probes {
		if f.MayContain(h) {
			n++
		}
	}
	return float64(n) / float64(len(probes))
}

// requireAll fails unless f reports every hash.
func requireAll(t *testing.T, f *Bloom, hashes []uint64) {
	t.Helper()
	for i, h := range hashes {
		if !f.MayContain(h) {
			t.Fatalf("false negative: hash %d (%#x) not reported", i, h)
		}
	}
}

const maxMeasuredRate = 0.013 // the 1 % target plus statistical slack

func TestBloomFalsePositiveRate(t *testing.T) {
	const expected = 1_000_000
	added := traceHashes(1, 4*expected)
	probes := traceHashes(2, 1_000_000)

	f := NewBloom(expected, 0.01)
	for _, h := range added[:expected] {
		f.Add(h)
	}
	requireAll(t, f, added[:expected])
	rate := falsePositives(f, probes)
	t.Logf("1× expected (%d IDs): measured false-positive rate %.4f%% (estimate %.4f%%), %d stages, %.2f bytes/entry",
		f.Len(), 100*rate, 100*f.FalsePositiveRate(), len(f.stages), float64(f.SizeBytes())/float64(f.Len()))
	if rate > maxMeasuredRate {
		t.Errorf("false-positive rate %.4f%% at the expected count, want ≤ %.1f%%", 100*rate, 100*maxMeasuredRate)
	}

	for _, h := range added[expected:] {
		f.Add(h)
	}
	requireAll(t, f, added)
	rate = falsePositives(f, probes)
	t.Logf("4× expected (%d IDs): measured false-positive rate %.4f%% (estimate %.4f%%), %d stages, %.2f bytes/entry",
		f.Len(), 100*rate, 100*f.FalsePositiveRate(), len(f.stages), float64(f.SizeBytes())/float64(f.Len()))
	if rate > maxMeasuredRate {
		t.Errorf("false-positive rate %.4f%% at 4× the expected count, want ≤ %.1f%%", 100*rate, 100*maxMeasuredRate)
	}
	if n := f.Len(); n < 4*expected*99/100 || n > 4*expected {
		t.Errorf("Len = %d after %d distinct adds", n, 4*expected)
	}
}

// TestBloomPartitionHashes checks the rate holds for hashes whose top bits
// are constant, as the hashes of one partition are.
func TestBloomPartitionHashes(t *testing.T) {
	const n = 200_000
	part := func(hs []uint64) []uint64 {
		for i, h := range hs {
			hs[i] = 0xab<<56 | h>>8
		}
		return hs
	}
	added, probes := part(traceHashes(3, n)), part(traceHashes(4, n))
	f := NewBloom(n, 0.01)
	for _, h := range added {
		f.Add(h)
	}
	requireAll(t, f, added)
	rate := falsePositives(f, probes)
	t.Logf("hashes of one partition: measured false-positive rate %.4f%%", 100*rate)
	if rate > maxMeasuredRate {
		t.Errorf("false-positive rate %.4f%%, want ≤ %.1f%%", 100*rate, 100*maxMeasuredRate)
	}
}

func TestBloomDuplicatesDoNotGrow(t *testing.T) {
	f := NewBloom(1000, 0.01)
	hs := traceHashes(5, 1000)
	for range 50 {
		for _, h := range hs {
			f.Add(h)
		}
	}
	if len(f.stages) != 1 || f.Len() > 1000 || f.Len() < 990 {
		t.Fatalf("50 rounds of the same 1000 hashes: Len %d, %d stages; want ≈1000 in one stage", f.Len(), len(f.stages))
	}
}

func TestBloomStageRates(t *testing.T) {
	// The sizing formula against a measurement: a single stage filled to
	// its capacity must show its level's rate.
	f := NewBloom(100_000, 0.01)
	for level := range uint8(4) {
		s := f.newStage(level)
		for _, h := range traceHashes(10+uint64(level), int(s.capacity)) {
			s.insert(h)
		}
		s.count = s.capacity
		hits := 0
		probes := traceHashes(20+uint64(level), 400_000)
		for _, h := range probes {
			if s.has(h) {
				hits++
			}
		}
		measured := float64(hits) / float64(len(probes))
		want := f.levelRate(level)
		bitsPer := float64(len(s.blocks)*bloomBlockBytes*8) / float64(s.capacity)
		t.Logf("level %d: capacity %d, %.2f bits/item, target %.4f%%, formula %.4f%%, measured %.4f%%",
			level, s.capacity, bitsPer, 100*want, 100*sbbfRate(float64(s.capacity)/float64(len(s.blocks))), 100*measured)
		if measured > 1.25*want+0.0002 {
			t.Errorf("level %d: measured %.4f%%, target %.4f%%", level, 100*measured, 100*want)
		}
	}
	if r := sbbfRate(0); r != 0 {
		t.Errorf("sbbfRate(0) = %v", r)
	}
	if r := sbbfRate(1e6); r != 1 {
		t.Errorf("sbbfRate(1e6) = %v", r)
	}
}

func TestNewBloomClamps(t *testing.T) {
	tests := []struct {
		expected     int
		rate         float64
		wantExpected uint64
		wantRate     float64
	}{
		{0, 0.01, DefaultBloomExpected, 0.01},
		{-5, 0.01, DefaultBloomExpected, 0.01},
		{1, 0.01, 1, 0.01},
		{10, 0, 10, DefaultFalsePositiveRate},
		{10, math.NaN(), 10, DefaultFalsePositiveRate},
		{10, 1, 10, DefaultFalsePositiveRate},
		{10, 1e-9, 10, MinFalsePositiveRate},
		{10, 0.9, 10, MaxFalsePositiveRate},
		{math.MaxInt, 0.05, MaxBloomExpected, 0.05},
	}
	for _, tt := range tests {
		f := NewBloom(tt.expected, tt.rate)
		if f.expected != tt.wantExpected || f.rate != tt.wantRate {
			t.Errorf("NewBloom(%d, %v): expected %d rate %v, want %d %v", tt.expected, tt.rate, f.expected, f.rate, tt.wantExpected, tt.wantRate)
		}
		if f.SizeBytes() > 100 || f.Len() != 0 || f.MayContain(42) {
			t.Errorf("NewBloom(%d, %v) is not empty and small", tt.expected, tt.rate)
		}
	}
}

func TestBloomZeroValue(t *testing.T) {
	hs := traceHashes(9, 100)
	var z Bloom
	if z.MayContain(1) || z.Len() != 0 || z.FalsePositiveRate() != 0 {
		t.Fatalf("zero Bloom is not empty")
	}
	data, _ := z.MarshalBinary()
	var back Bloom
	if err := back.UnmarshalBinary(data); err != nil || back.expected != DefaultBloomExpected || back.rate != DefaultFalsePositiveRate {
		t.Fatalf("zero Bloom encodes as %v, %+v", err, back)
	}
	for _, h := range hs {
		z.Add(h)
	}
	requireAll(t, &z, hs)
	if z.expected != DefaultBloomExpected || z.rate != DefaultFalsePositiveRate {
		t.Errorf("zero Bloom adopted %d, %v", z.expected, z.rate)
	}
	// A zero Bloom takes the parameters of what it is merged with.
	piece := NewBloom(50, 0.02)
	for _, h := range hs {
		piece.Add(h)
	}
	var u Bloom
	if err := u.Union(piece); err != nil || u.expected != 50 || u.rate != 0.02 {
		t.Fatalf("zero Union: %v, %d, %v", err, u.expected, u.rate)
	}
	requireAll(t, &u, hs)
	if err := piece.Union(new(Bloom)); err != nil || piece.Len() != u.Len() {
		t.Errorf("Union with a zero Bloom: %v", err)
	}
}

func TestBloomRoundTrip(t *testing.T) {
	hs := traceHashes(6, 30_000)
	probes := traceHashes(7, 30_000)
	for _, n := range []int{0, 1, 1000, 30_000} {
		f := NewBloom(5000, 0.01)
		for _, h := range hs[:n] {
			f.Add(h)
		}
		data, err := f.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var g Bloom
		if err := g.UnmarshalBinary(data); err != nil {
			t.Fatalf("%d items: %v", n, err)
		}
		if g.Len() != f.Len() || g.SizeBytes() != f.SizeBytes() || len(g.stages) != len(f.stages) {
			t.Fatalf("%d items: decoded Len %d size %d stages %d, want %d %d %d", n, g.Len(), g.SizeBytes(), len(g.stages), f.Len(), f.SizeBytes(), len(f.stages))
		}
		requireAll(t, &g, hs[:n])
		for _, h := range probes {
			if f.MayContain(h) != g.MayContain(h) {
				t.Fatalf("%d items: decoded filter answers %#x differently", n, h)
			}
		}
		prefix := []byte("key")
		appended, _ := f.AppendBinary(prefix)
		if string(appended[len(prefix):]) != string(data) {
			t.Fatalf("AppendBinary differs from MarshalBinary")
		}
		// A decoded filter keeps growing like the original.
		for _, h := range hs[n:] {
			g.Add(h)
		}
		requireAll(t, &g, hs)
	}
}

func TestBloomUnmarshalErrors(t *testing.T) {
	f := NewBloom(100, 0.01)
	for _, h := range traceHashes(8, 300) {
		f.Add(h)
	}
	good, _ := f.MarshalBinary()
	reseal := func(body []byte) []byte {
		return binary.LittleEndian.AppendUint32(body, checksum(body))
	}
	body := good[:len(good)-4]
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"version only", []byte{bloomVersion}, ErrCorrupt},
		{"unknown version", append([]byte{9}, good[1:]...), ErrVersion},
		{"flipped bit", func() []byte { b := append([]byte(nil), good...); b[len(b)/2] ^= 4; return b }(), ErrCorrupt},
		{"truncated", good[:len(good)-9], ErrCorrupt},
		{"truncated resealed", reseal(append([]byte(nil), body[:len(body)-7]...)), ErrCorrupt},
		{"trailing resealed", reseal(append(append([]byte(nil), body...), 0)), ErrCorrupt},
		{"zero expected", reseal([]byte{bloomVersion, 0, 0, 0, 0, 0, 0, 0, 0x84, 0x3f, 0}), ErrCorrupt},
		{"bad rate", reseal([]byte{bloomVersion, 1, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0}), ErrCorrupt},
		{"huge stage count", reseal([]byte{bloomVersion, 1, 0x7b, 0x14, 0xae, 0x47, 0xe1, 0x7a, 0x84, 0x3f, 0xff, 0xff, 0x03}), ErrCorrupt},
	}
	for _, tt := range tests {
		g := NewBloom(7, 0.02)
		err := g.UnmarshalBinary(tt.data)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
		}
		if g.expected != 7 || g.rate != 0.02 || len(g.stages) != 0 {
			t.Errorf("%s: a failed decode changed the filter", tt.name)
		}
	}
	// An empty filter with valid parameters decodes.
	empty := reseal([]byte{bloomVersion, 1, 0x7b, 0x14, 0xae, 0x47, 0xe1, 0x7a, 0x84, 0x3f, 0})
	var g Bloom
	if err := g.UnmarshalBinary(empty); err != nil || g.expected != 1 || g.rate != 0.01 {
		t.Errorf("empty filter: %v %+v", err, g)
	}
}

func TestBloomUnion(t *testing.T) {
	const total = 200_000
	hs := traceHashes(30, 2*total)
	probes := traceHashes(31, 400_000)

	t.Run("pieces of one expected count", func(t *testing.T) {
		// Two writers each see half of the window's items and size their
		// pieces for the window: the union is as good as one filter.
		a, b := NewBloom(total, 0.01), NewBloom(total, 0.01)
		for i, h := range hs[:total] {
			if i%2 == 0 {
				a.Add(h)
			} else {
				b.Add(h)
			}
		}
		if err := a.Union(b); err != nil {
			t.Fatal(err)
		}
		requireAll(t, a, hs[:total])
		rate := falsePositives(a, probes)
		t.Logf("union of two halves: %d stages, Len %d, measured %.4f%%, estimate %.4f%%", len(a.stages), a.Len(), 100*rate, 100*a.FalsePositiveRate())
		if len(a.stages) != 1 || rate > maxMeasuredRate {
			t.Errorf("union of two halves: %d stages, rate %.4f%%; want 1 stage, ≤ %.1f%%", len(a.stages), 100*rate, 100*maxMeasuredRate)
		}
		if n := a.Len(); n < total*97/100 || n > total*103/100 {
			t.Errorf("union Len = %d, want ≈ %d", n, total)
		}
		// The union keeps growing correctly.
		for _, h := range hs[total:] {
			a.Add(h)
		}
		requireAll(t, a, hs)
		if rate := falsePositives(a, probes); rate > maxMeasuredRate {
			t.Errorf("grown union: rate %.4f%%", 100*rate)
		}
	})

	t.Run("overfull pieces", func(t *testing.T) {
		// Each piece holds the whole expected count: OR-ing their stages
		// would double a stage's load, so the union keeps both.
		a, b := NewBloom(total, 0.01), NewBloom(total, 0.01)
		for _, h := range hs[:total] {
			a.Add(h)
		}
		for _, h := range hs[total:] {
			b.Add(h)
		}
		ra, rb := falsePositives(a, probes), falsePositives(b, probes)
		if err := a.Union(b); err != nil {
			t.Fatal(err)
		}
		requireAll(t, a, hs)
		rate := falsePositives(a, probes)
		t.Logf("union of two full pieces: %d stages, measured %.4f%% (pieces %.4f%%, %.4f%%), estimate %.4f%%",
			len(a.stages), 100*rate, 100*ra, 100*rb, 100*a.FalsePositiveRate())
		if rate > ra+rb+0.002 {
			t.Errorf("union rate %.4f%% exceeds the sum of the pieces' %.4f%%", 100*rate, 100*(ra+rb))
		}
	})

	t.Run("many overfull pieces", func(t *testing.T) {
		a := NewBloom(100, 0.01)
		for i := range 20 {
			b := NewBloom(100, 0.01)
			for _, h := range hs[i*100 : (i+1)*100] {
				b.Add(h)
			}
			if err := a.Union(b); err != nil {
				t.Fatal(err)
			}
		}
		requireAll(t, a, hs[:2000])
		if len(a.stages) > bloomMaxPerLevel {
			t.Errorf("%d stages of level 0, want at most %d", len(a.stages), bloomMaxPerLevel)
		}
		data, _ := a.MarshalBinary()
		var g Bloom
		if err := g.UnmarshalBinary(data); err != nil {
			t.Fatalf("union of many pieces does not decode: %v", err)
		}
	})

	t.Run("self, empty and incompatible", func(t *testing.T) {
		a := NewBloom(1000, 0.01)
		for _, h := range hs[:500] {
			a.Add(h)
		}
		n := a.Len()
		if err := a.Union(a); err != nil || a.Len() != n {
			t.Errorf("self union: %v, Len %d → %d", err, n, a.Len())
		}
		if err := a.Union(NewBloom(1000, 0.01)); err != nil || a.Len() != n || len(a.stages) != 1 {
			t.Errorf("union with empty: %v, Len %d", err, a.Len())
		}
		e := NewBloom(1000, 0.01)
		if err := e.Union(a); err != nil || e.Len() != n {
			t.Errorf("empty union a: %v, Len %d", err, e.Len())
		}
		requireAll(t, e, hs[:500])
		if err := a.Union(NewBloom(1001, 0.01)); !errors.Is(err, ErrIncompatible) {
			t.Errorf("different expected: %v", err)
		}
		if err := a.Union(NewBloom(1000, 0.02)); !errors.Is(err, ErrIncompatible) {
			t.Errorf("different rate: %v", err)
		}
	})
}

func BenchmarkBloomAdd(b *testing.B) {
	const n = 1 << 20
	hs := traceHashes(40, n)
	f := NewBloom(n, 0.01)
	i := 0
	for b.Loop() {
		if i == n {
			// Start over so the filter never grows past its expected
			// count; the reset is amortized over 2^20 adds.
			f = NewBloom(n, 0.01)
			i = 0
		}
		f.Add(hs[i])
		i++
	}
	// The size of a filter holding its expected count.
	full := NewBloom(n, 0.01)
	for _, h := range hs {
		full.Add(h)
	}
	b.ReportMetric(float64(full.SizeBytes())/float64(full.Len()), "bytes/entry")
}

func BenchmarkBloomMayContain(b *testing.B) {
	const n = 1 << 20
	f := NewBloom(n, 0.01)
	for _, h := range traceHashes(41, n) {
		f.Add(h)
	}
	probes := traceHashes(42, n) // absent: the common case of a skipped window
	b.ResetTimer()
	i, hits := 0, 0
	for b.Loop() {
		if f.MayContain(probes[i&(n-1)]) {
			hits++
		}
		i++
	}
	b.ReportMetric(float64(f.SizeBytes())/float64(f.Len()), "bytes/entry")
	_ = hits
}

func BenchmarkBloomMayContainGrown(b *testing.B) {
	const n = 1 << 18
	f := NewBloom(n, 0.01)
	for _, h := range traceHashes(43, 4*n) {
		f.Add(h)
	}
	probes := traceHashes(44, n)
	i := 0
	for b.Loop() {
		f.MayContain(probes[i&(n-1)])
		i++
	}
	b.ReportMetric(float64(len(f.stages)), "stages")
	b.ReportMetric(float64(f.SizeBytes())/float64(f.Len()), "bytes/entry")
}
