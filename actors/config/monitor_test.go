package config

import (
	"path/filepath"
	"reflect"
	"testing"
)

func TestMonitor(t *testing.T) {
	handlers := "handler \"a\" {\n  socket = \"a.sock\"\n}\nhandler \"b\" {\n  socket = \"b.sock\"\n}\n"
	if cfg := mustLoad(t, okBase+handlers); cfg.Monitor != nil {
		t.Fatalf("no monitor block gave %+v", cfg.Monitor)
	}

	cfg := mustLoad(t, okBase+handlers+"monitor {\n  address = \"127.0.0.1:8223\"\n}\n")
	want := &Monitor{Address: "127.0.0.1:8223", AllowRemote: DefaultMonitorAllowRemote, PProf: DefaultMonitorPProf,
		TopSenders: DefaultMonitorTopSenders}
	if !reflect.DeepEqual(cfg.Monitor, want) {
		t.Fatalf("defaults: got %+v, want %+v", cfg.Monitor, want)
	}

	cfg = mustLoad(t, okBase+handlers+`monitor {
  address        = "0.0.0.0:8223"
  allow_remote   = true
  pprof          = false
  ready_handlers = ["b"]
  top_senders    = 0
  insecure_plaintext = true
}
`)
	want = &Monitor{Address: "0.0.0.0:8223", AllowRemote: true, ReadyHandlers: []string{"b"}, InsecurePlaintext: true}
	if !reflect.DeepEqual(cfg.Monitor, want) {
		t.Fatalf("set: got %+v, want %+v", cfg.Monitor, want)
	}
	if cfg = mustLoad(t, okBase+"monitor {\n  address = \"127.0.0.1:8223\"\n  pprof = true\n}\n"); !cfg.Monitor.PProf {
		t.Fatal("pprof = true on loopback: not set")
	}

	cfg = mustLoad(t, okBase+handlers+"monitor {\n  address = \"localhost:8223\"\n  ready_handlers = []\n}\n")
	if len(cfg.Monitor.ReadyHandlers) != 0 {
		t.Fatalf("ready_handlers = [] gave %v", cfg.Monitor.ReadyHandlers)
	}
}

func TestMonitorErrors(t *testing.T) {
	handler := "handler \"a\" {\n  socket = \"a.sock\"\n}\n"
	cases := []struct {
		name, src, field, also string
	}{
		{"missing address", okBase + "monitor { #!\n  pprof = true\n}\n", "address", "required"},
		{"empty address", okBase + "monitor {\n  address = \"\" #!\n}\n", "address", "empty"},
		{"no port", okBase + "monitor {\n  address = \"127.0.0.1\" #!\n}\n", "address", "host:port"},
		{"all interfaces", okBase + "monitor {\n  address = \":8223\" #!\n}\n", "address", "allow_remote"},
		{"remote IP", okBase + "monitor {\n  address = \"0.0.0.0:8223\" #!\n}\n", "address", "allow_remote"},
		{"remote name", okBase + "monitor {\n  address = \"example.com:8223\" #!\n}\n", "address", "allow_remote"},
		{"remote profiler", okBase + "monitor {\n  address = \"0.0.0.0:8223\" #!\n  allow_remote = true\n  insecure_plaintext = true\n  pprof = true\n}\n", "address", "pprof_remote = true"},
		{"pprof_remote without pprof", okBase + "monitor {\n  address = \"127.0.0.1:8223\"\n  pprof_remote = true #!\n}\n", "pprof_remote", "profiler is off"},
		{"pprof_remote on loopback", okBase + "monitor {\n  address = \"127.0.0.1:8223\"\n  pprof = true\n  pprof_remote = true #!\n}\n", "pprof_remote", "only from this machine"},
		{"pprof_remote without client certificates", remoteProfiler(""), "pprof_remote", `client_auth = "require"`},
		{"remote without tls", okBase + "monitor {\n  address = \"0.0.0.0:8223\" #!\n  allow_remote = true\n}\n", "address", "insecure_plaintext = true"},
		{"plaintext on loopback", okBase + "monitor {\n  address = \"127.0.0.1:8223\"\n  insecure_plaintext = true #!\n}\n", "insecure_plaintext", "remove insecure_plaintext"},
		{"remote not allowed", okBase + "monitor {\n  address = \"10.0.0.1:8223\" #!\n  allow_remote = false\n}\n", "address", "allow_remote"},
		{"unknown handler", okBase + handler + "monitor {\n  address = \"127.0.0.1:8223\"\n  ready_handlers = [\"a\", \"z\"] #!\n}\n", "ready_handlers", `"z"`},
		{"reserved type", okBase + handler + "monitor {\n  address = \"127.0.0.1:8223\"\n  ready_handlers = [\"dummy\"] #!\n}\n", "ready_handlers", `"dummy"`},
		{"negative top_senders", okBase + "monitor {\n  address = \"127.0.0.1:8223\"\n  top_senders = -1 #!\n}\n", "top_senders", "at least 0"},
		{"login", monitorTLS("    login = \"password\" #!\n"), "login", "Nobody logs in"},
		{"certificate_user", monitorTLS("    certificate_user = \"email\" #!\n"), "certificate_user", "Nobody logs in"},
		{"client_auth without CA", monitorTLS("    client_auth = \"require\" #!\n"), "client_ca", "require"},
		{"expired", okBase + "monitor {\n  address = \"127.0.0.1:8223\"\n  tls {\n    cert = \"old.crt\" #!\n    key  = \"old.key\"\n  }\n}\n", "cert", "expired"},
		{"tls and plaintext", okBase + "monitor {\n  address = \"0.0.0.0:8223\"\n  allow_remote = true\n  insecure_plaintext = true #!\n  tls {\n    cert = \"server.crt\"\n    key  = \"server.key\"\n  }\n}\n", "insecure_plaintext", "tls block"},
		{"twice", okBase + handler + "monitor {\n  address = \"127.0.0.1:8223\"\n  ready_handlers = [\"a\", \"a\"] #!\n}\n", "ready_handlers", "twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, path, err := loadWithTLSFiles(t, c.src)
			wantOneError(t, path, c.src, err, c.field, c.also)
		})
	}
}

