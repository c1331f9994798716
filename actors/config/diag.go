package config

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// checker gathers the semantic problems of one file. A problem whose place
// overlaps an error HCL already reported (a wrong type, a missing argument)
// is dropped, so that one mistake gives one message.
type checker struct {
	diags hcl.Diagnostics
	// decoded holds the places of the errors HCL reported while decoding.
	decoded []hcl.Range
	// start is the beginning of the file, for problems with no better place.
	start hcl.Range
	// dir is the absolute directory of the file; relative paths start here.
	dir string
}

// newChecker starts a checker after decoding, remembering where decoding
// already failed.
func newChecker(decodeDiags hcl.Diagnostics, start hcl.Range, dir string) *checker {
	c := &checker{start: start, dir: dir}
	for _, d := range decodeDiags {
		if d.Severity == hcl.DiagError && d.Subject != nil {
			c.decoded = append(c.decoded, *d.Subject)
		}
	}
	return c
}

// errorf records a problem at subject. An empty subject (an absent
// attribute) points at the start of the file, so every message names a line.
func (c *checker) errorf(subject hcl.Range, summary, format string, args ...any) {
	if subject.Filename == "" {
		subject = c.start
	}
	for _, r := range c.decoded {
		if r.Overlaps(subject) {
			return
		}
	}
	c.diags = append(c.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject.Ptr(),
	})
}

// durationRule says which durations an attribute accepts.
type durationRule int

const (
	// positive durations only: the attribute bounds something that must
	// be allowed to happen.
	positive durationRule = iota
	// nonNegative durations, where zero means "no limit".
	nonNegative
)

// duration parses an optional duration attribute, returning def when it is
// absent.
func (c *checker) duration(v *string, r hcl.Range, field string, def time.Duration, rule durationRule) time.Duration {
	if v == nil {
		return def
	}
	d, err := time.ParseDuration(*v)
	if err != nil {
		c.errorf(r, fmt.Sprintf("Invalid %q", field),
			"%q is not a duration (write it like \"5s\", \"250ms\" or \"1m\"): %v.", *v, err)
		return def
	}
	switch {
	case rule == positive && d <= 0:
		c.errorf(r, fmt.Sprintf("Invalid %q", field), "%q must be greater than zero.", field)
	case rule == nonNegative && d < 0:
		c.errorf(r, fmt.Sprintf("Invalid %q", field), "%q must not be negative (0 means no limit).", field)
	}
	return d
}

// count reads an optional attribute that counts something, returning def
// when it is absent. Values below min are an error.
func (c *checker) count(v *int, r hcl.Range, field string, def, min int) int {
	if v == nil {
		return def
	}
	if *v < min {
		c.errorf(r, fmt.Sprintf("Invalid %q", field), "%q must be at least %d, not %d.", field, min, *v)
	}
	return *v
}

// required reports an attribute that must not be empty. Absent attributes
// were already reported by HCL.
func (c *checker) required(v string, r hcl.Range, field string) bool {
	if v != "" {
		return true
	}
	if r.Filename != "" {
		c.errorf(r, fmt.Sprintf("Empty %q", field), "%q must not be empty.", field)
	}
	return false
}
