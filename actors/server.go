package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
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
	"github.com/bester-project/bester/monitor"
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
	// current is the configuration in effect; Reload replaces it whole.
	// Use cfg to read it.
	current atomic.Pointer[config.Config]
	log     hclog.Logger
	sys     *actor.ActorSystem
	// credentials are the users and peers' secrets logins are checked
	// against; a reload swaps them.
	credentials atomic.Pointer[credentials]
	registry    *registry
	// connLimits counts open connections for max_connections and
	// max_connections_per_address.
	connLimits *connLimits
	// budget bounds the bytes held for connections (buffer_budget).
	budget *budget
	// logins guards client logins against password guessing.
	logins *auth.Guard
	// handlerCodecs is each handler's codec by type, for the readers.
	handlerCodecs *codecTable
	// handshakes bounds the TLS handshakes computing at once.
	handshakes handshakeSlots
	// pool runs the actors' mailboxes and the connections' writers.
	pool *gopool.Pool
	// strangerLogs throttles the warnings anyone who can connect can cause.
	strangerLogs *logthrottle.Throttle
	// permissions say which types users and peers may send; a reload
	// replaces their rules in place.
	permissions *permit.Policy
	// groups is the groups file as last read (nil without one).
	groups auth.Groups
	// pinnedLevel is the log level the command line sets, which the
	// file's does not override at a reload; "" when none.
	pinnedLevel string
	// reloading serialises Reload, and Reload with the beginning of Stop.
	reloading sync.Mutex

	router   *actor.PID
	routes   *routes // the router's table, which readers look up
	acceptor *actor.PID
	links    linkSet
	// peers is the current peerBook, shared with the handler links.
	peers atomic.Pointer[peerBook]
	// cluster is this server's part in a cluster; nil without a cluster
	// block.
	cluster *clusterNode

	// listeners are the client listeners in configuration order; a
	// reload replaces the slice (under listenersMu), never changes it.
	listeners   []*listener
	listenersMu sync.RWMutex
	informerLn  net.Listener
	sockets     []string // UNIX socket files this server created
	informer    *informer
	// monitor is the HTTP endpoint of the monitor block; nil without one.
	monitor atomic.Pointer[monitor.Endpoint]
	// monitorPages is what the endpoint serves, as the block in effect
	// says.
	monitorPages switchedHandler
	// monitorTLS holds the monitor's TLS settings; nil for plain HTTP.
	monitorTLS atomic.Pointer[tlsListener]
	// topSenders rates the fastest senders for /status; nil without a
	// monitor block or with top_senders = 0.
	topSenders atomic.Pointer[topSenders]
	// metrics are what the monitor's /metrics shows. They count from the
	// start whether or not a monitor block exists, so that one a reload
	// adds shows the whole life of the server.
	metrics *metrics
	// stopping is set when Stop begins, so that /readyz reports the
	// listeners closed from then on.
	stopping atomic.Bool
	acceptWG sync.WaitGroup
	stopOnce sync.Once
}

// New prepares a server from cfg; Start opens its sockets.
func New(cfg *config.Config, log hclog.Logger) (*Server, error) {
	s := &Server{log: log, registry: newRegistry(), pool: gopool.New(maxIdleGoroutines),
		connLimits:   newConnLimits(cfg.Server.MaxConnections, cfg.Server.MaxConnectionsPerAddress),
		handshakes:   newHandshakeSlots(),
		strangerLogs: logthrottle.New(strangerLogBurst, strangerLogPeriod)}
	s.current.Store(cfg)
	s.budget = newBudget(cfg.Server.BufferBudget)
	s.metrics = newMetrics(s.connLimits, s.budget)
	s.logins = auth.NewGuard(guardSettingsOf(&cfg.Server))
	s.handlerCodecs = newCodecTable(cfg.Handlers)
	warnReadableSecrets(log, cfg)
	for _, l := range cfg.Listeners {
		ln, err := newListener(l, s)
		if err != nil {
			return nil, err
		}
		s.listeners = append(s.listeners, ln)
	}
	users, err := authenticator(cfg.Auth)
	if err != nil {
		return nil, err
	}
	s.credentials.Store(credentialsOf(users, cfg.Peers))
	warnOpen(log, cfg.Auth)
	s.permissions = permit.New(cfg.Permissions)
	if s.groups, err = readGroups(cfg.Auth); err != nil {
		return nil, err
	}
	s.permissions.SetGroups(s.groups)
	return s, nil
}

