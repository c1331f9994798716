package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/wire/client"
)

// allowPlaintext checks, before anything is dialled, whether o would send
// the password across a network in clear (client.Options.PasswordInClear),
// addrFlag naming the flag of o.Address. It refuses unless
// -insecure-plaintext allows it; allowed, it warns on w, so that the
// choice stays in sight, and returns o with InsecurePlaintext set.
func allowPlaintext(cmd *cli.Command, o client.Options, addrFlag string, w io.Writer) (client.Options, error) {
	if !o.PasswordInClear() {
		return o, nil
	}
	if !cmd.Bool("insecure-plaintext") {
		return o, fmt.Errorf("refusing to send the password in clear to %s %s, which is not a loopback address "+
			"(127.0.0.0/8, ::1 or localhost): connect with -tls (and -ca for a CA of your own) or, on a network "+
			"you trust, allow it with -insecure-plaintext", addrFlag, o.Address)
	}
	fmt.Fprintf(w, "bester: warning: the password goes to %s in clear (-insecure-plaintext)\n", o.Address)
	o.InsecurePlaintext = true
	return o, nil
}
