#!/usr/bin/env bash
# Runs the action benchmarks (`cargo bench --bench actions`, about 30 s) and prints each
# figure beside its target: what a declared action (integrations.yaml) costs over the same
# request sent by hand through the same connection, and what validating an input costs.
#
# Usage: benches/report_actions.sh [criterion args...]
#   SKIP_BENCH=1 benches/report_actions.sh   # reuse the results already in target/criterion
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
if [ -z "${SKIP_BENCH:-}" ]; then
    cargo bench --bench actions -- --noplot "$@" >&2
fi

python3 - "$target_dir/criterion" <<'PY'
import json, os, sys
root = sys.argv[1]

def median(case):
    p = os.path.join(root, "action", case, "new", "estimates.json")
    if not os.path.exists(p):
        sys.exit(f"no criterion results for action/{case}: run without SKIP_BENCH")
    with open(p) as f:
        return json.load(f)["median"]["point_estimate"] / 1e3  # µs

def line(label, value, unit, target, ok):
    verdict = "" if target == "-" else ("met" if ok else "MISSED")
    print(f"{label:<58} {value:8.1f} {unit:<3} target {target:<12} {verdict}")

raw, typed, validate = median("raw_request"), median("typed_action"), median("validate_input")
print("## action (current-thread runtime, loopback; criterion median)")
line("raw request (PATCH, JSON body, JSON answer)", raw, "µs", "-", True)
line("typed action (the same request, declared)", typed, "µs", "-", True)
over = typed - raw
line(f"  over the raw request (+{over / raw * 100:.0f}%)", over, "µs", "<= 10 µs", over <= 10)
per = validate / 50
line("input validated and read (CreateAttendances, per attendance)", per, "µs", "<= 2 µs", per <= 2)
PY
