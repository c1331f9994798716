package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bester-project/bester/wire"
)

// ConnectConfig describes a connect workload: open Conns authenticated
// connections, hold them idle, and see what they cost the server.
type ConnectConfig struct {
	Driver Driver
	// Conns is the number of connections to open (N).
	Conns int
	// Concurrency bounds connections being opened at once; default
	// DefaultDialConcurrency.
	Concurrency int
	// Hold is how long the connections are held once open.
	Hold time.Duration
	// UserPrefix starts every user name (PREFIXc0, PREFIXc1, ...);
	// default DefaultUserPrefix.
	UserPrefix string
	// Sources are the source addresses to dial from, in turn.
	Sources []net.IP
	// MaxFailures stops the ramp after that many failed connections;
	// default 10 or 1% of Conns, whichever is more.
	MaxFailures int
	// Memory, when set, reads the server's resident memory in bytes;
	// it is read before the ramp and at the end of the hold.
	Memory func() (int64, error)
	// ServerConns, when set, asks the server how many connections it
	// counts, at the end of the hold.
	ServerConns func() (int, error)
	// Asked and Limit say how many connections were asked for and why
	// Conns is lower, when the caller capped it (to an open-file limit,
	// say).
	Asked int
	Limit string
	// Progress is called every ProgressInterval, as in Config.
	Progress         func(Progress)
	ProgressInterval time.Duration
}

// ConnectResult is what a connect workload measured.
type ConnectResult struct {
	// Wanted is the number of connections asked for.
	Wanted      int `json:"wanted"`
	Established int `json:"established"`
	Failed      int `json:"failed"`
	// Dropped counts connections the server closed while they were
	// held.
	Dropped int `json:"dropped"`
	Sources int `json:"source_addresses,omitempty"`
	// RampSeconds is the time taken to open them, PerSecond the rate.
	RampSeconds float64 `json:"ramp_s"`
	PerSecond   float64 `json:"per_second"`
	// Latency of each connection: connect and authenticate.
	Latency Percentiles `json:"latency"`
	// Server memory, when known: resident set before the ramp and at
	// the end of the hold, and the difference per connection held.
	RSSBefore    int64   `json:"rss_before,omitempty"`
	RSSAfter     int64   `json:"rss_after,omitempty"`
	BytesPerConn float64 `json:"bytes_per_connection,omitempty"`
	// ServerConns is the server's own count at the end of the hold,
	// -1 when unknown.
	ServerConns int `json:"server_connections"`
	// Limit says what stopped the ramp short of Wanted, if anything.
	Limit string `json:"limited_by,omitempty"`
}

// RunConnect opens cfg.Conns connections, holds them for cfg.Hold and
// closes them. It stops the ramp after too many failures and says why.
func RunConnect(ctx context.Context, cfg ConnectConfig) (*Result, error) {
	switch {
	case cfg.Driver == nil:
		return nil, errors.New("no driver")
	case cfg.Conns < 1:
		return nil, fmt.Errorf("connections %d: want at least 1", cfg.Conns)
	case cfg.Hold < 0:
		return nil, fmt.Errorf("hold %s: want 0 or more", cfg.Hold)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultDialConcurrency
	}
	if cfg.UserPrefix == "" {
		cfg.UserPrefix = DefaultUserPrefix
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = max(10, cfg.Conns/100)
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = DefaultProgressInterval
	}
	cr := &ConnectResult{Wanted: max(cfg.Conns, cfg.Asked), ServerConns: -1, Sources: len(cfg.Sources), Limit: cfg.Limit}
	res := &Result{Workload: "connect", DurationSeconds: cfg.Hold.Seconds(), Errors: map[string]uint64{}, Connect: cr}
	if cfg.Memory != nil {
		rss, err := cfg.Memory()
		if err != nil {
			return nil, fmt.Errorf("server memory: %w", err)
		}
		cr.RSSBefore = rss
	}

	var (
		mu       sync.Mutex
		conns    []Conn
		hists    []*histogram
		failures = map[string]int{}
		firstErr = map[string]string{}
		nFailed  atomic.Int64
		dropped  atomic.Int64
		closing  atomic.Bool
		next     atomic.Int64
		open     atomic.Int64
		readers  sync.WaitGroup
	)
	rampCtx, stopRamp := context.WithCancel(ctx)
	defer stopRamp()
	base := time.Now()
	var workers sync.WaitGroup
	for range cfg.Concurrency {
		h := newHistogram()
		hists = append(hists, h)
		workers.Go(func() {
			for rampCtx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= cfg.Conns {
					return
				}
				var local net.IP
				if len(cfg.Sources) > 0 {
					local = cfg.Sources[i%len(cfg.Sources)]
				}
				t0 := time.Now()
				c, err := cfg.Driver.Dial(rampCtx, cfg.UserPrefix+"c"+strconv.Itoa(i), local)
				if err != nil {
					if rampCtx.Err() != nil {
						return
					}
					kind, why := classify(err)
					mu.Lock()
					failures[kind]++
					if _, ok := firstErr[kind]; !ok {
						firstErr[kind] = why + " (" + err.Error() + ")"
					}
					mu.Unlock()
					if nFailed.Add(1) >= int64(cfg.MaxFailures) {
						stopRamp()
					}
					continue
				}
				h.record(time.Since(t0))
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				open.Add(1)
				readers.Go(func() {
					events(c, func(*Event) {})
					if !closing.Load() {
						dropped.Add(1)
					}
				})
			}
		})
	}
	rampDone := make(chan struct{})
	go func() { workers.Wait(); close(rampDone) }()
	tick := time.NewTicker(cfg.ProgressInterval)
	defer tick.Stop()
	lastN, lastT := int64(0), time.Now()
	progress := func(phase string) {
		if cfg.Progress == nil {
			return
		}
		n, now := open.Load(), time.Now()
		rate := float64(n-lastN) / now.Sub(lastT).Seconds()
		lastN, lastT = n, now
		cfg.Progress(Progress{Phase: phase, Elapsed: now.Sub(base), Conns: int(n - dropped.Load()),
			Errors: uint64(nFailed.Load() + dropped.Load()), Rate: rate})
	}
