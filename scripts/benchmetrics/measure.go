package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/starling-otel/starling/scripts/internal/benchkit"
)

// result is what one server's run measured.
type result struct {
	name, version string
	proto         string
	skipped       string // why it was not measured ("": it was)
	loadavg       string // /proc/loadavg before the run
	send          sendResult
	cpuSend       float64       // server CPU seconds over the send
	cpuWait       float64       // server CPU seconds from the send's start to the end of the fixed wait (background work included)
	cpu           float64       // server CPU seconds over the send and until it settled
	settled       time.Duration // after the send's end; < 0: not within the wait
	counted       float64       // the server's own count of samples stored (0: none)
	counter       string
	peakRSS       int64
	diskApparent  int64 // du -sb after a clean stop
	diskAlloc     int64 // allocated blocks
	blocks        *promBlocks
	query         *queryResult
	queryNote     string
	stopErr       error
}

// queryResult is the query figure of one server.
type queryResult struct {
	p50, p99 time.Duration
	ok       int
	errs     int
	firstErr string
	series   int
	values   map[string]map[int64]float64 // instance → time (ms) → value, of the first answer
}

// query is the PromQL expression of the query figure.
func queryExpr() string { return "sum by (instance)(rate(" + queryMetric + "[5m]))" }

// measure runs one server: send p, let it settle, wait out the fixed wait,
// query, read its peak RSS, stop it cleanly and measure its data dir.
func measure(o *options, s *server, p *Payload) (r result) {
	r = result{name: s.name, version: s.version, proto: p.Proto, counter: s.counter, queryNote: s.queryNote}
	pid := s.proc.Pid()
	client := &http.Client{Timeout: 5 * time.Second}
	count := func() float64 {
		if s.counter == "" {
			return 0
		}
		v, _ := benchkit.ScrapeMetric(client, s.base+"/metrics", s.counter)
		return v
	}

	logf("%s: sending %d samples by %s in %d requests from %d senders", s.name, p.Samples, p.Proto, p.Requests(), len(p.Shards))
	runtime.GC() // the encoding's garbage, not the send's
	cpu0 := benchkit.ProcCPU(pid)
	r.send = send(s.ingest, p, func() bool { return !s.proc.Exited() })
	sendEnd := time.Now()
	r.cpuSend = benchkit.ProcCPU(pid) - cpu0
	logf("%s: sent in %.1f s: %.0f samples/s accepted, %d refused and %d given up of %d requests, %d retries",
		s.name, r.send.Wall.Seconds(), r.send.Mean, r.send.Refused, r.send.GaveUp, r.send.Requests, r.send.Retries)
	for _, e := range r.send.Errors {
		logf("%s:   %s", s.name, e)
	}

	// Settled: its own counter unchanged and its CPU under 5% of a core
	// over two 1 s polls running; it settled when the first of them began,
	// and its CPU is counted up to there.
	r.settled = -1
	prevT, prevCPU, prevCount := time.Now(), benchkit.ProcCPU(pid), count()
	quiet, quietT, quietCPU := 0, prevT, prevCPU
	for time.Since(sendEnd) < o.wait {
		time.Sleep(time.Second)
		if s.proc.Exited() {
			r.skipped = "exited during or after the send; log " + s.log + ":\n" + s.proc.LogTail(20)
			return r
		}
		now, c, n := time.Now(), benchkit.ProcCPU(pid), count()
		if c-prevCPU < 0.05*now.Sub(prevT).Seconds() && n == prevCount {
			if quiet++; quiet == 1 {
				quietT, quietCPU = prevT, prevCPU
			}
		} else {
			quiet = 0
		}
		prevT, prevCPU, prevCount = now, c, n
		if quiet == 2 && r.settled < 0 {
			r.settled = max(0, quietT.Sub(sendEnd))
			r.cpu = quietCPU - cpu0
			logf("%s: settled %.0f s after the send; waiting out the fixed %s", s.name, r.settled.Seconds(), o.wait)
		}
	}
	if r.settled < 0 {
		r.cpu = benchkit.ProcCPU(pid) - cpu0
		logf("%s: still busy %s after the send (CPU counted up to here)", s.name, o.wait)
	}
	r.cpuWait = benchkit.ProcCPU(pid) - cpu0
	r.counted = count()
	if s.proc.Exited() {
		r.skipped = "exited; log " + s.log + ":\n" + s.proc.LogTail(20)
		return r
	}

	if s.queryOK {
		logf("%s: %d × %s over the last hour at step 15 s", s.name, o.queries, queryExpr())
		q := runQueries(s, o)
		r.query = &q
		if q.ok == 0 {
			r.queryNote = "every query failed: " + q.firstErr
		}
	}
	r.peakRSS = benchkit.PeakRSS(pid)

	logf("%s: stopping (SIGTERM) for a clean close", s.name)
	r.stopErr = s.proc.Stop(5 * time.Minute)
	r.diskApparent = duBytes(s.dataDir)
	r.diskAlloc = benchkit.DiskBytes(s.dataDir)
	if s.name == "Prometheus" {
		r.blocks = readPromBlocks(s.dataDir)
	}
	return r
}

