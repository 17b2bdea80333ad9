#!/usr/bin/env bash
# Installs the n8n pinned in package.json and package-lock.json (next to this script) outside
# the clone, once per version of those files, and prints the folder it is in. A clone starts
# fresh each time in CI; the cache does not: ~2.5 GB and several minutes the first time, a
# second afterwards.
#   CREATIVEFLOW_N8N_CACHE  where installs are kept (default: the user's cache folder)
# After changing package.json, renew the lock file here with
#   npm install --package-lock-only --omit-lockfile-registry-resolved
# (the lock then names versions and integrity hashes, not download addresses).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${CREATIVEFLOW_N8N_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/creativeflow/n8n}
key=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)
target=$cache/$key

if [[ -f $target/.installed ]]; then
    echo "$target"
    exit 0
fi

fail() {
    echo "n8n could not be installed: $1" >&2
    exit 1
}
command -v node >/dev/null && command -v npm >/dev/null ||
    fail "Node.js and npm are needed (n8n 2.8 runs on Node.js 20.19 or newer; Debian: apt-get install nodejs npm)"
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
    fail "Node.js $(node --version) is too old; n8n 2.8 needs 20.19 or newer"
# sqlite3 compiles from source when its prebuilt binary cannot be fetched: it needs a C compiler
command -v make >/dev/null && command -v g++ >/dev/null || fail "make and g++ are needed to build sqlite3"

mkdir -p "$cache"
rm -rf "$target.partial"
mkdir "$target.partial"
cp "$here/package.json" "$here/package-lock.json" "$target.partial/"
echo "installing n8n into $target (several minutes the first time)…" >&2
if ! (cd "$target.partial" && npm ci --no-audit --no-fund --omit=dev --loglevel=error >&2); then
    fail "npm install failed (see above); the npm registry must be reachable"
fi
"$target.partial/node_modules/.bin/n8n" --version >/dev/null || fail "the installed n8n does not start"
rm -rf "$target"
mv "$target.partial" "$target"
touch "$target/.installed"
echo "$target"
