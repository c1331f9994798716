#!/usr/bin/env python3
"""The relay handler in Python, in stream mode.

The server keeps a few connections open to the handler and writes requests
on them without waiting for answers. Each request carries an id; the
handler answers each once, with that id, on the connection it came on,
whenever it is done, so answers may overtake each other. Here each
connection has a thread that reads its requests in order, a pool of threads
works on them, and each answer is written as soon as it is ready.

A request and its answer:

    {"id": 17, "type": "pyrelay",
     "from": {"scope": "client", "name": "T", "server": "J"},
     "data": {"to": "G", "body": "hello"}}

    {"id": 17,
     "header": {"status": "0", "command": {"type": "sendClients", "data": ["G"]}},
     "data": "hello"}

The data is that of oneshot_relay.py, {"to": "G" or ["G", "H"], "body": ...},
with an optional "delay": seconds (at most 10) to wait before answering, to
watch a later message's answer overtake it. Bad data is answered with status
"1" and the reason.

On SIGTERM (how the server stops its handlers) or SIGINT it stops accepting
and reading, cuts delays short, writes the answers under way, removes its
socket and exits with status 0.

JSON needs nothing but the standard library (codec = "json" in the handler
block); with the cbor2 package installed it also speaks CBOR, the server's
default codec. Python 3.8 or later. Run it by hand:

    BESTER_SOCKET=/tmp/pyrelay.sock BESTER_CODEC=json python3 examples/python/stream_relay.py

README.md beside this file shows the handler block.
"""

import concurrent.futures
import signal
import socket
import socketserver
import sys
import threading
import traceback

import bester_handler as bh

PROGRAM = "stream_relay"
WORKERS = 32  # requests worked on at once, over all connections
MAX_PENDING = 256  # requests read from one connection and not yet answered
MAX_DELAY = 10  # seconds: the longest "delay" a message may ask for
# Seconds the answers under way may take once the handler stops: less than
# the 5 s after which the server kills a handler that has not exited.
DRAIN_TIMEOUT = 4


def answer(data, stopping):
    """The answer to one request's data; ValueError for bad data."""
    if isinstance(data, dict) and "delay" in data:
        delay = data["delay"]
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= MAX_DELAY:
            raise ValueError('"delay" must be a number of seconds from 0 to %d' % MAX_DELAY)
        stopping.wait(delay)  # ends early when the handler stops
    return bh.relay_answer(data)


class Connection(socketserver.BaseRequestHandler):
    """One of the server's connections. Its thread reads the requests and
    hands them to the pool; MAX_PENDING unanswered ones make it stop
    reading until one is answered."""

    def setup(self):
        self.write_lock = threading.Lock()  # one frame at a time
        self.slots = threading.BoundedSemaphore(MAX_PENDING)
        self.answered = threading.Condition()
        self.pending = 0
        self.server.track(self.request)

    def handle(self):
        try:
            self.read_requests()
        finally:
            # socketserver closes the connection when handle returns.
            with self.answered:
                self.answered.wait_for(lambda: self.pending == 0, timeout=DRAIN_TIMEOUT)
            self.server.untrack(self.request)

    def read_requests(self):
        while True:
            try:
                body = bh.read_frame(self.request)
            except (OSError, EOFError, ValueError) as e:
                bh.log(PROGRAM, "bad frame, closing the connection: %s" % e)
                return
            if body is None:
                return  # closed by the server, or shut for reading on stop
            try:
                request = self.server.codec.loads(body)
                rid = request["id"]
            except (ValueError, TypeError, KeyError) as e:
                bh.log(PROGRAM, "request without a readable id, closing the connection: %s" % e)
                return
            self.slots.acquire()
            with self.answered:
                self.pending += 1
            self.server.pool.submit(self.work, rid, request.get("data"))

    def work(self, rid, data):
        codec = self.server.codec
        try:
            try:
                body = codec.dumps(dict(answer(data, self.server.stopping), id=rid))
            except ValueError as e:
                body = codec.dumps(dict(bh.failure(str(e)), id=rid))
            except Exception as e:  # a bug: this sender gets handler_error, the handler goes on
                traceback.print_exc(file=sys.stderr)
                sys.stderr.flush()
                body = codec.dumps(dict(bh.failure("internal error: %s" % e), id=rid))
            with self.write_lock:
                bh.write_frame(self.request, body)
        except OSError as e:
            bh.log(PROGRAM, "answer to request %s not written: %s" % (rid, e))
        finally:
            self.slots.release()
            with self.answered:
                self.pending -= 1
                self.answered.notify_all()


class Server(bh.UnixServer):
    # server_close waits for the connections' threads, and so for the
    # answers under way.
    daemon_threads = False
    block_on_close = True

    def __init__(self, path, codec):
        self.codec = codec
        self.pool = concurrent.futures.ThreadPoolExecutor(WORKERS)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.connections = set()
        super().__init__(path, Connection)

    def track(self, sock):
        with self.lock:
            self.connections.add(sock)
            if self.stopping.is_set():  # accepted while stopping
                shut_for_reading(sock)

    def untrack(self, sock):
        with self.lock:
            self.connections.discard(sock)

    def stop_reading(self):
        """Stop reading requests: each connection's reader sees the end
        of its stream, then waits for its answers."""
        with self.lock:
            self.stopping.set()
            for sock in self.connections:
                shut_for_reading(sock)


def shut_for_reading(sock):
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass  # already closed


def main():
    path = bh.socket_from_env(PROGRAM)
    server = Server(path, bh.codec_from_env(PROGRAM))

    def stop(signum, frame):
        # shutdown waits for serve_forever to return, and serve_forever
        # runs in this thread: ask from another.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.stop_reading()
        server.remove_socket()
        server.server_close()  # returns once every connection is done
        server.pool.shutdown()


if __name__ == "__main__":
    main()
