# Shared helpers for scripts/*.sh (sourced, not run).

TELEMETRYGEN_VERSION=v0.161.0

# ensure_telemetrygen sets TELEMETRYGEN to a telemetrygen binary, installing
# it with `go install` when it is neither on PATH nor in GOPATH/bin.
ensure_telemetrygen() {
  if command -v telemetrygen >/dev/null 2>&1; then
    TELEMETRYGEN=$(command -v telemetrygen)
    return
  fi
  local gobin
  gobin=$(go env GOBIN)
  [ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
  if [ ! -x "$gobin/telemetrygen" ]; then
    echo "installing telemetrygen $TELEMETRYGEN_VERSION" >&2
    go install "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$TELEMETRYGEN_VERSION"
  fi
  TELEMETRYGEN="$gobin/telemetrygen"
}

# run_bench DRIVER [flags…] builds starling into bin/, makes sure
# telemetrygen is there, and runs the Go driver scripts/DRIVER with both.
run_bench() {
  local driver=$1
  shift
  ensure_telemetrygen
  mkdir -p bin
  go build -o bin/starling ./cmd/starling
  go run "./scripts/$driver" -starling bin/starling -telemetrygen "$TELEMETRYGEN" "$@"
}
