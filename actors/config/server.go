package config

import (
	"os"
	"strings"
	"unicode"

	"github.com/hashicorp/go-hclog"
)

// server checks the `server` block and fills its defaults.
func (c *checker) server(r *rawServer) Server {
	if r == nil {
		r = &rawServer{}
	}
	s := Server{
		MaxFrame:        c.count(r.MaxFrame, r.MaxFrameRange, "max_frame", DefaultMaxFrame, MinMaxFrame),
		ShutdownTimeout: c.duration(r.ShutdownTimeout, r.ShutdownTimeoutRange, "shutdown_timeout", DefaultShutdownTimeout, positive),
		AuthTimeout:     c.duration(r.AuthTimeout, r.AuthTimeoutRange, "auth_timeout", DefaultAuthTimeout, positive),
		IdleTimeout:     c.duration(r.IdleTimeout, r.IdleTimeoutRange, "idle_timeout", DefaultIdleTimeout, nonNegative),
		SendQueue:       c.count(r.SendQueue, r.SendQueueRange, "send_queue", DefaultSendQueue, 1),
		MaxInFlight:     c.count(r.MaxInFlight, r.MaxInFlightRange, "max_in_flight", DefaultConnMaxInFlight, 1),
		GCPercent:       c.count(r.GCPercent, r.GCPercentRange, "gc_percent", DefaultGCPercent, 1),

		FrameTimeout:             c.duration(r.FrameTimeout, r.FrameTimeoutRange, "frame_timeout", DefaultFrameTimeout, positive),
		SendQueueBytes:           c.count(r.SendQueueBytes, r.SendQueueBytesRange, "send_queue_bytes", DefaultSendQueueBytes, MinMaxFrame),
		BufferBudget:             c.count(r.BufferBudget, r.BufferBudgetRange, "buffer_budget", DefaultBufferBudget, MinBufferBudget),
		MaxConnections:           c.count(r.MaxConns, r.MaxConnsRange, "max_connections", DefaultMaxConnections, 1),
		MaxConnectionsPerAddress: c.count(r.MaxConnsPerAddr, r.MaxConnsPerAddrRange, "max_connections_per_address", DefaultMaxConnectionsPerAddress, 1),
		MaxConnectionsPerUser:    c.count(r.MaxConnsPerUser, r.MaxConnsPerUserRange, "max_connections_per_user", DefaultMaxConnectionsPerUser, 1),
		MaxRecipients:            c.count(r.MaxRecipients, r.MaxRecipientsRange, "max_recipients", DefaultMaxRecipients, 1),
		MessageRate:              c.count(r.MessageRate, r.MessageRateRange, "message_rate", DefaultMessageRate, 0),

		AllowUnnamedPeers: flag(r.AllowUnnamedPeers, DefaultAllowUnnamedPeers),
		AllowLegacyPeers:  flag(r.AllowLegacyPeers, DefaultAllowLegacyPeers),

		MaxLoginFailures:    c.count(r.MaxLoginFailures, r.MaxLoginFailuresRange, "max_login_failures", DefaultMaxLoginFailures, 1),
		LoginBlock:          c.duration(r.LoginBlock, r.LoginBlockRange, "login_block", DefaultLoginBlock, positive),
		LoginFailureDelay:   c.duration(r.LoginFailureDelay, r.LoginFailureDelayRange, "login_failure_delay", DefaultLoginFailureDelay, nonNegative),
		MaxLoginsPerAddress: c.count(r.MaxLoginsPerAddress, r.MaxLoginsPerAddressRange, "max_logins_per_address", DefaultMaxLoginsPerAddress, 1),
	}
	if r.MaxFrame != nil && int64(*r.MaxFrame) > MaxMaxFrame {
		c.errorf(r.MaxFrameRange, `Invalid "max_frame"`,
			`"max_frame" must be at most %d bytes, the most a frame's 4-byte length can express.`, int64(MaxMaxFrame))
	}

	// An absent max_auth_frame follows a max_frame set below its default.
	s.MaxAuthFrame = c.count(r.MaxAuthFrame, r.MaxAuthFrameRange, "max_auth_frame", min(DefaultMaxAuthFrame, s.MaxFrame), MinMaxFrame)
	s.MessageBurst = c.count(r.MessageBurst, r.MessageBurstRange, "message_burst", max(1, s.MessageRate), 1)
	s.ByteRate = c.count(r.ByteRate, r.ByteRateRange, "byte_rate", DefaultByteRate, 0)
	s.ByteBurst = c.count(r.ByteBurst, r.ByteBurstRange, "byte_burst", max(s.ByteRate, s.MaxFrame), 1)
	if s.MaxAuthFrame > s.MaxFrame {
		c.errorf(r.MaxAuthFrameRange, `Invalid "max_auth_frame"`,
			`"max_auth_frame" (%d) must not exceed "max_frame" (%d).`, s.MaxAuthFrame, s.MaxFrame)
	}

	if r.Name != nil {
		s.Name = *r.Name
		if s.Name == "" || strings.IndexFunc(s.Name, unicode.IsSpace) >= 0 {
			c.errorf(r.NameRange, `Invalid "name"`, `"name" must be non-empty and contain no white space, not %q.`, s.Name)
		}
	} else {
		host, err := os.Hostname()
		if err != nil || host == "" {
			c.errorf(r.NameRange, `Missing "name"`,
				"The host name cannot be read (%v); set \"name\" in the server block.", err)
		}
		s.Name = host
	}

	s.RuntimeDir = defaultRuntimeDir()
	if r.RuntimeDir != nil {
		if c.required(*r.RuntimeDir, r.RuntimeDirRange, "runtime_dir") {
			s.RuntimeDir = under(c.dir, *r.RuntimeDir)
		}
	}
	return s
}

// flag reads an optional boolean attribute, returning def when it is
// absent.
func flag(v *bool, def bool) bool {
	if v == nil {
		return def
	}
	return *v
}

// log checks the `log` block and fills its defaults.
func (c *checker) log(r *rawLog) Log {
	l := Log{Level: DefaultLogLevel}
	if r == nil {
		return l
	}
	l.JSON = r.JSON
	if r.Level != nil {
		lvl := hclog.LevelFromString(*r.Level)
		if lvl == hclog.NoLevel {
			c.errorf(r.LevelRange, `Invalid "level"`,
				"Unknown log level %q; use trace, debug, info, warn, error or off.", *r.Level)
		} else {
			l.Level = lvl.String()
		}
	}
	return l
}

// informer checks the `informer` block.
func (c *checker) informer(r *rawInformer, runtimeDir string) *Informer {
	inf := &Informer{}
	if c.required(r.Socket, r.SocketRange, "socket") {
		inf.Socket = c.socketPath(runtimeDir, r.Socket, r.SocketRange, "socket")
	}
	return inf
}
