"""The SDK against real besterd servers: handlers started from handler
blocks, in both modes and both codecs, and the SDK's client talking to
them. Needs BESTER_TEST_BESTERD (see support.py)."""

import os
import signal
import ssl
import tempfile
import unittest

import bester

from .support import EXAMPLES, HANDLERS, Besterd, besterd_binary, codecs, dev_certs, free_port, handler_block

PROBE = os.path.join(HANDLERS, "probe.py")
RELAY = os.path.join(EXAMPLES, "relay.py")
ECHO = os.path.join(EXAMPLES, "echo.py")
TIMEOUT = 20.0  # seconds to wait for a report or delivery: only a defect reaches it


def setUpModule() -> None:
    besterd_binary()  # skip the module without one


class Case(unittest.TestCase):
    def server(self, blocks: str, name: str = "J", port=None) -> Besterd:
        s = Besterd(name, blocks, port)
        self.addCleanup(s.stop)
        return s

    def client(self, server: Besterd, user: str, codec: str) -> bester.Client:
        c = server.client(user, codec)
        self.addCleanup(c.close)
        return c

    def good(self, report: bester.Report) -> None:
        self.assertTrue(report.ok, report)

    def bad(self, report: bester.Report, code: str, detail: str = "") -> None:
        self.assertEqual((report.status, report.error), ("bad", code), report)
        self.assertIn(detail, report.detail)


class RelayExample(Case):
    """examples/python/relay.py, one script for both modes."""

    def test_modes_and_codecs(self):
        for mode in ("stream", "oneshot"):
            for codec in codecs(self):
                with self.subTest(mode=mode, codec=codec):
                    s = self.server(handler_block("pyrelay", RELAY, mode, codec))
                    # The clients speak the other codec and their own: the
                    # server converts.
                    t, g = self.client(s, "T", "json"), self.client(s, "G", codec)
                    body = {"n": -7, "big": 1 << 60, "text": "hallo wêreld", "list": ["a", "b"]}
                    self.good(t.call("pyrelay", {"to": "G", "body": body}, timeout=TIMEOUT))
                    got = g.delivery(TIMEOUT)
                    self.assertEqual((got.data, got.type, got.sender), (body, "pyrelay", bester.Address("J", "T")))
                    self.bad(t.call("pyrelay", {"body": 1}, timeout=TIMEOUT), "handler_error", '"to" must name')
                    r = g.call("pyrelay", {"to": ["T", "X"], "body": "hi"}, timeout=TIMEOUT)
                    self.bad(r, "undelivered")
                    self.assertEqual(r.undelivered, ["X"])
                    self.assertEqual(t.delivery(TIMEOUT).data, "hi")


class Handlers(Case):
    """The SDK's handler server, through tests/handlers/probe.py."""

    def probe(self, codec: str, style: str, mode: str = "stream", extra: str = "") -> Besterd:
        return self.server(handler_block("probe", PROBE, mode, codec, {"PROBE_STYLE": style}, extra)
                           + handler_block("relay", RELAY, "stream", codec))

    def test_requests_and_failures(self):
        for style in ("sync", "async"):
            for codec in codecs(self):
                with self.subTest(style=style, codec=codec):
                    s = self.probe(codec, style)
                    t, g = self.client(s, "T", codec), self.client(s, "G", "json")
                    self.good(t.call("probe", {"op": "describe", "to": "G"}, timeout=TIMEOUT))
                    seen = g.delivery(TIMEOUT).data
                    self.assertIsInstance(seen.pop("id"), int)
                    self.assertEqual(seen["sender"], {"scope": "client", "name": "T", "server": "J"})
                    self.assertEqual(seen["origin"], {"server": "J", "user": "T"})
                    self.assertEqual((seen["type"], seen["codec"]), ("probe", codec))

                    # Exceptions, raised or returned, reach the sender with
                    # their message; the process lives on.
                    pid = s.handler_state("probe")["pid"]
                    self.bad(t.call("probe", {"op": "raise", "msg": "no such thing"}, timeout=TIMEOUT),
                             "handler_error", "no such thing")
                    self.bad(t.call("probe", {"op": "return", "msg": "not today"}, timeout=TIMEOUT),
                             "handler_error", "not today")
                    self.bad(t.call("probe", {"op": "none"}, timeout=TIMEOUT), "handler_error", "no response")
                    self.bad(t.call("probe", {"op": "what"}, timeout=TIMEOUT), "handler_error", "unknown op")

                    # sendHandler: the relay carries out what the probe passed on.
                    nxt = {"to": "G", "body": "forwarded"}
                    self.good(t.call("probe", {"op": "forward", "handler": "relay", "next": nxt}, timeout=TIMEOUT))
                    self.assertEqual(g.delivery(TIMEOUT).data, "forwarded")

                    # The informer, asked from the handler.
                    self.good(t.call("probe", {"op": "informer", "to": "T", "user": "G"}, timeout=TIMEOUT))
                    self.assertEqual(t.delivery(TIMEOUT).data, [True, ["G", "T"]])
                    self.assertEqual(s.handler_state("probe")["pid"], pid)

    def test_stream_answers_out_of_order(self):
        for style in ("sync", "async"):
            with self.subTest(style=style):
                s = self.probe("json", style, extra='  timeout = "30s"')
                t, g = self.client(s, "T", "json"), self.client(s, "G", "json")
                t.send("probe", {"op": "sleep", "seconds": 20, "to": "G", "body": "slow"}, "slow")
                s.wait_handler("probe", lambda st: st["in_flight"] == 1, "the slow request in flight")
                ids = [t.send("probe", {"op": "relay", "to": "G", "body": i}) for i in range(50)]
                for i in ids:
                    self.good(t.report(i, TIMEOUT))
                self.assertEqual(sorted(g.delivery(TIMEOUT).data for _ in ids), list(range(50)))

                # SIGTERM: the slow request is cut short and still
                # answered, the process exits 0 and is started again.
                pid = s.handler_state("probe")["pid"]
                os.kill(pid, signal.SIGTERM)
                self.good(t.report("slow", TIMEOUT))
                self.assertEqual(g.delivery(TIMEOUT).data, "slow")
                s.wait_handler("probe", lambda st: st["state"] == "up" and st.get("pid") not in (None, pid), "restart")
                self.good(t.call("probe", {"op": "relay", "to": "G", "body": "after"}, timeout=TIMEOUT))
                self.assertEqual(g.delivery(TIMEOUT).data, "after")
                self.assertIn('exit="exit status 0"', s.log())

    def test_crash_and_restart(self):
        for mode in ("stream", "oneshot"):
            with self.subTest(mode=mode):
                s = self.probe("json", "sync", mode)
                t = self.client(s, "T", "json")
                self.good(t.call("probe", {"op": "pid", "to": "T"}, timeout=TIMEOUT))
                pid = t.delivery(TIMEOUT).data
                self.bad(t.call("probe", {"op": "crash"}, timeout=TIMEOUT), "handler_crashed")
                s.wait_handler("probe", lambda st: st["state"] == "up" and st.get("pid") not in (None, pid), "restart")
                self.good(t.call("probe", {"op": "pid", "to": "T"}, timeout=TIMEOUT))
                self.assertNotEqual(t.delivery(TIMEOUT).data, pid)
                self.assertIn('exit="exit status 3"', s.log())


