package config

import (
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/tlsconf"
)

// Config is a loaded and checked configuration file. Every field holds its
// final value: the rest of the server reads it and never applies defaults of
// its own.
type Config struct {
	// Path is the file the configuration came from, as given to Load or
	// Parse, so that it can be read again on reload.
	Path string
	// Server holds the settings of the server as a whole.
	Server Server
	// Log says how much the server logs and in which format.
	Log Log
	// Auth says how clients prove who they are.
	Auth Auth
	// Listeners are the sockets clients connect to, in file order.
	Listeners []Listener
	// Handlers are the message types served, in file order.
	Handlers []Handler
	// Informer is the socket handlers ask the server on; nil when the file
	// has no informer block.
	Informer *Informer
	// Peers are the servers this one exchanges messages with, in file
	// order.
	Peers []Peer
	// Permissions say which message types users and peers may send; nil
	// when the file has no permissions block, and everyone may send every
	// type.
	Permissions *Permissions
	// Monitor is the HTTP endpoint for health checks, status and the
	// profiler; nil when the file has no monitor block.
	Monitor *Monitor
	// Cluster makes the server one member of a cluster; nil when the
	// file has no cluster block.
	Cluster *Cluster
}

// Server holds the settings that apply to the whole server (the `server`
// block).
type Server struct {
	// Name identifies this server to peers and in deliveries (`name`).
	Name string
	// MaxFrame is the largest frame body accepted, in bytes (`max_frame`).
	MaxFrame int
	// RuntimeDir is where relative socket paths live (`runtime_dir`).
	RuntimeDir string
	// ShutdownTimeout is how long in-flight messages may finish on stop
	// (`shutdown_timeout`).
	ShutdownTimeout time.Duration
	// AuthTimeout is how long a new connection has to send its first
	// message (`auth_timeout`).
	AuthTimeout time.Duration
	// IdleTimeout closes a connection silent for this long; zero means never
	// (`idle_timeout`).
	IdleTimeout time.Duration
	// SendQueue is how many outgoing messages are queued per connection
	// before a client that does not read is disconnected (`send_queue`).
	SendQueue int
	// MaxInFlight is how many messages per connection may be dispatched and
	// not yet reported; past it the reader waits (`max_in_flight`).
	MaxInFlight int
	// MaxAuthFrame is the largest frame body accepted before a connection
	// has authenticated, in bytes (`max_auth_frame`).
	MaxAuthFrame int
	// FrameTimeout is how long a frame that has begun may take to arrive
	// whole (`frame_timeout`).
	FrameTimeout time.Duration
	// SendQueueBytes bounds, in bytes, what may wait in a connection's
	// outbox while its peer does not read (`send_queue_bytes`).
	SendQueueBytes int
	// BufferBudget bounds, in bytes, what the whole server holds in
	// partial frames and outboxes; past it, large frames wait before they
	// are read further (`buffer_budget`).
	BufferBudget int
	// MaxConnections bounds the open client and peer connections
	// (`max_connections`).
	MaxConnections int
	// MaxConnectionsPerAddress bounds the open connections from one source
	// address (`max_connections_per_address`).
	MaxConnectionsPerAddress int
	// MaxConnectionsPerUser bounds the connections one user may have logged
	// in at once (`max_connections_per_user`).
	MaxConnectionsPerUser int
	// MaxRecipients bounds the usernames in one sendClients
	// (`max_recipients`).
	MaxRecipients int
	// MessageRate is how many messages per second each user may send, on
	// average over all their connections; zero means no limit
	// (`message_rate`).
	MessageRate int
	// MessageBurst is how many messages a user may send at once above
	// MessageRate (`message_burst`).
	MessageBurst int
	// ByteRate is how many frame bytes per second each user may send, on
	// average over all their connections; past it the server reads from
	// them more slowly. Zero means no limit (`byte_rate`).
	ByteRate int
	// ByteBurst is how many bytes a user may send at once above ByteRate
	// (`byte_burst`).
	ByteBurst int
	// GCPercent is the garbage collector's target, as GOGC sets it: the
	// heap may grow by this percentage of what is live before a collection
	// (`gc_percent`). besterd applies it unless GOGC is set.
	GCPercent int
	// AllowUnnamedPeers lets handlers name a peer by "host:port" in
	// sendServers, not only by a configured peer's name
	// (`allow_unnamed_peers`).
	AllowUnnamedPeers bool
	// AllowLegacyPeers accepts original-style peer messages: one
	// unauthenticated server-scope message per connection
	// (`allow_legacy_peers`).
	AllowLegacyPeers bool

	// MaxLoginFailures failed logins from one address within LoginBlock
	// make the server refuse its logins with rate_limited for LoginBlock
	// (`max_login_failures`).
	MaxLoginFailures int
	// LoginBlock is the window failed logins are counted in and how long a
	// blocked address is refused (`login_block`).
	LoginBlock time.Duration
	// LoginFailureDelay is how long each login of an address that has
	// failed three times within LoginBlock waits before a failure or
	// refusal is answered (`login_failure_delay`).
	LoginFailureDelay time.Duration
	// MaxLoginsPerAddress is how many logins from one address are checked
	// at once; more wait (`max_logins_per_address`).
	MaxLoginsPerAddress int
}

