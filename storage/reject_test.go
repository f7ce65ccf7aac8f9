package storage

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

func batchRecords(r BuildResult) int {
	n := 0
	for _, b := range r.Batches {
		n += b.Records
	}
	return n
}

func checkRejection(t *testing.T, r BuildResult, accepted int, reasons map[string]int, msgParts ...string) {
	t.Helper()
	rejected := 0
	for _, n := range reasons {
		rejected += n
	}
	if r.Accepted != accepted || r.Rejected != rejected {
		t.Errorf("accepted %d rejected %d, want %d and %d", r.Accepted, r.Rejected, accepted, rejected)
	}
	if len(reasons) == 0 {
		reasons = nil
	}
	if !reflect.DeepEqual(r.Reasons, reasons) {
		t.Errorf("reasons %v, want %v", r.Reasons, reasons)
	}
	for _, p := range msgParts {
		if !strings.Contains(r.Message, p) {
			t.Errorf("message %q does not contain %q", r.Message, p)
		}
	}
	if n := batchRecords(r); n != accepted {
		t.Errorf("batches hold %d records, want %d", n, accepted)
	}
	if accepted == 0 && len(r.Batches) != 0 {
		t.Errorf("nothing accepted but %d batches", len(r.Batches))
	}
}

func TestRejectSpans(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name   string
		mutate func(s ptrace.Span)
		reason string
		msg    string
	}{
		{"zero trace id", func(s ptrace.Span) { s.SetTraceID(pcommon.TraceID{}) }, ReasonInvalid, "resourceSpans[0].scopeSpans[0].spans[1].traceId: must not be all zeros"},
		{"zero span id", func(s ptrace.Span) { s.SetSpanID(pcommon.SpanID{}) }, ReasonInvalid, "resourceSpans[0].scopeSpans[0].spans[1].spanId: must not be all zeros"},
		{"start 0", func(s ptrace.Span) { s.SetStartTimestamp(0) }, ReasonInvalid, "resourceSpans[0].scopeSpans[0].spans[1].startTimeUnixNano: must be set"},
		{"end before start", func(s ptrace.Span) { s.SetEndTimestamp(s.StartTimestamp() - 1) }, ReasonInvalid, "resourceSpans[0].scopeSpans[0].spans[1].endTimeUnixNano"},
		{"too old", func(s ptrace.Span) {
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-testRetention - time.Nanosecond)))
		}, ReasonTooOld, "resourceSpans[0].scopeSpans[0].spans[1].startTimeUnixNano: is older than the retention period"},
		{"too new", func(s ptrace.Span) {
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Hour + time.Nanosecond)))
			s.SetEndTimestamp(s.StartTimestamp())
		}, ReasonTooNew, "resourceSpans[0].scopeSpans[0].spans[1].startTimeUnixNano: is too far in the future"},
		{"oldest allowed", func(s ptrace.Span) {
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-testRetention)))
		}, "", ""},
		{"newest allowed", func(s ptrace.Span) {
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Hour)))
			s.SetEndTimestamp(s.StartTimestamp())
		}, "", ""},
		{"zero duration", func(s ptrace.Span) { s.SetEndTimestamp(s.StartTimestamp()) }, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnvAt(t, t.TempDir(), 16, newFakeClock(now))
			td := ptrace.NewTraces()
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", "rej")
			spans := rs.ScopeSpans().AppendEmpty().Spans()
			tid := randTraceID(newRand(1))
			for i := range 3 {
				s := spans.AppendEmpty()
				s.SetTraceID(tid)
				s.SetSpanID(pcommon.SpanID{byte(i + 1)})
				s.SetName(fmt.Sprint("s", i))
				s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Minute)))
				s.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
			}
			tc.mutate(spans.At(1))
			r := e.builder.Traces(td)
			if tc.reason == "" {
				checkRejection(t, r, 3, nil)
				return
			}
			checkRejection(t, r, 2, map[string]int{tc.reason: 1}, tc.msg)
			e.apply(sigTraces, r)
			out := e.readTrace(tid)
			if n := spansIn(t, out); n != 2 {
				t.Fatalf("%d spans stored, want the 2 valid ones", n)
			}
			dt, err := DecodeTrace(out.Records, out.Refs)
			if err != nil {
				t.Fatal(err)
			}
			forEachSpan(dt, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
				if s.Name() == "s1" {
					t.Error("the rejected span was stored")
				}
			})
		})
	}
}

