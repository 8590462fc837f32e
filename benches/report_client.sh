#!/usr/bin/env bash
# Runs the client benchmarks and prints the tables of BENCHMARKS.md:
#
#   1. `cargo bench --bench client -- --noplot` (criterion; about 100 s on 2 cores), then
#      each case's median from target/criterion/<group>/<case>/new/estimates.json and the
#      overhead of each client case over `plain_reqwest` (ratio of the medians);
#   2. `TERAPI_BENCH_INTERLEAVED=1 cargo bench --bench client` (about 10 s): single-request
#      percentiles and overheads, the cases interleaved;
#   3. `cargo bench --bench client_allocs` (dhat, about 1 s): heap allocations per call.
#
# Usage: benches/report_client.sh [criterion args...]
#   SKIP_BENCH=1 benches/report_client.sh   # reuse the criterion results already in target/
# Extra arguments go to criterion (e.g. a filter such as `client_render`).
set -euo pipefail

cd "$(dirname "$0")/.."

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
criterion_dir="$target_dir/criterion"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -z "${SKIP_BENCH:-}" ]; then
    echo "== cargo bench --bench client -- --noplot $*" >&2
    cargo bench --bench client -- --noplot "$@" >&2
fi
echo "== TERAPI_BENCH_INTERLEAVED=1 cargo bench --bench client" >&2
TERAPI_BENCH_INTERLEAVED=1 cargo bench --bench client >"$work/interleaved.txt"
echo "== cargo bench --bench client_allocs" >&2
cargo bench --bench client_allocs >"$work/allocs.txt"

python3 - "$criterion_dir" "$work/interleaved.txt" "$work/allocs.txt" <<'PY'
import json
import os
import sys

criterion_dir, interleaved_path, allocs_path = sys.argv[1:4]
TARGET_PCT = 5.0


def key_values(path):
    values = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                key, _, value = line.partition("=")
                try:
                    values[key] = float(value)
                except ValueError:
                    pass
    return values


def estimates(group, name):
    path = os.path.join(criterion_dir, group, name, "new", "estimates.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def ns(value):
    if value is None:
        return "-"
    if value >= 10_000:
        return f"{value / 1000:,.1f} µs"
    return f"{value:,.0f} ns"


def pct(value):
    return "-" if value is None else f"{value:+.1f}%"


verdicts = []

print()
print("## Criterion (median of the samples' mean time per iteration)")
for group, cases in [
    ("client_request", ["plain_reqwest", "plain_reqwest_bare", "client_api_key", "client_oauth_cached"]),
    ("client_request_current_thread", ["plain_reqwest", "client_api_key", "client_oauth_cached"]),
]:
    medians = {}
    print()
    print(f"### {group}")
    print()
    print("| case | median | 95% CI of the median | mean | overhead vs plain_reqwest (medians) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for case in cases:
        e = estimates(group, case)
        if e is None:
            print(f"| {case} | (no result) | | | |")
            continue
        median = e["median"]["point_estimate"]
        medians[case] = median
        ci = e["median"]["confidence_interval"]
        base = medians.get("plain_reqwest")
        overhead = None if case == "plain_reqwest" or base is None else (median / base - 1) * 100
        print(
            f"| {case} | {ns(median)} | {ns(ci['lower_bound'])} – {ns(ci['upper_bound'])} "
            f"| {ns(e['mean']['point_estimate'])} | {pct(overhead)} |"
        )
        if group == "client_request" and case.startswith("client_") and overhead is not None:
            verdicts.append((f"criterion {case}", overhead))

print()
print("### client_render")
print()
print("| function | median | 95% CI of the median |")
print("| --- | ---: | ---: |")
for name in [
    "config_from_json",
    "config_validate_json",
    "credentials_from_json",
    "credentials_validate_json",
    "proxy_headers",
    "proxy_headers_with_context",
    "render_context_new",
    "connection_from_json",
]:
    e = estimates("client_render", name)
    if e is None:
        print(f"| {name} | (no result) | |")
        continue
    ci = e["median"]["confidence_interval"]
    print(f"| {name} | {ns(e['median']['point_estimate'])} | {ns(ci['lower_bound'])} – {ns(ci['upper_bound'])} |")

inter = key_values(interleaved_path)
for prefix, cases in [
    ("interleaved", ["plain_reqwest", "plain_reqwest_bare", "client_api_key", "client_oauth_cached"]),
    ("interleaved_current_thread", ["plain_reqwest", "client_api_key", "client_oauth_cached"]),
]:
    rounds = inter.get(f"{prefix}.rounds")
    batch = inter.get(f"{prefix}.batch")
    if rounds is None:
        continue
    print()
    print(f"## {prefix} ({rounds:.0f} rounds × {batch:.0f} requests per case, single requests timed)")
    print()
    print("| case | p50 | p90 | p99 | overhead at p50 | per-round overhead, median [p10, p90] | process CPU per request |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for case in cases:
        k = f"{prefix}.{case}."
        if k + "p50_ns" not in inter:
            continue
        over = inter.get(k + "overhead_p50_pct")
        rounds_text = "-"
        if k + "overhead_round_median_pct" in inter:
            rounds_text = (
                f"{inter[k + 'overhead_round_median_pct']:+.1f}% "
                f"[{inter[k + 'overhead_round_p10_pct']:+.1f}%, {inter[k + 'overhead_round_p90_pct']:+.1f}%]"
            )
        print(
            f"| {case} | {ns(inter[k + 'p50_ns'])} | {ns(inter[k + 'p90_ns'])} | {ns(inter[k + 'p99_ns'])} "
            f"| {pct(over)} | {rounds_text} | {ns(inter.get(k + 'process_cpu_ns_per_request'))} |"
        )
        if prefix == "interleaved" and case.startswith("client_") and over is not None:
            verdicts.append((f"interleaved {case}", over))

allocs = key_values(allocs_path)
print()
print("## Heap allocations (dhat; per call after a warm-up, averaged)")
print()
print("| what | allocations | bytes |")
print("| --- | ---: | ---: |")
names = []
for key in allocs:
    if key.startswith("allocs.") and key.endswith(".blocks"):
        names.append(key[len("allocs."):-len(".blocks")])
for name in names:
    blocks = allocs[f"allocs.{name}.blocks"]
    size = allocs.get(f"allocs.{name}.bytes", 0.0)
    print(f"| {name} | {blocks:g} | {size:g} |")

print()
print("## Against the targets")
print()
for what, overhead in verdicts:
    state = "met" if overhead <= TARGET_PCT else "NOT met"
    print(f"- per-request overhead at p50, {what}: {overhead:+.1f}% (target ≤ {TARGET_PCT:g}%): {state}")
validation = [n for n in names if n.endswith("validate_json")]
if validation:
    total = sum(allocs[f"allocs.{n}.blocks"] for n in validation)
    state = "met" if total == 0 else "NOT met"
    listed = ", ".join(f"{n} {allocs[f'allocs.{n}.blocks']:g}" for n in validation)
    print(f"- no heap allocation on the validation happy path ({listed}): {state}")
else:
    print("- no heap allocation on the validation happy path: no validate_json figure (not measured)")
PY
