"""memweave: a Python client for memweave daemons (docs/protocol.md).

    import memweave
    with memweave.connect() as node:                  # the local daemon, token found like the CLI
        for p in node.os("g").processes():
            print(p.pid, p.name)
"""
from .client import Client, Entry, Handle, LeafMeta, Stat, connect
from .connection import PROTOCOL_VERSION
from .errors import (KINDS, ORIGINS, Disconnected, MemweaveError, NotFound, PermissionDenied, ProtocolError, StaleHandle, Timeout,
                     Unauthorized, Unmapped)
from .locate import default_daemon_url, default_socket_path, find_token, runtime_state_dir
from .views import OS, MapEntry, Module, Process, parse_maps

__version__ = "0.1.0"
__all__ = [
    "connect", "Client", "Handle", "Entry", "Stat", "LeafMeta", "OS", "Process", "MapEntry", "Module", "parse_maps",
    "MemweaveError", "StaleHandle", "NotFound", "Unmapped", "PermissionDenied", "Unauthorized", "Disconnected", "Timeout", "ProtocolError",
    "KINDS", "ORIGINS", "PROTOCOL_VERSION", "default_daemon_url", "default_socket_path", "find_token", "runtime_state_dir",
]
