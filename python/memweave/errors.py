"""Errors as the daemon sends them: ``{code, message}`` with
``code = origin * 1000 + kind`` (docs/protocol.md, "Errors"). Every error
raised by this package is a :class:`MemweaveError` carrying ``kind`` and
``origin`` by name; a few kinds have their own subclass to catch."""

ORIGINS = {
    "tree": 1, "mem": 2, "arch": 3, "connector": 4, "os": 5, "net": 6,
    "cli": 7, "fuse": 8, "plugin": 9, "config": 10, "node": 11,
}

KINDS = {
    "internal": 1, "not_found": 2, "invalid_argument": 3, "already_exists": 4,
    "busy": 5, "stale": 6, "io": 7, "unmapped": 8, "out_of_bounds": 9,
    "unsupported": 10, "permission": 11, "malformed": 12, "too_large": 13,
    "protocol": 14, "timeout": 15, "disconnected": 16, "unauthorized": 17,
    "version_mismatch": 18, "cancelled": 19, "not_a_branch": 20,
    "not_a_leaf": 21, "limit": 22,
}

_ORIGIN_NAMES = {n: name for name, n in ORIGINS.items()}
_KIND_NAMES = {n: name for name, n in KINDS.items()}


class MemweaveError(Exception):
    """An error from the daemon or this client: ``kind`` says what went
    wrong ('stale', 'not_found', 'unmapped', ...), ``origin`` which layer."""

    def __init__(self, kind, message, origin="net"):
        super().__init__(message)
        self.kind = kind
        self.origin = origin
        self.message = message

    @property
    def code(self):
        return ORIGINS.get(self.origin, 11) * 1000 + KINDS.get(self.kind, 1)

    def __repr__(self):
        return f"{type(self).__name__}({self.kind!r}, {self.message!r}, origin={self.origin!r})"


class StaleHandle(MemweaveError):
    """The handle's object went away (process exited, dump replaced, OS removed)."""


class NotFound(MemweaveError):
    """No such path, or a handle not open on this connection."""


class Unmapped(MemweaveError):
    """A virtual address with no mapping."""


class PermissionDenied(MemweaveError):
    """Writes disabled, or the token's role does not allow it."""


class Unauthorized(MemweaveError):
    """A bad or missing token."""


class Disconnected(MemweaveError):
    """The connection to the daemon is gone (or no daemon listens there)."""


class Timeout(MemweaveError):
    """A request took longer than the client's timeout."""


class ProtocolError(MemweaveError):
    """A message that breaks the protocol, from either side."""


_CLASSES = {
    "stale": StaleHandle, "not_found": NotFound, "unmapped": Unmapped,
    "permission": PermissionDenied, "unauthorized": Unauthorized,
    "disconnected": Disconnected, "timeout": Timeout, "protocol": ProtocolError,
    "malformed": ProtocolError,
}


def make_error(kind, message, origin="net"):
    """The exception for a kind (a subclass where there is one)."""
    return _CLASSES.get(kind, MemweaveError)(kind, message, origin)


def from_wire(error):
    """``{code, message}`` from the wire; unknown numbers become node/internal."""
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(code, int) or not isinstance(message, str):
        return ProtocolError("protocol", f"malformed error from the daemon: {error!r:.200}")
    return make_error(_KIND_NAMES.get(code % 1000, "internal"), message, _ORIGIN_NAMES.get(code // 1000, "node"))
