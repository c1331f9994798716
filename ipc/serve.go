package ipc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/bester-project/bester/wire"
)

const (
	// shutdownGrace is how long ServeConfig waits, once its context is
	// done, for requests in flight to be answered before it closes their
	// connections and returns.
	shutdownGrace = 5 * time.Second
	// acceptBackoffMax caps the pause after a failing Accept (for example
	// when out of file descriptors), so the loop neither spins nor stalls.
	acceptBackoffMax = time.Second
	acceptBackoffMin = 5 * time.Millisecond
)

// Serve runs h as the handler the server started: it reads its settings
// from the environment (see OptionsFromEnv), logs problems to stderr, and
// returns nil once ctx is cancelled or the process gets SIGTERM or SIGINT,
// which is how the server stops its handlers.
func Serve(ctx context.Context, h HandlerFunc) error {
	opts, err := OptionsFromEnv()
	if err != nil {
		return err
	}
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	return ServeConfig(ctx, opts, h)
}

// ServeConfig runs h on the socket opts.Socket until ctx is done, then
// removes the socket and returns nil. It returns an error only when it
// cannot listen or the listener fails for good.
func ServeConfig(ctx context.Context, opts Options, h HandlerFunc) error {
	s, ln, err := newServer(opts, h)
	if err != nil {
		return err
	}
	defer ln.Close()
	defer s.wd.close()
	return s.run(ctx, ln)
}

// newServer checks opts and listens; the caller runs the server, then
// closes the listener and the watchdog.
func newServer(opts Options, h HandlerFunc) (*server, net.Listener, error) {
	if h == nil {
		return nil, nil, errors.New("ipc: nil HandlerFunc")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, nil, fmt.Errorf("ipc: %w", err)
	}
	ln, err := listen(o.Socket)
	if err != nil {
		return nil, nil, fmt.Errorf("ipc: %w", err)
	}
	return &server{opts: o, h: h, wd: newWatchdog()}, ln, nil
}

// server is one running ServeConfig.
type server struct {
	opts Options
	h    HandlerFunc
	wd   *watchdog
}

// run accepts connections until ctx is done, then waits up to
// shutdownGrace for them to finish.
func (s *server) run(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopAccept := context.AfterFunc(ctx, func() { ln.Close() })
	defer stopAccept()

	// force is cancelled when the grace period is over; every connection
	// closes itself then.
	force, forceClose := context.WithCancel(context.Background())
	defer forceClose()

	var wg sync.WaitGroup
	err := s.acceptLoop(ctx, ln, func(conn net.Conn) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer context.AfterFunc(force, func() { conn.Close() })()
			s.serveConn(ctx, conn)
		}()
	})
	cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownGrace):
		forceClose()
		s.opts.Logger.Warn("requests still running after the shutdown grace period; connections closed",
			"grace", shutdownGrace)
	}
	return err
}

// acceptLoop hands every accepted connection to serve. It returns nil when
// ctx ends it and an error when the listener fails for another reason.
func (s *server) acceptLoop(ctx context.Context, ln net.Listener, serve func(net.Conn)) error {
	backoff := acceptBackoffMin
	for {
		conn, err := ln.Accept()
		if err == nil {
			backoff = acceptBackoffMin
			serve(conn)
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("ipc: listener closed: %w", err)
		}
		s.opts.Logger.Warn("accept failed; retrying", "err", err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, acceptBackoffMax)
	}
}

// serveConn runs one connection in the configured mode.
func (s *server) serveConn(ctx context.Context, conn net.Conn) {
	if s.opts.Mode == wire.ModeOneshot {
		s.serveOneshot(ctx, conn)
		return
	}
	s.serveStream(ctx, conn)
}
