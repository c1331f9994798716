"""Frames (protocol §1): a 4-byte little-endian body length, then the
body. Lengths are checked before anything is read into memory, so a
peer can make us hold only what it has proven it sends."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import Optional

__all__ = ["MAX_FRAME", "ENVELOPE_HEADROOM", "FrameError", "encode_frame", "read_frame", "read_frame_async"]

MAX_FRAME = 1 << 20
"""The server's default max_frame, in bytes."""

ENVELOPE_HEADROOM = 64 << 10
"""How much larger than max_frame a frame around data of max_frame may be
(a request's id and sender, a delivery's header), as the server allows."""

_HEADER = struct.Struct("<I")


class FrameError(ValueError):
    """A frame whose length is outside 1..limit, or cut short."""


def encode_frame(body: bytes, limit: int = MAX_FRAME + ENVELOPE_HEADROOM) -> bytes:
    """The frame holding body; FrameError when body is empty or above limit."""
    if not 1 <= len(body) <= limit:
        raise FrameError("frame body of %d bytes outside 1..%d" % (len(body), limit))
    return _HEADER.pack(len(body)) + body


def _check_length(header: bytes, limit: int) -> int:
    (n,) = _HEADER.unpack(header)
    if not 1 <= n <= limit:
        raise FrameError("frame length %d outside 1..%d" % (n, limit))
    return n


def _recv_exactly(sock: socket.socket, n: int, deadline: Optional[float]) -> bytes:
    """n bytes; b"" when the stream ends before the first, FrameError when
    it ends after; socket.timeout past deadline (time.monotonic)."""
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out")
            sock.settimeout(left)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            if not buf:
                return b""
            raise FrameError("connection closed inside a frame")
        buf += chunk
    return bytes(buf)


def read_frame(sock: socket.socket, limit: int, deadline: Optional[float] = None) -> Optional[bytes]:
    """One frame body from a blocking socket; None when the stream ended
    cleanly between frames. With a deadline (time.monotonic), the whole
    read must end by it, however the peer trickles its bytes: it sets the
    socket's timeout to what is left before each receive."""
    header = _recv_exactly(sock, _HEADER.size, deadline)
    if not header:
        return None
    body = _recv_exactly(sock, _check_length(header, limit), deadline)
    if not body:
        raise FrameError("connection closed after a frame header")
    return body


async def read_frame_async(reader: asyncio.StreamReader, limit: int) -> Optional[bytes]:
    """One frame body from a stream; None when it ended cleanly between
    frames."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise FrameError("connection closed inside a frame header") from e
    n = _check_length(header, limit)
    try:
        return await reader.readexactly(n)
    except asyncio.IncompleteReadError as e:
        raise FrameError("connection closed inside a frame") from e
