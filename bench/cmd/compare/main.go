// Command compare runs the same workloads against Bester, NATS and a
// minimal hand-written Go relay, alternately (A B C A B C), and prints
// their figures side by side with ratios to Bester.
//
//	cd bench && go run ./cmd/compare
//
// Every target runs as separate server and handler processes on loopback,
// started afresh for each run; this process is the load generator. The
// workloads: relay (16 pairs, window 64, 128-byte bodies), pingpong (one
// pair, window 1), connect (10,000 idle connections) and, when asked for,
// fanout (one sender, each message to the same 100 recipients, window 64). Progress goes to
// standard error, the table (or -json) to standard output.
//
// Cluster targets (bester-cluster, bester-cluster-etcd, nats-cluster,
// nats-cluster-one: three servers each) run once per placement of -placements, each a column of
// its own: cross puts the senders on the first server and the recipients
// on the second, mixed the users on the servers in turn.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/bench/internal/targets"
	"github.com/bester-project/bester/loadgen"
)

type options struct {
	rounds           int
	duration, warmup time.Duration
	hold             time.Duration
	pairs, window    int
	size, conns      int
	fanout           int
	workloads        []string
	targets          []string
	targetsSet       bool // -targets was given: with -table, the targets to show
	placements       []loadgen.Placement
	pprofDir         string
	cpuProfile       string
	natsdArgs        []string
	natsHandlerArgs  []string
	json             bool
	jsonFile         string
	table            string
}

