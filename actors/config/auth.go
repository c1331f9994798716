package config

import (
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"

	"github.com/bester-project/bester/actors/auth"
)

// auth checks the `auth` block against the listeners it protects. An absent
// block means the default mode, htpasswd, which then lacks its file.
func (c *checker) auth(r *rawAuth, raws []rawListener, listeners []Listener) Auth {
	where := c.start
	if r == nil {
		r = &rawAuth{}
	} else {
		where = r.DefRange
	}
	a := Auth{Mode: DefaultAuthMode}
	if r.Mode != nil {
		a.Mode = AuthMode(*r.Mode)
		if a.Mode != AuthHtpasswd && a.Mode != AuthOpen {
			c.errorf(r.ModeRange, `Invalid "mode"`, "Unknown auth mode %q; use htpasswd or open.", *r.Mode)
			return a
		}
	}
	if r.File != nil && c.required(*r.File, r.FileRange, "file") {
		a.File = under(c.dir, *r.File)
	}
	if r.GroupsFile != nil && c.required(*r.GroupsFile, r.GroupsFileRange, "groups_file") {
		a.GroupsFile = under(c.dir, *r.GroupsFile)
		c.usersFile(a.GroupsFile, r.GroupsFileRange, "groups_file", "groups file", checkGroups)
	}
	switch a.Mode {
	case AuthHtpasswd:
		c.htpasswdFile(a.File, r, where)
		c.plaintextListeners(raws, listeners)
	case AuthOpen:
		c.openListeners(raws, listeners, r.ModeRange)
	}
	return a
}

// htpasswdFile checks that htpasswd mode has a file to read.
func (c *checker) htpasswdFile(path string, r *rawAuth, where hcl.Range) {
	switch {
	case r.File == nil:
		c.errorf(where, `Missing "file" in auth`,
			`Auth mode "htpasswd" (the default) needs "file", the htpasswd file of users: auth { file = "users.htpasswd" }.`)
	case path == "":
		// An empty value was reported already.
	default:
		c.usersFile(path, r.FileRange, "file", "htpasswd file", auth.CheckHtpasswd)
	}
}

// usersFile checks that path, the value of field, is a regular file that
// parse, the server's own reader of it, takes: a file that would stop the
// server at start fails the check too. what names the file in the message.
func (c *checker) usersFile(path string, r hcl.Range, field, what string, parse func(path string) error) {
	summary := fmt.Sprintf("Invalid %q", field)
	st, err := os.Stat(path)
	if err == nil && !st.Mode().IsRegular() {
		c.errorf(r, summary, "The %s %s is not a regular file.", what, path)
		return
	}
	if err == nil {
		err = parse(path)
	}
	if err != nil {
		c.errorf(r, summary, "The %s cannot be used: %v.", what, err)
	}
}

// checkGroups reads a groups file as the server does.
func checkGroups(path string) error {
	_, err := auth.LoadGroups(path)
	return err
}

// openListeners refuses open mode on any TCP listener reachable from other
// machines.
func (c *checker) openListeners(raws []rawListener, listeners []Listener, modeRange hcl.Range) {
	for i, l := range listeners {
		if !l.remote() {
			continue
		}
		c.errorf(raws[i].AddressRange, `Listener "address" not allowed with auth mode "open"`,
			`Auth mode "open" (line %d) accepts any username and is only for local development, `+
				`but listener %q listens on %q, which is not a loopback address (127.0.0.0/8, ::1 or localhost). `+
				`Listen on loopback only, or use auth mode "htpasswd".`,
			modeRange.Start.Line, l.Name, l.Address)
	}
}

// plaintextListeners refuses a remote listener without TLS, where
// passwords and peer secrets would cross the network in clear, unless its
// operator allowed it with insecure_plaintext.
func (c *checker) plaintextListeners(raws []rawListener, listeners []Listener) {
	for i, l := range listeners {
		if !l.PlaintextToNetwork() || l.InsecurePlaintext {
			continue
		}
		c.errorf(raws[i].AddressRange, `Listener "address" not allowed without TLS`,
			`Listener %q listens on %q, which is not a loopback address (127.0.0.0/8, ::1 or localhost), `+
				`and has no tls block: passwords and peer secrets would cross the network in clear. `+
				`Add a tls block, listen on loopback only, or, on a network you trust, set insecure_plaintext = true.`,
			l.Name, l.Address)
	}
}
