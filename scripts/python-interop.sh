#!/usr/bin/env bash
# The Python virtual environment of the cross-SDK interop test (tests/tests/interop_python.rs): the OpenTelemetry
# Python SDK, its OTLP/HTTP exporter and opentelemetry-proto, at the versions pinned in
# tests/interop/requirements.txt. Idempotent: an environment already built from the same requirements is kept.
#
#   bash scripts/python-interop.sh          # creates or updates it, prints its path
#
# Where: $OTELWRIGHT_PYVENV, else target/python-interop/venv in the repository (the test looks in the same place).
# Which Python: $PYTHON, else python3 (3.9 or newer).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${OTELWRIGHT_PYVENV:-$PWD/target/python-interop/venv}"
requirements=tests/interop/requirements.txt
python="${PYTHON:-python3}"
stamp="$venv/.otelwright-requirements"

if ! command -v "$python" >/dev/null 2>&1; then
    echo "python-interop: $python not found (install Python 3, or set PYTHON)" >&2
    exit 1
fi
want="$(sha256sum "$requirements" | cut -d' ' -f1) $("$python" -c 'import sys; print(sys.version.split()[0])')"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "python-interop: up to date: $venv"
    exit 0
fi

echo "python-interop: building $venv"
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -r "$requirements"
# The modules the test's scripts import, so that a broken install fails here and not in the middle of the test.
"$venv/bin/python" -c 'import opentelemetry.sdk.trace, opentelemetry.exporter.otlp.proto.http.trace_exporter, opentelemetry.proto.collector.trace.v1.trace_service_pb2'
echo "$want" >"$stamp"
echo "python-interop: ready: $venv"
