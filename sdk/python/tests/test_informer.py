"""The informer client against a socket this test answers on: a server
that trickles its answer must not hold a call past its timeout."""

import os
import socket
import tempfile
import threading
import time
import unittest

import bester
from bester.frames import encode_frame, read_frame


class Informer(unittest.TestCase):
    def serve_once(self, answer_frame: bytes, pause: float) -> str:
        """A socket whose first connection gets, for its first command,
        answer_frame one byte each pause seconds; its path."""
        directory = tempfile.mkdtemp(prefix="bi")
        path = os.path.join(directory, "informer.sock")
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        listener.listen(1)
        listener.settimeout(10)
        self.addCleanup(os.rmdir, directory)
        self.addCleanup(os.unlink, path)
        self.addCleanup(listener.close)

        def run():
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                read_frame(conn, 1 << 20)
                for i in range(len(answer_frame)):
                    try:
                        conn.sendall(answer_frame[i:i + 1])
                    except OSError:
                        return  # the client gave up
                    time.sleep(pause)

        t = threading.Thread(target=run)
        t.start()
        self.addCleanup(t.join, 10)
        return path

    def test_answer_in_time(self):
        path = self.serve_once(encode_frame(bester.JSON.dumps({"status": "0", "data": True})), 0)
        with bester.Informer(path, bester.JSON, timeout=5) as inf:
            self.assertTrue(inf.is_client("G"))

    def test_timeout_bounds_the_whole_call(self):
        # Each byte comes well within the timeout, the whole answer
        # (about 30 bytes, 0.1 s apart) well past it.
        frame = encode_frame(bester.JSON.dumps({"status": "0", "data": True}))
        path = self.serve_once(frame, 0.1)
        inf = bester.Informer(path, bester.JSON, timeout=0.5)
        self.addCleanup(inf.close)
        with self.assertRaisesRegex(bester.InformerError, "informer isClient: timed out"):
            inf.is_client("G")
        with self.assertRaisesRegex(bester.InformerError, "unusable"):
            inf.is_client("G")
