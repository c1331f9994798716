package actors

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/actors/auth"
	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/actors/logthrottle"
	"github.com/bester-project/bester/actors/permit"
	"github.com/bester-project/bester/internal/gopool"
	"github.com/bester-project/bester/internal/unixsock"
	"github.com/bester-project/bester/monitor"
	"github.com/bester-project/bester/wire"
)

const (
	// socketMode is the permission of every UNIX socket the server
	// creates: only its own user may connect.
	socketMode = 0o600
	// acceptRetry is the pause after a failed accept (for example when
	// the process is out of file descriptors).
	acceptRetry = 50 * time.Millisecond
	// linkStopTimeout bounds the wait for a handler link to stop its process.
	linkStopTimeout = stopGrace + 5*time.Second
	// lateReportWait is how long connections may take, once handlers and
	// peers have stopped, to write their last reports and deliveries
	// before they are closed regardless.
	lateReportWait = 2 * time.Second
	// stateTimeout bounds a question to a link actor from outside actors.
	stateTimeout = 2 * time.Second
	// peerStopTimeout bounds the wait for a peer link to stop.
	peerStopTimeout = 5 * time.Second
	// strangerLogBurst and strangerLogPeriod throttle each kind of warning
	// a stranger can cause (bad frames, bad logins, failed accepts): 7,900
	// bad connections a second wrote 1 MB of log a second. Five lines show
	// the addresses involved; a count follows every ten seconds.
	strangerLogBurst  = 5
	strangerLogPeriod = 10 * time.Second
)

// Server is one Bester server: its listeners, its actors and its handlers.
type Server struct {
	cfg      *config.Config
	log      hclog.Logger
	sys      *actor.ActorSystem
	auth     auth.Authenticator
	registry *registry
	// connLimits counts open connections for max_connections and
	// max_connections_per_address.
	connLimits *connLimits
	// budget bounds the bytes held for connections (buffer_budget).
	budget *budget
	// handshakes bounds the TLS handshakes computing at once.
	handshakes handshakeSlots
	// pool runs the actors' mailboxes and the connections' writers.
	pool *gopool.Pool
	// strangerLogs throttles the warnings anyone who can connect can cause.
	strangerLogs *logthrottle.Throttle
	// permissions say which types users and peers may send; nil checks
	// nothing.
	permissions *permit.Policy
	// reloading serialises Reload, so that two reads of the groups file
	// cannot finish in the wrong order.
	reloading sync.Mutex

	router    *actor.PID
	acceptor  *actor.PID
	links     map[string]*actor.PID
	linkOrder []string
	peers     map[string]*actor.PID

	listeners []net.Listener
	// tlsListeners holds the TLS settings of each listener, in
	// configuration order; nil for a plain one.
	tlsListeners []*tlsListener
	sockets      []string // UNIX socket files this server created
	informer     *informer
	// monitor is the HTTP endpoint of the monitor block; nil without one.
	monitor *monitor.Endpoint
	// monitorTLS holds the monitor's TLS settings; nil for plain HTTP.
	monitorTLS *tlsListener
	// topSenders names the fastest senders in /status; nil without a
	// monitor block or with top_senders = 0.
	topSenders *topSenders
	// metrics are what the monitor's /metrics shows; nil without a
	// monitor block, and then nothing is counted.
	metrics *metrics
	// stopping is set when Stop begins, so that /readyz reports the
	// listeners closed from then on.
	stopping atomic.Bool
	acceptWG sync.WaitGroup
	stopOnce sync.Once
}

// New prepares a server from cfg; Start opens its sockets.
func New(cfg *config.Config, log hclog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, log: log, registry: newRegistry(), pool: gopool.New(maxIdleGoroutines),
		connLimits: newConnLimits(cfg.Server.MaxConnections, cfg.Server.MaxConnectionsPerAddress),
		handshakes: newHandshakeSlots(),
		links:      make(map[string]*actor.PID),
		peers:      make(map[string]*actor.PID), strangerLogs: logthrottle.New(strangerLogBurst, strangerLogPeriod)}
	if len(cfg.Peers) > 0 && cfg.Path != "" {
		if st, err := os.Stat(cfg.Path); err == nil && st.Mode().Perm()&0o077 != 0 {
			log.Warn("the configuration holds peer secrets but other users may read it; make it mode 0600",
				"config", cfg.Path, "mode", st.Mode().Perm().String())
		}
	}
	for _, l := range cfg.Listeners {
		var tl *tlsListener
		if l.TLS != nil {
			var err error
			if tl, err = newTLSListener(l.Name, l.TLS, log.Named("listener")); err != nil {
				return nil, err
			}
		}
		s.tlsListeners = append(s.tlsListeners, tl)
	}
	switch cfg.Auth.Mode {
	case config.AuthOpen:
		log.Warn("authentication is open: any username is accepted; for local development only")
		s.auth = auth.Open()
	default:
		h, err := auth.LoadHtpasswd(cfg.Auth.File)
		if err != nil {
			return nil, fmt.Errorf("load users: %w", err)
		}
		s.auth = h
	}
	s.permissions = permit.New(cfg.Permissions)
	if err := s.loadGroups(); err != nil {
		return nil, err
	}
	return s, nil
}

