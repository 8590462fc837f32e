#!/usr/bin/env bash
# Runs the server benchmarks (`cargo bench -p terapi-server --bench server`, about 40 s, then
# its interleaved comparison, about 20 s), the outbox's throughput (`--bench outbox`, SQLite,
# and PostgreSQL when TERAPI_TEST_POSTGRES_URL is set) and the memory of a `terapi serve`
# process (report_memory.sh), and prints the figures of BENCHMARKS.md, each beside its target.
#
# Usage: server/benches/report_server.sh [criterion args...]
#   SKIP_BENCH=1 server/benches/report_server.sh    # no criterion run (the rest as usual)
#   SKIP_OUTBOX=1 SKIP_MEMORY=1 ...                 # without those parts
set -euo pipefail
cd "$(dirname "$0")/../.."

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
if [ -z "${SKIP_BENCH:-}" ]; then
    cargo bench -p terapi-server --bench server -- --noplot "$@" >&2
fi
interleaved=$(mktemp)
outbox=$(mktemp)
trap 'rm -f "$interleaved" "$outbox"' EXIT
TERAPI_BENCH_INTERLEAVED=1 cargo bench -p terapi-server --bench server >"$interleaved" 2>/dev/null
if [ -z "${SKIP_OUTBOX:-}" ]; then
    cargo bench -p terapi-server --bench outbox >"$outbox"
fi

python3 - "$target_dir/criterion" "$interleaved" "$outbox" <<'PY'
import json, os, sys
root = sys.argv[1]
inter = {}
for line in open(sys.argv[2]):
    if line.startswith("interleaved.") and "=" in line:
        k, _, v = line.strip().partition("=")
        inter[k] = float(v)

def median(case):
    p = os.path.join(root, "server", case, "new", "estimates.json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)["median"]["point_estimate"]  # ns

def us(ns):
    return f"{ns / 1000:.1f} µs"

print("## proxy (criterion medians)")
for path in ("ping", "me"):
    d, p = median(f"direct_{path}"), median(f"proxied_{path}")
    if d is None or p is None:
        print(f"{path:<5} not run")
        continue
    print(f"{path:<5} direct {us(d)}  proxied {us(p)}  overhead {us(p - d)} ({(p / d - 1) * 100:+.1f}%)")

print("\n## proxy, interleaved (p50 and p99 of single requests)")
for path in ("ping", "me"):
    d50, p50 = inter.get(f"interleaved.direct_{path}.p50"), inter.get(f"interleaved.proxied_{path}.p50")
    d99, p99 = inter.get(f"interleaved.direct_{path}.p99"), inter.get(f"interleaved.proxied_{path}.p99")
    if None in (d50, p50, d99, p99):
        continue
    over50 = (p50 / d50 - 1) * 100
    over99 = (p99 / d99 - 1) * 100
    print(f"{path:<5} p50 direct {us(d50)} proxied {us(p50)} overhead {over50:+.1f}%  target <= 10%  ratio {max(over50, 0) / 10:.2f}")
    print(f"{path:<5} p99 direct {us(d99)} proxied {us(p99)} overhead {over99:+.1f}%")

print("\n## GET /connections/{id}?include_credentials=true, fresh token, SQLite")
m = median("connection_read")
if m is not None:
    print(f"criterion median {us(m)}")
r50 = inter.get("interleaved.connection_read.p50")
r99 = inter.get("interleaved.connection_read.p99")
if r50 is not None:
    print(f"p50 {us(r50)}  target <= 2 ms  ratio {r50 / 2e6:.2f}   p99 {us(r99)}")

outbox = {}
for line in open(sys.argv[3]):
    if line.startswith("outbox.") and "=" in line:
        k, _, v = line.strip().partition("=")
        outbox[k] = float(v)
if outbox:
    print("\n## outgoing webhooks through the outbox: enqueue one by one, one deliverer (batches of 64), HMAC checked")
    for store in ("sqlite", "postgres"):
        n = outbox.get(f"outbox.{store}.n")
        if n is None:
            print(f"{store:<8} not run")
            continue
        e, d = outbox[f"outbox.{store}.enqueue_per_s"], outbox[f"outbox.{store}.deliveries_per_s"]
        print(f"{store:<8} {n:.0f} events  enqueue {e:,.0f}/s  deliveries {d:,.0f}/s  (no target; recorded)")
PY
if [ -z "${SKIP_MEMORY:-}" ]; then
    echo
    server/benches/report_memory.sh
fi
