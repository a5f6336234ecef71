"""The Python client's side of bench/python-client.bench.ts: the same reads
the TypeScript client makes, on the same daemon, timed here. Prints one JSON
line: small-read round trip (us), 1 MiB reads (MB/s), batched small pieces
(pieces/s).

    PYTHONPATH=python /usr/bin/python3 bench/python_client_bench.py unix:/path.sock SMALL_COUNT MIB_COUNT ring|inline
"""
import json
import sys
import time

import memweave

MIB = 1 << 20
SPAN = 256 * MIB


def main():
    url, small_count, mib_count, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    with memweave.connect(url, data_ring=mode == "ring") as node, node.open("connector/dump/mem") as mem:
        if node.data_ring["active"] != (mode == "ring"):
            raise SystemExit(f"the data ring is not as asked ({mode})")
        for i in range(20):
            mem.read(0x100000 + i * 4096, 8)
        start = time.perf_counter()
        for i in range(small_count):
            if len(mem.read((i * 4096 * 7) % SPAN, 8)) != 8:
                raise SystemExit("short read")
        small_us = (time.perf_counter() - start) * 1e6 / small_count

        for i in range(3):
            mem.read(i * MIB, MIB)
        start = time.perf_counter()
        for i in range(mib_count):
            if len(mem.read((i * 4096 * 7 * 37) % (SPAN - MIB), MIB)) != MIB:
                raise SystemExit("short read")
        mib_mbps = mib_count * MIB / (time.perf_counter() - start) / 1e6

        pieces = [((i * 4096 * 7) % SPAN, 8) for i in range(1024)]
        rounds = max(1, small_count // 100)
        start = time.perf_counter()
        for _ in range(rounds):
            results = mem.read_many(pieces)
            if any(not isinstance(r, bytes) for r in results):
                raise SystemExit("failed piece")
        pieces_per_s = rounds * len(pieces) / (time.perf_counter() - start)
    print(json.dumps({"smallUs": small_us, "mibMBps": mib_mbps, "piecesPerS": pieces_per_s}))


if __name__ == "__main__":
    main()
