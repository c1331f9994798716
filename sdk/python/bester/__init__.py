"""Bester's software development kit for Python.

Handlers (bester.handler): write one function per message type and call
serve; it speaks both modes and both codecs, as the server configures it.

    import bester

    def relay(req: bester.Request) -> bester.Response:
        return bester.send_clients(req.data["to"], req.data["body"])

    bester.serve(relay)

Clients (bester.client): Client.connect logs in, call sends a message and
waits for its report, delivery waits for what handlers deliver.

Handlers asking the server (bester.informer): Informer.

JSON needs only the standard library; CBOR needs the cbor2 package.
"""

from .client import AUTH_ID, MAX_HELD, BesterError, Client, Delivery, Dummy, Report
from .codec import CBOR, JSON, Codec, CodecError, cbor_available, get_codec
from .frames import ENVELOPE_HEADROOM, MAX_FRAME, FrameError
from .handler import (
    Address,
    Config,
    HandlerFunc,
    Request,
    Response,
    Sender,
    fail,
    send_clients,
    send_handler,
    send_servers,
    serve,
    serve_async,
)
from .informer import Informer, InformerError

__version__ = "0.1.0"

__all__ = [
    "AUTH_ID", "Address", "BesterError", "CBOR", "Client", "Codec", "CodecError", "Config", "Delivery",
    "Dummy", "ENVELOPE_HEADROOM", "FrameError", "HandlerFunc", "Informer", "InformerError", "JSON",
    "MAX_FRAME", "MAX_HELD", "Report", "Request", "Response", "Sender", "cbor_available", "fail", "get_codec",
    "send_clients", "send_handler", "send_servers", "serve", "serve_async",
]
