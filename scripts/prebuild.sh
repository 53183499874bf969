#!/usr/bin/env bash
# Builds the prebuilt addons that `npm pack` ships, with prebuildify
# (--napi --strip --tag-libc), into prebuilds/linux-<arch>/tsinit.glibc.node.
# node-gyp-build loads them at run time, so an install needs no compiler.
#
#   scripts/prebuild.sh [x64] [arm64]      (default: x64 arm64)
#
# x64 uses the host compiler. arm64 is cross-compiled with Debian's
# g++-aarch64-linux-gnu (apt-get install g++-aarch64-linux-gnu). A missing
# cross compiler is an error when the arches are named and under
# `npm publish` (npm_command=publish: a release never ships a partial set);
# otherwise (`npm pack`, the prepack of a git dependency) arm64 is skipped
# with a warning, and such a tarball loads its addon on x64 only.
#
# The build runs in a temporary copy of binding.gyp and native/, so the
# project's own build/ (the addon used by the tests) is left alone. Headers
# come from the nodedir npm is configured with, or this Node's install prefix;
# N-API binaries are independent of the Node version.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# Everything goes to stderr: as the prepack script, stdout would mix into `npm pack --json`.
exec 1>&2

arches=("$@")
strict=1
if [ ${#arches[@]} -eq 0 ]; then
  arches=(x64 arm64)
  [ "${npm_command:-}" = publish ] || strict=0
fi

# Headers: node-gyp would otherwise try to download them.
if [ -z "${npm_config_nodedir:-}" ]; then
  npm_config_nodedir=$(npm config get nodedir 2>/dev/null || true)
  [ "$npm_config_nodedir" = "undefined" ] && npm_config_nodedir=
fi
if [ -z "${npm_config_nodedir:-}" ] || [ ! -f "$npm_config_nodedir/include/node/node_api.h" ]; then
  prefix=$(dirname "$(dirname "$(command -v node)")")
  if [ -f "$prefix/include/node/node_api.h" ]; then
    npm_config_nodedir=$prefix
  else
    echo "prebuild: no Node headers (include/node/node_api.h) under the npm nodedir or $prefix" >&2
    exit 1
  fi
fi
export npm_config_nodedir

work=$(mktemp -d "${TMPDIR:-/tmp}/tsinit-prebuild.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r binding.gyp native package.json "$work/"
ln -s "$root/node_modules" "$work/node_modules"

prebuildify=$root/node_modules/.bin/prebuildify
for arch in "${arches[@]}"; do
  case "$arch" in
    x64)
      [ "$(uname -m)" = x86_64 ] || { echo "prebuild: x64 is built on an x86_64 host only" >&2; exit 1; }
      (cd "$work" && rm -rf build && "$prebuildify" --napi --strip --tag-libc --arch x64 --out "$root")
      ;;
    arm64)
      if ! command -v aarch64-linux-gnu-g++ >/dev/null; then
        if [ "$strict" = 0 ]; then
          echo "prebuild: WARNING: arm64 SKIPPED: aarch64-linux-gnu-g++ not found (apt-get install g++-aarch64-linux-gnu)" >&2
          continue
        fi
        echo "prebuild: aarch64-linux-gnu-g++ not found: apt-get install g++-aarch64-linux-gnu" >&2
        exit 1
      fi
      (cd "$work" && rm -rf build &&
        CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ \
        AR=aarch64-linux-gnu-ar \
        "$prebuildify" --napi --strip --tag-libc --arch arm64 --strip-bin aarch64-linux-gnu-strip --out "$root")
      ;;
    *) echo "prebuild: unknown arch $arch (x64 or arm64)" >&2; exit 2 ;;
  esac
done

# What each prebuild needs from the system it is loaded on: the newest glibc
# and libstdc++ symbol versions it references.
for arch in "${arches[@]}"; do
  f=prebuilds/linux-$arch/tsinit.glibc.node
  [ -f "$f" ] || continue
  objdump=objdump
  [ "$arch" = arm64 ] && command -v aarch64-linux-gnu-objdump >/dev/null && objdump=aarch64-linux-gnu-objdump
  needs=$("$objdump" -T "$f" 2>/dev/null | grep -oE '(GLIBC|GLIBCXX)_[0-9.]+' | sort -Vu |
    awk -F_ '{ last[$1] = $0 } END { printf "%s %s", last["GLIBC"], last["GLIBCXX"] }' || true)
  echo "prebuild: $f ($(wc -c <"$f") bytes) needs ${needs:-?}"
done
