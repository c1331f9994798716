package permit

import "strings"

// rules is what one sender may send: a rule of the configuration, or the
// union of several (a user's own and those of their groups). A nil *rules
// allows everything.
type rules struct {
	deny patterns
	// allow is nil when none of the rules has an allow list: then
	// everything not denied is allowed.
	allow *patterns
}

// allows applies the rules to typ: deny wins; with allow lists, typ must
// match one of them.
func (r *rules) allows(typ string) bool {
	if r == nil {
		return true
	}
	if r.deny.match(typ) {
		return false
	}
	return r.allow == nil || r.allow.match(typ)
}

// compile turns the patterns of one rule into rules; allow is nil when the
// rule has no allow list.
func compile(allow, deny []string) *rules {
	r := &rules{}
	r.deny.add(deny)
	if allow != nil {
		r.allow = &patterns{}
		r.allow.add(allow)
	}
	return r
}

// union combines several rules into one: a type denied by any is denied,
// and when any has an allow list, a type must be allowed by one of those.
// A single rule is returned as it is, shared.
func union(list []*rules) *rules {
	if len(list) == 1 {
		return list[0]
	}
	u := &rules{}
	for _, r := range list {
		u.deny.join(&r.deny)
		if r.allow != nil {
			if u.allow == nil {
				u.allow = &patterns{}
			}
			u.allow.join(r.allow)
		}
	}
	return u
}

// patterns is a set of type patterns, kept so that matching costs a map
// lookup for literal types and a short scan for wildcards.
type patterns struct {
	all   bool                // a pattern of only `*`: every type matches
	exact map[string]struct{} // patterns without `*`
	wild  [][]string          // the others, split at each `*`
}

// add puts list in the set.
func (p *patterns) add(list []string) {
	for _, pat := range list {
		switch {
		case strings.Trim(pat, "*") == "":
			p.all = true
		case !strings.Contains(pat, "*"):
			if p.exact == nil {
				p.exact = make(map[string]struct{})
			}
			p.exact[pat] = struct{}{}
		default:
			p.wild = append(p.wild, strings.Split(pat, "*"))
		}
	}
}

// join puts every pattern of o in the set.
func (p *patterns) join(o *patterns) {
	p.all = p.all || o.all
	for pat := range o.exact {
		if p.exact == nil {
			p.exact = make(map[string]struct{}, len(o.exact))
		}
		p.exact[pat] = struct{}{}
	}
	p.wild = append(p.wild, o.wild...)
}

// match reports whether typ matches a pattern of the set.
func (p *patterns) match(typ string) bool {
	if p.all {
		return true
	}
	if _, ok := p.exact[typ]; ok {
		return true
	}
	for _, parts := range p.wild {
		if matchWild(parts, typ) {
			return true
		}
	}
	return false
}

// matchWild matches s against a pattern split at its stars (at least two
// parts): the first part must begin s, the last end it, and the ones
// between appear in order. Taking each middle part at its first place
// leaves the most room for the rest, so no backtracking is needed.
func matchWild(parts []string, s string) bool {
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return true
}
