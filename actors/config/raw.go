package config

import "github.com/hashicorp/hcl/v2"

// The raw types mirror the file as written. Optional attributes are
// pointers, so that an absent attribute (default) can be told from one set to
// a zero value (usually an error), and durations are strings. Each attribute
// keeps its source range, so every later check can point at it.

// rawFile is the top level of a configuration file.
type rawFile struct {
	Server    *rawServer    `hcl:"server,block"`
	Log       *rawLog       `hcl:"log,block"`
	Auth      *rawAuth      `hcl:"auth,block"`
	Listeners []rawListener `hcl:"listener,block"`
	Handlers  []rawHandler  `hcl:"handler,block"`
	Informer  *rawInformer  `hcl:"informer,block"`
	Peers     []rawPeer     `hcl:"peer,block"`

	Permissions *rawPermissions `hcl:"permissions,block"`
	Monitor     *rawMonitor     `hcl:"monitor,block"`
	Cluster     *rawCluster     `hcl:"cluster,block"`
}

// rawServer is the `server` block.
type rawServer struct {
	Name                 *string   `hcl:"name,optional"`
	NameRange            hcl.Range `hcl:"name,attr_range"`
	MaxFrame             *int      `hcl:"max_frame,optional"`
	MaxFrameRange        hcl.Range `hcl:"max_frame,attr_range"`
	RuntimeDir           *string   `hcl:"runtime_dir,optional"`
	RuntimeDirRange      hcl.Range `hcl:"runtime_dir,attr_range"`
	ShutdownTimeout      *string   `hcl:"shutdown_timeout,optional"`
	ShutdownTimeoutRange hcl.Range `hcl:"shutdown_timeout,attr_range"`
	AuthTimeout          *string   `hcl:"auth_timeout,optional"`
	AuthTimeoutRange     hcl.Range `hcl:"auth_timeout,attr_range"`
	IdleTimeout          *string   `hcl:"idle_timeout,optional"`
	IdleTimeoutRange     hcl.Range `hcl:"idle_timeout,attr_range"`
	SendQueue            *int      `hcl:"send_queue,optional"`
	SendQueueRange       hcl.Range `hcl:"send_queue,attr_range"`
	MaxInFlight          *int      `hcl:"max_in_flight,optional"`
	MaxInFlightRange     hcl.Range `hcl:"max_in_flight,attr_range"`
	GCPercent            *int      `hcl:"gc_percent,optional"`
	GCPercentRange       hcl.Range `hcl:"gc_percent,attr_range"`
	MaxAuthFrame         *int      `hcl:"max_auth_frame,optional"`
	MaxAuthFrameRange    hcl.Range `hcl:"max_auth_frame,attr_range"`
	FrameTimeout         *string   `hcl:"frame_timeout,optional"`
	FrameTimeoutRange    hcl.Range `hcl:"frame_timeout,attr_range"`
	SendQueueBytes       *int      `hcl:"send_queue_bytes,optional"`
	SendQueueBytesRange  hcl.Range `hcl:"send_queue_bytes,attr_range"`
	BufferBudget         *int      `hcl:"buffer_budget,optional"`
	BufferBudgetRange    hcl.Range `hcl:"buffer_budget,attr_range"`
	MaxConns             *int      `hcl:"max_connections,optional"`
	MaxConnsRange        hcl.Range `hcl:"max_connections,attr_range"`
	MaxConnsPerAddr      *int      `hcl:"max_connections_per_address,optional"`
	MaxConnsPerAddrRange hcl.Range `hcl:"max_connections_per_address,attr_range"`
	MaxConnsPerUser      *int      `hcl:"max_connections_per_user,optional"`
	MaxConnsPerUserRange hcl.Range `hcl:"max_connections_per_user,attr_range"`
	MaxRecipients        *int      `hcl:"max_recipients,optional"`
	MaxRecipientsRange   hcl.Range `hcl:"max_recipients,attr_range"`
	MessageRate          *int      `hcl:"message_rate,optional"`
	MessageRateRange     hcl.Range `hcl:"message_rate,attr_range"`
	MessageBurst         *int      `hcl:"message_burst,optional"`
	MessageBurstRange    hcl.Range `hcl:"message_burst,attr_range"`
	ByteRate             *int      `hcl:"byte_rate,optional"`
	ByteRateRange        hcl.Range `hcl:"byte_rate,attr_range"`
	ByteBurst            *int      `hcl:"byte_burst,optional"`
	ByteBurstRange       hcl.Range `hcl:"byte_burst,attr_range"`
	AllowUnnamedPeers    *bool     `hcl:"allow_unnamed_peers,optional"`
	AllowLegacyPeers     *bool     `hcl:"allow_legacy_peers,optional"`

	MaxLoginFailures         *int      `hcl:"max_login_failures,optional"`
	MaxLoginFailuresRange    hcl.Range `hcl:"max_login_failures,attr_range"`
	LoginBlock               *string   `hcl:"login_block,optional"`
	LoginBlockRange          hcl.Range `hcl:"login_block,attr_range"`
	LoginFailureDelay        *string   `hcl:"login_failure_delay,optional"`
	LoginFailureDelayRange   hcl.Range `hcl:"login_failure_delay,attr_range"`
	MaxLoginsPerAddress      *int      `hcl:"max_logins_per_address,optional"`
	MaxLoginsPerAddressRange hcl.Range `hcl:"max_logins_per_address,attr_range"`
}

