package storage

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
	"github.com/starling-otel/starling/storage/tsdb/chunk"
)

// Fuzz targets for every decoder of bytes that come from disk or from
// another node. Each must return an error or a value, never panic, and a
// value it accepts must re-encode to a fixed point. Seeds are real
// encodings of generated telemetry.

// fuzzNow is a fixed time for seed generation.
var fuzzNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fuzzBuilder(tb testing.TB) *Builder {
	cfg := testBuilderConfig(4)
	cfg.Retention = nil
	cfg.MaxFuture = 0
	b, err := NewBuilder(cfg, nil, func() time.Time { return fuzzNow })
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// seedEntries returns the entries of real batches of every signal.
func seedEntries(tb testing.TB) []Entry {
	b := fuzzBuilder(tb)
	rng := newRand(1)
	var out []Entry
	for _, r := range []BuildResult{
		b.Traces(genTraces(rng, 3, 6, fuzzNow)),
		b.Logs(genLogs(rng, 20, fuzzNow)),
		b.Metrics(genMetrics(rng, 1, 2, fuzzNow)),
	} {
		for _, pb := range r.Batches {
			it := NewEntryIter(pb.Entries)
			for it.Next() {
				e := it.Entry()
				out = append(out, Entry{Window: e.Window, Key: bytes.Clone(e.Key), Value: bytes.Clone(e.Value)})
			}
		}
	}
	return out
}

func seedKind(tb testing.TB, kind byte) []Entry {
	var out []Entry
	for _, e := range seedEntries(tb) {
		if e.Key[partLen] == kind {
			out = append(out, e)
		}
	}
	return out
}

func FuzzDecodeSpan(f *testing.F) {
	for _, e := range seedKind(f, kindSpan) {
		f.Add(e.Key, e.Value)
	}
	f.Add([]byte{0, 0, kindSpan}, []byte{spanGroupVersion})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		// The whole group must decode without panicking, to an error or a trace.
		_, _ = DecodeTrace([]*starlingpb.Record{{Key: key, Value: value}}, nil)
		tid, _ := spanGroupTrace(key)
		_ = forEachGroupSpan(value, func(sid pcommon.SpanID, span []byte) error {
			s := ptrace.NewSpan()
			ref, err := decodeSpan(tid, sid, span, s)
			head, herr := decodeSpanHead(span)
			if err != nil {
				return nil
			}
			if herr != nil {
				t.Fatalf("decodeSpan accepts what decodeSpanHead refuses: %v", herr)
			}
			if head.ref != ref || head.name != s.Name() || head.start != uint64(s.StartTimestamp()) ||
				head.end != uint64(s.EndTimestamp()) || (!head.hasParent && !s.ParentSpanID().IsEmpty()) {
				t.Fatalf("head %+v disagrees with the span", head)
			}
			enc := encodeSpan(nil, ref, s)
			s2 := ptrace.NewSpan()
			ref2, err := decodeSpan(tid, sid, enc, s2)
			if err != nil || ref2 != ref {
				t.Fatalf("re-encoded span does not decode: %v", err)
			}
			if enc2 := encodeSpan(nil, ref2, s2); !bytes.Equal(enc, enc2) {
				t.Fatal("span encoding is not a fixed point")
			}
			return nil
		})
	})
}

func FuzzDecodeLog(f *testing.F) {
	for _, e := range seedKind(f, kindLog) {
		f.Add(e.Key, e.Value)
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		lr := plog.NewLogRecord()
		ref, err := decodeLog(key, value, lr)
		sev, ok := logSeverity(value)
		_ = LogTime(key)
		if err != nil {
			return
		}
		if !ok || sev != int32(lr.SeverityNumber()) {
			t.Fatalf("logSeverity %d %v, record %d", sev, ok, lr.SeverityNumber())
		}
		enc, _, _ := encodeLog(nil, ref, lr)
		lr2 := plog.NewLogRecord()
		if ref2, err := decodeLog(key, enc, lr2); err != nil || ref2 != ref {
			t.Fatalf("re-encoded log does not decode: %v", err)
		}
		if enc2, _, _ := encodeLog(nil, ref, lr2); !bytes.Equal(enc, enc2) {
			t.Fatal("log encoding is not a fixed point")
		}
	})
}

