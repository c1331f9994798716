# Server K of the two-server example in README.md ("Two servers"). It runs
# on loopback next to server J (j.hcl). From the repository root:
#   chmod 600 examples/federation/*.hcl
#   go run ./cmd/besterd -config examples/federation/k.hcl
# Relative paths below are relative to this file's directory.

server {
  name = "K"
  # Sockets live in the default runtime_dir, which J shares: their names
  # start with "k-" so that both servers can run on one machine.
}

# Any username, no password: for loopback only.
auth {
  mode = "open"
}

listener "tcp4" {
  network = "tcp4"
  address = "127.0.0.1:2323"
}

# The relay handler delivers {"to": "G", "body": ...} to users of this
# server, and sends {"to": "T@J", ...} on to server J.
handler "relay" {
  socket        = "k-relay.sock"
  command       = ["go", "run", "./examples/relay"]
  dir           = "../.." # the repository root, for go run
  start_timeout = "120s"  # the first start compiles the handler
}

# The relay handler asks the informer for this server's name.
informer {
  socket = "k-informer.sock"
}

# Server J. The secret must be the same in j.hcl's peer "K"; a file with
# secrets in it should be readable by its owner only (chmod 600).
peer "J" {
  address = "127.0.0.1:2223"
  secret  = "change-me-J-and-K"
}
