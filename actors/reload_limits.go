package actors

import (
	"reflect"
	"strings"

	"github.com/bester-project/bester/actors/config"
)

// serverSetting is one setting of the server block, and whether a reload
// can change it.
type serverSetting struct {
	name string
	// restart: what the setting shapes is built once, at start (every
	// handler and peer link, the informer, the runtime directory, the
	// garbage collector's target, which besterd sets).
	restart bool
	value   func(*config.Server) any
}

// serverSettings lists every setting of the server block (a test checks
// that none is missing). Those a reload can change apply at once
// (buffer_budget, max_connections, max_connections_per_address, the rates,
// the login guard's, shutdown_timeout, allow_unnamed_peers through the
// peerBook) or to connections opened after the reload (the others): see
// docs/configuration.md.
var serverSettings = []serverSetting{
	{"name", true, func(s *config.Server) any { return s.Name }},
	{"max_frame", true, func(s *config.Server) any { return s.MaxFrame }},
	{"runtime_dir", true, func(s *config.Server) any { return s.RuntimeDir }},
	{"max_recipients", true, func(s *config.Server) any { return s.MaxRecipients }},
	{"gc_percent", true, func(s *config.Server) any { return s.GCPercent }},
	{"shutdown_timeout", false, func(s *config.Server) any { return s.ShutdownTimeout }},
	{"auth_timeout", false, func(s *config.Server) any { return s.AuthTimeout }},
	{"idle_timeout", false, func(s *config.Server) any { return s.IdleTimeout }},
	{"frame_timeout", false, func(s *config.Server) any { return s.FrameTimeout }},
	{"max_auth_frame", false, func(s *config.Server) any { return s.MaxAuthFrame }},
	{"send_queue", false, func(s *config.Server) any { return s.SendQueue }},
	{"send_queue_bytes", false, func(s *config.Server) any { return s.SendQueueBytes }},
	{"max_in_flight", false, func(s *config.Server) any { return s.MaxInFlight }},
	{"buffer_budget", false, func(s *config.Server) any { return s.BufferBudget }},
	{"max_connections", false, func(s *config.Server) any { return s.MaxConnections }},
	{"max_connections_per_address", false, func(s *config.Server) any { return s.MaxConnectionsPerAddress }},
	{"max_connections_per_user", false, func(s *config.Server) any { return s.MaxConnectionsPerUser }},
	{"message_rate", false, func(s *config.Server) any { return s.MessageRate }},
	{"message_burst", false, func(s *config.Server) any { return s.MessageBurst }},
	{"byte_rate", false, func(s *config.Server) any { return s.ByteRate }},
	{"byte_burst", false, func(s *config.Server) any { return s.ByteBurst }},
	{"allow_unnamed_peers", false, func(s *config.Server) any { return s.AllowUnnamedPeers }},
	{"allow_legacy_peers", false, func(s *config.Server) any { return s.AllowLegacyPeers }},
	{"max_login_failures", false, func(s *config.Server) any { return s.MaxLoginFailures }},
	{"login_block", false, func(s *config.Server) any { return s.LoginBlock }},
	{"login_failure_delay", false, func(s *config.Server) any { return s.LoginFailureDelay }},
	{"max_logins_per_address", false, func(s *config.Server) any { return s.MaxLoginsPerAddress }},
}

// changedSettings names the server block's settings that differ between
// cur and next, those a reload can change or those it cannot.
func changedSettings(cur, next *config.Server, restart bool) []string {
	var names []string
	for _, st := range serverSettings {
		if st.restart == restart && st.value(cur) != st.value(next) {
			names = append(names, st.name)
		}
	}
	return names
}

// restartOnly names what differs between cur and next that a reload
// cannot change.
func restartOnly(cur, next *config.Config) []string {
	changed := changedSettings(&cur.Server, &next.Server, true)
	if cur.Log.JSON != next.Log.JSON {
		changed = append(changed, "log.json")
	}
	if (cur.Informer == nil) != (next.Informer == nil) || cur.Informer != nil && *cur.Informer != *next.Informer {
		changed = append(changed, "the informer block")
	}
	if !reflect.DeepEqual(cur.Cluster, next.Cluster) { // membership is joined once, at start
		changed = append(changed, "the cluster block")
	}
	return changed
}

// applyLimits applies the server block's settings that a reload can
// change: those shared by every connection at once, the others through
// the new connections' settings.
func (s *Server) applyLimits(cur *config.Config, p *reloadPlan) {
	sc, changed := &p.next.Server, changedSettings(&cur.Server, &p.next.Server, false)
	if len(changed) == 0 {
		return
	}
	s.connLimits.set(sc.MaxConnections, sc.MaxConnectionsPerAddress)
	s.budget.setLimit(sc.BufferBudget)
	s.logins.SetSettings(guardSettingsOf(sc))
	if rateLimitOf(sc) != rateLimitOf(&cur.Server) {
		s.registry.setRate(rateLimitOf(sc))
	}
	p.note("limits " + strings.Join(changed, ", "))
}
