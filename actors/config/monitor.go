package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/bester-project/bester/wire/tlsconf"
)

// Monitor is the HTTP endpoint operators and orchestrators ask about the
// server's health and state (the `monitor` block).
type Monitor struct {
	// Address is the host:port the endpoint listens on (`address`).
	Address string
	// AllowRemote lets Address be reachable from other machines
	// (`allow_remote`); without it a non-loopback address is an error,
	// since /status names users.
	AllowRemote bool
	// PProf serves the Go profiler under /debug/pprof/ (`pprof`).
	PProf bool
	// PProfRemote lets the profiler be served on an address other
	// machines can reach, which needs TLS with client certificates
	// required (`pprof_remote`).
	PProfRemote bool
	// ReadyHandlers are the handlers that must be up for /readyz to answer
	// 200 (`ready_handlers`); nil, when the block names none, is every
	// handler of the configuration in effect, so that it follows the
	// handlers a reload adds or removes. An empty list is none.
	ReadyHandlers []string
	// TopSenders is how many users /status lists as the fastest senders
	// of the last few seconds; 0 turns the list off
	// (`top_senders`).
	TopSenders int
	// TLS makes the endpoint speak HTTPS only, with a listener's
	// settings (its `tls` block, without login and certificate_user);
	// nil for plain HTTP.
	TLS *ListenerTLS
	// InsecurePlaintext lets an endpoint other machines can reach answer
	// without TLS (`insecure_plaintext`).
	InsecurePlaintext bool
}

// monitor checks the `monitor` block and fills its defaults. handlers are
// the checked handler blocks that ready_handlers may name.
func (c *checker) monitor(r *rawMonitor, handlers []Handler) *Monitor {
	m := &Monitor{Address: r.Address, AllowRemote: DefaultMonitorAllowRemote, PProf: DefaultMonitorPProf,
		TopSenders: c.count(r.TopSenders, r.TopSendersRange, "top_senders", DefaultMonitorTopSenders, 0)}
	if r.AllowRemote != nil {
		m.AllowRemote = *r.AllowRemote
	}
	if r.PProf != nil {
		m.PProf = *r.PProf
	}
	if r.TLS != nil {
		c.noMonitorLogins(r.TLS)
		noLogins := *r.TLS
		noLogins.Login, noLogins.CertificateUser = nil, nil
		m.TLS = c.listenerTLS(&noLogins, networkTCP)
	}
	m.InsecurePlaintext = flag(r.InsecurePlaintext, DefaultInsecurePlaintext)
	m.PProfRemote = flag(r.PProfRemote, DefaultMonitorPProfRemote)
	if c.required(r.Address, r.AddressRange, "address") {
		c.monitorAddress(m, r)
		c.pprofRemote(m, r)
	}
	m.ReadyHandlers = c.readyHandlers(r, handlers)
	return m
}

// noMonitorLogins refuses the tls attributes about logins: nobody logs in
// to the endpoint. client_auth = "require" keeps out clients without a
// certificate of client_ca.
func (c *checker) noMonitorLogins(r *rawListenerTLS) {
	for _, a := range []struct {
		set   bool
		where hcl.Range
		name  string
	}{{r.Login != nil, r.LoginRange, "login"}, {r.CertificateUser != nil, r.CertificateUserRange, "certificate_user"}} {
		if a.set {
			c.errorf(a.where, fmt.Sprintf("Unexpected %q", a.name),
				`Nobody logs in to the monitor, so its tls block takes no %q; to let in only clients with a certificate, set client_auth = "require" and client_ca.`,
				a.name)
		}
	}
}

