#!/usr/bin/env bash
# PromQL against a real Prometheus: Debian's Prometheus 2.42 scrapes three
# node_exporters, itself and a Starling node for -duration (default 15m)
# and sends every sample to Starling by remote write; then the same PromQL
# queries run against both and their answers are compared exactly. Exit
# status 1 when a difference is not explained by a documented Prometheus
# 2.x -> 3.x engine change. Prometheus and node_exporter are Debian's
# binaries, fetched once into .cache/peers. Builds bin/starling.
# Usage: scripts/compare-prometheus.sh [flags, e.g. -duration 2m -keep; -h for all]
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p bin
go build -o bin/starling ./cmd/starling
go build -o bin/promcompare ./scripts/promcompare
exec bin/promcompare -starling bin/starling "$@"
