#!/usr/bin/env bash
# Builds every native addon: runs each native/NAME/build.sh, which writes
# build/native/NAME.node (git-ignored) with plain gcc and the running node's
# own headers (no node-gyp download, no network). Every addon is optional at
# run time (a pure-Node path is taken without it), but here a missing
# compiler or header fails clearly, so `npm test` and `npm run demo` on a
# fresh Debian machine (scripts/setup.sh installs gcc and libc6-dev) build
# them. MEMWEAVE_SKIP_NATIVE=1 skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m[native]\033[0m %s\n' "$*" >&2; }

if [ "${MEMWEAVE_SKIP_NATIVE:-0}" = 1 ]; then say "skipped (MEMWEAVE_SKIP_NATIVE=1)"; exit 0; fi
cc="${CC:-gcc}"
if ! command -v "$cc" >/dev/null; then
  say "no C compiler ($cc): install gcc and libc6-dev (scripts/setup.sh does, as root), or set MEMWEAVE_SKIP_NATIVE=1 to run on the pure-Node paths"
  exit 1
fi
include="$(dirname "$(readlink -f "$(command -v node)")")/../include/node"
if [ ! -f "$include/node_api.h" ]; then
  say "no node headers at $include (node_api.h): install node with its headers, or set MEMWEAVE_SKIP_NATIVE=1"
  exit 1
fi
shopt -s nullglob
for script in native/*/build.sh; do
  name="$(basename "$(dirname "$script")")"
  say "building $name -> build/native/$name.node"
  bash "$script" >/dev/null
done