func main() {
	var o options
	var workloads, targetList, placements, natsdArgs, natsHandlerArgs string
	flag.IntVar(&o.rounds, "rounds", 2, "rounds: each runs every target once per workload")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "time measured per run")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "time run before measuring")
	flag.DurationVar(&o.hold, "hold", 3*time.Second, "connect: time the connections are held")
	flag.IntVar(&o.pairs, "pairs", 16, "relay: sender/recipient pairs")
	flag.IntVar(&o.window, "window", 64, "relay: unacknowledged messages per sender")
	flag.IntVar(&o.size, "size", 128, "bytes of data per message")
	flag.IntVar(&o.conns, "conns", 10000, "connect: idle connections")
	flag.IntVar(&o.fanout, "fanout", 100, "fanout: recipients of each message")
	flag.StringVar(&workloads, "workloads", "relay,pingpong,connect", "workloads to run, comma-separated")
	flag.StringVar(&targetList, "targets", strings.Join(targets.Names, ","), "targets to run, comma-separated, in order")
	flag.StringVar(&placements, "placements", "cross,mixed", "placements of the users over a cluster target's servers, comma-separated")
	flag.StringVar(&o.pprofDir, "pprof", "", "write a CPU profile of every bester-cluster and bester-cluster-etcd member, taken over each relay run's measurement, into this directory")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this process, the load generator, over every run into this file")
	flag.StringVar(&natsdArgs, "natsd-args", "", "more arguments for every natsd, space-separated (to try its settings)")
	flag.StringVar(&natsHandlerArgs, "natshandler-args", "", "more arguments for every natshandler, space-separated")
	flag.BoolVar(&o.json, "json", false, "print every run as JSON instead of the table")
	flag.StringVar(&o.jsonFile, "json-file", "", "also write every run as JSON to this file")
	flag.StringVar(&o.table, "table", "", "print the table of runs saved with -json-file, without running anything (with -targets, of those targets only)")
	flag.Parse()
	o.workloads = strings.Split(workloads, ",")
	o.natsdArgs, o.natsHandlerArgs = strings.Fields(natsdArgs), strings.Fields(natsHandlerArgs)
	o.targets = strings.Split(targetList, ",")
	flag.Visit(func(f *flag.Flag) { o.targetsSet = o.targetsSet || f.Name == "targets" })
	for _, p := range strings.Split(placements, ",") {
		pl, err := loadgen.ParsePlacement(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
			os.Exit(2)
		}
		o.placements = append(o.placements, pl)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run := run
	if o.table != "" {
		run = reprint
	}
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// cell is one run: a workload against a target in a round.
type cell struct {
	Workload string `json:"workload"`
	Target   string `json:"target"`
	// Placement is how the users were spread over a cluster target's
	// servers; empty for a single server.
	Placement loadgen.Placement `json:"placement,omitempty"`
	Round     int               `json:"round"`
	Result    *loadgen.Result   `json:"result"`
	// CPU seconds used during the run by the server, its handler and
	// this load generator.
	ServerCPU    float64 `json:"server_cpu_s"`
	HandlerCPU   float64 `json:"handler_cpu_s"`
	GeneratorCPU float64 `json:"generator_cpu_s"`
}

// report is the JSON output.
type report struct {
	Machine machine `json:"machine"`
	Options struct {
		Rounds     int                 `json:"rounds"`
		DurationS  float64             `json:"duration_s"`
		WarmupS    float64             `json:"warmup_s"`
		HoldS      float64             `json:"hold_s"`
		Pairs      int                 `json:"pairs"`
		Window     int                 `json:"window"`
		Size       int                 `json:"size"`
		Conns      int                 `json:"conns"`
		Fanout     int                 `json:"fanout,omitempty"`
		Workloads  []string            `json:"workloads"`
		Targets    []string            `json:"targets"`
		Placements []loadgen.Placement `json:"placements,omitempty"`
		// NatsdArgs and NatsHandlerArgs are -natsd-args and
		// -natshandler-args, when given.
		NatsdArgs       []string `json:"natsd_args,omitempty"`
		NatsHandlerArgs []string `json:"natshandler_args,omitempty"`
	} `json:"options"`
	Runs []cell `json:"runs"`
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	for _, w := range o.workloads {
		if !slices.Contains([]string{"relay", "pingpong", "connect", "fanout"}, w) {
			return fmt.Errorf("unknown workload %q: want relay, pingpong, connect or fanout", w)
		}
	}
	if o.fanout < 2 {
		return fmt.Errorf("fanout %d: want at least 2 recipients", o.fanout)
	}
	known := targets.AllNames()
	for _, t := range o.targets {
		if !slices.Contains(known, t) {
			return fmt.Errorf("unknown target %q: want %s", t, strings.Join(known, ", "))
		}
		if targets.IsCluster(t) && slices.Contains(o.workloads, "connect") {
			return fmt.Errorf("target %s: connect measures one server's memory; leave it out of -workloads", t)
		}
	}
	if slices.Contains(o.targets, "bester-cluster-etcd") {
		if err := targets.EtcdMissing(); err != nil {
			logf("bester-cluster-etcd left out: %v", err)
			o.targets = slices.DeleteFunc(o.targets, func(t string) bool { return t == "bester-cluster-etcd" })
		}
	}
	if slices.Contains(o.targets, "bester-python") {
		if err := targets.PythonMissing(); err != nil {
			logf("bester-python left out: %v", err)
			o.targets = slices.DeleteFunc(o.targets, func(t string) bool { return t == "bester-python" })
		}
	}
	if o.pprofDir != "" {
		if err := os.MkdirAll(o.pprofDir, 0o755); err != nil {
			return err
		}
	}
	nofile, err := loadgen.RaiseOpenFileLimit()
	if err != nil {
		return err
	}
	if most := int(nofile) - loadgen.ReservedFiles; o.conns > most {
		logf("connect: %d connections, not %d: the open-file limit is %d", most, o.conns, nofile)
		o.conns = most
	}
	logf("building the servers, handlers and relays")
	bins, err := targets.Build(ctx)
	if err != nil {
		return err
	}
	defer bins.Remove()

	stopProfile, err := profileSelf(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()

	rep := report{Machine: describeMachine()}
	logf("%s; load average %s", rep.Machine, rep.Machine.LoadBefore)
	for _, w := range o.workloads {
		for round := 1; round <= o.rounds; round++ {
			for _, col := range columns(o.targets, o.placements) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				c, err := runOne(ctx, o, bins, w, col, round)
				if err != nil {
					return fmt.Errorf("%s against %s, round %d: %w", w, col, round, err)
				}
				logf("%s", c.summary())
				rep.Runs = append(rep.Runs, *c)
			}
		}
	}
	rep.Machine.LoadAfter = loadAvg()
	ro := &rep.Options
	ro.Rounds, ro.DurationS, ro.WarmupS, ro.HoldS = o.rounds, o.duration.Seconds(), o.warmup.Seconds(), o.hold.Seconds()
	ro.Pairs, ro.Window, ro.Size, ro.Conns, ro.Fanout = o.pairs, o.window, o.size, o.conns, o.fanout
	ro.Workloads, ro.Targets, ro.Placements = o.workloads, o.targets, o.placements
	ro.NatsdArgs, ro.NatsHandlerArgs = o.natsdArgs, o.natsHandlerArgs
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	js = append(js, '\n')
	if o.jsonFile != "" {
		if err := os.WriteFile(o.jsonFile, js, 0o644); err != nil {
			return err
		}
	}
	if o.json {
		_, err := stdout.Write(js)
		return err
	}
	return writeTable(stdout, o, &rep)
}

// reprint prints the table of a saved report: of the targets -targets
// names, when it is given.
func reprint(_ context.Context, o options, stdout io.Writer) error {
	b, err := os.ReadFile(o.table)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", o.table, err)
	}
	ro := rep.Options
	shown := ro.Targets
	if o.targetsSet {
		shown = o.targets
		rep.Runs = slices.DeleteFunc(rep.Runs, func(c cell) bool { return !slices.Contains(shown, c.Target) })
	}
	o = options{rounds: ro.Rounds, duration: seconds(ro.DurationS), warmup: seconds(ro.WarmupS), hold: seconds(ro.HoldS),
		pairs: ro.Pairs, window: ro.Window, size: ro.Size, conns: ro.Conns, fanout: ro.Fanout, workloads: ro.Workloads,
		targets: shown, placements: ro.Placements}
	return writeTable(stdout, o, &rep)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", args...)
}