// Start opens the listeners, the informer and the monitor, starts the actors and the
// handlers, and returns. Handlers come up in the background; messages for
// them wait in their queues meanwhile.
func (s *Server) Start() (err error) {
	if err := privateDir(s.cfg.Server.RuntimeDir); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.closeListeners()
			s.stopMonitor()
		}
	}()
	for _, l := range s.cfg.Listeners {
		ln, err := s.listen(l.Network, l.Address)
		if err != nil {
			return fmt.Errorf("listener %q: %w", l.Name, err)
		}
		s.listeners = append(s.listeners, ln)
		s.log.Info("listening", "listener", l.Name, "network", l.Network, "address", ln.Addr().String(), "codec", l.Codec,
			"tls", l.TLS != nil)
		if l.InsecurePlaintext && l.PlaintextToNetwork() {
			s.log.Warn("INSECURE: passwords and peer secrets cross the network in clear on this listener "+
				"(insecure_plaintext = true); add a tls block", "listener", l.Name, "address", ln.Addr().String())
		}
	}
	if err := s.openMonitor(); err != nil {
		return err
	}
	var informerLn net.Listener
	if s.cfg.Informer != nil {
		if informerLn, err = s.listen("unix", s.cfg.Informer.Socket); err != nil {
			return fmt.Errorf("informer: %w", err)
		}
		s.listeners = append(s.listeners, informerLn)
	}

	s.sys = actor.NewActorSystem(
		actor.WithLoggerFactory(func(sys *actor.ActorSystem) *slog.Logger {
			return slog.New(&slogToHclog{l: s.log.Named("actor")})
		}),
		actor.WithDeadLetterThrottleInterval(100*time.Millisecond),
	)
	s.startActors()

	if informerLn != nil {
		s.informer = &informer{ln: informerLn, maxFrame: s.cfg.Server.MaxFrame, registry: s.registry,
			info: s.serverInfo, log: s.log.Named("informer"), conns: make(map[net.Conn]struct{})}
		s.informer.wg.Add(1)
		go s.informer.serve()
	}
	for i, l := range s.cfg.Listeners {
		s.acceptWG.Add(1)
		go s.accept(s.listeners[i], l, s.tlsListeners[i])
	}
	s.serveMonitor()
	return nil
}

// fanoutGrace is how much longer than the slowest peer's timeout a
// sendServers may wait before its handler link gives up on a peer link.
const fanoutGrace = time.Second

// fanoutTimeout is the handler links' backstop for sendServers.
func (s *Server) fanoutTimeout() time.Duration {
	var d time.Duration
	if s.cfg.Server.AllowUnnamedPeers {
		d = config.DefaultPeerTimeout // what an exchange with an unnamed peer may take
	}
	for _, p := range s.cfg.Peers {
		d = max(d, p.Timeout)
	}
	return d + fanoutGrace
}

