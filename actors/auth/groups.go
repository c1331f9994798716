package auth

import (
	"fmt"
	"os"
	"strings"
	"unicode"
)

// Groups is what a groups file says: the members of each group, by group
// name.
type Groups map[string][]string

// LoadGroups reads a groups file in Apache's AuthGroupFile format: one
// "group: user1 user2" line per group, blank lines and lines beginning with
// `#` skipped. A group named on several lines has the members of all of
// them, as in Apache. Any other line makes the whole file invalid, with an
// error naming its line.
func LoadGroups(path string) (Groups, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	groups := Groups{}
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, members, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		switch {
		case !ok:
			return nil, fmt.Errorf("groups %s line %d: no ':' after the group name (write \"group: user1 user2\")", path, i+1)
		case name == "":
			return nil, fmt.Errorf("groups %s line %d: empty group name", path, i+1)
		case strings.ContainsFunc(name, unicode.IsSpace):
			return nil, fmt.Errorf("groups %s line %d: group name %q contains white space", path, i+1, name)
		}
		groups[name] = append(groups[name], strings.Fields(members)...)
	}
	return groups, nil
}
