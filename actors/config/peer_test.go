package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
)

func TestPeers(t *testing.T) {
	cfg := mustLoad(t, okBase+`
server {
  name                = "J"
  allow_unnamed_peers = true
  allow_legacy_peers  = true
}
peer "K" {
  address     = "k.example.com:2223"
  secret      = "s3cret"
  codec       = "json"
  timeout     = "2s"
  queue       = 16
  max_in_flight = 32
  backoff_min = "50ms"
  backoff_max = "1m"
  insecure_plaintext = true
}
peer "L" {
  address = "[::1]:2224"
  secret  = "other"
}
`)
	want := []Peer{
		{Name: "K", Address: "k.example.com:2223", Secret: "s3cret", Codec: wire.CodecJSON, Timeout: 2 * time.Second,
			Queue: 16, MaxInFlight: 32, BackoffMin: 50 * time.Millisecond, BackoffMax: time.Minute, InsecurePlaintext: true},
		{Name: "L", Address: "[::1]:2224", Secret: "other", Codec: DefaultPeerCodec, Timeout: DefaultPeerTimeout,
			Queue: DefaultPeerQueue, MaxInFlight: DefaultPeerMaxInFlight, BackoffMin: DefaultPeerBackoffMin, BackoffMax: DefaultPeerBackoffMax},
	}
	if !reflect.DeepEqual(cfg.Peers, want) {
		t.Fatalf("got  %+v\nwant %+v", cfg.Peers, want)
	}
	if !cfg.Server.AllowUnnamedPeers || !cfg.Server.AllowLegacyPeers {
		t.Fatalf("server %+v", cfg.Server)
	}

	cfg = mustLoad(t, okBase)
	if cfg.Peers != nil || cfg.Server.AllowUnnamedPeers != DefaultAllowUnnamedPeers || cfg.Server.AllowLegacyPeers != DefaultAllowLegacyPeers {
		t.Fatalf("defaults: peers %v, server %+v", cfg.Peers, cfg.Server)
	}
}

func TestPeerErrors(t *testing.T) {
	const self = "server {\n  name = \"J\"\n}\n"
	peer := func(label string, body ...string) string {
		return fmt.Sprintf("peer %q {\n%s\n}\n", label, strings.Join(body, "\n"))
	}
	addr, secret := `  address = "127.0.0.1:2323"`, `  secret = "s"`
	cases := []struct {
		name  string
		src   string // the line with the problem is marked "#!"
		field string
		also  string
	}{
		{"duplicate", peer("K", addr, secret) + "peer \"K\" { #!\n" + addr + "\n" + secret + "\n}\n", "peer", "already named"},
		{"own name", "peer \"J\" { #!\n" + addr + "\n" + secret + "\n}\n", "peer", "this server"},
		{"name with colon", "peer \"k:1\" { #!\n" + addr + "\n" + secret + "\n}\n", "peer", "':'"},
		{"missing address", "peer \"K\" { #!\n" + secret + "\n}\n", "address", "required"},
		{"missing secret", "peer \"K\" { #!\n" + addr + "\n}\n", "secret", "required"},
		{"empty secret", peer("K", addr, `  secret = "" #!`), "secret", "empty"},
		{"address without port", peer("K", `  address = "127.0.0.1" #!`, secret), "address", "host:port"},
		{"address without host", peer("K", `  address = ":2323" #!`, secret), "address", "no host"},
		{"port zero", peer("K", `  address = "127.0.0.1:0" #!`, secret), "address", "1 to 65535"},
		{"codec auto", peer("K", addr, secret, `  codec = "auto" #!`), "codec", "cbor"},
		{"bad timeout", peer("K", addr, secret, `  timeout = "soon" #!`), "timeout", "not a duration"},
		{"zero queue", peer("K", addr, secret, `  queue = 0 #!`), "queue", "at least 1"},
		{"backoff order", peer("K", addr, secret, `  backoff_min = "2s"`, `  backoff_max = "1s" #!`), "backoff_max", "must not exceed"},
		{"unnamed flag type", "server {\n  allow_unnamed_peers = \"yes please\" #!\n}\n", "allow_unnamed_peers", "bool"},
		{"plain peer on a network", peer("K", `  address = "k.example.net:2323" #!`, secret), "address", "insecure_plaintext = true"},
		{"plain peer on every address", peer("K", `  address = "0.0.0.0:2323" #!`, secret), "address", "not a loopback address"},
		{"plaintext with tls", peer("K", addr, secret, "  tls {}", "  insecure_plaintext = true #!"), "insecure_plaintext", "tls block"},
		{"plaintext on loopback", peer("K", addr, secret, "  insecure_plaintext = true #!"), "Unused \"insecure_plaintext\"", "loopback address"},
		{"plaintext type", peer("K", addr, secret, `  insecure_plaintext = "yes" #!`), "insecure_plaintext", "bool"},
		{"tls unknown field", peer("K", addr, secret, "  tls {", `    cipher = "x" #!`, "  }"), "cipher", ""},
		{"ca missing", peer("K", addr, secret, "  tls {", `    ca = "nope.crt" #!`, "  }"), "ca", "nope.crt: no such file"},
		{"ca not PEM", peer("K", addr, secret, "  tls {", `    ca = "bester.hcl" #!`, "  }"), "ca", "holds no PEM certificate"},
		{"empty ca", peer("K", addr, secret, "  tls {", `    ca = "" #!`, "  }"), "ca", "empty"},
		{"empty server_name", peer("K", addr, secret, "  tls {", `    server_name = "" #!`, "  }"), "server_name", "empty"},
		{"cert without key", peer("K", addr, secret, "  tls {", `    cert = "j.crt" #!`, "  }"), "key", "private key"},
		{"key without cert", peer("K", addr, secret, "  tls {", `    key = "j.key" #!`, "  }"), "cert", "certificate"},
		{"cert missing", peer("K", addr, secret, "  tls {", `    cert = "nope.crt" #!`, `    key = "nope.key"`, "  }"), "cert", "nope.crt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := okBase + c.src
			if !strings.Contains(c.src, "server {") {
				src = okBase + self + c.src
			}
			path := write(t, src)
			_, err := Load(path)
			if err == nil {
				t.Fatalf("no error for:\n%s", src)
			}
			msg := flat(err.Error())
			line := markedLine(t, src)
			for _, want := range []string{filepath.Base(path), fmt.Sprintf("line %d", line), c.field, c.also} {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q:\n%s", want, msg)
				}
			}
			if n := strings.Count(msg, "Error: "); n != 1 {
				t.Errorf("want exactly one error, got %d:\n%s", n, msg)
			}
		})
	}
}
