#!/usr/bin/env bash
# Builds build/native/fuse3.node, memweave's N-API binding to libfuse 3
# (src/frontends/fuse/fuse3-binding.ts). Needs gcc, pkg-config and Debian's
# libfuse3-dev; Node's own headers come with node. No network, no node-gyp:
# the N-API symbols resolve from the node binary when the addon is loaded.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/build/native/fuse3.node"
fail() { printf 'native/fuse3: %s\n' "$*" >&2; exit 1; }

command -v gcc >/dev/null || fail "gcc is missing (Debian: apt-get install gcc libc6-dev)"
command -v pkg-config >/dev/null || fail "pkg-config is missing (Debian: apt-get install pkg-config)"
pkg-config --exists fuse3 || fail "libfuse3 headers are missing (Debian: apt-get install libfuse3-dev)"
node_include="$(dirname "$(readlink -f "$(command -v node)")")/../include/node"
[ -f "$node_include/node_api.h" ] || fail "node_api.h not found in $node_include"

src="$root/native/fuse3/fuse3.c"
if [ -f "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$0" ] && [ "$out" -nt "$root/native/include/napi-args.h" ]; then exit 0; fi
mkdir -p "$(dirname "$out")"
# shellcheck disable=SC2046
gcc -shared -fPIC -O2 -Wall -Wextra -Wno-unused-parameter -DNODE_GYP_MODULE_NAME=fuse3 -I"$node_include" \
  $(pkg-config --cflags fuse3) -o "$out.tmp" "$src" $(pkg-config --libs fuse3)
mv "$out.tmp" "$out"