// Log says how the server logs (the `log` block).
type Log struct {
	// Level is an hclog level name in lower case (`level`).
	Level string
	// JSON selects JSON log lines instead of text (`json`).
	JSON bool
}

// AuthMode names how clients are authenticated.
type AuthMode string

// The authentication modes a configuration may choose.
const (
	// AuthHtpasswd checks usernames and bcrypt passwords against an
	// htpasswd file.
	AuthHtpasswd AuthMode = "htpasswd"
	// AuthOpen accepts any username; it exists for local development only.
	AuthOpen AuthMode = "open"
)

// Auth says how clients prove who they are (the `auth` block).
type Auth struct {
	// Mode is the authentication mode (`mode`).
	Mode AuthMode
	// File is the htpasswd file, as an absolute path (`file`).
	File string
	// GroupsFile is the groups file that puts users in groups for
	// permissions, as an absolute path; empty for none (`groups_file`).
	GroupsFile string
}

// Listener is a socket clients connect to (a `listener "name"` block).
type Listener struct {
	// Name is the block label, used in logs and server information.
	Name string
	// Network is "tcp", "tcp4", "tcp6" or "unix" (`network`).
	Network string
	// Address is host:port, or an absolute socket path for unix
	// (`address`).
	Address string
	// Codec is what clients on this listener speak; CodecAuto detects it
	// per connection (`codec`).
	Codec wire.Codec
	// TLS makes the listener speak TLS only; nil for a plain listener
	// (`tls` block).
	TLS *ListenerTLS
	// InsecurePlaintext lets a plain TCP listener that other machines can
	// reach carry passwords and peer secrets in clear
	// (`insecure_plaintext`).
	InsecurePlaintext bool
}

// ListenerTLS is a listener's TLS settings (its `tls` block). The files
// are read again on reload; ServerConfig builds what a handshake uses.
type ListenerTLS struct {
	// Cert is the absolute path of the server's PEM certificate chain
	// (`cert`).
	Cert string
	// Key is the absolute path of Cert's PEM private key (`key`).
	Key string
	// MinVersion is the oldest TLS version accepted, tls.VersionTLS12 or
	// tls.VersionTLS13 (`min_version`).
	MinVersion uint16
	// ClientCA is the absolute path of a PEM file of the CAs client
	// certificates must chain to; empty for none (`client_ca`).
	ClientCA string
	// ClientAuth says whether a client certificate is asked for
	// (`client_auth`).
	ClientAuth ClientAuth
	// Login says how clients of this listener prove who they are
	// (`login`).
	Login Login
	// CertificateUser says which name of a client certificate is the
	// username when Login is LoginCertificate (`certificate_user`).
	CertificateUser CertificateUser
}

// ClientAuth says whether a TLS listener asks clients for a certificate.
type ClientAuth string

// The client_auth values.
const (
	// ClientAuthNone asks for no client certificate.
	ClientAuthNone ClientAuth = "none"
	// ClientAuthRequest asks for one and verifies it when given; a client
	// without one may still connect.
	ClientAuthRequest ClientAuth = "request"
	// ClientAuthRequire refuses a client without a verified certificate.
	ClientAuthRequire ClientAuth = "require"
)

// Login names how the clients of a listener log in.
type Login string

// The login values.
const (
	// LoginPassword checks the username and password of the first
	// message.
	LoginPassword Login = "password"
	// LoginCertificate takes the username from the verified client
	// certificate; a client without one logs in by password.
	LoginCertificate Login = "certificate"
)