// monitorTLS is a monitor block on a remote address with a tls block of
// the files loadWithTLSFiles writes, and extra lines inside it.
func monitorTLS(extra string) string {
	return okBase + "monitor {\n  address = \"0.0.0.0:8223\"\n  allow_remote = true\n  tls {\n    cert = \"server.crt\"\n    key  = \"server.key\"\n" +
		extra + "  }\n}\n"
}

// remoteProfiler is a monitor block serving the profiler on a remote
// address over TLS, with tlsExtra lines in its tls block; the error mark
// is on pprof_remote.
func remoteProfiler(tlsExtra string) string {
	return okBase + "monitor {\n  address = \"0.0.0.0:8223\"\n  allow_remote = true\n  pprof = true\n  pprof_remote = true #!\n" +
		"  tls {\n    cert = \"server.crt\"\n    key  = \"server.key\"\n" + tlsExtra + "  }\n}\n"
}

// TestMonitorRemoteProfiler: pprof_remote serves the profiler beyond the
// machine to clients with certificates only.
func TestMonitorRemoteProfiler(t *testing.T) {
	cfg, _, err := loadWithTLSFiles(t, remoteProfiler("    client_ca = \"ca.crt\"\n    client_auth = \"require\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.Monitor; !m.PProf || !m.PProfRemote {
		t.Fatalf("pprof %v, pprof_remote %v; want both", m.PProf, m.PProfRemote)
	}
}

func TestMonitorTLS(t *testing.T) {
	cfg, path, err := loadWithTLSFiles(t, monitorTLS("    client_ca = \"ca.crt\"\n    client_auth = \"require\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	want := &ListenerTLS{Cert: filepath.Join(dir, "server.crt"), Key: filepath.Join(dir, "server.key"),
		ClientCA: filepath.Join(dir, "ca.crt"), ClientAuth: ClientAuthRequire,
		MinVersion: DefaultTLSMinVersion, Login: DefaultLogin, CertificateUser: DefaultCertificateUser}
	if !reflect.DeepEqual(cfg.Monitor.TLS, want) || cfg.Monitor.InsecurePlaintext {
		t.Fatalf("got %+v, want %+v", cfg.Monitor.TLS, want)
	}
	if _, err := cfg.Monitor.TLS.ServerConfig(); err != nil {
		t.Fatalf("the monitor's TLS files do not load: %v", err)
	}
}
