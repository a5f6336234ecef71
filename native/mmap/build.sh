#!/usr/bin/env bash
# Builds native/mmap (mmap.c) into build/native/mmap.node with plain gcc and
# the headers that come with the running node: no node-gyp, no network.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
node_bin="$(readlink -f "$(command -v node)")"
include="$(dirname "$node_bin")/../include/node"
cc="${CC:-gcc}"
command -v "$cc" >/dev/null || { echo "native/mmap: no C compiler ($cc); install gcc and libc6-dev" >&2; exit 1; }
[ -f "$include/node_api.h" ] || { echo "native/mmap: no node headers at $include (node_api.h)" >&2; exit 1; }
mkdir -p "$root/build/native"
out="$root/build/native/mmap.node"
"$cc" -O2 -Wall -Wextra -Werror -fPIC -shared -std=gnu11 -I"$include" -DNAPI_VERSION=8 -o "$out.tmp" "$here/mmap.c"
mv "$out.tmp" "$out"
echo "$out"
