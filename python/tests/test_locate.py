"""Finding the daemon and the token, without a daemon: the same rules as the CLI."""
import os
import tempfile
import unittest

import memweave
from memweave.locate import default_daemon_url, find_token, normalize_url


class LocateTest(unittest.TestCase):
    def test_default_socket_paths(self):
        self.assertEqual(memweave.default_socket_path({}, 0), "/run/memweave/memweave.sock")
        self.assertEqual(memweave.default_socket_path({"XDG_RUNTIME_DIR": "/run/user/1000"}, 1000), "/run/user/1000/memweave.sock")
        self.assertEqual(memweave.default_socket_path({}, 1000), "/tmp/memweave-1000/memweave.sock")
        self.assertEqual(memweave.default_socket_path({"MEMWEAVE_SOCKET": "/x/y.sock"}, 0), "/x/y.sock")
        self.assertEqual(default_daemon_url({"MEMWEAVE_DAEMON": "/a/b.sock"}), "unix:/a/b.sock")
        self.assertEqual(normalize_url("ws://127.0.0.1:7001"), "ws://127.0.0.1:7001")
        with self.assertRaises(memweave.MemweaveError) as caught:
            normalize_url("http://x")
        self.assertEqual(caught.exception.kind, "invalid_argument")

    def test_token_order_and_the_auto_token_file(self):
        with tempfile.TemporaryDirectory() as state:
            env = {"MEMWEAVE_STATE_DIR": state}
            path = os.path.join(state, "tcp-7123.token")
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write("ab" * 32 + "\n")
            self.assertEqual(find_token("ws://127.0.0.1:7123", env=env), "ab" * 32)
            self.assertEqual(find_token("ws://localhost:7123", env=env), "ab" * 32)
            self.assertIsNone(find_token("ws://10.1.2.3:7123", env=env), "never for another host")
            self.assertIsNone(find_token("ws://127.0.0.1:7124", env=env), "another port's file")
            self.assertIsNone(find_token("unix:/x.sock", env=env), "unix sockets need no token")
            self.assertEqual(find_token("ws://127.0.0.1:7123", token="given", env=env), "given")
            self.assertEqual(find_token("ws://127.0.0.1:7123", env={**env, "MEMWEAVE_TOKEN": "from-env"}), "from-env")
            os.symlink(path, os.path.join(state, "tcp-7125.token"))
            self.assertIsNone(find_token("ws://127.0.0.1:7125", env=env), "a symlink is not followed")
            empty = os.path.join(state, "empty")
            open(empty, "w").close()
            with self.assertRaises(memweave.MemweaveError):
                find_token("ws://127.0.0.1:7123", token_file=empty, env=env)

    def test_error_codes_split_into_origin_and_kind(self):
        from memweave.errors import from_wire
        error = from_wire({"code": 1006, "message": "stale handle 3"})
        self.assertIsInstance(error, memweave.StaleHandle)
        self.assertEqual((error.origin, error.kind, error.code), ("tree", "stale", 1006))
        unknown = from_wire({"code": 99999, "message": "?"})
        self.assertEqual((unknown.origin, unknown.kind), ("node", "internal"))


if __name__ == "__main__":
    unittest.main()
