package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/internal/statusview"
)

const (
	// envMonitor stands in for -monitor.
	envMonitor = "BESTER_MONITOR"
	// scrapeTimeout bounds one reading of the endpoint: a server that
	// does not answer by then shows as unreachable.
	scrapeTimeout = 5 * time.Second
)

func statusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show a server live through its monitor endpoint: rates, latencies, handlers, peers, top senders, cluster members",
		Description: "Every -interval it reads /metrics and /status of the monitor endpoint (the server's monitor\n" +
			"block) and shows: messages per second in and out (deliveries), status reports per second by code,\n" +
			"open connections per listener, each handler's state, queue, messages in flight, p50 and p99\n" +
			"answer latency over the interval and restarts, each peer's state, queue and p99 round trip, and\n" +
			"the top senders. On a member of a cluster it also names the member, shows the batches per second\n" +
			"sent to other members and failed by code, and lists the members with their address, state,\n" +
			"unacknowledged batches, acknowledgements per second and p99 round trip. On a terminal the view\n" +
			"redraws in place; q or Ctrl-C quits. Otherwise it prints one block of plain lines per interval,\n" +
			"or with -json one JSON object per line. A server that cannot be read shows as\n" +
			"`unreachable: REASON`, and is read again every interval. With -once it reads twice, -interval\n" +
			"apart, shows that interval and exits (status 1 if unreachable).\n" +
			"The TLS flags are for a monitor block with a tls block.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "monitor", Value: config.DefaultMonitorAddress, Sources: cli.EnvVars(envMonitor),
				Usage: "host:port of the server's monitor endpoint"},
			&cli.DurationFlag{Name: "interval", Value: time.Second, Usage: "time between readings"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per interval, for scripts"},
			&cli.BoolFlag{Name: "once", Usage: "show one interval and exit"},
		}, serverTLSFlags("-monitor", "a monitor block whose tls block has client_auth")...),
		Action: func(ctx context.Context, cmd *cli.Command) error { return runStatus(ctx, cmd, e) },
	}
}

// runStatus reads the endpoint every interval and shows each interval
// until ctx ends, the user quits or, with -once, after the first.
func runStatus(ctx context.Context, cmd *cli.Command, e *env) error {
	if cmd.NArg() > 0 {
		return fmt.Errorf("status: unexpected argument %q", cmd.Args().First())
	}
	interval := cmd.Duration("interval")
	if interval <= 0 {
		return fmt.Errorf("-interval %s: want a positive duration", interval)
	}
	addr := cmd.String("monitor")
	c, err := monitorClient(cmd, addr)
	if err != nil {
		return err
	}
	ctx, quit := context.WithCancel(ctx)
	defer quit()
	d, err := newDisplay(cmd, e, addr, quit)
	if err != nil {
		return err
	}
	defer d.close()

	tick := time.NewTicker(interval)
	defer tick.Stop()
	var before *statusview.Sample
	for {
		now, err := c.Scrape(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			d.unreachable(time.Now(), scrapeProblem(err))
			if cmd.Bool("once") {
				return exitCode(1)
			}
		case before != nil:
			d.show(statusview.Compute(before, now))
			if cmd.Bool("once") {
				return nil
			}
		}
		before = now // nil when unreachable: rates start again after
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// monitorClient reads the endpoint at addr, over HTTPS when the TLS flags
// of cmd ask for it.
func monitorClient(cmd *cli.Command, addr string) (*statusview.Client, error) {
	cfg, err := tlsConfig(cmd, addr)
	if err != nil {
		return nil, err
	}
	scheme := "http"
	if cfg != nil {
		scheme = "https"
	}
	return &statusview.Client{
		HTTP: &http.Client{Timeout: scrapeTimeout, Transport: &http.Transport{TLSClientConfig: cfg}},
		Base: scheme + "://" + addr,
	}, nil
}

// scrapeProblem is why a reading failed, without the URL the error
// repeats, with a hint when TLS refused it.
func scrapeProblem(err error) string {
	var u *url.Error
	if errors.As(err, &u) {
		err = u.Err
	}
	if errors.Is(err, statusview.ErrSpeaksHTTPS) {
		return err.Error() + " (add -tls, or -ca with the file of the CA that signed its certificate)"
	}
	return withTLSHint(err).Error()
}
