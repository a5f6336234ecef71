"""The protocol over one WebSocket (docs/protocol.md): hello, then
pipelined requests with ids, replies matched to them, events dispatched to
watchers. It runs on an asyncio loop in a background thread, so the
daemon's keepalive pings are answered while the caller's thread does other
things; the synchronous Client submits coroutines to it."""
import asyncio
import hashlib
import ssl
import threading

import msgpack

from .errors import Disconnected, MemweaveError, ProtocolError, Timeout, Unauthorized, from_wire, make_error
from .locate import parse_url
from .ring import Ring

try:  # websockets 10.x-13.x: the legacy client takes read_limit and max_queue
    from websockets.legacy.client import connect as _ws_connect, unix_connect as _ws_unix_connect
    _LEGACY = True
except ImportError:  # pragma: no cover - newer websockets
    from websockets import connect as _ws_connect, unix_connect as _ws_unix_connect
    _LEGACY = False
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

PROTOCOL_VERSION = {"major": 1, "minor": 1}
BIGINT_EXT = 0x42
MAX_REPLY_BYTES = 1 << 30


def _ext_hook(code, data):
    if code == BIGINT_EXT:
        return int.from_bytes(data, "big", signed=True)
    return msgpack.ExtType(code, data)


def encode(value):
    return msgpack.packb(value, use_bin_type=True)


def decode(data):
    return msgpack.unpackb(data, raw=False, ext_hook=_ext_hook, strict_map_key=False)


class Loop:
    """One event loop in a daemon thread, shared by every connection of the process."""
    _lock = threading.Lock()
    _loop = None

    @classmethod
    def get(cls):
        with cls._lock:
            if cls._loop is None or cls._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="memweave-loop", daemon=True)
                thread.start()
                cls._loop = loop
            return cls._loop


class Connection:
    """An open, greeted connection. Use :meth:`call` from the loop thread."""

    def __init__(self, ws, url, ring=None):
        self.ws = ws
        self.url = url
        self.ring = ring
        self.hello = None
        self._pending = {}
        self._next_id = 1
        self._watchers = {}
        self._closed = None
        self._slots = None
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def open(cls, url, token=None, name="python", timeout=10.0, ca_file=None, fingerprint=None, insecure=False, data_ring=True):
        kind, host, port, tls = parse_url(url)
        options = {"max_size": MAX_REPLY_BYTES, "compression": None, "ping_interval": None, "open_timeout": timeout}
        if _LEGACY:
            options.update(read_limit=4 << 20, max_queue=None)
        try:
            if kind == "unix":
                ws = await _ws_unix_connect(host, "ws://localhost/", **options)
            else:
                context = None
                if tls:
                    context = ssl.create_default_context(cafile=ca_file)
                    if fingerprint is not None or insecure:
                        # Pinned (checked below) or explicitly unchecked: no CA, no host name.
                        context.check_hostname = False
                        context.verify_mode = ssl.CERT_NONE
                ws = await _ws_connect(f"{'wss' if tls else 'ws'}://{host if ':' not in host else '[' + host + ']'}:{port}/", ssl=context, **options)
                if fingerprint is not None:
                    _check_fingerprint(ws, fingerprint, url)
        except (OSError, asyncio.TimeoutError, InvalidStatusCode) as err:
            raise _connect_error(err, url, kind) from err
        ring = _make_ring(data_ring) if kind == "unix" else None
        connection = cls(ws, url, ring)
        try:
            hello = {"version": PROTOCOL_VERSION, "client": {"name": name}}
            if token is not None:
                hello["token"] = token
            if ring is not None:
                hello.update(dataPath=ring.path, dataKey=ring.key)
            connection.hello = _check_hello(await asyncio.wait_for(connection.call("hello", **hello), timeout), url)
            if ring is not None and not ring.settle(connection.hello.get("dataRing")):
                connection.ring = None
        except BaseException:
            await connection.close()
            raise
        connection._slots = asyncio.Semaphore(connection.hello["limits"]["maxInFlight"])
        return connection

    @property
    def limits(self):
        return self.hello["limits"]

    async def call(self, op, **fields):
        if self._closed is not None:
            raise self._closed
        if self._slots is None:
            return await self._send(op, fields)
        async with self._slots:
            return await self._send(op, fields)

    async def _send(self, op, fields):
        request_id = self._next_id
        self._next_id += 1
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, op)
        if op == "read" and self.ring is not None and self.ring.active:
            # How much of the ring is free again: the mark as of sending.
            fields = {**fields, "consumed": self.ring.consumed}
        try:
            await self.ws.send(encode({"id": request_id, "op": op, **fields}))
        except ConnectionClosed as err:
            self._pending.pop(request_id, None)
            raise self._closed or Disconnected("disconnected", f"connection to {self.url} closed ({err})") from err
        return await future

    def watch_listener(self, watch_id, listener):
        self._watchers[watch_id] = listener

    def unwatch_listener(self, watch_id):
        return self._watchers.pop(watch_id, None) is not None

    async def _read_loop(self):
        reason = "closed"
        try:
            async for message in self.ws:
                if isinstance(message, str):
                    raise ProtocolError("protocol", "the daemon sent a text frame")
                self._dispatch(decode(message))
        except ConnectionClosed as err:
            reason = f"{err.code}{': ' + err.reason if err.reason else ''}" if getattr(err, "code", None) else str(err)
        except Exception as err:  # a malformed message: nothing pending can be trusted
            reason = f"malformed message from the daemon: {err}"
            await self.ws.close(1002, "malformed message")
        self._fail_all(Disconnected("disconnected", f"connection to {self.url} closed ({reason})"))

    def _dispatch(self, message):
        if not isinstance(message, dict):
            raise ProtocolError("protocol", "a message from the daemon is not a map")
        event = message.get("event")
        if event is not None:
            listener = self._watchers.get(message.get("watchId")) if event == "change" else None
            if listener is not None:
                try:
                    listener(message.get("path"))
                except Exception:  # a listener's bug must not cut the connection
                    pass
            return
        future, op = self._pending.pop(message.get("id"), (None, None))
        if future is None:
            return
        result = message.get("result")
        if op == "read" and "error" not in message and self.ring is not None:
            # Copied out now, before anything else: the daemon may reuse the space once told.
            result = self.ring.take(result, copy=not future.done())
        if future.done():
            return
        if "error" in message:
            future.set_exception(from_wire(message["error"]))
        else:
            future.set_result(result)

    def _fail_all(self, error):
        if self._closed is None:
            self._closed = error
        for future, _ in self._pending.values():
            if not future.done():
                future.set_exception(self._closed)
        self._pending.clear()
        self._watchers.clear()
        if self.ring is not None:
            self.ring.close()

    async def close(self):
        try:
            await self.ws.close(1000, "client done")
        finally:
            self._fail_all(Disconnected("disconnected", f"connection to {self.url} was closed by the client"))
            await asyncio.gather(self._reader, return_exceptions=True)


