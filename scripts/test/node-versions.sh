#!/usr/bin/env bash
# Runs the test suite under several Node.js versions: the Node on PATH, then
# each official binary fetched by scripts/test/fetch-node.mjs (default: the newest
# tested 22.x, 24.x and 26.x). bin/tsinit runs `exec node` from PATH, so putting a
# Node's bin directory first in PATH runs both Vitest and tsinit under it.
#
#   scripts/test/node-versions.sh [VERSION...] [-- VITEST ARGS...]
#
# The addon is N-API (ABI-stable), so the one built by `npm ci` serves every
# version; dist/ must exist (npm run build:ts). Exits non-zero if any version
# failed, after running them all, and prints one summary line per version.
set -uo pipefail
cd "$(dirname "$0")/../.."

versions=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do versions+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift

bins=("$(dirname "$(command -v node)")")
fetched=$(node scripts/test/fetch-node.mjs "${versions[@]}") || { echo "test-node-versions: fetching Node failed" >&2; exit 1; }
mapfile -t more <<<"$fetched"
bins+=("${more[@]}")

summary=()
status=0
for bin in "${bins[@]}"; do
  v=$("$bin/node" --version)
  echo "=== Node $v ($bin)"
  if PATH="$bin:$PATH" npx --no-install vitest run "$@"; then
    summary+=("Node $v: passed")
  else
    summary+=("Node $v: FAILED")
    status=1
  fi
done
echo "=== summary"
printf '%s\n' "${summary[@]}"
exit "$status"
