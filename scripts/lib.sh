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

# Jaeger, the traces peer of `task bench-query`. The anchor of the
# benchmarks is Jaeger v2.20.0, but the Go module proxy serves Jaeger
# only as github.com/jaegertracing/jaeger v1.x (each release tags a v1.x
# and a v2.x; the v2.x tags are not served: no /v2 module path), and its
# newest there is v1.76.0 = Jaeger v2.13.0 (CHANGELOG "v1.76.0 / v2.13.0
# (2025-12-03)"). Override with JAEGER_MODULE_VERSION.
JAEGER_MODULE_VERSION=${JAEGER_MODULE_VERSION:-v1.76.0}

# ensure_jaeger sets and exports JAEGER to a Jaeger v2 binary (cmd/jaeger,
# the OpenTelemetry-Collector-based one) built once from the Go module
# proxy into .cache/peers/jaeger: a scratch module that `go get -tool`s
# github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_MODULE_VERSION and
# builds it. JAEGER_VERSION is set to the release it is (from the
# module's CHANGELOG). Later runs reuse the binary.
ensure_jaeger() {
  local root dir build v line
  root=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
  dir="$root/.cache/peers/jaeger"
  v=$JAEGER_MODULE_VERSION
  if [ ! -x "$dir/jaeger" ] || [ "$(cat "$dir/MODULE_VERSION" 2>/dev/null)" != "$v" ]; then
    echo "building Jaeger (github.com/jaegertracing/jaeger/cmd/jaeger@$v) into $dir (once; later runs reuse it)" >&2
    mkdir -p "$root/.cache/peers"
    build=$(mktemp -d "$root/.cache/peers/jaeger.build-XXXXXX")
    if ! (
      cd "$build" &&
        go mod init starling-bench/jaeger >/dev/null 2>&1 &&
        GOFLAGS=-mod=mod go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$v" >&2 &&
        go build -trimpath -o jaeger github.com/jaegertracing/jaeger/cmd/jaeger >&2
    ); then
      echo "building Jaeger $v failed (scratch module left in $build)" >&2
      return 1
    fi
    line=$(grep -m1 -E "^v${v#v} / v2\.[0-9]+\.[0-9]+" "$(go env GOMODCACHE)/github.com/jaegertracing/jaeger@$v/CHANGELOG.md" 2>/dev/null || true)
    rm -rf "$dir"
    mkdir -p "$dir"
    mv "$build/jaeger" "$dir/jaeger"
    echo "$v" >"$dir/MODULE_VERSION"
    if [ -n "$line" ]; then
      echo "$line" | awk '{print $3}' >"$dir/VERSION"
    else
      echo "module $v" >"$dir/VERSION"
    fi
    rm -rf "$build"
  fi
  JAEGER="$dir/jaeger"
  JAEGER_VERSION="$(cat "$dir/VERSION") (module github.com/jaegertracing/jaeger $(cat "$dir/MODULE_VERSION"))"
  export JAEGER JAEGER_VERSION
}

# ensure_redis installs Debian's redis-server when it is missing: the
# query cache's L2 tests start their own server from it (and skip, saying
# so, when it is absent).
ensure_redis() {
  command -v redis-server >/dev/null 2>&1 && return
  echo "installing Debian package redis-server (the query cache's L2 tests)" >&2
  if ! apt-get install -y redis-server >&2; then
    echo "apt-get install failed; running apt-get update and trying again" >&2
    apt-get update >&2
    apt-get install -y redis-server >&2
  fi
}
