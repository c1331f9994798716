package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/loadgen"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// Defaults of the bench flags.
const (
	defaultPairs      = 16
	defaultWindow     = 64
	defaultSize       = 128
	defaultRecipients = 16
	defaultConns      = 1000
	defaultDuration   = 10 * time.Second
	defaultWarmup     = 2 * time.Second
)

// workloads are the subcommands of bench.
var workloads = []struct{ name, usage string }{
	{"relay", "P senders, each relaying to a recipient of its own, W messages unacknowledged (or -rate)"},
	{"pingpong", "one sender, one recipient, one message at a time: the round trip"},
	{"fanout", "each message to K recipients through one sendClients"},
	{"connect", "open N idle authenticated connections, hold them, and measure the server's memory per connection"},
	{"federation", "relay as P pairs do, from users of one server to users of its peer (-peer-addr, -peer-name)"},
}

func benchCommand(e *env) *cli.Command {
	cmd := &cli.Command{
		Name:  "bench",
		Usage: "load a Bester server and measure throughput and latency, accounting for every message",
		Description: "Against a running server (-addr, -password; users are PREFIXs0.., PREFIXr0.., PREFIXc0..)\n" +
			"or a server of its own (-spawn: built from this repository with the relay handler, stopped at\n" +
			"the end), or the members of a cluster (-addresses A,B,C with -placement cross or mixed). The\n" +
			"workload's handler must relay data {\"to\": NAMES, \"body\": TEXT} as examples/relay does. The\n" +
			"loop is closed (a window of W unacknowledged messages per sender) or, with -rate, open: latency\n" +
			"then counts from each message's intended send time. A live progress line goes to standard\n" +
			"error when it is a terminal; the final table, or -json, to standard output. The exit status\n" +
			"is 1 when not every message id is accounted for (acknowledged once, delivered once to each\n" +
			"recipient) or, for connect, when not every connection opened.",
		Flags: benchFlags(),
		Action: func(context.Context, *cli.Command) error {
			return errors.New("bench: name a workload: relay, pingpong, fanout, connect, federation or abuse (see 'bester bench -help')")
		},
	}
	for _, w := range workloads {
		cmd.Commands = append(cmd.Commands, &cli.Command{
			Name:  w.name,
			Usage: w.usage,
			Action: func(ctx context.Context, cmd *cli.Command) error {
				if cmd.NArg() > 0 {
					return fmt.Errorf("bench %s: unexpected argument %q", w.name, cmd.Args().First())
				}
				return runBench(ctx, cmd, e, w.name)
			},
		})
	}
	cmd.Commands = append(cmd.Commands, abuseCommand(e))
	return cmd
}

func benchFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "addr", Value: defaultAddr, Sources: cli.EnvVars(envAddr),
			Usage: "server address (not with -spawn)"},
		&cli.StringFlag{Name: "network", Value: client.DefaultNetwork, Usage: "tcp, tcp4, tcp6 or unix"},
		&cli.StringFlag{Name: "password", Sources: cli.EnvVars(envPassword),
			Usage: "password of every user (prefer the environment variable)"},
		&cli.StringFlag{Name: "user-prefix", Value: loadgen.DefaultUserPrefix, Usage: "start of every user name"},
		&cli.StringFlag{Name: "codec", Value: wire.CodecCBOR.String(), Usage: "codec to speak: cbor or json"},
		&cli.DurationFlag{Name: "timeout", Value: defaultTimeout, Usage: "bound on opening each connection"},
		&cli.StringFlag{Name: "type", Value: loadgen.DefaultType, Usage: "payload type of the relay handler"},
		&cli.BoolFlag{Name: "spawn", Usage: "start a server of its own with the relay handler, on loopback, and stop it at the end"},
		&cli.StringFlag{Name: "besterd", Usage: "with -spawn: the server program (default: built from this repository)"},
		&cli.StringFlag{Name: "handler", Usage: "with -spawn: the relay handler program (default: built from this repository)"},
		&cli.BoolFlag{Name: "server-log", Usage: "with -spawn: copy the server's log to standard error"},
		&cli.IntFlag{Name: "pairs", Aliases: []string{"senders"}, DefaultText: fmt.Sprintf("%d; fanout: 1", defaultPairs),
			Usage: "relay: sender/recipient pairs, P; fanout: senders"},
		&cli.IntFlag{Name: "window", Value: defaultWindow, Usage: "closed loop: unacknowledged messages per sender, W"},
		&cli.FloatFlag{Name: "rate", Usage: "open loop: messages per second, all senders together"},
		&cli.IntFlag{Name: "size", Value: defaultSize, Usage: fmt.Sprintf("bytes of data each recipient gets, D (at least %d)", loadgen.MinSize)},
		&cli.IntFlag{Name: "recipients", Value: defaultRecipients, Usage: "fanout: recipients of each message, K"},
		&cli.IntFlag{Name: "conns", Value: defaultConns, DefaultText: fmt.Sprintf("connect: %d; abuse: the attack's", defaultConns),
			Usage: "connect: connections to open; abuse: the attack's connections, logins or workers (N)"},
		&cli.IntFlag{Name: "concurrency", Value: loadgen.DefaultDialConcurrency, Usage: "connections being opened at once"},
		&cli.IntFlag{Name: "sources", Usage: "loopback source addresses to dial from (default: as many as the ephemeral ports need)"},
		&cli.IntFlag{Name: "server-pid", Usage: "connect and abuse against a server on this machine: its process id, to read its memory"},
		&cli.StringFlag{Name: "peer-addr", Usage: "federation: address of the recipients' server (not with -spawn)"},
		&cli.StringSliceFlag{Name: "addresses", Usage: "relay, pingpong, fanout: addresses of the members of one cluster, " +
			"comma-separated, instead of -addr; -placement says which member each user connects to"},
		&cli.StringFlag{Name: "placement", Usage: "with -addresses: cross (senders on the first member, recipients on the " +
			"second) or mixed (the users on the members in turn: user k on member k mod N, each sender followed by its " +
			"recipients)"},
		&cli.StringFlag{Name: "peer-name", Usage: "federation: the recipients' server's name, as a peer of the senders' server"},
		&cli.DurationFlag{Name: "duration", Value: defaultDuration, Usage: "time measured (connect: time held; abuse: time beside the attack)"},
		&cli.IntFlag{Name: "messages", Usage: "relay, pingpong, fanout, federation: measure this many messages instead of -duration"},
		&cli.DurationFlag{Name: "warmup", Value: defaultWarmup, Usage: "time run before measuring"},
		&cli.DurationFlag{Name: "drain", Value: loadgen.DefaultDrain, Usage: "longest wait at the end for acknowledgements and deliveries"},
		&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
	}, tlsFlags()...)
}

// benchRun is what one bench command needs, gathered from its flags.
type benchRun struct {
	e        *env
	cmd      *cli.Command
	workload string
	codec    wire.Codec
	network  string
	addr     string
	// members are the cluster's addresses (-addresses), placement
	// which member each user connects to.
	members   []string
	placement loadgen.Placement
	peerAddr  string // federation: the recipients' server
	peerName  string
	password  string
	target    string
	notes     []string
	spawned   []*loadgen.Spawned
	progress  func(loadgen.Progress)
	// tls and peerTLS are the TLS of connections to addr and peerAddr,
	// membersTLS to each of members; nil for plain ones.
	tls, peerTLS *tls.Config
	membersTLS   []*tls.Config
}

// newBenchRun gathers a bench command's flags and checks them.
func newBenchRun(cmd *cli.Command, e *env, workload string) (*benchRun, error) {
	b := &benchRun{e: e, cmd: cmd, workload: workload, network: cmd.String("network"), addr: serverAddress(cmd),
		peerAddr: cmd.String("peer-addr"), peerName: cmd.String("peer-name"), password: cmd.String("password")}
	codec, err := wire.ParseCodec(cmd.String("codec"))
	if err != nil || codec == wire.CodecAuto {
		return nil, fmt.Errorf("-codec %q: want cbor or json", cmd.String("codec"))
	}
	b.codec = codec
	if err := b.checkFlags(); err != nil {
		return nil, err
	}
	if b.tls, err = tlsConfig(cmd, b.addr); err != nil {
		return nil, err
	}
	if b.peerAddr != "" {
		if b.peerTLS, err = tlsConfig(cmd, b.peerAddr); err != nil {
			return nil, err
		}
	}
	if err := b.readMembers(); err != nil {
		return nil, err
	}
	if err := b.checkPlaintext(); err != nil {
		return nil, err
	}
	return b, nil
}