// startActors spawns the router, one link per peer, one link per handler
// and the acceptor.
func (s *Server) startActors() {
	root := s.sys.Root
	sc := &s.cfg.Server
	s.budget = newBudget(sc.BufferBudget)
	if s.cfg.Monitor != nil {
		names := make([]string, len(s.cfg.Listeners))
		for i, l := range s.cfg.Listeners {
			names[i] = l.Name
		}
		s.metrics = newMetrics(names, s.connLimits, s.budget)
	}
	peerSecrets := make(map[string][sha256.Size]byte, len(s.cfg.Peers))
	for _, p := range s.cfg.Peers {
		ps := &peerSettings{peer: p, server: s.cfg.Server.Name, maxFrame: s.cfg.Server.MaxFrame, pool: s.pool, metrics: s.metrics,
			log: s.log.Named("peer").With("peer", p.Name)}
		s.peers[p.Name] = root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newPeerLink(ps) }, onPool(s.pool)))
		peerSecrets[p.Name] = sha256.Sum256([]byte(p.Secret))
	}
	links := make(map[string]*actor.PID, len(s.cfg.Handlers))
	s.router = root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &router{links: links} }, onPool(s.pool)))
	informerPath := ""
	if s.cfg.Informer != nil {
		informerPath = s.cfg.Informer.Socket
	}
	for _, h := range s.cfg.Handlers {
		ls := &linkSettings{handler: h, server: s.cfg.Server.Name, informer: informerPath,
			maxFrame: s.cfg.Server.MaxFrame, maxRecipients: s.cfg.Server.MaxRecipients, registry: s.registry, router: s.router, pool: s.pool,
			log:   s.log.Named("handler").With("handler", h.Name),
			peers: s.peers, allowUnnamed: s.cfg.Server.AllowUnnamedPeers, fanoutTimeout: s.fanoutTimeout(), metrics: s.metrics}
		pid := root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newHandlerLink(ls) }, onPool(s.pool)))
		links[h.Name] = pid
		s.linkOrder = append(s.linkOrder, h.Name)
	}
	s.links = links // written before any listener accepts, so the router's reads follow it
	budget := s.budget
	handlerCodecs := make(map[string]wire.Codec, len(s.cfg.Handlers))
	for _, h := range s.cfg.Handlers {
		handlerCodecs[h.Name] = h.Codec
	}
	settings := &connSettings{
		server: sc.Name, maxFrame: sc.MaxFrame, maxAuthFrame: sc.MaxAuthFrame,
		authTimeout: sc.AuthTimeout, idleTimeout: sc.IdleTimeout, frameTimeout: sc.FrameTimeout,
		outbox:      outboxLimits{count: sc.SendQueue, bytes: sc.SendQueueBytes, budget: budget},
		maxInFlight: sc.MaxInFlight, maxPerUser: sc.MaxConnectionsPerUser,
		rate: rateLimit{perSecond: sc.MessageRate, burst: sc.MessageBurst,
			bytesPerSecond: sc.ByteRate, byteBurst: sc.ByteBurst},
		budget: budget, limits: s.connLimits, handlerCodecs: handlerCodecs,
		auth: s.auth, logins: loginGuard(s.cfg.Server), handshakes: s.handshakes, strangerLogs: s.strangerLogs, registry: s.registry, router: s.router, log: s.log.Named("conn"), pool: s.pool,
		peerSecrets: peerSecrets, allowLegacy: s.cfg.Server.AllowLegacyPeers, permissions: s.permissions,
		metrics: s.metrics,
	}
	s.acceptor = root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &acceptor{settings: settings} },
		actor.WithSupervisor(stopConnections), onPool(s.pool)))
}

// loginGuard is the guard of client logins the server block configures.
func loginGuard(c config.Server) *auth.Guard {
	return auth.NewGuard(auth.GuardSettings{MaxFailures: c.MaxLoginFailures, Block: c.LoginBlock,
		FailureDelay: c.LoginFailureDelay, PerSource: c.MaxLoginsPerAddress})
}

// maxIdleGoroutines bounds the goroutines the server keeps waiting for
// work (see gopool): enough for every actor and writer busy at once under
// load, a few hundred kilobytes of stacks when all of them are idle.
const maxIdleGoroutines = 128

// pooledDispatcher runs actors' mailboxes on the server's goroutine pool
// instead of a new goroutine each time a mailbox gets work.
type pooledDispatcher struct{ pool *gopool.Pool }

func (d pooledDispatcher) Schedule(fn func()) { d.pool.Go(fn) }

// Throughput is how many messages a mailbox handles before it lets other
// goroutines run: protoactor's default.
func (pooledDispatcher) Throughput() int { return 300 }

// onPool is the Props option every actor of the server is spawned with.
func onPool(pool *gopool.Pool) actor.PropsOption {
	return actor.WithDispatcher(pooledDispatcher{pool})
}

// listen opens one listener; a UNIX socket gets socketMode and replaces a
// stale socket file left by a server that died.
func (s *Server) listen(network, address string) (net.Listener, error) {
	if network != "unix" {
		return net.Listen(network, address)
	}
	if err := os.MkdirAll(filepath.Dir(address), 0o700); err != nil {
		return nil, fmt.Errorf("create socket dir: %w", err)
	}
	ln, err := unixsock.Listen(address, socketMode)
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false) // we remove it ourselves, last
	s.sockets = append(s.sockets, address)
	return ln, nil
}

