"""The client against a real daemon serving a real guest dump (started by
test/python-client.test.ts, which passes where it listens in the
environment), checked against the fixture's truth.json: the same processes,
maps and memory patterns the TypeScript tests read."""
import json
import os
import threading
import unittest

import memweave

ENV = os.environ
UNIX = ENV.get("MEMWEAVE_TEST_UNIX")
TCP = ENV.get("MEMWEAVE_TEST_TCP")
TOKEN_FILE = ENV.get("MEMWEAVE_TEST_TOKEN_FILE")
DUMP = ENV.get("MEMWEAVE_TEST_DUMP")
OS_NAME = ENV.get("MEMWEAVE_TEST_OS", "g")
TRUTH = None
if ENV.get("MEMWEAVE_TEST_TRUTH"):
    with open(ENV["MEMWEAVE_TEST_TRUTH"]) as truth_file:
        TRUTH = json.load(truth_file)


@unittest.skipIf(UNIX is None or TRUTH is None, "no daemon to test against (run through test/python-client.test.ts)")
class DaemonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = memweave.connect(UNIX, token_file=TOKEN_FILE, timeout=120)
        cls.os = cls.node.os(OS_NAME)

    @classmethod
    def tearDownClass(cls):
        cls.node.close()

    def test_hello_reports_version_and_limits(self):
        info = self.node.server_info
        self.assertEqual(info["version"]["major"], memweave.PROTOCOL_VERSION["major"])
        for key in ("maxMessageBytes", "maxPieces", "maxBatchBytes", "maxInFlight"):
            self.assertGreater(info["limits"][key], 0)
        self.assertIsInstance(self.node.ping(), (int, float))

    def test_ls_and_stat(self):
        self.assertIn(OS_NAME, [e.name for e in self.node.ls("os")])
        entries = {e.name: e for e in self.node.ls(f"os/{OS_NAME}")}
        self.assertEqual(entries["processes"].type, "branch")
        stat = self.node.stat(f"os/{OS_NAME}/processes/by-pid/1/mem")
        self.assertEqual((stat.type, stat.meta.content, stat.meta.readable), ("leaf", "mem", True))
        with self.assertRaises(memweave.NotFound) as caught:
            self.node.ls("no/such/path")
        self.assertEqual(caught.exception.kind, "not_found")

    def test_processes_are_the_guests(self):
        listed = {p.pid: p.name for p in self.os.processes()}
        for truth in TRUTH["processes"]:
            self.assertEqual(listed.get(truth["pid"]), truth["name"], f"pid {truth['pid']}")

    def test_process_info(self):
        for truth in TRUTH["processes"]:
            if truth["kernelThread"]:
                continue
            info = self.os.process(truth["pid"]).info()
            self.assertEqual((info["pid"], info["ppid"], info["name"], info["cmdline"]), (truth["pid"], truth["ppid"], truth["name"], truth["cmdline"]))

    def test_memory_patterns(self):
        # Every pattern mw-pattern put in data, heap, mmap and stack memory reads back exactly.
        self.assertGreater(len(TRUTH["patterns"]), 0)
        for pattern in TRUTH["patterns"]:
            with self.os.process(pattern["pid"]) as proc:
                data = proc.read(int(pattern["address"], 16), pattern["length"])
                self.assertEqual(data.hex(), pattern["bytes"], f"{pattern['kind']} pattern of pid {pattern['pid']}")

    def test_read_many_gives_a_result_per_piece(self):
        pattern = next(p for p in TRUTH["patterns"] if p["kind"] == "heap")
        addr = int(pattern["address"], 16)
        with self.node.open(f"os/{OS_NAME}/processes/by-pid/{pattern['pid']}/mem") as mem:
            results = mem.read_many([(addr, 16), (0x10, 16), (addr + 16, 16)])
        self.assertEqual(results[0].hex(), pattern["bytes"][:32])
        self.assertIsInstance(results[1], memweave.Unmapped)
        self.assertEqual(results[1].kind, "unmapped")
        self.assertEqual(results[2].hex(), pattern["bytes"][32:64])
        with self.os.process(pattern["pid"]) as proc, self.assertRaises(memweave.Unmapped):
            proc.read(0x10, 16)

    def test_batches_beyond_the_piece_limit_are_split(self):
        pattern = next(p for p in TRUTH["patterns"] if p["kind"] == "data")
        addr = int(pattern["address"], 16)
        limit = self.node.server_info["limits"]["maxPieces"]
        with self.os.process(pattern["pid"]) as proc:
            results = proc.read_many([(addr + (i % 64), 1) for i in range(limit + 10)])
        self.assertEqual(len(results), limit + 10)
        expected = bytes.fromhex(pattern["bytes"])
        self.assertTrue(all(r == expected[i % 64:i % 64 + 1] for i, r in enumerate(results)))

    def test_maps_are_the_guests(self):
        for pid, text in TRUTH["maps"].items():
            proc = self.os.process(int(pid))
            self.assertEqual(proc.maps(), memweave.parse_maps(text), f"maps of pid {pid}")

    def test_module_base_is_where_the_image_is_mapped(self):
        for pid, text in TRUTH["maps"].items():
            libc = [m for m in memweave.parse_maps(text) if m.path.endswith("/libc.so.6")]
            if not libc:
                continue
            module = self.os.process(int(pid)).module("libc.so.6")
            self.assertEqual(module.base, min(m.start for m in libc))
            self.assertTrue(module.path.endswith("libc.so.6"))
            header = self.os.process(int(pid)).read(module.base, 4)
            self.assertEqual(header, b"\x7fELF")
            return
        self.skipTest("no process of the fixture maps libc.so.6")

    def test_handles_close_with_the_context_manager(self):
        with self.node.open(f"os/{OS_NAME}/info") as leaf:
            number = leaf.handle
            self.assertEqual(json.loads(leaf.read(0, leaf.size))["kind"], "linux")
        with self.assertRaises(memweave.NotFound):
            self.node.read(number, 0, 16)

    def test_writes_are_refused_without_allow_write(self):
        with self.os.process(1) as proc, self.assertRaises(memweave.PermissionDenied) as caught:
            self.node.write(proc._handle(), 0x400000, b"x")
        self.assertEqual(caught.exception.kind, "permission")

    def test_a_removed_os_makes_its_handles_stale(self):
        pattern = next(p for p in TRUTH["patterns"] if p["kind"] == "data")
        self.node.open_connector("py-dump", f"file:{DUMP}")
        try:
            self.node.open_os("py-g", "linux", connector="py-dump")
            proc = self.node.os("py-g").process(pattern["pid"])
            self.assertEqual(proc.read(int(pattern["address"], 16), 8), bytes.fromhex(pattern["bytes"][:16]))
            with self.assertRaises(memweave.MemweaveError) as busy:
                self.node.command("os/rm", "py-g")
            self.assertEqual(busy.exception.kind, "busy", "an OS with open handles is not removed without -f")
            self.node.command("os/rm", "py-g -f")
            with self.assertRaises(memweave.StaleHandle) as caught:
                proc.read(int(pattern["address"], 16), 8)
            self.assertEqual(caught.exception.kind, "stale")
            proc.close()
        finally:
            self.node.command("connector/rm", "py-dump -f")

    def test_control_lines_report_refusals_with_their_kind(self):
        with self.assertRaises(memweave.MemweaveError) as caught:
            self.node.open_os("py-bad", "linux", connector="no-such-connector")
        self.assertEqual(caught.exception.kind, "not_found")

    def test_watch_reports_a_new_connector(self):
        changed = threading.Event()
        stop = self.node.watch("connector", lambda path: changed.set())
        try:
            self.node.open_connector("py-watch", f"file:{DUMP}")
            self.assertTrue(changed.wait(30), "a change event arrives")
        finally:
            stop()
            self.node.command("connector/rm", "py-watch -f")

    def test_large_reads_match_small_ones(self):
        with self.node.open("connector/dump/mem") as mem:
            whole = mem.read(0x100000, 1 << 20)
            parts = mem.read_many([(0x100000 + i * 65536, 65536) for i in range(16)])
        self.assertEqual(len(whole), 1 << 20)
        self.assertEqual(whole, b"".join(parts))

    def test_big_reads_come_through_the_shared_ring(self):
        with memweave.connect(UNIX, token_file=TOKEN_FILE) as ringed, memweave.connect(UNIX, token_file=TOKEN_FILE, data_ring=False) as inline:
            self.assertTrue(ringed.data_ring["active"], "the daemon accepted the ring")
            self.assertFalse(inline.data_ring["active"])
            with ringed.open("connector/dump/mem") as a, inline.open("connector/dump/mem") as b:
                for i in range(24):  # more than the 64 MiB ring holds: positions wrap
                    addr = 0x100000 + i * (3 << 20)
                    self.assertEqual(a.read(addr, 3 << 20), b.read(addr, 3 << 20), f"read {i}")
            self.assertGreaterEqual(ringed.data_ring["bytes"], 24 * (3 << 20))

    @unittest.skipIf(TCP is None, "no TCP listener")
    def test_tcp_finds_the_token_like_the_cli(self):
        # Given no token (the runner sets none), a loopback daemon's auto-token file in the state directory.
        if TOKEN_FILE is None:
            port = int(TCP.rsplit(":", 1)[1].strip("/"))
            path = os.path.join(memweave.runtime_state_dir(), f"tcp-{port}.token")
            self.assertTrue(os.path.isfile(path), f"the daemon wrote its auto token to {path}")
            with open(path) as f:
                self.assertEqual(memweave.find_token(TCP), f.read().strip())
        with memweave.connect(TCP, token_file=TOKEN_FILE) as node:
            self.assertIn(OS_NAME, [e.name for e in node.ls("os")])
            self.assertFalse(node.data_ring["active"], "no data ring over TCP")
        with self.assertRaises(memweave.Unauthorized) as caught:
            memweave.connect(TCP, token="not-the-token")
        self.assertEqual(caught.exception.kind, "unauthorized")

    def test_no_daemon_is_a_clear_error(self):
        with self.assertRaises(memweave.Disconnected) as caught:
            memweave.connect("unix:/nonexistent/memweave.sock")
        self.assertIn("memweave serve", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
