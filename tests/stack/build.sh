#!/usr/bin/env bash
# Builds the real tools the stack tests run, from the Go module proxy only (no prebuilt binaries, no git):
#   - an OpenTelemetry Collector with exactly the components of collector-config/ (otelcol-builder.yaml, via the
#     collector builder ocb at the same release),
#   - Prometheus 3 and promtool, Alertmanager and amtool, Jaeger v2.
# Versions: versions.env. Each tool lands in $OTELWRIGHT_TOOLS_DIR/<tool>-<version>/bin (see env.sh); a tool whose
# binaries are there is reused, so a second run takes seconds. The Go module and build caches stay where `go env`
# puts them (GOMODCACHE, GOCACHE), so a warm machine stays warm. A failed build prints the tool and the end of its
# log, and exits non-zero.
#
# Usage: tests/stack/build.sh [TOOL...]   TOOL: otelcol (with ocb), prometheus, alertmanager, jaeger; default all
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# Static, stripped, path-independent binaries. -buildvcs=false: the sources are module copies with no VCS.
export CGO_ENABLED=0
# Upstream module copies may carry a go.work naming folders the module zip leaves out (Prometheus does).
export GOWORK=off
go_build_flags=(-trimpath -buildvcs=false)

say() { printf '== stack build: %s\n' "$*"; }

# have DIR BIN... : true when every binary is already built in DIR/bin.
have() {
    local dir="$1"; shift
    local b
    for b in "$@"; do [ -x "$dir/bin/$b" ] || return 1; done
}

# build TOOL VERSION DIR FUNCTION BIN... : runs FUNCTION WORKDIR (which must leave BIN... in WORKDIR/bin) unless
# DIR already has them; installs WORKDIR/bin as DIR/bin only when everything built.
build() {
    local tool="$1" version="$2" dir="$3" fn="$4"; shift 4
    if have "$dir" "$@"; then
        say "reused $tool $version ($dir/bin)"
        return
    fi
    mkdir -p "$OTELWRIGHT_TOOLS_DIR"
    local work start=$SECONDS
    work="$(mktemp -d "$OTELWRIGHT_TOOLS_DIR/.build-$tool.XXXXXX")"
    say "building $tool $version (log: $work/build.log)"
    local rc
    # Not `if ! (...)`: bash ignores set -e inside a tested command, so a failing step would go unnoticed.
    set +e
    (set -e; cd "$work"; "$fn" "$work") >"$work/build.log" 2>&1
    rc=$?
    set -e
    if [ "$rc" -ne 0 ]; then
        tail -n 40 "$work/build.log" >&2
        echo "tests/stack/build.sh: FAILED to build $tool $version; full log: $work/build.log" >&2
        exit 1
    fi
    local b
    for b in "$@"; do
        if [ ! -x "$work/bin/$b" ]; then
            echo "tests/stack/build.sh: FAILED to build $tool $version: no $b produced; log: $work/build.log" >&2
            exit 1
        fi
    done
    rm -rf "$dir"
    mkdir -p "$dir"
    mv "$work/bin" "$dir/bin"
    rm -rf "$work"
    say "built $tool $version in $((SECONDS - start)) s: $(cd "$dir/bin" && du -sh -- "$@" | awk '{printf "%s %s  ", $2, $1}')"
}

# module_source MODULE@VERSION DEST: a writable copy of a module's source, with upstream's own go.mod and go.sum
# (so their replace/exclude directives hold, which `go install pkg@version` refuses to honour).
module_source() {
    local json dir
    json="$(go mod download -json "$1")" || { echo "$json"; return 1; }
    dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
    [ -n "$dir" ] || { echo "go mod download $1 gave no source folder: $json"; return 1; }
    cp -r "$dir" "$2"
    chmod -R u+w "$2"
}

build_ocb() {
    GOBIN="$1/bin" go install "${go_build_flags[@]}" -ldflags='-s -w' \
        "go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION"
}