// checkPlaintext refuses, before the first of many connections is
// dialled, a password that would go in clear to -addr or -peer-addr,
// unless -insecure-plaintext allows it.
func (b *benchRun) checkPlaintext() error {
	type target struct {
		flag, addr string
		tls        *tls.Config
	}
	var targets []target
	if len(b.members) == 0 {
		targets = append(targets, target{"-addr", b.addr, b.tls})
	}
	if b.peerAddr != "" {
		targets = append(targets, target{"-peer-addr", b.peerAddr, b.peerTLS})
	}
	for i, addr := range b.members {
		targets = append(targets, target{"-addresses", addr, b.membersTLS[i]})
	}
	for _, t := range targets {
		o := client.Options{Network: b.network, Address: t.addr, TLS: t.tls, Password: b.password}
		if _, err := allowPlaintext(b.cmd, o, t.flag, b.e.stderr); err != nil {
			return err
		}
	}
	return nil
}

// setUp raises the open-file limit, which it returns, and starts the
// servers asked for with -spawn; stopServers stops them.
func (b *benchRun) setUp(ctx context.Context, spawn loadgen.SpawnOptions) (uint64, error) {
	nofile, err := loadgen.RaiseOpenFileLimit()
	if err != nil {
		return 0, err
	}
	b.info("open-file limit %d", nofile)
	switch {
	case b.cmd.Bool("spawn") && b.workload == "federation":
		err = b.spawnPeers(ctx)
	case b.cmd.Bool("spawn"):
		err = b.spawn(ctx, spawn)
	case b.workload == "federation":
		b.target = fmt.Sprintf("%s, recipients on its peer %s at %s", b.addr, b.peerName, b.peerAddr)
	case len(b.members) > 0:
		b.target = fmt.Sprintf("the cluster members %s", strings.Join(b.members, ", "))
	default:
		b.target = b.addr
	}
	if b.e.stderrTerminal {
		b.progress = b.liveLine
	}
	return nofile, err
}

// runBench runs one workload and prints its result.
func runBench(ctx context.Context, cmd *cli.Command, e *env, workload string) error {
	b, err := newBenchRun(cmd, e, workload)
	if err != nil {
		return err
	}
	defer b.stopServers()
	nofile, err := b.setUp(ctx, b.spawnOptions())
	if err != nil {
		return err
	}
	var res *loadgen.Result
	if workload == "connect" {
		res, err = b.runConnect(ctx, nofile)
	} else {
		res, err = b.runTraffic(ctx)
	}
	if b.progress != nil {
		fmt.Fprint(e.stderr, "\r\x1b[K")
	}
	if err != nil {
		return err
	}
	res.Target = b.target
	res.Notes = append(b.notes, res.Notes...)
	if err := b.stopServers(); err != nil {
		b.info("warning: %v", err)
	}
	if err := b.print(res); err != nil {
		return err
	}
	switch {
	case res.Connect != nil && res.Connect.Established < res.Connect.Wanted:
		return exitCode(1)
	case res.Connect == nil && !res.Accounting.Complete:
		return exitCode(1)
	}
	return nil
}

