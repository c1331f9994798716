package config

import (
	"crypto/tls"
	"math"
	"runtime"
	"time"

	"github.com/bester-project/bester/wire"
)

// Defaults for the `server` block, used when an attribute is absent.
const (
	// DefaultMaxFrame is the largest frame body accepted, in bytes.
	DefaultMaxFrame = wire.DefaultMaxFrame
	// DefaultGCPercent is the server's garbage collector target. What a
	// server keeps live is small (connection state, messages in flight), so
	// a collection every time the heap has grown by three times that costs
	// little memory, and about 15% less processor time per relayed message
	// than Go's default of 100.
	DefaultGCPercent = 300
	// DefaultShutdownTimeout is how long in-flight messages may finish on
	// stop.
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultAuthTimeout is how long a new connection has to send its first
	// message.
	DefaultAuthTimeout = 10 * time.Second
	// DefaultIdleTimeout is zero: idle connections are never closed.
	DefaultIdleTimeout time.Duration = 0
	// DefaultSendQueue is the number of outgoing messages queued per
	// connection.
	DefaultSendQueue = 1024
	// DefaultConnMaxInFlight is the number of messages per connection
	// dispatched and not yet reported.
	DefaultConnMaxInFlight = 256
	// DefaultMaxAuthFrame is the largest first message, in bytes: room for
	// any credentials, and all a stranger can make the server hold.
	DefaultMaxAuthFrame = 64 << 10
	// DefaultFrameTimeout is how long a frame that has begun may take to
	// arrive: a 1 MiB frame at 35 KB/s, far slower than any real link.
	DefaultFrameTimeout = 30 * time.Second
	// DefaultSendQueueBytes is what may wait for a client that does not
	// read: four full frames at the default max_frame.
	DefaultSendQueueBytes = 4 << 20
	// DefaultBufferBudget bounds the bytes the server holds in partial
	// frames and outboxes together (256 MiB).
	DefaultBufferBudget = 256 << 20
	// DefaultMaxConnections is well above the 19,000 connections one
	// server was measured to hold on a 2-core machine, and below the file
	// descriptor limits systems are usually given.
	DefaultMaxConnections = 50_000
	// DefaultMaxConnectionsPerAddress bounds what one source address (one
	// host, or one NAT) may open.
	DefaultMaxConnectionsPerAddress = 1024
	// DefaultMaxConnectionsPerUser bounds the connections of one user.
	DefaultMaxConnectionsPerUser = 256
	// DefaultMaxRecipients bounds one sendClients: each name costs a
	// lookup and a delivery in the handler's link.
	DefaultMaxRecipients = 1024
	// DefaultMessageRate is zero: no rate limit unless configured.
	DefaultMessageRate = 0
	// DefaultByteRate is zero: no byte rate limit unless configured.
	DefaultByteRate = 0
	// MinBufferBudget is the smallest buffer_budget: room for a few
	// full frames at the default max_frame.
	MinBufferBudget = 4 << 20

	// DefaultMaxLoginFailures is ten: enough for a person mistyping a
	// password several times, or a few clients behind one address with a
	// stale password, while a guesser gets ten tries per LoginBlock.
	DefaultMaxLoginFailures = 10
	// DefaultLoginBlock is a minute: long enough that guessing from one
	// address is hopeless (ten tries a minute), short enough that a
	// locked-out person waits only a moment.
	DefaultLoginBlock = time.Minute
	// DefaultLoginFailureDelay is half a second: nothing to a person, but
	// with DefaultMaxLoginsPerAddress it caps one address at four answers
	// a second once it has failed three times.
	DefaultLoginFailureDelay = 500 * time.Millisecond
	// DefaultMaxLoginsPerAddress is two: one address then takes at most
	// two bcrypt comparisons at a time, whatever number of connections it
	// opens, while a client that opens a couple of connections at once
	// does not wait.
	DefaultMaxLoginsPerAddress = 2
)

