// Command besterd is the Bester server.
//
//	besterd [-config config.hcl] [-log-level info] [-check] [-pprof 127.0.0.1:6060]
//	besterd -version
//
// What the signals do is in its help (newApp's Description).
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/actors"
	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/internal/cliapp"
	"github.com/bester-project/bester/monitor"
	"github.com/bester-project/bester/wire/tlsconf"
)

func main() {
	if err := newApp().Run(context.Background(), os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "besterd:", err)
		os.Exit(1)
	}
}

// newApp builds the command line of the server.
func newApp() *cli.Command {
	return cliapp.Setup(&cli.Command{
		Name:  "besterd",
		Usage: "run a Bester message-exchange server",
		Description: "SIGINT and SIGTERM stop it gracefully. SIGHUP re-reads the whole configuration file, with the users,\n" +
			"groups and TLS files it names, and applies what changed: handlers and peers added start, changed ones are\n" +
			"replaced, removed ones stop once their messages are answered; listeners open and close; limits, the log\n" +
			"level, auth, permissions and the monitor change; what nothing changed keeps running. A file with any error,\n" +
			"or a change that needs a restart (server name, max_frame, runtime_dir, the informer...), is rejected whole\n" +
			"and the running configuration stays. The log says why, or sums up what changed in one line. SIGHUP also\n" +
			"retries handlers that restarted too often. See docs/configuration.md, \"What SIGHUP reloads\".",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Value: "config.hcl", Usage: "path of the HCL configuration `file`"},
			&cli.StringFlag{Name: "log-level", Usage: "log `level`: trace, debug, info, warn, error or off (overrides the config, at reloads too)"},
			&cli.BoolFlag{Name: "check", Usage: "check the configuration and exit"},
			&cli.StringFlag{Name: "pprof", Usage: "serve Go's profiler (net/http/pprof) on this loopback `address`, e.g. 127.0.0.1:6060; the monitor block's pprof = true serves it with /healthz, /readyz and /status"},
		},
		Action: run,
	})
}

// run starts the server as the flags of cmd say and runs it until a
// signal stops it.
func run(_ context.Context, cmd *cli.Command) error {
	if cmd.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (the configuration is given with -config)", cmd.Args().First())
	}
	configPath, level, check, pprofAddr := cmd.String("config"), cmd.String("log-level"), cmd.Bool("check"), cmd.String("pprof")

	// Signals are caught from the start, so that one arriving while the
	// server starts still stops it gracefully.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)

	cfg, err := config.Load(configPath)
	if err != nil {
		return err
	}
	if level != "" {
		cfg.Log.Level = level
	}
	lvl := hclog.LevelFromString(cfg.Log.Level)
	if lvl == hclog.NoLevel {
		return fmt.Errorf("unknown log level %q (want trace, debug, info, warn, error or off)", cfg.Log.Level)
	}
	if check {
		if err := printWarnings(cfg); err != nil {
			return err
		}
		fmt.Printf("%s: configuration is valid (%s, %s, %s%s)\n", configPath,
			count(len(cfg.Listeners), "listener"), count(len(cfg.Handlers), "handler"), count(len(cfg.Peers), "peer"),
			clusterSummary(cfg.Cluster))
		return nil
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name: "besterd", Level: lvl, JSONFormat: cfg.Log.JSON,
		TimeFormat: "2006-01-02T15:04:05.000Z07:00", Color: hclog.AutoColor,
	})

	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(cfg.Server.GCPercent)
	}
	if pprofAddr != "" {
		if _, err := serveProfiler(pprofAddr, log); err != nil {
			return err
		}
	}
	srv, err := actors.New(cfg, log)
	if err != nil {
		return err
	}
	if level != "" {
		srv.PinLogLevel(level)
	}
	if err := srv.Start(); err != nil {
		return err
	}
	// The pid is the process to signal: under go run it is not go run's.
	log.Info("server started", "name", cfg.Server.Name, "config", cfg.Path, "pid", os.Getpid())

	for sig := range sigs {
		if sig == syscall.SIGHUP {
			srv.Reload()
			continue
		}
		log.Info("signal received, stopping", "signal", sig.String())
		signal.Reset(syscall.SIGINT, syscall.SIGTERM) // a second signal kills at once
		srv.Stop(context.Background())
		return nil
	}
	return nil
}

// printWarnings writes the configuration's warnings to standard error.
func printWarnings(cfg *config.Config) error {
	w, err := config.Warnings(cfg)
	if err != nil {
		return err
	}
	if w != "" {
		fmt.Fprintln(os.Stderr, w)
	}
	return nil
}

// count writes n things, with the plural when n is not 1.
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// serveProfiler serves net/http/pprof on a loopback address and returns
// the address it listens on. Profiles show what the server is doing, so
// they are not offered beyond the machine. The monitor block serves the
// same profiler beside its other pages.
func serveProfiler(addr string, log hclog.Logger) (net.Addr, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-pprof %q: %w", addr, err)
	}
	if !tlsconf.LoopbackHost(host) {
		return nil, fmt.Errorf("-pprof %q: the profiler is served on loopback addresses only", addr)
	}
	e, err := monitor.Listen(addr, log, nil) // on loopback: no stranger to throttle
	if err != nil {
		return nil, fmt.Errorf("-pprof: %w", err)
	}
	mux := http.NewServeMux()
	monitor.AddProfiler(mux)
	e.Serve(mux)
	log.Info("profiler listening", "address", e.Addr().String())
	return e.Addr(), nil
}

// clusterSummary is what -check says of the cluster block: ", member of
// cluster NAME on etcd" or "... with a static list of N members"; empty
// without one.
func clusterSummary(c *config.Cluster) string {
	switch {
	case c == nil:
		return ""
	case c.Etcd != nil:
		return fmt.Sprintf(", member of cluster %s on etcd at %s", c.Name, strings.Join(c.Etcd.Endpoints, ","))
	}
	return fmt.Sprintf(", member of cluster %s with a static list of %s", c.Name, count(len(c.Static.Members), "member"))
}
