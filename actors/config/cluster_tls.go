package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"time"

	"github.com/bester-project/bester/wire/tlsconf"
)

// clusterTLS checks the member TLS block and reads its files, so that a
// certificate the other members would refuse stops the server at start
// with the line that names it, not at the first delivery.
func (c *checker) clusterTLS(r *rawClusterTLS, cl *Cluster) *ClusterTLS {
	caOK := c.required(r.CA, r.CARange, "ca")
	certOK := c.required(r.Cert, r.CertRange, "cert")
	keyOK := c.required(r.Key, r.KeyRange, "key")
	t := &ClusterTLS{CA: under(c.dir, r.CA), Cert: under(c.dir, r.Cert), Key: under(c.dir, r.Key)}
	var pool *x509.CertPool
	if caOK {
		pool = c.caPool(t.CA, r.CARange, "ca")
	}
	if !certOK || !keyOK {
		return t
	}
	pair, err := validKeyPair(t.Cert, t.Key, time.Now())
	if err != nil {
		c.errorf(r.CertRange, `Invalid "cert"`, "The certificate cannot be used: %v.", err)
		return t
	}
	if pool != nil {
		if err := memberCertificate(pair, pool, dialHost(cl)); err != nil {
			c.errorf(r.CertRange, `Invalid "cert"`, "The other members would refuse this certificate: %v.", err)
		}
	}
	return t
}

// Load reads the member certificate and the CAs, as a member uses them
// both to accept and to dial other members. It refuses a certificate that
// is not valid now.
func (t *ClusterTLS) Load() (tls.Certificate, *x509.CertPool, error) {
	pool, err := tlsconf.LoadPool(t.CA)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pair, err := validKeyPair(t.Cert, t.Key, time.Now())
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return pair, pool, nil
}

// memberCertificate says why the other members, trusting pool, would
// refuse pair: a member presents it as a server to those that dial host,
// and as a client to those it dials.
func memberCertificate(pair tls.Certificate, pool *x509.CertPool, host string) error {
	intermediates := x509.NewCertPool()
	for _, der := range pair.Certificate[1:] {
		if cert, err := x509.ParseCertificate(der); err == nil {
			intermediates.AddCert(cert)
		}
	}
	for _, use := range []struct {
		usage x509.ExtKeyUsage
		as    string
	}{{x509.ExtKeyUsageServerAuth, "server"}, {x509.ExtKeyUsageClientAuth, "client"}} {
		opts := x509.VerifyOptions{Roots: pool, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{use.usage}}
		if _, err := pair.Leaf.Verify(opts); err != nil {
			return fmt.Errorf("as a %s, it does not verify against ca (a member certificate must chain to ca and allow both server and client authentication): %w", use.as, err)
		}
	}
	if host != "" {
		if err := pair.Leaf.VerifyHostname(host); err != nil {
			return fmt.Errorf("the other members dial %s, and %w", host, err)
		}
	}
	return nil
}

// dialHost is the host the other members dial: advertise's, or bind's
// when its port is 0 and the member advertises the port it gets. It is
// "" when neither names one (an error reported already).
func dialHost(cl *Cluster) string {
	address := cl.Advertise
	if address == "" {
		address = cl.Bind
	}
	if host := hostOf(address); !unspecifiedHost(host) {
		return host
	}
	return ""
}

// plaintextCluster refuses a cluster without tls unless every member
// address it names is loopback (etcd's endpoints have a check of their
// own, clusterEtcd): member traffic carries every user's messages, and
// anyone who reaches a member's port could deliver to its users.
func (c *checker) plaintextCluster(r *rawCluster, cl *Cluster) {
	addresses := []string{cl.Bind, cl.Advertise}
	if cl.Static != nil {
		addresses = append(addresses, cl.Static.Members...)
	}
	for _, a := range addresses {
		if host, _, err := net.SplitHostPort(a); err == nil && !tlsconf.LoopbackHost(host) {
			c.errorf(r.DefRange, `Cluster without "tls"`,
				"%q is not a loopback address (127.0.0.0/8, ::1 or localhost), so member traffic would cross the network in clear, "+
					"and anyone who reaches a member could deliver messages to its users. Add a tls block with the cluster's CA "+
					`and this member's certificate and key, such as tls { ca = "certs/ca.crt"  cert = "certs/m1.crt"  key = "certs/m1.key" }, `+
					"or keep every member and static member on loopback.", a)
			return
		}
	}
}
