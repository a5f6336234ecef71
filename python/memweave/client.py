"""The synchronous client: tree operations on handles, batched reads with a
result per piece, and the leaf helpers the convenience views use.

    with memweave.connect() as node:              # default socket, token found like the CLI
        for entry in node.ls("os"):
            print(entry.name)
        with node.open("os/g/processes/by-pid/94/mem") as mem:
            data = mem.read(0x4a6180, 64)
"""
import asyncio
import concurrent.futures
import json
from collections import namedtuple

from .connection import Connection, Loop
from .errors import MemweaveError, ProtocolError, make_error
from .locate import default_daemon_url, find_token, normalize_url

Entry = namedtuple("Entry", "name type meta")
Stat = namedtuple("Stat", "path type meta")
LeafMeta = namedtuple("LeafMeta", "size readable writable rpc content")

CHUNK_BYTES = 1 << 20
#: msgpack framing around one piece of a request, and around a request (as the Node client counts them)
PIECE_OVERHEAD_BYTES = 40
MESSAGE_OVERHEAD_BYTES = 256


def _meta(raw):
    if not isinstance(raw, dict):
        return None
    return LeafMeta(raw.get("sizeBytes"), bool(raw.get("readable")), bool(raw.get("writable")), bool(raw.get("rpc")), raw.get("content"))


def connect(url=None, token=None, token_file=None, timeout=None, connect_timeout=10.0, name="python", ca_file=None, fingerprint=None, insecure=False,
            data_ring=True):
    """A client on a daemon: ``url`` is ``unix:/path``, a socket path, ``ws://HOST:PORT`` or
    ``wss://HOST:PORT``; default ``$MEMWEAVE_DAEMON``, else the default unix socket. The token is
    ``token``, else read from ``token_file``, else ``$MEMWEAVE_TOKEN``, else (loopback ws://) the
    daemon's auto-token file. ``timeout`` bounds each request (seconds; default none). On a unix
    socket big reads come through a shared ring file on /dev/shm when the daemon agrees
    (``data_ring=False`` turns that off; a dict gives ``directory`` and ``size``)."""
    address = default_daemon_url() if not url else normalize_url(url)
    found = find_token(address, token=token, token_file=token_file)
    loop = Loop.get()
    future = asyncio.run_coroutine_threadsafe(
        Connection.open(address, token=found, name=name, timeout=connect_timeout, ca_file=ca_file, fingerprint=fingerprint, insecure=insecure,
                        data_ring=data_ring), loop)
    return Client(future.result(), loop, timeout)