// checkFlags refuses flags that do not fit the workload.
func (b *benchRun) checkFlags() error {
	cmd := b.cmd
	spawn := cmd.Bool("spawn")
	_, useTLS := tlsFiles(cmd)
	switch {
	case spawn && useTLS:
		return errors.New("-tls and the TLS files name a running server's TLS listener: not with -spawn, whose server listens in plain on loopback")
	case b.workload == "abuse" && useTLS:
		return errors.New("abuse speaks plain TCP (its attacks write raw frames): -tls and the TLS files do not apply")
	case !spawn && (cmd.IsSet("besterd") || cmd.IsSet("handler") || cmd.Bool("server-log")):
		return errors.New("-besterd, -handler and -server-log go with -spawn")
	case spawn && cmd.IsSet("addr"):
		return errors.New("-addr names a running server: not with -spawn, which starts its own")
	case spawn && cmd.IsSet("server-pid"):
		return errors.New("-server-pid names a running server: not with -spawn, which measures its own")
	case b.workload == "pingpong" && (cmd.IsSet("pairs") || cmd.IsSet("window") || cmd.IsSet("rate")):
		return errors.New("pingpong is one pair with a window of 1: use relay for -pairs, -window or -rate")
	case b.workload == "connect" && (cmd.IsSet("rate") || cmd.IsSet("pairs") || cmd.IsSet("window")):
		return errors.New("connect opens idle connections: -rate, -pairs and -window do not apply")
	case b.workload != "connect" && b.workload != "abuse" && (cmd.IsSet("conns") || cmd.IsSet("server-pid")):
		return errors.New("-conns and -server-pid go with the connect and abuse workloads")
	case b.workload == "abuse" && (cmd.IsSet("pairs") || cmd.IsSet("rate") || cmd.IsSet("warmup") ||
		cmd.IsSet("recipients") || cmd.IsSet("sources") || cmd.IsSet("concurrency")):
		return errors.New("abuse runs one canary pair beside its attack: -pairs, -rate (see -canary-rate), " +
			"-warmup, -recipients, -sources and -concurrency do not apply")
	case cmd.IsSet("placement") && !cmd.IsSet("addresses"):
		return errors.New("-placement goes with -addresses, the members to place users on")
	case cmd.IsSet("addresses") && !slices.Contains([]string{"relay", "pingpong", "fanout"}, b.workload):
		return fmt.Errorf("-addresses goes with relay, pingpong and fanout, not %s", b.workload)
	case cmd.IsSet("addresses") && (spawn || cmd.IsSet("addr")):
		return errors.New("-addresses names the running members of a cluster: not with -addr or -spawn")
	case b.workload != "federation" && (cmd.IsSet("peer-addr") || cmd.IsSet("peer-name")):
		return errors.New("-peer-addr and -peer-name go with the federation workload")
	case b.workload == "federation" && spawn && (cmd.IsSet("peer-addr") || cmd.IsSet("peer-name")):
		return errors.New("-peer-addr and -peer-name name running servers: not with -spawn, which starts two")
	case b.workload == "federation" && !spawn && (b.peerAddr == "" || b.peerName == ""):
		return errors.New("federation needs -peer-addr and -peer-name (the recipients' server), or -spawn")
	case cmd.Float("rate") < 0:
		return fmt.Errorf("-rate %v: want a positive number of messages per second", cmd.Float("rate"))
	case cmd.Int("messages") < 0:
		return fmt.Errorf("-messages %d: want a positive number", cmd.Int("messages"))
	case cmd.Int("messages") > 0 && (cmd.IsSet("duration") || cmd.IsSet("rate")):
		return errors.New("-messages measures a number of messages in a closed loop: not with -duration or -rate")
	case cmd.Int("messages") > 0 && (b.workload == "connect" || b.workload == "abuse"):
		return fmt.Errorf("-messages goes with relay, pingpong, fanout and federation, not %s", b.workload)
	}
	return nil
}

// readMembers reads -addresses and -placement, and the TLS of each
// member.
func (b *benchRun) readMembers() error {
	if !b.cmd.IsSet("addresses") {
		return nil
	}
	for _, a := range b.cmd.StringSlice("addresses") {
		if a = strings.TrimSpace(a); a != "" {
			b.members = append(b.members, a)
		}
	}
	if len(b.members) < 2 {
		return fmt.Errorf("-addresses %q: want the addresses of two members or more", strings.Join(b.members, ","))
	}
	p, err := loadgen.ParsePlacement(b.cmd.String("placement"))
	if err != nil {
		return fmt.Errorf("-placement: %w", err)
	}
	b.placement = p
	for _, a := range b.members {
		t, err := tlsConfig(b.cmd, a)
		if err != nil {
			return err
		}
		b.membersTLS = append(b.membersTLS, t)
	}
	// The first member stands for the others where one address is
	// asked for (planning source addresses).
	b.addr, b.tls = b.members[0], b.membersTLS[0]
	return nil
}

// info writes one line for people on standard error.
func (b *benchRun) info(format string, args ...any) {
	fmt.Fprintf(b.e.stderr, "bester bench: "+format+"\n", args...)
}

// spawnOptions sizes the spawned server's limits for the workload.
func (b *benchRun) spawnOptions() loadgen.SpawnOptions {
	o := loadgen.SpawnOptions{Besterd: b.cmd.String("besterd"), Handler: b.cmd.String("handler")}
	if b.cmd.Bool("server-log") {
		o.Log, o.LogLevel = b.e.stderr, "info"
	}
	o.MaxInFlight = max(256, 2*b.cmd.Int("window"))
	if b.cmd.Float("rate") > 0 {
		o.MaxInFlight = 4096
	}
	return o
}

