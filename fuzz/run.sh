#!/usr/bin/env bash
# Runs each fuzz target of terapi-codegen for SECONDS seconds (default 60), one after the
# other (one fuzzing process at a time: the machine is shared), starting from the committed
# seeds and the corpus of earlier runs, with the catalog dictionary. Prints per target the
# executions and the crashes (libFuzzer's final stats), and exits non-zero on any crash.
#
#   fuzz/run.sh [SECONDS] [TARGET...]      (targets: lint generate integrations responses webhooks record_ids; default: all)
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
# Extra libFuzzer flags can be given in FUZZ_FLAGS (e.g. FUZZ_FLAGS="-seed=1"). The targets
# are built as cargo-fuzz does by default (release, debug assertions and overflow checks on)
# but without AddressSanitizer (FUZZ_SANITIZER=none): the code under test forbids `unsafe`,
# and ASan makes each run about 7 times slower. FUZZ_SANITIZER=address turns it back on.
# See FUZZING.md.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(lint generate integrations responses webhooks record_ids)
fi
case "$seconds" in
'' | *[!0-9]*)
    echo "usage: fuzz/run.sh [SECONDS] [TARGET...]" >&2
    exit 2
    ;;
esac

sanitizer="${FUZZ_SANITIZER:-none}"
logs="$(mktemp -d)"
for t in "${targets[@]}"; do
    cargo +nightly fuzz build --sanitizer "$sanitizer" "$t" >>"$logs/build.log" 2>&1 || {
        cat "$logs/build.log" >&2
        exit 1
    }
done

total_execs=0
total_crashes=0
status=0
printf '%-10s %14s %8s %8s %10s\n' target executions exec/s crashes corpus
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    before="$(find "artifacts/$t" -type f | wc -l)"
    log="$logs/$t.log"
    # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
    # A target's own seeds (`seeds-TARGET/`) if it has them, else the catalog seeds.
    seeds=seeds
    if [ -d "seeds-$t" ]; then
        seeds="seeds-$t"
    fi
    cargo +nightly fuzz run --sanitizer "$sanitizer" "$t" "corpus/$t" "$seeds" -- \
        -max_total_time="$seconds" \
        -dict=catalog.dict \
        -max_len=8192 \
        -timeout=30 \
        -rss_limit_mb=4096 \
        -print_final_stats=1 \
        ${FUZZ_FLAGS:-} >"$log" 2>&1 || status=1
    after="$(find "artifacts/$t" -type f | wc -l)"
    crashes=$((after - before))
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    corpus="$(find "corpus/$t" -type f | wc -l)"
    if [ -z "$execs" ]; then
        # No final stats: the run died before libFuzzer could print them.
        execs=0
        status=1
        echo "$t: no final stats; the end of its log:" >&2
        tail -n 30 "$log" >&2
    fi
    if [ "$crashes" -gt 0 ]; then
        status=1
        echo "$t: $crashes new artifact(s) in fuzz/artifacts/$t; the end of its log:" >&2
        grep -E 'panicked|ERROR|SUMMARY|Test unit written|artifact_prefix' "$log" | head -n 20 >&2 || true
    fi
    printf '%-10s %14s %8s %8s %10s\n' "$t" "$execs" "${rate:-0}" "$crashes" "$corpus"
    total_execs=$((total_execs + execs))
    total_crashes=$((total_crashes + crashes))
done
printf '%-10s %14s %8s %8s\n' total "$total_execs" "" "$total_crashes"
echo "logs: $logs"
exit "$status"
