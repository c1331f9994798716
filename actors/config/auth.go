package config

import (
	"os"

	"github.com/hashicorp/hcl/v2"
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
		st, err := os.Stat(path)
		switch {
		case err != nil:
			c.errorf(r.FileRange, `Invalid "file"`, "The htpasswd file cannot be used: %v.", err)
		case !st.Mode().IsRegular():
			c.errorf(r.FileRange, `Invalid "file"`, "The htpasswd file %s is not a regular file.", path)
		}
	}
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
