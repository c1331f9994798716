"""The handler side of the wire contract (protocol §5): listen on the
socket the server names, read its requests, call one function per
request and write its answer.

A handler function takes a Request and returns a Response, built with
send_clients, send_servers, send_handler or fail. It may be a plain
function, run on a pool of threads so that it may block, or an
``async def``, run on the event loop. An exception it raises, or an
exception it returns, becomes a failure answer with the exception's type
and message ("KeyError: 'text'"): the sender gets a bad report with ``handler_error`` and the
handler goes on with the next request.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import queue
import signal
import socket
import stat
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, Iterable, List, NamedTuple, Optional, Set, Union

from .codec import Codec, CodecError, get_codec
from .frames import ENVELOPE_HEADROOM, MAX_FRAME, FrameError, encode_frame, read_frame_async

__all__ = [
    "Address",
    "Sender",
    "Request",
    "Response",
    "Config",
    "HandlerFunc",
    "send_clients",
    "send_servers",
    "send_handler",
    "fail",
    "serve",
    "serve_async",
]

log = logging.getLogger("bester")

FAIL_STATUS = "1"
"""The status of a failure answer; "0" is success."""

DEFAULT_MAX_IN_FLIGHT = 256
"""Requests of one stream connection handled at once; past it the
connection stops reading, which pushes back on the server."""

DEFAULT_WORKERS = 32
"""Threads that run plain (not async) handler functions."""

SHUTDOWN_GRACE = 4.0
"""Seconds the answers under way may take once the handler is told to
stop: less than the 5 s after which the server kills it."""

IO_TIMEOUT = 30.0
"""Seconds a oneshot connection may take to send its frame, and any
connection to take an answer."""

_WRITE_HIGH_WATER = 256 << 10  # bytes buffered before a writer waits for the socket


class Address(NamedTuple):
    """A user on a server: who wrote a message. (A named tuple: made for
    every request, and cheaper than a frozen dataclass.)"""

    server: str
    user: str


class Sender(NamedTuple):
    """Who handed the message to this server: a local client (scope
    "client", name the user) or a peer server (scope "server", name the
    peer). The request's "from" on the wire, with its field names; the
    writer of a message a peer passed on is Request.origin."""

    scope: str
    name: str
    server: str


@dataclass
class Request:
    """One message for the handler.

    id is the server's id for it (None in oneshot mode); the SDK puts it
    in the answer. sender and origin are None in oneshot mode, whose frame
    carries only the data. origin is the user who wrote the message and
    their server (protocol §5, v1.1): for a local client this server and
    the sender; for a message a peer passed on, whom to answer, with
    send_servers([origin.server], ...), whose handler of the same type
    then delivers to origin.user. None when the server sends none.
    data is the client's payload.data, decoded. stopping is set once the
    handler is told to stop: long work should wait on it (a plain function
    with ``req.stopping.wait(seconds)``) and finish early.
    """

    id: Optional[int]
    type: str
    data: Any
    sender: Optional[Sender] = None
    origin: Optional[Address] = None
    codec: Optional[Codec] = None
    informer: Optional[str] = None
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)


@dataclass
class Response:
    """A handler's answer. Build it with send_clients, send_servers,
    send_handler or fail. status is a string (protocol §5): "0" is
    success, any other a failure; command is {"type": ..., "data": ...}
    or None for none."""

    status: str = "0"
    command: Optional[Dict[str, Any]] = None
    data: Any = None

    def to_message(self, request_id: Optional[int]) -> Dict[str, Any]:
        """The answer as the wire has it, with the request's id in stream
        mode. TypeError when status is not a string: the server would
        refuse the whole answer, and the sender learn nothing of why."""
        if not isinstance(self.status, str):
            raise TypeError("response status must be a string such as \"0\" or \"1\", got %r" % (self.status,))
        header: Dict[str, Any] = {"status": self.status or "0"}
        if self.command is not None:
            header["command"] = self.command
        msg: Dict[str, Any] = {"header": header, "data": self.data}
        if request_id is not None:
            msg["id"] = request_id
        return msg


HandlerResult = Union[Response, BaseException, None]
HandlerFunc = Callable[[Request], Union[HandlerResult, Awaitable[HandlerResult]]]


def _names(names: Union[str, Iterable[str]], what: str) -> list:
    if isinstance(names, str):
        return [names]
    out = list(names)
    if not all(isinstance(n, str) for n in out):
        raise TypeError("%s must be strings, got %r" % (what, out))
    return out


def send_clients(users: Union[str, Iterable[str]], data: Any) -> Response:
    """Deliver data to every connection of each user (a name or a list)
    on this server."""
    return Response(command={"type": "sendClients", "data": _names(users, "users")}, data=data)


def send_servers(peers: Union[str, Iterable[str]], data: Any) -> Response:
    """Send data to each peer server (a name or a list), whose handler of
    the same type gets it."""
    return Response(command={"type": "sendServers", "data": _names(peers, "peers")}, data=data)


def send_handler(name: str, data: Any) -> Response:
    """Make data a new request to the handler called name, from the same
    sender; that handler's answer is carried out in turn."""
    if not isinstance(name, str):
        raise TypeError("handler name must be a string, got %r" % (name,))
    return Response(command={"type": "sendHandler", "data": name}, data=data)


