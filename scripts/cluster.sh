#!/usr/bin/env bash
# Local multi-node cluster on loopback: node i binds 127.0.0.(10+i) with the
# default ports, data under a temp dir, bootstrap-expect N.
#
#   scripts/cluster.sh start [N]   build bin/starling, start N nodes (default 3), wait until ready
#   scripts/cluster.sh stop        stop them (SIGTERM, then SIGKILL after 30 s)
#   scripts/cluster.sh status      starling status of node 0
#
# The state (PIDs, data dir) lives in ${STARLING_CLUSTER_STATE:-/tmp/starling-cluster}.
# Extra flags for every node: STARLING_CLUSTER_FLAGS="--log-level debug".
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${STARLING_CLUSTER_STATE:-/tmp/starling-cluster}
BASE=10

host() { echo "127.0.0.$((BASE + $1))"; }

ready() { curl -fsS -o /dev/null --max-time 1 "http://$(host "$1"):3300/readyz" 2>/dev/null; }

start() {
  local n=${1:-3}
  if [ -f "$STATE/pids" ] && kill -0 $(cat "$STATE/pids") 2>/dev/null; then
    echo "a cluster is already running (PIDs $(tr '\n' ' ' <"$STATE/pids")); run: task cluster-stop" >&2
    exit 1
  fi
  mkdir -p bin "$STATE"
  go build -o bin/starling ./cmd/starling
  local data
  data=$(mktemp -d "${TMPDIR:-/tmp}/starling-cluster-data.XXXXXX")
  echo "$data" >"$STATE/data"
  : >"$STATE/pids"
  local began=$SECONDS
  for i in $(seq 0 $((n - 1))); do
    # shellcheck disable=SC2086
    nohup bin/starling --bind "$(host "$i")" --node-id "node-$i" --data-dir "$data/node-$i" \
      --bootstrap-expect "$n" --join "$(host 0):7946" ${STARLING_CLUSTER_FLAGS:-} \
      >"$data/node-$i.log" 2>&1 &
    echo $! >>"$STATE/pids"
  done
  echo "started $n nodes (data and logs in $data); waiting until all are ready"
  for i in $(seq 0 $((n - 1))); do
    local deadline=$((SECONDS + 60))
    until ready "$i"; do
      if ! kill -0 "$(sed -n "$((i + 1))p" "$STATE/pids")" 2>/dev/null; then
        echo "node-$i exited; its log:" >&2
        tail -20 "$data/node-$i.log" >&2
        exit 1
      fi
      if [ $SECONDS -ge $deadline ]; then
        echo "node-$i not ready after 60 s; its log: $data/node-$i.log" >&2
        exit 1
      fi
      sleep 0.1
    done
  done
  echo "all $n nodes ready in $((SECONDS - began)) s"
  echo
  printf '%-8s %-9s %-22s %-22s %-22s %s\n' NODE PID OTLP/gRPC OTLP/HTTP API LOG
  for i in $(seq 0 $((n - 1))); do
    printf '%-8s %-9s %-22s %-22s %-22s %s\n' "node-$i" "$(sed -n "$((i + 1))p" "$STATE/pids")" \
      "$(host "$i"):4317" "http://$(host "$i"):4318" "http://$(host "$i"):3300" "$data/node-$i.log"
  done
  echo
  bin/starling status --addr "$(host 0):3300"
}

stop() {
  if [ ! -f "$STATE/pids" ]; then
    echo "no cluster state in $STATE"
    return
  fi
  local pids
  pids=$(cat "$STATE/pids")
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  for p in $pids; do
    while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  echo "stopped PIDs $(echo $pids); data left in $(cat "$STATE/data" 2>/dev/null)"
  rm -f "$STATE/pids"
}

case "${1:-}" in
start) start "${2:-3}" ;;
stop) stop ;;
status) bin/starling status --addr "$(host 0):3300" ;;
*)
  echo "usage: $0 start [N] | stop | status" >&2
  exit 2
  ;;
esac
