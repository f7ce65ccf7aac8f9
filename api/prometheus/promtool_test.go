package prometheus

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// promtool, Prometheus' own CLI, queries the API as it queries a
// Prometheus and prints what the engine returns directly.
func TestPromtool(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not on PATH (Debian's prometheus package has it); skipping the promtool test")
	}
	f := newFixture(t, nil)
	server := f.srv.URL + prefix
	at := t0.Add(7 * time.Minute)
	start, end := t0.Add(2*time.Minute), t0.Add(8*time.Minute)
	for _, c := range []struct {
		args []string
		q    string
		want string
	}{
		{[]string{"query", "instant", "--time=" + at.Format(time.RFC3339), server}, `rate(http_requests_total[5m])`,
			f.direct(t, `rate(http_requests_total[5m])`, at, at, 0).String()},
		// Floats from the native histogram: Debian's promtool (2.42) is
		// older than native histograms in the client, and prints a
		// histogram sample as "0 @[0]".
		{[]string{"query", "instant", "--time=" + at.Format(time.RFC3339), server}, `histogram_count(rate(request_duration_seconds[5m]))`,
			f.direct(t, `histogram_count(rate(request_duration_seconds[5m]))`, at, at, 0).String()},
		{[]string{"query", "range", "--start=" + start.Format(time.RFC3339), "--end=" + end.Format(time.RFC3339), "--step=1m", server}, `sum by (method) (rate(http_requests_total[1m]))`,
			f.direct(t, `sum by (method) (rate(http_requests_total[1m]))`, start, end, time.Minute).String()},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, bin, append(c.args, c.q)...).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("promtool %s %q: %v\n%s", strings.Join(c.args, " "), c.q, err, out)
		}
		got := strings.Split(strings.TrimSpace(string(out)), "\n")
		want := strings.Split(strings.TrimSpace(c.want), "\n")
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("promtool %s %q printed\n%s\nwant\n%s", c.args[1], c.q, out, c.want)
		}
	}
}
