package cliapp

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
)

// app is a small command tree with the conventions: root with send and
// certs dev, send with -addr.
func app(out *bytes.Buffer) *cli.Command {
	noop := func(context.Context, *cli.Command) error { return nil }
	return Setup(&cli.Command{
		Name:   "bester",
		Writer: out,
		Commands: []*cli.Command{
			{Name: "send", Flags: []cli.Flag{&cli.StringFlag{Name: "addr"}}, Action: noop},
			{Name: "certs", Commands: []*cli.Command{{Name: "dev", Action: noop}}},
		},
	})
}

func TestSuggestions(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"sned"}, `unknown command "sned"; did you mean send? (see 'bester -help')`},
		{[]string{"certs", "dve"}, `unknown command "dve"; did you mean dev? (see 'bester certs -help')`},
		{[]string{"send", "-adr", "x"}, `flag provided but not defined: -adr; did you mean -addr? (see 'bester send -help')`},
		// Nothing near: no suggestion rather than a far one.
		{[]string{"status"}, `unknown command "status" (see 'bester -help')`},
		{[]string{"-addr", "x"}, `flag provided but not defined: -addr (see 'bester -help')`},
	}
	for _, tc := range cases {
		var out bytes.Buffer
		err := app(&out).Run(context.Background(), append([]string{"bester"}, tc.args...))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: printed %q; errors are the caller's to print", tc.args, out.String())
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{nil, {"-help"}, {"certs"}} {
		var out bytes.Buffer
		if err := app(&out).Run(context.Background(), append([]string{"bester"}, args...)); err != nil || !strings.HasPrefix(out.String(), "NAME:") {
			t.Errorf("%v: %v, output %q; want the help", args, err, out.String())
		}
	}
	var out bytes.Buffer
	if err := app(&out).Run(context.Background(), []string{"bester", "-version"}); err != nil ||
		!strings.HasPrefix(out.String(), "bester version ") || !strings.Contains(out.String(), " (commit ") {
		t.Errorf("-version: %v, output %q", err, out.String())
	}
}
