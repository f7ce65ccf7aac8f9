package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

func TestCodecPrimitives(t *testing.T) {
	var b []byte
	b = appendUvarint(b, math.MaxUint64)
	b = appendVarint(b, math.MinInt64)
	b = appendFixed64(b, 0x0102030405060708)
	b = appendFloat64(b, math.Inf(-1))
	b = appendBytes(b, []byte{0, 1, 2})
	b = appendString(b, "héllo")
	b = appendBool(b, true)
	b = appendBool(b, false)
	b = appendBytes(b, nil)
	d := decoder{b: b}
	if v := d.uvarint(); v != math.MaxUint64 {
		t.Errorf("uvarint %d", v)
	}
	if v := d.varint(); v != math.MinInt64 {
		t.Errorf("varint %d", v)
	}
	if v := d.fixed64(); v != 0x0102030405060708 {
		t.Errorf("fixed64 %x", v)
	}
	if v := d.float64(); !math.IsInf(v, -1) {
		t.Errorf("float64 %v", v)
	}
	if v := d.bytes(); !bytes.Equal(v, []byte{0, 1, 2}) {
		t.Errorf("bytes %v", v)
	}
	if v := d.string(); v != "héllo" {
		t.Errorf("string %q", v)
	}
	if !d.bool() || d.bool() {
		t.Error("bools")
	}
	if v := d.bytes(); len(v) != 0 {
		t.Errorf("empty bytes %v", v)
	}
	if err := d.done(); err != nil {
		t.Errorf("done: %v", err)
	}

	bad := []struct {
		name string
		in   []byte
		read func(d *decoder)
	}{
		{"empty byte", nil, func(d *decoder) { d.byte() }},
		{"truncated uvarint", []byte{0x80}, func(d *decoder) { d.uvarint() }},
		{"overlong uvarint", bytes.Repeat([]byte{0xff}, 11), func(d *decoder) { d.uvarint() }},
		{"truncated varint", []byte{0x80, 0x80}, func(d *decoder) { d.varint() }},
		{"short fixed64", []byte{1, 2, 3}, func(d *decoder) { d.fixed64() }},
		{"bool 2", []byte{2}, func(d *decoder) { d.bool() }},
		{"length past end", []byte{5, 'a'}, func(d *decoder) { d.bytes() }},
		{"huge count", binary.AppendUvarint(nil, 1<<40), func(d *decoder) { d.count(1) }},
		{"count of 8-byte items", []byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, func(d *decoder) { d.count(8) }},
		{"short fixed", []byte{1}, func(d *decoder) { d.fixed(16) }},
		{"leftover", []byte{1, 2}, func(d *decoder) { d.byte() }},
		{"value tag", []byte{99}, func(d *decoder) { d.value(pcommon.NewValueEmpty(), 0) }},
		{"skip value tag", []byte{99}, func(d *decoder) { d.skipValue(0) }},
	}
	for _, tc := range bad {
		d := decoder{b: tc.in}
		tc.read(&d)
		if err := d.done(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", tc.name, err)
		}
		// Errors stick and later reads return zero values.
		if tc.name != "leftover" && d.uvarint() != 0 || d.string() != "" || d.fixed64() != 0 {
			t.Errorf("%s: reads after an error return data", tc.name)
		}
	}
	// count(n) accepts exactly what fits.
	d = decoder{b: append(binary.AppendUvarint(nil, 2), make([]byte, 16)...)}
	if n := d.count(8); n != 2 || d.err != nil {
		t.Errorf("count that fits: %d %v", n, d.err)
	}
}

