"""The shared data ring of protocol 1.1 (docs/protocol.md, "The shared data
ring"): a file on tmpfs this client creates and offers at hello; the daemon
then writes big read replies into it and sends ring positions instead of
bytes. Pieces are copied out as each reply arrives, and the consumed mark
goes back to the daemon with the next read request."""
import os
import secrets

from .errors import ProtocolError

MAGIC = b"memweave-ring-1\n"
KEY_BYTES = 32
HEADER_BYTES = 4096
DEFAULT_DIR = "/dev/shm"
DEFAULT_BYTES = 64 << 20


class Ring:
    def __init__(self, fd, path, key, size):
        self.fd = fd
        self.path = path
        self.key = key
        self.size = size
        self.capacity = 0
        self.epoch = 0
        self.consumed = 0
        self.pieces = 0
        self.bytes = 0
        self._linked = True

    @classmethod
    def create(cls, directory=DEFAULT_DIR, size=DEFAULT_BYTES):
        """A new ring file (0600, ours, O_EXCL); raises OSError when it cannot be made."""
        path = os.path.join(directory, f"memweave-{os.getpid()}-{secrets.token_hex(8)}")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        ring = cls(fd, path, secrets.token_bytes(KEY_BYTES), size)
        try:
            os.fchmod(fd, 0o600)
            os.ftruncate(fd, size)
            header = MAGIC + ring.key
            if os.pwrite(fd, header, 0) != len(header):
                raise OSError("short write of the ring header")
        except OSError:
            ring.close()
            raise
        return ring

    @property
    def active(self):
        return self.capacity > 0 and self.fd is not None

    def settle(self, answer):
        """Takes the daemon's hello answer; the file name goes either way. True when in use."""
        self._unlink()
        if isinstance(answer, dict) and answer.get("accepted") is True:
            if answer.get("sizeBytes") != self.size:
                raise ProtocolError("protocol", f"the daemon accepted a data ring of {answer.get('sizeBytes')} bytes, but {self.size} were offered")
            self.capacity = self.size - HEADER_BYTES
            self.epoch = (2 ** 32 // self.capacity) * self.capacity
            return True
        self.close()
        return False

    def take(self, result, copy=True):
        """Replaces the ``{ring, length}`` pieces of a read result by ``{data}`` copies, moving the consumed mark."""
        if not isinstance(result, list) or not self.active:
            return result
        end = None
        out = result
        for index, piece in enumerate(result):
            if not isinstance(piece, dict) or "ring" not in piece:
                continue
            position, length = piece.get("ring"), piece.get("length")
            if not isinstance(position, int) or not isinstance(length, int) or not 0 <= position < self.epoch or not 0 <= length <= self.capacity:
                raise ProtocolError("protocol", f"read result[{index}] is not a ring position")
            offset = position % self.capacity
            if offset + length > self.capacity:
                raise ProtocolError("protocol", f"read result[{index}] runs past the end of the data ring")
            if copy:
                data = os.pread(self.fd, length, HEADER_BYTES + offset)
                if len(data) != length:
                    raise ProtocolError("protocol", f"the data ring held {len(data)} of {length} bytes")
                if out is result:
                    out = list(result)
                out[index] = {"data": data}
                self.pieces += 1
                self.bytes += length
            end = (position + length) % self.epoch
        if end is not None:
            self.consumed = end
        return out

    def _unlink(self):
        if self._linked:
            self._linked = False
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def close(self):
        self._unlink()
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)
