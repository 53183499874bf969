#!/usr/bin/env bash
# Fetches an older glibc and libstdc++ (Debian 11 "bullseye": glibc 2.31,
# libstdc++ of gcc 10) for test/packaging/glibc-floor.test.ts, which runs this
# machine's Node under them to prove the addon loads and works on a glibc
# older than the one it was built on.
#
#   scripts/test/fetch-glibc.sh            (x86_64 hosts with apt-get, Debian's archive reachable)
#
# The packages are downloaded with apt-get through a private sources list and
# state directory (the system's apt configuration is neither read for sources
# nor changed) and unpacked with dpkg-deb into
# node_modules/.cache/tsinit-glibc/bullseye/. Nothing is installed.
set -euo pipefail
cd "$(dirname "$0")/../.."

suite=bullseye
# The Debian archive this host's apt already uses (its first deb822 or
# one-line source whose suite is not a -security one), unless given.
system_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk '/^URIs:/ { uri = $2 } /^Suites:/ { if (uri != "" && $0 !~ /-security/) { print uri; exit } }' "$f"
  done
  [ -r /etc/apt/sources.list ] &&
    awk '$1 == "deb" && $3 !~ /-security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list
  return 0
}
mirror=${TSINIT_DEBIAN_MIRROR:-$(system_mirror | head -n 1)}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
packages=(libc6 libstdc++6 libgcc-s1)

[ "$(uname -m)" = x86_64 ] || { echo "fetch-glibc: x86_64 hosts only" >&2; exit 1; }
for tool in apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "fetch-glibc: $tool not found (a Debian-based host is needed)" >&2; exit 1; }
done
[ -n "$mirror" ] || { echo "fetch-glibc: no Debian archive in this host's apt sources (set TSINIT_DEBIAN_MIRROR)" >&2; exit 1; }
[ -r "$keyring" ] || { echo "fetch-glibc: $keyring missing (apt-get install debian-archive-keyring)" >&2; exit 1; }

cache=$PWD/node_modules/.cache/tsinit-glibc
root=$cache/$suite
apt=$cache/apt-$suite
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs" "$apt/etc/preferences.d"
echo "deb [arch=amd64 signed-by=$keyring] $mirror $suite main" >"$apt/etc/sources.list"
: >"$apt/status"

opts=(
  -o "Dir::Etc::SourceList=$apt/etc/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::Etc::Preferences=/dev/null"
  -o "Dir::Etc::PreferencesParts=$apt/etc/preferences.d"
  -o "Dir::State::Lists=$apt/lists"
  -o "Dir::State::status=$apt/status"
  -o "Dir::Cache=$apt/cache"
  -o "APT::Architecture=amd64"
  -o "APT::Architectures=amd64"
  -o "APT::Sandbox::User=root"
  -o "Acquire::Languages=none"
)
echo "fetch-glibc: reading the $suite package index from $mirror" >&2
timeout 600 apt-get "${opts[@]}" -qq update
(cd "$apt/debs" && rm -f ./*.deb && timeout 600 apt-get "${opts[@]}" -qq download "${packages[@]}")

# Unpack into a fresh tree, then swap it in: a half-written tree never looks complete.
tmp=$cache/.$suite.$$
rm -rf "$tmp"
mkdir -p "$tmp"
for deb in "$apt"/debs/*.deb; do dpkg-deb -x "$deb" "$tmp"; done
libc=$tmp/lib/x86_64-linux-gnu/libc.so.6
loader=$tmp/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
[ -e "$libc" ] && [ -e "$loader" ] || { echo "fetch-glibc: the unpacked libc6 lacks libc.so.6 or the loader" >&2; exit 1; }
rm -rf "$root"
mv "$tmp" "$root"
echo "fetch-glibc: $suite's glibc and libstdc++ are in ${root#"$PWD"/}:" >&2
(cd "$apt/debs" && ls ./*.deb) >&2
