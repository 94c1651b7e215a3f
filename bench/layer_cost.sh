#!/usr/bin/env bash
# Instructions per request of each server-layer variant, counted by callgrind (deterministic: the machine's load
# does not move it). Per request = (instructions for N2 requests - for N1) / (N2 - N1), which cancels set-up.
# Usage: bench/layer_cost.sh [N1 N2]      Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
n1=${1:-200}; n2=${2:-1200}
cargo build -q --release -p otelwright-http --example layer_cost
bin=${CARGO_TARGET_DIR:-target}/release/examples/layer_cost
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
bare=""
printf '%-26s %14s %12s\n' variant instr/request "vs bare"
for v in bare otelwright contrib otelwright_span_only axum_tracing_otel otelwright_metrics_only otelwright_no_headers otelwright_off; do
  a=$(count "$v" "$n1"); b=$(count "$v" "$n2")
  per=$(( (b - a) / (n2 - n1) ))
  [ -z "$bare" ] && bare=$per
  printf '%-26s %14d %+12d\n' "$v" "$per" "$((per - bare))"
done
