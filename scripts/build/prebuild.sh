#!/usr/bin/env bash
# Builds the prebuilt addons that `npm pack` ships, with prebuildify
# (--napi --strip --tag-libc, named after the addon, not the npm package), into
# prebuilds/linux-<arch>/tsinit.glibc.node, the path src/native.ts tries first.
# node-gyp-build loads them at run time, so an install needs no compiler.
# Beside each addon goes the start-up launcher, prebuilds/linux-<arch>/tsinit-launch.
#
#   scripts/build/prebuild.sh [x64] [arm64]      (default: x64 arm64)
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
#
# Each prebuild must load wherever Node 20 runs: the script fails, naming the
# symbols, when one needs a glibc newer than 2.28 or a libstdc++ newer than
# GLIBCXX_3.4.25 (native/tsinit.cc looks the newer libc functions up at run
# time instead of linking them).
set -euo pipefail
cd "$(dirname "$0")/../.."
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
      (cd "$work" && rm -rf build && "$prebuildify" --napi --strip --tag-libc --name tsinit --arch x64 --out "$root")
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
        "$prebuildify" --napi --strip --tag-libc --name tsinit --arch arm64 --strip-bin aarch64-linux-gnu-strip --out "$root")
      ;;
    *) echo "prebuild: unknown arch $arch (x64 or arm64)" >&2; exit 2 ;;
  esac
done

# The start-up launcher (native/launch.c) beside each addon, as
# prebuilds/linux-<arch>/tsinit-launch: bin/tsinit execs Node through it when
# no local build is there, so that a signal arriving while PID 1 becomes Node
# is kept. It is linked statically against musl with zig (the toolchain
# scripts/build/check-musl.mjs fetches from the npm registry), so it needs no
# C library of the system it runs on, glibc of any age or musl alike, and
# weighs about 30 KB. Without zig a release fails; a pack warns and ships no
# launcher (tsinit then starts as without one, with the start-up window the
# README describes).
launcher_status=0
zig=
if ! zig=$(node "$root/scripts/build/check-musl.mjs" --fetch 2>"$work/zig.err"); then
  zig=
  if [ "$strict" = 1 ]; then
    echo "prebuild: cannot fetch zig to build the launcher: $(tail -n 1 "$work/zig.err")" >&2
    exit 1
  fi
  echo "prebuild: WARNING: no launcher SHIPPED: cannot fetch zig ($(tail -n 1 "$work/zig.err"))" >&2
fi
if [ -n "$zig" ]; then
  zig_cache=$(dirname "$(dirname "$zig")")/zig-cache
  for arch in "${arches[@]}"; do
    case "$arch" in x64) target=x86_64-linux-musl;; arm64) target=aarch64-linux-musl;; esac
    [ -f "prebuilds/linux-$arch/tsinit.glibc.node" ] || continue
    out=prebuilds/linux-$arch/tsinit-launch
    # zig compiles its own musl start files once, with a warning of theirs: kept out of the log.
    if ! ZIG_GLOBAL_CACHE_DIR=$zig_cache ZIG_LOCAL_CACHE_DIR=$zig_cache \
        "$zig" cc -target "$target" -static -Os -s -std=c11 -Wall -Wextra -o "$out" native/launch.c 2>"$work/launch.err"; then
      cat "$work/launch.err" >&2
      echo "prebuild: cannot build $out" >&2
      launcher_status=1
      continue
    fi
    # Static: no program interpreter, no shared library.
    if readelf -lW "$out" | grep -q INTERP || readelf -dW "$out" 2>/dev/null | grep -q NEEDED; then
      echo "prebuild: $out is not a static executable" >&2
      launcher_status=1
    fi
    echo "prebuild: $out ($(wc -c <"$out") bytes, static, $target)"
  done
fi

# What each prebuild needs from the system it is loaded on: the newest glibc
# and libstdc++ symbol versions it references. The floor is Node 20's own
# (glibc 2.28, libstdc++ of gcc 8): a prebuild that needs more would not load
# where Node runs, and its users would silently fall back to a compiler.
max_glibc=2.28
max_glibcxx=3.4.25
demangle() { if command -v c++filt >/dev/null; then c++filt; else cat; fi; }
status=0
for arch in "${arches[@]}"; do
  f=prebuilds/linux-$arch/tsinit.glibc.node
  [ -f "$f" ] || continue
  objdump=objdump
  [ "$arch" = arm64 ] && command -v aarch64-linux-gnu-objdump >/dev/null && objdump=aarch64-linux-gnu-objdump
  if ! syms=$("$objdump" -T "$f"); then
    echo "prebuild: cannot read the symbols of $f with $objdump" >&2
    status=1
    continue
  fi
  needs=$(grep -oE '(GLIBC|GLIBCXX)_[0-9.]+' <<<"$syms" | sort -Vu |
    awk -F_ '{ last[$1] = $0 } END { printf "%s %s", last["GLIBC"], last["GLIBCXX"] }' || true)
  echo "prebuild: $f ($(wc -c <"$f") bytes) needs ${needs:-?}"
  # Each symbol bound to a version above the floor, named.
  too_new=$(awk -v g="$max_glibc" -v gx="$max_glibcxx" '
    function newer(v, max,   a, b, i, n) {
      n = split(v, a, "."); split(max, b, ".")
      for (i = 1; i <= (n > 3 ? n : 3); i++) { if (a[i] + 0 != b[i] + 0) return a[i] + 0 > b[i] + 0 }
      return 0
    }
    match($0, /(GLIBCXX|GLIBC)_[0-9.]+/) {
      ver = substr($0, RSTART, RLENGTH); sym = $NF
      split(ver, p, "_")
      if ((p[1] == "GLIBC" && newer(p[2], g)) || (p[1] == "GLIBCXX" && newer(p[2], gx))) print "  " sym " (" ver ")"
    }' <<<"$syms" | demangle | sort -u)
  if [ -n "$too_new" ]; then
    echo "prebuild: $f needs more than GLIBC_$max_glibc / GLIBCXX_$max_glibcxx, so it would not load on every system Node 20 runs on:" >&2
    echo "$too_new" >&2
    status=1
  fi
done
[ "$launcher_status" = 0 ] || status=1
exit "$status"