// queryWindow is the range the query figure asks for: the last hour of
// the data at step 15 s, its times half an interval before the sample
// times. No sample then sits on a window's boundary, where Prometheus 2
// (windows closed on the left) and 3 (left-open; Starling's engine) differ.
func queryWindow(o *options) (start, end time.Time) {
	last := time.UnixMilli(o.data.StartMs + int64(o.data.Steps-1)*o.data.Interval.Milliseconds())
	end = last.Add(-o.data.Interval / 2)
	return end.Add(-time.Hour), end
}

// runQueries sends the query o.queries times, one after another, and keeps
// the first successful answer's values for the cross-check.
func runQueries(s *server, o *options) queryResult {
	start, end := queryWindow(o)
	v := url.Values{
		"query": {queryExpr()},
		"start": {strconv.FormatFloat(float64(start.UnixMilli())/1000, 'f', 3, 64)},
		"end":   {strconv.FormatFloat(float64(end.UnixMilli())/1000, 'f', 3, 64)},
		"step":  {"15"},
	}
	u := s.base + s.queryPath + "?" + v.Encode()
	client := &http.Client{Timeout: 60 * time.Second}
	var qr queryResult
	ds := make([]time.Duration, 0, o.queries)
	for i := 0; i < o.queries && !(qr.errs >= 10 && len(ds) == 0); i++ { // 10 failures and no success: stop
		t := time.Now()
		resp, err := client.Get(u)
		if err != nil {
			qr.errs++
			qr.firstErr = cmp(qr.firstErr, err.Error())
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t)
		if err != nil || resp.StatusCode != 200 {
			qr.errs++
			qr.firstErr = cmp(qr.firstErr, fmt.Sprintf("%s: %.200s", resp.Status, body))
			continue
		}
		ds = append(ds, d)
		if qr.values == nil {
			vals, err := parseMatrix(body)
			if err != nil {
				qr.firstErr = cmp(qr.firstErr, err.Error())
				continue
			}
			qr.values, qr.series = vals, len(vals)
		}
	}
	qr.ok = len(ds)
	if len(ds) > 0 {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		pct := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
		qr.p50, qr.p99 = pct(0.50), pct(0.99)
	}
	return qr
}

func cmp(first, msg string) string {
	if first != "" {
		return first
	}
	return msg
}

// parseMatrix reads a Prometheus query_range answer into instance → time
// (ms) → value.
func parseMatrix(body []byte) (map[string]map[int64]float64, error) {
	var a struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string    `json:"metric"`
				Values [][2]json.RawMessage `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("query answer: %w", err)
	}
	if a.Status != "success" {
		return nil, fmt.Errorf("query answer: status %q: %s", a.Status, a.Error)
	}
	out := map[string]map[int64]float64{}
	for _, s := range a.Data.Result {
		m := map[int64]float64{}
		for _, p := range s.Values {
			t, err := strconv.ParseFloat(string(p[0]), 64)
			if err != nil {
				return nil, fmt.Errorf("query answer: time %s: %w", p[0], err)
			}
			var vs string
			if err := json.Unmarshal(p[1], &vs); err != nil {
				return nil, fmt.Errorf("query answer: value %s: %w", p[1], err)
			}
			v, err := strconv.ParseFloat(vs, 64)
			if err != nil {
				return nil, fmt.Errorf("query answer: value %q: %w", vs, err)
			}
			m[int64(math.Round(t*1000))] = v
		}
		out[s.Metric["instance"]] = m
	}
	return out, nil
}

// compare is how far b's answer is from the reference a: the largest
// relative difference over the points both have, and the points only one
// has.
type comparison struct {
	maxRel, medianRel float64
	common, alone     int
}

func compare(a, b map[string]map[int64]float64) comparison {
	var c comparison
	var rels []float64
	for inst, av := range a {
		bv := b[inst]
		for t, x := range av {
			y, ok := bv[t]
			if !ok {
				c.alone++
				continue
			}
			c.common++
			rel := 0.0
			if d := math.Max(math.Abs(x), math.Abs(y)); d > 0 {
				rel = math.Abs(x-y) / d
			}
			c.maxRel = math.Max(c.maxRel, rel)
			rels = append(rels, rel)
		}
	}
	for inst, bv := range b {
		for t := range bv {
			if _, ok := a[inst][t]; !ok {
				c.alone++
			}
		}
	}
	if len(rels) > 0 {
		sort.Float64s(rels)
		c.medianRel = rels[len(rels)/2]
	}
	return c
}

// duBytes is `du -sb dir`: the apparent size of everything under dir.
func duBytes(dir string) int64 {
	out, err := exec.Command("du", "-sb", dir).Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	return n
}

// promBlocks is what Prometheus has compacted into blocks (the rest is in
// its WAL and head chunks).
type promBlocks struct {
	blocks  int
	samples int64
	bytes   int64 // du -sb of the block dirs
	other   int64 // du -sb of the rest (wal, chunks_head, …)
}

func readPromBlocks(dir string) *promBlocks {
	metas, _ := filepath.Glob(filepath.Join(dir, "*", "meta.json"))
	pb := &promBlocks{}
	for _, m := range metas {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		var meta struct {
			Stats struct {
				NumSamples int64 `json:"numSamples"`
			} `json:"stats"`
		}
		if json.Unmarshal(b, &meta) != nil {
			continue
		}
		pb.blocks++
		pb.samples += meta.Stats.NumSamples
		pb.bytes += duBytes(filepath.Dir(m))
	}
	pb.other = duBytes(dir) - pb.bytes
	return pb
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}
