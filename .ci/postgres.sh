#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the store's tests: initialised in a temporary directory
# as the `postgres` user, listening on 127.0.0.1 only, on a free port.
#
#   eval "$(.ci/postgres.sh start)"   # prints `export TERAPI_TEST_POSTGRES_URL=... PG_TEST_DIR=...`
#   .ci/postgres.sh stop "$PG_TEST_DIR"
#
# Needs Debian's `postgresql` package (`.ci/run` installs it). Runs as root (it switches to
# `postgres` for the server) or as any user that may run initdb itself.
set -euo pipefail

bindir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ]; then
            echo "$d"
            return
        fi
    done
    command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)" && return
    echo "postgres.sh: no initdb found (install Debian's postgresql package)" >&2
    exit 1
}

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        # runuser keeps no tty and needs no password; `su` is the fallback.
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

free_port() {
    python3 - 2>/dev/null <<'PY' || echo 55432
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
}

case "${1:-}" in
start)
    bin="$(bindir)"
    dir="$(mktemp -d /tmp/terapi-pg.XXXXXX)"
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    port="$(free_port)"
    as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    # Loopback only; the socket in the cluster's own directory (not /var/run/postgresql).
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200 -c fsync=off" \
        start >"$dir/pg_ctl.log" 2>&1 || {
        cat "$dir/pg_ctl.log" "$dir/server.log" >&2
        exit 1
    }
    "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt -c "CREATE DATABASE terapi_test" >/dev/null
    echo "export PG_TEST_DIR=$dir PG_TEST_BIN=$bin"
    echo "export TERAPI_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/terapi_test"
    ;;
stop)
    dir="${2:?usage: postgres.sh stop DIR}"
    bin="$(bindir)"
    if [ -d "$dir/data" ]; then
        as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: postgres.sh start | stop DIR" >&2
    exit 2
    ;;
esac