// column is a target as the table shows it: a cluster target once per
// placement.
type column struct {
	target    string
	placement loadgen.Placement
}

func (c column) String() string {
	if c.placement == "" {
		return c.target
	}
	return c.target + ":" + string(c.placement)
}

// columns are the targets' columns, in order.
func columns(names []string, placements []loadgen.Placement) []column {
	var cols []column
	for _, t := range names {
		if !targets.IsCluster(t) {
			cols = append(cols, column{target: t})
			continue
		}
		for _, p := range placements {
			cols = append(cols, column{target: t, placement: p})
		}
	}
	return cols
}

func (c *cell) column() column { return column{target: c.Target, placement: c.Placement} }

// runOne starts the column's target, runs workload against it and stops
// it.
func runOne(ctx context.Context, o options, bins *targets.Binaries, workload string, col column, round int) (*cell, error) {
	topts := targets.Options{Window: o.window, Pending: 8192, BufferSize: loadgen.BusyBufferSize,
		Profile: o.pprofDir != "" && workload == "relay", NatsdArgs: o.natsdArgs, NatsHandlerArgs: o.natsHandlerArgs}
	switch workload {
	case "connect":
		topts.Pending, topts.BufferSize = 64, 0 // idle connections: the clients' defaults
	case "fanout":
		// NATS's fastest here: two messages fanned out at once (relay
		// and pingpong are fastest with natshandler's one; see NATS
		// tuning in bench/README.md).
		topts.NATSHandlerConnections = 2
	}
	t, err := targets.Start(ctx, col.target, bins, topts)
	if err != nil {
		return nil, err
	}
	c := &cell{Workload: workload, Target: col.target, Placement: col.placement, Round: round}
	cpu0 := cpuOf(t)
	switch workload {
	case "connect":
		srcs, _, perr := loadgen.PlanSources(t.Addr, o.conns, 0, config.DefaultMaxConnectionsPerAddress)
		if perr != nil {
			err = perr
			break
		}
		c.Result, err = loadgen.RunConnect(ctx, loadgen.ConnectConfig{Driver: t.Driver, Conns: o.conns, Hold: o.hold,
			Sources: srcs, Memory: t.RSS, ServerConns: t.ServerConns})
	default:
		cfg := loadgen.Config{Workload: workload, Driver: t.Driver, Members: t.Members, Placement: col.placement,
			Senders: o.pairs, Recipients: 1, Window: o.window, Size: o.size, Warmup: o.warmup, Duration: o.duration}
		switch workload {
		case "pingpong":
			cfg.Senders, cfg.Window = 1, 1
		case "fanout":
			// As bester bench fanout: one sender, every message to the
			// same recipients.
			cfg.Senders, cfg.Recipients, cfg.SharedRecipients = 1, o.fanout, true
		}
		profiled := profile(ctx, t.Monitors, o, col, round)
		c.Result, err = loadgen.Run(ctx, cfg)
		err = errors.Join(err, profiled())
	}
	cpu1 := cpuOf(t)
	c.ServerCPU, c.HandlerCPU, c.GeneratorCPU = cpu1[0]-cpu0[0], cpu1[1]-cpu0[1], cpu1[2]-cpu0[2]
	if serr := t.Stop(); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	c.Result.Target = fmt.Sprintf("%s (server pids %v, handler pids %v, %s)", col, t.PIDs, t.HandlerPIDs, t.Addr)
	return c, nil
}