def fail(data: Any, status: str = FAIL_STATUS) -> Response:
    """A failure: the sender gets a bad report with handler_error, whose
    detail shows data. A status of "0" becomes "1": a failure never reads
    as success."""
    if not status or status == "0":
        status = FAIL_STATUS
    return Response(status=status, data=data)


def _failure(exc: BaseException) -> Response:
    """The failure answer for exc, led by its type's name: a KeyError's
    text is only the missing key ("'text'"), which says little without
    "KeyError: "."""
    name = type(exc).__name__
    text = str(exc)
    return fail("%s: %s" % (name, text) if text else name)


@dataclass
class Config:
    """Where and how a handler serves. from_env reads what the server
    gives a handler it starts."""

    socket: str
    mode: str = "stream"
    codec: Codec = field(default_factory=lambda: get_codec("cbor"))
    type: str = ""
    informer: Optional[str] = None
    max_frame: int = MAX_FRAME
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    workers: int = DEFAULT_WORKERS

    @classmethod
    def from_env(cls, environ: Optional[Dict[str, str]] = None) -> "Config":
        """BESTER_SOCKET, BESTER_MODE, BESTER_CODEC, BESTER_TYPE and
        BESTER_INFORMER. ValueError names what is missing or wrong;
        ImportError says that CBOR needs cbor2."""
        env = os.environ if environ is None else environ
        path = env.get("BESTER_SOCKET")
        if not path:
            raise ValueError("BESTER_SOCKET is not set: the handler does not know where to listen")
        mode = env.get("BESTER_MODE") or "stream"
        if mode not in ("stream", "oneshot"):
            raise ValueError("BESTER_MODE %r: want stream or oneshot" % mode)
        return cls(
            socket=path,
            mode=mode,
            codec=get_codec(env.get("BESTER_CODEC")),
            type=env.get("BESTER_TYPE", ""),
            informer=env.get("BESTER_INFORMER") or None,
        )


def serve(handler: HandlerFunc, config: Optional[Config] = None) -> None:
    """Run handler as the server started it, until SIGTERM or SIGINT (how
    the server stops its handlers); then answer what is under way, remove
    the socket and return. Settings come from the environment unless
    config is given. A bad environment exits with a message."""
    if not logging.getLogger().hasHandlers():
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(name)s: %(levelname)s: %(message)s")
    if config is None:
        try:
            config = Config.from_env()
        except (ValueError, ImportError) as e:
            sys.exit("bester handler: %s" % e)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve_async(handler, config, stop)

    asyncio.run(main())


async def serve_async(handler: HandlerFunc, config: Config, stop: asyncio.Event) -> None:
    """serve on the running event loop until stop is set."""
    await _Server(handler, config).run(stop)