def _make_ring(option):
    """The ring to offer: True for the defaults, a dict of Ring.create arguments, False for none."""
    if option is False or option is None:
        return None
    try:
        return Ring.create(**(option if isinstance(option, dict) else {}))
    except OSError:
        return None  # no /dev/shm, say: data simply comes inline


def _check_hello(hello, url):
    if not isinstance(hello, dict) or not isinstance(hello.get("limits"), dict) or not isinstance(hello.get("version"), dict):
        raise ProtocolError("protocol", f"{url} answered hello with something that is not a memweave hello")
    if hello["version"].get("major") != PROTOCOL_VERSION["major"]:
        raise make_error("version_mismatch", f"protocol version mismatch: this client speaks 1.1, {url} speaks "
                         f"{hello['version'].get('major')}.{hello['version'].get('minor')}")
    for key in ("maxMessageBytes", "maxPieces", "maxBatchBytes", "maxInFlight"):
        if not isinstance(hello["limits"].get(key), int) or hello["limits"][key] <= 0:
            raise ProtocolError("protocol", f"hello.limits.{key} is missing")
    return hello


def _check_fingerprint(ws, expected, url):
    der = ws.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
    got = hashlib.sha256(der).hexdigest().upper()
    want = expected.upper().replace(":", "").replace("SHA256:", "").replace("SHA-256:", "")
    if got != want:
        raise Unauthorized("unauthorized", f"{url}: the certificate's fingerprint {':'.join(got[i:i + 2] for i in range(0, 64, 2))} is not the pinned one", "net")


def _connect_error(err, url, kind):
    if isinstance(err, InvalidStatusCode):
        code = err.status_code
        if code == 503:
            return make_error("busy", f"the daemon at {url} is full or shutting down")
        if code == 403:
            return make_error("permission", f"{url} refused the connection (HTTP 403)")
        return ProtocolError("protocol", f"{url} answered HTTP {code}: is it a memweave daemon?")
    if isinstance(err, asyncio.TimeoutError):
        return Timeout("timeout", f"connecting to {url} timed out")
    if isinstance(err, (FileNotFoundError, ConnectionRefusedError)):
        hint = "no socket file" if isinstance(err, FileNotFoundError) else "connection refused"
        extra = "; start one with 'memweave serve'" if kind == "unix" else ""
        return Disconnected("disconnected", f"no memweave daemon is listening on {url} ({hint}){extra}")
    return Disconnected("disconnected", f"cannot connect to {url}: {err}")