build_otelcol() {
    local work="$1"
    sed -e "s/\${OTELCOL_VERSION}/$OTELCOL_VERSION/g" -e "s/\${OTELCOL_STABLE_VERSION}/$OTELCOL_STABLE_VERSION/g" \
        "$stack_dir/otelcol-builder.yaml" >"$work/builder.yaml"
    # The builder generates main.go/components.go/go.mod in ./src, runs go mod tidy and `go build -trimpath
    # -ldflags='-s -w'` (its defaults).
    "$OCB_DIR/bin/builder" --config="$work/builder.yaml" --skip-strict-versioning=false --verbose
    # All collector modules at one release: anything else means a component dragged in another release.
    local stray
    stray="$(cd "$work/src" && go list -m all \
        | grep -E '^(go\.opentelemetry\.io/collector|github\.com/open-telemetry/opentelemetry-collector-contrib)' \
        | grep -vE " v($OTELCOL_VERSION|$OTELCOL_STABLE_VERSION)\$" || true)"
    if [ -n "$stray" ]; then
        echo "collector modules off release v$OTELCOL_VERSION / v$OTELCOL_STABLE_VERSION:"
        echo "$stray"
        return 1
    fi
    mkdir -p "$work/bin"
    mv "$work/src/otelcol-otelwright" "$work/bin/"
}

build_prometheus() {
    local work="$1"
    module_source "github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION" "$work/src"
    # No -tags builtinassets: the web UI is not embedded (its assets need npm); the HTTP API, /-/ready and the
    # OTLP receiver work, UI pages answer 500.
    local ld="-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION"
    (cd "$work/src" && go build "${go_build_flags[@]}" -tags "$PROMETHEUS_TAGS" -ldflags="$ld" \
        -o "$work/bin/" ./cmd/prometheus ./cmd/promtool)
}

build_alertmanager() {
    local work="$1"
    module_source "github.com/prometheus/alertmanager@v$ALERTMANAGER_VERSION" "$work/src"
    # ui/web.go embeds ui/app/dist, which upstream builds with npm/elm and the module zip does not carry: a
    # placeholder page stands in for the UI (the API and /-/ready do not need it).
    mkdir -p "$work/src/ui/app/dist"
    printf '<!doctype html><title>Alertmanager (built without its UI)</title>\n' >"$work/src/ui/app/dist/index.html"
    local ld="-s -w -X github.com/prometheus/common/version.Version=$ALERTMANAGER_VERSION"
    (cd "$work/src" && go build "${go_build_flags[@]}" -ldflags="$ld" -o "$work/bin/" ./cmd/alertmanager ./cmd/amtool)
}

build_jaeger() {
    local work="$1"
    module_source "github.com/jaegertracing/jaeger@$JAEGER_MODULE_VERSION" "$work/src"
    # The UI is optional: without cmd/query/app/ui/actual/index.html.gz Jaeger serves a placeholder page.
    local ld="-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=v$JAEGER_VERSION"
    (cd "$work/src" && go build "${go_build_flags[@]}" -ldflags="$ld" -o "$work/bin/jaeger" ./cmd/jaeger)
}

say "go $(go env GOVERSION), GOMODCACHE=$(go env GOMODCACHE), GOCACHE=$(go env GOCACHE), tools in $OTELWRIGHT_TOOLS_DIR"
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(otelcol prometheus alertmanager jaeger)
for tool in "${tools[@]}"; do
    case "$tool" in
        otelcol)
            build ocb "$OTELCOL_VERSION" "$OCB_DIR" build_ocb builder
            build otelcol "$OTELCOL_VERSION" "$OTELCOL_DIR" build_otelcol otelcol-otelwright
            ;;
        prometheus) build prometheus "$PROMETHEUS_VERSION" "$PROMETHEUS_DIR" build_prometheus prometheus promtool ;;
        alertmanager) build alertmanager "$ALERTMANAGER_VERSION" "$ALERTMANAGER_DIR" build_alertmanager alertmanager amtool ;;
        jaeger) build jaeger "$JAEGER_VERSION" "$JAEGER_DIR" build_jaeger jaeger ;;
        *) echo "stack build: unknown tool '$tool' (otelcol, prometheus, alertmanager, jaeger)" >&2; exit 2 ;;
    esac
done
say "done"
