#!/usr/bin/env bash
# Checks collector-config/ with the real tools tests/stack/build.sh built (run that first):
#   - `otelcol validate` on every collector config combination users run: the gateway alone and the agent. This
#     resolves and merges the config, runs every component's config validation and creates every pipeline
#     component (ports are not bound), so an unknown component type or key fails here.
#   - promtool (Prometheus 3): `check config` on prometheus.yml as shipped (its otlp: block included; it also
#     loads the rule files), `check rules`, and `test rules` on the promtool unit tests.
#   - amtool `check-config` on collector-config/alertmanager/alertmanager.yml and its templates, and the routing
#     tree's unit tests in collector-config/alertmanager/routes.test (`amtool config routes test`).
# The gateway + aws.yaml overlay is NOT validated: the AWS exporters cannot be built from the module proxy (see
# otelcol-builder.yaml); this prints that instead of passing silently.
# Prints one line per check and "N passed, N failed"; exits non-zero when any check failed.
#
# Usage: tests/stack/validate.sh
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
repo="$(cd "$stack_dir/../.." && pwd)"
cfg="$repo/collector-config"

for bin in "$OTELWRIGHT_OTELCOL" "$PROMTOOL"; do
    [ -x "$bin" ] || { echo "validate.sh: $bin is missing: run tests/stack/build.sh first" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
# check NAME COMMAND...: runs the command, prints its output only when it fails.
check() {
    local name="$1"; shift
    if "$@" >"$work/out" 2>&1; then
        passed=$((passed + 1))
        echo "ok      $name"
    else
        failed=$((failed + 1))
        echo "FAILED  $name: $*"
        sed 's/^/        /' "$work/out"
    fi
}

# The configs' ${env:...} defaults name compose hosts (tempo, prometheus, loki, otel-gateways) and a queue folder
# under /var/lib: point them at loopback and a scratch folder, as a test or a developer running outside compose does.
export OTELCOL_QUEUE_DIR="$work/otelcol-queue"
export OTELCOL_TEMPO_ENDPOINT=127.0.0.1:4317
export OTELCOL_PROMETHEUS_OTLP_ENDPOINT=http://127.0.0.1:9090/api/v1/otlp
export OTELCOL_LOKI_OTLP_ENDPOINT=http://127.0.0.1:3100/otlp
export OTELCOL_GATEWAY_DNS=localhost
export OTELCOL_GATEWAY_ENDPOINT=127.0.0.1:4317

check "otelcol validate: gateway (otel-collector.yaml)" \
    "$OTELWRIGHT_OTELCOL" validate --config="$cfg/otel-collector.yaml"
check "otelcol validate: agent (agent.yaml)" \
    "$OTELWRIGHT_OTELCOL" validate --config="$cfg/agent.yaml"
echo "skipped otelcol validate: gateway + aws.yaml: awsemf, awsxray and awscloudwatchlogs cannot be built from the module proxy (tests/stack/otelcol-builder.yaml)"

check "promtool check config: prometheus.yml (otlp block and rule files included)" \
    "$PROMTOOL" check config "$cfg/prometheus/prometheus.yml"
check "promtool check rules: prometheus/rules/*.yml" \
    "$PROMTOOL" check rules "$cfg"/prometheus/rules/*.yml
check "promtool test rules: prometheus/tests/*.test.yml" \
    "$PROMTOOL" test rules "$cfg"/prometheus/tests/*.test.yml

[ -x "$AMTOOL" ] || { echo "validate.sh: $AMTOOL is missing: run tests/stack/build.sh first" >&2; exit 1; }
am="$cfg/alertmanager/alertmanager.yml"
# check-config also parses the notification templates the config names (templates/*.tmpl).
check "amtool check-config: alertmanager/alertmanager.yml (templates included)" "$AMTOOL" check-config "$am"
# The routing tree's unit tests: "<receivers> <label=value>..." per line of routes.test. --verify.receivers makes
# amtool exit non-zero when the labels reach any other receivers.
routes=0
while read -r receivers labels; do
    case "$receivers" in '' | '#'*) continue ;; esac
    routes=$((routes + 1))
    # shellcheck disable=SC2086 # the labels are separate arguments
    check "amtool config routes test: $labels -> $receivers" \
        "$AMTOOL" config routes test --config.file="$am" --verify.receivers="$receivers" $labels
done <"$cfg/alertmanager/routes.test"
[ "$routes" -gt 0 ] || { failed=$((failed + 1)); echo "FAILED  alertmanager/routes.test has no test"; }

echo "stack validate: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
