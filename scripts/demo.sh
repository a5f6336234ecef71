#!/usr/bin/env bash
# `npm run demo`: installs what is missing, boots a Debian guest under QEMU
# once (cached) and dumps its memory, starts a memweave daemon on that dump,
# opens the guest's Linux kernel with no symbol files, and shows what the
# tree holds. On a terminal the daemon keeps running until Ctrl-C, so the
# printed commands can be tried; elsewhere (or MEMWEAVE_DEMO_EXIT=1) it stops.
# MEMWEAVE_DEMO_PREPARED=1 skips the setup and build steps (test/demo.test.ts:
# npm test has done both).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n\033[1;36m==> %s\033[0m\n' "$*" >&2; }
run() { printf '\033[2m$ memweave %s\033[0m\n' "$*" >&2; node bin/memweave.js --daemon "$DAEMON" "$@"; }

if [ "${MEMWEAVE_DEMO_PREPARED:-0}" != 1 ]; then
  say "installing what is missing"
  bash scripts/setup.sh
  say "compiling (tsc), building the web page and the bundled CLI (esbuild)"
  npm run build --silent >/dev/null
fi

say "building the guest dump (first time ~1 minute: Debian kernel under QEMU TCG, KASLR on)"
bash scripts/fixtures/build-guests.sh
CACHE="${MEMWEAVE_CACHE:-$PWD/.cache/fixtures}"
RELEASE="$(cat "$CACHE/default-release")"
DUMP="$CACHE/$RELEASE/plain/dump.elf"

DEMO_DIR="${TMPDIR:-/tmp}/memweave-demo"
mkdir -p "$DEMO_DIR"
SOCKET="$DEMO_DIR/memweave.sock"
DAEMON="unix:$SOCKET"
MOUNT="$DEMO_DIR/mnt"
cat >"$DEMO_DIR/config.toml" <<TOML
listen = ["unix:$SOCKET", "ws://127.0.0.1:0"]

[[connector]]
name = "dump"
kind = "file"
args = "$DUMP"

[[os]]
name = "guest"
connector = "dump"
kind = "linux"

[[os]]
name = "host"
kind = "native"
TOML

say "starting the daemon (config: $DEMO_DIR/config.toml)"
node bin/memweave.js serve --web --config "$DEMO_DIR/config.toml" 2>"$DEMO_DIR/daemon.log" &
DAEMON_PID=$!
cleanup() {
  if mountpoint -q "$MOUNT" 2>/dev/null; then fusermount -u "$MOUNT" 2>/dev/null || umount -l "$MOUNT" 2>/dev/null || true; fi
  kill "$DAEMON_PID" 2>/dev/null || true
  wait "$DAEMON_PID" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 100); do [ -S "$SOCKET" ] && break; sleep 0.1; done
[ -S "$SOCKET" ] || { cat "$DEMO_DIR/daemon.log" >&2; exit 1; }

say "the tree"
run ls
run ls os/guest
say "the guest kernel, found in memory alone (kallsyms + BTF, KASLR slide recovered)"
run cat os/guest/info | head -30
say "processes of the guest (thread groups, kernel threads included)"
run ps guest | head -12
echo "…"
PID="$(node bin/memweave.js --daemon "$DAEMON" --json ps guest | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const p=JSON.parse(s).find(p=>p.name==="mw-pattern");console.log(p?p.pid:"")})')"
if [ -n "$PID" ]; then
  say "memory map of mw-pattern (pid $PID), exactly as the guest's /proc/$PID/maps"
  run maps guest "$PID"
  # The guest's test program printed where it put a pattern; the fixture kept that as ground truth.
  ADDR="$(node -e 'const t=require(process.argv[1]);const p=t.patterns.find(p=>p.pid===Number(process.argv[2])&&p.kind==="heap")||t.patterns.find(p=>p.pid===Number(process.argv[2]));console.log(p?p.address:"")' "$CACHE/$RELEASE/plain/truth.json" "$PID")"
  if [ -n "$ADDR" ]; then
    say "reading the pattern it placed at $ADDR, through its own page tables"
    run read "os/guest/processes/by-pid/$PID/mem" --offset "$ADDR" --length 64 --hex
  fi
fi

if [ -e /dev/fuse ] && node bin/memweave.js mount --help >/dev/null 2>&1; then
  say "mounting the tree with FUSE at $MOUNT"
  mkdir -p "$MOUNT"
  node bin/memweave.js --daemon "$DAEMON" mount "$MOUNT" 2>>"$DEMO_DIR/daemon.log" &
  for _ in $(seq 1 50); do mountpoint -q "$MOUNT" && break; sleep 0.1; done
  if mountpoint -q "$MOUNT"; then
    printf '\033[2m$ ls %s/os/guest/processes/by-name | head\033[0m\n' "$MOUNT" >&2
    ls "$MOUNT/os/guest/processes/by-name" | head
  fi
fi

cat >&2 <<TXT

Try these (the daemon is at $DAEMON):
  export MEMWEAVE_DAEMON=$DAEMON
  node bin/memweave.js ls os/guest/processes/by-pid
  node bin/memweave.js ps host
  node bin/memweave.js modules guest
  node bin/memweave.js dump guest ${PID:-PID} -o /tmp/guest-core   # then: gdb -c /tmp/guest-core
  node bin/memweave.js stat connector/dump/mem
  ls $MOUNT                              # when FUSE is available
  node bin/memweave.js web               # a new one-time link to the web page
TXT

# Last: the web page, with a one-time ticket (valid for two minutes; memweave web prints a new one).
if WEB_URL="$(node bin/memweave.js --daemon "$DAEMON" web --no-open 2>/dev/null)"; then
  say "the web page (one-time link)"
  printf '%s\n' "$WEB_URL"
fi

if [ -t 0 ] && [ "${MEMWEAVE_DEMO_EXIT:-0}" != 1 ]; then
  say "daemon running (pid $DAEMON_PID); press Ctrl-C to stop"
  wait "$DAEMON_PID" || true
else
  say "not on a terminal: stopping the daemon"
fi
