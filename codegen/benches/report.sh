#!/usr/bin/env bash
# Benchmark report of terapi-codegen on the real catalog; see codegen/BENCHMARKS.md.
#
#   codegen/benches/report.sh
#
# 1. `cargo bench --bench pipeline` (criterion) and a table of each stage's mean time, the
#    ratios to the serde_yaml floor and the scaling 10% -> 50% -> 100% of the providers;
# 2. `cargo bench --bench memory` (dhat): peak heap of the pipeline against the file size;
# 3. the `cargo check` time of generated code, in a temporary crate that depends on
#    terapi-runtime by path: the full corpus (with `--invalid-providers skip`, as its users
#    generate it), and the two-provider selection of the repository's providers.yaml.
#    Dependencies are built by a first `cargo check` in a dedicated CARGO_TARGET_DIR; the
#    figure is a second `cargo check` after touching src/lib.rs: the generated code alone
#    (CARGO_INCREMENTAL=0, so nothing of it is reused; an incremental re-check is shown too).
#
# Environment: SKIP_BENCH=1 reuses the criterion results already in target/criterion;
# Needs cargo and python3. Exits 0 with a message when the corpus is missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
crate="$(dirname "$here")"
root="$(dirname "$crate")"
corpus="$(cd "$crate" && realpath -m ../../shared/corpus/providers-2026-08-21.yaml)"
small="$root/providers.yaml"
small_selection="personio,personio-recruiting"

if [[ ! -r "$corpus" ]]; then
    echo "report skipped: the corpus $corpus cannot be read; put the catalog there to run it."
    exit 0
fi

cd "$root"
work="$(mktemp -d "${TMPDIR:-/tmp}/terapi-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
target_dir="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"

section() { printf '\n==> %s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# ---------------------------------------------------------------------------------------------
# 1. Criterion.
started="$(date +%s)"
bench_seconds="(not run: SKIP_BENCH=1)"
if [[ "${SKIP_BENCH:-}" != 1 ]]; then
    section "cargo bench -p terapi-codegen --bench pipeline (about 2 minutes)"
    if ! cargo bench -q -p terapi-codegen --bench pipeline --no-run; then # compiling is not timed
        echo "report: the pipeline bench does not build (is the tree mid-change?); retry later." >&2
        exit 1
    fi
    t_bench="$(now)"
    cargo bench -p terapi-codegen --bench pipeline 2>&1 | tee "$work/pipeline.log" >&2
    bench_seconds="$(elapsed "$t_bench" "$(now)")"
    # The bench prints one line of sizes per group; keep them for the table.
    grep -E '^pipeline_[0-9]+pct: providers=' "$work/pipeline.log" >"$work/groups.txt" || true
else
    started=0
    : >"$work/groups.txt"
fi

timing_table="$(python3 - "$target_dir/criterion" "$work/groups.txt" "$started" <<'PY'
import json, os, sys

base, groups_file, started = sys.argv[1], sys.argv[2], float(sys.argv[3])
stages = ["floor/serde_yaml_value", "parse", "read", "check", "emit_tokens", "format", "pipeline", "pipeline_out_dir", "load"]
sizes = [10, 50, 100]

extra = {}
for line in open(groups_file):
    name, _, rest = line.strip().partition(": ")
    extra[name] = dict(kv.split("=", 1) for kv in rest.split())

mean, providers, stale = {}, {}, []
for size in sizes:
    group = f"pipeline_{size}pct"
    gdir = os.path.join(base, group)
    if not os.path.isdir(gdir):
        continue
    for fdir in os.listdir(gdir):
        new = os.path.join(gdir, fdir, "new")
        try:
            meta = json.load(open(os.path.join(new, "benchmark.json")))
            est = json.load(open(os.path.join(new, "estimates.json")))
        except (OSError, ValueError):
            continue
        fid = meta["function_id"]
        mean[(size, fid)] = est["mean"]["point_estimate"]  # ns
        providers[size] = (meta.get("throughput") or {}).get("Elements")
        if os.path.getmtime(os.path.join(new, "estimates.json")) < started:
            stale.append(f"{group}/{fid}")

if not mean:
    print("no criterion results found under", base)
    sys.exit(0)

def ms(ns):
    return f"{ns / 1e6:9.2f}"

out = []
out.append("Mean time per run (ms); 'passing' = providers that pass the checks, which emit/format/pipeline emit")
head = f"{'stage':<24}" + "".join(f"{str(s) + '%':>11}" for s in sizes) + f"{'x floor':>10}{'% of pipe':>11}"
out.append(head)
out.append("-" * len(head))
floor = mean.get((100, "floor/serde_yaml_value"))
pipe = mean.get((100, "pipeline"))
for st in stages:
    row = f"{st:<24}"
    for s in sizes:
        v = mean.get((s, st))
        row += f"{ms(v) if v is not None else '-':>11}"
    v = mean.get((100, st))
    row += f"{v / floor:>9.1f}x" if v and floor else f"{'-':>10}"
    row += f"{100 * v / pipe:>10.1f}%" if v and pipe and st != "pipeline" else f"{'':>11}"
    out.append(row)
parts = [mean.get((100, s)) for s in ["parse", "read", "check", "emit_tokens", "format"]]
if all(parts) and pipe:
    out.append(f"{'sum of stages (100%)':<24}{'':>22}{ms(sum(parts)):>11}"
               f"{sum(parts) / floor:>9.1f}x{100 * sum(parts) / pipe:>10.1f}%")
out.append("")
for s in sizes:
    e = extra.get(f"pipeline_{s}pct", {})
    out.append(f"{s:>3}%: {providers.get(s)} providers ({e.get('pass_check', '?')} passing), "
               f"{e.get('yaml_bytes', '?')} bytes of YAML -> {e.get('rust_bytes', '?')} bytes of Rust")
out.append("")
out.append("Ratios to the serde_yaml::Value floor, each beside its target")
for stage, label, target in [
    ("pipeline", "generate, formatted (CLI, committed copy)", 6),
    ("pipeline_out_dir", "generate for OUT_DIR (Builder, not laid out)", 3),
    ("load", "load at run time", 3),
]:
    for s in sizes:
        f, v = mean.get((s, "floor/serde_yaml_value")), mean.get((s, stage))
        if f and v:
            verdict = "meets" if v / f <= target else "misses"
            out.append(f"  {label} / floor at {s:>3}%: {v / f:6.1f}x ({verdict} the {target}x target)")
out.append("")
out.append("Scaling: microseconds per provider of the catalog (flat = linear)")
head = f"{'stage':<24}" + "".join(f"{str(s) + '%':>11}" for s in sizes) + f"{'100%/10%':>10}"
out.append(head)
out.append("-" * len(head))
for st in stages:
    row = f"{st:<24}"
    per = {}
    for s in sizes:
        v, n = mean.get((s, st)), providers.get(s)
        if v and n:
            per[s] = v / n / 1e3
            row += f"{per[s]:>11.1f}"
        else:
            row += f"{'-':>11}"
    row += f"{per[100] / per[10]:>9.2f}x" if 10 in per and 100 in per else ""
    out.append(row)
if stale:
    out.append("")
    out.append("warning: results older than this run (the bench did not rerun them): " + ", ".join(stale))
print("\n".join(out))
PY
)"

