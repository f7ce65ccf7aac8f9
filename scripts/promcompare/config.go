package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// promConfig is the Prometheus configuration of a run: every interval it
// scrapes the node_exporters (job node), itself (job prometheus) and
// Starling's /metrics (job starling), and sends every sample to
// Starling's remote write endpoint through a queue that ships within a
// second and retries fast. Exemplars are not sent (Starling's remote
// write takes samples; exemplars are not compared).
func promConfig(st *stack, interval time.Duration) string {
	d := func(d time.Duration) string { return model.Duration(d).String() }
	timeout := min(interval, 10*time.Second) // must not exceed the interval
	var nodes []string
	for _, p := range st.exporterPorts {
		nodes = append(nodes, fmt.Sprintf("'127.0.0.1:%d'", p))
	}
	return fmt.Sprintf(`# Written by scripts/promcompare for one run.
global:
  scrape_interval: %[1]s
  scrape_timeout: %[2]s
  evaluation_interval: %[1]s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: [%[3]s]
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:%[4]d']
  - job_name: starling
    static_configs:
      - targets: ['127.0.0.1:%[5]d']
remote_write:
  - url: http://127.0.0.1:%[5]d/api/v1/write
    send_exemplars: false
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 50ms
`, d(interval), d(timeout), strings.Join(nodes, ", "), st.promPort, st.starlingPort)
}
