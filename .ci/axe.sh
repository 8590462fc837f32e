#!/usr/bin/env bash
# Fetches axe-core (the accessibility engine of the connect page's browser tests) from the npm
# registry into DIR/axe.min.js, checked against a pinned SHA-256. Nothing is committed.
#
# Usage: .ci/axe.sh DIR        then: export TERAPI_AXE_JS="$PWD/DIR/axe.min.js"
set -euo pipefail
VERSION=4.14.1
SHA256=e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745
dir="${1:?usage: .ci/axe.sh DIR}"
mkdir -p "$dir"
if [ -f "$dir/axe.min.js" ] && [ -f "$dir/.version" ] && [ "$(cat "$dir/.version")" = "$VERSION" ]; then
    echo "axe-core $VERSION: $dir/axe.min.js"
    exit 0
fi
tgz="$dir/axe-core-$VERSION.tgz"
curl -fsSL --retry 3 -o "$tgz" "https://registry.npmjs.org/axe-core/-/axe-core-$VERSION.tgz"
echo "$SHA256  $tgz" | sha256sum -c --quiet -
tar -xzf "$tgz" -C "$dir" --strip-components=1 package/axe.min.js package/LICENSE
rm -f "$tgz"
echo "$VERSION" > "$dir/.version"
echo "axe-core $VERSION: $dir/axe.min.js"
