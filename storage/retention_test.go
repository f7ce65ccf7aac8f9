package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// middayUTC is noon (UTC) of the current day.
func middayUTC() time.Time { return time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour) }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s", d, what)
		case <-tick.C:
		}
	}
}

// dataset is one batch of every signal written at one time.
type dataset struct {
	td     ptrace.Traces
	ld     plog.Logs
	md     pmetric.Metrics
	traces BuildResult
	logs   BuildResult
	metric BuildResult
	// want is md as Prometheus translates it; mStart and mEnd bound its
	// samples in ms (datasets written at other times share series, not
	// samples).
	want         map[string]*readSeries
	mStart, mEnd int64
}

func writeDataset(e *testEnv, seed uint64) *dataset {
	rng := newRand(seed)
	now := e.clock.Now()
	d := &dataset{td: genTraces(rng, 20, 6, now), ld: genLogs(rng, 100, now), md: genMetrics(rng, 2, 4, now)}
	d.traces = e.writeTraces(d.td)
	d.logs = e.writeLogs(d.ld)
	d.want = expectedProm(e.t, d.md) // before the builder, which filters md
	d.metric = e.writeMetrics(d.md)
	d.mStart, d.mEnd = timeRangeOf(d.want)
	return d
}

// readable reports how much of d the store returns: spans, log records and
// series, and checks that what is returned is what was written.
func (e *testEnv) readable(t *testing.T, d *dataset) (spans, logs, series int) {
	t.Helper()
	want := spansByID(t, d.td)
	for _, tid := range traceIDsOf(d.td) {
		out := e.readTrace(tid)
		dt, err := DecodeTrace(out.Records, out.Refs)
		if err != nil {
			t.Fatal(err)
		}
		for id, c := range spansByID(t, dt) {
			if want[id] != c {
				t.Errorf("span %x differs", id)
			}
			spans++
		}
	}
	wantLogs := map[string]bool{}
	for _, c := range expectedLogs(t, d.ld) {
		wantLogs[c] = true
	}
	for _, out := range e.searchLogs(&starlingpb.LogSearch{}, 0, maxTime, 1<<20) {
		for _, c := range decodedLogsCanon(t, out) {
			if wantLogs[c] {
				logs++
			}
		}
	}
	for _, s := range e.allSeries(d.mStart, d.mEnd) {
		if w := findExpected(d.want, s.Labels); w != nil && diffSamples(trimSamples(s.Samples, d.mStart, d.mEnd), w.Samples) == "" {
			series++
		}
	}
	return spans, logs, series
}

func (d *dataset) counts() (spans, logs, series int) {
	return spanCount(d.td), d.ld.LogRecordCount(), len(d.want)
}