class _Server:
    def __init__(self, handler: HandlerFunc, config: Config) -> None:
        if config.mode not in ("stream", "oneshot"):
            raise ValueError("mode %r: want stream or oneshot" % config.mode)
        self.handler = handler
        self.config = config
        # A coroutine function runs on the loop; anything else on threads.
        self.is_async = _is_coroutine_function(handler)
        self.threads: Optional[_Threads] = None if self.is_async else _Threads(handler, config.workers)
        self.stopping = threading.Event()
        self.connections: Set[asyncio.Task] = set()
        self.readers: Set[asyncio.Task] = set()

    async def run(self, stop: asyncio.Event) -> None:
        sock, ident = _bind(self.config.socket)
        server = await asyncio.start_unix_server(self._connection, sock=sock)
        try:
            await stop.wait()
        finally:
            self.stopping.set()
            server.close()
            for reader in list(self.readers):
                reader.cancel()
            if self.connections:
                _, late = await asyncio.wait(set(self.connections), timeout=SHUTDOWN_GRACE)
                if late:
                    log.warning("%d connections still answering after %.0f s; closing them", len(late), SHUTDOWN_GRACE)
                    for task in late:
                        task.cancel()
                    await asyncio.wait(late)
            await server.wait_closed()
            _remove_socket(self.config.socket, ident)
            if self.threads is not None:
                self.threads.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections.add(task)
        try:
            if self.stopping.is_set():
                return
            if self.config.mode == "oneshot":
                await self._oneshot(reader, writer)
            else:
                await _StreamConn(self, reader, writer).run()
        except Exception:
            log.exception("connection failed")
        finally:
            self.connections.discard(task)
            writer.close()

    async def _oneshot(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One frame in, whose body is the client's data; one frame out,
        without an id."""
        c = self.config
        try:
            body = await asyncio.wait_for(read_frame_async(reader, c.max_frame), IO_TIMEOUT)
        except (FrameError, OSError, asyncio.TimeoutError) as e:
            log.warning("oneshot read failed: %s", e)
            return
        if body is None:
            return  # the server checking that the handler accepts
        try:
            data = c.codec.loads(body)
        except CodecError as e:
            answer = _failure(e)
        else:
            answer = await self.answer(Request(id=None, type=c.type, data=data, codec=c.codec,
                                               informer=c.informer, stopping=self.stopping))
        writer.write(self.encode(answer, None))
        await asyncio.wait_for(writer.drain(), IO_TIMEOUT)

    async def answer(self, req: Request) -> Response:
        """The handler's answer to req; a failure for an exception."""
        try:
            if self.is_async:
                result = await self.handler(req)  # type: ignore[misc]
            else:
                assert self.threads is not None
                result = await self.threads.call(req)
                if inspect.isawaitable(result):
                    result = await result
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("handler failed on request %s", req.id)
            return _failure(e)
        if isinstance(result, Response):
            return result
        if isinstance(result, BaseException):
            return _failure(result)
        if result is None:
            return fail("handler returned no response")
        return fail("handler returned %s, not a Response" % type(result).__name__)

    def encode(self, answer: Response, request_id: Optional[int]) -> bytes:
        """The frame of answer; a failure's when answer cannot be encoded
        or is too large, so that the sender still gets a report. Any
        exception counts: the values are the handler's, and encoding may
        run their code."""
        limit = self.config.max_frame + ENVELOPE_HEADROOM
        codec = self.config.codec
        try:
            return encode_frame(codec.dumps(answer.to_message(request_id)), limit)
        except Exception as e:
            log.warning("answer to request %s not sent: %s", request_id, e)
            return encode_frame(codec.dumps(_failure(e).to_message(request_id)), limit)


class _Threads:
    """Plain handler functions on threads of their own. A finished call
    goes back to the event loop in a batch with the others that finish
    meanwhile, at the cost of one wake-up of the loop per batch rather
    than per call: under load most of a plain handler's overhead."""

    def __init__(self, handler: HandlerFunc, workers: int) -> None:
        self.handler = handler
        self.jobs: "queue.SimpleQueue[Optional[tuple[Request, asyncio.Future]]]" = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.finished: "list[tuple[asyncio.Future, Any, Optional[BaseException]]]" = []
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.threads = [threading.Thread(target=self._work, name="bester-handler-%d" % i, daemon=True)
                        for i in range(workers)]
        self.started = False

    def call(self, req: Request) -> "asyncio.Future":
        """A future of handler(req), run on a thread."""
        if not self.started:
            self.loop = asyncio.get_running_loop()
            for t in self.threads:
                t.start()
            self.started = True
        assert self.loop is not None
        fut = self.loop.create_future()
        self.jobs.put((req, fut))
        return fut

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            req, fut = job
            result, error = None, None
            try:
                result = self.handler(req)
            except BaseException as e:  # handed to the awaiting task, which decides
                error = e
            with self.lock:
                self.finished.append((fut, result, error))
                wake = len(self.finished) == 1
            if wake:
                assert self.loop is not None
                try:
                    self.loop.call_soon_threadsafe(self._deliver)
                except RuntimeError:
                    return  # the loop is closed: nobody waits any more

    def _deliver(self) -> None:
        with self.lock:
            batch, self.finished = self.finished, []
        for fut, result, error in batch:
            if fut.cancelled():
                continue
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)

    def close(self) -> None:
        """Let the threads end once their calls return; they are daemon
        threads, so one stuck in a handler does not hold up the exit."""
        for _ in self.threads:
            self.jobs.put(None)


