#!/usr/bin/env bash
# Installs what memweave needs on a Debian machine: Debian packages (when
# root), then npm packages from the lock file. Safe to run repeatedly: it
# only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# Debian packages the tests and demo use: QEMU and busybox for the guest
# fixtures, gdb to check core files, FUSE for mounts, tools for initramfs,
# the Python client (python/) msgpack, websockets, venv and pip,
# Chromium (driven headless by playwright-core) for the web frontend tests,
# iperf3, the TCP ceiling of the datapath bench, and for the arm64 guests
# QEMU's aarch64 system emulator, a cross compiler with its static libc, and
# gdb-multiarch to read their cores. libfuse3-dev, gcc and pkg-config build
# the libfuse 3 addon (native/fuse3; scripts/build-native.sh, run below).
DEBIAN_PACKAGES=(qemu-system-x86 qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross gdb-multiarch busybox-static gdb fuse3 libfuse2 libfuse3-dev pkg-config cpio xz-utils zstd kmod python3 procps util-linux dwarves gcc libc6-dev binutils openssl python3-msgpack python3-websockets python3-venv python3-pip chromium fonts-dejavu-core iperf3)
if [ -n "${MEMWEAVE_EXTRA_DEBIAN_PACKAGES:-}" ]; then
  read -r -a extra <<<"$MEMWEAVE_EXTRA_DEBIAN_PACKAGES"
  DEBIAN_PACKAGES+=("${extra[@]}")
fi

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing Debian packages (run as root to install them): ${missing[*]}"
  fi
else
  say "Debian packages present"
fi

# npm packages: install from the lock file when node_modules is missing or older than the lock.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
else
  say "npm packages present"
fi

# Native addons (native/*/build.sh → build/native/*.node): needs the packages above.
bash scripts/build-native.sh
