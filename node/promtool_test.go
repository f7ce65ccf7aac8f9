package node

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// promtool, Prometheus' own CLI (Debian's 2.42), as an independent client
// of a node's Prometheus API: it queries /prometheus as it queries a
// Prometheus and prints what it decodes, which must be what the Go API
// client decodes from the same query.

// findPromtool returns promtool from PATH, else the one
// scripts/lib.sh ensure_promtool extracts into
// .cache/peers/prometheus/usr/bin at the repository root, or skips the
// test.
func findPromtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	if root, err := repoRoot(); err == nil {
		p := filepath.Join(root, ".cache", "peers", "prometheus", "usr", "bin", "promtool")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	t.Skip("promtool is not on PATH nor in .cache/peers/prometheus/usr/bin; " +
		"scripts/lib.sh ensure_promtool fetches it from Debian's prometheus package (CI does, .ci/run)")
	return ""
}

// repoRoot is the nearest directory at or above the working directory
// that holds go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func TestPromtool(t *testing.T) {
	bin := findPromtool(t)
	n := startNode(t, nil)
	end := time.Now().Add(-time.Minute).Truncate(15 * time.Second)
	remoteWrite(t, "http://"+n.HTTPAddr()+"/api/v1/write", genCompareData(end))
	api := promAPI(t, n)
	server := "http://" + n.HTTPAddr() + "/prometheus"

	at := end.Add(-90*time.Minute + 7*time.Second)
	r := promv1.Range{Start: end.Add(-2 * time.Hour), End: end.Add(-time.Hour), Step: time.Minute}
	for _, q := range []string{
		`rate(http_requests_total[5m])`,
		`sum by (method) (rate(http_requests_total[1m]))`,
	} {
		for _, c := range []struct {
			args []string
			want func() (model.Value, promv1.Warnings, promv1.Infos, error)
		}{
			{[]string{"query", "instant", "--time=" + at.Format(time.RFC3339), server},
				func() (model.Value, promv1.Warnings, promv1.Infos, error) {
					return api.Query(context.Background(), q, at)
				}},
			{[]string{"query", "range", "--start=" + r.Start.Format(time.RFC3339), "--end=" + r.End.Format(time.RFC3339), "--step=1m", server},
				func() (model.Value, promv1.Warnings, promv1.Infos, error) {
					return api.QueryRange(context.Background(), q, r)
				}},
		} {
			want, _, _, err := c.want()
			if err != nil {
				t.Fatalf("%s %s: API client: %v", c.args[1], q, err)
			}
			if strings.TrimSpace(want.String()) == "" {
				t.Fatalf("%s %s: the API client's answer is empty", c.args[1], q)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			out, err := exec.CommandContext(ctx, bin, append(c.args, q)...).CombinedOutput()
			cancel()
			if err != nil {
				t.Fatalf("promtool %s %q: %v\n%s", strings.Join(c.args, " "), q, err, out)
			}
			got := strings.Split(strings.TrimSpace(string(out)), "\n")
			wantLines := strings.Split(strings.TrimSpace(want.String()), "\n")
			slices.Sort(got)
			slices.Sort(wantLines)
			if !slices.Equal(got, wantLines) {
				t.Errorf("promtool %s %q printed\n%s\nthe API client decoded\n%s", c.args[1], q, out, want)
				continue
			}
			t.Logf("promtool query %s %s: %d lines, as the API client decoded", c.args[1], q, len(got))
		}
	}
}