func newMetricOfType(typ pmetric.MetricType) pmetric.Metric {
	m := pmetric.NewMetric()
	switch typ {
	case pmetric.MetricTypeGauge:
		m.SetEmptyGauge()
	case pmetric.MetricTypeSum:
		m.SetEmptySum()
	case pmetric.MetricTypeHistogram:
		m.SetEmptyHistogram()
	case pmetric.MetricTypeExponentialHistogram:
		m.SetEmptyExponentialHistogram()
	case pmetric.MetricTypeSummary:
		m.SetEmptySummary()
	}
	return m
}

func FuzzDecodeResource(f *testing.F) {
	for _, e := range seedKind(f, kindResource) {
		f.Add(e.Value)
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		r, err := decodeResource(value)
		if err != nil {
			return
		}
		_ = serviceName(r.resource)
		enc := encodeResource(nil, r.resource, r.resSchema, r.scope, r.scopeSchema)
		r2, err := decodeResource(enc)
		if err != nil {
			t.Fatalf("re-encoded resource does not decode: %v", err)
		}
		if enc2 := encodeResource(nil, r2.resource, r2.resSchema, r2.scope, r2.scopeSchema); !bytes.Equal(enc, enc2) {
			t.Fatal("resource encoding is not a fixed point")
		}
	})
}

func FuzzEntries(f *testing.F) {
	var several []byte
	for i, e := range seedEntries(f) {
		if i < 8 {
			several = appendEntry(several, e.Window, e.Key, e.Value)
		}
		if i%40 == 0 {
			f.Add(appendEntry(nil, e.Window, e.Key, e.Value), uint16(binary.BigEndian.Uint16(e.Key)), int64(86400))
		}
	}
	f.Add(several, uint16(0), int64(86400))
	f.Add([]byte{}, uint16(0), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, p uint16, windowSeconds int64) {
		it := NewEntryIter(b)
		var ents []Entry
		for it.Next() {
			e := it.Entry()
			if len(e.Key) < headerLen || e.Window < 0 {
				t.Fatalf("iterator returned a bad entry %+v", e)
			}
			ents = append(ents, e)
		}
		iterErr := it.Err()
		n, err := CheckEntries(b, uint32(p), windowSeconds)
		if err == nil {
			if iterErr != nil || n != len(ents) {
				t.Fatalf("CheckEntries %d ok, iterator %d %v", n, len(ents), iterErr)
			}
			// Re-framing gives the same entries.
			var re []byte
			for _, e := range ents {
				re = appendEntry(re, e.Window, e.Key, e.Value)
			}
			it2 := NewEntryIter(re)
			for i := 0; it2.Next(); i++ {
				e := it2.Entry()
				if e.Window != ents[i].Window || !bytes.Equal(e.Key, ents[i].Key) || !bytes.Equal(e.Value, ents[i].Value) {
					t.Fatalf("entry %d changed when re-framed", i)
				}
			}
		}
	})
}

// recordsFrom splits framed entries into records (even window) and refs
// (odd window), the shape of a ResultChunk.
func recordsFrom(b []byte) (records, refs []*starlingpb.Record) {
	it := NewEntryIter(b)
	for it.Next() {
		e := it.Entry()
		r := &starlingpb.Record{Key: e.Key, Value: e.Value}
		if e.Window%2 == 0 {
			records = append(records, r)
		} else {
			refs = append(refs, r)
		}
	}
	return records, refs
}

