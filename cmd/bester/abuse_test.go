package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/loadgen"
)

// buildServer builds besterd and the relay handler once for a test.
func buildServer(t *testing.T) (besterd, handler string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a cold build is slow
	defer cancel()
	dir, err := loadgen.FindModule(ctx)
	if err != nil {
		t.Fatal(err)
	}
	besterd, handler, binDir, err := loadgen.Build(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(binDir) })
	return besterd, handler
}

// runAbuseJSON runs one short abuse run against a server of its own and
// returns its JSON result.
func runAbuseJSON(t *testing.T, besterd, handler string, args ...string) *loadgen.AbuseResult {
	t.Helper()
	e, out, errs := testEnv("")
	all := append([]string{"bester", "bench", "abuse", "-spawn", "-besterd", besterd, "-handler", handler,
		"-solo", "300ms", "-duration", "700ms", "-drain", "1s", "-json"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, all, e)
	// 1 says the canary lost a message under attack: a finding, not a
	// failure of the tool.
	if code > 1 || strings.Contains(errs.String(), "bester: ") {
		t.Fatalf("%v: status %d, stderr:\n%s\nstdout:\n%s", args, code, errs, out)
	}
	var res loadgen.AbuseResult
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("%v: stdout is not the JSON result: %v\n%s", args, err, out)
	}
	if (code == 1) == res.Complete() {
		t.Fatalf("%v: status %d with canary accounting complete %v", args, code, res.Complete())
	}
	return &res
}

func TestBenchAbuseAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts servers")
	}
	besterd, handler := buildServer(t)
	cases := []struct {
		attack string
		args   []string
		// did tells whether the attack did what it is for.
		did func(o *loadgen.Outcome) bool
	}{
		{"prelogin", []string{"-conns", "40"}, func(o *loadgen.Outcome) bool { return o.Opened == 80 }},
		{"afterlogin", []string{"-conns", "20"}, func(o *loadgen.Outcome) bool { return o.Opened == 20 }},
		{"nonreader", nil, func(o *loadgen.Outcome) bool { return o.Opened == 2 && o.Sent > 0 }},
		{"bigint", nil, func(o *loadgen.Outcome) bool { return o.Sent > 0 }},
		{"bignames", []string{"-names", "1000"}, func(o *loadgen.Outcome) bool { return o.Reports["undelivered"] > 0 }},
		{"maxframe", []string{"-max-frame", "65536"}, func(o *loadgen.Outcome) bool { return o.Sent > 0 }},
		{"headroom", []string{"-max-frame", "65536"}, func(o *loadgen.Outcome) bool { return o.Deliveries > 0 }},
		{"loginstorm", []string{"-conns", "4"}, func(o *loadgen.Outcome) bool { return o.Reports["unauthorized"] > 0 }},
		{"connflood", []string{"-conns", "4"}, func(o *loadgen.Outcome) bool { return o.Reports["unauthorized"] > 0 }},
		{"utf8", nil, func(o *loadgen.Outcome) bool { return len(o.Reports) > 0 && o.Opened == 4 }},
	}
	t.Run("table", func(t *testing.T) { checkAbuseTable(t, besterd, handler) })
	for _, tc := range cases {
		t.Run(tc.attack, func(t *testing.T) {
			res := runAbuseJSON(t, besterd, handler, append([]string{"-attack", tc.attack}, tc.args...)...)
			o := res.Outcome
			if res.Attack != tc.attack || o == nil || o.Attack != tc.attack || o.Seconds <= 0 {
				t.Fatalf("result %+v", res)
			}
			if s := res.Solo; s.Delivered.Count == 0 || !s.ExactlyOneReport || !s.Accounting.Complete ||
				s.Latency.P99 <= 0 || s.ServerPeakRSS <= 0 {
				t.Errorf("solo canary %+v", s)
			}
			if a := res.UnderAttack; a.Accounting.Sent == 0 || a.ServerPeakRSS <= 0 {
				t.Errorf("canary under attack %+v", a)
			}
			if res.ServerHWM < res.Solo.ServerPeakRSS {
				t.Errorf("VmHWM %d below the solo peak %d", res.ServerHWM, res.Solo.ServerPeakRSS)
			}
			if !tc.did(o) {
				t.Errorf("the attack did not do its work: %+v", o)
			}
		})
	}
}

func TestBenchAbuseFlagErrors(t *testing.T) {
	cases := map[string][]string{
		"no attack":           {"bench", "abuse", "-addr", "127.0.0.1:1"},
		"unknown attack":      {"bench", "abuse", "-attack", "bounce", "-addr", "127.0.0.1:1"},
		"pairs":               {"bench", "abuse", "-attack", "utf8", "-pairs", "2"},
		"rate":                {"bench", "abuse", "-attack", "utf8", "-rate", "100"},
		"negative rate":       {"bench", "abuse", "-attack", "utf8", "-canary-rate", "-1"},
		"bad sources":         {"bench", "abuse", "-attack", "utf8", "-attack-sources", "300", "-addr", "127.0.0.1:1"},
		"storm password":      {"bench", "abuse", "-attack", "loginstorm", "-spawn", "-password", "x"},
		"stray argument":      {"bench", "abuse", "-attack", "utf8", "extra"},
		"abuse flag on relay": {"bench", "relay", "-attack", "utf8"},
	}
	for name, args := range cases {
		e, out, errs := testEnv("")
		code := runWith(t, e, args...)
		if code != 1 || out.String() != "" || !strings.Contains(errs.String(), "bester: ") {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want 1 and an error", name, code, out, errs)
		}
	}
}

// checkAbuseTable runs an attack without -json and checks the table.
func checkAbuseTable(t *testing.T, besterd, handler string) {
	e, out, errs := testEnv("")
	code := runWith(t, e, "bench", "abuse", "-spawn", "-besterd", besterd, "-handler", handler, "-attack", "prelogin",
		"-conns", "10", "-solo", "200ms", "-duration", "400ms", "-canary-rate", "500")
	if code != 0 {
		t.Fatalf("status %d, stderr:\n%s\nstdout:\n%s", code, errs, out)
	}
	for _, want := range []string{"abuse prelogin:", "1 pair, 500 msgs/s", "solo", "under attack", "p99",
		"server peak RSS", "one report each   yes        yes", "server VmHWM", "attack prelogin",
		"connections opened 20", "every id accounted for"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
}
