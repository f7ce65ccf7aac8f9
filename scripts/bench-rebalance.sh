#!/usr/bin/env bash
# Rebalance benchmark: builds starling, installs telemetrygen if missing,
# then starts a 3-node local cluster (127.0.0.100, .101, .102 with the
# default ports; replication factor 3, min in-sync 2) under telemetrygen
# load, lets a 4th node (.103) join and prints spans/s before and during the
# partition moves, their ratio, the time the rebalance took and the skew
# reached.
# Usage: scripts/bench-rebalance.sh [benchrebalance flags, e.g. -mode saturate]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
run_bench benchrebalance "$@"