// monitorAddress checks that the address is host:port, that it is
// loopback unless allow_remote says otherwise, and that a remote one has
// TLS unless insecure_plaintext says otherwise.
func (c *checker) monitorAddress(m *Monitor, r *rawMonitor) {
	where := r.AddressRange
	host, problem := splitTCPAddress(networkTCP, m.Address)
	remote := problem == "" && !tlsconf.LoopbackHost(host)
	switch {
	case m.InsecurePlaintext && m.TLS != nil:
		c.errorf(r.InsecurePlaintextRange, `Invalid "insecure_plaintext"`,
			"The monitor has a tls block, so nothing crosses it in clear; remove insecure_plaintext.")
	case m.InsecurePlaintext && problem == "" && !remote:
		c.errorf(r.InsecurePlaintextRange, `Unused "insecure_plaintext"`,
			"The monitor is reached only from this machine (%q), so nothing crosses a network in clear on it; remove insecure_plaintext.",
			m.Address)
	}
	switch {
	case problem != "":
		c.errorf(where, `Invalid "address"`, "Address %q: %s.", m.Address, problem)
	case !m.AllowRemote && remote:
		c.errorf(where, `Remote "address"`,
			"Address %q can be reached from other machines, and /status names users; use a loopback address such as 127.0.0.1, or set allow_remote = true.",
			m.Address)
	case m.PProf && remote && !m.PProfRemote:
		// As besterd -pprof: profiles and dumps show the server's insides
		// and cost it work, so they are offered beyond the machine only
		// when asked, and then only to clients with certificates.
		c.errorf(where, `Remote "address" with "pprof"`,
			"Address %q can be reached from other machines; the profiler is served on loopback addresses unless pprof_remote = true. Use a loopback address, pprof = false, or pprof_remote = true with a tls block that requires client certificates.",
			m.Address)
	case m.TLS == nil && !m.InsecurePlaintext && remote:
		c.errorf(where, `Monitor "address" not allowed without TLS`,
			`The monitor listens on %q, which is not a loopback address (127.0.0.0/8, ::1 or localhost), `+
				`and has no tls block: /status, which names users, would cross the network in clear. `+
				`Add a tls block, listen on loopback only, or, on a network you trust, set insecure_plaintext = true.`,
			m.Address)
	}
}

// pprofRemote checks pprof_remote: it needs the profiler, a remote
// address and a tls block that lets in only clients with a certificate.
func (c *checker) pprofRemote(m *Monitor, r *rawMonitor) {
	if !m.PProfRemote {
		return
	}
	host, problem := splitTCPAddress(networkTCP, m.Address)
	switch {
	case !m.PProf:
		c.errorf(r.PProfRemoteRange, `Unused "pprof_remote"`, "The profiler is off (pprof = false); remove pprof_remote or set pprof = true.")
	case problem == "" && tlsconf.LoopbackHost(host):
		c.errorf(r.PProfRemoteRange, `Unused "pprof_remote"`,
			"The monitor is reached only from this machine (%q), where the profiler is served anyway; remove pprof_remote.", m.Address)
	case m.TLS == nil || m.TLS.ClientAuth != ClientAuthRequire:
		c.errorf(r.PProfRemoteRange, `"pprof_remote" without client certificates`,
			`A remote profiler shows the server's insides to whoever reaches it: give the monitor a tls block with client_ca and client_auth = "require".`)
	}
}

// readyHandlers returns the handlers /readyz waits for: those named, each
// of which must be a handler block, or nil (every handler) when the block
// names none.
func (c *checker) readyHandlers(r *rawMonitor, handlers []Handler) []string {
	if r.ReadyHandlers == nil {
		return nil
	}
	known := make(map[string]bool, len(handlers))
	for _, h := range handlers {
		known[h.Name] = true
	}
	out := make([]string, 0, len(*r.ReadyHandlers))
	seen := map[string]bool{}
	for _, name := range *r.ReadyHandlers {
		switch {
		case !known[name]:
			c.errorf(r.ReadyHandlersRange, `Unknown handler in "ready_handlers"`,
				"No handler block is named %q.", name)
		case seen[name]:
			c.errorf(r.ReadyHandlersRange, `Duplicate handler in "ready_handlers"`,
				"%q is named twice.", name)
		default:
			out = append(out, name)
		}
		seen[name] = true
	}
	return out
}
