#!/usr/bin/env bash
# Trace query benchmark (issue 11): one generated data set (default 10M
# spans over 2 h, attributes of varied cardinality, fixed seed) loaded over
# OTLP/gRPC into Starling and into Jaeger v2 with Badger, one after the
# other; then trace by ID, search by service, by a rare and a common
# attribute, a no-match search and a TraceQL aggregate, p50/p99 side by
# side with Starling/Jaeger ratios and the issue's targets. Builds
# bin/starling when starling is among the targets, and Jaeger once into
# .cache/peers/jaeger from the Go module proxy (scripts/lib.sh
# ensure_jaeger) when jaeger is.
# Usage: scripts/bench-query.sh [flags, e.g. -spans 1000000 -queries 50 -targets starling]  (-h for all)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

targets=starling,jaeger
jaeger_given=
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    -targets=* | --targets=*) targets=${args[i]#*=} ;;
    -targets | --targets) targets=${args[i + 1]:-} ;;
    -jaeger | --jaeger | -jaeger=* | --jaeger=*) jaeger_given=1 ;;
    -h | -help | --help) targets= ;;
  esac
done
if [[ ",$targets," == *,starling,* ]]; then
  mkdir -p bin
  go build -o bin/starling ./cmd/starling
fi
go build -o bin/benchquery ./scripts/benchquery
jaeger_args=()
if [[ ",$targets," == *,jaeger,* && -z $jaeger_given ]]; then
  ensure_jaeger
  echo "Jaeger: $JAEGER_VERSION; the benchmarks' anchor is Jaeger v2.20.0, which the Go module proxy does not serve" >&2
  jaeger_args=(-jaeger "$JAEGER" -jaeger-version "$JAEGER_VERSION")
fi
exec bin/benchquery -starling bin/starling "${jaeger_args[@]}" "$@"
