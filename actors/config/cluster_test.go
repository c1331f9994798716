package config

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/internal/testpki"
	"github.com/bester-project/bester/wire/tlsconf"
)

// writeClusterCerts writes into dir/certs a cluster CA with member
// certificates: m1 for loopback, remote for 10.0.0.11, serveronly (no
// client authentication), expired; and into dir/certs/other another CA
// with its own m1.
func writeClusterCerts(t *testing.T, dir string) {
	t.Helper()
	certs := filepath.Join(dir, "certs")
	other := filepath.Join(certs, "other")
	if err := os.MkdirAll(other, 0o700); err != nil {
		t.Fatal(err)
	}
	pki := testpki.NewIn(t, "cluster CA", certs)
	pki.Issue("m1", tlsconf.LocalServer("m1"))
	pki.Issue("remote", tlsconf.Leaf{CommonName: "remote", IPs: []net.IP{net.IPv4(10, 0, 0, 11)}, Server: true, Client: true})
	pki.Issue("serveronly", tlsconf.Leaf{CommonName: "serveronly", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	past := time.Now().Add(-48 * time.Hour)
	pki.Issue("expired", tlsconf.Leaf{CommonName: "expired", IPs: []net.IP{net.IPv4(127, 0, 0, 1)},
		Server: true, Client: true, NotBefore: past, NotAfter: past.Add(time.Hour)})
	testpki.NewIn(t, "other CA", other).Issue("m1", tlsconf.LocalServer("m1"))
}

// A static cluster on loopback needs no tls, and gets every default.
func TestClusterStaticDefaults(t *testing.T) {
	src := okBase + `
cluster {
  name = "bester"
  bind = "127.0.0.1:7946"
  static {
    health_port = 7947
    members     = ["127.0.0.1:7947", "127.0.0.1:7957", "localhost:7967"]
  }
}
`
	cfg, _, err := loadWith(t, src, writeClusterCerts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &Cluster{
		Name: "bester", Bind: "127.0.0.1:7946", Advertise: "127.0.0.1:7946",
		RequestTimeout: DefaultClusterRequestTimeout, DeliveryTimeout: DefaultClusterDeliveryTimeout,
		DeliveryWindow: DefaultClusterDeliveryWindow,
		Static: &ClusterStatic{HealthPort: 7947, Refresh: DefaultStaticRefresh,
			Members: []string{"127.0.0.1:7947", "127.0.0.1:7957", "localhost:7967"}},
	}
	if !reflect.DeepEqual(cfg.Cluster, want) {
		t.Errorf("cluster\n%+v\nwant\n%+v", cfg.Cluster, want)
	}
	if cfg, err := Load(write(t, okBase)); err != nil || cfg.Cluster != nil {
		t.Errorf("without a cluster block: Cluster %+v, error %v; want nil, nil", cfg.Cluster, err)
	}
}

// An etcd cluster across machines takes every field, resolves its paths
// against the file's directory, and its member TLS files load as a member
// uses them.
func TestClusterEtcdWithTLS(t *testing.T) {
	src := okBase + `
cluster {
  name             = "prod"
  bind             = "0.0.0.0:7946"
  advertise        = "10.0.0.11:7946"
  request_timeout  = "3s"
  delivery_timeout = "4s"
  delivery_window  = 64
  etcd {
    endpoints    = ["10.0.0.5:2379", "etcd.example.net:2379"]
    prefix       = "/prod/bester"
    lease_ttl    = "5s"
    dial_timeout = "2s"
    tls {
      ca          = "certs/ca.crt"
      cert        = "certs/m1.crt"
      key         = "certs/m1.key"
      server_name = "etcd"
    }
  }
  tls {
    ca   = "certs/ca.crt"
    cert = "certs/remote.crt"
    key  = "certs/remote.key"
  }
}
`
	cfg, path, err := loadWith(t, src, writeClusterCerts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	certs := filepath.Join(filepath.Dir(path), "certs")
	want := &Cluster{
		Name: "prod", Bind: "0.0.0.0:7946", Advertise: "10.0.0.11:7946",
		RequestTimeout: 3 * time.Second, DeliveryTimeout: 4 * time.Second, DeliveryWindow: 64,
		Etcd: &ClusterEtcd{
			Endpoints: []string{"10.0.0.5:2379", "etcd.example.net:2379"}, Prefix: "/prod/bester",
			LeaseTTL: 5 * time.Second, DialTimeout: 2 * time.Second,
			TLS: &tlsconf.Client{CA: filepath.Join(certs, "ca.crt"), Cert: filepath.Join(certs, "m1.crt"),
				Key: filepath.Join(certs, "m1.key"), ServerName: "etcd"},
		},
		TLS: &ClusterTLS{CA: filepath.Join(certs, "ca.crt"), Cert: filepath.Join(certs, "remote.crt"),
			Key: filepath.Join(certs, "remote.key")},
	}
	if !reflect.DeepEqual(cfg.Cluster, want) {
		t.Errorf("cluster\n%+v\nwant\n%+v", cfg.Cluster, want)
	}
	pair, pool, err := cfg.Cluster.TLS.Load()
	if err != nil {
		t.Fatalf("Load of the member TLS files: %v", err)
	}
	if pair.Leaf.Subject.CommonName != "remote" || pool == nil {
		t.Errorf("member TLS: certificate %q, pool %v", pair.Leaf.Subject.CommonName, pool)
	}
}

// With etcd, bind may take any free port: the member then advertises the
// one it gets, so Advertise stays empty.
func TestClusterEtcdBindPortZero(t *testing.T) {
	src := okBase + `
cluster {
  name = "bester"
  bind = "127.0.0.1:0"
  etcd {
    endpoints = ["127.0.0.1:2379"]
  }
}
`
	cfg, _, err := loadWith(t, src, writeClusterCerts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	e := cfg.Cluster.Etcd
	if cfg.Cluster.Advertise != "" || e.Prefix != DefaultEtcdPrefix || e.LeaseTTL != DefaultEtcdLeaseTTL ||
		e.DialTimeout != DefaultEtcdDialTimeout || e.TLS != nil || cfg.Cluster.TLS != nil {
		t.Errorf("cluster %+v, etcd %+v: want no advertise, the etcd defaults and no TLS", cfg.Cluster, e)
	}
}

// clusterBlock is a cluster block with lines of its own: head goes after
// bind, body after the membership block, which is static on loopback
// unless membership replaces it.
func clusterBlock(bind, head, membership, body string) string {
	if membership == "" {
		membership = "  static {\n    health_port = 7947\n    members = [\"127.0.0.1:7947\"]\n  }\n"
	}
	return okBase + "cluster {\n  name = \"bester\"\n  bind = \"" + bind + "\"\n" + head + membership + body + "}\n"
}

// etcdBlock is an etcd block with extra lines.
func etcdBlock(lines string) string {
	return "  etcd {\n    endpoints = [\"127.0.0.1:2379\"]\n" + lines + "  }\n"
}

// staticBlock is a static block with members and extra lines.
func staticBlock(members, lines string) string {
	return "  static {\n    health_port = 7947\n    members = [" + members + "]\n" + lines + "  }\n"
}

// memberTLS is a cluster tls block for the certificate base of
// writeClusterCerts, and a CA file.
func memberTLS(ca, base string) string {
	return "  tls {\n    ca = \"certs/" + ca + "\" #!\n    cert = \"certs/" + base + ".crt\" #!\n    key = \"certs/" + base + ".key\"\n  }\n"
}

// markOnly keeps the "#!" marker on the line that holds want only.
func markOnly(block, want string) string {
	lines := strings.Split(block, "\n")
	for i, l := range lines {
		if !strings.Contains(l, want) {
			lines[i] = strings.ReplaceAll(l, " #!", "")
		}
	}
	return strings.Join(lines, "\n")
}

func TestClusterErrors(t *testing.T) {
	const loop = "127.0.0.1:7946"
	cases := []struct {
		name  string
		src   string // the line with the problem is marked "#!"
		field string // must appear in the message
		also  string // further text the message must hold
	}{
		{"no membership", okBase + "cluster { #!\n  name = \"b\"\n  bind = \"127.0.0.1:7946\"\n}\n", "etcd block", "static block"},
		{"both memberships", clusterBlock(loop, etcdBlock(""), "  static { #!\n    health_port = 7947\n    members = [\"127.0.0.1:7947\"]\n  }\n", ""), "Conflicting membership", "not both"},
		{"two etcd blocks", clusterBlock(loop, etcdBlock(""), "  etcd { #!\n    endpoints = [\"127.0.0.1:2379\"]\n  }\n", ""), "etcd", "Only one etcd block"},
		{"empty name", strings.Replace(clusterBlock(loop, "", "", ""), `name = "bester"`, `name = "" #!`, 1), "name", "must not be empty"},
		{"name with slash", strings.Replace(clusterBlock(loop, "", "", ""), `name = "bester"`, `name = "a/b" #!`, 1), "name", "no white space or '/'"},
		{"bind not host:port", clusterBlock("127.0.0.1\" #!\n  request_timeout = \"1s", "", "", ""), "bind", "host:port"},
		{"bind port 0 with static", clusterBlock("127.0.0.1:0\" #!\n  request_timeout = \"1s", "", "", ""), "bind", "fixed port"},
		{"bind everywhere without advertise", clusterBlock("0.0.0.0:7946\" #!\n  request_timeout = \"1s", "", "", strings.ReplaceAll(memberTLS("ca.crt", "m1"), " #!", "")), "advertise", "every interface"},
		{"advertise everywhere", clusterBlock(loop, "  advertise = \"0.0.0.0:7946\" #!\n", "", ""), "advertise", "every interface"},
		{"advertise port 0", clusterBlock(loop, "  advertise = \"127.0.0.1:0\" #!\n", "", ""), "advertise", "1 to 65535"},
		{"advertise with bind port 0", clusterBlock("127.0.0.1:0", "  advertise = \"127.0.0.1:7946\" #!\n", etcdBlock(""), ""), "advertise", "fixed port"},
		{"zero request_timeout", clusterBlock(loop, "  request_timeout = \"0s\" #!\n", "", ""), "request_timeout", "greater than zero"},
		{"negative delivery_timeout", clusterBlock(loop, "  delivery_timeout = \"-1s\" #!\n", "", ""), "delivery_timeout", "greater than zero"},
		{"zero delivery_window", clusterBlock(loop, "  delivery_window = 0 #!\n", "", ""), "delivery_window", "at least 1"},
		{"short lease_ttl", clusterBlock(loop, "", etcdBlock("    lease_ttl = \"1500ms\" #!\n"), ""), "lease_ttl", "at least 2s"},
		{"zero dial_timeout", clusterBlock(loop, "", etcdBlock("    dial_timeout = \"0s\" #!\n"), ""), "dial_timeout", "greater than zero"},
		{"bad prefix", clusterBlock(loop, "", etcdBlock("    prefix = \"bester/\" #!\n"), ""), "prefix", "starts with '/'"},
		{"no endpoints", clusterBlock(loop, "", "  etcd {\n    endpoints = [] #!\n  }\n", ""), "endpoints", "at least one"},
		{"endpoint without port", clusterBlock(loop, "", "  etcd {\n    endpoints = [\"127.0.0.1\"] #!\n  }\n", ""), "endpoints", "host:port"},
		{"endpoint twice", clusterBlock(loop, "", "  etcd {\n    endpoints = [\"127.0.0.1:2379\", \"127.0.0.1:2379\"] #!\n  }\n", ""), "endpoints", "listed twice"},
		{"etcd ca unreadable", clusterBlock(loop, "", etcdBlock("    tls {\n      ca = \"certs/none.crt\" #!\n    }\n"), ""), "ca", "CA file"},
		{"bad refresh", clusterBlock(loop, "", staticBlock(`"127.0.0.1:7947"`, "    refresh = \"soon\" #!\n"), ""), "refresh", "not a duration"},
		{"no members", clusterBlock(loop, "", "  static {\n    health_port = 7947\n    members = [] #!\n  }\n", ""), "members", "at least one"},
		{"member twice", clusterBlock("[::1]:7946", "", "  static {\n    health_port = 7947\n    members = [\"[::1]:7947\", \"[0:0::1]:7947\"] #!\n  }\n", ""), "members", "listed twice"},
		{"own member missing", clusterBlock(loop, "", "  static {\n    health_port = 7947\n    members = [\"127.0.0.1:7957\"] #!\n  }\n", ""), "members", `add "127.0.0.1:7947"`},
		{"own member by advertise", clusterBlock(loop, "  advertise = \"127.0.0.2:7946\"\n", "  static {\n    health_port = 7947\n    members = [\"127.0.0.1:7947\"] #!\n  }\n", ""), "members", `add "127.0.0.2:7947"`},
		{"health_port 0", clusterBlock(loop, "", "  static {\n    health_port = 0 #!\n    members = [\"127.0.0.1:7947\"]\n  }\n", ""), "health_port", "1 to 65535"},
		{"health_port is bind's", clusterBlock(loop, "", "  static {\n    health_port = 7946 #!\n    members = [\"127.0.0.1:7946\"]\n  }\n", ""), "health_port", "port of its own"},
		{"no tls off loopback", strings.Replace(clusterBlock(loop, "  advertise = \"10.0.0.11:7946\"\n", etcdBlock(""), ""), "cluster {", "cluster { #!", 1), `Cluster without "tls"`, "10.0.0.11:7946"},
		{"etcd without tls, remote endpoint", clusterBlock(loop, "", "  etcd { #!\n    endpoints = [\"etcd.example.net:2379\"]\n  }\n", ""), `etcd without "tls"`, "etcd.example.net:2379"},
		{"no tls, remote member", strings.Replace(clusterBlock(loop, "", staticBlock(`"127.0.0.1:7947", "10.0.0.12:7947"`, ""), ""), "cluster {", "cluster { #!", 1), `Cluster without "tls"`, "tls { ca ="},
		{"no tls, every interface", strings.Replace(clusterBlock(":7946", "  advertise = \"127.0.0.1:7946\"\n", "", ""), "cluster {", "cluster { #!", 1), `Cluster without "tls"`, "loopback"},
		{"member ca unreadable", clusterBlock(loop, "", "", markOnly(memberTLS("none.crt", "m1"), "ca =")), "ca", "CA file"},
		{"member ca from another CA", clusterBlock(loop, "", "", markOnly(memberTLS("other/ca.crt", "m1"), "cert =")), "cert", "unknown authority"},
		{"member cert expired", clusterBlock(loop, "", "", markOnly(memberTLS("ca.crt", "expired"), "cert =")), "cert", "expired"},
		{"member cert without client use", clusterBlock(loop, "", "", markOnly(memberTLS("ca.crt", "serveronly"), "cert =")), "cert", "as a client"},
		{"member cert for another host", clusterBlock("10.0.0.12:7946", "", etcdBlock(""), markOnly(memberTLS("ca.crt", "remote"), "cert =")), "cert", "the other members dial 10.0.0.12"},
		{"member key of another cert", clusterBlock(loop, "", "", markOnly(strings.Replace(memberTLS("ca.crt", "m1"), "m1.key", "remote.key", 1), "cert =")), "cert", "private key does not match"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, path, err := loadWith(t, c.src, writeClusterCerts)
			wantOneError(t, path, c.src, err, c.field, c.also)
		})
	}
}

// The example clusters load, and their members differ where members on
// one machine must: the same server and cluster names and handlers,
// their own ports and runtime directories.
func TestClusterExamplesLoad(t *testing.T) {
	for _, dir := range []string{"../../examples/cluster", "../../examples/cluster/etcd"} {
		seen := map[string]string{}
		for _, m := range []string{"m1", "m2", "m3"} {
			path := filepath.Join(dir, m+".hcl")
			cfg, err := Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Server.Name != "J" || cfg.Cluster == nil || cfg.Cluster.Name != "bester" ||
				len(cfg.Handlers) != 1 || cfg.Handlers[0].Name != "relay" {
				t.Errorf("%s: server %q, cluster %+v, handlers %+v: want server J, cluster bester, the relay handler",
					path, cfg.Server.Name, cfg.Cluster, cfg.Handlers)
				continue
			}
			own := []string{cfg.Server.RuntimeDir, cfg.Listeners[0].Address, cfg.Monitor.Address, cfg.Cluster.Bind}
			if s := cfg.Cluster.Static; s != nil {
				own = append(own, strconv.Itoa(s.HealthPort))
			}
			for _, v := range own {
				if other, ok := seen[v]; ok {
					t.Errorf("%s and %s both use %s", other, path, v)
				}
				seen[v] = path
			}
		}
	}
}