// Defaults for the `log` and `auth` blocks.
const (
	// DefaultLogLevel is the hclog level name used when none is given.
	DefaultLogLevel = "info"
	// DefaultAuthMode is htpasswd, so that a server is never open by
	// accident.
	DefaultAuthMode = AuthHtpasswd
)

// Defaults for `listener` blocks.
const (
	// DefaultNetwork is the listener network when none is given.
	DefaultNetwork = "tcp"
	// DefaultListenerCodec detects each client's codec from its first
	// message.
	DefaultListenerCodec = wire.CodecAuto
	// DefaultInsecurePlaintext is false: passwords and secrets never cross
	// a network in clear unless the operator says so.
	DefaultInsecurePlaintext = false
)

// Defaults for a listener's `tls` block.
const (
	// DefaultTLSMinVersion is TLS 1.2, the oldest version without known
	// weaknesses in the cipher suites Go offers; Go prefers 1.3 when
	// both ends have it.
	DefaultTLSMinVersion = tls.VersionTLS12
	// DefaultClientAuth asks for no client certificate.
	DefaultClientAuth = ClientAuthNone
	// DefaultLogin is by password.
	DefaultLogin = LoginPassword
	// DefaultCertificateUser is the common name, as Kubernetes and most
	// systems that log in by client certificate read it.
	DefaultCertificateUser = CertificateUserCommonName
)

// Defaults for the `monitor` block.
const (
	// DefaultMonitorAllowRemote is false: /status names users, so the
	// monitor listens on a loopback address unless the operator says so.
	DefaultMonitorAllowRemote = false
	// DefaultMonitorPProf is false: the profiler shows the program's
	// memory and stacks, and costs work when asked.
	DefaultMonitorPProf = false
	// DefaultMonitorPProfRemote is false: the profiler stays on loopback
	// addresses unless asked.
	DefaultMonitorPProfRemote = false
	// DefaultMonitorTopSenders is how many users /status names as top
	// senders: enough to find who floods the server, few enough that the
	// list names nobody else.
	DefaultMonitorTopSenders = 10
)

// Defaults for `handler` blocks.
const (
	// DefaultHandlerMode is the handler mode when none is given.
	DefaultHandlerMode = wire.ModeStream
	// DefaultHandlerCodec is the codec spoken to handlers when none is
	// given.
	DefaultHandlerCodec = wire.CodecCBOR
	// DefaultOneshotConnections is the number of oneshot exchanges run at
	// once (see DefaultStreamConnections for stream mode).
	DefaultOneshotConnections = 4
	// DefaultHandlerTimeout bounds each request to a handler.
	DefaultHandlerTimeout = 5 * time.Second
	// DefaultHandlerStartTimeout is how long a started command may take to
	// accept on its socket.
	DefaultHandlerStartTimeout = 30 * time.Second
	// DefaultHandlerQueue is the number of requests held while a handler is
	// starting or connecting.
	DefaultHandlerQueue = 1024
	// DefaultHandlerMaxInFlight is the number of requests sent to a handler
	// and not yet answered.
	DefaultHandlerMaxInFlight = 4096
)

// Defaults for `restart` blocks.
const (
	// DefaultRestartBackoffMin is the first delay before a restart.
	DefaultRestartBackoffMin = 100 * time.Millisecond
	// DefaultRestartBackoffMax caps the delay between restarts.
	DefaultRestartBackoffMax = 10 * time.Second
	// DefaultRestartMaxRestarts is the number of restarts allowed within a
	// window before the handler is marked failed.
	DefaultRestartMaxRestarts = 5
	// DefaultRestartWindow is the period restarts are counted over.
	DefaultRestartWindow = time.Minute
	// DefaultRestartRetryAfter is when a failed handler is tried again.
	DefaultRestartRetryAfter = time.Minute
)