func windowDirs(t *testing.T, dir string, sig starlingpb.Signal) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, SignalName(sig)))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestRetention(t *testing.T) {
	now := middayUTC() // the old and recent data each fall in one window
	clock := newFakeClock(now.Add(-6 * 24 * time.Hour))
	e := newTestEnvAt(t, t.TempDir(), 16, clock, withRetentionLoopOff())

	old := writeDataset(e, 61)
	clock.Set(now)
	recent := writeDataset(e, 62)
	for _, sig := range Signals {
		if n := len(windowDirs(t, e.dir, sig)); n != 2 {
			t.Fatalf("%s: %d window directories, want 2", SignalName(sig), n)
		}
	}
	if n, freed, err := e.store.ExpireWindows(); n != 0 || freed != 0 || err != nil {
		t.Fatalf("nothing should expire yet: %d windows, %d bytes, %v", n, freed, err)
	}
	for _, d := range []*dataset{old, recent} {
		s, l, m := e.readable(t, d)
		ws, wl, wm := d.counts()
		if s != ws || l != wl || m != wm {
			t.Fatalf("before expiry: read %d/%d/%d, want %d/%d/%d", s, l, m, ws, wl, wm)
		}
	}

	// Two days later the old windows (six days old, one day long) have
	// ended more than seven days ago.
	clock.Set(now.Add(2*24*time.Hour + time.Hour))
	before := dirSize(e.dir)
	n, freed, err := e.store.ExpireWindows()
	if err != nil {
		t.Fatal(err)
	}
	// A window of each signal, and of the metrics' records.
	if n != 4 || freed <= 0 {
		t.Fatalf("expired %d windows freeing %d bytes, want 4 windows and some bytes", n, freed)
	}
	// The disk space is back at once: the data directory shrank by what
	// the expired windows held.
	after := dirSize(e.dir)
	if before-after < freed {
		t.Errorf("data dir went from %d to %d bytes, but expiry reported %d freed", before, after, freed)
	}
	t.Logf("expired %d windows: data dir %d -> %d bytes on disk (%d freed)", n, before, after, freed)
	oldWindow := windowName(windowOf(uint64(now.Add(-6*24*time.Hour).UnixNano()), e.store.WindowSeconds()))
	for _, sig := range Signals {
		dirs := windowDirs(t, e.dir, sig)
		if len(dirs) != 1 || dirs[0] == oldWindow {
			t.Errorf("%s: window directories after expiry %v (expired %s)", SignalName(sig), dirs, oldWindow)
		}
	}
	if s, l, m := e.readable(t, old); s+l+m != 0 {
		t.Errorf("expired data still readable: %d spans, %d logs, %d series", s, l, m)
	}
	s, l, m := e.readable(t, recent)
	if ws, wl, wm := recent.counts(); s != ws || l != wl || m != wm {
		t.Errorf("recent data: read %d/%d/%d, want %d/%d/%d", s, l, m, ws, wl, wm)
	}
	if n, _, _ := e.store.ExpireWindows(); n != 0 {
		t.Errorf("second expiry dropped %d windows", n)
	}

	// Late writes for an expired window are refused, by the store and (by
	// time) by the builder.
	err = applyAllErr(e.store, nil, sigTraces, old.traces)
	if !errors.Is(err, ErrWindowExpired) {
		t.Errorf("applying to an expired window: %v, want ErrWindowExpired", err)
	}
	r := e.builder.Traces(old.td)
	if r.Accepted != 0 || r.Reasons[ReasonTooOld] != spanCount(old.td) {
		t.Errorf("builder: %d accepted, reasons %v", r.Accepted, r.Reasons)
	}
	for _, sig := range Signals {
		if dirs := windowDirs(t, e.dir, sig); len(dirs) != 1 {
			t.Errorf("%s: late write recreated a window: %v", SignalName(sig), dirs)
		}
	}

	// After a restart the expired windows stay gone and the rest is there.
	e.reopen()
	s, l, m = e.readable(t, recent)
	if ws, wl, wm := recent.counts(); s != ws || l != wl || m != wm {
		t.Errorf("after restart: read %d/%d/%d, want %d/%d/%d", s, l, m, ws, wl, wm)
	}
}

// TestRetentionLoop lets the store's own retention loop drop a window.
func TestRetentionLoop(t *testing.T) {
	now := time.Now()
	clock := newFakeClock(now.Add(-3 * 24 * time.Hour))
	e := newTestEnvAt(t, t.TempDir(), 4, clock, func(c *Config, b *BuilderConfig) {
		c.RetentionLogs = 24 * time.Hour
		c.RetentionInterval = 10 * time.Millisecond
		b.Retention[sigLogs] = 24 * time.Hour
	})
	e.writeLogs(genLogs(newRand(63), 50, clock.Now()))
	e.writeTraces(genTraces(newRand(64), 5, 3, clock.Now()))
	clock.Set(now)
	waitFor(t, 10*time.Second, "the retention loop to drop the logs window", func() bool {
		return len(windowDirs(t, e.dir, sigLogs)) == 0
	})
	if n := len(windowDirs(t, e.dir, sigTraces)); n == 0 {
		t.Error("traces window (7 day retention) dropped too")
	}
}

