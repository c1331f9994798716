"""A client for the server's informer socket (protocol §7), where a
handler asks which users are connected and what the server runs."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any, Dict, List, Optional

from .codec import Codec, CodecError, env_codec
from .frames import MAX_FRAME, FrameError, encode_frame, read_frame

__all__ = ["Informer", "InformerError", "INFORMER_TIMEOUT"]

INFORMER_TIMEOUT = 5.0
"""Seconds the connect, and each call as a whole (sending the command and
reading all of the answer), may take: a handler must not hang because
the server is slow to answer."""


class InformerError(Exception):
    """The informer refused a request, or the connection failed."""


class Informer:
    """One connection to the informer. Calls are serialized, so it may be
    shared between threads. After a transport error every call fails:
    open a new one. From an ``async def`` handler, call it through
    ``await asyncio.to_thread(...)``: each call waits for the server.

    >>> with Informer() as inf:          # BESTER_INFORMER, BESTER_CODEC
    ...     inf.is_client("G")
    """

    def __init__(self, path: Optional[str] = None, codec: Optional[Codec] = None,
                 timeout: float = INFORMER_TIMEOUT) -> None:
        path = path or os.environ.get("BESTER_INFORMER")
        if not path:
            raise InformerError("no informer socket: BESTER_INFORMER is not set (the server has no informer block)")
        self.codec = codec or env_codec()
        self.timeout = timeout
        self._lock = threading.Lock()
        self._broken: Optional[Exception] = None
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(path)
        except OSError as e:
            self._sock.close()
            raise InformerError("informer: connect to %s: %s" % (path, e)) from e

    def list_clients(self) -> List[str]:
        """The usernames connected to this server."""
        return list(self.query("listClients") or [])

    def is_client(self, user: str) -> bool:
        """Whether user is connected to this server."""
        return bool(self.query("isClient", user))

    def server_info(self) -> Dict[str, Any]:
        """The server's name, client count, listeners, handlers and their
        state."""
        return dict(self.query("serverInfo") or {})

    def query(self, type: str, data: Any = None) -> Any:
        """Send one command and return the answer's data, within timeout
        seconds for the whole exchange; InformerError when the informer
        answers a failure status, or not in time."""
        with self._lock:
            if self._broken is not None:
                raise InformerError("informer: connection unusable after %s" % self._broken)
            deadline = time.monotonic() + self.timeout
            try:
                # sendall's timeout bounds the whole send; read_frame keeps
                # to what is left of the deadline.
                self._sock.settimeout(self.timeout)
                self._sock.sendall(encode_frame(self.codec.dumps({"command": {"type": type, "data": data}})))
                body = read_frame(self._sock, MAX_FRAME, deadline)
                if body is None:
                    raise FrameError("the informer closed the connection")
                answer = self.codec.loads(body)
            except (OSError, FrameError, CodecError) as e:
                # Half an exchange: the next answer could be this one's.
                self._broken = e
                self._sock.close()
                raise InformerError("informer %s: %s" % (type, e)) from e
        if not isinstance(answer, dict):
            raise InformerError("informer %s: answer is not a map: %r" % (type, answer))
        if answer.get("status") != "0":
            raise InformerError("informer %s refused: status %r: %s" % (type, answer.get("status"), answer.get("data")))
        return answer.get("data")

    def close(self) -> None:
        """Say quit, without waiting for an answer, and close."""
        with self._lock:
            if self._broken is None:
                try:
                    self._sock.settimeout(1)
                    self._sock.sendall(encode_frame(self.codec.dumps({"command": {"type": "quit", "data": None}})))
                except OSError:
                    pass
                self._broken = InformerError("closed")
            self._sock.close()

    def __enter__(self) -> "Informer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
