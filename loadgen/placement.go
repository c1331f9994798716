package loadgen

import (
	"fmt"
	"strings"
)

// Placement says which of several servers (the members of one cluster)
// each user of a run connects to.
type Placement string

// The placements.
const (
	// PlacementCross puts every sender on the first member and every
	// recipient on the second: every message crosses from one member to
	// another, and the other members take no clients.
	PlacementCross Placement = "cross"
	// PlacementMixed numbers the users in the order the run makes them
	// (each sender followed by its own recipients; for a fanout, every
	// sender, then the shared recipients) and puts user k on member k
	// mod N. Every member takes senders and recipients alike, and a
	// delivery crosses whenever its sender and recipient are on
	// different members: every one in relay and pingpong, (N-1)/N of a
	// fanout's.
	PlacementMixed Placement = "mixed"
)

// Placements are the placements, in the order they are documented.
var Placements = []Placement{PlacementCross, PlacementMixed}

// ParsePlacement reads a placement's name.
func ParsePlacement(s string) (Placement, error) {
	for _, p := range Placements {
		if string(p) == s {
			return p, nil
		}
	}
	names := make([]string, len(Placements))
	for i, p := range Placements {
		names[i] = string(p)
	}
	return "", fmt.Errorf("placement %q: want %s", s, strings.Join(names, " or "))
}

// PlacementResult says how a run spread its users over the members.
type PlacementResult struct {
	Placement Placement `json:"placement"`
	// Users counts the connections on each member, in the order of
	// Config.Members.
	Users []int `json:"users_per_member"`
	// CrossShare is the share of deliveries whose recipient is on
	// another member than its sender.
	CrossShare float64 `json:"cross_share"`
}

// line is the placement in one line, for people.
func (p *PlacementResult) line() string {
	users := make([]string, len(p.Users))
	for i, n := range p.Users {
		users[i] = Thousands(uint64(n))
	}
	return fmt.Sprintf("%s over %d members (users %s); %.0f%% of deliveries cross members",
		p.Placement, len(p.Users), strings.Join(users, ", "), 100*p.CrossShare)
}

// place gives every connection its member and driver, by cfg.Placement
// over cfg.Members, or the one server's drivers when there are no
// members. senders[i] is sender i's connection; each sender's recipients
// are recipients[first:first+cfg.Recipients], where first is 0 for
// shared recipients, else i*cfg.Recipients.
func place(cfg *Config, senders, recipients []*receiver) *PlacementResult {
	if len(cfg.Members) == 0 {
		for _, rc := range recipients {
			rc.driver = cfg.RecipientDriver
		}
		for _, rc := range senders {
			rc.driver = cfg.Driver
		}
		return nil
	}
	n := len(cfg.Members)
	res := &PlacementResult{Placement: cfg.Placement, Users: make([]int, n)}
	put := func(rc *receiver, member int) {
		rc.member, rc.driver = member, cfg.Members[member]
		res.Users[member]++
	}
	switch cfg.Placement {
	case PlacementCross:
		for _, rc := range senders {
			put(rc, 0)
		}
		for _, rc := range recipients {
			put(rc, 1)
		}
	case PlacementMixed:
		k := 0
		next := func(rc *receiver) { put(rc, k%n); k++ }
		for i, rc := range senders {
			next(rc)
			if !cfg.SharedRecipients {
				for _, r := range recipients[i*cfg.Recipients : (i+1)*cfg.Recipients] {
					next(r)
				}
			}
		}
		if cfg.SharedRecipients {
			for _, r := range recipients {
				next(r)
			}
		}
	}
	var crossing, all int
	for _, r := range recipients {
		for i, from := range r.from {
			if from {
				all++
				if senders[i].member != r.member {
					crossing++
				}
			}
		}
	}
	if all > 0 {
		res.CrossShare = float64(crossing) / float64(all)
	}
	return res
}