// Defaults for `peer` blocks and for peers named by address.
const (
	// DefaultPeerCodec is the codec spoken to a peer when none is given.
	DefaultPeerCodec = wire.CodecCBOR
	// DefaultPeerTimeout bounds each message to a peer, from when it is
	// handed over until the peer's report arrives.
	DefaultPeerTimeout = 5 * time.Second
	// DefaultPeerQueue is the number of messages held while the connection
	// to a peer is being made.
	DefaultPeerQueue = 1024
	// DefaultPeerMaxInFlight is the number of messages sent to a peer and
	// not yet reported. Messages that leave this server by sendServers no
	// longer hold their sender's in-flight slot, so this is what bounds
	// them.
	DefaultPeerMaxInFlight = 4096
	// DefaultPeerBackoffMin is the first delay before connecting to a peer
	// again.
	DefaultPeerBackoffMin = 100 * time.Millisecond
	// DefaultPeerBackoffMax caps the delay between connection attempts.
	DefaultPeerBackoffMax = 10 * time.Second
	// DefaultAllowUnnamedPeers is false: handlers may only send to
	// configured peers.
	DefaultAllowUnnamedPeers = false
	// DefaultAllowLegacyPeers is false: every peer must authenticate.
	DefaultAllowLegacyPeers = false
	// DefaultPeerInsecurePlaintext is false: a peer on a non-loopback
	// address needs a tls block.
	DefaultPeerInsecurePlaintext = false
)

// Defaults for the `cluster` block and its `etcd` and `static` blocks.
const (
	// DefaultClusterRequestTimeout bounds a question to another member:
	// on one network a member answers in milliseconds, so two seconds
	// means it is gone or stuck.
	DefaultClusterRequestTimeout = 2 * time.Second
	// DefaultClusterDeliveryTimeout is how long a delivery to another
	// member waits for its acknowledgement, for the same reason.
	DefaultClusterDeliveryTimeout = 2 * time.Second
	// DefaultClusterDeliveryWindow is how many deliveries to one member
	// may wait for their acknowledgement at once, as many as a
	// connection's send_queue holds.
	DefaultClusterDeliveryWindow = 1024
	// DefaultEtcdPrefix is the key prefix of the cluster's keys in etcd.
	DefaultEtcdPrefix = "/bester"
	// DefaultEtcdLeaseTTL bounds how long a dead member and its users
	// stay listed; etcd takes nothing under MinEtcdLeaseTTL.
	DefaultEtcdLeaseTTL = 3 * time.Second
	// DefaultEtcdDialTimeout bounds connecting to etcd and each step of
	// joining: with etcd unreachable, the server stops after about this
	// long instead of waiting for it.
	DefaultEtcdDialTimeout = 5 * time.Second
	// DefaultStaticRefresh is how often a static member polls the others:
	// a dead member leaves the lists within about this long.
	DefaultStaticRefresh = time.Second
	// MinEtcdLeaseTTL is the shortest lease_ttl: etcd raises shorter
	// leases to two seconds.
	MinEtcdLeaseTTL = 2 * time.Second
)

// Limits checked on load.
const (
	// MinMaxFrame is the smallest `max_frame` accepted, in bytes: below it
	// a first message with credentials does not fit.
	MinMaxFrame = 256
	// MaxMaxFrame is the largest `max_frame` accepted, in bytes: the most a
	// 4-byte length prefix can express.
	MaxMaxFrame = math.MaxUint32
	// MaxSocketPath is the longest UNIX socket path accepted, in bytes: the
	// Linux sun_path field is 108 bytes including its terminating NUL.
	MaxSocketPath = 107
)

// Reserved handler names: the built-in message types of the wire contract.
const (
	// ReservedDummy is the built-in ping type.
	ReservedDummy = "dummy"
	// ReservedBuiltin is the built-in server command type.
	ReservedBuiltin = "builtin"
)

// DefaultStreamConnections is the number of stream connections kept open
// to a handler: one per processor, at most 4. More connections let the
// server and the handler read and write them in parallel; on fewer
// processors than connections they only split the batches that make one
// system call carry many messages.
var DefaultStreamConnections = min(4, runtime.NumCPU())
