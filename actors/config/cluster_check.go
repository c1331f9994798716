package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// cluster checks the `cluster` block and fills its defaults.
func (c *checker) cluster(r *rawCluster) *Cluster {
	cl := &Cluster{
		Name: r.Name,
		Bind: r.Bind,
		RequestTimeout: c.duration(r.RequestTimeout, r.RequestTimeoutRange, "request_timeout",
			DefaultClusterRequestTimeout, positive),
		DeliveryTimeout: c.duration(r.DeliveryTimeout, r.DeliveryTimeoutRange, "delivery_timeout",
			DefaultClusterDeliveryTimeout, positive),
		DeliveryWindow: c.count(r.DeliveryWindow, r.DeliveryWindowRange, "delivery_window",
			DefaultClusterDeliveryWindow, 1),
	}
	if c.required(r.Name, r.NameRange, "name") &&
		(strings.IndexFunc(r.Name, unicode.IsSpace) >= 0 || strings.Contains(r.Name, "/")) {
		c.errorf(r.NameRange, `Invalid "name"`,
			"The cluster's name is a folder of its keys in etcd: no white space or '/', not %q.", r.Name)
	}
	c.clusterAddresses(r, cl)
	switch {
	case r.Etcd == nil && r.Static == nil && !c.decodedWithin(r.Body):
		c.errorf(r.DefRange, "Missing membership",
			"A cluster needs one of an etcd block (members and users kept in etcd) or a static block (a fixed list of members).")
	case r.Etcd != nil && r.Static != nil:
		c.errorf(r.Static.DefRange, "Conflicting membership",
			"A cluster has an etcd block or a static block, not both: remove one of them.")
	}
	if r.Etcd != nil {
		cl.Etcd = c.clusterEtcd(r.Etcd)
	}
	if r.Static != nil {
		cl.Static = c.clusterStatic(r.Static, r, cl)
	}
	if r.TLS != nil {
		cl.TLS = c.clusterTLS(r.TLS, cl)
	} else {
		c.plaintextCluster(r, cl)
	}
	return cl
}

// decodedWithin reports whether HCL reported an error inside body, such as
// a block given twice, after which a missing block may only be its echo.
func (c *checker) decodedWithin(body hcl.Body) bool {
	b, ok := body.(*hclsyntax.Body)
	if !ok {
		return false
	}
	for _, r := range c.decoded {
		if b.SrcRange.Overlaps(r) {
			return true
		}
	}
	return false
}

// clusterAddresses checks bind and advertise, and fills Advertise: bind
// unless the file gives one, and empty when bind's port is 0, for the
// member then advertises the port it gets.
func (c *checker) clusterAddresses(r *rawCluster, cl *Cluster) {
	if r.Advertise != nil {
		if problem := advertiseProblem(*r.Advertise); problem != "" {
			c.errorf(r.AdvertiseRange, `Invalid "advertise"`, "Address %q: %s.", *r.Advertise, problem)
		} else {
			cl.Advertise = *r.Advertise
		}
	}
	if !c.required(r.Bind, r.BindRange, "bind") {
		return
	}
	host, problem := splitTCPAddress(networkTCP, r.Bind)
	if problem != "" {
		c.errorf(r.BindRange, `Invalid "bind"`, "Address %q: %s.", r.Bind, problem)
		return
	}
	switch {
	case r.Advertise != nil && portOf(r.Bind) == 0:
		c.errorf(r.AdvertiseRange, `Invalid "advertise"`,
			"bind's port 0 picks another port at every start, which advertise cannot name: give bind a fixed port, or remove advertise so that the member advertises the port it gets.")
	case r.Advertise != nil:
	case unspecifiedHost(host):
		c.errorf(r.BindRange, `Missing "advertise"`,
			"bind %q listens on every interface, and the other members cannot dial that: "+
				"set advertise to this member's host:port on their network, such as advertise = %q.",
			r.Bind, net.JoinHostPort("10.0.0.11", strconv.Itoa(portOf(r.Bind))))
	case portOf(r.Bind) != 0:
		cl.Advertise = r.Bind
	}
}

// advertiseProblem says why address is not one other members can dial.
func advertiseProblem(address string) string {
	if problem := peerAddress(address); problem != "" {
		return problem
	}
	if host, _, _ := net.SplitHostPort(address); unspecifiedHost(host) {
		return "it names every interface (" + host + "), which no member can dial: give this member's own address"
	}
	return ""
}

// unspecifiedHost reports whether a listening host means every
// interface: empty, 0.0.0.0 or ::.
func unspecifiedHost(host string) bool {
	ip, err := netip.ParseAddr(host)
	return host == "" || err == nil && ip.IsUnspecified()
}

// portOf is the port of a host:port already checked; 0 when it is not one.
func portOf(address string) int {
	_, port, err := net.SplitHostPort(address)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}

// hostOf is the host of a host:port; "" when it is not one.
func hostOf(address string) string {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return ""
	}
	return host
}

// canonicalAddress writes a host:port so that two spellings of one
// address compare equal: IP literals in their shortest form, names in
// lower case.
func canonicalAddress(address string) string {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return address
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.Unmap().String()
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}

// addressList checks a list of host:port addresses to dial: at least one,
// each valid, none twice.
func (c *checker) addressList(addresses []string, r hcl.Range, field string) []string {
	if len(addresses) == 0 && r.Filename != "" {
		c.errorf(r, fmt.Sprintf("Empty %q", field), "%q must name at least one host:port.", field)
	}
	seen := map[string]bool{}
	for _, a := range addresses {
		if problem := peerAddress(a); problem != "" {
			c.errorf(r, fmt.Sprintf("Invalid %q", field), "Address %q: %s.", a, problem)
			continue
		}
		if seen[canonicalAddress(a)] {
			c.errorf(r, fmt.Sprintf("Duplicate in %q", field), "%q is listed twice in %q.", a, field)
		}
		seen[canonicalAddress(a)] = true
	}
	return addresses
}