// spawn starts a server of its own.
func (b *benchRun) spawn(ctx context.Context, o loadgen.SpawnOptions) error {
	if o.Besterd == "" {
		b.info("building besterd and the relay handler")
	}
	s, err := loadgen.SpawnBester(ctx, o)
	if err != nil {
		return err
	}
	b.spawned = append(b.spawned, s)
	b.addr, b.network = s.Addr, "tcp4"
	how := "built from this repository"
	if !s.Built {
		how = s.Besterd
	}
	b.target = fmt.Sprintf("besterd pid %d on %s, relay handler pid %d (spawned; %s)", s.PID, s.Addr, s.HandlerPID, how)
	b.info("started %s", b.target)
	return nil
}

// spawnPeers starts two servers, A and B, each the other's peer, and
// waits until their links are up: the senders use A, the recipients B.
func (b *benchRun) spawnPeers(ctx context.Context) error {
	addrA, err := loadgen.FreeAddr()
	if err != nil {
		return err
	}
	addrB, err := loadgen.FreeAddr()
	if err != nil {
		return err
	}
	var key [16]byte
	if _, err := rand.Read(key[:]); err != nil {
		return err
	}
	secret := hex.EncodeToString(key[:])
	oa := b.spawnOptions()
	oa.Name, oa.Listen, oa.Peers = "A", addrA, []loadgen.Peer{{Name: "B", Address: addrB, Secret: secret}}
	if oa.Besterd == "" {
		b.info("building besterd and the relay handler")
	}
	a, err := loadgen.SpawnBester(ctx, oa)
	if err != nil {
		return err
	}
	b.spawned = append(b.spawned, a)
	ob := b.spawnOptions()
	ob.Besterd, ob.Handler = a.Besterd, a.Handler
	ob.Name, ob.Listen, ob.Peers = "B", addrB, []loadgen.Peer{{Name: "A", Address: addrA, Secret: secret}}
	bs, err := loadgen.SpawnBester(ctx, ob)
	if err != nil {
		return err
	}
	b.spawned = append(b.spawned, bs)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, s := range b.spawned {
		if err := s.WaitPeers(wctx); err != nil {
			return err
		}
	}
	b.addr, b.network, b.peerAddr, b.peerName = a.Addr, "tcp4", bs.Addr, "B"
	b.target = fmt.Sprintf("senders on besterd A pid %d on %s, recipients on its peer besterd B pid %d on %s (spawned)",
		a.PID, a.Addr, bs.PID, bs.Addr)
	b.info("started %s", b.target)
	return nil
}

// stopServers stops the servers spawned, once.
func (b *benchRun) stopServers() error {
	var errs []error
	for _, s := range b.spawned {
		errs = append(errs, s.Stop())
	}
	b.spawned = nil
	return errors.Join(errs...)
}

func (b *benchRun) driver() *loadgen.Bester {
	return &loadgen.Bester{Network: b.network, Address: b.addr, TLS: b.tls, Codec: b.codec,
		Password: b.password, InsecurePlaintext: b.cmd.Bool("insecure-plaintext"),
		Type: b.cmd.String("type"), Timeout: b.cmd.Duration("timeout")}
}

// sources plans the source addresses for conns connections.
func (b *benchRun) sources(conns int) ([]net.IP, error) {
	if b.network == "unix" {
		if b.cmd.IsSet("sources") {
			return nil, errors.New("-sources needs a TCP target")
		}
		return nil, nil
	}
	srcs, note, err := loadgen.PlanSources(b.addr, conns, b.cmd.Int("sources"), config.DefaultMaxConnectionsPerAddress)
	if err != nil {
		return nil, err
	}
	if note != "" {
		b.notes = append(b.notes, note)
		b.info("%s", note)
	}
	return srcs, nil
}

