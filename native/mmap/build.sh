#!/usr/bin/env bash
# Builds build/native/mmap.node, memweave's small mapping addon
# (src/addons/mmap-addon.ts): mmap of the data ring, preadv2 RWF_NOWAIT,
# pipe sizes. Needs gcc and libc6-dev; Node's own headers come with node.
# No network, no node-gyp: the N-API symbols resolve from the node binary
# when the addon is loaded.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/build/native/mmap.node"
fail() { printf 'native/mmap: %s\n' "$*" >&2; exit 1; }

command -v gcc >/dev/null || fail "gcc is missing (Debian: apt-get install gcc libc6-dev)"
node_include="$(dirname "$(readlink -f "$(command -v node)")")/../include/node"
[ -f "$node_include/node_api.h" ] || fail "node_api.h not found in $node_include"

src="$root/native/mmap/mmap.c"
if [ -f "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$0" ] && [ "$out" -nt "$root/native/include/napi-args.h" ]; then exit 0; fi
mkdir -p "$(dirname "$out")"
gcc -shared -fPIC -O2 -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -DNAPI_VERSION=8 -I"$node_include" -o "$out.tmp" "$src"
mv "$out.tmp" "$out"