// recordSeeds frames a few span records, log records and series (each
// definition followed by its points) with the resources they refer to, as
// FuzzDecodeRecords reads them. Small seeds keep the fuzzer's minimisation
// of new inputs quick.
func recordSeeds(ents []Entry) (spans, logs, series []byte) {
	frame := func(kind byte, n int) []byte {
		var b []byte
		refs := map[string]bool{}
		for _, e := range ents {
			if e.Key[partLen] != kind || n == 0 {
				continue
			}
			n--
			b = appendEntry(b, 0, e.Key, e.Value)
			if len(e.Value) >= 9 {
				refs[string(e.Value[1:9])] = true
			}
		}
		for _, e := range ents {
			if e.Key[partLen] == kindResource && refs[string(e.Key[headerLen:])] {
				delete(refs, string(e.Key[headerLen:]))
				b = appendEntry(b, 1, e.Key, e.Value)
			}
		}
		return b
	}
	// Two series as a select answers them: definition, then chunks.
	n := 0
	for _, e := range ents {
		if e.Key[partLen] != kindSeries || n == 2 {
			continue
		}
		n++
		series = appendEntry(series, 0, e.Key, e.Value)
		h := keySeries(e.Key)
		p, _ := keyPartition(e.Key)
		series = appendEntry(series, 0, chunkKey(nil, p, h, 1000, 0), chunk.AppendFloats(nil, []int64{1000, 2000, 3000}, []float64{1, 2.5, math.NaN()}))
		series = appendEntry(series, 0, chunkKey(nil, p, h, 2500, 0), chunk.AppendFloats(nil, []int64{2500, 4000}, []float64{7, 8}))
	}
	return frame(kindSpan, 3), frame(kindLog, 3), series
}

func FuzzDecodeRecords(f *testing.F) {
	spans, logs, series := recordSeeds(seedEntries(f))
	f.Add(spans)
	f.Add(logs)
	f.Add(series)
	f.Fuzz(func(t *testing.T, b []byte) {
		records, refRecords := recordsFrom(b)
		if td, err := DecodeTrace(records, refRecords); err == nil {
			_ = td.SpanCount()
		}
		_, _ = SummarizeTrace(records, refRecords)
		if les, err := DecodeLogs(records, refRecords); err == nil && len(les) != len(records) {
			t.Fatalf("DecodeLogs returned %d entries for %d records", len(les), len(records))
		}
		if ss, err := DecodeSelect(records); err == nil {
			for _, s := range ss {
				_, _, _ = DecodeChunks(s.Chunks)
			}
		}
		for _, r := range records {
			_ = LogTime(r.Key)
		}
	})
}

