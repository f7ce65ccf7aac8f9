#!/usr/bin/env bash
# Metrics benchmark: one generated data set (default 10,000 series × 6 h at
# 15 s) sent to Starling (remote write, then OTLP), VictoriaMetrics and
# Prometheus in turn; prints ingest, CPU, memory, disk and query figures
# side by side with Starling/peer ratios. The peers are Debian's binaries,
# fetched once into .cache/peers. Builds bin/starling when starling is among
# the targets.
# Usage: scripts/bench-metrics.sh [flags, e.g. -series 500 -duration 30m -targets victoriametrics,prometheus]
set -euo pipefail
cd "$(dirname "$0")/.."

targets=starling,victoriametrics,prometheus
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    -targets=* | --targets=*) targets=${args[i]#*=} ;;
    -targets | --targets) targets=${args[i + 1]:-} ;;
  esac
done
if [[ ",$targets," == *,starling,* ]]; then
  mkdir -p bin
  go build -o bin/starling ./cmd/starling
fi
go build -o bin/benchmetrics ./scripts/benchmetrics
exec bin/benchmetrics -starling bin/starling "$@"
