package actors

import "strings"

// changeSet names what a reload added, changed and removed of one kind
// (handlers, peers, listeners), for the reload's summary line.
type changeSet struct {
	added, changed, removed []string
}

// String is "+new ~changed -gone", or "" when nothing changed.
func (c *changeSet) String() string {
	var parts []string
	for _, group := range []struct {
		sign  string
		names []string
	}{{"+", c.added}, {"~", c.changed}, {"-", c.removed}} {
		for _, name := range group.names {
			parts = append(parts, group.sign+name)
		}
	}
	return strings.Join(parts, " ")
}
