#!/usr/bin/env bash
# Cluster benchmark: builds starling, installs telemetrygen if missing, then
# measures in one run spans/s stored through a single node and through a
# 3-node local cluster (127.0.0.60, .61, .62 with the default ports) under
# the same load, their ratio, and the formation time of 3- and 5-node
# clusters.
# Usage: scripts/bench-cluster.sh [benchcluster flags, e.g. -duration 10s]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
run_bench benchcluster "$@"
