"""Objects in MemProcFS's spirit over the tree (os/NAME/processes/by-pid/PID/...):

    g = node.os("g")
    for p in g.processes():
        print(p.pid, p.name)
    bash = g.process(100)
    heap = next(m for m in bash.maps() if m.path == "[heap]")
    data = bash.read(heap.start, 4096)
    libc = bash.module("libc.so.6")          # libc.base, libc.size, libc.path

A Process keeps its ``mem`` handle open between reads; when the process goes
away reads raise StaleHandle. ``with g.process(100) as p:`` closes it.
"""
import re
from collections import namedtuple

from .errors import make_error

MapEntry = namedtuple("MapEntry", "start end perms offset dev inode path")
Module = namedtuple("Module", "name base size path")

SLASH_STAND_IN = "\u2215"
_MAPS_LINE = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) ([-rwxsp]{4}) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) ([0-9]+)\s*(.*)$")
_PID_NAME = re.compile(r"^(.*) \(([0-9]+)\)$", re.S)


def segment(name):
    """A name as a path segment: '/' becomes U+2215 (as the tree shows 'kworker/0:1')."""
    if name in ("", ".", ".."):
        return "_" if name == "" else "\u2024" * len(name)
    return name.replace("/", SLASH_STAND_IN).replace("\0", "")


def parse_maps(text):
    entries = []
    for line in text.splitlines():
        if not line:
            continue
        match = _MAPS_LINE.match(line)
        if match is None:
            raise make_error("malformed", f"not a maps line: {line[:80]!r}", "os")
        start, end, perms, offset, dev, inode, path = match.groups()
        entries.append(MapEntry(int(start, 16), int(end, 16), perms, int(offset, 16), dev, int(inode), path))
    return entries


class OS:
    def __init__(self, client, name):
        self.client = client
        self.name = name
        self.path = f"os/{name}"

    def __repr__(self):
        return f"OS({self.name!r})"

    def info(self):
        return self.client.read_json(f"{self.path}/info")

    def processes(self):
        """Every process (kernel threads included), by pid."""
        found = []
        for entry in self.client.ls(f"{self.path}/processes/by-pid-name"):
            match = _PID_NAME.match(entry.name)
            if match is not None:
                found.append(Process(self.client, self.name, int(match.group(2)), match.group(1).replace(SLASH_STAND_IN, "/")))
        return sorted(found, key=lambda p: p.pid)

    def process(self, pid):
        return Process(self.client, self.name, int(pid))

    def process_by_name(self, name):
        """The process of that name with the lowest pid."""
        info = self.client.read_json(f"{self.path}/processes/by-name/{segment(name)}/info")
        return Process(self.client, self.name, int(info["pid"]), name)


class Process:
    def __init__(self, client, os_name, pid, name=None):
        self.client = client
        self.os_name = os_name
        self.pid = pid
        self.name = name
        self.path = f"os/{os_name}/processes/by-pid/{pid}"
        self._mem = None

    def __repr__(self):
        return f"Process({self.pid}, {self.name!r})"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def info(self):
        """pid, ppid, name, path, cmdline, state, uid, threads, dtb, arch, kernelThread."""
        return self.client.read_json(f"{self.path}/info")

    def maps(self):
        """The mappings as /proc/PID/maps lists them: MapEntry(start, end, perms, offset, dev, inode, path)."""
        return parse_maps(self.client.read_text(f"{self.path}/maps"))

    def _handle(self):
        if self._mem is None:
            self._mem = self.client.open(f"{self.path}/mem")
        return self._mem

    def read(self, addr, length):
        """``length`` bytes of virtual memory at ``addr``; an unmapped page raises Unmapped."""
        return self._handle().read(addr, length)

    def read_many(self, pieces):
        """Many ``(addr, length)`` pieces in one batch; bytes or a MemweaveError per piece."""
        return self._handle().read_many(pieces)

    def modules(self):
        """Names of the mapped images (ELF objects)."""
        return [e.name for e in self.client.ls(f"{self.path}/modules")]

    def module(self, name):
        info = self.client.read_json(f"{self.path}/modules/{segment(name)}/info")
        base = info.get("base")
        return Module(info.get("name", name), int(base, 16) if isinstance(base, str) else int(base), int(info.get("sizeBytes", 0)), info.get("path"))

    def close(self):
        if self._mem is not None:
            mem, self._mem = self._mem, None
            mem.close()
