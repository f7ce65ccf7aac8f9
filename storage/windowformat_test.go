package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// durationTraces writes one trace per service and duration, each a root
// of that duration.
func durationTraces(e *testEnv) ptrace.Traces {
	rng := newRand(31)
	start := e.clock.Now().Add(-10 * time.Minute)
	td := ptrace.NewTraces()
	for i, d := range []time.Duration{50 * time.Millisecond, 150 * time.Millisecond, 400 * time.Millisecond, 2 * time.Second, 15 * time.Second, 45 * time.Second} {
		for j, svc := range []string{"a", "b"} {
			at := start.Add(time.Duration(2*i+j) * time.Second) // distinct times: the order is defined
			tr := buildTrace(randTraceID(rng), at, testSpan{service: svc, name: "op", dur: d})
			tr.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
		}
	}
	e.writeTraces(td)
	return td
}

// windowFormats returns the format of every traces window of s.
func windowFormats(s *Store) []int32 {
	ws := s.acquireAll(sigTraces)
	defer releaseAll(ws)
	var fs []int32
	for _, w := range ws {
		fs = append(fs, w.format.Load())
	}
	return fs
}

// durationPostings counts the posting keys of duration shortcut k (of
// service's spans, or of all).
func durationPostings(t *testing.T, s *Store, parts int, service string, k int) int {
	t.Helper()
	ws := s.acquireAll(sigTraces)
	defer releaseAll(ws)
	n := 0
	for _, w := range ws {
		for p := range uint32(parts) {
			prefix := appendFixed64(appendHeader(nil, p, kindTracePosting), durationTerm(service, k))
			err := w.db(p).View(func(txn *badger.Txn) error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
				defer it.Close()
				for it.Rewind(); it.Valid(); it.Next() {
					n++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return n
}

// TestDurationShortcuts: a window of this version records format 3 and
// its span groups carry a posting per duration shortcut reached; searches
// by minimum duration answer as the oracle does whether the window's
// format lets them use the shortcuts (3) or not (2, as a window written
// before them, after a reopen), and a snapshot of a format-2 window
// lowers the receiving window to 2.
func TestDurationShortcuts(t *testing.T) {
	e := newTestEnv(t, 4)
	td := durationTraces(e)
	if fs := windowFormats(e.store); len(fs) == 0 || fs[0] != windowFormat {
		t.Fatalf("window formats %v, want %d", fs, windowFormat)
	}
	// 100 ms: five of six durations × two services; 30 s: one.
	for k, want := range map[int]int{0: 10, 1: 8, 5: 2} {
		if got := durationPostings(t, e.store, e.parts, "", k); got != want {
			t.Fatalf("shortcut %s: %d postings, want %d", durationShortcuts[k], got, want)
		}
		if got := durationPostings(t, e.store, e.parts, "a", k); got != want/2 {
			t.Fatalf("shortcut %s of service a: %d postings, want %d", durationShortcuts[k], got, want/2)
		}
	}
	spans, traceTime := oracleSpans(td)
	check := func(format string) {
		t.Helper()
		for _, min := range []time.Duration{time.Millisecond, 100 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond, 500 * time.Millisecond, time.Second, 5 * time.Second, 10 * time.Second, 31 * time.Second, time.Minute} {
			for _, svc := range []string{"", "a"} {
				q := &starlingpb.TraceSearch{Service: svc, MinDurationNano: int64(min)}
				want := expectedTraceHits(spans, traceTime, e.parts, q, 0, maxTime)
				checkHits(t, e.searchTraces(q, 0, maxTime, 100), want, traceTime, 0)
				if t.Failed() {
					t.Fatalf("format %s: min %s, service %q", format, min, svc)
				}
			}
		}
	}
	check("3")

	other := newTestEnv(t, 4)
	for p := range uint32(e.parts) {
		_, err := e.store.StreamPartition(context.Background(), sigTraces, p, 1<<20, func(c *starlingpb.SnapshotChunk) error {
			c.WindowFormat = 2 // as from a window written before the shortcuts
			_, err := other.store.LoadSnapshot(c)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if fs := windowFormats(other.store); len(fs) == 0 || fs[0] != 2 {
		t.Fatalf("after a format-2 snapshot: window formats %v, want 2", fs)
	}

	ws := e.store.acquireAll(sigTraces)
	for _, w := range ws {
		if err := w.lowerFormat(2); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(w.dir, windowFormatFile))
		if err != nil || strings.TrimSpace(string(b)) != "2" {
			t.Fatalf("format file %q, %v", b, err)
		}
	}
	releaseAll(ws)
	e.reopen()
	if fs := windowFormats(e.store); fmt.Sprint(fs) != "[2]" {
		t.Fatalf("after reopen: window formats %v, want [2]", fs)
	}
	check("2")
}

// TestReadWindowFormat: no file is format 2; a file of an unknown format
// refuses to open the window.
func TestReadWindowFormat(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       int32
		err        bool
	}{
		{"no file", "", 2, false},
		{"3", "3\n", 3, false},
		{"2", "2", 2, false},
		{"newer", "4\n", 0, true},
		{"older", "1\n", 0, true},
		{"garbage", "x", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.file != "" {
				if err := os.WriteFile(filepath.Join(dir, windowFormatFile), []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := readWindowFormat(dir)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("got %d, %v; want %d, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}