// rawLog is the `log` block.
type rawLog struct {
	Level      *string   `hcl:"level,optional"`
	LevelRange hcl.Range `hcl:"level,attr_range"`
	JSON       bool      `hcl:"json,optional"`
}

// rawAuth is the `auth` block.
type rawAuth struct {
	Mode      *string   `hcl:"mode,optional"`
	ModeRange hcl.Range `hcl:"mode,attr_range"`
	File      *string   `hcl:"file,optional"`
	FileRange hcl.Range `hcl:"file,attr_range"`
	DefRange  hcl.Range `hcl:",def_range"`

	GroupsFile      *string   `hcl:"groups_file,optional"`
	GroupsFileRange hcl.Range `hcl:"groups_file,attr_range"`
}

// rawListener is a `listener "name"` block.
type rawListener struct {
	Name         string          `hcl:"name,label"`
	Network      *string         `hcl:"network,optional"`
	NetworkRange hcl.Range       `hcl:"network,attr_range"`
	Address      string          `hcl:"address"`
	AddressRange hcl.Range       `hcl:"address,attr_range"`
	Codec        *string         `hcl:"codec,optional"`
	CodecRange   hcl.Range       `hcl:"codec,attr_range"`
	TLS          *rawListenerTLS `hcl:"tls,block"`

	InsecurePlaintext      *bool     `hcl:"insecure_plaintext,optional"`
	InsecurePlaintextRange hcl.Range `hcl:"insecure_plaintext,attr_range"`
	DefRange               hcl.Range `hcl:",def_range"`
}

// rawListenerTLS is the `tls` block inside a listener.
type rawListenerTLS struct {
	Cert                 string    `hcl:"cert"`
	CertRange            hcl.Range `hcl:"cert,attr_range"`
	Key                  string    `hcl:"key"`
	KeyRange             hcl.Range `hcl:"key,attr_range"`
	MinVersion           *string   `hcl:"min_version,optional"`
	MinVersionRange      hcl.Range `hcl:"min_version,attr_range"`
	ClientCA             *string   `hcl:"client_ca,optional"`
	ClientCARange        hcl.Range `hcl:"client_ca,attr_range"`
	ClientAuth           *string   `hcl:"client_auth,optional"`
	ClientAuthRange      hcl.Range `hcl:"client_auth,attr_range"`
	Login                *string   `hcl:"login,optional"`
	LoginRange           hcl.Range `hcl:"login,attr_range"`
	CertificateUser      *string   `hcl:"certificate_user,optional"`
	CertificateUserRange hcl.Range `hcl:"certificate_user,attr_range"`
	DefRange             hcl.Range `hcl:",def_range"`
}

// rawHandler is a `handler "name"` block.
type rawHandler struct {
	Name              string            `hcl:"name,label"`
	Socket            string            `hcl:"socket"`
	SocketRange       hcl.Range         `hcl:"socket,attr_range"`
	Command           *[]string         `hcl:"command,optional"`
	CommandRange      hcl.Range         `hcl:"command,attr_range"`
	Dir               *string           `hcl:"dir,optional"`
	DirRange          hcl.Range         `hcl:"dir,attr_range"`
	Env               map[string]string `hcl:"env,optional"`
	EnvRange          hcl.Range         `hcl:"env,attr_range"`
	Mode              *string           `hcl:"mode,optional"`
	ModeRange         hcl.Range         `hcl:"mode,attr_range"`
	Codec             *string           `hcl:"codec,optional"`
	CodecRange        hcl.Range         `hcl:"codec,attr_range"`
	Connections       *int              `hcl:"connections,optional"`
	ConnectionsRange  hcl.Range         `hcl:"connections,attr_range"`
	Timeout           *string           `hcl:"timeout,optional"`
	TimeoutRange      hcl.Range         `hcl:"timeout,attr_range"`
	StartTimeout      *string           `hcl:"start_timeout,optional"`
	StartTimeoutRange hcl.Range         `hcl:"start_timeout,attr_range"`
	Queue             *int              `hcl:"queue,optional"`
	QueueRange        hcl.Range         `hcl:"queue,attr_range"`
	MaxInFlight       *int              `hcl:"max_in_flight,optional"`
	MaxInFlightRange  hcl.Range         `hcl:"max_in_flight,attr_range"`
	Restart           *rawRestart       `hcl:"restart,block"`
	DefRange          hcl.Range         `hcl:",def_range"`
}