// accept is a listener's accept loop; tl is the listener's TLS settings,
// nil for a plain one. A TLS connection's handshake happens later, in its
// reader.
func (s *Server) accept(ln net.Listener, l config.Listener, tl *tlsListener) {
	defer s.acceptWG.Done()
	log := s.log.Named("listener").With("listener", l.Name)
	admitted := s.metrics.listener(l.Name)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.strangerLogs.Error(log, "accept failed", "error", err)
			time.Sleep(acceptRetry)
			continue
		}
		addr := sourceAddress(conn)
		if refused, ok := s.connLimits.admit(addr, l.Name); !ok {
			s.metrics.refuse(refused.why)
			s.strangerLogs.Warn(log, "connection refused", "remote", conn.RemoteAddr().String(), "reason", refused.detail)
			if tl != nil { // a report in clear would be garbage to a TLS client
				conn.Close()
			} else {
				refuse(conn, l.Codec, refused.detail)
			}
			continue
		}
		add(admitted, 1)
		if tl != nil {
			if conn, err = tl.serve(conn); err != nil {
				s.strangerLogs.Error(log, "accept failed", "error", err)
				s.connLimits.leave(addr, l.Name)
				continue
			}
		}
		s.sys.Root.Send(s.acceptor, &accepted{conn: conn, addr: addr, codec: l.Codec, listener: l.Name, tls: tl})
	}
}

// Addr returns the bound address of the named listener (useful with port 0).
func (s *Server) Addr(listener string) net.Addr {
	for i, l := range s.cfg.Listeners {
		if l.Name == listener && i < len(s.listeners) {
			return s.listeners[i].Addr()
		}
	}
	return nil
}

// HandlerStates asks every handler link for its state.
func (s *Server) HandlerStates() []*LinkState {
	out := make([]*LinkState, 0, len(s.linkOrder))
	for _, name := range s.linkOrder {
		res, err := s.sys.Root.RequestFuture(s.links[name], &getLinkState{}, stateTimeout).Result()
		st, ok := res.(*LinkState)
		if err != nil || !ok {
			st = &LinkState{Name: name, State: "unknown"}
		}
		out = append(out, st)
	}
	return out
}

// PeerStates asks every peer link for its state, in configuration order.
func (s *Server) PeerStates() []*PeerState {
	out := make([]*PeerState, 0, len(s.cfg.Peers))
	for _, p := range s.cfg.Peers {
		res, err := s.sys.Root.RequestFuture(s.peers[p.Name], &getPeerState{}, stateTimeout).Result()
		st, ok := res.(*PeerState)
		if err != nil || !ok {
			st = &PeerState{Name: p.Name, Address: p.Address, State: "unknown"}
		}
		out = append(out, st)
	}
	return out
}

