"""The client against a socket this test writes the server's side of:
what a misbehaving or flooding server does to it."""

import socket
import struct
import time
import unittest

import bester
from bester.frames import encode_frame

from .support import codecs


def delivery(n):
    return {"header": {"messageType": "receivedMessage", "from": {"server": "J", "user": "T"}},
            "payload": {"type": "relay", "data": n}}


class Client(unittest.TestCase):
    def pair(self, codec="json", **kw):
        """A client on one end of a socket pair, and the other end."""
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        c = bester.Client(a, bester.get_codec(codec), **kw)
        self.addCleanup(c.close)
        return c, b

    def test_held_messages_bounded_and_nothing_lost(self):
        for codec in codecs(self):
            with self.subTest(codec=codec):
                c, server = self.pair(codec, max_held=3)
                enc = bester.get_codec(codec)
                for n in range(5):
                    server.sendall(encode_frame(enc.dumps(delivery(n))))
                with self.assertRaisesRegex(bester.BesterError, "too_many_held.*receive"):
                    c.report("m-1", timeout=5)
                self.assertEqual([c.receive(5).data for _ in range(5)], [0, 1, 2, 3, 4])

    def test_header_not_a_map_is_a_protocol_error(self):
        for msg in ({"header": [1], "payload": {}}, {"header": {"messageType": "statusReport"}, "payload": "x"},
                    {"header": {"messageType": "receivedMessage", "from": 7}, "payload": {}}):
            with self.subTest(msg=msg):
                c, server = self.pair()
                server.sendall(encode_frame(bester.JSON.dumps(msg)))
                with self.assertRaisesRegex(bester.BesterError, "bad_message.*not a map"):
                    c.receive(5)

    def test_message_stalled_part_way_closes_the_connection(self):
        c, server = self.pair(io_timeout=0.2)
        body = bester.JSON.dumps(delivery(1))
        server.sendall(struct.pack("<I", len(body)) + body[:5])
        with self.assertRaisesRegex(ConnectionError, "stalled part-way"):
            c.receive(5)
        server.settimeout(5)
        self.assertEqual(server.recv(1), b"", "the client closed its end")
        with self.assertRaisesRegex(ConnectionError, "stalled part-way"):
            c.receive(5)  # says why again, rather than read the rest of a frame as a new one

    def test_bad_frame_closes_the_connection(self):
        c, server = self.pair(max_frame=100)
        server.sendall(struct.pack("<I", 1 << 30))
        with self.assertRaisesRegex(ConnectionError, "bad frame.*outside"):
            c.receive(5)
        with self.assertRaisesRegex(ConnectionError, "bad frame"):
            c.receive(5)
