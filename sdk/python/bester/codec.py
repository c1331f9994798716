"""The two codecs of the wire contract (protocol §2): JSON, with the
standard library alone, and CBOR, with the cbor2 package when it is
installed. A codec turns one frame body into a Python value and back."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Optional

__all__ = ["Codec", "JSON", "CBOR", "CodecError", "get_codec", "cbor_available", "default_codec"]


class CodecError(ValueError):
    """A body that does not decode, or a value the codec cannot encode,
    nested too deeply included: the interpreter's recursion limit (about
    a thousand levels) is below what the server lets through in JSON."""


class Codec:
    """Encodes values to frame bodies and decodes them back."""

    name = ""

    def loads(self, body: bytes) -> Any:
        raise NotImplementedError

    def dumps(self, value: Any) -> bytes:
        raise NotImplementedError

    def __repr__(self) -> str:
        return "<codec %s>" % self.name


class _JSON(Codec):
    name = "json"

    def loads(self, body: bytes) -> Any:
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            raise CodecError("undecodable JSON: %s" % e) from e

    def dumps(self, value: Any) -> bytes:
        # allow_nan=False: NaN and infinities have no JSON form, and the
        # server would refuse the whole body.
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError, RecursionError) as e:
            raise CodecError("value has no JSON form: %s" % e) from e


class _CBOR(Codec):
    name = "cbor"

    def __init__(self) -> None:
        import cbor2  # ImportError is the caller's to explain

        self._cbor2 = cbor2

    def loads(self, body: bytes) -> Any:
        try:
            return self._cbor2.loads(body)
        except (self._cbor2.CBORDecodeError, ValueError, TypeError, EOFError, RecursionError) as e:
            raise CodecError("undecodable CBOR: %s" % e) from e

    def dumps(self, value: Any) -> bytes:
        try:
            return self._cbor2.dumps(value)
        except (self._cbor2.CBOREncodeError, TypeError, ValueError, RecursionError) as e:
            raise CodecError("value has no CBOR form: %s" % e) from e


JSON: Codec = _JSON()
_cbor: Optional[Codec] = None


def cbor_available() -> bool:
    """Whether the cbor2 package can be imported."""
    try:
        CBOR()
    except ImportError:
        return False
    return True


def CBOR() -> Codec:
    """The CBOR codec; ImportError when cbor2 is not installed."""
    global _cbor
    if _cbor is None:
        _cbor = _CBOR()
    return _cbor


def get_codec(name: Optional[str]) -> Codec:
    """The codec called name: "json" or "cbor" (empty or None means cbor,
    the server's default for handlers). CBOR without cbor2 raises
    ImportError with what to do about it; any other name ValueError."""
    if name == "json":
        return JSON
    if name not in (None, "", "cbor"):
        raise ValueError("unknown codec %r (want cbor or json)" % name)
    try:
        return CBOR()
    except ImportError as e:
        # Named, because cbor2 "already installed" is often installed for
        # another interpreter than the python3 a handler block runs.
        raise ImportError(
            "the cbor codec needs the cbor2 package, which this interpreter, %s, cannot import (%s): "
            "install it for %s (Debian's python3-cbor2 installs it for /usr/bin/python3), or, in a "
            'handler block, run an interpreter that has it (command = ["/usr/bin/python3", ...]) '
            'or set codec = "json"' % (sys.executable, e, sys.executable)
        ) from e


def default_codec() -> Codec:
    """CBOR when cbor2 is installed, else JSON: what a client speaks when
    it names no codec."""
    return CBOR() if cbor_available() else JSON


def env_codec() -> Codec:
    """The codec of BESTER_CODEC, as the server set it for a handler."""
    return get_codec(os.environ.get("BESTER_CODEC"))