ramp:
	for {
		select {
		case <-rampDone:
			break ramp
		case <-tick.C:
			progress("connecting")
		}
	}
	ramp := time.Since(base)
	cr.Established = int(open.Load())
	cr.Failed = int(nFailed.Load())
	cr.RampSeconds = ramp.Seconds()
	if ramp > 0 {
		cr.PerSecond = float64(cr.Established) / ramp.Seconds()
	}

	hold := time.NewTimer(cfg.Hold)
	holding := true
	for holding {
		select {
		case <-hold.C:
			holding = false
		case <-ctx.Done():
			res.Interrupted = true
			holding = false
		case <-tick.C:
			progress("holding")
		}
	}
	hold.Stop()
	if cfg.ServerConns != nil {
		if n, err := cfg.ServerConns(); err == nil {
			cr.ServerConns = n
		}
	}
	if cfg.Memory != nil {
		if rss, err := cfg.Memory(); err == nil {
			cr.RSSAfter = rss
			if held := cr.Established - int(dropped.Load()); held > 0 {
				cr.BytesPerConn = float64(cr.RSSAfter-cr.RSSBefore) / float64(held)
			}
		}
	}
	cr.Dropped = int(dropped.Load())

	closing.Store(true)
	var closers sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range conns {
		sem <- struct{}{}
		closers.Go(func() { c.Close(); <-sem })
	}
	closers.Wait()
	readers.Wait()

	all := newHistogram()
	for _, h := range hists {
		all.merge(h)
	}
	cr.Latency = all.percentiles()
	for kind, n := range failures {
		res.Errors["connect: "+kind] = uint64(n)
	}
	if cr.Dropped > 0 {
		res.Errors["dropped"] = uint64(cr.Dropped)
	}
	if cr.Established < cr.Wanted && cr.Limit == "" && !res.Interrupted {
		var worst string
		for kind, n := range failures {
			if worst == "" || n > failures[worst] {
				worst = kind
			}
		}
		if worst != "" {
			cr.Limit = firstErr[worst]
		}
	}
	for kind := range failures {
		res.ConnErrors = append(res.ConnErrors, firstErr[kind])
	}
	return res, nil
}

// classify names the kind of a failed connection and what it says about
// the limit reached.
func classify(err error) (kind, why string) {
	var werr *wire.Error
	var nerr net.Error
	switch {
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "open files", "this process's open-file limit" + nofileText()
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "ports", "no free source port for the source address (ephemeral ports" + portRangeText() +
			"); more loopback source addresses (-sources) give more"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused", "the server refused connections (not listening, or its listen backlog is full)"
	case errors.As(err, &werr):
		return string(werr.Code), "the server answered " + string(werr.Code)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "closed", "the server closed new connections (its open-file or connection limit?)"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &nerr) && nerr.Timeout():
		return "timeout", "the server did not accept and authenticate connections in time (out of open files?)"
	}
	return "other", "connections failed"
}

func nofileText() string {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return ""
	}
	return fmt.Sprintf(" (%d)", l.Cur)
}

func portRangeText() string {
	lo, hi, err := EphemeralPorts()
	if err != nil {
		return ""
	}
	return fmt.Sprintf(" %d-%d", lo, hi)
}
