#!/usr/bin/env bash
# Builds every native addon: each native/<name>/build.sh writes
# build/native/<name>.node (ignored by git). Run by scripts/setup.sh, so
# `npm test` and `npm run demo` build them; a missing compiler or header
# fails here, naming what to install. The TypeScript side of each addon
# falls back (or says "unsupported") when its .node file is absent, so the
# npm package works without a compiler.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m[native]\033[0m %s\n' "$*" >&2; }

shopt -s nullglob
for script in native/*/build.sh; do
  name="$(basename "$(dirname "$script")")"
  say "building build/native/$name.node ($script)"
  if ! bash "$script"; then
    say "FAILED: $script (see the message above)"
    exit 1
  fi
done
