package main

// queries are the PromQL queries compared, over what the run scrapes:
// three node_exporters (job node), Prometheus itself (job prometheus)
// and Starling (job starling). Every one is evaluated as an instant
// query at each time of the plan and as a range query at each step.
var queries = []string{
	// Plain selectors.
	`up`,
	`node_load1`,
	`node_cpu_seconds_total{mode="idle"}`,
	// Counters.
	`rate(node_cpu_seconds_total[1m])`,
	`irate(node_cpu_seconds_total[1m])`,
	`increase(node_network_receive_bytes_total[2m])`,
	`rate(starling_ingested_records_total[1m])`,
	// Aggregations.
	`sum by (instance) (rate(node_network_receive_bytes_total[1m]))`,
	`sum by (mode) (rate(node_cpu_seconds_total[1m]))`,
	`avg by (instance) (node_load1)`,
	`topk(3, rate(node_cpu_seconds_total[1m]))`,
	`count by (job) (up)`,
	`sum by (job) (scrape_samples_scraped)`,
	// Offset and subquery.
	`rate(node_cpu_seconds_total[1m] offset 2m)`,
	`increase(node_network_receive_bytes_total[1m] offset 30s)`,
	`max_over_time(rate(node_cpu_seconds_total[1m])[5m:30s])`,
	// On the minute, a [5m:30s] subquery's lower edge is one of its
	// steps: 2.x counts 11 steps there, 3.x 10 (left-open). A difference
	// by design, to show it is caught and classified.
	`count_over_time(rate(node_cpu_seconds_total[1m])[5m:30s])`,
	// A classic histogram.
	`histogram_quantile(0.9, sum by (le) (rate(prometheus_http_request_duration_seconds_bucket[1m])))`,
	// Over time.
	`avg_over_time(node_load1[2m])`,
	`max_over_time(node_memory_MemAvailable_bytes[1m])`,
	// Binary operations.
	`node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes`,
	`rate(node_cpu_seconds_total{mode="user"}[1m]) * on (instance) group_left (nodename) node_uname_info`,
	`time() - node_boot_time_seconds`,
	// Label functions and absence.
	`label_replace(up, "host", "$1", "instance", "(.*):.*")`,
	`absent(nonexistent_metric)`,
	`absent(up{job="node"})`,
}
