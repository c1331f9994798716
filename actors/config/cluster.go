package config

import (
	"time"

	"github.com/bester-project/bester/wire/tlsconf"
)

// Cluster makes this server one member of several processes that act as
// one logical server (the `cluster` block): they share server.name and
// the handlers, and a client of any member is reachable by its plain
// username from every member.
type Cluster struct {
	// Name is the cluster's name: members only see members of the same
	// name (`name`).
	Name string
	// Bind is the host:port of the member-to-member listener (`bind`).
	Bind string
	// Advertise is the host:port the other members dial; Bind when the
	// file gives none, and empty when Bind's port is 0 (etcd membership
	// only): the member then advertises the port it gets (`advertise`).
	Advertise string
	// RequestTimeout bounds a question to another member, such as the
	// informer's cluster-wide ones (`request_timeout`).
	RequestTimeout time.Duration
	// DeliveryTimeout is how long a delivery to another member waits for
	// its acknowledgement before its users are reported undelivered
	// (`delivery_timeout`).
	DeliveryTimeout time.Duration
	// DeliveryWindow is how many deliveries to one member may wait for
	// their acknowledgement at once; more are reported overloaded
	// (`delivery_window`).
	DeliveryWindow int
	// Etcd or Static, exactly one, says how members find each other.
	Etcd   *ClusterEtcd
	Static *ClusterStatic
	// TLS is mutual TLS between members; nil only where every member
	// address is loopback (`tls`).
	TLS *ClusterTLS
}

// ClusterEtcd keeps the member list and the user directory in etcd (the
// `etcd` block of `cluster`).
type ClusterEtcd struct {
	// Endpoints are etcd's client addresses, host:port (`endpoints`).
	Endpoints []string
	// Prefix is the key prefix of the cluster's keys (`prefix`).
	Prefix string
	// LeaseTTL bounds how long a dead member and its users stay listed
	// (`lease_ttl`, at least 2s).
	LeaseTTL time.Duration
	// DialTimeout bounds connecting to etcd and each step of joining
	// (`dial_timeout`).
	DialTimeout time.Duration
	// TLS is for the connection to etcd; nil for plaintext (`tls`).
	TLS *tlsconf.Client
}

// ClusterStatic is a fixed list of members polled over HTTP, for small
// clusters without etcd (the `static` block of `cluster`).
type ClusterStatic struct {
	// HealthPort is where this member answers the others' polls, on the
	// bind address's host (`health_port`).
	HealthPort int
	// Members are every member's host:health_port, this one's included
	// (`members`).
	Members []string
	// Refresh is the poll period: a dead member leaves the others' lists
	// within about this long (`refresh`).
	Refresh time.Duration
}

// ClusterTLS is the member-to-member mutual TLS (the `tls` block of
// `cluster`). Each member presents Cert both as a server and as a client,
// and accepts only members whose certificates chain to CA.
type ClusterTLS struct {
	// CA is the absolute path of the PEM file of the authorities that
	// sign member certificates (`ca`).
	CA string
	// Cert and Key are the absolute paths of this member's PEM
	// certificate and private key (`cert`, `key`).
	Cert, Key string
}