// rawRestart is the `restart` block inside a handler.
type rawRestart struct {
	BackoffMin       *string   `hcl:"backoff_min,optional"`
	BackoffMinRange  hcl.Range `hcl:"backoff_min,attr_range"`
	BackoffMax       *string   `hcl:"backoff_max,optional"`
	BackoffMaxRange  hcl.Range `hcl:"backoff_max,attr_range"`
	MaxRestarts      *int      `hcl:"max_restarts,optional"`
	MaxRestartsRange hcl.Range `hcl:"max_restarts,attr_range"`
	Window           *string   `hcl:"window,optional"`
	WindowRange      hcl.Range `hcl:"window,attr_range"`
	RetryAfter       *string   `hcl:"retry_after,optional"`
	RetryAfterRange  hcl.Range `hcl:"retry_after,attr_range"`
}

// rawInformer is the `informer` block.
type rawInformer struct {
	Socket      string    `hcl:"socket"`
	SocketRange hcl.Range `hcl:"socket,attr_range"`
}

// rawMonitor is the `monitor` block.
type rawMonitor struct {
	Address            string    `hcl:"address"`
	AddressRange       hcl.Range `hcl:"address,attr_range"`
	AllowRemote        *bool     `hcl:"allow_remote,optional"`
	PProf              *bool     `hcl:"pprof,optional"`
	PProfRemote        *bool     `hcl:"pprof_remote,optional"`
	PProfRemoteRange   hcl.Range `hcl:"pprof_remote,attr_range"`
	ReadyHandlers      *[]string `hcl:"ready_handlers,optional"`
	ReadyHandlersRange hcl.Range `hcl:"ready_handlers,attr_range"`
	TopSenders         *int      `hcl:"top_senders,optional"`
	TopSendersRange    hcl.Range `hcl:"top_senders,attr_range"`
	// TLS takes a listener's tls block; login and certificate_user are
	// refused, since the endpoint has no logins.
	TLS                    *rawListenerTLS `hcl:"tls,block"`
	InsecurePlaintext      *bool           `hcl:"insecure_plaintext,optional"`
	InsecurePlaintextRange hcl.Range       `hcl:"insecure_plaintext,attr_range"`
}

// rawPeer is a `peer "name"` block.
type rawPeer struct {
	Name             string    `hcl:"name,label"`
	Address          string    `hcl:"address"`
	AddressRange     hcl.Range `hcl:"address,attr_range"`
	Secret           string    `hcl:"secret"`
	SecretRange      hcl.Range `hcl:"secret,attr_range"`
	Codec            *string   `hcl:"codec,optional"`
	CodecRange       hcl.Range `hcl:"codec,attr_range"`
	Timeout          *string   `hcl:"timeout,optional"`
	TimeoutRange     hcl.Range `hcl:"timeout,attr_range"`
	Queue            *int      `hcl:"queue,optional"`
	QueueRange       hcl.Range `hcl:"queue,attr_range"`
	MaxInFlight      *int      `hcl:"max_in_flight,optional"`
	MaxInFlightRange hcl.Range `hcl:"max_in_flight,attr_range"`
	BackoffMin       *string   `hcl:"backoff_min,optional"`
	BackoffMinRange  hcl.Range `hcl:"backoff_min,attr_range"`
	BackoffMax       *string   `hcl:"backoff_max,optional"`
	BackoffMaxRange  hcl.Range `hcl:"backoff_max,attr_range"`
	DefRange         hcl.Range `hcl:",def_range"`

	TLS                    *rawPeerTLS `hcl:"tls,block"`
	InsecurePlaintext      *bool       `hcl:"insecure_plaintext,optional"`
	InsecurePlaintextRange hcl.Range   `hcl:"insecure_plaintext,attr_range"`
}

// rawPeerTLS is the `tls` block inside a peer.
type rawPeerTLS struct {
	CA              *string   `hcl:"ca,optional"`
	CARange         hcl.Range `hcl:"ca,attr_range"`
	ServerName      *string   `hcl:"server_name,optional"`
	ServerNameRange hcl.Range `hcl:"server_name,attr_range"`
	Cert            *string   `hcl:"cert,optional"`
	CertRange       hcl.Range `hcl:"cert,attr_range"`
	Key             *string   `hcl:"key,optional"`
	KeyRange        hcl.Range `hcl:"key,attr_range"`
	DefRange        hcl.Range `hcl:",def_range"`
}