// FuzzSpanRoundTrip builds a span from fuzzed fields and checks that it
// decodes to exactly what was encoded.
func FuzzSpanRoundTrip(f *testing.F) {
	f.Add("GET /api", "rojo=1", "http.method", "GET", int64(200), 0.5, uint64(fuzzNow.UnixNano()), uint64(fuzzNow.UnixNano()+1e6), byte(2), byte(1), uint32(1), []byte{1, 2}, uint64(7))
	f.Add("", "", "", "", int64(math.MinInt64), math.NaN(), uint64(0), uint64(math.MaxUint64), byte(255), byte(200), uint32(math.MaxUint32), []byte(nil), uint64(0))
	f.Add("\xff\x00", "\x00", "k\x00", "\xfe", int64(-1), math.Inf(-1), uint64(math.MaxUint64), uint64(1), byte(0), byte(0), uint32(0), bytes.Repeat([]byte{0}, 300), uint64(math.MaxUint64))
	f.Fuzz(func(t *testing.T, name, state, key, sval string, ival int64, dval float64, start, end uint64, kind, code byte, flags uint32, raw []byte, ids uint64) {
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[:], ids)
		binary.BigEndian.PutUint64(tid[8:], ^ids)
		var sid, parent pcommon.SpanID
		binary.BigEndian.PutUint64(sid[:], ids*31+1)
		binary.BigEndian.PutUint64(parent[:], ids>>3)

		s := ptrace.NewSpan()
		s.SetTraceID(tid)
		s.SetSpanID(sid)
		s.SetParentSpanID(parent)
		s.SetName(name)
		s.TraceState().FromRaw(state)
		s.SetKind(ptrace.SpanKind(kind))
		s.SetFlags(flags)
		s.SetStartTimestamp(pcommon.Timestamp(start))
		s.SetEndTimestamp(pcommon.Timestamp(end))
		a := s.Attributes()
		a.PutStr(key, sval)
		a.PutInt(key+"i", ival)
		a.PutDouble(key+"d", dval)
		a.PutBool(key+"b", ival%2 == 0)
		a.PutEmptyBytes(key + "r").FromRaw(raw)
		sl := a.PutEmptySlice(key + "s")
		sl.AppendEmpty().SetStr(sval)
		sl.AppendEmpty().SetEmptyMap().PutInt(name, ival)
		a.PutEmpty(key + "e")
		s.SetDroppedAttributesCount(flags / 3)
		ev := s.Events().AppendEmpty()
		ev.SetName(sval)
		ev.SetTimestamp(pcommon.Timestamp(end ^ start))
		ev.Attributes().PutDouble(key, dval)
		ev.SetDroppedAttributesCount(uint32(kind))
		s.SetDroppedEventsCount(uint32(code))
		l := s.Links().AppendEmpty()
		l.SetTraceID(tid)
		l.SetSpanID(parent)
		l.TraceState().FromRaw(sval)
		l.Attributes().PutStr(name, state)
		l.SetFlags(flags ^ 1)
		l.SetDroppedAttributesCount(7)
		s.SetDroppedLinksCount(flags >> 1)
		s.Status().SetCode(ptrace.StatusCode(code))
		s.Status().SetMessage(state)

		v := encodeSpan(nil, ids, s)
		got := ptrace.NewSpan()
		ref, err := decodeSpan(tid, sid, v, got)
		if err != nil || ref != ids {
			t.Fatalf("decodeSpan: %v (ref %d, want %d)", err, ref, ids)
		}
		res, scope := pcommon.NewResource(), pcommon.NewInstrumentationScope()
		if a, b := canonSpan(t, res, "", scope, "", got), canonSpan(t, res, "", scope, "", s); a != b {
			t.Fatalf("span changed in the round trip %s", firstDiff(jsonOfCanonSpan(a), jsonOfCanonSpan(b)))
		}
		h, err := decodeSpanHead(v)
		if err != nil || h.name != name || h.start != start || h.end != end || h.ref != ids || h.hasParent != !parent.IsEmpty() {
			t.Fatalf("decodeSpanHead: %+v %v", h, err)
		}
	})
}

// FuzzLogRoundTrip builds a log record from fuzzed fields and checks that it
// decodes to exactly what was encoded.
func FuzzLogRoundTrip(f *testing.F) {
	f.Add("user 42 logged in", "INFO", "k", "v", int64(9), uint64(fuzzNow.UnixNano()), uint64(fuzzNow.UnixNano()), uint32(1), []byte{1}, uint64(3), "ev")
	f.Add("", "", "", "", int64(0), uint64(1), uint64(0), uint32(0), []byte(nil), uint64(0), "")
	f.Fuzz(func(t *testing.T, body, sevText, key, val string, sev int64, ts, observed uint64, flags uint32, raw []byte, ids uint64, event string) {
		lr := plog.NewLogRecord()
		lr.SetTimestamp(pcommon.Timestamp(ts))
		lr.SetObservedTimestamp(pcommon.Timestamp(observed))
		lr.SetSeverityNumber(plog.SeverityNumber(uint64(sev) % 25))
		lr.SetSeverityText(sevText)
		switch ids % 4 {
		case 0:
			lr.Body().SetStr(body)
		case 1:
			lr.Body().SetEmptyBytes().FromRaw(raw)
		case 2:
			lr.Body().SetEmptyMap().PutStr(key, body)
		}
		lr.Attributes().PutStr(key, val)
		lr.Attributes().PutInt(val, sev)
		lr.SetDroppedAttributesCount(flags / 5)
		lr.SetFlags(plog.LogRecordFlags(flags))
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[:], ids)
		var sid pcommon.SpanID
		binary.BigEndian.PutUint64(sid[:], ids>>1)
		lr.SetTraceID(tid)
		lr.SetSpanID(sid)
		lr.SetEventName(event)

		v, bs, be := encodeLog(nil, ids, lr)
		if bs < 18 || be < bs || be > len(v) {
			t.Fatalf("body offsets %d..%d of %d", bs, be, len(v))
		}
		k := logKey(nil, 1, ts, logContentHash(v, ts))
		got := plog.NewLogRecord()
		ref, err := decodeLog(k, v, got)
		if err != nil || ref != ids {
			t.Fatalf("decodeLog: %v", err)
		}
		res, scope := pcommon.NewResource(), pcommon.NewInstrumentationScope()
		if a, b := canonLog(t, res, "", scope, "", got), canonLog(t, res, "", scope, "", lr); a != b {
			t.Fatalf("log changed in the round trip %s", firstDiff(jsonOfCanonLog(a), jsonOfCanonLog(b)))
		}
		if LogTime(k) != int64(ts) {
			t.Fatalf("LogTime %d, want %d", LogTime(k), ts)
		}
	})
}

