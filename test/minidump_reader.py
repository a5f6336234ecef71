#!/usr/bin/env python3
"""An independent MINIDUMP reader for the tests (Python standard library only).

Usage: minidump_reader.py FILE [ADDR LENGTH]...
Prints JSON: the header, the stream directory, MINIDUMP_SYSTEM_INFO, the
module list (base, size, name) and the Memory64 ranges; for each ADDR LENGTH
pair (hex, decimal) the bytes at that virtual address (hex), or null when no
range holds them. Written from the documented structure layouts, sharing no
code with memweave.
"""
import json
import struct
import sys


def read_string(data, rva):
    (length,) = struct.unpack_from('<I', data, rva)
    return data[rva + 4:rva + 4 + length].decode('utf-16-le')


def main():
    data = open(sys.argv[1], 'rb').read()
    signature, version, count, directory_rva, _checksum, _stamp, flags = struct.unpack_from('<IIIIIIQ', data, 0)
    if signature != 0x504D444D:
        raise SystemExit('not a minidump')
    streams = {}
    for i in range(count):
        kind, size, rva = struct.unpack_from('<III', data, directory_rva + 12 * i)
        streams[kind] = (size, rva)
    out = {'version': version & 0xFFFF, 'flags': flags, 'streams': sorted(streams)}
    if 7 in streams:
        rva = streams[7][1]
        arch, _level, _rev, nproc, _ptype, major, minor, build, platform, csd = struct.unpack_from('<HHHBBIIIII', data, rva)
        out['system'] = {'arch': arch, 'major': major, 'minor': minor, 'build': build, 'platform': platform, 'csd': read_string(data, csd)}
    if 4 in streams:
        rva = streams[4][1]
        (n,) = struct.unpack_from('<I', data, rva)
        modules = []
        for i in range(n):
            base, size, _sum, _stamp, name_rva = struct.unpack_from('<QIIII', data, rva + 4 + 108 * i)
            modules.append({'base': base, 'size': size, 'name': read_string(data, name_rva)})
        out['modules'] = modules
    ranges = []
    if 9 in streams:
        rva = streams[9][1]
        n, base_rva = struct.unpack_from('<QQ', data, rva)
        offset = base_rva
        for i in range(n):
            start, size = struct.unpack_from('<QQ', data, rva + 16 + 16 * i)
            ranges.append((start, size, offset))
            offset += size
        out['memory'] = [{'start': s, 'size': z} for s, z, _ in ranges]
        out['memoryEnd'] = offset
    reads = []
    args = sys.argv[2:]
    for addr_text, length_text in zip(args[0::2], args[1::2]):
        addr, length = int(addr_text, 16), int(length_text)
        hit = next((o + addr - s for s, z, o in ranges if s <= addr and addr + length <= s + z), None)
        reads.append(None if hit is None else data[hit:hit + length].hex())
    out['reads'] = reads
    out['fileSize'] = len(data)
    print(json.dumps(out))


main()
