"""A handler for the SDK's tests. PROBE_STYLE=async makes it an async
def, anything else a plain function. Data {"op": ..., ...}:

  relay       {"to", "body"}: deliver body to "to"
  describe    {"to"}: deliver what the request said (id, type, sender, origin)
  raise       {"msg"}: raise an exception with msg
  return      {"msg"}: return an exception with msg
  crash       exit the process at once, status 3
  pid         {"to"}: deliver the process id
  sleep       {"to", "body", "seconds"}: answer after seconds, or once stopping
  informer    {"to", "user"}: deliver [isClient(user), listClients()]
  forward     {"handler", "next"}: pass next on to another handler
  none        return nothing
"""

import asyncio
import os

import bester


def act(req: bester.Request) -> bester.Response:
    d = req.data
    op = d.get("op")
    if op == "relay":
        return bester.send_clients(d["to"], d.get("body"))
    if op == "describe":
        return bester.send_clients(d["to"], {
            "id": req.id,
            "type": req.type,
            "sender": req.sender._asdict() if req.sender else None,
            "origin": req.origin._asdict() if req.origin else None,
            "codec": req.codec.name if req.codec else None,
        })
    if op == "raise":
        raise RuntimeError(d["msg"])
    if op == "return":
        return ValueError(d["msg"])
    if op == "crash":
        os._exit(3)
    if op == "pid":
        return bester.send_clients(d["to"], os.getpid())
    if op == "informer":
        with bester.Informer() as inf:
            return bester.send_clients(d["to"], [inf.is_client(d["user"]), sorted(inf.list_clients())])
    if op == "forward":
        return bester.send_handler(d["handler"], d["next"])
    if op == "none":
        return None
    return bester.fail("unknown op %r" % op)


def handle(req: bester.Request) -> bester.Response:
    if req.data.get("op") == "sleep":
        req.stopping.wait(req.data["seconds"])
        return bester.send_clients(req.data["to"], req.data.get("body"))
    return act(req)


async def handle_async(req: bester.Request) -> bester.Response:
    d = req.data
    if d.get("op") == "sleep":
        deadline = asyncio.get_running_loop().time() + d["seconds"]
        while not req.stopping.is_set() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        return bester.send_clients(d["to"], d.get("body"))
    if d.get("op") == "informer":
        return await asyncio.to_thread(act, req)  # the informer blocks: not on the loop
    return act(req)


if __name__ == "__main__":
    bester.serve(handle_async if os.environ.get("PROBE_STYLE") == "async" else handle)