// CertificateUser names the name of a client certificate that is its
// username.
type CertificateUser string

// The certificate_user values.
const (
	// CertificateUserCommonName is the subject's common name (CN).
	CertificateUserCommonName CertificateUser = "common_name"
	// CertificateUserEmail is the first email address among the subject
	// alternative names.
	CertificateUserEmail CertificateUser = "email"
	// CertificateUserDNS is the first DNS name among the subject
	// alternative names.
	CertificateUserDNS CertificateUser = "dns"
)

// Handler is a message type and the process serving it (a `handler "name"`
// block).
type Handler struct {
	// Name is the block label: the message type it serves.
	Name string
	// Socket is the absolute path of the handler's UNIX socket (`socket`).
	Socket string
	// Command, when set, is started and supervised by the server
	// (`command`).
	Command []string
	// Dir is the absolute working directory of Command (`dir`).
	Dir string
	// Env is extra environment for Command (`env`).
	Env map[string]string
	// Mode is stream or oneshot (`mode`).
	Mode wire.HandlerMode
	// Codec is what the handler speaks: CodecCBOR or CodecJSON (`codec`).
	Codec wire.Codec
	// Connections is how many stream connections are kept open, or how many
	// oneshot exchanges may run at once (`connections`).
	Connections int
	// Timeout bounds each request (`timeout`).
	Timeout time.Duration
	// StartTimeout is how long a started command may take to accept on its
	// socket (`start_timeout`).
	StartTimeout time.Duration
	// Queue is how many requests are held while the handler is starting or
	// connecting (`queue`).
	Queue int
	// MaxInFlight is how many requests may be sent and not yet answered;
	// past it requests get `overloaded` (`max_in_flight`).
	MaxInFlight int
	// Restart says how a crashed command is restarted (`restart` block).
	Restart Restart
}

// Restart says how the server restarts a handler command that exits (the
// `restart` block inside a handler).
type Restart struct {
	// BackoffMin is the first delay before a restart (`backoff_min`).
	BackoffMin time.Duration
	// BackoffMax caps the growing delay between restarts (`backoff_max`).
	BackoffMax time.Duration
	// MaxRestarts is how many restarts are allowed within Window before the
	// handler is marked failed (`max_restarts`).
	MaxRestarts int
	// Window is the period MaxRestarts is counted over (`window`).
	Window time.Duration
	// RetryAfter is when a failed handler is tried again, unless a reload
	// comes first (`retry_after`).
	RetryAfter time.Duration
}

// Informer is the socket handlers ask the server on (the `informer` block).
type Informer struct {
	// Socket is the absolute path of the informer's UNIX socket (`socket`).
	Socket string
}

// Peer is a server this one exchanges messages with (a `peer "name"`
// block). The name is the peer's own server name: it is what the peer
// authenticates with, and what handlers write in sendServers.
type Peer struct {
	// Name is the block label: the peer's server name.
	Name string
	// Address is the peer's host:port (`address`).
	Address string
	// Secret is shared by both servers: each sends it when it connects to
	// the other, and checks it when the other connects (`secret`).
	Secret string
	// Codec is what this server speaks on its connection to the peer
	// (`codec`).
	Codec wire.Codec
	// Timeout bounds each message: the peer's report must arrive within
	// it, waiting in the queue included (`timeout`).
	Timeout time.Duration
	// Queue is how many messages are held while the connection is being
	// made or remade; past it messages get `overloaded` (`queue`).
	Queue int
	// MaxInFlight is how many messages may be sent to the peer and not yet
	// reported; past it messages get `overloaded` (`max_in_flight`).
	MaxInFlight int
	// BackoffMin is the first delay before connecting again
	// (`backoff_min`).
	BackoffMin time.Duration
	// BackoffMax caps the growing delay between attempts (`backoff_max`).
	BackoffMax time.Duration
	// TLS, when set, is how the connection to the peer is encrypted and
	// the peer's certificate checked, with absolute paths; nil means plain
	// TCP (`tls` block). The files are read again at every connection
	// attempt, so that replaced certificates take effect.
	TLS *tlsconf.Client
	// InsecurePlaintext allows a peer on a non-loopback address without
	// TLS, the secret and every message crossing the network in clear
	// (`insecure_plaintext`).
	InsecurePlaintext bool
}
