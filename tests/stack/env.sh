# Where tests/stack/build.sh puts each tool, derived from versions.env. Sourced by build.sh, validate.sh and
# .ci/run; it only sets variables (nothing is built or checked here).
#
#   OTELWRIGHT_TOOLS_DIR   cache root, default ~/.cache/otelwright-tools; one folder per tool and version
#   OTELWRIGHT_OTELCOL     the collector built from otelcol-builder.yaml (folder keyed by version + manifest hash)
#   PROMETHEUS, PROMTOOL, ALERTMANAGER, AMTOOL, JAEGER   the binaries (PROMTOOL is what the Rust tests run)
# shellcheck shell=bash

stack_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$stack_dir/versions.env"

export OTELWRIGHT_TOOLS_DIR="${OTELWRIGHT_TOOLS_DIR:-$HOME/.cache/otelwright-tools}"

# The collector's folder changes whenever the manifest (its component list) or the pinned release changes.
otelcol_key="$(cat "$stack_dir/otelcol-builder.yaml" "$stack_dir/versions.env" | sha256sum | cut -c1-12)"
OTELCOL_DIR="$OTELWRIGHT_TOOLS_DIR/otelcol-$OTELCOL_VERSION-$otelcol_key"
OCB_DIR="$OTELWRIGHT_TOOLS_DIR/ocb-$OTELCOL_VERSION"
PROMETHEUS_DIR="$OTELWRIGHT_TOOLS_DIR/prometheus-$PROMETHEUS_VERSION-${PROMETHEUS_TAGS//,/-}"
ALERTMANAGER_DIR="$OTELWRIGHT_TOOLS_DIR/alertmanager-$ALERTMANAGER_VERSION"
JAEGER_DIR="$OTELWRIGHT_TOOLS_DIR/jaeger-$JAEGER_VERSION"

export OTELWRIGHT_OTELCOL="$OTELCOL_DIR/bin/otelcol-otelwright"
export PROMETHEUS="$PROMETHEUS_DIR/bin/prometheus"
export PROMTOOL="$PROMETHEUS_DIR/bin/promtool"
export ALERTMANAGER="$ALERTMANAGER_DIR/bin/alertmanager"
export AMTOOL="$ALERTMANAGER_DIR/bin/amtool"
export JAEGER="$JAEGER_DIR/bin/jaeger"