class _StreamConn:
    """One stream connection: a reader that starts a task per request,
    at most max_in_flight at once, and answers written as they finish:
    those that finish in one turn of the event loop in one write."""

    def __init__(self, server: _Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.slots = asyncio.Semaphore(server.config.max_in_flight)
        self.tasks: Set[asyncio.Task] = set()
        self.drain_lock = asyncio.Lock()
        self.outbox: List[bytes] = []  # answers waiting for _flush

    async def run(self) -> None:
        read = asyncio.ensure_future(self._read())
        self.server.readers.add(read)
        try:
            try:
                await asyncio.shield(read)  # cancelled alone when the handler stops
            except asyncio.CancelledError:
                if not read.cancelled():
                    raise
            if self.tasks:
                await asyncio.wait(set(self.tasks))
        finally:  # also when the connection is closed by force
            self._flush()
            self.server.readers.discard(read)
            read.cancel()
            for task in self.tasks:
                task.cancel()

    async def _read(self) -> None:
        c = self.server.config
        limit = c.max_frame + ENVELOPE_HEADROOM
        while True:
            try:
                body = await read_frame_async(self.reader, limit)
            except (FrameError, OSError) as e:
                log.warning("bad frame from the server, closing the connection: %s", e)
                self.writer.close()
                return
            if body is None:
                return
            try:
                req = self._request(c.codec.loads(body))
            except (CodecError, ValueError) as e:
                # Its id is unknown, so it cannot be answered; the frame was
                # whole, so the answers under way can be, before the close
                # tells the server this one is lost.
                log.warning("unreadable request, closing the connection: %s", e)
                return
            await self.slots.acquire()
            task = asyncio.ensure_future(self._handle(req))
            self.tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        self.slots.release()

    def _request(self, msg: Any) -> Request:
        """The Request of a decoded envelope; ValueError when it has no
        usable id, since then it cannot be answered."""
        if not isinstance(msg, dict):
            raise ValueError("request is not a map")
        rid = msg.get("id")
        if not isinstance(rid, int) or isinstance(rid, bool) or rid < 0:
            raise ValueError("request id %r is not an unsigned integer" % (rid,))
        c = self.server.config
        return Request(id=rid, type=_text(msg.get("type")), data=msg.get("data"), sender=_sender(msg.get("from")),
                       origin=_address(msg.get("origin")), codec=c.codec, informer=c.informer,
                       stopping=self.server.stopping)

    async def _handle(self, req: Request) -> None:
        frame = self.server.encode(await self.server.answer(req), req.id)
        if self.writer.is_closing():
            log.warning("answer to request %s not sent: the connection is closed", req.id)
            return
        if not self.outbox:
            asyncio.get_running_loop().call_soon(self._flush)
        self.outbox.append(frame)
        transport = self.writer.transport
        if transport.get_write_buffer_size() > _WRITE_HIGH_WATER:
            async with self.drain_lock:  # one drain at a time, as Python 3.9 needs
                try:
                    await asyncio.wait_for(self.writer.drain(), IO_TIMEOUT)
                except (OSError, asyncio.TimeoutError) as e:
                    log.warning("the server does not read its answers, closing the connection: %r", e)
                    self.writer.close()

    def _flush(self) -> None:
        frames, self.outbox = self.outbox, []
        if frames and not self.writer.is_closing():
            self.writer.write(b"".join(frames))


def _text(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _sender(v: Any) -> Optional[Sender]:
    if not isinstance(v, dict):
        return None
    return Sender(scope=_text(v.get("scope")), name=_text(v.get("name")), server=_text(v.get("server")))


def _address(v: Any) -> Optional[Address]:
    if not isinstance(v, dict):
        return None
    return Address(server=_text(v.get("server")), user=_text(v.get("user")))


def _bind(path: str) -> "tuple[socket.socket, tuple[int, int]]":
    """A listening socket at path that only this user may connect to: a
    stale socket file is removed first, and the mode is set before the
    socket listens. Also the file's identity, to remove only our own."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o600)
        st = os.stat(path)
    except OSError:
        sock.close()
        raise
    return sock, (st.st_dev, st.st_ino)


def _remove_socket(path: str, ident: "tuple[int, int]") -> None:
    """Remove the socket file unless another process has bound the path
    since."""
    try:
        st = os.lstat(path)
        if (st.st_dev, st.st_ino) == ident:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _is_coroutine_function(fn: Any) -> bool:
    """Whether calling fn gives a coroutine: an async def, a partial of
    one, or an object with an async __call__."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))