// runTraffic runs relay, pingpong or fanout.
func (b *benchRun) runTraffic(ctx context.Context) (*loadgen.Result, error) {
	cmd := b.cmd
	busy := b.driver()
	busy.BufferSize = loadgen.BusyBufferSize
	cfg := loadgen.Config{
		Workload: b.workload, Driver: busy, Senders: defaultPairs, Recipients: 1,
		Window: cmd.Int("window"), Rate: cmd.Float("rate"), Size: cmd.Int("size"),
		Warmup: cmd.Duration("warmup"), Duration: cmd.Duration("duration"), Drain: cmd.Duration("drain"),
		UserPrefix: cmd.String("user-prefix"), DialConcurrency: cmd.Int("concurrency"), Progress: b.progress,
	}
	if n := cmd.Int("messages"); n > 0 {
		cfg.Messages, cfg.Duration = n, 0
	}
	switch b.workload {
	case "federation":
		d := *busy
		d.Address, d.TLS = b.peerAddr, b.peerTLS
		cfg.RecipientDriver, cfg.RecipientSuffix = &d, "@"+b.peerName
	case "pingpong":
		cfg.Senders, cfg.Window = 1, 1
	case "fanout":
		cfg.Senders, cfg.Recipients, cfg.SharedRecipients = 1, cmd.Int("recipients"), true
	}
	if cmd.IsSet("pairs") {
		cfg.Senders = cmd.Int("pairs")
	}
	if len(b.members) > 0 {
		for i, addr := range b.members {
			d := *busy
			d.Address, d.TLS = addr, b.membersTLS[i]
			cfg.Members = append(cfg.Members, &d)
		}
		cfg.Driver, cfg.Placement = nil, b.placement
	}
	conns := cfg.Senders + cfg.Recipients
	if !cfg.SharedRecipients {
		conns = cfg.Senders * (1 + cfg.Recipients)
	}
	srcs, err := b.sources(conns)
	if err != nil {
		return nil, err
	}
	cfg.Sources = srcs
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	res.Codec = b.codec.String()
	return res, nil
}

// runConnect runs the connect workload within the open-file limit.
func (b *benchRun) runConnect(ctx context.Context, nofile uint64) (*loadgen.Result, error) {
	cmd := b.cmd
	cfg := loadgen.ConnectConfig{
		Driver: b.driver(), Conns: cmd.Int("conns"), Concurrency: cmd.Int("concurrency"),
		Hold: cmd.Duration("duration"), UserPrefix: cmd.String("user-prefix"), Progress: b.progress,
	}
	if most := int(nofile) - loadgen.ReservedFiles; cfg.Conns > most {
		who := "this process"
		if len(b.spawned) > 0 {
			who = "this process and the server it started"
		}
		cfg.Limit = fmt.Sprintf("the open-file limit of %s (%d, the hard limit; raise it with ulimit -n as root): "+
			"%d connections at most, not %d", who, nofile, most, cfg.Conns)
		b.info("%s", cfg.Limit)
		cfg.Asked, cfg.Conns = cfg.Conns, most
	}
	if len(b.spawned) > 0 {
		s := b.spawned[0]
		cfg.Memory, cfg.ServerConns = s.RSS, s.Clients
	} else if pid := cmd.Int("server-pid"); pid > 0 {
		cfg.Memory = func() (int64, error) { return loadgen.RSS(pid) }
	}
	srcs, err := b.sources(cfg.Conns)
	if err != nil {
		return nil, err
	}
	cfg.Sources = srcs
	res, err := loadgen.RunConnect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	res.Codec = b.codec.String()
	return res, nil
}

// liveLine rewrites the progress line on the terminal.
func (b *benchRun) liveLine(p loadgen.Progress) {
	w := b.e.stderr
	if b.workload == "connect" {
		fmt.Fprintf(w, "\r\x1b[K%s %s %s: %s connections (%s/s), errors %s",
			b.workload, p.Phase, p.Elapsed.Round(100*time.Millisecond), loadgen.Thousands(uint64(p.Conns)),
			loadgen.Thousands(uint64(p.Rate)), loadgen.Thousands(p.Errors))
		return
	}
	fmt.Fprintf(w, "\r\x1b[K%s %s %s: sent %s, delivered %s (%s/s), acked %s, errors %s",
		b.workload, p.Phase, p.Elapsed.Round(100*time.Millisecond), loadgen.Thousands(p.Sent),
		loadgen.Thousands(p.Delivered), loadgen.Thousands(uint64(p.Rate)), loadgen.Thousands(p.Acked), loadgen.Thousands(p.Errors))
}

// print writes the result: a table, or JSON with -json.
func (b *benchRun) print(res *loadgen.Result) error {
	if b.cmd.Bool("json") {
		return writeJSON(b.e.stdout, res)
	}
	return loadgen.WriteTable(b.e.stdout, res)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
