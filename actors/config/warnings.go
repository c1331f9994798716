package config

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Warnings reads cfg's file again and returns what would not stop the
// server from starting but would stop a handler, let another user put a
// socket of their own in place of a handler's, or show passwords to the
// network: a command that is not found, a socket in a directory that
// others may write, a listener allowed to carry passwords in clear. Each warning
// names its file and line like an error; the result is empty when there
// is none. cfg must come from Load of the same file.
func Warnings(cfg *Config) (string, error) {
	src, err := os.ReadFile(cfg.Path)
	if err != nil {
		return "", fmt.Errorf("read config: %w", err)
	}
	p, raw, _, _ := decode(cfg.Path, src)
	var diags hcl.Diagnostics
	for i, l := range cfg.Listeners {
		if l.InsecurePlaintext && l.PlaintextToNetwork() {
			diags = append(diags, warning(raw.Listeners[i].InsecurePlaintextRange, "Passwords in clear",
				"Listener %q on %q has no TLS: passwords and peer secrets cross the network in clear, "+
					"where anyone on the path can read them. Add a tls block unless this network is trusted.", l.Name, l.Address))
		}
	}
	for i, r := range raw.Handlers {
		h := cfg.Handlers[i]
		if len(h.Command) > 0 {
			if err := findCommand(h.Command[0], h.Dir); err != nil {
				diags = append(diags, warning(r.CommandRange, "Handler command not found",
					"Handler %q cannot be started: %v. Its messages would get handler_unavailable.", h.Name, err))
			}
		}
		if dir := filepath.Dir(h.Socket); writableByOthers(dir) {
			diags = append(diags, warning(r.SocketRange, "Handler socket in a directory others may write",
				"The directory %s of handler %q's socket has mode %v: another user may put a socket of "+
					"their own there, before the handler or in its place, and get its messages (a sticky "+
					"bit only stops them replacing it). Use a directory only the server's user may write, "+
					"such as the runtime_dir.", dir, h.Name, modeOf(dir)))
		}
	}
	if len(diags) == 0 {
		return "", nil
	}
	return render(p, cfg.Path, diags), nil
}

// warning is a diagnostic of severity warning at subject.
func warning(subject hcl.Range, summary, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary,
		Detail: fmt.Sprintf(format, args...), Subject: subject.Ptr()}
}

// findCommand looks a handler's program up as the server starts it: a name
// without a slash in PATH, a relative path from the handler's directory.
func findCommand(name, dir string) error {
	if strings.ContainsRune(name, filepath.Separator) && !filepath.IsAbs(name) {
		name = filepath.Join(dir, name)
	}
	_, err := exec.LookPath(name)
	return err
}

// writableByOthers says whether dir exists and its group or other users
// may write to it. The sticky bit does not count: it stops others from
// replacing a socket, not from creating it first.
func writableByOthers(dir string) bool {
	return modeOf(dir).IsDir() && modeOf(dir).Perm()&0o022 != 0
}

// modeOf returns the mode of path, or zero when it cannot be read.
func modeOf(path string) fs.FileMode {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Mode()
}
