package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/loadgen"
	"github.com/bester-project/bester/wire"
)

// Defaults of the abuse flags.
const (
	defaultSolo          = 5 * time.Second
	defaultAttackSources = 253
	// rssInterval is how often the server's VmRSS is sampled for its
	// peak during a phase.
	rssInterval = 50 * time.Millisecond
)

func abuseCommand(e *env) *cli.Command {
	var attacks strings.Builder
	for _, a := range loadgen.Attacks {
		fmt.Fprintf(&attacks, "  %-11s %s\n", a.Name, a.Usage)
	}
	return &cli.Command{
		Name:  "abuse",
		Usage: "run a canary relay alone, then beside an attack, and compare (-attack NAME)",
		Description: "A canary (one sender relaying -size-byte messages to one receiver through the relay handler,\n" +
			"with a window of -window unreported messages, or at -canary-rate messages per second) runs alone for\n" +
			"-solo, then beside the attack for -duration. For each phase it prints the canary's deliveries per\n" +
			"second, p50 and p99 delivery latency, whether every canary message got exactly one report, and the\n" +
			"peak VmRSS of the server (from /proc: -server-pid, the spawned server, or the process listening on\n" +
			"-addr); then the server's VmHWM and what the attack saw: reports by code, connections the server\n" +
			"closed, errors. Attack connections come from 127.0.0.2 up (-attack-sources), the canary's from\n" +
			"127.0.0.1. With -spawn and loginstorm the server gets htpasswd authentication and the canary a\n" +
			"random password. The exit status is 1 when a canary message went unaccounted for.\n\nAttacks:\n" +
			attacks.String() + "\nbounce (messages bounced between federated servers) is not among them yet.",
		Flags: abuseFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.NArg() > 0 {
				return fmt.Errorf("bench abuse: unexpected argument %q", cmd.Args().First())
			}
			return runAbuse(ctx, cmd, e)
		},
	}
}

func abuseFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "attack", Usage: "the attack: " + strings.Join(loadgen.AttackNames(), ", ")},
		&cli.DurationFlag{Name: "solo", Value: defaultSolo, Usage: "time the canary runs alone (-duration: beside the attack)"},
		&cli.FloatFlag{Name: "canary-rate", DefaultText: "as fast as -window allows", Usage: "canary messages per second"},
		&cli.IntFlag{Name: "max-frame", Value: wire.DefaultMaxFrame, Usage: "the server's max_frame, in bytes (with -spawn: set it)"},
		&cli.StringFlag{Name: "user", Usage: "name attackers log in with, with -password (default: a name each, for open authentication)"},
		&cli.IntFlag{Name: "names", Value: loadgen.DefaultNames, Usage: "bignames: users named in one message"},
		&cli.IntFlag{Name: "attack-sources", Value: defaultAttackSources,
			Usage: "loopback source addresses the attack dials from, 127.0.0.2 up (1 to 253)"},
	}
}

// runAbuse runs the canary alone, then beside the attack, and prints
// both.
func runAbuse(ctx context.Context, cmd *cli.Command, e *env) error {
	attack, ok := loadgen.FindAttack(cmd.String("attack"))
	if !ok {
		return fmt.Errorf("-attack %q: want one of %s", cmd.String("attack"), strings.Join(loadgen.AttackNames(), ", "))
	}
	if cmd.Float("canary-rate") < 0 {
		return fmt.Errorf("-canary-rate %v: want a positive number of messages per second", cmd.Float("canary-rate"))
	}
	b, err := newBenchRun(cmd, e, "abuse")
	if err != nil {
		return err
	}
	defer b.stopServers()
	opts, err := b.abuseSpawnOptions(attack.Name)
	if err != nil {
		return err
	}
	nofile, err := b.setUp(ctx, opts)
	if err != nil {
		return err
	}
	acfg, err := b.attackConfig(attack, nofile)
	if err != nil {
		return err
	}
	pid := b.serverPID()
	res := &loadgen.AbuseResult{Attack: attack.Name, Target: b.target}
	if res.Solo, err = b.canaryPhase(ctx, cmd.Duration("solo"), pid); err != nil {
		return err
	}
	if res.UnderAttack, res.Outcome, err = b.attackPhase(ctx, acfg, pid); err != nil {
		return err
	}
	res.Canary = b.canaryShape()
	if pid > 0 {
		if res.ServerHWM, err = loadgen.HWM(pid); err != nil {
			b.notes = append(b.notes, fmt.Sprintf("server VmHWM: %v", err))
		}
	}
	res.Notes = b.notes
	if err := b.stopServers(); err != nil {
		b.info("warning: %v", err)
	}
	if err := b.printAbuse(res); err != nil {
		return err
	}
	if !res.Complete() {
		return exitCode(1)
	}
	return nil
}

// canaryPrefix starts the canary's user names: PREFIXs0 sends, PREFIXr0
// receives.
func (b *benchRun) canaryPrefix() string { return b.cmd.String("user-prefix") + "canary-" }

// abuseSpawnOptions sizes a spawned server for the attack: its
// max_frame, and for loginstorm, htpasswd users for the canary with a
// random password.
func (b *benchRun) abuseSpawnOptions(attack string) (loadgen.SpawnOptions, error) {
	o := b.spawnOptions()
	if b.cmd.Float("canary-rate") > 0 {
		o.MaxInFlight = 4096
	}
	o.MaxFrame = b.cmd.Int("max-frame")
	if attack != "loginstorm" || !b.cmd.Bool("spawn") {
		return o, nil
	}
	if b.cmd.IsSet("password") {
		return o, errors.New("-spawn makes the canary's password for loginstorm: leave -password out")
	}
	b.password = rand.Text()
	prefix := b.canaryPrefix()
	o.Users = map[string]string{prefix + "s0": b.password, prefix + "r0": b.password}
	return o, nil
}