// warnReadableSecrets warns when cfg's file holds peer secrets that
// other users may read.
func warnReadableSecrets(log hclog.Logger, cfg *config.Config) {
	if len(cfg.Peers) == 0 || cfg.Path == "" {
		return
	}
	if st, err := os.Stat(cfg.Path); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("the configuration holds peer secrets but other users may read it; make it mode 0600",
			"config", cfg.Path, "mode", st.Mode().Perm().String())
	}
}

// cfg is the configuration in effect. A reload replaces it with another
// and never changes the one it returns, so callers on any goroutine may keep
// reading it.
func (s *Server) cfg() *config.Config { return s.current.Load() }

// Start opens the listeners, the informer and the monitor, starts the actors and the
// handlers, and returns. Handlers come up in the background; messages for
// them wait in their queues meanwhile.
func (s *Server) Start() (err error) {
	if err := privateDir(s.cfg().Server.RuntimeDir); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.closeListeners()
			s.stopMonitor()
		}
	}()
	for _, l := range s.listeners {
		if err := l.open(s); err != nil {
			return err
		}
	}
	if err := s.openMonitor(); err != nil {
		return err
	}
	if s.cfg().Informer != nil {
		if s.informerLn, err = s.listen("unix", s.cfg().Informer.Socket); err != nil {
			return fmt.Errorf("informer: %w", err)
		}
	}

	s.sys = actor.NewActorSystem(
		actor.WithLoggerFactory(func(sys *actor.ActorSystem) *slog.Logger {
			return slog.New(&slogToHclog{l: s.log.Named("actor"), protoactor: true})
		}),
		actor.WithDeadLetterThrottleInterval(100*time.Millisecond),
	)
	if c := s.cfg().Cluster; c != nil {
		if s.cluster, err = s.joinCluster(c); err != nil {
			s.sys.Shutdown()
			s.pool.Close()
			return err
		}
		s.registry.dir = s.cluster.dir
	}
	s.startActors()

	if s.informerLn != nil {
		s.informer = &informer{ln: s.informerLn, maxFrame: s.cfg().Server.MaxFrame, users: s.clientList(),
			info: s.serverInfo, log: s.log.Named("informer"), conns: make(map[net.Conn]struct{})}
		s.informer.wg.Add(1)
		go s.informer.serve()
	}
	for _, l := range s.listeners {
		s.serve(l)
	}
	s.serveMonitor()
	return nil
}

// startActors spawns the router, one link per peer, one link per handler
// and the acceptor.
func (s *Server) startActors() {
	root := s.sys.Root
	cfg := s.cfg()
	peers := make([]peerEntry, 0, len(cfg.Peers))
	for _, p := range cfg.Peers {
		peers = append(peers, peerEntry{cfg: p, pid: s.spawnPeer(p)})
	}
	s.peers.Store(newPeerBook(peers, cfg.Server.AllowUnnamedPeers))
	s.routes = &routes{links: make(map[string]*actor.PID, len(cfg.Handlers))}
	s.router = root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &router{table: s.routes} }, onPool(s.pool)))
	links := make([]*linkEntry, 0, len(cfg.Handlers))
	for _, h := range cfg.Handlers {
		e := s.spawnLink(h, h.Socket)
		s.routes.links[h.Name] = e.pid // written before any listener accepts, so the readers' lookups follow it
		links = append(links, e)
	}
	s.links.replace(links, nil)
	settings := s.connSettingsFor(cfg)
	s.acceptor = root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &acceptor{settings: settings} },
		actor.WithSupervisor(stopConnections), onPool(s.pool)))
}

// spawnPeer starts the link to peer p.
func (s *Server) spawnPeer(p config.Peer) *actor.PID {
	cfg := s.cfg()
	ps := &peerSettings{peer: p, server: cfg.Server.Name, maxFrame: cfg.Server.MaxFrame, pool: s.pool, metrics: s.metrics,
		log: s.log.Named("peer").With("peer", p.Name), book: &s.peers}
	return s.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newPeerLink(ps) }, onPool(s.pool)))
}

// spawnLink starts the link of handler h, whose process (if it has a
// command) listens on socket.
func (s *Server) spawnLink(h config.Handler, socket string) *linkEntry {
	cfg := s.cfg()
	informerPath := ""
	if cfg.Informer != nil {
		informerPath = cfg.Informer.Socket
	}
	e := &linkEntry{cfg: h, socket: socket}
	h.Socket = socket
	ls := &linkSettings{handler: h, server: cfg.Server.Name, informer: informerPath,
		maxFrame: cfg.Server.MaxFrame, maxRecipients: cfg.Server.MaxRecipients, registry: s.registry, router: s.router, pool: s.pool,
		log: s.log.Named("handler").With("handler", h.Name), peers: &s.peers, metrics: s.metrics, cluster: s.cluster}
	e.pid = s.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newHandlerLink(ls) }, onPool(s.pool)))
	return e
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

