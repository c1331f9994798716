"""The client side of the wire contract (protocol §3-4): connect, log
in, send messages and wait for their reports, receive deliveries.

>>> with Client.connect("127.0.0.1:2223", "T") as c:
...     report = c.call("relay", {"to": "G", "body": "hello"})
...     report.raise_for_error()

A password travels without TLS only over a UNIX socket or to a loopback
address (127.0.0.0/8, ::1, localhost); anywhere else connect refuses
before it leaves, unless insecure_plaintext allows it.
"""

from __future__ import annotations

import collections
import ipaddress
import itertools
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Deque, List, Optional, Set, Union

from .codec import Codec, CodecError, default_codec, get_codec
from .frames import ENVELOPE_HEADROOM, MAX_FRAME, FrameError, encode_frame, read_frame
from .handler import Address

__all__ = ["Client", "Report", "Delivery", "Dummy", "BesterError", "AUTH_ID", "MAX_HELD"]

AUTH_ID = "auth_special"
"""The id of the report that answers the login."""

CONNECT_TIMEOUT = 10.0

IO_TIMEOUT = 30.0
"""Seconds a write, or the rest of a frame once its first byte is in, may
take: the server is not reading, or has stalled, past it. A frame that
stalls part-way leaves the stream out of step, so the client closes the
connection then."""

MAX_HELD = 10000
"""Messages report, delivery and ping set aside for later while waiting
for another: past it they raise instead of reading more, so a flood of
deliveries nobody reads cannot exhaust memory."""


class BesterError(Exception):
    """A bad status report: code is the server's error code
    (handler_error, undelivered, unauthorized...), detail its text."""

    def __init__(self, code: str, detail: str = "", report: Optional["Report"] = None) -> None:
        super().__init__("%s: %s" % (code, detail) if detail else code)
        self.code = code
        self.detail = detail
        self.report = report


@dataclass
class Report:
    """The server's status report on one message (statusReport)."""

    id: str
    status: str
    error: str = ""
    detail: str = ""
    undelivered: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "good"

    def raise_for_error(self) -> "Report":
        """Raise BesterError for a bad report; return self for a good one."""
        if not self.ok:
            code = self.error or ("unauthorized" if self.id == AUTH_ID else "bad")
            raise BesterError(code, self.detail, self)
        return self


@dataclass
class Delivery:
    """A handler's output delivered to this user (receivedMessage).
    sender is the wire's header.from: the user who wrote the message and
    their server, the same Address as the origin of the handler's Request
    (not its Request.sender, which is whoever handed the message on)."""

    type: str
    data: Any
    sender: Address


@dataclass
class Dummy:
    """The answer to a dummy message: a ping's echo."""

    id: str


Message = Union[Report, Delivery, Dummy]


