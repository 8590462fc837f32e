#!/usr/bin/env bash
# The connect page's figures of BENCHMARKS.md, each beside its target:
# - the page and its assets compressed (gzip -6, what a compressing proxy sends; -9 too) and raw;
# - the form rendered after the page starts loading: `performance.getEntriesByName(
#   "terapi:form-rendered")[0].startTime` (the page marks it when the form is in the DOM),
#   read in headless Chromium over WebDriver for RUNS loads of the Personio form (a session
#   allowing one provider: /connect, its script and style, GET /providers, GET
#   /providers/personio, the form built). Needs chromium and chromium-driver.
#
# Usage: server/benches/report_connect.sh            RUNS=50 server/benches/report_connect.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${RUNS:-30}"

gz() { gzip -"$1" -c | wc -c; }
page=server/connect/index.html
files=("$page" server/connect/connect.js server/connect/connect.css)
raw=$(cat "${files[@]}" | wc -c)
six=0
nine=0
for f in "${files[@]}"; do
    six=$((six + $(gz 6 <"$f")))
    nine=$((nine + $(gz 9 <"$f")))
done
sdk_six=$(cat server/connect/sdk.js | gz 6)

out=$(TERAPI_FORM_RUNS="$runs" cargo test -q -p terapi-server --test server \
    browser::personio::the_form_rendered_mark -- --ignored --nocapture 2>/dev/null |
    grep '^form-rendered ms:' || true)
if [ -z "$out" ]; then
    echo "no browser figure: is chromium-driver installed? (cargo test -p terapi-server --test server the_form_rendered_mark -- --ignored --nocapture)" >&2
fi

python3 - "$raw" "$six" "$nine" "$sdk_six" "$runs" "$out" <<'PY'
import re, sys
raw, six, nine, sdk, runs, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
def verdict(ok): return "met" if ok else "MISSED"
print(f"{'figure':<58} {'target':>10} {'measured':>16}  verdict")
print(f"{'page + connect.js + connect.css, gzip -6':<58} {'<= 100 KB':>10} {six/1000:>13.1f} KB  {verdict(six <= 100_000)}")
print(f"{'the same, gzip -9':<58} {'-':>10} {nine/1000:>13.1f} KB")
print(f"{'the same, raw':<58} {'-':>10} {raw/1000:>13.1f} KB")
print(f"{'the SDK (sdk.js core), gzip -6':<58} {'-':>10} {sdk/1000:>13.1f} KB")
m = re.search(r"median ([0-9.]+), all \[([^\]]*)\]", out)
if m:
    times = sorted(float(t) for t in m.group(2).split(","))
    med = float(m.group(1))
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    print(f"{'form rendered after the page starts loading, median (' + runs + ' loads)':<58} {'<= 300 ms':>10} {med:>13.1f} ms  {verdict(med <= 300)}")
    print(f"{'the same, p95':<58} {'-':>10} {p95:>13.1f} ms")
    print(f"{'the same, slowest':<58} {'-':>10} {times[-1]:>13.1f} ms")
else:
    print("form rendered: not measured (no browser)")
PY