func TestRejectAllAndMessageLimit(t *testing.T) {
	e := newTestEnv(t, 16)
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i := range 6 {
		s := spans.AppendEmpty()
		s.SetTraceID(pcommon.TraceID{1})
		s.SetSpanID(pcommon.SpanID{byte(i + 1)})
		if i%2 == 0 {
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(e.clock.Now().Add(-30 * 24 * time.Hour)))
			s.SetEndTimestamp(s.StartTimestamp())
		}
	}
	r := e.builder.Traces(td)
	checkRejection(t, r, 0, map[string]int{ReasonInvalid: 3, ReasonTooOld: 3},
		"spans[0].startTimeUnixNano", "spans[1].startTimeUnixNano: must be set", "spans[2]", "; and more")
	if strings.Contains(r.Message, "spans[3]") {
		t.Errorf("message names more than three records: %q", r.Message)
	}
	if r := e.builder.Traces(ptrace.NewTraces()); len(r.Batches) != 0 || r.Accepted != 0 || r.Rejected != 0 {
		t.Errorf("empty request: %+v", r)
	}
	if r := e.builder.Logs(plog.NewLogs()); len(r.Batches) != 0 || r.Accepted != 0 {
		t.Errorf("empty logs request: %+v", r)
	}
	if r := e.builder.Metrics(pmetric.NewMetrics()); len(r.Batches) != 0 || r.Accepted != 0 {
		t.Errorf("empty metrics request: %+v", r)
	}
}

func TestRejectLogs(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name   string
		mutate func(lr plog.LogRecord)
		reason string
		msg    string
	}{
		{"severity 25", func(lr plog.LogRecord) { lr.SetSeverityNumber(25) }, ReasonInvalid, "resourceLogs[0].scopeLogs[0].logRecords[1].severityNumber: 25 is outside 0..24"},
		{"severity -1", func(lr plog.LogRecord) { lr.SetSeverityNumber(-1) }, ReasonInvalid, "logRecords[1].severityNumber: -1"},
		{"too old", func(lr plog.LogRecord) {
			lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(-8 * 24 * time.Hour)))
		}, ReasonTooOld, "resourceLogs[0].scopeLogs[0].logRecords[1].timeUnixNano: is older than the retention period"},
		{"too old observed", func(lr plog.LogRecord) {
			lr.SetTimestamp(0)
			lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(now.Add(-8 * 24 * time.Hour)))
		}, ReasonTooOld, "logRecords[1].timeUnixNano"},
		{"too new", func(lr plog.LogRecord) {
			lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(2 * time.Hour)))
		}, ReasonTooNew, "logRecords[1].timeUnixNano: is too far in the future"},
		{"severity 24 ok", func(lr plog.LogRecord) { lr.SetSeverityNumber(24) }, "", ""},
		{"no times ok", func(lr plog.LogRecord) { lr.SetTimestamp(0) }, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnvAt(t, t.TempDir(), 16, newFakeClock(now))
			ld := plog.NewLogs()
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr("service.name", "rej")
			lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
			for i := range 3 {
				lr := lrs.AppendEmpty()
				lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Duration(i+1) * time.Second)))
				lr.Body().SetStr(fmt.Sprint("record", i))
				lr.SetSeverityNumber(plog.SeverityNumberInfo)
			}
			tc.mutate(lrs.At(1))
			r := e.builder.Logs(ld)
			if tc.reason == "" {
				checkRejection(t, r, 3, nil)
				return
			}
			checkRejection(t, r, 2, map[string]int{tc.reason: 1}, tc.msg)
			e.apply(sigLogs, r)
			n := 0
			for _, out := range e.searchLogs(&starlingpb.LogSearch{Service: "rej"}, 0, maxTime, 10) {
				les, err := DecodeLogs(out.Records, out.Refs)
				if err != nil {
					t.Fatal(err)
				}
				for _, le := range les {
					n++
					if le.Record.Body().Str() == "record1" {
						t.Error("the rejected record was stored")
					}
				}
			}
			if n != 2 {
				t.Errorf("%d records stored, want 2", n)
			}
		})
	}
}

func TestBuilderConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg BuilderConfig
		ok  bool
	}{
		{BuilderConfig{Partitions: 1, Window: time.Hour}, true},
		{BuilderConfig{Partitions: 1 << 16, Window: 48 * time.Hour}, true},
		{BuilderConfig{Partitions: 0, Window: time.Hour}, false},
		{BuilderConfig{Partitions: 1<<16 + 1, Window: time.Hour}, false},
		{BuilderConfig{Partitions: 16, Window: 90 * time.Minute}, false},
		{BuilderConfig{Partitions: 16, Window: 0}, false},
	} {
		_, err := NewBuilder(tc.cfg, nil, nil)
		if (err == nil) != tc.ok {
			t.Errorf("%+v: err %v", tc.cfg, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := LocalConfig(t.TempDir())
	if err := good.Validate(); err != nil {
		t.Fatalf("LocalConfig: %v", err)
	}
	if err := DefaultConfig("x").Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"dir", func(c *Config) { c.Dir = "" }, "dir"},
		{"window", func(c *Config) { c.Window = 30 * time.Minute }, "window"},
		{"retention", func(c *Config) { c.RetentionLogs = -time.Hour }, "retention-logs"},
		{"interval", func(c *Config) { c.RetentionInterval = 0 }, "retention interval"},
		{"memtable", func(c *Config) { c.MemTableSize = 1000 }, "memtable"},
		{"memtables", func(c *Config) { c.NumMemtables = 0 }, "memtables"},
		{"block size", func(c *Config) { c.BlockSize = 100 }, "block size"},
		{"block cache", func(c *Config) { c.BlockCacheSize = 0 }, "block cache"},
		{"compactors", func(c *Config) { c.NumCompactors = 1 }, "compactors"},
		{"queue", func(c *Config) { c.CommitQueue = 0 }, "commit queue"},
	} {
		c := good
		tc.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one naming %q", tc.name, err, tc.want)
		}
		if _, err := Open(c, nil); err == nil {
			t.Errorf("%s: Open accepted an invalid config", tc.name)
		}
	}
	if got := good.Retention(starlingpb.Signal(99)); got != 0 {
		t.Errorf("retention of an unknown signal: %v", got)
	}
}

// TestLongNames checks that no record can produce a key longer than Badger
// accepts: such a key fails the whole group commit it is part of.
func TestLongNames(t *testing.T) {
	e := newTestEnv(t, 1)
	longService := strings.Repeat("s", 70000)
	tid := randTraceID(newRand(1))
	td := buildTrace(tid, e.clock.Now().Add(-time.Minute),
		testSpan{service: longService, name: strings.Repeat("n", 70000), attrs: map[string]string{strings.Repeat("k", 70000): "v"}})
	e.writeTraces(td) // fails the test if the commit fails
	if n := spansIn(t, e.readTrace(tid)); n != 1 {
		t.Errorf("%d spans stored", n)
	}
	if hits := e.searchTraces(&starlingpb.TraceSearch{Service: longService}, 0, maxTime, 10); countHits(hits) != 1 {
		t.Error("a span of a long service name is not found by its service")
	}
	if names := e.catalog(&starlingpb.Catalog{Kind: starlingpb.Catalog_KIND_SERVICES}); len(names) != 0 {
		t.Errorf("long service name in the catalog (%d names)", len(names))
	}

	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	for i, n := range []int{maxMetricNameLen, maxMetricNameLen + 1, 70000, 10} {
		m := ms.AppendEmpty()
		m.SetName(strings.Repeat("m", n))
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(e.clock.Now()))
		if i == 3 {
			// A label too long for an index key: the series is refused.
			dp.Attributes().PutStr(strings.Repeat("l", 70000), "v")
			continue
		}
		dp.Attributes().PutStr(strings.Repeat("l", tsdb.MaxLabelNameLen), strings.Repeat("v", tsdb.MaxLabelValueLen))
	}
	r := e.builder.Metrics(md)
	checkRejection(t, r, 1, map[string]int{ReasonInvalid: 3}, fmt.Sprintf("metrics[1].name: is longer than %d bytes", maxMetricNameLen))
	if !strings.Contains(r.Message, "longer than 1024 bytes") {
		t.Errorf("message %q does not name the long label", r.Message)
	}
	e.applyMetrics(r)
	if got := e.selectSeries(0, maxTime, labels.MustNewMatcher(labels.MatchEqual, "__name__", strings.Repeat("m", maxMetricNameLen))); len(got) != 1 {
		t.Errorf("metric with the longest allowed name: %d series", len(got))
	}
}
