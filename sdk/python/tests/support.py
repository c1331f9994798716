"""What the SDK's tests share: the codecs to test, and real besterd
servers to run handlers and clients against.

End-to-end tests need a besterd binary, named by BESTER_TEST_BESTERD (the
Go test in sdk/python builds one and sets it); without it they skip.
BESTER_TEST_CBOR_REQUIRED turns a missing cbor2 into a failure instead of
a skip, as CI wants.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import bester

SDK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(SDK_DIR))
HANDLERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "handlers")
EXAMPLES = os.path.join(REPO, "examples", "python")

START_TIMEOUT = 15.0  # seconds a besterd may take to listen


def codecs(test: unittest.TestCase):
    """The codecs to run a test in: json always, cbor when cbor2 is
    installed (or a failure where BESTER_TEST_CBOR_REQUIRED is set)."""
    if bester.cbor_available():
        return ["json", "cbor"]
    if os.environ.get("BESTER_TEST_CBOR_REQUIRED"):
        test.fail("cbor2 is required here (BESTER_TEST_CBOR_REQUIRED is set) but %s cannot import it" % sys.executable)
    print("\n(cbor2 not installed for %s: CBOR cases skipped)" % sys.executable, file=sys.stderr)
    return ["json"]


def _program(variable: str, name: str) -> str:
    """The path of the program name in the environment variable, or a skip
    that says how to provide it."""
    path = os.environ.get(variable)
    if not path:
        raise unittest.SkipTest("%s is not set: build %s with `go build -o /tmp/ ./cmd/%s` and export "
                                "%s=/tmp/%s" % (variable, name, name, variable, name))
    return path


def besterd_binary() -> str:
    return _program("BESTER_TEST_BESTERD", "besterd")


def dev_certs(directory: str, *users: str) -> None:
    """A development CA, a loopback server certificate and one client
    certificate per user, written by `bester certs dev`."""
    args = [_program("BESTER_TEST_BESTER", "bester"), "certs", "dev", "-dir", directory]
    for u in users:
        args += ["-user", u]
    subprocess.run(args, check=True, capture_output=True)


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def handler_block(name: str, script: str, mode: str = "stream", codec: str = "json",
                  env: "dict | None" = None, extra: str = "") -> str:
    """A handler block running script with this Python and the SDK on
    PYTHONPATH, restarted quickly after it exits."""
    environ = {"PYTHONPATH": SDK_DIR, "PYTHONUNBUFFERED": "1"}
    environ.update(env or {})
    env_lines = "\n".join("    %s = %s" % (k, json.dumps(v)) for k, v in environ.items())
    return """
handler "%s" {
  socket  = "%s.sock"
  command = [%s, %s]
  mode    = "%s"
  codec   = "%s"
  env = {
%s
  }
  restart {
    backoff_min = "10ms"
    backoff_max = "100ms"
  }
%s
}
""" % (name, name, json.dumps(sys.executable), json.dumps(script), mode, codec, env_lines, extra)


class Besterd:
    """A besterd process on a configuration of its own, in a directory of
    its own: a UNIX listener for clients, an informer, the given handler
    and peer blocks, and a loopback TCP listener on port when given."""

    def __init__(self, name: str, blocks: str, port: "int | None" = None, directory: "str | None" = None) -> None:
        self.dir = directory or tempfile.mkdtemp(prefix="bt")
        self.client_socket = os.path.join(self.dir, "client.sock")
        self.informer_socket = os.path.join(self.dir, "informer.sock")
        tcp = ""
        if port is not None:
            tcp = 'listener "tcp" {\n  network = "tcp4"\n  address = "127.0.0.1:%d"\n}\n' % port
        config = """
server {
  name        = "%s"
  runtime_dir = %s
}
auth {
  mode = "open"
}
listener "local" {
  network = "unix"
  address = "client.sock"
}
%s
informer {
  socket = "informer.sock"
}
%s
""" % (name, json.dumps(self.dir), tcp, blocks)
        path = os.path.join(self.dir, "besterd.hcl")
        with open(path, "w") as f:
            f.write(config)
        os.chmod(path, 0o600)
        self.log_path = os.path.join(self.dir, "besterd.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([besterd_binary(), "-config", path], stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_listening()
        except BaseException:
            self.stop()
            raise

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("besterd exited with %s:\n%s" % (self.proc.returncode, self.log()))
            with socket.socket(socket.AF_UNIX) as s:
                try:
                    s.connect(self.client_socket)
                    return
                except OSError:
                    time.sleep(0.02)
        raise AssertionError("besterd did not listen within %s s:\n%s" % (START_TIMEOUT, self.log()))

    def client(self, user: str, codec: str) -> bester.Client:
        return bester.Client.connect(self.client_socket, user, codec=codec)

    def handler_state(self, name: str) -> dict:
        with bester.Informer(self.informer_socket, bester.JSON) as inf:
            info = inf.server_info()
        for h in info.get("handlers") or []:
            if h.get("name") == name:
                return h
        raise AssertionError("no handler %r in %r" % (name, info))

    def wait_handler(self, name: str, until, what: str, timeout: float = 15.0) -> dict:
        """The handler's state once until(state) holds."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.handler_state(name)
            if until(st):
                return st
            if time.monotonic() > deadline:
                raise AssertionError("handler %s: %s not reached; last state %r\n%s" % (name, what, st, self.log()))
            time.sleep(0.02)

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        """SIGTERM, and a clean exit within 15 s."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("besterd did not stop on SIGTERM:\n" + self.log())
        shutil.rmtree(self.dir, ignore_errors=True)
