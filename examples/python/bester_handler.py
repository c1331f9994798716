"""What the Python handler examples share: frames, codecs, the listening
socket and the relay's answer. Standard library only; CBOR needs the cbor2
package, JSON nothing.

A frame is a 4-byte little-endian length followed by that many bytes of
JSON or CBOR, the codec the server names in BESTER_CODEC (docs/handlers.md).
"""

import json
import os
import socketserver
import stat
import struct
import sys

MAX_FRAME = 1 << 20  # largest frame body accepted, as the server's default
HEADER = struct.Struct("<I")  # the frame length: 4 bytes, little-endian


def read_exactly(conn, n):
    """Read n bytes; None if the connection ends before the first of them,
    EOFError if it ends after."""
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            if not buf:
                return None
            raise EOFError("connection closed inside a frame")
        buf += chunk
    return bytes(buf)


def read_frame(conn):
    """Read one frame body, checking its length before reading it. None
    means the connection ended cleanly, between frames."""
    header = read_exactly(conn, HEADER.size)
    if header is None:
        return None
    (n,) = HEADER.unpack(header)
    if not 1 <= n <= MAX_FRAME:
        raise ValueError("frame length %d outside 1..%d" % (n, MAX_FRAME))
    body = read_exactly(conn, n)
    if body is None:
        raise EOFError("connection closed after a frame header")
    return body


def write_frame(conn, body):
    conn.sendall(HEADER.pack(len(body)) + body)


class JSONCodec:
    """loads raises ValueError for a body that does not decode (so does
    CBORCodec's), dumps turns an answer into a frame body."""

    @staticmethod
    def loads(body):
        return json.loads(body)  # json.JSONDecodeError is a ValueError

    @staticmethod
    def dumps(obj):
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class CBORCodec:
    def __init__(self, cbor2):
        self.cbor2 = cbor2

    def loads(self, body):
        try:
            return self.cbor2.loads(body)
        except self.cbor2.CBORDecodeError as e:
            raise ValueError("undecodable CBOR: %s" % e) from e

    def dumps(self, obj):
        return self.cbor2.dumps(obj)


def codec_from_env(program):
    """The codec the server speaks to this handler (BESTER_CODEC, default
    cbor as the server's). CBOR needs the cbor2 package; without it the
    handler block must say codec = "json"."""
    name = os.environ.get("BESTER_CODEC", "cbor")
    if name == "json":
        return JSONCodec()
    if name != "cbor":
        sys.exit("%s: unknown BESTER_CODEC %r" % (program, name))
    try:
        import cbor2
    except ImportError:
        sys.exit('%s: BESTER_CODEC is cbor but the cbor2 package is not installed; '
                 'install it or set codec = "json" in the handler block' % program)
    return CBORCodec(cbor2)


def relay_answer(data):
    """The answer to the client's data {"to": "G" or ["G", "H"], "body": ...}:
    deliver body to those users. Bad data raises ValueError."""
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


def failure(reason):
    """The answer that gets the sender a bad report with handler_error."""
    return {"header": {"status": "1"}, "data": reason}


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """A thread per connection on the socket the server connects to. Only
    the handler's own user may connect: whoever can, can send messages in
    any user's name."""

    def server_bind(self):
        path = self.server_address
        try:
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)  # left behind by a previous run
        except FileNotFoundError:
            pass
        super().server_bind()
        os.chmod(path, 0o600)

    def remove_socket(self):
        try:
            os.unlink(self.server_address)
        except FileNotFoundError:
            pass


def log(program, message):
    """Write a line to standard error, which the server logs. flush: the
    line reaches the log only once written, and Python before 3.9 buffers
    standard error when it is not a terminal."""
    print("%s: %s" % (program, message), file=sys.stderr, flush=True)


def socket_from_env(program):
    path = os.environ.get("BESTER_SOCKET")
    if not path:
        sys.exit("%s: BESTER_SOCKET is not set" % program)
    return path
