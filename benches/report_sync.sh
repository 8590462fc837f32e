#!/usr/bin/env bash
# Runs the sync benchmarks (`cargo bench --bench sync`, about 2-3 minutes with PostgreSQL,
# then the webhook receiver's latency mode and the memory mode, about 30 s together) and
# prints each figure beside its target. PostgreSQL cases need TERAPI_TEST_POSTGRES_URL
# (`eval "$(.ci/postgres.sh start)"`).
#
# Usage: benches/report_sync.sh [criterion args...]
#   SKIP_BENCH=1 benches/report_sync.sh   # reuse the results already in target/criterion
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
if [ -z "${SKIP_BENCH:-}" ]; then
    cargo bench --bench sync -- --noplot "$@" >&2
fi
modes=$(mktemp)
log=$(mktemp)
trap 'rm -f "$modes" "$log"' EXIT
for mode in TERAPI_BENCH_WEBHOOKS TERAPI_BENCH_MEMORY; do
    env "$mode=1" cargo bench --bench sync >>"$modes" 2>"$log" || {
        cat "$log" >&2
        echo "report_sync.sh: $mode=1 failed" >&2
        exit 1
    }
done

python3 - "$target_dir/criterion" "$modes" <<'PY'
import json, os, sys
root = sys.argv[1]
RECORDS = 5000
figures = {}
for line in open(sys.argv[2]):
    if "=" in line and line.split(".", 1)[0] in ("webhooks", "memory"):
        k, _, v = line.strip().partition("=")
        figures[k] = float(v)

def median(group, case):
    p = os.path.join(root, group, case, "new", "estimates.json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)["median"]["point_estimate"]  # ns

print(f"## sync_records (full sync of {RECORDS:,} employees, 50 pages of 100; criterion median)")
base = median("sync_records", "fetch_only")
if base is None:
    sys.exit("no criterion results for sync_records/fetch_only")
print(f"{'fetch_only':<20} {base / 1e6:8.1f} ms  {RECORDS / (base / 1e9):>9,.0f} records/s")
for db in ("sqlite", "postgres"):
    for case in ("first", "unchanged"):
        name = f"{db}_{case}"
        m = median("sync_records", name)
        if m is None:
            print(f"{name:<20} not run")
            continue
        ratio = m / base
        verdict = "met" if ratio <= 2 else "MISSED"
        print(f"{name:<20} {m / 1e6:8.1f} ms  {RECORDS / (m / 1e9):>9,.0f} records/s"
              f"  x{ratio:.2f} of fetch_only  target <= x2  ratio {ratio / 2:.2f}  {verdict}")

print("\n## webhooks (30 rounds x 100 concurrent deliveries, latency until the 202)")
for db in ("sqlite", "postgres"):
    p50 = figures.get(f"webhooks.{db}.p50_ms")
    if p50 is None:
        print(f"{db:<9} not run")
        continue
    p99 = figures[f"webhooks.{db}.p99_ms"]
    mx = figures.get(f"webhooks.{db}.max_ms", float("nan"))
    rate = figures.get(f"webhooks.{db}.per_s", float("nan"))
    verdict = "met" if p99 <= 50 else "MISSED"
    print(f"{db:<9} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  max {mx:6.1f} ms  {rate:,.0f} deliveries/s"
          f"  target p99 <= 50 ms  ratio {p99 / 50:.2f}  {verdict}")

print("\n## memory (full sync of 100,000 employees into SQLite; RSS after the page)")
at10 = figures.get("memory.rss_mb_at_10k")
if at10 is None:
    print("not run")
else:
    for k in ("before", "at_10k", "at_50k", "at_100k", "max"):
        v = figures.get(f"memory.rss_mb_{k}")
        if v is not None:
            print(f"rss {k:<8} {v:7.1f} MB")
    growth = figures["memory.growth_10k_to_100k_mb"]
    limit = max(0.10 * at10, 5.0)
    verdict = "met" if growth <= limit else "MISSED"
    print(f"growth 10k -> 100k {growth:+.1f} MB  target <= {limit:.1f} MB"
          f" (10% of the RSS at 10k, at least 5 MB)  ratio {max(growth, 0) / limit:.2f}  {verdict}")
    rate = figures.get("memory.records_per_s")
    if rate:
        print(f"({rate:,.0f} records/s over the 100,000-record sync, no target)")
PY
