# Member m2 of the three-member cluster on etcd in README.md ("On etcd"),
# all on loopback on one machine. etcd must run first on 127.0.0.1:2379,
# and the static m2 (../m2.hcl), which has the same ports, must not run.
# From the repository root:
#   go run ./cmd/besterd -config examples/cluster/etcd/m2.hcl
# Relative paths below are relative to this file's directory.

# Every member has the same server name: the cluster is one logical server,
# and users are T@J and G@J whichever member they are connected to.
server {
  name = "J"
  # Each member keeps its sockets in a directory of its own.
  runtime_dir = "run/m2"
}

# Any username, no password: for loopback only.
auth {
  mode = "open"
}

# Clients connect to any member; each member has its own port.
listener "tcp4" {
  network = "tcp4"
  address = "127.0.0.1:2233"
}

# The same handler on every member: a message is handled by the member
# that received it, and its deliveries go to whichever member holds each
# user.
handler "relay" {
  socket        = "relay.sock"
  command       = ["go", "run", "./examples/relay"]
  dir           = "../../.." # the repository root, for go run
  start_timeout = "120s"  # the first start compiles the handler
}

informer {
  socket = "informer.sock"
}

# `bester status -monitor 127.0.0.1:8233` shows this member live.
monitor {
  address = "127.0.0.1:8233"
}

cluster {
  name = "bester"
  # Member-to-member traffic. Every address is loopback, so no tls block
  # is needed; across machines, see docs/cluster.md ("Security").
  bind = "127.0.0.1:7956"

  # The member list and the user directory live in etcd, each member's
  # keys under its own lease: a member that dies leaves the list, and its
  # users the directory, within lease_ttl.
  etcd {
    endpoints = ["127.0.0.1:2379"]
    prefix    = "/bester"
    lease_ttl = "3s"
  }
}