// TestFuzzSeedsAreValid checks that the seed corpora are real encodings the
// decoders accept, so that fuzzing starts from meaningful inputs.
func TestFuzzSeedsAreValid(t *testing.T) {
	ents := seedEntries(t)
	kinds := map[byte]int{}
	for _, e := range ents {
		kinds[e.Key[partLen]]++
		var err error
		switch e.Key[partLen] {
		case kindSpan:
			_, err = DecodeTrace([]*starlingpb.Record{{Key: e.Key, Value: e.Value}}, nil)
		case kindLog:
			_, err = decodeLog(e.Key, e.Value, plog.NewLogRecord())
		case kindResource:
			_, err = decodeResource(e.Value)
		case kindSeries:
			_, err = decodeSeriesDef(e.Value)
		case kindRecord:
			err = tsdb.DecodeRecord(e.Value, func(*tsdb.RecordSeries) error { return nil })
		case kindMetadata:
			_, err = decodeMetadata("m", e.Value)
		case kindExemplar:
			_, err = decodeExemplar(e.Value)
		}
		if err != nil {
			t.Errorf("seed of kind %#x: %v", e.Key[partLen], err)
		}
	}
	spans, logs, series := recordSeeds(ents)
	recs, refs := recordsFrom(spans)
	want := 0
	for _, r := range recs {
		_ = forEachGroupSpan(r.Value, func(pcommon.SpanID, []byte) error { want++; return nil })
	}
	if td, err := DecodeTrace(recs, refs); err != nil || td.SpanCount() != want || want < 3 {
		t.Errorf("span seed: %d spans of %d in 3 groups, %v", td.SpanCount(), want, err)
	}
	recs, refs = recordsFrom(logs)
	if les, err := DecodeLogs(recs, refs); err != nil || len(les) != 3 || les[0].Service == UnknownService {
		t.Errorf("log seed: %d records, %v", len(les), err)
	}
	recs, _ = recordsFrom(series)
	if ss, err := DecodeSelect(recs); err != nil || len(ss) != 2 || len(ss[0].Chunks) != 2 {
		t.Errorf("series seed: %d series, %v", len(ss), err)
	} else if fs, _, err := DecodeChunks(ss[0].Chunks); err != nil || len(fs) != 5 || fs[2].V != 7 {
		t.Errorf("series seed: chunks decode to %v, %v", fs, err)
	}
	for _, k := range []byte{kindSpan, kindTraceGroup, kindTracePosting, kindResource, kindCatalog, kindLog, kindLogPosting, kindSeries, kindPosting, kindRecord, kindMetadata, kindExemplar} {
		if kinds[k] == 0 {
			t.Errorf("no seed of kind %#x", k)
		}
	}
}