// HandlerStates asks every handler link that serves a type for its
// state, in configuration order; links that a reload retired are not
// shown.
func (s *Server) HandlerStates() []*LinkState {
	links := s.links.current()
	pids := make([]*actor.PID, len(links))
	for i, e := range links {
		pids[i] = e.pid
	}
	return askAll(s.sys.Root, pids, &getLinkState{}, func(i int) *LinkState {
		return &LinkState{Name: links[i].cfg.Name, State: "unknown"}
	})
}

// PeerStates asks every peer link for its state, in configuration order.
func (s *Server) PeerStates() []*PeerState {
	peers := s.peers.Load().entries
	pids := make([]*actor.PID, len(peers))
	for i, e := range peers {
		pids[i] = e.pid
	}
	return askAll(s.sys.Root, pids, &getPeerState{}, func(i int) *PeerState {
		return &PeerState{Name: peers[i].cfg.Name, Address: peers[i].cfg.Address, State: "unknown"}
	})
}

// askAll asks every actor of pids msg at once and collects the answers
// of type T in order, so that a busy actor delays the whole by
// stateTimeout at most, not by that much each; unknown(i) stands in for
// one that did not answer in time.
func askAll[T any](root *actor.RootContext, pids []*actor.PID, msg any, unknown func(i int) T) []T {
	futures := make([]*actor.Future, len(pids))
	for i, pid := range pids {
		futures[i] = root.RequestFuture(pid, msg, stateTimeout)
	}
	out := make([]T, len(pids))
	for i, f := range futures {
		res, err := f.Result()
		st, ok := res.(T)
		if err != nil || !ok {
			st = unknown(i)
		}
		out[i] = st
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

func (s *Server) serverInfo() map[string]any {
	open := s.openListeners()
	listeners := make([]map[string]any, 0, len(open))
	for _, ln := range open {
		l := ln.conf.Load().cfg
		listeners = append(listeners, map[string]any{"name": l.Name, "network": l.Network,
			"address": ln.ln.Addr().String(), "codec": l.Codec.String(), "tls": l.TLS != nil,
			"connections": s.connLimits.onListener(l.Name)})
	}
	info := map[string]any{
		"name":      s.cfg().Server.Name,
		"clients":   s.registry.count(),
		"users":     len(s.registry.names()),
		"listeners": listeners,
		"handlers":  s.HandlerStates(),
		"peers":     s.PeerStates(),
	}
	if s.cluster != nil {
		info["cluster"] = s.cluster.info()
	}
	return info
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
	// refused connection. A reload under way finishes first, and none
	// starts after this: a link it spawned later would miss stopLink.
	s.reloading.Lock()
	s.stopping.Store(true)
	s.reloading.Unlock()
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
	wait, cancel := context.WithTimeout(ctx, s.cfg().Server.ShutdownTimeout)
	select {
	case <-drainedCh:
	case <-wait.Done():
		s.log.Warn("messages still in flight at the shutdown deadline; reporting shutting_down")
	}
	cancel()

	links, peers := s.links.all(), s.peers.Load().byName
	s.stopAll("handler", links, &stopLink{}, linkStopTimeout)
	// Peers stop after the links, which have reported what waited for them.
	s.stopAll("peer", peers, &stopPeer{}, peerStopTimeout)
	var members map[string]*actor.PID
	left := make(chan struct{})
	if s.cluster != nil {
		members = s.stopMemberLinks()
		// Leaving tells the others at once (they stop sending here) and
		// then takes seconds of protoactor's own; the connections close
		// meanwhile, and the inbox acks what still comes as undelivered.
		go func() {
			defer close(left)
			s.cluster.member.Stop(memberStopLimit)
		}()
	}
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
	for _, pid := range members {
		root.PoisonFuture(pid).Wait()
	}
	for _, pid := range links {
		root.PoisonFuture(pid).Wait()
	}
	for _, pid := range peers {
		root.PoisonFuture(pid).Wait()
	}
	s.removeSockets()
	if s.cluster != nil {
		root.PoisonFuture(s.cluster.inbox).Wait()
		<-left // the member's stop shuts the actor system down
	} else {
		s.sys.Shutdown()
	}
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
			// A link a reload retired may have stopped by itself meanwhile.
			_, err := s.sys.Root.RequestFuture(pid, msg, timeout).Result()
			if err != nil && !errors.Is(err, actor.ErrDeadLetter) {
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