class Client:
    """One logged-in connection. send may be called from any thread;
    receive, report and call from one at a time."""

    def __init__(self, sock: socket.socket, codec: Codec, max_frame: int = MAX_FRAME,
                 max_held: int = MAX_HELD, io_timeout: float = IO_TIMEOUT) -> None:
        """Wrap a connected socket; connect does this and logs in."""
        self.codec = codec
        self.max_frame = max_frame
        self.max_held = max_held
        self.io_timeout = io_timeout
        # One timeout for every operation, since sends and receives may run
        # at once in different threads; a receive's own timeout is a wait
        # for the socket to become readable (_readable).
        sock.settimeout(io_timeout)
        self._sock = sock
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()
        self._held: Deque[Message] = collections.deque()  # read while looking for something else
        self._ids = itertools.count(1)
        # Ids sent whose report the caller has not been handed yet: a
        # second message with one of them would make the reports ambiguous.
        self._unreported: Set[str] = set()
        self._ids_lock = threading.Lock()
        self._broken: Optional[str] = None  # why reading stopped, once the stream is out of step

    @classmethod
    def connect(cls, address: str, username: Optional[str], password: str = "", *, codec: Union[str, Codec, None] = None,
                tls: Optional[ssl.SSLContext] = None, server_hostname: Optional[str] = None,
                timeout: float = CONNECT_TIMEOUT, max_frame: int = MAX_FRAME,
                insecure_plaintext: bool = False, max_held: int = MAX_HELD,
                io_timeout: float = IO_TIMEOUT) -> "Client":
        """Connect to address ("host:port", "[::1]:port", or a UNIX socket
        path, which contains a "/"), log in as username and wait for the
        server's good report. A username of None sends no credentials: the
        client certificate of tls names the user (a listener with login =
        "certificate"). codec is "cbor", "json" or None for CBOR when
        cbor2 is installed, else JSON. BesterError when the login is
        refused; OSError when the connection fails. max_held and io_timeout
        are the Client's (see report and receive)."""
        if isinstance(codec, Codec):
            chosen = codec
        else:
            chosen = default_codec() if codec is None else get_codec(codec)
        if "/" in address:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(address)
            except OSError:
                sock.close()
                raise
        else:
            host, port = _split_host_port(address)
            if tls is None and password and not insecure_plaintext and not _is_loopback(host):
                raise BesterError("password_in_clear", "refusing to send a password without TLS to %s" % address)
            sock = socket.create_connection((host, port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls is not None:
                try:
                    sock = tls.wrap_socket(sock, server_hostname=server_hostname or host)
                except (OSError, ssl.SSLError):
                    sock.close()
                    raise
        c = cls(sock, chosen, max_frame, max_held, io_timeout)
        try:
            c._login(username, password, timeout)
        except BaseException:
            sock.close()
            raise
        return c

    def _login(self, username: Optional[str], password: str, timeout: float) -> None:
        header: dict = {"scope": "client"}
        if username is not None:
            header["authentication"] = {"username": username, "password": password}
        self._write({"header": header})
        deadline = time.monotonic() + timeout
        while True:
            msg = self.receive(max(0.0, deadline - time.monotonic()))
            if isinstance(msg, Report) and msg.id == AUTH_ID:
                msg.raise_for_error()
                return
            raise BesterError("bad_message", "expected the %s report, got %r" % (AUTH_ID, msg))

    def send(self, type: str, data: Any = None, id: Optional[str] = None) -> str:
        """Send one message of type with data; return its id. Its report
        comes later: see report. Without id, a fresh "m-N" that no message
        waiting for its report has. ValueError when id is that of a message
        whose report this client has not handed over yet (by report, call
        or receive): the two reports could not be told apart."""
        with self._ids_lock:
            if id is None:
                id = "m-%d" % next(self._ids)
                while id in self._unreported:  # a caller chose this one
                    id = "m-%d" % next(self._ids)
            elif id in self._unreported:
                raise ValueError("message id %r is still waiting for its report; wait for it "
                                 "(report(%r)) or give this message another id" % (id, id))
            self._unreported.add(id)
        try:
            self._write({"payload": {"type": type, "id": id, "data": data}})
        except BaseException:
            self._reported(id)
            raise
        return id

    def _reported(self, id: str) -> None:
        """Free id for another message: its report is handed over, or it
        was never sent."""
        with self._ids_lock:
            self._unreported.discard(id)

    def _handing(self, msg: Message) -> Message:
        """msg, about to go to the caller."""
        if isinstance(msg, Report):
            self._reported(msg.id)
        return msg

    def report(self, id: str, timeout: Optional[float] = None) -> Report:
        """Wait for the report on message id; deliveries and other reports
        read meanwhile are kept for receive. TimeoutError after timeout
        seconds (None waits for ever); BesterError too_many_held when
        max_held messages are kept already and none is the one wanted."""
        return self._wait(lambda m: isinstance(m, Report) and m.id == id, timeout)  # type: ignore[return-value]

    def call(self, type: str, data: Any = None, id: Optional[str] = None, timeout: Optional[float] = 30.0) -> Report:
        """send, then report: the message's report, good or bad."""
        return self.report(self.send(type, data, id), timeout)

    def delivery(self, timeout: Optional[float] = None) -> Delivery:
        """Wait for the next delivery; reports read meanwhile are kept, up
        to max_held, as report keeps them."""
        return self._wait(lambda m: isinstance(m, Delivery), timeout)  # type: ignore[return-value]

    def ping(self, timeout: Optional[float] = 30.0) -> None:
        """Send a dummy message and wait for its echo."""
        id = "ping-%d" % next(self._ids)
        self._write({"payload": {"type": "dummy", "id": id}})
        self._wait(lambda m: isinstance(m, Dummy) and m.id == id, timeout)

    def receive(self, timeout: Optional[float] = None) -> Message:
        """The next message from the server, kept ones first. TimeoutError
        after timeout seconds; ConnectionError when the server closed the
        connection, or when a message stalled part-way (io_timeout) or
        its frame was bad: the client closes the connection then, since
        what follows would not start at a frame."""
        with self._rlock:
            if self._held:
                return self._handing(self._held.popleft())
            return self._handing(self._read(timeout))

    def _wait(self, want: Any, timeout: Optional[float]) -> Message:
        with self._rlock:
            for i, m in enumerate(self._held):
                if want(m):
                    del self._held[i]
                    return self._handing(m)
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                if len(self._held) >= self.max_held:
                    raise BesterError("too_many_held", "%d messages read while waiting are not handed over yet; "
                                      "read them with receive() first" % len(self._held))
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                m = self._read(left)
                if want(m):
                    return self._handing(m)
                self._held.append(m)

    def _read(self, timeout: Optional[float]) -> Message:
        if self._broken is not None:
            raise ConnectionError(self._broken)
        if not self._readable(timeout):
            raise TimeoutError("no message from the server within %s s" % timeout)
        try:
            body = read_frame(self._sock, self.max_frame + ENVELOPE_HEADROOM)
        except socket.timeout as e:
            raise self._out_of_step("a message from the server stalled part-way for %s s" % self.io_timeout) from e
        except FrameError as e:
            raise self._out_of_step("bad frame from the server: %s" % e) from e
        if body is None:
            raise ConnectionError("the server closed the connection")
        try:
            msg = self.codec.loads(body)
        except CodecError as e:
            raise BesterError("bad_message", "undecodable message from the server: %s" % e) from e
        return _message(msg)

    def _out_of_step(self, why: str) -> ConnectionError:
        """Close the connection, whose next bytes would be read as the
        start of a frame though they are not, and say why from now on."""
        self._broken = "connection closed: %s" % why
        self.close()
        return ConnectionError(self._broken)

    def _readable(self, timeout: Optional[float]) -> bool:
        """Whether the socket has something to read within timeout seconds
        (None: waits for it)."""
        if isinstance(self._sock, ssl.SSLSocket) and self._sock.pending():
            return True  # decrypted already, invisible to poll
        p = select.poll()
        p.register(self._sock, select.POLLIN)
        return bool(p.poll(None if timeout is None else int(timeout * 1000)))

    def _write(self, msg: Any) -> None:
        frame = encode_frame(self.codec.dumps(msg), self.max_frame + ENVELOPE_HEADROOM)
        with self._wlock:
            self._sock.sendall(frame)

    def close(self) -> None:
        """Close the connection."""
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _message(msg: Any) -> Message:
    if not isinstance(msg, dict):
        raise BesterError("bad_message", "message from the server is not a map: %r" % (msg,))
    header = _map(msg, "header")
    payload = _map(msg, "payload")
    kind = header.get("messageType")
    if kind == "statusReport":
        return Report(id=payload.get("id", ""), status=header.get("status", ""), error=header.get("error", ""),
                      detail=header.get("detail", ""), undelivered=list(payload.get("undelivered") or []))
    if kind == "receivedMessage":
        sender = _map(header, "from")
        return Delivery(type=payload.get("type", ""), data=payload.get("data"),
                        sender=Address(server=sender.get("server", ""), user=sender.get("user", "")))
    if payload.get("type") == "dummy":
        return Dummy(id=payload.get("id", ""))
    raise BesterError("bad_message", "unknown message from the server: %r" % (msg,))


def _map(msg: dict, key: str) -> dict:
    """msg[key], a map; {} when absent; BesterError when it is something
    else."""
    v = msg.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise BesterError("bad_message", "message from the server has a %s that is not a map: %r" % (key, v))
    return v


def _split_host_port(address: str) -> "tuple[str, int]":
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError("address %r is not host:port or a socket path" % address)
    return host.strip("[]"), int(port)


def _is_loopback(host: str) -> bool:
    """Loopback as written: a name that resolves to it does not count,
    since what it resolves to can change."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
