package actors

import (
	"crypto/sha256"
	"sync/atomic"

	"github.com/bester-project/bester/actors/auth"
	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/wire"
)

// connSettingsFor is what the connections opened under cfg share: its
// limits, and the server's shared state. The acceptor gives it to each
// new connection; a reload hands the acceptor a new one, which
// connections already open never see: what must reach them too is shared
// state that the reload changes in place (the credentials, the
// permissions, the handlers' codecs, the budget, the connection and login
// limits, the users' rate limiters).
func (s *Server) connSettingsFor(cfg *config.Config) *connSettings {
	sc := &cfg.Server
	return &connSettings{
		server: sc.Name, maxFrame: sc.MaxFrame, maxAuthFrame: sc.MaxAuthFrame,
		authTimeout: sc.AuthTimeout, idleTimeout: sc.IdleTimeout, frameTimeout: sc.FrameTimeout,
		outbox:      outboxLimits{count: sc.SendQueue, bytes: sc.SendQueueBytes, budget: s.budget},
		maxInFlight: sc.MaxInFlight, maxPerUser: sc.MaxConnectionsPerUser, rate: rateLimitOf(sc),
		budget: s.budget, limits: s.connLimits, handlerCodecs: s.handlerCodecs,
		credentials: &s.credentials, logins: s.logins, handshakes: s.handshakes, strangerLogs: s.strangerLogs,
		registry: s.registry, routes: s.routes, log: s.log.Named("conn"), pool: s.pool,
		allowLegacy: sc.AllowLegacyPeers, permissions: s.permissions,
		metrics: s.metrics,
	}
}

// credentials are what logins are checked against: the users and the
// peers' secrets. A reload swaps them whole, and a connection reads them
// when its first message comes, so that one opened before a reload and
// logging in after it meets the new ones.
type credentials struct {
	auth auth.Authenticator
	// peerSecrets holds the SHA-256 of each configured peer's secret, by
	// peer name: what a connection with scope server must prove.
	peerSecrets map[string][sha256.Size]byte
}

// credentialsOf is the credentials of users checked by a and of peers.
func credentialsOf(a auth.Authenticator, peers []config.Peer) *credentials {
	c := &credentials{auth: a, peerSecrets: make(map[string][sha256.Size]byte, len(peers))}
	for _, p := range peers {
		c.peerSecrets[p.Name] = sha256.Sum256([]byte(p.Secret))
	}
	return c
}

// rateLimitOf is the users' rate limit the server block sets.
func rateLimitOf(sc *config.Server) rateLimit {
	return rateLimit{perSecond: sc.MessageRate, burst: sc.MessageBurst, bytesPerSecond: sc.ByteRate, byteBurst: sc.ByteBurst}
}

// guardSettingsOf is how the server block says to guard client logins.
func guardSettingsOf(sc *config.Server) auth.GuardSettings {
	return auth.GuardSettings{MaxFailures: sc.MaxLoginFailures, Block: sc.LoginBlock,
		FailureDelay: sc.LoginFailureDelay, PerSource: sc.MaxLoginsPerAddress}
}

// codecTable is the codec of each handler by type: readers convert a
// message's data for its handler, so that no link actor spends a large
// message's conversion time while others wait. A reload replaces the
// table; readers use the new one from their next message on.
type codecTable struct {
	current atomic.Pointer[map[string]wire.Codec]
}

func newCodecTable(handlers []config.Handler) *codecTable {
	t := &codecTable{}
	t.set(handlers)
	return t
}

// set makes handlers' codecs the table.
func (t *codecTable) set(handlers []config.Handler) {
	m := make(map[string]wire.Codec, len(handlers))
	for _, h := range handlers {
		m[h.Name] = h.Codec
	}
	t.current.Store(&m)
}

// of is the codec of typ's handler; false when no handler serves typ.
func (t *codecTable) of(typ string) (wire.Codec, bool) {
	c, ok := (*t.current.Load())[typ]
	return c, ok
}
