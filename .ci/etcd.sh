# Sourced by .ci/run: starts a throw-away etcd on loopback for the cluster
# tests and exports its client endpoint as BESTER_TEST_ETCD. The server is
# stopped and its data directory removed when the sourcing shell exits.
# Needs etcd (Debian's etcd-server) and python3 on PATH.

# free_ports N prints N loopback ports that were free a moment ago.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

start_test_etcd() {
  local client peer metrics
  read -r client peer metrics <<<"$(free_ports 3)"
  ETCD_TEST_DIR=$(mktemp -d)
  etcd --name bester-test --data-dir "$ETCD_TEST_DIR/data" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "bester-test=http://127.0.0.1:$peer" \
    --listen-metrics-urls "http://127.0.0.1:$metrics" \
    >"$ETCD_TEST_DIR/etcd.log" 2>&1 &
  ETCD_TEST_PID=$!
  trap stop_test_etcd EXIT
  local i
  for i in $(seq 1 100); do
    if python3 -c "import urllib.request,sys; sys.exit(0 if b'true' in urllib.request.urlopen('http://127.0.0.1:$client/health', timeout=1).read() else 1)" 2>/dev/null; then
      export BESTER_TEST_ETCD="127.0.0.1:$client"
      echo "etcd $(etcd --version | head -n 1) serving on $BESTER_TEST_ETCD"
      return 0
    fi
    if ! kill -0 "$ETCD_TEST_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "etcd did not become healthy; its log:" >&2
  cat "$ETCD_TEST_DIR/etcd.log" >&2
  return 1
}

stop_test_etcd() {
  if [ -n "${ETCD_TEST_PID:-}" ]; then
    kill "$ETCD_TEST_PID" 2>/dev/null || true
    wait "$ETCD_TEST_PID" 2>/dev/null || true
  fi
  if [ -n "${ETCD_TEST_DIR:-}" ]; then rm -rf "$ETCD_TEST_DIR"; fi
}
