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

# ensure_promtool sets and exports PROMTOOL to a promtool binary: the one
# on PATH, else Debian's, from the prometheus package extracted into
# .cache/peers/prometheus (apt-get download + dpkg-deb -x, as the
# benchmarks fetch their peers; apt-get update once if the download
# fails for lack of package lists). Nothing is installed as root and
# nothing comes from anywhere but the Debian mirrors.
ensure_promtool() {
  if command -v promtool >/dev/null 2>&1; then
    PROMTOOL=$(command -v promtool)
    export PROMTOOL
    return
  fi
  local root dir tmp debs
  root=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
  dir="$root/.cache/peers/prometheus"
  if [ ! -x "$dir/usr/bin/promtool" ]; then
    echo "fetching Debian package prometheus into $dir (once; later runs reuse it)" >&2
    mkdir -p "$root/.cache/peers"
    tmp=$(mktemp -d "$root/.cache/peers/prometheus.download-XXXXXX")
    if ! (cd "$tmp" && apt-get download prometheus >&2); then
      echo "apt-get download failed; running apt-get update and trying again" >&2
      apt-get update >&2
      (cd "$tmp" && apt-get download prometheus >&2)
    fi
    debs=("$tmp"/*.deb)
    if [ ${#debs[@]} -ne 1 ] || [ ! -f "${debs[0]}" ]; then
      echo "apt-get download prometheus: expected one .deb in $tmp" >&2
      rm -rf "$tmp"
      return 1
    fi
    dpkg-deb -x "${debs[0]}" "$tmp/x"
    dpkg-deb -f "${debs[0]}" Version >"$tmp/x/VERSION"
    if [ ! -x "$tmp/x/usr/bin/promtool" ]; then
      echo "package prometheus has no usr/bin/promtool" >&2
      rm -rf "$tmp"
      return 1
    fi
    rm -rf "$dir"
    mv "$tmp/x" "$dir"
    rm -rf "$tmp"
  fi
  PROMTOOL="$dir/usr/bin/promtool"
  export PROMTOOL
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
