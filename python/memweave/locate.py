"""Finding the daemon and the token, as the memweave CLI does
(docs/protocol.md, "Transports" and "Authentication"):

- address: given, else ``$MEMWEAVE_DAEMON``, else the default unix socket
  (``$MEMWEAVE_SOCKET``, ``/run/memweave/memweave.sock`` for root,
  ``$XDG_RUNTIME_DIR/memweave.sock``, ``/tmp/memweave-UID/memweave.sock``);
- token: given, else a token file given, else ``$MEMWEAVE_TOKEN``, else for
  ``ws://`` to a loopback address the daemon's auto-token file
  ``STATE/tcp-PORT.token`` when it is a regular file owned by us.
"""
import os
import re
import stat as _stat

from .errors import MemweaveError

_LOOPBACK = re.compile(r"^(localhost|::1|127\.\d+\.\d+\.\d+|::ffff:127\.\d+\.\d+\.\d+)$", re.I)
MAX_TOKEN_FILE_BYTES = 4096  # as the daemon writes and the Node client reads them


def default_socket_path(env=None, uid=None):
    env = os.environ if env is None else env
    uid = os.getuid() if uid is None else uid
    configured = env.get("MEMWEAVE_SOCKET")
    if configured:
        return os.path.abspath(configured)
    if uid == 0:
        return "/run/memweave/memweave.sock"
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        return f"{runtime}/memweave.sock"
    return f"/tmp/memweave-{uid}/memweave.sock"


def normalize_url(given, what="daemon address"):
    """``unix:PATH``, a bare path (a unix socket), ``ws://HOST:PORT``, ``wss://HOST:PORT``."""
    if given.startswith(("/", "./", "../")):
        return "unix:" + os.path.abspath(given)
    if given.startswith("unix:") and len(given) > 5:
        return "unix:" + os.path.abspath(given[5:])
    if re.match(r"^wss?://[^/]+", given):
        return given
    raise MemweaveError("invalid_argument", f"{what} {given!r} is not unix:/PATH, ws://HOST:PORT or wss://HOST:PORT", "config")


def default_daemon_url(env=None):
    env = os.environ if env is None else env
    given = env.get("MEMWEAVE_DAEMON")
    if not given:
        return "unix:" + default_socket_path(env)
    return normalize_url(given, "MEMWEAVE_DAEMON")


def parse_url(url):
    """('unix', path, None, False) or ('tcp', host, port, tls)."""
    if url.startswith("unix:"):
        return ("unix", url[5:], None, False)
    match = re.match(r"^(wss?)://(\[[^\]]*\]|[^/:]*):(\d+)/?$", url)
    if match is None:
        raise MemweaveError("invalid_argument", f"{url!r} needs an explicit port and no path (ws://HOST:PORT)", "config")
    return ("tcp", match.group(2).strip("[]"), int(match.group(3)), match.group(1) == "wss")


def runtime_state_dir(env=None, uid=None):
    env = os.environ if env is None else env
    uid = os.getuid() if uid is None else uid
    configured = env.get("MEMWEAVE_STATE_DIR")
    if configured:
        return os.path.abspath(configured)
    if uid == 0:
        return "/run/memweave"
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        return os.path.join(runtime, "memweave")
    return f"/tmp/memweave-{uid}"


def read_token_file(path):
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read(MAX_TOKEN_FILE_BYTES + 1).strip()
    except OSError as err:
        raise MemweaveError("not_found" if isinstance(err, FileNotFoundError) else "io",
                            f"cannot read token file {path}: {err.strerror}", "config") from err
    if not token:
        raise MemweaveError("invalid_argument", f"token file {path} is empty", "config")
    return token


def _own_token_file(path):
    """The token in path if it is a regular file (not a symlink) owned by us; else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not _stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_size > MAX_TOKEN_FILE_BYTES:
            return None
        token = os.read(fd, MAX_TOKEN_FILE_BYTES).decode("utf-8", "replace").strip()
        return token or None
    finally:
        os.close(fd)


def find_token(url, token=None, token_file=None, env=None):
    """The token to present to ``url`` (None: present none)."""
    env = os.environ if env is None else env
    if token is not None:
        return token
    if token_file is not None:
        return read_token_file(token_file)
    if env.get("MEMWEAVE_TOKEN"):
        return env["MEMWEAVE_TOKEN"]
    kind, host, port, tls = parse_url(url)
    if kind != "tcp" or not _LOOPBACK.match(host):
        return None
    return _own_token_file(os.path.join(runtime_state_dir(env), f"tcp-{port}.token"))
