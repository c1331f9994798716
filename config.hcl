# Bester's default configuration: a single server on loopback with the relay
# handler, ready for the quickstart in README.md. See docs/configuration.md
# for every setting.

server {
  name = "J"
  # Relative socket paths below live in runtime_dir (default: a private
  # directory under $TMPDIR named after your uid).
}

log {
  level = "info"
}

# Open authentication accepts any non-empty username. It is for local
# development only: the server refuses it on a non-loopback TCP listener.
# For real use, create users with
#   go run ./cmd/bester useradd -file users.htpasswd NAME
# and replace this block with
#   auth {
#     mode = "htpasswd"
#     file = "users.htpasswd"
#   }
auth {
  mode = "open"
}

listener "tcp4" {
  network = "tcp4"
  address = "127.0.0.1:2223"
}

# Local clients on this machine; `bester -network unix` dials this socket
# when given no -addr. The socket's directory, runtime_dir, is the server
# user's alone (mode 0700).
listener "local" {
  network = "unix"
  address = "client.sock"
}

# IPv6 loopback too, where the machine has it:
# listener "tcp6" {
#   network = "tcp6"
#   address = "[::1]:2224"
# }

# TLS on loopback (README.md, "TLS"). Make the files first with
#   go run ./cmd/bester certs dev -user T -user G
# listener "tls" {
#   network = "tcp4"
#   address = "127.0.0.1:2443"
#   tls {
#     cert = "certs/server.crt"
#     key  = "certs/server.key"
#     # Certificate logins: clients present certs/NAME.crt and need no password.
#     # client_ca   = "certs/ca.crt"
#     # client_auth = "require"
#     # login       = "certificate"
#   }
# }

# The worked example: data {"to": "G", "body": ...} is delivered to G.
handler "relay" {
  socket  = "relay.sock"
  command = ["go", "run", "./examples/relay"]
  # The first start compiles the handler; later starts take milliseconds.
  start_timeout = "120s"
}

# The same relay, and an echo, on the Python SDK (examples/python/). JSON
# needs only Python's standard library; leave codec out for CBOR once the
# cbor2 package is installed (Debian: python3-cbor2).
handler "pyrelay" {
  socket  = "pyrelay.sock"
  command = ["python3", "examples/python/relay.py"]
  env     = { PYTHONPATH = "sdk/python", PYTHONUNBUFFERED = "1" }
  codec   = "json"
}

handler "pyecho" {
  socket  = "pyecho.sock"
  command = ["python3", "examples/python/echo.py"]
  env     = { PYTHONPATH = "sdk/python", PYTHONUNBUFFERED = "1" }
  codec   = "json"
}

informer {
  socket = "informer.sock"
}

# Health, readiness, status and Prometheus metrics over HTTP, on loopback
# only (README.md, "Monitoring"); `bester status` shows it live.
monitor {
  address = "127.0.0.1:8223"
  # pprof = true
}