class Client:
    """A connection to one daemon. Close it (or use ``with``) when done: its handles are released."""

    def __init__(self, connection, loop, timeout=None):
        self._connection = connection
        self._loop = loop
        self.timeout = timeout

    # -- plumbing -------------------------------------------------------------------------------

    def _run(self, coroutine):
        if self._connection is None:
            coroutine.close()
            raise make_error("disconnected", "this client was closed")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise make_error("timeout", f"a request to {self.url} took more than {self.timeout} s") from None

    def _call(self, op, **fields):
        return self._run(self._connection.call(op, **fields))

    @property
    def url(self):
        return self._connection.url

    @property
    def data_ring(self):
        """Whether big reads come through the shared ring, and how many pieces and bytes did."""
        ring = self._connection.ring if self._connection is not None else None
        return {"active": ring is not None and ring.active, "pieces": ring.pieces if ring else 0, "bytes": ring.bytes if ring else 0}

    @property
    def server_info(self):
        """The daemon's hello: version, nodeId, connection, limits, node."""
        return self._connection.hello

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self, handle=None):
        """With a handle: lower its count by one. Without: disconnect (every handle is released)."""
        if handle is not None:
            self._call("close", handle=_handle_number(handle))
            return
        if self._connection is not None:
            connection, self._connection = self._connection, None
            asyncio.run_coroutine_threadsafe(connection.close(), self._loop).result(10)

    # -- tree operations --------------------------------------------------------------------------

    def ls(self, path=""):
        """The entries of a branch: ``Entry(name, type, meta)``, type 'leaf' or 'branch'."""
        result = self._call("list", path=path)
        if not isinstance(result, list):
            raise ProtocolError("protocol", "list result is not an array")
        return [Entry(e["name"], e["type"], _meta(e.get("meta"))) for e in result]

    def stat(self, path):
        result = self._call("stat", path=path)
        return Stat(result["path"], result["type"], _meta(result.get("meta")))

    def open(self, path):
        """Opens a leaf; the Handle is a context manager that closes it."""
        result = self._call("open", path=path)
        return Handle(self, result["handle"], path, result.get("sizeBytes"), _meta(result.get("meta")))

    def read_many(self, handle, pieces):
        """Reads many ``(addr, length)`` pieces in batches (split to the daemon's limits, sent
        pipelined); one result per piece, in order: ``bytes``, or the piece's MemweaveError
        (returned, not raised: a failed piece never fails its neighbours)."""
        number = _handle_number(handle)
        return self._run(self._read_many(number, [(int(a), int(n)) for a, n in pieces]))

    async def _read_many(self, number, pieces):
        results = [None] * len(pieces)
        limits = self._connection.limits
        max_pieces = max(1, min(limits["maxPieces"], (limits["maxMessageBytes"] - MESSAGE_OVERHEAD_BYTES) // PIECE_OVERHEAD_BYTES))
        batches, current, current_bytes = [], [], 0
        for index, (addr, length) in enumerate(pieces):
            if length > limits["maxBatchBytes"]:
                results[index] = make_error("too_large", f"a piece of {length} bytes exceeds the daemon's limit of {limits['maxBatchBytes']} bytes per request; split it")
                continue
            if len(current) >= max_pieces or current_bytes + length > limits["maxBatchBytes"]:
                batches.append(current)
                current, current_bytes = [], 0
            current.append(index)
            current_bytes += length

        if current:
            batches.append(current)

        async def one(indexes):
            wire = await self._connection.call("read", handle=number, pieces=[{"addr": pieces[i][0], "length": pieces[i][1]} for i in indexes])
            if not isinstance(wire, list) or len(wire) != len(indexes):
                raise ProtocolError("protocol", f"read of {len(indexes)} pieces got a malformed result")
            for i, piece in zip(indexes, wire):
                results[i] = _piece(piece)

        if len(batches) == 1:
            await one(batches[0])  # the common case: no task per batch
        else:
            await asyncio.gather(*(one(b) for b in batches))
        return results

    def read(self, handle, addr, length):
        """``length`` bytes at ``addr`` (shorter only at the end of a leaf); a failed piece raises."""
        [result] = self.read_many(handle, [(addr, length)])
        if isinstance(result, MemweaveError):
            raise result
        return result

    def write(self, handle, addr, data):
        """Writes ``data`` at ``addr`` (1 MiB pieces); the first failed piece raises."""
        number = _handle_number(handle)
        pieces = [{"addr": int(addr) + at, "data": bytes(data[at:at + CHUNK_BYTES])} for at in range(0, max(len(data), 1), CHUNK_BYTES)]
        limit = max(1, (self._connection.limits["maxMessageBytes"] - MESSAGE_OVERHEAD_BYTES) // (CHUNK_BYTES + PIECE_OVERHEAD_BYTES))
        for start in range(0, len(pieces), limit):
            results = self._call("write", handle=number, pieces=pieces[start:start + limit])
            for piece, result in zip(pieces[start:start + limit], results):
                if not isinstance(result, dict) or result.get("ok") is not True:
                    error = _piece(result)
                    raise make_error(error.kind, f"cannot write at {piece['addr']:#x}: {error.message}", error.origin)

    def rpc(self, handle, request):
        return self._call("rpc", handle=_handle_number(handle), request=request)

    def ping(self):
        return self._call("ping")["timeMs"]

    def watch(self, path, listener):
        """Calls ``listener(changed_path)`` (on the client's loop thread) for changes at or below
        ``path``; returns a function that stops watching."""
        async def start():
            result = await self._connection.call("watch", path=path)
            self._connection.watch_listener(result["watchId"], listener)
            return result["watchId"]

        watch_id = self._run(start())

        def stop():
            if self._connection is not None and self._connection.unwatch_listener(watch_id):
                self._call("unwatch", watchId=watch_id)
        return stop

    # -- leaf helpers -----------------------------------------------------------------------------

    def cat(self, path, max_bytes=64 << 20):
        """The whole content of a (small) leaf: info, maps, text files."""
        with self.open(path) as leaf:
            chunks, offset = [], 0
            while leaf.size is None or offset < leaf.size:
                want = CHUNK_BYTES if leaf.size is None else min(CHUNK_BYTES, leaf.size - offset)
                data = leaf.read(offset, want)
                chunks.append(data)
                offset += len(data)
                if offset > max_bytes:
                    raise make_error("too_large", f"{path!r} is larger than {max_bytes} bytes")
                if len(data) < want:
                    break
            return b"".join(chunks)

    def read_text(self, path):
        return self.cat(path).decode("utf-8")

    def read_json(self, path):
        try:
            return json.loads(self.read_text(path))
        except ValueError as err:
            raise make_error("malformed", f"{path!r} does not hold JSON: {err}") from err

    def command(self, path, line):
        """Runs one line on a control leaf (``connector/new``, ``os/rm``, ...); returns its answer."""
        with self.open(path) as leaf:
            return leaf.rpc(line)

    def open_connector(self, name, kind_args):
        """``open_connector('dump', 'file:/data/vm.elf')``: writes ``connector/new``."""
        return self.command("connector/new", f"{name} {kind_args}")

    def open_os(self, name, kind_args="linux", connector=None):
        """``open_os('g', 'linux', connector='dump')``: writes ``os/new``."""
        return self.command("os/new", f"{name} -c {connector} {kind_args}" if connector else f"{name} {kind_args}")

    def os(self, name):
        """A view of ``os/NAME``: ``node.os('g').processes()``."""
        from .views import OS
        return OS(self, name)


class Handle:
    """An open leaf. Reads, writes and rpcs go to the handle, never to the path again; when the
    object goes away they raise StaleHandle. ``with`` closes it."""

    def __init__(self, client, number, path, size, meta):
        self.client = client
        self.handle = number
        self.path = path
        self.size = size
        self.meta = meta
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"Handle({self.handle}, {self.path!r})"

    def read(self, addr, length):
        return self.client.read(self.handle, addr, length)

    def read_many(self, pieces):
        return self.client.read_many(self.handle, pieces)

    def write(self, addr, data):
        self.client.write(self.handle, addr, data)

    def rpc(self, request):
        return self.client.rpc(self.handle, request)

    def close(self):
        if not self.closed and self.client._connection is not None:
            self.closed = True
            self.client.close(self.handle)


def _handle_number(handle):
    return handle.handle if isinstance(handle, Handle) else int(handle)


def _piece(raw):
    if isinstance(raw, dict):
        if "data" in raw and isinstance(raw["data"], (bytes, bytearray)):
            return bytes(raw["data"])
        if "error" in raw:
            from .errors import from_wire
            return from_wire(raw["error"])
    raise ProtocolError("protocol", f"malformed piece result from the daemon: {raw!r:.100}")