class EchoExample(Case):
    def test_echo(self):
        for codec in codecs(self):
            with self.subTest(codec=codec):
                s = self.server(handler_block("pyecho", ECHO, "stream", codec))
                t = self.client(s, "T", codec)
                self.good(t.call("pyecho", {"n": 1}, timeout=TIMEOUT))
                self.assertEqual(t.delivery(TIMEOUT).data, {"n": 1})
                self.bad(t.call("pyecho", {"fail": "on purpose"}, timeout=TIMEOUT), "handler_error", "on purpose")

    def test_origin_across_two_servers(self):
        """K's handler answers T on J using only the request's origin."""
        for codec in codecs(self):
            with self.subTest(codec=codec):
                pj, pk = free_port(), free_port()
                secret = "secret-of-J-and-K"
                peer = 'peer "%s" {\n  address = "127.0.0.1:%d"\n  secret  = "%s"\n}\n'
                block = handler_block("pyecho", ECHO, "stream", codec)
                j = self.server(block + peer % ("K", pk, secret), "J", pj)
                k = self.server(block + peer % ("J", pj, secret), "K", pk)
                t = self.client(j, "T", codec)
                self.good(t.call("pyecho", {"via": "K", "n": 2}, timeout=TIMEOUT))
                got = t.delivery(TIMEOUT)
                self.assertEqual((got.data, got.type, got.sender), ({"via": "K", "n": 2}, "pyecho", bester.Address("J", "T")))
                if codec == "json":  # once: the report waits for K for 5 s
                    # It went through K: without K it cannot come back.
                    k.stop()
                    self.bad(t.call("pyecho", {"via": "K", "n": 3}, timeout=TIMEOUT), "peer_unavailable")


class Clients(Case):
    def test_login_ping_and_refusal(self):
        s = self.server("")
        for codec in codecs(self):
            with self.subTest(codec=codec):
                c = self.client(s, "T", codec)
                c.ping(TIMEOUT)
                self.bad(c.call("nosuch", 1, timeout=TIMEOUT), "unknown_type")
                with self.assertRaises(bester.BesterError) as e:
                    s.client("", codec)  # open auth still needs a name
                self.assertEqual(e.exception.code, "unauthorized")

    def test_tls_password_and_certificate_logins(self):
        d = tempfile.mkdtemp(prefix="bt")
        dev_certs(os.path.join(d, "certs"), "G")
        port = free_port()
        tls = """
listener "tls" {
  network = "tcp4"
  address = "127.0.0.1:%d"
  tls {
    cert        = "certs/server.crt"
    key         = "certs/server.key"
    client_ca   = "certs/ca.crt"
    client_auth = "request"
    login       = "certificate"
  }
}
""" % port
        s = Besterd("J", tls + handler_block("pyrelay", RELAY), directory=d)
        self.addCleanup(s.stop)
        ctx = ssl.create_default_context(cafile=os.path.join(d, "certs", "ca.crt"))
        g_ctx = ssl.create_default_context(cafile=os.path.join(d, "certs", "ca.crt"))
        g_ctx.load_cert_chain(os.path.join(d, "certs", "G.crt"), os.path.join(d, "certs", "G.key"))
        address = "127.0.0.1:%d" % port
        t = bester.Client.connect(address, "T", "any", codec="json", tls=ctx)
        self.addCleanup(t.close)
        g = bester.Client.connect(address, None, codec="json", tls=g_ctx)  # the certificate says G
        self.addCleanup(g.close)
        self.good(t.call("pyrelay", {"to": "G", "body": "over TLS"}, timeout=TIMEOUT))
        self.assertEqual(g.delivery(TIMEOUT).data, "over TLS")

    def test_password_in_clear_refused(self):
        with self.assertRaises(bester.BesterError) as e:
            bester.Client.connect("192.0.2.1:2223", "T", "secret")
        self.assertEqual(e.exception.code, "password_in_clear")


if __name__ == "__main__":
    unittest.main()