# ---------------------------------------------------------------------------------------------
# 2. dhat.
section "cargo bench -p terapi-codegen --bench memory"
cargo bench -p terapi-codegen --bench memory >"$work/memory.log" 2>"$work/memory.err" ||
    { echo "memory bench failed:"; tail -20 "$work/memory.err"; } >"$work/memory.log"
memory_table="$(python3 - "$work/memory.log" <<'PY'
import sys
vals = {}
for line in open(sys.argv[1]):
    k, sep, v = line.strip().partition("=")
    if sep:
        vals[k] = v
if "peak_heap_bytes" not in vals:
    print(open(sys.argv[1]).read().strip() or "no memory figures")
    sys.exit(0)
mib = lambda k: f"{int(vals[k]) / 2**20:8.1f} MiB"
print(f"pipeline (full corpus, {vals.get('providers_passing_check')} passing providers emitted):")
print(f"  peak_heap_bytes={vals['peak_heap_bytes']} ({mib('peak_heap_bytes').strip()}), "
      f"file_bytes={vals['file_bytes']}, ratio={vals['ratio']}x, "
      f"allocations={vals.get('total_allocations')}")
verdict = "meets" if float(vals['ratio']) <= 10 else "misses"
print(f"  peak heap / file size: {float(vals['ratio']):.1f}x ({verdict} the 10x target)")
for st in ["parse", "read", "check", "emit_tokens", "format"]:
    a, p = f"live_bytes_after_{st}", f"peak_bytes_through_{st}"
    if a in vals:
        print(f"  after {st:<12} live {mib(a)}   peak so far {mib(p)}")
print("serde_yaml::Value (reference):")
print(f"  peak_heap_bytes={vals.get('serde_yaml_value.peak_heap_bytes')}, "
      f"file_bytes={vals.get('serde_yaml_value.file_bytes')}, "
      f"ratio={vals.get('serde_yaml_value.ratio')}x, "
      f"allocations={vals.get('serde_yaml_value.total_allocations')}")
PY
)"

# ---------------------------------------------------------------------------------------------
# 3. cargo check of generated code.
section "building the terapi CLI (release)"
if ! cargo build -q --release -p terapi-cli; then
    echo "report: terapi-cli does not build (is the tree mid-change?); retry later." >&2
    exit 1