// TestExpireWaitsForReaders checks that a window is closed only once its
// readers are done.
func TestExpireWaitsForReaders(t *testing.T) {
	now := middayUTC()
	clock := newFakeClock(now.Add(-6 * 24 * time.Hour))
	e := newTestEnvAt(t, t.TempDir(), 4, clock, withRetentionLoopOff())
	td := genTraces(newRand(65), 5, 3, clock.Now())
	e.writeTraces(td)
	ws := e.store.acquire(sigTraces, 0, maxTime)
	if len(ws) != 1 {
		t.Fatalf("%d windows", len(ws))
	}
	clock.Set(now.Add(2 * 24 * time.Hour))
	done := make(chan int)
	go func() {
		n, _, _ := e.store.ExpireWindows()
		done <- n
	}()
	// Once the window is marked dropped, ExpireWindows waits for the
	// reference; meanwhile the database stays open and readable.
	waitFor(t, 10*time.Second, "the window to be dropped", func() bool {
		ws[0].mu.Lock()
		defer ws[0].mu.Unlock()
		return ws[0].dropped
	})
	select {
	case <-done:
		t.Fatal("ExpireWindows returned while a reader held the window")
	default:
	}
	if err := ws[0].db(0).View(func(*badger.Txn) error { return nil }); err != nil {
		t.Fatalf("window closed under a reader: %v", err)
	}
	// New readers no longer see it.
	if got := e.store.acquire(sigTraces, 0, maxTime); len(got) != 0 {
		releaseAll(got)
		t.Error("a dropped window was handed to a new reader")
	}
	releaseAll(ws)
	select {
	case n := <-done:
		if n != 1 {
			t.Errorf("expired %d windows, want 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ExpireWindows did not finish after the reader released the window")
	}
}

func TestRestart(t *testing.T) {
	e := newTestEnv(t, 256)
	d1 := writeDataset(e, 71)
	before := e.store.Windows()
	tk, _ := countKeys(t, e.store, sigTraces)
	e.reopen()
	after := e.store.Windows()
	if len(after) != len(before) {
		t.Fatalf("%d windows after restart, %d before", len(after), len(before))
	}
	for i := range after {
		if after[i].Signal != before[i].Signal || !after[i].Start.Equal(before[i].Start) || after[i].Dir != before[i].Dir {
			t.Errorf("window %d: %+v after restart, %+v before", i, after[i], before[i])
		}
	}
	if k, _ := countKeys(t, e.store, sigTraces); k != tk {
		t.Errorf("%d trace keys after restart, %d before", k, tk)
	}
	s, l, m := e.readable(t, d1)
	if ws, wl, wm := d1.counts(); s != ws || l != wl || m != wm {
		t.Fatalf("after restart: read %d/%d/%d, want %d/%d/%d", s, l, m, ws, wl, wm)
	}
	// Searches and the catalog work on reopened windows, and new writes
	// land next to the old data.
	if hits := e.searchTraces(&starlingpb.TraceSearch{}, 0, maxTime, 1000); countHits(hits) != len(traceIDsOf(d1.td)) {
		t.Errorf("search after restart: %d traces, want %d", countHits(hits), len(traceIDsOf(d1.td)))
	}
	if names := e.catalog(&starlingpb.Catalog{Kind: starlingpb.Catalog_KIND_SERVICES}); len(names) == 0 {
		t.Error("no services after restart")
	}
	e.clock.Advance(10 * time.Minute) // points of the same series at other times
	d2 := writeDataset(e, 72)
	e.reopen()
	for _, d := range []*dataset{d1, d2} {
		s, l, m := e.readable(t, d)
		if ws, wl, wm := d.counts(); s != ws || l != wl || m != wm {
			t.Errorf("second restart: read %d/%d/%d, want %d/%d/%d", s, l, m, ws, wl, wm)
		}
	}
}

func TestOpenIgnoresStrayEntries(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"traces/junk.txt", "logs/not-a-window/x", "metrics/2020-13-01T00/x"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := newTestEnvAt(t, dir, 4, newFakeClock(time.Now()))
	if ws := e.store.Windows(); len(ws) != 0 {
		t.Errorf("stray entries opened as windows: %+v", ws)
	}
	e.writeTraces(genTraces(newRand(73), 2, 2, e.clock.Now()))
}

func TestApplyErrors(t *testing.T) {
	e := newTestEnv(t, 4)
	apply := func(sig starlingpb.Signal, entries []byte) error {
		ch := make(chan error, 1)
		e.store.Apply(sig, entries, 1, func(err error) { ch <- err })
		select {
		case err := <-ch:
			return err
		case <-time.After(applyDeadline):
			t.Fatal("Apply did not answer")
			return nil
		}
	}
	now := uint64(e.clock.Now().UnixNano())
	w := windowOf(now, e.store.WindowSeconds())
	key := spanGroupKey(nil, 0, pcommon.TraceID{1})
	good := appendEntry(nil, w, key, []byte("v"))
	if err := apply(sigTraces, nil); err != nil {
		t.Errorf("empty entries: %v", err)
	}
	if err := apply(sigTraces, good); err != nil {
		t.Errorf("good entry: %v", err)
	}
	if err := apply(sigTraces, good[:len(good)-1]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated entries: %v, want ErrCorrupt", err)
	}
	if err := apply(starlingpb.Signal(42), good); err == nil {
		t.Error("unknown signal: no error")
	}
	if err := apply(sigTraces, appendEntry(nil, w+3600, key, nil)); !errors.Is(err, ErrMisalignedWindow) {
		t.Errorf("misaligned window: %v, want ErrMisalignedWindow", err)
	}
	if err := apply(sigTraces, appendEntry(nil, w-30*86400, key, nil)); !errors.Is(err, ErrWindowExpired) {
		t.Errorf("expired window: %v, want ErrWindowExpired", err)
	}
	// Entries of two windows in one submission: both are written.
	key2 := spanGroupKey(nil, 0, pcommon.TraceID{2})
	two := appendEntry(append([]byte(nil), good...), w-86400, key2, []byte("v2"))
	if err := apply(sigTraces, two); err != nil {
		t.Fatalf("two windows: %v", err)
	}
	if n, _ := countKeys(t, e.store, sigTraces); n != 2 {
		t.Errorf("%d keys after writes to two windows, want 2", n)
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := apply(sigTraces, good); !errors.Is(err, ErrClosed) {
		t.Errorf("apply after close: %v, want ErrClosed", err)
	}
}

// TestConcurrentApplyAndRead applies many requests from several goroutines
// while others read; every acknowledged span is then readable.
func TestConcurrentApplyAndRead(t *testing.T) {
	e := newTestEnv(t, 16)
	const writers = 4
	tds := make([]ptrace.Traces, writers*5)
	for i := range tds {
		tds[i] = genTraces(newRand(uint64(80+i)), 10, 5, e.clock.Now())
	}
	results := make([]BuildResult, len(tds))
	for i := range tds { // Builder is single-goroutine; build up front.
		b, err := NewBuilder(testBuilderConfig(16), nil, e.clock.Now)
		if err != nil {
			t.Fatal(err)
		}
		results[i] = b.Traces(tds[i])
	}
	errc := make(chan error, writers+1)
	stop := make(chan struct{})
	for w := range writers {
		go func() {
			for i := w; i < len(tds); i += writers {
				if err := applyAllErr(e.store, nil, sigTraces, results[i]); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	go func() {
		var out starlingpb.ResultChunk
		for {
			select {
			case <-stop:
				errc <- nil
				return
			default:
			}
			out.Reset()
			if err := e.store.SearchTraces(context.Background(), 3, &starlingpb.TraceSearch{Service: "frontend"}, 0, maxTime, 5, &out); err != nil {
				errc <- err
				return
			}
		}
	}()
	for range writers {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, td := range tds {
		for _, tid := range traceIDsOf(td) {
			total += spansIn(t, e.readTrace(tid))
		}
	}
	want := 0
	for _, td := range tds {
		want += spanCount(td)
	}
	if total != want {
		t.Errorf("%d spans readable, want %d", total, want)
	}
}

func forEachPointTime(m pmetric.Metric, fn func(int64)) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for i := 0; i < m.Gauge().DataPoints().Len(); i++ {
			fn(int64(m.Gauge().DataPoints().At(i).Timestamp()))
		}
	case pmetric.MetricTypeSum:
		for i := 0; i < m.Sum().DataPoints().Len(); i++ {
			fn(int64(m.Sum().DataPoints().At(i).Timestamp()))
		}
	case pmetric.MetricTypeHistogram:
		for i := 0; i < m.Histogram().DataPoints().Len(); i++ {
			fn(int64(m.Histogram().DataPoints().At(i).Timestamp()))
		}
	case pmetric.MetricTypeExponentialHistogram:
		for i := 0; i < m.ExponentialHistogram().DataPoints().Len(); i++ {
			fn(int64(m.ExponentialHistogram().DataPoints().At(i).Timestamp()))
		}
	case pmetric.MetricTypeSummary:
		for i := 0; i < m.Summary().DataPoints().Len(); i++ {
			fn(int64(m.Summary().DataPoints().At(i).Timestamp()))
		}
	}
}

func TestStoreMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := LocalConfig(t.TempDir())
	cfg.Now = newFakeClock(time.Now()).Now
	s, err := Open(cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := NewBuilder(testBuilderConfig(4), nil, cfg.Now)
	if err != nil {
		t.Fatal(err)
	}
	applyAll(t, s, nil, sigTraces, b.Traces(genTraces(newRand(1), 5, 4, cfg.Now())))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, mf := range mfs {
		found[mf.GetName()] = true
	}
	for _, n := range []string{"starling_storage_commit_records", "starling_storage_commit_entries", "starling_storage_commit_batches",
		"starling_storage_commit_seconds", "starling_storage_window_bytes"} {
		if !found[n] {
			t.Errorf("metric %s not exported", n)
		}
	}
}