// WaitReady waits until every handler is up.
func (s *Server) WaitReady(ctx context.Context) error {
	for {
		ready := true
		for _, st := range s.HandlerStates() {
			if st.State != stateUp {
				ready = false
			}
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("handlers not ready: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Reload re-reads the users and groups files and the TLS files of the
// listeners and the monitor, retries failed handlers and makes peers that
// are backing off connect now (SIGHUP). Open connections keep the TLS settings they began
// with.
func (s *Server) Reload() {
	s.reloading.Lock()
	defer s.reloading.Unlock()
	for _, tl := range s.tlsListeners {
		if tl != nil {
			tl.reload()
		}
	}
	if s.monitorTLS != nil {
		s.monitorTLS.reload()
	}
	if h, ok := s.auth.(*auth.Htpasswd); ok {
		if err := h.Reload(); err != nil {
			s.log.Error("cannot reload users; keeping the old ones", "error", err)
		} else {
			s.log.Info("users reloaded", "file", s.cfg.Auth.File)
		}
	} else {
		s.log.Info("reload: open authentication, no users file")
	}
	s.reloadGroups()
	for _, pid := range s.links {
		s.sys.Root.Send(pid, &retryLink{})
	}
	for _, pid := range s.peers {
		s.sys.Root.Send(pid, &retryPeer{})
	}
}

func (s *Server) serverInfo() map[string]any {
	listeners := make([]map[string]any, 0, len(s.cfg.Listeners))
	for i, l := range s.cfg.Listeners {
		listeners = append(listeners, map[string]any{"name": l.Name, "network": l.Network,
			"address": s.listeners[i].Addr().String(), "codec": l.Codec.String(), "tls": l.TLS != nil,
			"connections": s.connLimits.onListener(l.Name)})
	}
	return map[string]any{
		"name":      s.cfg.Server.Name,
		"clients":   s.registry.count(),
		"users":     len(s.registry.names()),
		"listeners": listeners,
		"handlers":  s.HandlerStates(),
		"peers":     s.PeerStates(),
	}
}

// Stop shuts the server down gracefully: it stops accepting, lets the
// messages in flight finish for up to shutdown_timeout (or until ctx ends),
// fails the rest with shutting_down, stops the handlers and removes the
// sockets it created.
func (s *Server) Stop(ctx context.Context) {
	s.stopOnce.Do(func() { s.stop(ctx) })
}

func (s *Server) stop(ctx context.Context) {
	s.log.Info("shutting down")
	// The monitor stays up while connections drain, answering /readyz
	// with 503, so that a load balancer sees the stop rather than a
	// refused connection.
	s.stopping.Store(true)
	s.closeListeners()
	s.acceptWG.Wait()
	if s.informer != nil {
		s.informer.close()
	}
	root := s.sys.Root
	drainedCh, closedCh := make(chan struct{}), make(chan struct{})
	waiter := root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch c.Message().(type) {
		case *drained:
			close(drainedCh)
		case *connsClosed:
			close(closedCh)
		}
	}))

	// Connections stop reading but stay open until nothing is in flight
	// anywhere: a message still in flight may be for any of them.
	root.RequestWithCustomSender(s.acceptor, &drain{}, waiter)
	wait, cancel := context.WithTimeout(ctx, s.cfg.Server.ShutdownTimeout)
	select {
	case <-drainedCh:
	case <-wait.Done():
		s.log.Warn("messages still in flight at the shutdown deadline; reporting shutting_down")
	}
	cancel()

	s.stopAll("handler", s.links, &stopLink{}, linkStopTimeout)
	// Peers stop after the links, which have reported what waited for them.
	s.stopAll("peer", s.peers, &stopPeer{}, peerStopTimeout)
	// The links' last reports are in the connections' mailboxes before
	// closeConns, so the connections write them before they close.
	root.RequestWithCustomSender(s.acceptor, &closeConns{}, waiter)
	select {
	case <-closedCh:
	case <-time.After(lateReportWait):
		s.log.Warn("connections still writing at the close deadline; closing them")
	}

	s.stopMonitor()
	for _, pid := range []*actor.PID{s.acceptor, s.router, waiter} {
		root.PoisonFuture(pid).Wait()
	}
	for _, pid := range s.links {
		root.PoisonFuture(pid).Wait()
	}
	for _, pid := range s.peers {
		root.PoisonFuture(pid).Wait()
	}
	s.removeSockets()
	s.sys.Shutdown()
	s.pool.Close()
	s.strangerLogs.Stop()
	s.log.Info("stopped")
}

// stopAll sends msg to every actor of pids (of one kind, by name) at once and waits until each
// has answered or timeout has passed.
func (s *Server) stopAll(kind string, pids map[string]*actor.PID, msg any, timeout time.Duration) {
	var wg sync.WaitGroup
	for name, pid := range pids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.sys.Root.RequestFuture(pid, msg, timeout).Result(); err != nil {
				s.log.Error(kind+" did not stop in time", kind, name, "error", err)
			}
		}()
	}
	wg.Wait()
}

// removeSockets removes the UNIX socket files the server created.
func (s *Server) removeSockets() {
	for _, path := range s.sockets {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("cannot remove socket", "path", path, "error", err)
		}
	}
}

func (s *Server) closeListeners() {
	for _, ln := range s.listeners {
		ln.Close()
	}
}

// privateDir creates dir with mode 0700, or checks that an existing one
// belongs to this user and that nobody else may write to it: whoever can
// write there can put their own socket in place of a handler's.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create runtime dir: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("check runtime dir: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("runtime dir %s is not a directory", dir)
	case ok && int(st.Uid) != os.Getuid():
		return fmt.Errorf("runtime dir %s belongs to uid %d, not to this user (%d); choose another runtime_dir", dir, st.Uid, os.Getuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("runtime dir %s may be written by others (mode %v); run chmod go-w on it or choose another runtime_dir", dir, fi.Mode().Perm())
	}
	return nil
}
