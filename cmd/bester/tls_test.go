package main

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/wire/tlsconf"
)

// devCerts runs `bester certs dev` for users into dir and returns dir.
func devCerts(t *testing.T, dir string, users ...string) string {
	t.Helper()
	args := []string{"certs", "dev", "-dir", dir}
	for _, u := range users {
		args = append(args, "-user", u)
	}
	e, _, errs := testEnv("")
	if code := runWith(t, e, args...); code != 0 {
		t.Fatalf("certs dev: status %d, stderr %q", code, errs)
	}
	return dir
}

// fakeTLSServer is fakeServer behind TLS with the development server
// certificate in dir; it checks a client certificate when one comes.
func fakeTLSServer(t *testing.T, dir string) string {
	t.Helper()
	pair, err := tlsconf.LoadKeyPair(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := tlsconf.LoadPool(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair},
		ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven})
	if err != nil {
		t.Fatal(err)
	}
	return serveFakes(t, ln, nil)
}

func TestCertsDev(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	e, out, errs := testEnv("")
	if code := runWith(t, e, "certs", "dev", "-dir", dir, "-user", "T", "-user", "G"); code != 0 {
		t.Fatalf("status %d, stderr %q", code, errs)
	}
	for _, name := range []string{"ca", "server", "T", "G"} {
		for ext, mode := range map[string]os.FileMode{".crt": 0o644, ".key": 0o600} {
			path := filepath.Join(dir, name+ext)
			st, err := os.Stat(path)
			if err != nil || st.Mode().Perm() != mode {
				t.Errorf("%s: %v, %v; want mode %v", path, st, err, mode)
			}
			if !strings.Contains(out.String(), "wrote "+path+"\n") {
				t.Errorf("stdout does not list %s:\n%s", path, out)
			}
		}
	}
	for _, want := range []string{
		`cert = "` + filepath.Join(dir, "server.crt") + `"`,
		`client_ca   = "` + filepath.Join(dir, "ca.crt") + `"`,
		"-ca " + filepath.Join(dir, "ca.crt") + " -user T",
		"-cert " + filepath.Join(dir, "T.crt") + " -key " + filepath.Join(dir, "T.key"),
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	e, out, errs = testEnv("")
	if code := runWith(t, e, "certs", "dev", "-dir", dir); code != 1 || !strings.Contains(errs.String(), "exists; remove it or use -force") {
		t.Fatalf("again: status %d, stderr %q; want a refusal that suggests -force", code, errs)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "ca.crt")); string(again) != string(ca) || out.String() != "" {
		t.Fatalf("the refused run changed ca.crt or claims to have written %q", out)
	}
	e, _, errs = testEnv("")
	if code := runWith(t, e, "certs", "dev", "-dir", dir, "-force"); code != 0 {
		t.Fatalf("-force: status %d, stderr %q", code, errs)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "ca.crt")); string(again) == string(ca) {
		t.Fatal("-force left the old CA")
	}

	e, _, errs = testEnv("")
	if code := runWith(t, e, "certs", "dev", "-dir", dir, "-user", "../T"); code != 1 || !strings.Contains(errs.String(), "plain name") {
		t.Fatalf("-user ../T: status %d, stderr %q", code, errs)
	}
}

// TestTLSFlags checks what the TLS flags and their environment variables
// hand to tlsconf.
func TestTLSFlags(t *testing.T) {
	parse := func(args ...string) (tlsconf.Client, bool) {
		var files tlsconf.Client
		var on bool
		cmd := &cli.Command{Name: "t", Flags: tlsFlags(), Action: func(_ context.Context, cmd *cli.Command) error {
			files, on = tlsFiles(cmd)
			return nil
		}}
		if err := cmd.Run(context.Background(), append([]string{"t"}, args...)); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return files, on
	}
	all := tlsconf.Client{CA: "ca.pem", Cert: "c.pem", Key: "k.pem", ServerName: "bester.example"}
	cases := []struct {
		args  []string
		files tlsconf.Client
		on    bool
	}{
		{nil, tlsconf.Client{}, false},
		{[]string{"-tls"}, tlsconf.Client{}, true},
		{[]string{"-server-name", "bester.example"}, tlsconf.Client{ServerName: "bester.example"}, true},
		{[]string{"-ca", "ca.pem", "-cert", "c.pem", "-key", "k.pem", "-server-name", "bester.example"}, all, true},
	}
	for _, tc := range cases {
		if files, on := parse(tc.args...); files != tc.files || on != tc.on {
			t.Errorf("%v: %+v, TLS %v; want %+v, %v", tc.args, files, on, tc.files, tc.on)
		}
	}

	t.Setenv(envTLS, "true")
	if files, on := parse(); files != (tlsconf.Client{}) || !on {
		t.Errorf("%s=true: %+v, TLS %v", envTLS, files, on)
	}
	t.Setenv(envTLS, "")
	t.Setenv(envCA, all.CA)
	t.Setenv(envCert, all.Cert)
	t.Setenv(envKey, all.Key)
	t.Setenv(envServerName, all.ServerName)
	if files, on := parse(); files != all || !on {
		t.Errorf("environment: %+v, TLS %v; want %+v", files, on, all)
	}
	if files, _ := parse("-ca", "other.pem"); files.CA != "other.pem" {
		t.Errorf("-ca beside %s: %q, want the flag's", envCA, files.CA)
	}
}

func TestSendTLS(t *testing.T) {
	dir := devCerts(t, filepath.Join(t.TempDir(), "certs"), "T", "bad")
	addr := fakeTLSServer(t, dir)
	ca := filepath.Join(dir, "ca.crt")
	cases := []struct {
		name string
		args []string
		out  string
		err  string
	}{
		{"password", []string{"-ca", ca, "-user", "T"}, "good m-1\n", ""},
		{"certificate", []string{"-ca", ca, "-cert", filepath.Join(dir, "T.crt"), "-key", filepath.Join(dir, "T.key")}, "good m-1\n", ""},
		{"certificate of bad", []string{"-ca", ca, "-cert", filepath.Join(dir, "bad.crt"), "-key", filepath.Join(dir, "bad.key")}, "", "unauthorized"},
		{"system CAs", []string{"-tls", "-user", "T"}, "", "(-ca names the file of the CA that signed the server's certificate)"},
		{"another name", []string{"-ca", ca, "-server-name", "bester.example", "-user", "T"}, "", "(-server-name sets the name to check)"},
		{"cert without key", []string{"-ca", ca, "-cert", filepath.Join(dir, "T.crt")}, "", "needs both"},
		{"no user, no cert", []string{"-ca", ca}, "", "log in by certificate with -cert and -key"},
	}
	for _, tc := range cases {
		e, out, errs := testEnv("")
		code := runWith(t, e, append([]string{"send", "-addr", addr, "-type", "ok"}, tc.args...)...)
		if out.String() != tc.out || !strings.Contains(errs.String(), tc.err) || (code == 0) != (tc.err == "") {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want %q and an error with %q", tc.name, code, out, errs, tc.out, tc.err)
		}
	}

	t.Setenv(envCA, ca)
	t.Setenv(envCert, filepath.Join(dir, "T.crt"))
	t.Setenv(envKey, filepath.Join(dir, "T.key"))
	e, out, errs := testEnv("")
	if code := runWith(t, e, "send", "-addr", addr, "-type", "ok"); code != 0 || out.String() != "good m-1\n" {
		t.Fatalf("TLS from the environment: status %d, stdout %q, stderr %q", code, out, errs)
	}
}
