#!/usr/bin/env python3
"""An echo handler on the Python SDK, written as an async def: whatever a
user sends comes back to them.

With "via": a peer server's name in the data, the message goes to that
peer's echo handler first, which sends it back to the writer's server
using only the request's origin (who wrote it, and where), and the
writer's server delivers it to them:

    T on J --echo {"via": "K"}--> J's handler --sendServers K--> K's handler
      --sendServers J (origin.server)--> J's handler --sendClients T (origin.user)--> T

Data {"fail": "why"} is answered with an exception, which the SDK turns
into a handler_error report with that message.

    handler "pyecho" {
      socket  = "pyecho.sock"
      command = ["python3", "examples/python/echo.py"]
      env     = { PYTHONPATH = "sdk/python" }
      codec   = "json"
    }
"""

import bester


async def echo(req: bester.Request) -> bester.Response:
    data = req.data
    if isinstance(data, dict) and "fail" in data:
        raise ValueError(str(data["fail"]))
    if req.sender is None:
        return bester.fail("echo needs stream mode: a oneshot request does not say who sent it")
    if req.sender.scope == "client":
        via = data.get("via") if isinstance(data, dict) else None
        if via:
            return bester.send_servers([via], data)
        return bester.send_clients([req.sender.name], data)
    # From a peer: it needs the origin to know whom to answer.
    if req.origin is None:
        return bester.fail("a message from a peer without an origin cannot be echoed")
    if req.origin.server == req.sender.name:
        return bester.send_servers([req.origin.server], data)  # back to the writer's server
    return bester.send_clients([req.origin.user], data)  # home again: to the writer


if __name__ == "__main__":
    bester.serve(echo)
