#!/usr/bin/env bash
# Compiles a sample of what the fuzzer found: picks up to N inputs (default 20) of the
# `generate` target's corpus (fuzz/corpus/generate, or the directory given as the second
# argument) whose generation succeeds, writes each one's output as a module of a throwaway
# crate that depends on the workspace's terapi-runtime by path, and runs `cargo check` on it
# with `-D warnings`. The fuzz target only checks that the output parses (syn); this checks
# that it type-checks against the runtime, on a sample, since compiling is slow.
#
#   fuzz/check_sample.sh [N] [CORPUS_DIR]
#
# Exits non-zero if the crate does not check; the inputs are kept in the printed directory
# (`inputs/mNNN.yaml` next to `src/mNNN.rs`) to reproduce with
# `cargo run -p terapi-cli -- generate --input inputs/mNNN.yaml --out x.rs`.
# Generation runs with `-A bidi-control`, as the `generate` target does. Needs only the
# stable toolchain. See FUZZING.md.
set -euo pipefail
fuzz="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$fuzz")"

want="${1:-20}"
corpus="${2:-$fuzz/corpus/generate}"
if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
    echo "no corpus in $corpus: run fuzz/run.sh first" >&2
    exit 2
fi

cargo build -q --manifest-path "$root/Cargo.toml" -p terapi-cli
codegen="$root/target/debug/terapi"

work="$(mktemp -d)"
mkdir -p "$work/src" "$work/inputs"
cat >"$work/Cargo.toml" <<EOF
[package]
name = "fuzz-sample"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
terapi-runtime = { path = "$root/runtime" }

[workspace]
EOF

picked=0
tried=0
: >"$work/src/lib.rs"
# Largest inputs first: they hold the most catalog. `sort` makes the pick reproducible.
while IFS= read -r input; do
    [ "$picked" -lt "$want" ] || break
    tried=$((tried + 1))
    name="$(printf 'm%03d' "$picked")"
    if "$codegen" generate -q -A bidi-control --input "$input" --out "$work/src/$name.rs" >/dev/null 2>&1; then
        cp "$input" "$work/inputs/$name.yaml"
        printf 'pub mod %s;\n' "$name" >>"$work/src/lib.rs"
        picked=$((picked + 1))
    else
        rm -f "$work/src/$name.rs"
    fi
done < <(find "$corpus" -type f -printf '%s %p\n' | sort -k1,1nr -k2 | cut -d' ' -f2-)

echo "picked $picked of $tried inputs tried (of $(find "$corpus" -type f | wc -l) in $corpus)"
if [ "$picked" -eq 0 ]; then
    echo "no input of the corpus generates" >&2
    exit 1
fi
# A shared target directory, so the runtime is compiled once across runs.
if CARGO_TARGET_DIR="$fuzz/target/sample" RUSTFLAGS="-D warnings" \
    cargo check -q --manifest-path "$work/Cargo.toml" 2>"$work/check.log"; then
    echo "cargo check: ok ($picked generated files in $work)"
else
    cat "$work/check.log" >&2
    echo "cargo check failed: the sample is in $work" >&2
    exit 1
fi
