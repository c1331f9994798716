// Package monitor serves the HTTP endpoint operators, load balancers and
// orchestrators ask about a server: /healthz, /readyz, /status and,
// when enabled, the Go profiler, over HTTP or HTTPS. It knows nothing of
// the server's insides: a Source answers its questions.
package monitor

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"

	"github.com/bester-project/bester/actors/logthrottle"
)

// The endpoint's timeouts. Its clients are probes and operators on a
// trusted network, but a client that stops reading must still not hold a
// goroutine for ever.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	// writeTimeout is long because a CPU profile writes only at its end;
	// the profiler refuses profiles of this length or longer.
	writeTimeout = 2 * time.Minute
	idleTimeout  = time.Minute
	// MaxConnections bounds the connections the endpoint serves at once;
	// more wait in the kernel's queue until one closes, so that whoever
	// reaches a remote endpoint cannot make it hold goroutines and buffers
	// without end. Probes and scrapers need a handful.
	MaxConnections = 64
)

// Source is what the endpoint asks the server. Its methods are called from
// the endpoint's goroutines, at any time until Close returns.
type Source interface {
	// Status is the body of /status, marshalled as JSON.
	Status() any
	// Ready reports whether the server can do its work; body says why not
	// (or what was checked), marshalled as JSON.
	Ready() (ready bool, body any)
	// Gatherer is the registry /metrics serves, the server's own.
	Gatherer() prometheus.Gatherer
}

// Endpoint is a running monitor endpoint.
type Endpoint struct {
	ln       net.Listener
	srv      *http.Server
	log      hclog.Logger
	refusals *logthrottle.Throttle
}

// Handler answers /healthz, /readyz, /status and /metrics from src; pprof
// adds the profiler under /debug/pprof/.
func Handler(src Source, pprof bool, log hclog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, log, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ready, body := src.Ready()
		code := http.StatusOK
		if !ready {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, log, code, body)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, log, http.StatusOK, src.Status())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(src.Gatherer(), promhttp.HandlerOpts{
		ErrorLog: log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}), ErrorHandling: promhttp.ContinueOnError}))
	if pprof {
		AddProfiler(mux)
	}
	return mux
}

// Listen opens the endpoint's socket on address (host:port). It answers
// nothing until Serve: a server opens every socket before it starts work,
// so that a taken port fails the start. What the endpoint refuses (a
// failed TLS handshake, which anyone who reaches the port can cause) is
// logged on log through refusals, which may be nil for no throttle.
func Listen(address string, log hclog.Logger, refusals *logthrottle.Throttle) (*Endpoint, error) {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	return &Endpoint{ln: netutil.LimitListener(ln, MaxConnections), log: log, refusals: refusals}, nil
}

// ListenTLS is Listen for an endpoint that speaks HTTPS only, with
// config's certificates (GetConfigForClient may change them between
// connections).
func ListenTLS(address string, config *tls.Config, log hclog.Logger, refusals *logthrottle.Throttle) (*Endpoint, error) {
	e, err := Listen(address, log, refusals)
	if err != nil {
		return nil, err
	}
	e.ln = tls.NewListener(e.ln, config)
	return e, nil
}

// Serve answers requests with handler, with the endpoint's timeouts, in
// the background until Close.
func (e *Endpoint) Serve(handler http.Handler) {
	e.srv = &http.Server{Handler: handler,
		ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout,
		ErrorLog: stdlog.New(serverErrors{e.log, e.refusals}, "", 0)}
	go func() {
		if err := e.srv.Serve(e.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("monitor stopped", "error", err)
		}
	}()
}

// AddProfiler serves net/http/pprof under /debug/pprof/ on mux.
func AddProfiler(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// Addr is the address the endpoint listens on (useful with port 0).
func (e *Endpoint) Addr() net.Addr { return e.ln.Addr() }

// Close stops the endpoint, letting requests in progress finish until ctx
// ends.
func (e *Endpoint) Close(ctx context.Context) {
	if e.srv != nil {
		if err := e.srv.Shutdown(ctx); err != nil {
			e.log.Warn("monitor requests cut at shutdown", "error", err)
			e.srv.Close()
		}
	}
	e.ln.Close() // already closed by Shutdown when served
}

// writeJSON answers with body as JSON.
func writeJSON(w http.ResponseWriter, log hclog.Logger, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(body); err != nil {
		log.Debug("monitor answer not written", "error", err)
	}
}

// serverErrors writes what net/http says of the connections it refused
// or could not serve on the endpoint's log, rather than on stderr: a
// failed TLS handshake as a warning, throttled, anything else as an
// error.
type serverErrors struct {
	log      hclog.Logger
	refusals *logthrottle.Throttle
}

// tlsHandshakeError is how net/http begins its line on a failed TLS
// handshake, which the remote address and the reason follow.
const tlsHandshakeError = "http: TLS handshake error from "

func (w serverErrors) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level, msg, detail := hclog.Error, "HTTP server error", strings.TrimPrefix(line, "http: ")
	if from, ok := strings.CutPrefix(line, tlsHandshakeError); ok {
		level, msg, detail = hclog.Warn, "TLS handshake failed", from
	}
	if w.refusals == nil {
		w.log.Log(level, msg, "detail", detail)
	} else {
		w.refusals.Log(w.log, level, msg, "detail", detail)
	}
	return len(p), nil
}