// cpuOf is the CPU seconds used so far by the servers, their handlers and
// this process.
func cpuOf(t *targets.Running) [3]float64 {
	var out [3]float64
	for _, pid := range t.PIDs {
		s, _ := targets.CPUSeconds(pid)
		out[0] += s
	}
	for _, pid := range t.HandlerPIDs {
		s, _ := targets.CPUSeconds(pid)
		out[1] += s
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		out[2] = tv(ru.Utime) + tv(ru.Stime)
	}
	return out
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// summary is one line about a run, for the log.
func (c *cell) summary() string {
	r := c.Result
	head := fmt.Sprintf("%-8s round %d %-6s", c.Workload, c.Round, c.column())
	if r.Connect != nil {
		k := r.Connect
		return fmt.Sprintf("%s %s of %s connections, %s/conn, %s/s, errors %d", head,
			loadgen.Thousands(uint64(k.Established)), loadgen.Thousands(uint64(k.Wanted)), loadgen.Bytes(k.BytesPerConn),
			loadgen.Thousands(uint64(k.PerSecond)), r.ErrorTotal())
	}
	acc := "every id accounted for"
	if !r.Accounting.Complete {
		acc = "NOT every id accounted for"
	}
	return fmt.Sprintf("%s %s msgs/s, p50 %s, p99 %s, errors %d, %s", head, loadgen.Thousands(uint64(r.Delivered.PerSecond)),
		loadgen.Micros(r.Latency.Delivery.P50), loadgen.Micros(r.Latency.Delivery.P99), r.ErrorTotal(), acc)
}

// figure is one row of the table: how to read it from a run, how to
// write it, and whether more is better.
type figure struct {
	workload, name string
	get            func(*cell) float64
	format         func(float64) string
	higherIsBetter bool
}

var figures = []figure{
	{"relay", "delivered msgs/s", func(c *cell) float64 { return c.Result.Delivered.PerSecond }, count, true},
	{"relay", "p50 latency", func(c *cell) float64 { return c.Result.Latency.Delivery.P50 }, loadgen.Micros, false},
	{"relay", "p99 latency", func(c *cell) float64 { return c.Result.Latency.Delivery.P99 }, loadgen.Micros, false},
	{"relay", "p99.9 latency", func(c *cell) float64 { return c.Result.Latency.Delivery.P999 }, loadgen.Micros, false},
	{"relay", "server+handler CPU/msg", cpuPerMsg, micros1, false},
	{"relay", "load generator CPU/msg", generatorPerMsg, micros1, false},
	{"pingpong", "messages/s", func(c *cell) float64 { return c.Result.Acked.PerSecond }, count, true},
	{"pingpong", "p50 to ack", func(c *cell) float64 { return c.Result.Latency.Ack.P50 }, loadgen.Micros, false},
	{"pingpong", "p99 to ack", func(c *cell) float64 { return c.Result.Latency.Ack.P99 }, loadgen.Micros, false},
	{"pingpong", "p50 to delivery", func(c *cell) float64 { return c.Result.Latency.Delivery.P50 }, loadgen.Micros, false},
	{"pingpong", "p99 to delivery", func(c *cell) float64 { return c.Result.Latency.Delivery.P99 }, loadgen.Micros, false},
	{"connect", "memory/idle conn", func(c *cell) float64 { return c.Result.Connect.BytesPerConn }, loadgen.Bytes, false},
	{"connect", "connections/s", func(c *cell) float64 { return c.Result.Connect.PerSecond }, count, true},
	{"connect", "p99 connect", func(c *cell) float64 { return c.Result.Connect.Latency.P99 }, loadgen.Micros, false},
	{"fanout", "delivered msgs/s", func(c *cell) float64 { return c.Result.Delivered.PerSecond }, count, true},
	{"fanout", "messages sent/s", func(c *cell) float64 { return c.Result.Acked.PerSecond }, count, true},
	{"fanout", "p50 latency", func(c *cell) float64 { return c.Result.Latency.Delivery.P50 }, loadgen.Micros, false},
	{"fanout", "p99 latency", func(c *cell) float64 { return c.Result.Latency.Delivery.P99 }, loadgen.Micros, false},
	{"fanout", "server+handler CPU/delivery", cpuPerMsg, micros2, false},
	{"fanout", "load generator CPU/delivery", generatorPerMsg, micros2, false},
}

func count(v float64) string { return loadgen.Thousands(uint64(v + 0.5)) }

// micros1 writes microseconds with one decimal.
func micros1(us float64) string { return fmt.Sprintf("%.1fµs", us) }

// micros2 writes microseconds with two decimals.
func micros2(us float64) string { return fmt.Sprintf("%.2fµs", us) }

// cpuPerMsg is the server's and handler's CPU time per delivered message,
// in microseconds, over the whole run (warmup included).
func cpuPerMsg(c *cell) float64 {
	n := c.Result.Accounting.Delivered
	if n == 0 {
		return 0
	}
	return (c.ServerCPU + c.HandlerCPU) / float64(n) * 1e6
}

// generatorPerMsg is this process's CPU time per delivered message, in
// microseconds: what the target's client side costs the load generator,
// which shares the machine with the target.
func generatorPerMsg(c *cell) float64 {
	n := c.Result.Accounting.Delivered
	if n == 0 {
		return 0
	}
	return c.GeneratorCPU / float64(n) * 1e6
}

// ratioColumns are the ratios the table shows, as {numerator,
// denominator}: every column to the first, then every cluster column to
// its single-server target, when that is another column than the first.
func ratioColumns(cols []column) [][2]column {
	var ratios [][2]column
	for _, c := range cols[1:] {
		ratios = append(ratios, [2]column{c, cols[0]})
	}
	for _, c := range cols {
		single := column{target: targets.SingleOf(c.target)}
		if c.placement != "" && single != cols[0] && slices.Contains(cols, single) {
			ratios = append(ratios, [2]column{c, single})
		}
	}
	return ratios
}

// writeTable prints the mean of each figure over the rounds, per target,
// with ratios to the first target, then every run.
func writeTable(w io.Writer, o options, rep *report) error {
	fmt.Fprintf(w, "%s\n", rep.Machine)
	fmt.Fprintf(w, "load average before %s, after %s\n", rep.Machine.LoadBefore, rep.Machine.LoadAfter)
	fmt.Fprintf(w, "relay: %d pairs, window %d, %d-byte bodies; pingpong: 1 pair, window 1; connect: %s idle connections held %s\n",
		o.pairs, o.window, o.size, loadgen.Thousands(uint64(o.conns)), o.hold)
	if slices.Contains(o.workloads, "fanout") {
		fmt.Fprintf(w, "fanout: 1 sender, window %d, each message to the same %d recipients; msgs are deliveries\n",
			o.window, o.fanout)
	}
	cols := columns(o.targets, o.placements)
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.String()
	}
	if len(cols) > len(o.targets) {
		fmt.Fprintf(w, "cluster targets: %d servers on this machine; cross: senders on the first, recipients on the second; "+
			"mixed: user k on server k mod %d\n", targets.ClusterSize, targets.ClusterSize)
	}
	fmt.Fprintf(w, "%s measured after %s warmup per run; %d rounds of %s, in turn; figures are means over the rounds\n\n",
		o.duration, o.warmup, o.rounds, strings.Join(names, " "))
	// Numbers are right-aligned; the two label columns are padded to
	// their width first, so that they read left-aligned.
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("figure")
	for _, f := range figures {
		if slices.Contains(o.workloads, f.workload) {
			width = max(width, len(f.name))
		}
	}
	label := func(workload, name string) string { return fmt.Sprintf("%-9s\t%-*s\t", workload, width, name) }
	head := label("workload", "figure")
	for _, name := range names {
		head += name + "\t"
	}
	ratios := ratioColumns(cols)
	for _, r := range ratios {
		head += r[0].String() + "/" + r[1].String() + "\t"
	}
	fmt.Fprintln(tw, head)
	for _, f := range figures {
		if !slices.Contains(o.workloads, f.workload) {
			continue
		}
		row := label(f.workload, f.name)
		means := map[column]float64{}
		for _, col := range cols {
			var sum float64
			var n int
			for _, c := range rep.Runs {
				if c.Workload == f.workload && c.column() == col {
					sum += f.get(&c)
					n++
				}
			}
			if n > 0 {
				means[col] = sum / float64(n)
			}
			row += f.format(means[col]) + "\t"
		}
		for _, r := range ratios {
			if means[r[1]] == 0 {
				row += "-\t"
				continue
			}
			row += fmt.Sprintf("%.2fx\t", means[r[0]]/means[r[1]])
		}
		fmt.Fprintln(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nRuns, in the order run:")
	var problems []string
	for _, c := range rep.Runs {
		fmt.Fprintln(w, "  "+c.summary())
		r := c.Result
		switch {
		case r.Connect == nil && !r.Accounting.Complete:
			problems = append(problems, fmt.Sprintf("%s round %d %s: not every id accounted for", c.Workload, c.Round, c.column()))
		case r.Connect != nil && r.Connect.Established < r.Connect.Wanted:
			problems = append(problems, fmt.Sprintf("%s round %d %s: %s", c.Workload, c.Round, c.column(), r.Connect.Limit))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// machine says what the figures were measured on.
type machine struct {
	Date   string `json:"date"`
	CPU    string `json:"cpu"`
	CPUs   int    `json:"cpus"`
	OS     string `json:"os"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	// LoadBefore and LoadAfter are /proc/loadavg's 1, 5 and 15 minute
	// figures before and after the runs: anything else running shows.
	LoadBefore string `json:"loadavg_before"`
	LoadAfter  string `json:"loadavg_after"`
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func (m machine) String() string {
	return fmt.Sprintf("%s; %d x %s; %s, Linux %s; %s", m.Date, m.CPUs, m.CPU, m.OS, m.Kernel, m.Go)
}

func describeMachine() machine {
	m := machine{Date: time.Now().UTC().Format("2006-01-02"), CPUs: runtime.NumCPU(), Go: runtime.Version(),
		CPU: "unknown CPU", OS: runtime.GOOS, LoadBefore: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}
