package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bester-project/bester/internal/testnet"
)

// refusedInClear is the start of the error for a password refused in
// clear, and what it must suggest.
var refusedInClear = []string{"refusing to send the password in clear to ", "-tls", "-ca", "-insecure-plaintext"}

// TestSendPasswordInClear sends with a password to a server that counts
// as remote: refused without -insecure-plaintext (or its environment
// variable), sent with it and a warning. Loopback, a UNIX socket, TLS and
// no password are not asked about.
func TestSendPasswordInClear(t *testing.T) {
	remote := testnet.RemoteAlias(t, fakeServer(t))
	unixLn, err := net.Listen("unix", filepath.Join(t.TempDir(), "bester.sock"))
	if err != nil {
		t.Fatal(err)
	}
	unixAddr := serveFakes(t, unixLn, nil)
	certs := devCerts(t, filepath.Join(t.TempDir(), "certs"), "T")
	remoteTLS := testnet.RemoteAlias(t, fakeTLSServer(t, certs))
	warning := "bester: warning: the password goes to " + remote + " in clear (-insecure-plaintext)\n"

	e, out, errs := testEnv("")
	code := runWith(t, e, "send", "-addr", remote, "-user", "T", "-password", "x", "-type", "ok")
	if code != 1 || out.String() != "" || !strings.HasPrefix(errs.String(), "bester: "+refusedInClear[0]+"-addr "+remote) {
		t.Fatalf("no -insecure-plaintext: status %d, stdout %q, stderr %q; want a refusal", code, out, errs)
	}
	for _, want := range refusedInClear[1:] {
		if !strings.Contains(errs.String(), want) {
			t.Errorf("the refusal does not suggest %s: %q", want, errs)
		}
	}

	cases := []struct {
		name string
		args []string
		env  string
		warn string
	}{
		{"-insecure-plaintext", []string{"-addr", remote, "-password", "x", "-insecure-plaintext"}, "", warning},
		{envInsecurePlaintext, []string{"-addr", remote, "-password", "x"}, "true", warning},
		{"no password", []string{"-addr", remote}, "", ""},
		{"loopback", []string{"-addr", strings.Replace(remote, "0.0.0.0", "127.0.0.1", 1), "-password", "x"}, "", ""},
		{"unix socket", []string{"-network", "unix", "-addr", unixAddr, "-password", "x"}, "", ""},
		{"TLS", []string{"-addr", remoteTLS, "-ca", filepath.Join(certs, "ca.crt"), "-server-name", "localhost",
			"-password", "x"}, "", ""},
	}
	for _, tc := range cases {
		t.Setenv(envInsecurePlaintext, tc.env)
		e, out, errs := testEnv("")
		code := runWith(t, e, append([]string{"send", "-user", "T", "-type", "ok"}, tc.args...)...)
		if code != 0 || out.String() != "good m-1\n" || errs.String() != tc.warn {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want good m-1 and stderr %q", tc.name, code, out, errs, tc.warn)
		}
	}
}

// TestPasswordInClearRefusedUpFront: listen and bench (its -addr and the
// federation's -peer-addr) refuse before connecting, so bench does not
// turn one refusal into a failed connection per user.
func TestPasswordInClearRefusedUpFront(t *testing.T) {
	remote := testnet.RemoteAlias(t, fakeServer(t))
	cases := []struct {
		flag string
		args []string
	}{
		{"-addr", []string{"listen", "-addr", remote, "-user", "G", "-password", "x"}},
		{"-addr", []string{"bench", "connect", "-addr", remote, "-password", "x", "-conns", "1"}},
		{"-peer-addr", []string{"bench", "federation", "-addr", "127.0.0.1:1", "-peer-addr", remote, "-peer-name", "K",
			"-password", "x"}},
	}
	for _, tc := range cases {
		e, out, errs := testEnv("")
		code := runWith(t, e, tc.args...)
		want := "bester: " + refusedInClear[0] + tc.flag + " " + remote
		if code != 1 || out.String() != "" || !strings.HasPrefix(errs.String(), want) || strings.Count(errs.String(), "\n") != 1 {
			t.Errorf("%v: status %d, stdout %q, stderr %q; want one line starting %q", tc.args, code, out, errs, want)
		}
	}
}