// attackConfig is the attack's configuration from the flags, its N
// capped to the open-file limit.
func (b *benchRun) attackConfig(attack loadgen.Attack, nofile uint64) (loadgen.AttackConfig, error) {
	cmd := b.cmd
	cfg := loadgen.AttackConfig{
		Network: b.network, Address: b.addr, Codec: b.codec, User: cmd.String("user"), Password: b.password,
		InsecurePlaintext: cmd.Bool("insecure-plaintext"),
		UserPrefix:        cmd.String("user-prefix"), Type: cmd.String("type"), MaxFrame: cmd.Int("max-frame"),
		Conns: attack.Conns, Names: cmd.Int("names"), Timeout: cmd.Duration("timeout"),
		Duration: cmd.Duration("duration"),
	}
	if cmd.IsSet("conns") {
		cfg.Conns = cmd.Int("conns")
	}
	if most := int(nofile) - loadgen.ReservedFiles; cfg.Conns > most {
		b.note("%s connections at most, not %d: the open-file limit is %d", loadgen.Thousands(uint64(most)), cfg.Conns, nofile)
		cfg.Conns = most
	}
	if b.network == "unix" {
		return cfg, nil
	}
	srcs, note, err := loadgen.AttackSources(b.addr, cmd.Int("attack-sources"))
	if err != nil {
		return cfg, err
	}
	if note != "" {
		b.note("%s", note)
	}
	cfg.Sources = srcs
	return cfg, nil
}

// note keeps a note for the result and shows it at once.
func (b *benchRun) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	b.notes = append(b.notes, n)
	b.info("%s", n)
}

// serverPID is the server's process id, to read its memory: the spawned
// server's, -server-pid, or the process listening on the TCP address;
// 0 when unknown.
func (b *benchRun) serverPID() int {
	switch {
	case len(b.spawned) > 0:
		return b.spawned[0].PID
	case b.cmd.IsSet("server-pid"):
		return b.cmd.Int("server-pid")
	case b.network == "unix":
		b.note("server memory not measured: give -server-pid for a UNIX socket")
		return 0
	}
	pid, err := loadgen.ListeningPID(b.addr)
	if err != nil {
		b.note("server memory not measured (give -server-pid): %v", err)
		return 0
	}
	return pid
}

// canaryPhase runs the canary for d and samples the server's memory
// meanwhile (when pid is known).
func (b *benchRun) canaryPhase(ctx context.Context, d time.Duration, pid int) (loadgen.CanaryPhase, error) {
	var peak *loadgen.RSSPeak
	if pid > 0 {
		peak = loadgen.SampleRSS(pid, rssInterval)
	}
	res, err := b.runCanary(ctx, d)
	var rss int64
	if peak != nil {
		var perr error
		if rss, perr = peak.Stop(); perr != nil {
			b.note("%v", perr)
		}
	}
	if err != nil {
		return loadgen.CanaryPhase{}, fmt.Errorf("canary: %w", err)
	}
	return loadgen.NewCanaryPhase(res, rss), nil
}

// attackPhase runs the attack and, beside it, the canary.
func (b *benchRun) attackPhase(ctx context.Context, cfg loadgen.AttackConfig, pid int) (loadgen.CanaryPhase, *loadgen.Outcome, error) {
	actx, stop := context.WithCancel(ctx)
	defer stop()
	type attackEnd struct {
		o   *loadgen.Outcome
		err error
	}
	ended := make(chan attackEnd, 1)
	go func() {
		o, err := loadgen.RunAttack(actx, b.cmd.String("attack"), cfg)
		ended <- attackEnd{o, err}
	}()
	phase, err := b.canaryPhase(ctx, cfg.Duration, pid)
	stop()
	end := <-ended
	return phase, end.o, errors.Join(err, end.err)
}

// runCanary relays from one sender to one receiver for d.
func (b *benchRun) runCanary(ctx context.Context, d time.Duration) (*loadgen.Result, error) {
	cmd := b.cmd
	busy := b.driver()
	busy.BufferSize = loadgen.BusyBufferSize
	return loadgen.Run(ctx, loadgen.Config{
		Workload: "abuse", Driver: busy, Senders: 1, Recipients: 1, Window: cmd.Int("window"),
		Rate: cmd.Float("canary-rate"), Size: cmd.Int("size"), Duration: d, Drain: cmd.Duration("drain"),
		UserPrefix: b.canaryPrefix(), Progress: b.progress,
	})
}

// canaryShape describes the canary in one line.
func (b *benchRun) canaryShape() string {
	pace := fmt.Sprintf("window %d", b.cmd.Int("window"))
	if r := b.cmd.Float("canary-rate"); r > 0 {
		pace = fmt.Sprintf("%s msgs/s", loadgen.Thousands(uint64(r)))
	}
	return fmt.Sprintf("1 pair, %s, %d-byte bodies, %s; solo %s, then %s beside the attack",
		pace, max(b.cmd.Int("size"), loadgen.MinSize), b.codec, b.cmd.Duration("solo"), b.cmd.Duration("duration"))
}

// printAbuse writes the result: a table, or JSON with -json.
func (b *benchRun) printAbuse(res *loadgen.AbuseResult) error {
	if b.cmd.Bool("json") {
		return writeJSON(b.e.stdout, res)
	}
	return loadgen.WriteAbuseTable(b.e.stdout, res)
}
