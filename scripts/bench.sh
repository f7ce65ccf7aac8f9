#!/usr/bin/env bash
# Single-node benchmark: builds starling, installs telemetrygen if missing,
# runs paced trace load against a fresh node and prints the figures.
# Usage: scripts/bench.sh [bench flags, e.g. -duration 60s]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_telemetrygen
mkdir -p bin
go build -o bin/starling ./cmd/starling
go run ./scripts/bench -starling bin/starling -telemetrygen "$TELEMETRYGEN" "$@"
