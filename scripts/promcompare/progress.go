package main

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// progressEvery is how often the run prints its progress.
const progressEvery = 30 * time.Second

// counters are what the progress lines print, read from Prometheus' and
// Starling's /metrics.
type counters struct {
	sent, failed, retried, dropped float64 // samples, Prometheus' remote write queue
	sentName                       string  // the counter of samples sent this Prometheus has
	highestAppended                float64 // prometheus_remote_storage_highest_timestamp_in_seconds
	highestSent                    float64 // prometheus_remote_storage_queue_highest_sent_timestamp_seconds
	ingested                       float64 // starling_ingested_records_total{signal="metrics"}
	err                            error   // a /metrics that could not be read
}

// sentCounters are the names Prometheus releases gave the count of
// samples sent by remote write, newest first: 2.42 has both
// (succeeded_samples_total deprecated), older ones only the second.
var sentCounters = []string{"prometheus_remote_storage_samples_total", "prometheus_remote_storage_succeeded_samples_total"}

func (st *stack) counters() counters {
	var c counters
	prom, err := scrape(st.client, st.promURL()+"/metrics")
	if err != nil {
		c.err = fmt.Errorf("Prometheus /metrics: %w", err)
		return c
	}
	for _, name := range sentCounters {
		if v, ok := sum(prom, name, nil); ok {
			c.sent, c.sentName = v, name
			break
		}
	}
	c.failed, _ = sum(prom, "prometheus_remote_storage_samples_failed_total", nil)
	c.retried, _ = sum(prom, "prometheus_remote_storage_samples_retried_total", nil)
	c.dropped, _ = sum(prom, "prometheus_remote_storage_samples_dropped_total", nil)
	c.highestAppended, _ = sum(prom, "prometheus_remote_storage_highest_timestamp_in_seconds", nil)
	c.highestSent, _ = sum(prom, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds", nil)
	starling, err := scrape(st.client, st.starlingURL()+"/metrics")
	if err != nil {
		c.err = fmt.Errorf("Starling /metrics: %w", err)
		return c
	}
	c.ingested, _ = sum(starling, "starling_ingested_records_total", map[string]string{"signal": "metrics"})
	return c
}

// monitor waits out the run's duration, printing progress every 30 s and
// failing as soon as a process of the stack exits.
func monitor(o *options, st *stack) error {
	logf("running for %s (scrape and evaluation interval %s), progress every %s", o.duration, o.interval, progressEvery)
	start := time.Now()
	end := start.Add(o.duration)
	check := time.NewTicker(time.Second)
	defer check.Stop()
	next := start.Add(progressEvery)
	named := false
	for {
		now := <-check.C
		if err := st.alive(); err != nil {
			return err
		}
		if now.Before(next) && now.Before(end) {
			continue
		}
		next = next.Add(progressEvery)
		c := st.counters()
		elapsed := min(time.Since(start), o.duration).Round(time.Second)
		eta := max(o.duration-elapsed, 0).Round(time.Second)
		if c.err == nil && !named {
			named = true
			name := c.sentName
			if name == "" {
				name = "neither " + strings.Join(sentCounters, " nor ")
			}
			logf("samples sent: %s; failed, retried, dropped: prometheus_remote_storage_samples_{failed,retried,dropped}_total; ingested: starling_ingested_records_total{signal=\"metrics\"}", name)
		}
		if c.err != nil {
			logf("%s elapsed, ETA %s: %v", elapsed, eta, c.err)
		} else {
			logf("%s elapsed, ETA %s: Prometheus sent %s samples (%s failed, %s retried, %s dropped), Starling ingested %s metric records",
				elapsed, eta, count(c.sent), count(c.failed), count(c.retried), count(c.dropped), count(c.ingested))
		}
		if !now.Before(end) {
			return nil
		}
	}
}

// waitShipped waits until Prometheus' remote write has sent every sample
// up to end: its highest sent timestamp (whole seconds, the largest of
// its shards) has passed end by one scrape interval and a few seconds,
// so every target's scrape at or before end is out, then one batch
// deadline more for the other shards.
func waitShipped(st *stack, end time.Time, interval time.Duration) error {
	want := float64(end.Add(interval + 2*time.Second).Unix())
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if err := st.alive(); err != nil {
			return err
		}
		c := st.counters()
		if c.err == nil && c.highestSent >= want {
			logf("remote write caught up: highest sent timestamp %s ≥ %s (highest appended %s)",
				secs(c.highestSent), end.Format(time.TimeOnly), secs(c.highestAppended))
			time.Sleep(2 * time.Second)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remote write did not catch up with %s within 2m: highest sent %s, highest appended %s, %s failed samples (%v); Prometheus log %s:\n%s",
				end.Format(time.TimeOnly), secs(c.highestSent), secs(c.highestAppended), count(c.failed), c.err, st.prom.Log, st.prom.LogTail(10))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func secs(unix float64) string {
	if unix <= 0 {
		return "none"
	}
	return time.Unix(int64(unix), 0).Format(time.TimeOnly)
}

// count prints a sample count with thousands separators.
func count(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	s := strconv.FormatInt(int64(f), 10)
	out := []byte{}
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}

// scrape reads the text exposition at url.
func scrape(client *http.Client, url string) (map[string]*dto.MetricFamily, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// sum adds the values of the family's series that have the labels of
// match; ok is false when there is no such family.
func sum(mfs map[string]*dto.MetricFamily, name string, match map[string]string) (v float64, ok bool) {
	mf, ok := mfs[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		for k, want := range match {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k {
					found = l.GetValue() == want
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v, true
}
