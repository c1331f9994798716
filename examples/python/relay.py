#!/usr/bin/env python3
"""The relay handler on the Python SDK: data {"to": "G" or ["G", "H"],
"body": ...} is delivered to those users, as examples/relay does in Go.

It serves whichever mode and codec its handler block sets. An optional
"delay" (seconds, at most 10) makes it wait before answering, to watch a
later message's answer overtake it in stream mode; a stopping handler
cuts the wait short and still answers.

    handler "pyrelay" {
      socket  = "pyrelay.sock"
      command = ["python3", "examples/python/relay.py"]
      env     = { PYTHONPATH = "sdk/python" }
      codec   = "json"
    }
"""

import bester

MAX_DELAY = 10


def relay(req: bester.Request) -> bester.Response:
    data = req.data
    if not isinstance(data, dict):
        return bester.fail("data is not an object")
    to = data.get("to")
    if not to or not (isinstance(to, str) or all(isinstance(u, str) for u in to)):
        return bester.fail('"to" must name a user or a list of users')
    delay = data.get("delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= MAX_DELAY:
        return bester.fail('"delay" must be a number of seconds from 0 to %d' % MAX_DELAY)
    if delay:
        req.stopping.wait(delay)  # a plain function runs on its own thread: waiting is fine
    return bester.send_clients(to, data.get("body"))


if __name__ == "__main__":
    bester.serve(relay)