// rawPermissions is the `permissions` block.
type rawPermissions struct {
	Default *rawDefaultRule `hcl:"default,block"`
	Groups  []rawRule       `hcl:"group,block"`
	Users   []rawRule       `hcl:"user,block"`
	Peers   []rawRule       `hcl:"peer,block"`
}

// rawDefaultRule is the `default` block inside `permissions`.
type rawDefaultRule struct {
	Allow      *[]string `hcl:"allow,optional"`
	AllowRange hcl.Range `hcl:"allow,attr_range"`
	Deny       *[]string `hcl:"deny,optional"`
	DenyRange  hcl.Range `hcl:"deny,attr_range"`
}

// rawRule is a `group "NAME"`, `user "NAME"` or `peer "NAME"` block inside
// `permissions`. One type serves the three so that they are checked
// alike; only a group may have `users`.
type rawRule struct {
	Name       string    `hcl:"name,label"`
	Users      *[]string `hcl:"users,optional"`
	UsersRange hcl.Range `hcl:"users,attr_range"`
	Allow      *[]string `hcl:"allow,optional"`
	AllowRange hcl.Range `hcl:"allow,attr_range"`
	Deny       *[]string `hcl:"deny,optional"`
	DenyRange  hcl.Range `hcl:"deny,attr_range"`
	DefRange   hcl.Range `hcl:",def_range"`
}

// rawCluster is the `cluster` block.
type rawCluster struct {
	Name                 string            `hcl:"name"`
	NameRange            hcl.Range         `hcl:"name,attr_range"`
	Bind                 string            `hcl:"bind"`
	BindRange            hcl.Range         `hcl:"bind,attr_range"`
	Advertise            *string           `hcl:"advertise,optional"`
	AdvertiseRange       hcl.Range         `hcl:"advertise,attr_range"`
	RequestTimeout       *string           `hcl:"request_timeout,optional"`
	RequestTimeoutRange  hcl.Range         `hcl:"request_timeout,attr_range"`
	DeliveryTimeout      *string           `hcl:"delivery_timeout,optional"`
	DeliveryTimeoutRange hcl.Range         `hcl:"delivery_timeout,attr_range"`
	DeliveryWindow       *int              `hcl:"delivery_window,optional"`
	DeliveryWindowRange  hcl.Range         `hcl:"delivery_window,attr_range"`
	Etcd                 *rawClusterEtcd   `hcl:"etcd,block"`
	Static               *rawClusterStatic `hcl:"static,block"`
	TLS                  *rawClusterTLS    `hcl:"tls,block"`
	DefRange             hcl.Range         `hcl:",def_range"`
	// Body is the block's body, whose range tells whether HCL already
	// reported a problem inside it.
	Body hcl.Body `hcl:",body"`
}

// rawClusterEtcd is the `etcd` block inside `cluster`. Its tls block is
// a peer's: etcd is a server this one connects to.
type rawClusterEtcd struct {
	Endpoints        []string    `hcl:"endpoints"`
	EndpointsRange   hcl.Range   `hcl:"endpoints,attr_range"`
	Prefix           *string     `hcl:"prefix,optional"`
	PrefixRange      hcl.Range   `hcl:"prefix,attr_range"`
	LeaseTTL         *string     `hcl:"lease_ttl,optional"`
	LeaseTTLRange    hcl.Range   `hcl:"lease_ttl,attr_range"`
	DialTimeout      *string     `hcl:"dial_timeout,optional"`
	DialTimeoutRange hcl.Range   `hcl:"dial_timeout,attr_range"`
	TLS              *rawPeerTLS `hcl:"tls,block"`
	DefRange         hcl.Range   `hcl:",def_range"`
}

// rawClusterStatic is the `static` block inside `cluster`.
type rawClusterStatic struct {
	HealthPort      int       `hcl:"health_port"`
	HealthPortRange hcl.Range `hcl:"health_port,attr_range"`
	Members         []string  `hcl:"members"`
	MembersRange    hcl.Range `hcl:"members,attr_range"`
	Refresh         *string   `hcl:"refresh,optional"`
	RefreshRange    hcl.Range `hcl:"refresh,attr_range"`
	DefRange        hcl.Range `hcl:",def_range"`
}

// rawClusterTLS is the `tls` block inside `cluster`: every file is
// required, since members both accept and dial each other.
type rawClusterTLS struct {
	CA        string    `hcl:"ca"`
	CARange   hcl.Range `hcl:"ca,attr_range"`
	Cert      string    `hcl:"cert"`
	CertRange hcl.Range `hcl:"cert,attr_range"`
	Key       string    `hcl:"key"`
	KeyRange  hcl.Range `hcl:"key,attr_range"`
	DefRange  hcl.Range `hcl:",def_range"`
}
