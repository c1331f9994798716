#!/usr/bin/env python3
"""A Bester handler in Python, written the way the original handlers were.

It shows that a handler can be written in any language: all it takes is a
UNIX socket, a 4-byte length prefix and JSON. It speaks the oneshot mode of
the wire contract (protocol.md section 5): for every message the server opens
a connection, writes one frame whose body is the client's data, and reads one
frame back. stream_relay.py beside it is the same relay in stream mode.

The client's data is {"to": "G" or ["G", "H"], "body": <anything>}; the answer
delivers body to those users:

    {"header": {"status": "0",
                "command": {"type": "sendClients", "data": ["G"]}},
     "data": <body>}

Bad data is answered with status "1" and the reason as data.

Run it by hand (standard library only, Python 3.8 or later):

    BESTER_SOCKET=/tmp/pyrelay.sock BESTER_CODEC=json python3 examples/python/oneshot_relay.py

and configure the handler in the server with mode "oneshot" and codec "json"
(README.md beside this file shows the block).
"""

import signal
import socketserver
import sys

import bester_handler as bh

PROGRAM = "oneshot_relay"
IO_TIMEOUT = 30  # seconds a connection may take to send its frame


class OneshotHandler(socketserver.BaseRequestHandler):
    """One connection: one frame in, one frame out."""

    def handle(self):
        conn, codec = self.request, self.server.codec
        conn.settimeout(IO_TIMEOUT)
        try:
            body = bh.read_frame(conn)
        except (OSError, EOFError, ValueError) as e:
            bh.log(PROGRAM, "bad frame: %s" % e)
            return
        if body is None:
            return  # the server checking that the handler accepts
        try:
            response = bh.relay_answer(codec.loads(body))
        except ValueError as e:  # data that does not decode, or bad data
            response = bh.failure(str(e))
        try:
            bh.write_frame(conn, codec.dumps(response))
        except OSError as e:
            bh.log(PROGRAM, "write failed: %s" % e)


class Server(bh.UnixServer):
    daemon_threads = True


def main():
    path = bh.socket_from_env(PROGRAM)
    codec = bh.codec_from_env(PROGRAM)
    # The server stops its handlers with SIGTERM: exit through the finally.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = Server(path, OneshotHandler)
    server.codec = codec
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.remove_socket()


if __name__ == "__main__":
    main()
