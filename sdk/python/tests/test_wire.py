"""Frames and codecs."""

import socket
import struct
import unittest

import bester
from bester.frames import FrameError, encode_frame, read_frame

from .support import codecs


class Frames(unittest.TestCase):
    def pair(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        return a, b

    def test_round_trip_and_clean_end(self):
        a, b = self.pair()
        a.sendall(encode_frame(b"x") + encode_frame(b"y" * 70000))
        a.shutdown(socket.SHUT_WR)
        self.assertEqual(read_frame(b, 1 << 20), b"x")
        self.assertEqual(read_frame(b, 1 << 20), b"y" * 70000)
        self.assertIsNone(read_frame(b, 1 << 20))

    def test_lengths_checked_before_reading(self):
        for n in (0, 1001):
            with self.subTest(length=n):
                a, b = self.pair()
                a.sendall(struct.pack("<I", n))  # no body follows: it must not be waited for
                with self.assertRaisesRegex(FrameError, "outside 1..1000"):
                    read_frame(b, 1000)

    def test_cut_short(self):
        a, b = self.pair()
        a.sendall(struct.pack("<I", 10) + b"abc")
        a.shutdown(socket.SHUT_WR)
        with self.assertRaises(FrameError):
            read_frame(b, 1000)

    def test_encode_refuses_empty_and_large(self):
        with self.assertRaises(FrameError):
            encode_frame(b"")
        with self.assertRaises(FrameError):
            encode_frame(b"x" * 11, limit=10)


class Codecs(unittest.TestCase):
    def test_values_keep_their_kind(self):
        value = {"n": -7, "big": 1 << 60, "f": 1.5, "s": "hallo wêreld", "l": [None, True], "m": {}}
        for name in codecs(self):
            with self.subTest(codec=name):
                c = bester.get_codec(name)
                self.assertEqual(c.loads(c.dumps(value)), value)

    def test_errors(self):
        for name in codecs(self):
            with self.subTest(codec=name):
                c = bester.get_codec(name)
                with self.assertRaises(bester.CodecError):
                    c.loads(b"{" if name == "json" else b"\x82\x01")  # cut short
                with self.assertRaises(bester.CodecError):
                    c.dumps({"x": object()})
        with self.assertRaises(bester.CodecError):
            bester.JSON.dumps(float("nan"))  # no JSON form
        with self.assertRaises(bester.CodecError):
            bester.JSON.dumps(b"bytes")
        with self.assertRaises(ValueError):
            bester.get_codec("auto")


if __name__ == "__main__":
    unittest.main()
