"""The handler server on a real socket, with this test in the server's
place: pipelined requests, answers out of order, bad input, shutdown."""

import asyncio
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import bester
from bester.frames import encode_frame, read_frame

from .support import codecs


class Running:
    """serve_async on a loop of its own thread, until stop."""

    def __init__(self, handler, mode: str, codec: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="bh")
        self.path = os.path.join(self.dir, "h.sock")
        self.codec = bester.get_codec(codec)
        self.config = bester.Config(socket=self.path, mode=mode, codec=self.codec, type="t")
        self.loop = asyncio.new_event_loop()
        self.stop_event = None
        self.error = None
        self.sockets = []
        ready = threading.Event()

        async def main():
            self.stop_event = asyncio.Event()
            ready.set()
            await bester.serve_async(handler, self.config, self.stop_event)

        def run():
            try:
                self.loop.run_until_complete(main())
            except BaseException as e:  # reported by stop
                self.error = e
            finally:
                self.loop.close()
                ready.set()

        self.thread = threading.Thread(target=run)
        self.thread.start()
        ready.wait(5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the socket exists a moment before it listens
            with socket.socket(socket.AF_UNIX) as probe:
                if probe.connect_ex(self.path) == 0:
                    break
            time.sleep(0.01)

    def connect(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX)
        self.sockets.append(s)
        s.settimeout(10)
        s.connect(self.path)
        return s

    def request(self, s, rid, data, type="t"):
        s.sendall(encode_frame(self.codec.dumps({"id": rid, "type": type, "data": data,
                                                  "from": {"scope": "client", "name": "T", "server": "J"},
                                                  "origin": {"server": "J", "user": "T"}})))

    def answer(self, s):
        body = read_frame(s, 1 << 21)
        return None if body is None else self.codec.loads(body)

    def stop(self) -> None:
        if self.thread.is_alive():
            try:
                self.loop.call_soon_threadsafe(self.stop_event.set)
            except RuntimeError:
                pass  # the loop closed since is_alive: it was stopping already
            self.thread.join(10)
        for s in self.sockets:
            s.close()
        if self.error:
            raise self.error


class StreamMode(unittest.TestCase):
    def start(self, handler, codec="json", mode="stream") -> Running:
        r = Running(handler, mode, codec)
        self.addCleanup(r.stop)
        return r

    def test_pipelined_answers_out_of_order(self):
        async def handler(req):
            await asyncio.sleep(req.data["wait"])
            self.assertEqual((req.origin, req.sender.name, req.type), (bester.Address("J", "T"), "T", "t"))
            return bester.send_clients(["G"], req.data["wait"])

        for codec in codecs(self):
            with self.subTest(codec=codec):
                r = self.start(handler, codec)
                s = r.connect()
                r.request(s, 1, {"wait": 0.5})
                r.request(s, 2, {"wait": 0})
                first, second = r.answer(s), r.answer(s)
                self.assertEqual((first["id"], second["id"]), (2, 1))
                self.assertEqual(second, {"id": 1, "data": 0.5, "header": {
                    "status": "0", "command": {"type": "sendClients", "data": ["G"]}}})

    def test_plain_functions_run_concurrently(self):
        both = threading.Barrier(2, timeout=5)

        def handler(req):
            both.wait()  # only passes when two requests run at once
            return bester.send_servers("K", req.id)

        r = self.start(handler)
        s = r.connect()
        r.request(s, 7, None)
        r.request(s, 8, None)
        answers = sorted((a["id"], a["header"]["command"]["data"]) for a in (r.answer(s), r.answer(s)))
        self.assertEqual(answers, [(7, ["K"]), (8, ["K"])])

    def test_unencodable_answer_becomes_failure(self):
        r = self.start(lambda req: bester.send_clients("G", b"bytes have no JSON form"))
        s = r.connect()
        r.request(s, 3, None)
        a = r.answer(s)
        self.assertEqual((a["id"], a["header"]["status"]), (3, "1"))
        self.assertIn("no JSON form", a["data"])

    def test_status_not_a_string_becomes_failure(self):
        for status in (1, 0, None, b"0"):
            with self.subTest(status=status):
                r = self.start(lambda req: bester.Response(status=status, data="x"))
                s = r.connect()
                r.request(s, 4, None)
                a = r.answer(s)
                self.assertEqual((a["id"], a["header"]["status"]), (4, "1"))
                self.assertIn("TypeError: response status must be a string", a["data"])
                self.assertIn(repr(status), a["data"])

    def test_too_deep_answer_becomes_failure(self):
        def nested(req):
            v = []
            for _ in range(100000):  # far past the interpreter's recursion limit
                v = [v]
            return bester.send_clients("G", v)

        for codec in codecs(self):
            with self.subTest(codec=codec):
                r = self.start(nested, codec)
                s = r.connect()
                r.request(s, 3, None)
                a = r.answer(s)
                self.assertEqual((a["id"], a["header"]["status"]), (3, "1"))
                self.assertIn("recursion", a["data"])

    def test_too_deep_request_loses_only_itself(self):
        # The server passes JSON data nested deeper than Python's decoder
        # goes. The connection ends, but the answers under way leave first.
        def slow(req):
            time.sleep(0.3)
            return bester.send_clients("G", req.id)

        r = self.start(slow)
        s = r.connect()
        r.request(s, 1, None)
        deep = "[" * 5000 + "]" * 5000
        s.sendall(encode_frame(('{"id":2,"type":"t","data":%s}' % deep).encode()))
        self.assertEqual(r.answer(s)["id"], 1)
        self.assertIsNone(r.answer(s))  # then closed
        s = r.connect()
        r.request(s, 4, None)
        self.assertEqual(r.answer(s)["id"], 4)

    def test_bad_input_closes_only_that_connection(self):
        r = self.start(lambda req: bester.send_clients("G", req.data))
        for bad in (struct.pack("<I", 0), struct.pack("<I", (1 << 20) + (64 << 10) + 1),
                    encode_frame(b"{not json"), encode_frame(b'{"id": "x"}')):
            with self.subTest(bad=bad[:12]):
                s = r.connect()
                s.sendall(bad)
                self.assertIsNone(r.answer(s))  # closed, without an answer
        s = r.connect()
        r.request(s, 4, "still here")
        self.assertEqual(r.answer(s)["data"], "still here")

    def test_stop_answers_what_is_under_way(self):
        def handler(req):
            req.stopping.wait(30)
            return bester.send_clients("G", "cut short")

        r = Running(handler, "stream", "json")
        s = r.connect()
        r.request(s, 5, None)
        time.sleep(0.2)  # let it start; a request read later is answered as well
        self.addCleanup(r.stop)
        start = time.monotonic()
        r.loop.call_soon_threadsafe(r.stop_event.set)
        self.assertEqual(r.answer(s)["data"], "cut short")
        r.stop()
        took = time.monotonic() - start
        self.assertLess(took, 4.5)
        self.assertFalse(os.path.exists(r.path), "socket left behind")


class OneshotMode(unittest.TestCase):
    def test_one_frame_each_way_and_probe(self):
        for codec in codecs(self):
            with self.subTest(codec=codec):
                r = Running(lambda req: bester.send_clients("G", [req.id, req.type, req.data]), "oneshot", codec)
                self.addCleanup(r.stop)
                r.connect().close()  # the server's check that the handler accepts
                s = r.connect()
                s.sendall(encode_frame(r.codec.dumps({"x": 1})))
                self.assertEqual(r.answer(s), {"header": {"status": "0", "command": {
                    "type": "sendClients", "data": ["G"]}}, "data": [None, "t", {"x": 1}]})
                self.assertIsNone(r.answer(s))


class Failures(unittest.TestCase):
    def test_exception_answered_with_its_type(self):
        r = Running(lambda req: bester.send_clients("G", req.data["text"]), "stream", "json")
        self.addCleanup(r.stop)
        s = r.connect()
        r.request(s, 6, {})
        self.assertEqual(r.answer(s), {"id": 6, "header": {"status": "1"}, "data": "KeyError: 'text'"})


class Config(unittest.TestCase):
    def test_missing_cbor2_names_the_interpreter(self):
        # A real handler process whose Python cannot import cbor2.
        program = "import sys; sys.modules['cbor2'] = None; import bester; bester.serve(lambda req: None)"
        tmp = tempfile.TemporaryDirectory(prefix="bh")
        self.addCleanup(tmp.cleanup)
        env = dict(os.environ, BESTER_SOCKET=os.path.join(tmp.name, "h.sock"),
                   BESTER_CODEC="cbor", PYTHONPATH=os.path.dirname(os.path.dirname(bester.__file__)))
        done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("cbor2", done.stderr)
        self.assertIn("interpreter, %s, cannot import" % sys.executable, done.stderr)
        self.assertIn('codec = "json"', done.stderr)


    def test_from_env(self):
        c = bester.Config.from_env({"BESTER_SOCKET": "/s", "BESTER_MODE": "oneshot", "BESTER_CODEC": "json",
                                    "BESTER_TYPE": "t", "BESTER_INFORMER": "/i"})
        self.assertEqual((c.socket, c.mode, c.codec, c.type, c.informer), ("/s", "oneshot", bester.JSON, "t", "/i"))
        with self.assertRaisesRegex(ValueError, "BESTER_SOCKET"):
            bester.Config.from_env({})
        with self.assertRaisesRegex(ValueError, "BESTER_MODE"):
            bester.Config.from_env({"BESTER_SOCKET": "/s", "BESTER_MODE": "batch"})


if __name__ == "__main__":
    unittest.main()
