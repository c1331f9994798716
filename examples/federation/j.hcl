# Server J of the two-server example in README.md ("Two servers"). It runs
# on loopback next to server K (k.hcl). From the repository root:
#   chmod 600 examples/federation/*.hcl
#   go run ./cmd/besterd -config examples/federation/j.hcl
# Relative paths below are relative to this file's directory.

server {
  name = "J"
  # Sockets live in the default runtime_dir, which K shares: their names
  # start with "j-" so that both servers can run on one machine.
}

# Any username, no password: for loopback only.
auth {
  mode = "open"
}

listener "tcp4" {
  network = "tcp4"
  address = "127.0.0.1:2223"
}

# The relay handler delivers {"to": "G", "body": ...} to users of this
# server, and sends {"to": "G@K", ...} on to server K.
handler "relay" {
  socket        = "j-relay.sock"
  command       = ["go", "run", "./examples/relay"]
  dir           = "../.." # the repository root, for go run
  start_timeout = "120s"  # the first start compiles the handler
}

# The relay handler asks the informer for this server's name.
informer {
  socket = "j-informer.sock"
}

# Server K. The secret must be the same in k.hcl's peer "J"; a file with
# secrets in it should be readable by its owner only (chmod 600).
peer "K" {
  address = "127.0.0.1:2323"
  secret  = "change-me-J-and-K"
}
