# Bester's configuration for an installed server, as /etc/bester/config.hcl:
# the systemd unit besterd.service beside this file and the container image
# (Dockerfile at the top of the repository) both use it. docs/deployment.md
# tells how to install it; docs/configuration.md describes every setting.
#
# Next to it in /etc/bester, readable by the server's user and nobody else:
#   users.htpasswd               bester useradd -file /etc/bester/users.htpasswd NAME
#   certs/server.crt, .key       the server's certificate, for the names clients dial
#   certs/ca.crt                 only with the certificate-login lines below

server {
  name = "J" # this server's name in deliveries; give each server its own
  # Sockets of the handlers and the informer: the RuntimeDirectory of the
  # systemd unit, a directory of the server's user in the image.
  runtime_dir = "/run/bester"
}

log {
  level = "info"
}

auth {
  mode = "htpasswd"
  file = "users.htpasswd" # relative to this file; read again on SIGHUP
}

# Reachable from other machines, so TLS: the server refuses passwords in
# clear on a listener that is not on loopback (unless the listener says
# insecure_plaintext = true, for a network you trust).
listener "public" {
  network = "tcp" # IPv4 and IPv6
  address = ":2443"
  tls {
    cert = "certs/server.crt"
    key  = "certs/server.key" # read again on SIGHUP, like the users
    # Certificate logins: clients present certificates that ca.crt signed,
    # whose common names are their usernames.
    # client_ca   = "certs/ca.crt"
    # client_auth = "require"
    # login       = "certificate"
  }
}

# The relay handler, installed with besterd (go install ./examples/relay).
handler "relay" {
  socket  = "relay.sock"
  command = ["/usr/local/bin/relay"]
}

informer {
  socket = "informer.sock"
}

# Health, readiness, status and Prometheus metrics (README.md, "Monitoring"),
# for the host's Prometheus and `bester status`. On loopback: an endpoint
# others reach needs allow_remote = true and a tls block, since /status names
# users.
monitor {
  address = "127.0.0.1:8223"
}