func TestValueCodec(t *testing.T) {
	m := pcommon.NewMap()
	m.PutStr("s", "x")
	m.PutBool("t", true)
	m.PutBool("f", false)
	m.PutInt("i", -42)
	m.PutDouble("d", math.NaN())
	m.PutEmptyBytes("b").FromRaw([]byte{0})
	m.PutEmpty("e")
	sl := m.PutEmptySlice("a")
	sl.AppendEmpty().SetStr("y")
	sl.AppendEmpty().SetEmptyMap().PutInt("k", 1)
	nested := m.PutEmptyMap("m")
	nested.PutEmptySlice("deeper").AppendEmpty().SetEmptySlice()
	enc := appendMap(nil, m)

	got := pcommon.NewMap()
	d := decoder{b: enc}
	d.mapInto(got, 0)
	if err := d.done(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(appendMap(nil, got), enc) {
		t.Error("map does not re-encode to the same bytes")
	}
	d = decoder{b: enc}
	d.skipMap(0)
	if err := d.done(); err != nil {
		t.Errorf("skipMap: %v", err)
	}

	// Nesting deeper than maxValueDepth is refused, not recursed into.
	deep := []byte{}
	for range maxValueDepth + 2 {
		deep = append(deep, valArray, 1)
	}
	deep = append(deep, valEmpty)
	d = decoder{b: deep}
	d.value(pcommon.NewValueEmpty(), 0)
	if d.err == nil {
		t.Error("over-deep value decoded")
	}
	d = decoder{b: deep}
	d.skipValue(0)
	if d.err == nil {
		t.Error("over-deep value skipped")
	}

	for _, tc := range []struct {
		v    pcommon.Value
		want string
	}{
		{pcommon.NewValueStr("x"), "x"},
		{pcommon.NewValueInt(200), "200"},
		{pcommon.NewValueBool(true), "true"},
		{pcommon.NewValueDouble(2.5), "2.5"},
	} {
		if got := valueString(tc.v); got != tc.want {
			t.Errorf("valueString(%v) = %q, want %q", tc.v.AsRaw(), got, tc.want)
		}
	}
}

func TestEntries(t *testing.T) {
	var b []byte
	type ent struct {
		w    int64
		k, v string
	}
	in := []ent{{0, "\x00\x05\x01key", "v"}, {86400, "\x00\x05\x02", ""}, {86400 * 1_000_000, "\x00\x05\x03" + strings.Repeat("k", 300), strings.Repeat("v", 70000)}}
	for _, e := range in {
		b = appendEntry(b, e.w, []byte(e.k), []byte(e.v))
	}
	it := NewEntryIter(b)
	var got []ent
	for it.Next() {
		e := it.Entry()
		got = append(got, ent{e.Window, string(e.Key), string(e.Value)})
	}
	if it.Err() != nil || !reflect.DeepEqual(got, in) {
		t.Fatalf("entries: %v %v", got, it.Err())
	}
	if n, err := CheckEntries(b, 5, 0); n != 3 || err != nil {
		t.Errorf("CheckEntries: %d %v", n, err)
	}
	if _, err := CheckEntries(b, 5, 86400); err != nil {
		t.Errorf("CheckEntries aligned: %v", err)
	}
	cases := []struct {
		name string
		in   []byte
		p    uint32
		ws   int64
		want error
	}{
		{"wrong partition", b, 6, 0, ErrWrongPartition},
		{"misaligned", appendEntry(nil, 3600, []byte{0, 5, 1}, nil), 5, 86400, ErrMisalignedWindow},
		{"truncated", b[:len(b)-1], 5, 0, ErrCorrupt},
		{"short key", appendEntry(nil, 0, []byte{0, 5}, nil), 5, 0, ErrCorrupt},
		{"window too large", appendEntry(nil, 1<<41, []byte{0, 5, 1}, nil), 5, 0, ErrCorrupt},
		{"garbage", []byte{0xff, 0xff, 0xff}, 5, 0, ErrCorrupt},
		{"key too long for Badger", appendEntry(nil, 0, append([]byte{0, 5, 1}, make([]byte, maxKeyLen)...), nil), 5, 0, ErrCorrupt},
	}
	for _, tc := range cases {
		if _, err := CheckEntries(tc.in, tc.p, tc.ws); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if n, err := CheckEntries(nil, 0, 0); n != 0 || err != nil {
		t.Errorf("no entries: %d %v", n, err)
	}
}

func TestPartitioning(t *testing.T) {
	for _, n := range []int{1, 16, 256, 65536} {
		if p := PartitionOf(0, n); p != 0 {
			t.Errorf("PartitionOf(0, %d) = %d", n, p)
		}
		if p := PartitionOf(math.MaxUint64, n); p != uint32(n-1) {
			t.Errorf("PartitionOf(max, %d) = %d", n, p)
		}
		// Partition i starts at i * 2^64/n.
		if n > 1 {
			step := uint64(math.MaxUint64/uint64(n)) + 1
			if p := PartitionOf(step, n); p != 1 {
				t.Errorf("PartitionOf(start of 1, %d) = %d", n, p)
			}
			if p := PartitionOf(step-1, n); p != 0 {
				t.Errorf("PartitionOf(end of 0, %d) = %d", n, p)
			}
		}
	}
	// Trace ids spread evenly over partitions.
	rng := newRand(1)
	counts := make([]int, 16)
	for range 16000 {
		counts[PartitionOf(TraceHash(randTraceID(rng)), 16)]++
	}
	for p, c := range counts {
		if c < 800 || c > 1200 {
			t.Errorf("partition %d got %d of 16000 trace ids", p, c)
		}
	}
	// The hashes are part of the on-disk and cluster format: they must not
	// change between versions.
	golden := []struct {
		got, want uint64
	}{
		{TraceHash([16]byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}), 0x4699cde8cc77b7f6},
		{tsdb.SeriesHash([]tsdb.Label{{Name: "__name__", Value: "http_server_request_duration_seconds_count"}, {Name: "http_route", Value: "/api"}, {Name: "job", Value: "cart"}}), 0x7e6f7634b40df401},
		{LogHash("cart", [16]byte{}, 42), 0x3e5561c7f8295b3a},
		{LogHash("cart", [16]byte{1}, 42), 0xf1559b4d3a1017d5},
	}
	for i, g := range golden {
		if g.got != g.want {
			t.Errorf("golden hash %d: %#x, want %#x", i, g.got, g.want)
		}
	}
	// A log record in a trace is placed by service and trace, not content.
	if LogHash("a", [16]byte{1}, 1) != LogHash("a", [16]byte{1}, 2) || LogHash("a", [16]byte{1}, 1) == LogHash("b", [16]byte{1}, 1) {
		t.Error("LogHash of traced records")
	}
	// 0xff never occurs in UTF-8: names and values cannot run into each other.
	if tsdb.SeriesHash([]tsdb.Label{{Name: "a", Value: "bc"}}) == tsdb.SeriesHash([]tsdb.Label{{Name: "ab", Value: "c"}}) {
		t.Error("SeriesHash confuses a label's name and value boundary")
	}
}

func TestSeenCache(t *testing.T) {
	var nilCache *SeenCache
	nilCache.Add([]uint64{1})
	if nilCache.Contains(1) {
		t.Error("nil cache contains")
	}
	c := NewSeenCache(64 * 16)
	c.Add([]uint64{1, 2, 65})
	for _, h := range []uint64{1, 2, 65} {
		if !c.Contains(h) {
			t.Errorf("missing %d", h)
		}
	}
	if c.Contains(3) {
		t.Error("contains 3")
	}
	// The table never grows: of many keys, the newest are kept.
	for i := range uint64(100_000) {
		c.Add([]uint64{i + 1000})
	}
	if len(c.slots) != 2*1024 {
		t.Errorf("%d slots, want 2,048", len(c.slots))
	}
	if !c.Contains(100_999) {
		t.Error("the newest key is forgotten")
	}
	kept := 0
	for i := range uint64(100_000) {
		if c.Contains(i + 1000) {
			kept++
		}
	}
	if kept < 1000 || kept > 2048 {
		t.Errorf("%d keys kept of 100,000 in 2,048 slots", kept)
	}
	c.Add([]uint64{0})
	if !c.Contains(0) {
		t.Error("key 0 (stored as 1) is missing")
	}
	if seenKey(1, 0, []byte("k")) == seenKey(2, 0, []byte("k")) || seenKey(1, 0, []byte("k")) == seenKey(1, 86400, []byte("k")) {
		t.Error("seenKey ignores signal or window")
	}
}

func TestKeyHelpers(t *testing.T) {
	for _, tc := range []struct{ in, want []byte }{
		{[]byte{1, 2}, []byte{1, 3}},
		{[]byte{1, 0xff}, []byte{2}},
		{[]byte{0xff, 0xff}, nil},
		{nil, nil},
	} {
		if got := prefixEnd(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("prefixEnd(%x) = %x, want %x", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in, want []byte
		ok       bool
	}{
		{[]byte{0, 0}, []byte{0, 1}, true},
		{[]byte{0, 0xff}, []byte{1, 0}, true},
		{[]byte{0xff, 0xff}, []byte{0, 0}, false},
	} {
		b := append([]byte(nil), tc.in...)
		if ok := increment(b); ok != tc.ok || !bytes.Equal(b, tc.want) {
			t.Errorf("increment(%x) = %x %v", tc.in, b, ok)
		}
	}
	for _, tc := range []struct {
		bm   []byte
		n    int
		full bool
	}{
		{[]byte{0xff}, 8, true},
		{[]byte{0x7f}, 7, true},
		{[]byte{0x3f}, 7, false},
		{[]byte{0xff, 0x01}, 9, true},
		{[]byte{0xfe, 0x01}, 9, false},
		{[]byte{0xff, 0xff}, 16, true},
	} {
		if got := fullBitmap(tc.bm, tc.n); got != tc.full {
			t.Errorf("fullBitmap(%x, %d) = %v", tc.bm, tc.n, got)
		}
	}
	if got := andBitmap(nil, []byte{5}); !bytes.Equal(got, []byte{5}) {
		t.Errorf("andBitmap(nil) = %x", got)
	}
	if got := andBitmap([]byte{6, 1}, []byte{3}); !bytes.Equal(got, []byte{2, 0}) {
		t.Errorf("andBitmap short = %x", got)
	}
	if got := andBitmap([]byte{6}, nil); !bytes.Equal(got, []byte{6}) {
		t.Errorf("andBitmap full = %x", got)
	}
	if !bitmapEmpty([]byte{0, 0}) || bitmapEmpty([]byte{0, 1}) {
		t.Error("bitmapEmpty")
	}
	k := spanGroupKey(nil, 0x1234, pcommon.TraceID{1})
	if p, ok := keyPartition(k); !ok || p != 0x1234 {
		t.Errorf("keyPartition = %d %v", p, ok)
	}
	if _, ok := keyPartition([]byte{1}); ok {
		t.Error("keyPartition of a short key")
	}
	for _, start := range []int64{0, 86400 * 20000, 3600 * 5} {
		got, err := parseWindowName(windowName(start))
		if err != nil || got != start {
			t.Errorf("window name of %d: %q -> %d %v", start, windowName(start), got, err)
		}
	}
	if windowOf(uint64(86400*3+5)*1e9, 86400) != 86400*3 {
		t.Error("windowOf")
	}
	if SignalName(sigTraces) != "traces" || SignalName(starlingpb.Signal(77)) != "unknown" {
		t.Error("SignalName")
	}
	if LogTime([]byte{1}) != 0 {
		t.Error("LogTime of a short key")
	}
}

// TestLargeRequests exercises group commits larger than one Badger
// transaction and values that go to the value log.
func TestLargeRequests(t *testing.T) {
	e := newTestEnv(t, 4)
	td := genTraces(newRand(91), 400, 10, e.clock.Now())
	big := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	big.Attributes().PutStr("huge", strings.Repeat("x", 2<<20)) // above the value threshold and batch size
	r := e.writeTraces(td)
	size := 0
	for _, b := range r.Batches {
		size += len(b.Entries)
	}
	if limit := int(e.cfg.MemTableSize * 15 / 100); size < 3*limit {
		t.Fatalf("request of %d bytes is too small to need several transactions (%d)", size, limit)
	}
	want := spansByID(t, td)
	got := map[string]string{}
	for _, tid := range traceIDsOf(td) {
		out := e.readTrace(tid)
		dt, err := DecodeTrace(out.Records, out.Refs)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range spansByID(t, dt) {
			got[k] = v
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d spans, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("span %x differs", k)
		}
	}
	// Long attribute values are stored but not indexed.
	hits := e.searchTraces(&starlingpb.TraceSearch{Attributes: []*starlingpb.Attribute{attr("huge", strings.Repeat("x", 2<<20))}}, 0, maxTime, 10)
	if countHits(hits) != 0 {
		t.Error("an attribute value longer than maxIndexedValueLen was indexed")
	}
}

func TestIndexedValueLength(t *testing.T) {
	e := newTestEnv(t, 1)
	tid := randTraceID(newRand(92))
	td := buildTrace(tid, e.clock.Now().Add(-time.Minute),
		testSpan{service: "s", name: "n", attrs: map[string]string{
			"at.limit":   strings.Repeat("a", maxIndexedValueLen),
			"over.limit": strings.Repeat("b", maxIndexedValueLen+1),
		}})
	e.writeTraces(td)
	for _, tc := range []struct {
		k, v string
		hit  bool
	}{
		{"at.limit", strings.Repeat("a", maxIndexedValueLen), true},
		{"over.limit", strings.Repeat("b", maxIndexedValueLen+1), false},
	} {
		hits := e.searchTraces(&starlingpb.TraceSearch{Attributes: []*starlingpb.Attribute{attr(tc.k, tc.v)}}, 0, maxTime, 10)
		if (countHits(hits) == 1) != tc.hit {
			t.Errorf("%s: %d hits", tc.k, countHits(hits))
		}
	}
}

// TestBuilderAttrTermMatchesQueryTerm checks that the builder's
// allocation-free attribute term equals the term a search computes from
// the value's string form, for every value type.
func TestBuilderAttrTermMatchesQueryTerm(t *testing.T) {
	b, err := NewBuilder(testBuilderConfig(4), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := pcommon.NewMap()
	m.PutStr("s", "GET /api")
	m.PutStr("empty", "")
	m.PutInt("i", -1234567890123)
	m.PutInt("zero", 0)
	m.PutBool("t", true)
	m.PutBool("f", false)
	m.PutDouble("d", 0.25)
	m.PutDouble("big", 1e21)
	m.PutEmptyBytes("b").FromRaw([]byte{1, 2, 3})
	m.PutEmptySlice("a").AppendEmpty().SetStr("x")
	m.PutEmptyMap("m").PutInt("k", 1)
	m.PutStr("long", strings.Repeat("x", maxIndexedValueLen+1))
	m.Range(func(k string, v pcommon.Value) bool {
		got, ok := b.attrTerm(k, v)
		vs := valueString(v)
		if want := len(vs) <= maxIndexedValueLen; ok != want {
			t.Errorf("%s: indexed %v, want %v", k, ok, want)
		}
		if ok && got != attrTerm(k, vs) {
			t.Errorf("%s=%q: builder term %x, query term %x", k, vs, got, attrTerm(k, vs))
		}
		return true
	})
}
