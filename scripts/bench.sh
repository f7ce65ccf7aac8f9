#!/usr/bin/env bash
# Single-node benchmark: builds starling, installs telemetrygen if missing,
# runs paced trace load against a fresh node and prints the figures.
# Usage: scripts/bench.sh [bench flags, e.g. -duration 60s]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
run_bench bench "$@"
