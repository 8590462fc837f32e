#!/usr/bin/env bash
# Runs the store benchmarks (`cargo bench --bench store`, about 90 s, then its interleaved
# request comparison, about 10 s) and prints the figures
# of BENCHMARKS.md, each beside its target where the issue sets one. PostgreSQL cases need
# TERAPI_TEST_POSTGRES_URL (`eval "$(.ci/postgres.sh start)"`).
#
# Usage: benches/report_store.sh [criterion args...]
#   SKIP_BENCH=1 benches/report_store.sh   # reuse the results already in target/criterion
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
if [ -z "${SKIP_BENCH:-}" ]; then
    cargo bench --bench store -- --noplot "$@" >&2
fi
interleaved=$(mktemp)
trap 'rm -f "$interleaved"' EXIT
TERAPI_BENCH_INTERLEAVED=1 cargo bench --bench store >"$interleaved" 2>/dev/null

python3 - "$target_dir/criterion" "$interleaved" <<'PY'
import json, os, sys
root = sys.argv[1]
inter = {}
for line in open(sys.argv[2]):
    if line.startswith("interleaved.") and "=" in line:
        k, _, v = line.strip().partition("=")
        inter[k] = float(v)

def median(group, case):
    p = os.path.join(root, group, case, "new", "estimates.json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)["median"]["point_estimate"]  # ns

def us(ns):
    return f"{ns / 1000:.1f} µs"

print("## store_request (GET through a connection with a fresh token; median)")
base = median("store_request", "in_memory")
print(f"in_memory        {us(base)}")
for db in ("sqlite", "postgres"):
    m = median("store_request", f"stored_{db}")
    if m is None:
        print(f"stored_{db:<9} not run")
        continue
    over = (m / base - 1) * 100
    print(f"stored_{db:<9} {us(m)}  overhead {over:+.1f}% (criterion medians, one case after another)")

print("\n## store_request, interleaved (40 rounds x 250 requests per case, p50 of single requests)")
base = inter.get("interleaved.in_memory.p50")
if base:
    print(f"in_memory        {us(base)}")
for db in ("sqlite", "postgres"):
    p = inter.get(f"interleaved.stored_{db}.p50")
    if p is None:
        continue
    over = inter[f"interleaved.stored_{db}.overhead_pct"]
    print(f"stored_{db:<9} {us(p)}  overhead {over:+.1f}%  target <= 5%  ratio {max(over, 0) / 5:.2f}")

print("\n## store_ops (one OAuth connection; median per operation, throughput)")
for db in ("sqlite", "postgres"):
    for op in ("save", "load"):
        m = median("store_ops", f"{op}_{db}")
        if m is None:
            continue
        print(f"{op}_{db:<9} {us(m):>10}  {1e9 / m:,.0f} per second (no target)")

print("\n## store_refresh (8 store handles, one expired token, all answered; median)")
for db in ("sqlite", "postgres"):
    m = median("store_refresh", f"8_handles_{db}")
    if m is not None:
        print(f"8_handles_{db:<9} {m / 1e6:.1f} ms (no target; one refresh each time)")
PY
