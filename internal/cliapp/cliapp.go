// Package cliapp holds the conventions that bester and besterd share on
// their command lines: `--version`, one-line usage errors that point at
// the help and suggest the nearest flag or command, and errors left to
// the caller to print once.
package cliapp

import (
	"context"
	"fmt"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/internal/version"
)

// Setup gives root and every command under it the shared conventions;
// call it once the tree is built. Errors are not printed: the caller
// prints what root.Run returns, once.
func Setup(root *cli.Command) *cli.Command {
	root.Version = version.Read().String()
	root.HideVersion = false
	// Errors are reported by the caller; the library must neither print
	// them nor exit.
	root.ExitErrHandler = func(context.Context, *cli.Command, error) {}
	setConventions(root)
	return root
}

// setConventions makes UsageError the usage error handler of cmd and its
// subcommands, and makes those with subcommands refuse unknown ones.
func setConventions(cmd *cli.Command) {
	cmd.OnUsageError = UsageError
	if len(cmd.Commands) > 0 {
		cmd.Action = refuseUnknown(cmd.Action)
	}
	for _, sub := range cmd.Commands {
		setConventions(sub)
	}
}

// undefinedFlag starts the library's error for a flag no command defines.
const undefinedFlag = "flag provided but not defined: -"

// UsageError turns a flag or argument mistake into a one-line error that
// suggests the nearest flag, when the mistake is an unknown one, and
// points at the help.
func UsageError(_ context.Context, cmd *cli.Command, err error, _ bool) error {
	if name, ok := strings.CutPrefix(err.Error(), undefinedFlag); ok {
		name = strings.TrimLeft(name, "-")
		if s := strings.TrimLeft(cli.SuggestFlag(cmd.Flags, name, false), "-"); near(name, s) {
			return fmt.Errorf("%w; did you mean -%s? (see '%s -help')", err, s, cmd.FullName())
		}
	}
	return fmt.Errorf("%w (see '%s -help')", err, cmd.FullName())
}

// refuseUnknown is the action of a command with subcommands, which runs
// when none of them is named: an argument is a mistyped subcommand, and
// the error suggests the nearest; without one, action runs, or the help
// shows when there is none.
func refuseUnknown(action cli.ActionFunc) cli.ActionFunc {
	return func(ctx context.Context, cmd *cli.Command) error {
		switch {
		case cmd.Args().Present():
			return unknownCommand(cmd)
		case action != nil:
			return action(ctx, cmd)
		case cmd.Root() == cmd:
			return cli.ShowRootCommandHelp(cmd)
		default:
			return cli.ShowSubcommandHelp(cmd)
		}
	}
}

// near tells whether suggestion is close enough to given to offer: the
// library names the nearest even when nothing is near (-version for
// -addr), so its choice must be within two edits, the closeness HCL asks
// of its own suggestions in configuration errors.
func near(given, suggestion string) bool {
	return suggestion != "" && levenshtein.Distance(given, suggestion, nil) < 3
}

// unknownCommand is the error for a first argument that names none of
// cmd's subcommands, with the nearest as a suggestion.
func unknownCommand(cmd *cli.Command) error {
	name := cmd.Args().First()
	msg := fmt.Sprintf("unknown command %q", name)
	if s := cli.SuggestCommand(cmd.Commands, name); near(name, s) {
		msg += fmt.Sprintf("; did you mean %s?", s)
	}
	return fmt.Errorf("%s (see '%s -help')", msg, cmd.FullName())
}
