package config

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/bester-project/bester/wire/tlsconf"
)

// clusterEtcd checks the `etcd` block of `cluster` and fills its
// defaults.
func (c *checker) clusterEtcd(r *rawClusterEtcd) *ClusterEtcd {
	e := &ClusterEtcd{
		Endpoints:   c.addressList(r.Endpoints, r.EndpointsRange, "endpoints"),
		Prefix:      DefaultEtcdPrefix,
		LeaseTTL:    c.duration(r.LeaseTTL, r.LeaseTTLRange, "lease_ttl", DefaultEtcdLeaseTTL, positive),
		DialTimeout: c.duration(r.DialTimeout, r.DialTimeoutRange, "dial_timeout", DefaultEtcdDialTimeout, positive),
	}
	if e.LeaseTTL > 0 && e.LeaseTTL < MinEtcdLeaseTTL {
		c.errorf(r.LeaseTTLRange, `Invalid "lease_ttl"`,
			"lease_ttl must be at least %v, etcd's shortest lease, not %v.", MinEtcdLeaseTTL, e.LeaseTTL)
	}
	if r.Prefix != nil && c.required(*r.Prefix, r.PrefixRange, "prefix") {
		e.Prefix = *r.Prefix
		if !strings.HasPrefix(e.Prefix, "/") || strings.HasSuffix(e.Prefix, "/") {
			c.errorf(r.PrefixRange, `Invalid "prefix"`,
				"prefix is a folder of etcd keys: it starts with '/' and does not end with one, like %q, not %q.",
				DefaultEtcdPrefix, e.Prefix)
		}
	}
	if r.TLS != nil {
		e.TLS = c.peerTLS(r.TLS)
		return e
	}
	for _, endpoint := range e.Endpoints {
		if host, _, err := net.SplitHostPort(endpoint); err == nil && !tlsconf.LoopbackHost(host) {
			c.errorf(r.DefRange, `etcd without "tls"`,
				"Endpoint %q is not a loopback address, so the cluster's membership and directory would cross the network in clear, "+
					"and anyone who reaches etcd could add members or move users. Add a tls block with etcd's CA (and a client "+
					`certificate if etcd asks for one), such as tls { ca = "certs/etcd-ca.crt" }, or run etcd on loopback.`, endpoint)
			break
		}
	}
	return e
}

// clusterStatic checks the `static` block of `cluster` and fills its
// defaults. cl holds the checked bind and advertise.
func (c *checker) clusterStatic(r *rawClusterStatic, rc *rawCluster, cl *Cluster) *ClusterStatic {
	s := &ClusterStatic{
		HealthPort: r.HealthPort,
		Members:    c.addressList(r.Members, r.MembersRange, "members"),
		Refresh:    c.duration(r.Refresh, r.RefreshRange, "refresh", DefaultStaticRefresh, positive),
	}
	bindPort := portOf(cl.Bind)
	switch {
	case r.HealthPort < 1 || r.HealthPort > 65535:
		c.errorf(r.HealthPortRange, `Invalid "health_port"`, "health_port must be a port from 1 to 65535, not %d.", r.HealthPort)
		return s
	case r.HealthPort == bindPort:
		c.errorf(r.HealthPortRange, `Invalid "health_port"`,
			"health_port %d is bind's port too: the health endpoint listens on bind's host beside the member listener, so give it a port of its own.",
			r.HealthPort)
	}
	if _, problem := splitTCPAddress(networkTCP, cl.Bind); problem == "" && bindPort == 0 {
		c.errorf(rc.BindRange, `Invalid "bind"`,
			"A static member needs a fixed port: port 0 picks another at every start, which the other members cannot know. Give bind a port, such as %q.",
			net.JoinHostPort(hostOf(cl.Bind), "7946"))
	}
	if cl.Advertise != "" && len(s.Members) > 0 {
		own := net.JoinHostPort(hostOf(cl.Advertise), strconv.Itoa(s.HealthPort))
		if !slices.ContainsFunc(s.Members, func(m string) bool { return canonicalAddress(m) == canonicalAddress(own) }) {
			c.errorf(r.MembersRange, `Member missing from "members"`,
				"members must list every member, this one included, as host:health_port: add %q (advertise's host and health_port), "+
					"so that every member polls the same list.", own)
		}
	}
	return s
}
