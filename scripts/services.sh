#!/usr/bin/env bash
# Starts the services the tests need, on loopback, idempotently, as root (or through sudo):
# - PostgreSQL (Debian's package; installed when missing) on 127.0.0.1:5432, trust auth on loopback, role
#   `postgres`, database `test`: the tests' default DATABASE_URL, postgres://postgres@127.0.0.1:5432/test;
# - Redis (Debian's redis-server; installed when missing) on 127.0.0.1:6379: the tests' default REDIS_URL.
# A second run finds both answering and changes nothing. Exits non-zero, saying why, when either cannot be started.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
apt_updated=""
apt_install() {
    if [ -z "$apt_updated" ]; then
        $SUDO apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

start_postgres() {
    if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
        echo "services: installing PostgreSQL"
        apt_install postgresql
    fi
    local version cluster=main
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version $cluster"; then
        $SUDO pg_createcluster "$version" "$cluster" --port 5432 >/dev/null
    fi
    local conf="/etc/postgresql/$version/$cluster"
    # Trust on loopback only; the cluster never listens anywhere else.
    local hba="$conf/pg_hba.conf"
    if ! grep -q '^# otelwright: trust on loopback' "$hba"; then
        local tmp
        tmp=$(mktemp)
        {
            echo '# otelwright: trust on loopback (tests only; see scripts/services.sh)'
            echo 'local   all all                trust'
            echo 'host    all all 127.0.0.1/32   trust'
            echo 'host    all all ::1/128        trust'
            cat "$hba"
        } >"$tmp"
        $SUDO cp "$tmp" "$hba"
        rm -f "$tmp"
        pg_ready && $SUDO pg_ctlcluster "$version" "$cluster" reload
    fi
    $SUDO sed -i -E "s/^#?listen_addresses *=.*/listen_addresses = 'localhost'/; s/^#?port *=.*/port = 5432/" \
        "$conf/postgresql.conf"
    if ! pg_ready; then
        $SUDO pg_ctlcluster "$version" "$cluster" start
        for _ in $(seq 1 50); do pg_ready && break; sleep 0.2; done
    fi
    pg_ready || { echo "services: PostgreSQL did not start; see /var/log/postgresql/" >&2; return 1; }
    if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1; then
        psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE test' >/dev/null
    fi
    echo "services: PostgreSQL $version on 127.0.0.1:5432 (database test, trust auth on loopback)"
}

redis_ready() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

start_redis() {
    if ! command -v redis-server >/dev/null 2>&1; then
        echo "services: installing Redis"
        apt_install redis-server redis-tools
    fi
    if ! redis_ready; then
        # No init system in containers: run it as a daemon ourselves, on loopback, without persistence.
        $SUDO redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no \
            --logfile /tmp/otelwright-redis.log --dir /tmp >/dev/null
        for _ in $(seq 1 50); do redis_ready && break; sleep 0.1; done
    fi
    redis_ready || { echo "services: Redis did not start; see /tmp/otelwright-redis.log" >&2; return 1; }
    echo "services: Redis $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/') on 127.0.0.1:6379"
}

start_postgres
start_redis
