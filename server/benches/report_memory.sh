#!/usr/bin/env bash
# The memory of `terapi serve` as a separate process (release build): its RSS idle, and its
# peak RSS while it proxies N (1,000) concurrent `GET /proxy/company/employees` to the fake
# Personio (each request on its own connection, all started together, every one checked to
# answer 200). Prints each figure beside its target; called by report_server.sh.
#
# Usage: server/benches/report_memory.sh
#   TERAPI_BENCH_LOAD_N=2000 server/benches/report_memory.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

n=${TERAPI_BENCH_LOAD_N:-1000}
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
cargo build --release -q -p terapi-cli >&2
cargo build --release -q -p terapi-test-support --example fake-personio >&2
cargo build --release -q -p terapi-server --example proxy_load >&2
terapi="$target_dir/release/terapi"

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(( n * 4 + 1024 ))" 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# Waits until FILE has a line matching PATTERN (at most 30 s) and prints its first match.
wait_line() {
    local file=$1 pattern=$2
    for _ in $(seq 300); do
        if grep -q -m1 -E "$pattern" "$file" 2>/dev/null; then
            grep -m1 -o -E "$pattern" "$file"
            return
        fi
        sleep 0.1
    done
    echo "timed out waiting for /$pattern/ in $file:" >&2
    cat "$file" >&2
    exit 1
}

"$target_dir/release/examples/fake-personio" >"$work/fake.out" 2>&1 &
pids+=($!)
origin=$(wait_line "$work/fake.out" 'http://127\.0\.0\.1:[0-9]+' )
wait_line "$work/fake.out" 'client secret +[^ ]+' >/dev/null
client_id=$(grep -m1 -E '^ +client id ' "$work/fake.out" | awk '{print $3}')
client_secret=$(grep -m1 -E '^ +client secret ' "$work/fake.out" | awk '{print $3}')

TERAPI_STORE_KEY=$("$terapi" key generate)
export TERAPI_STORE_KEY
store="sqlite:$work/store.db"
TERAPI_CREDENTIAL_CLIENT_ID=$client_id TERAPI_CREDENTIAL_CLIENT_SECRET=$client_secret \
    "$terapi" --store "$store" --origin "$origin" connect hr personio \
    --config partnerId=ACME appId=MY_APPLICATION \
    --credential client_id --credential client_secret >&2

TERAPI_API_KEY="sk-bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export TERAPI_API_KEY
"$terapi" --store "$store" --origin "$origin" serve --listen 127.0.0.1:0 \
    --max-connections "$(( n * 2 ))" 2>"$work/serve.err" &
server_pid=$!
pids+=("$server_pid")
server=$(wait_line "$work/serve.err" 'http://[0-9.]+:[0-9]+')

kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$server_pid/status"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }

sleep 2
idle=$(kib VmRSS)
# One request (connection, token, pools made), then idle again.
"$target_dir/release/examples/proxy_load" "$server" company/employees hr 1 >"$work/warm.out"
sleep 1
warm=$(kib VmRSS)
hwm_before=$(kib VmHWM)
status=0
"$target_dir/release/examples/proxy_load" "$server" company/employees hr "$n" >"$work/load.out" 2>"$work/load.err" || status=$?
peak=$(kib VmHWM)
sleep 2
after=$(kib VmRSS)
ok=$(awk -F= '$1 == "load.ok" {print $2}' "$work/load.out")
seconds=$(awk -F= '$1 == "load.seconds" {print $2}' "$work/load.out")

echo "## terapi serve, memory (release, SQLite store, proxy to the fake Personio on loopback)"
echo "RSS idle, just started               $(mib "$idle")  (no target; recorded)"
echo "RSS idle, after one proxied request  $(mib "$warm")  (no target; recorded)"
echo "peak RSS (VmHWM), $n concurrent GET /proxy/company/employees  $(mib "$peak")  (no target; recorded; peak before the load $(mib "$hwm_before"))"
echo "RSS 2 s after the load               $(mib "$after")  (no target; recorded)"
echo "answered 200: $ok of $n in ${seconds} s  $( [ "$status" = 0 ] && echo "(all)" || echo "(NOT ALL: $(grep -v -E '^load\.(sent|ok|seconds)=' "$work/load.out" | tr '\n' ' '))")"
if [ "$status" != 0 ]; then
    head -5 "$work/load.err" >&2
    exit 1
fi