fi
cli=(cargo run -q --release -p terapi-cli --)
check_target="$work/target" # the temporary crates' own target dir, shared by them

# make_crate DIR: a crate whose lib.rs includes src/providers.rs, on terapi-runtime by path.
make_crate() {
    mkdir -p "$1/src"
    cat >"$1/Cargo.toml" <<EOF
[package]
name = "terapi-bench-$(basename "$1")"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
terapi-runtime = { path = "$root/runtime" }

[workspace]
EOF
    printf '//! Generated code under test.\ninclude!("providers.rs");\n' >"$1/src/lib.rs"
    cp "$root/Cargo.lock" "$1/Cargo.lock" # the workspace's versions, no resolution
}

# run_check DIR INCREMENTAL: `cargo check` of the crate in DIR, in the dedicated target dir.
run_check() {
    CARGO_TARGET_DIR="$check_target" CARGO_INCREMENTAL="$2" \
        cargo check -q --manifest-path "$1/Cargo.toml" 2>>"$1/check.err"
}

# time_check DIR LABEL: prints "LABEL: ..." with the check times of the generated code: the
# second non-incremental check after touching lib.rs (deps built by the first: the figure),
# and an incremental re-check after touching lib.rs (what an edit-compile loop sees).
time_check() {
    local dir="$1" label="$2" target="${3:-}" t0 t1 t2 t3 t4 lines verdict=""
    lines="$(wc -l <"$dir/src/providers.rs")"
    t0="$(now)"
    if ! run_check "$dir" 0; then
        tail -20 "$dir/check.err" >&2
        echo "$label: cargo check FAILED (see above)"
        return
    fi
    t1="$(now)"
    touch "$dir/src/lib.rs"
    run_check "$dir" 0
    t2="$(now)"
    run_check "$dir" 1 # fills the incremental cache
    touch "$dir/src/lib.rs"
    t3="$(now)"
    run_check "$dir" 1
    t4="$(now)"
    if [[ -n "$target" ]]; then
        verdict="$(awk -v t="$(elapsed "$t1" "$t2")" -v g="$target" 'BEGIN { printf "; %s the %s s target", (t <= g ? "meets" : "misses"), g }')"
    fi
    echo "$label: ${lines} lines of Rust; cargo check of the generated code $(elapsed "$t1" "$t2") s$verdict" \
        "(incremental re-check after touch: $(elapsed "$t3" "$t4") s; first check, with" \
        "dependencies if not built yet: $(elapsed "$t0" "$t1") s)"
}

check_lines=()

# Two providers of the repository's catalog: also builds the dependencies first.
section "cargo check: $small_selection"
make_crate "$work/small"
if "${cli[@]}" generate --providers "$small_selection" --input "$small" \
    --out "$work/small/src/providers.rs" 2>"$work/small.err"; then
    check_lines+=("$(time_check "$work/small" "two providers ($small_selection of providers.yaml)" 0.3)")
else
    check_lines+=("two providers ($small_selection): does not generate: $(tail -1 "$work/small.err")")
fi

section "cargo check: full corpus"
make_crate "$work/full"
# The providers with errors (2 of the real catalog) are left out, as `--invalid-providers skip`
# does for any user of the real catalog.
if "${cli[@]}" generate --invalid-providers skip --input "$corpus" \
    --out "$work/full/src/providers.rs" 2>"$work/full.err"; then
    n="$(grep -c '^pub mod ' "$work/full/src/providers.rs")"
    bytes="$(wc -c <"$work/full/src/providers.rs")"
    size_verdict="$( ((bytes / n <= 4096)) && echo meets || echo misses)"
    check_lines+=("$(time_check "$work/full" "full corpus ($n providers, $((bytes / n)) bytes of Rust per provider: $size_verdict the 4096-byte target)" 5)")
else
    check_lines+=("full corpus: does not generate ($(tail -1 "$work/full.err")); figure skipped")
fi

# ---------------------------------------------------------------------------------------------
cat <<EOF

================================ terapi-codegen benchmark report ================================
date: $(date -u +%Y-%m-%dT%H:%MZ)   cores: $(nproc)   $(rustc --version)
load average at the end (other work on the machine skews the figures): $(cut -d' ' -f1-3 /proc/loadavg)
corpus: $corpus ($(wc -c <"$corpus") bytes, $(grep -c '^[^ #]' "$corpus") providers)

--- time (criterion, target/criterion/pipeline_<N>pct/<stage>; the bench ran $bench_seconds s) ---
$timing_table

--- memory (dhat) ---
$memory_table

--- cargo check of the generated code (second check after touching lib.rs, deps prebuilt, CARGO_INCREMENTAL=0) ---
$(printf '%s\n' "${check_lines[@]}")
EOF
