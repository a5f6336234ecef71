#!/usr/bin/env python3
"""Lists the processes of a memory dump and greps one process's heap,
through a running memweave daemon (the Python client is a client only).

    memweave serve &                               # or point --daemon at one
    python3 heap_grep.py /data/vm.elf 94 MEMWEAVE

The dump is opened on the daemon as connector 'py-dump-PID' with OS
'py-g-PID' (this script's pid), and removed again at the end.
"""
import argparse
import os
import sys

import memweave

PAGE = 4096


def grep_heap(proc, needle):
    """Every address in the process's [heap] where needle occurs. The heap is read in one batch
    of page-sized pieces, so a page that is not there fails alone; runs of pages read are searched."""
    heap = next((m for m in proc.maps() if m.path == "[heap]"), None)
    if heap is None:
        return []
    pieces = [(at, PAGE) for at in range(heap.start, heap.end, PAGE)]
    found, run_start, run = [], None, []

    def search():
        data = b"".join(run)
        at = data.find(needle)
        while at >= 0:
            found.append(run_start + at)
            at = data.find(needle, at + 1)

    for (addr, _), data in zip(pieces, proc.read_many(pieces)):
        if isinstance(data, memweave.MemweaveError):
            if run:
                search()
            run_start, run = None, []
            continue
        if not run:
            run_start = addr
        run.append(data)
    if run:
        search()
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump")
    parser.add_argument("pid", type=int)
    parser.add_argument("text")
    parser.add_argument("--daemon", help="unix:/PATH, ws://HOST:PORT or wss://HOST:PORT (default: $MEMWEAVE_DAEMON, else the default socket)")
    parser.add_argument("--token-file")
    args = parser.parse_args()
    connector, os_name = f"py-dump-{os.getpid()}", f"py-g-{os.getpid()}"
    try:
        with memweave.connect(args.daemon, token_file=args.token_file) as node:
            node.open_connector(connector, f"file:{os.path.abspath(args.dump)}")
            try:
                node.open_os(os_name, "linux", connector=connector)
                guest = node.os(os_name)
                for p in guest.processes():
                    print(f"{p.pid:6}  {p.name}")
                with guest.process(args.pid) as proc:
                    for addr in grep_heap(proc, args.text.encode()):
                        print(f"{args.pid} heap {addr:#x}")
            finally:
                node.command("connector/rm", f"{connector} -f")
    except memweave.MemweaveError as err:
        print(f"heap_grep: {err} ({err.kind})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
