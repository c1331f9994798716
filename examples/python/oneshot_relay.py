#!/usr/bin/env python3
"""A Bester handler in Python, written the way the original handlers were.

It shows that a handler can be written in any language: all it takes is a
UNIX socket, a 4-byte length prefix and JSON. It speaks the oneshot mode of
the wire contract (protocol.md section 5): for every message the server opens
a connection, writes one frame whose body is the client's data, and reads one
frame back.

The client's data is {"to": "G" or ["G", "H"], "body": <anything>}; the answer
delivers body to those users:

    {"header": {"status": "0",
                "command": {"type": "sendClients", "data": ["G"]}},
     "data": <body>}

Bad data is answered with status "1" and the reason as data.

Run it by hand (standard library only, Python 3.8 or later):

    BESTER_SOCKET=/tmp/pyrelay.sock python3 examples/python/oneshot_relay.py

and configure the handler in the server with mode "oneshot" and codec "json".
"""

import json
import os
import signal
import socketserver
import stat
import struct
import sys

MAX_FRAME = 1 << 20  # largest frame body accepted, as the server's default
IO_TIMEOUT = 30  # seconds a connection may take to send its frame
HEADER = struct.Struct("<I")  # the frame length: 4 bytes, little-endian


class Closed(Exception):
    """The connection ended before its first byte: the server checking
    that the handler accepts, not an error."""


def read_exactly(conn, n, first=False):
    """Read n bytes, or raise EOFError if the connection ends first."""
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            if first and not buf:
                raise Closed()
            raise EOFError("connection closed inside a frame")
        buf += chunk
    return bytes(buf)


def read_frame(conn):
    """Read one frame, checking its length before reading the body."""
    (n,) = HEADER.unpack(read_exactly(conn, HEADER.size, first=True))
    if not 1 <= n <= MAX_FRAME:
        raise ValueError("frame length %d outside 1..%d" % (n, MAX_FRAME))
    return read_exactly(conn, n)


def write_frame(conn, obj):
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    conn.sendall(HEADER.pack(len(body)) + body)


def answer(data):
    """Build the response to the client's data."""
    if not isinstance(data, dict):
        raise ValueError("data is not an object")
    to = data.get("to")
    if isinstance(to, str):
        to = [to]
    if not to or not all(isinstance(u, str) for u in to):
        raise ValueError('"to" must name a user or a list of users')
    return {
        "header": {"status": "0", "command": {"type": "sendClients", "data": to}},
        "data": data.get("body"),
    }


class OneshotHandler(socketserver.BaseRequestHandler):
    """One connection: one frame in, one frame out."""

    def handle(self):
        conn = self.request
        conn.settimeout(IO_TIMEOUT)
        try:
            body = read_frame(conn)
        except Closed:
            return
        except (OSError, EOFError, ValueError) as e:
            print("oneshot_relay: bad frame: %s" % e, file=sys.stderr)
            return
        try:
            response = answer(json.loads(body))
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            response = {"header": {"status": "1"}, "data": str(e)}
        try:
            write_frame(conn, response)
        except OSError as e:
            print("oneshot_relay: write failed: %s" % e, file=sys.stderr)


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def server_bind(self):
        path = self.server_address
        try:
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)  # left behind by a previous run
        except FileNotFoundError:
            pass
        super().server_bind()
        os.chmod(path, 0o600)  # only our user may send messages


def main():
    path = os.environ.get("BESTER_SOCKET")
    if not path:
        sys.exit("oneshot_relay: BESTER_SOCKET is not set")
    # The server stops its handlers with SIGTERM: exit through the finally.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = Server(path, OneshotHandler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


if __name__ == "__main__":
    main()
